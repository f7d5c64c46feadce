package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// CheckReport is what [Check] found in a store's file.
type CheckReport struct {
	// Format is the file's format version (see [FormatVersion]).
	Format uint32
	// Size is the file's size in bytes.
	Size int64
	// Clients is the number of clients with window counters, and Windows
	// the number of counters.
	Clients, Windows int
	// Usage is the number of usage aggregates (one per client, hour and
	// label; one per day in a file of format 1).
	Usage int
	// Keys is the number of idempotency key records, ExpiredKeys those of
	// them expired by the wall clock and not yet removed.
	Keys, ExpiredKeys int
	// LogSegments and LogBytes describe the write-ahead log next to the
	// file that [Open] will replay (a store stopped without Close, or still
	// running, leaves one).
	LogSegments int
	LogBytes    int64
	// ImportID is the ID of an import that did not finish, if any.
	ImportID string
}

// maxCheckProblems is how many problems Check lists in its error.
const maxCheckProblems = 10

// Check reads the whole store file at path without changing it, for an
// operator's check: bbolt's own consistency check, the store's format
// version, and every record's encoding, which it counts. It returns an
// error wrapping [ErrCorrupt] that lists the first problems for a damaged
// file, [ErrLocked] if a running store holds the file, and never crashes on
// a damaged file. It does not replay the log (see
// [CheckReport.LogSegments]).
func Check(ctx context.Context, path string) (CheckReport, error) {
	var rep CheckReport
	fi, err := os.Stat(path)
	if err != nil {
		return rep, fmt.Errorf("apibilling/bolt: check: %w", err)
	}
	rep.Size = fi.Size()
	// The whole tree first, with plain reads: bbolt's check must not meet
	// a damaged offset (see walkTree).
	f, err := os.Open(path)
	if err != nil {
		return rep, fmt.Errorf("apibilling/bolt: check: %w", err)
	}
	info, err := inspectFile(f, path)
	if err == nil {
		err = walkTree(f, info, path, ctx.Done())
	}
	f.Close()
	if err != nil {
		return rep, err
	}
	o := (&Options{}).withDefaults()
	db, err := openDB(path, &o, true)
	if err != nil {
		return rep, err
	}
	defer db.Close()
	var problems []error
	add := func(err error) bool {
		problems = append(problems, err)
		return len(problems) < maxCheckProblems
	}
	err = safely(path, func() error {
		return db.View(func(tx *bbolt.Tx) error {
			// Bound the walk: a damaged tree may loop.
			limit := int(tx.Size()/16) + 16
			var walkErr error
			seen := 0
			step := func() error {
				if seen++; seen > limit {
					return fmt.Errorf("%w: more records than the file can hold: its tree loops", ErrCorrupt)
				}
				if seen%4096 == 0 {
					return ctx.Err()
				}
				return nil
			}
			version, found, err := readFormat(tx)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%w: %s holds no apibilling store", ErrForeign, path)
			}
			rep.Format = version
			walkErr = checkRecords(tx, version, &rep, step, add)
			if walkErr != nil {
				return walkErr
			}
			// Read every error: bbolt's checker runs in a goroutine of its
			// own, which must be done before the file is unmapped.
			for err := range tx.Check() {
				if len(problems) < maxCheckProblems {
					add(err)
				}
			}
			return nil
		})
	})
	if err == nil {
		err = checkLog(db, path, &rep)
	}
	if err != nil {
		if errors.Is(err, ErrForeign) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNewerFormat) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return rep, fmt.Errorf("apibilling/bolt: check %s: %w", path, err)
		}
		return rep, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if len(problems) > 0 {
		return rep, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, errors.Join(problems...))
	}
	return rep, nil
}

// checkRecords decodes and counts every record of the store in tx.
func checkRecords(tx *bbolt.Tx, version uint32, rep *CheckReport, step func() error, add func(error) bool) error {
	root := tx.Bucket(rootBucket)
	if version == 1 {
		for _, name := range [][]byte{v1WindowsBucket, v1DaysBucket} {
			bk := root.Bucket(name)
			if bk == nil {
				return fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, name)
			}
			err := bk.ForEach(func(k, v []byte) error {
				if string(name) == string(v1WindowsBucket) {
					rep.Windows++
				} else {
					rep.Usage++
				}
				return step()
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	b, err := openBuckets(tx)
	if err != nil {
		return err
	}
	now := time.Now().UnixNano()
	walk := func(bk *bbolt.Bucket, fn func(k, v []byte) error) error {
		return bk.ForEach(func(k, v []byte) error {
			if err := step(); err != nil {
				return err
			}
			if err := fn(k, v); err != nil && !add(fmt.Errorf("key %x: %w", k, err)) {
				return errStop
			}
			return nil
		})
	}
	err = walk(b.clients, func(k, v []byte) error {
		var slots [core.MaxQuotas]slot
		var open openHour
		if err := decodeClientRecord(v, &slots, &open); err != nil {
			return err
		}
		rep.Clients++
		rep.Usage += len(open.labels)
		for _, sl := range slots {
			if sl.held {
				rep.Windows++
			}
		}
		return nil
	})
	if err == nil {
		err = walk(b.usage, func(k, v []byte) error {
			if _, _, _, err := parseUsageKey(k); err != nil {
				return err
			}
			if _, _, err := decodeUsageValue(v); err != nil {
				return err
			}
			rep.Usage++
			return nil
		})
	}
	if err == nil {
		err = walk(b.keys, func(k, v []byte) error {
			r, err := decodeKeyRecord(v)
			if err != nil {
				return err
			}
			rep.Keys++
			if r.Expires <= now {
				rep.ExpiredKeys++
			}
			return nil
		})
	}
	if err == nil {
		err = walk(b.expiry, func(k, v []byte) error { return nil })
	}
	if errors.Is(err, errStop) {
		return nil
	}
	rep.ImportID = string(b.meta.Get(importKey))
	return err
}

var errStop = errors.New("stop")

// checkLog counts the log segments that Open would replay.
func checkLog(db *bbolt.DB, path string, rep *CheckReport) error {
	var first uint64
	err := db.View(func(tx *bbolt.Tx) error {
		if root := tx.Bucket(rootBucket); root != nil {
			if meta := root.Bucket(metaBucket); meta != nil {
				if v := meta.Get(walKey); len(v) == 8 {
					first = uint64(v[0])<<56 | uint64(v[1])<<48 | uint64(v[2])<<40 | uint64(v[3])<<32 |
						uint64(v[4])<<24 | uint64(v[5])<<16 | uint64(v[6])<<8 | uint64(v[7])
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	seqs, err := segments(path)
	if err != nil {
		return err
	}
	for _, q := range seqs {
		if q < first {
			continue
		}
		if fi, err := os.Stat(segmentPath(path, q)); err == nil && fi.Size() > 0 {
			rep.LogSegments++
			rep.LogBytes += fi.Size()
		}
	}
	return nil
}
