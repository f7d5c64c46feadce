package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// migrate converts a file of format version 1 to the current format, in
// transactions of at most chunkOps records. Version 1 kept one key per
// client and period ("windows": start, end, used) and day aggregates
// ("days"); version 2 keeps one record per client with every window
// counter and its threshold bits (none were fired in version 1), and
// takes the day aggregates as they are into the usage bucket (a day is a
// valid span: aggregates are keyed by their start and keep their end).
// The format version changes in the last transaction; a migration that a
// crash interrupted starts again from the beginning.
func (s *Store) migrate(from uint32) error {
	if from != 1 {
		return fmt.Errorf("%w: %s: no migration from format %d", ErrCorrupt, s.path, from)
	}
	err := s.updateTx(func(tx *bbolt.Tx) error {
		root := tx.Bucket(rootBucket)
		for _, name := range [][]byte{clientsBucket, usageBucket, keysBucket, expiryBucket} {
			if err := root.DeleteBucket(name); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return err
			}
			if _, err := root.CreateBucket(name); err != nil {
				return err
			}
		}
		if root.Bucket(v1WindowsBucket) == nil || root.Bucket(v1DaysBucket) == nil {
			return fmt.Errorf("%w: %s: a bucket of format 1 is missing", ErrCorrupt, s.path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.migrateChunks(v1WindowsBucket, migrateWindow); err != nil {
		return err
	}
	if err := s.migrateChunks(v1DaysBucket, migrateDay); err != nil {
		return err
	}
	return s.updateTx(func(tx *bbolt.Tx) error {
		root := tx.Bucket(rootBucket)
		if err := root.DeleteBucket(v1WindowsBucket); err != nil {
			return err
		}
		if err := root.DeleteBucket(v1DaysBucket); err != nil {
			return err
		}
		return root.Bucket(metaBucket).Put(formatKey, binary.BigEndian.AppendUint32(nil, FormatVersion))
	})
}

// migrateChunks calls fn with every record of the version-1 bucket name,
// chunkOps records per transaction.
func (s *Store) migrateChunks(name []byte, fn func(b *buckets, k, v []byte) error) error {
	var last []byte
	for done := false; !done; {
		err := s.updateTx(func(tx *bbolt.Tx) error {
			b, err := openBuckets(tx)
			if err != nil {
				return err
			}
			c := tx.Bucket(rootBucket).Bucket(name).Cursor()
			k, v := c.First()
			if last != nil {
				if k, v = c.Seek(last); k != nil && bytes.Equal(k, last) {
					k, v = c.Next()
				}
			}
			for n := 0; n < chunkOps; n++ {
				if k == nil {
					done = true
					return nil
				}
				if err := fn(&b, k, v); err != nil {
					return err
				}
				last = append(last[:0], k...)
				k, v = c.Next()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrating %s from format 1: %w", s.path, err)
		}
	}
	return nil
}

// migrateWindow moves a version-1 window counter into its client's record.
func migrateWindow(b *buckets, k, v []byte) error {
	n, ok := clientPrefixLen(k)
	if !ok || len(k) != n+1 || !core.Period(k[n]).Valid() || len(v) != 24 {
		return fmt.Errorf("%w: malformed window counter %x", ErrCorrupt, k)
	}
	sl := slot{
		start: int64(binary.BigEndian.Uint64(v[0:])),
		end:   int64(binary.BigEndian.Uint64(v[8:])),
		used:  int64(binary.BigEndian.Uint64(v[16:])),
		held:  true,
	}
	if sl.end == 0 || sl.used < 0 {
		return nil // version 1 wrote no counter without a window
	}
	var slots [core.MaxQuotas]slot
	var open openHour
	id := k[2:n]
	if cur := b.clients.Get(id); cur != nil {
		if err := decodeClientRecord(cur, &slots, &open); err != nil {
			return err
		}
	}
	slots[k[n]] = sl
	return b.clients.Put(id, appendClientRecord(nil, &slots, &open))
}

// migrateDay copies a version-1 day aggregate: its key and value are those
// of a usage aggregate.
func migrateDay(b *buckets, k, v []byte) error {
	if _, _, _, err := parseUsageKey(k); err != nil {
		return err
	}
	if _, _, err := decodeUsageValue(v); err != nil {
		return err
	}
	return b.usage.Put(k, v)
}
