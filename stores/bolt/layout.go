package bolt

import (
	"encoding/binary"
	"fmt"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// FormatVersion is the version of the file layout this package writes,
// stored in the meta bucket. [Open] refuses a file of a later version.
const FormatVersion = 1

// The bucket layout (see the package documentation).
var (
	rootBucket    = []byte("apibilling")
	metaBucket    = []byte("meta")
	windowsBucket = []byte("windows")
	daysBucket    = []byte("days")
	formatKey     = []byte("format")
)

const (
	windowValueLen = 24 // start, end, used
	dayValueLen    = 16 // end, credits
	dayKeyFixed    = 8  // day start after the client prefix
	// maxLabelLen keeps the longest day key within bbolt's key limit.
	maxLabelLen = bbolt.MaxKeySize - 2 - core.MaxClientIDLen - dayKeyFixed
)

// keyBuf builds keys into one reused buffer. Keys start with the client ID
// prefixed by its length (two bytes, big-endian), so that no client's keys
// can collide with another's whatever bytes the IDs hold.
type keyBuf struct{ b []byte }

func appendClient(b []byte, client string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(client)))
	return append(b, client...)
}

// window returns the key of the counter of client's period:
// len(client) | client | period.
func (k *keyBuf) window(client string, p core.Period) []byte {
	k.b = appendClient(k.b[:0], client)
	k.b = append(k.b, byte(p))
	return k.b
}

// day returns the key of a day aggregate:
// len(client) | client | day start | label.
func (k *keyBuf) day(client string, start int64, label string) []byte {
	k.b = appendClient(k.b[:0], client)
	k.b = appendTime(k.b, start)
	k.b = append(k.b, label...)
	return k.b
}

// appendTime appends Unix nanoseconds so that byte order is time order,
// negative times included (the sign bit is flipped).
func appendTime(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// record is a window counter or a day aggregate, as decoded.
type record struct {
	start, end int64        // window: start and end; day: end only
	used       core.Credits // window: used; day: credits
	exists     bool         // stored (or to be stored)
	dirty      bool         // changed since it was loaded or last written
	day        bool
	key        string // the overlay's key of the record
}

func decodeWindow(v []byte) (record, error) {
	if len(v) != windowValueLen {
		return record{}, fmt.Errorf("%w: window counter of %d bytes, want %d", ErrCorrupt, len(v), windowValueLen)
	}
	return record{
		start:  int64(binary.BigEndian.Uint64(v[0:])),
		end:    int64(binary.BigEndian.Uint64(v[8:])),
		used:   core.Credits(binary.BigEndian.Uint64(v[16:])),
		exists: true,
	}, nil
}

func decodeDay(v []byte) (record, error) {
	if len(v) != dayValueLen {
		return record{}, fmt.Errorf("%w: day aggregate of %d bytes, want %d", ErrCorrupt, len(v), dayValueLen)
	}
	return record{
		end:    int64(binary.BigEndian.Uint64(v[0:])),
		used:   core.Credits(binary.BigEndian.Uint64(v[8:])),
		exists: true,
		day:    true,
	}, nil
}

// encode appends the record's value.
func (r *record) encode(b []byte) []byte {
	if !r.day {
		b = binary.BigEndian.AppendUint64(b, uint64(r.start))
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.end))
	return binary.BigEndian.AppendUint64(b, uint64(r.used))
}

// buckets are the store's buckets within one transaction.
type buckets struct {
	windows, days *bbolt.Bucket
}

func openBuckets(tx *bbolt.Tx) (buckets, error) {
	root := tx.Bucket(rootBucket)
	if root == nil {
		return buckets{}, fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, rootBucket)
	}
	b := buckets{windows: root.Bucket(windowsBucket), days: root.Bucket(daysBucket)}
	if b.windows == nil || b.days == nil {
		return buckets{}, fmt.Errorf("%w: bucket %q or %q is missing", ErrCorrupt, windowsBucket, daysBucket)
	}
	return b, nil
}

// checkLayout verifies the store's buckets, format version and every record
// in tx. It reports found == false for a file without the store's root
// bucket.
func checkLayout(tx *bbolt.Tx) (found bool, err error) {
	root := tx.Bucket(rootBucket)
	if root == nil {
		return false, nil
	}
	meta := root.Bucket(metaBucket)
	if meta == nil {
		return true, fmt.Errorf("%w: bucket %q has no %q bucket", ErrCorrupt, rootBucket, metaBucket)
	}
	v := meta.Get(formatKey)
	if len(v) != 4 {
		return true, fmt.Errorf("%w: format version of %d bytes, want 4", ErrCorrupt, len(v))
	}
	switch ver := binary.BigEndian.Uint32(v); {
	case ver > FormatVersion:
		return true, fmt.Errorf("%w: file format %d, this version reads %d", ErrNewerFormat, ver, FormatVersion)
	case ver < FormatVersion:
		return true, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, ver)
	}
	b, err := openBuckets(tx)
	if err != nil {
		return true, err
	}
	err = b.windows.ForEach(func(k, v []byte) error {
		n, ok := clientPrefixLen(k)
		if !ok || len(k) != n+1 || !core.Period(k[n]).Valid() {
			return fmt.Errorf("%w: malformed window key %x", ErrCorrupt, k)
		}
		_, err := decodeWindow(v)
		return err
	})
	if err != nil {
		return true, err
	}
	err = b.days.ForEach(func(k, v []byte) error {
		n, ok := clientPrefixLen(k)
		if !ok || len(k) < n+dayKeyFixed {
			return fmt.Errorf("%w: malformed day key %x", ErrCorrupt, k)
		}
		_, err := decodeDay(v)
		return err
	})
	return true, err
}

// clientPrefixLen returns the length of the client prefix of key.
func clientPrefixLen(k []byte) (int, bool) {
	if len(k) < 2 {
		return 0, false
	}
	n := 2 + int(binary.BigEndian.Uint16(k))
	return n, n > 2 && n <= len(k)
}

// createLayout creates the store's buckets and format version in tx.
func createLayout(tx *bbolt.Tx) error {
	root, err := tx.CreateBucketIfNotExists(rootBucket)
	if err != nil {
		return err
	}
	meta, err := root.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	if err := meta.Put(formatKey, binary.BigEndian.AppendUint32(nil, FormatVersion)); err != nil {
		return err
	}
	if _, err := root.CreateBucketIfNotExists(windowsBucket); err != nil {
		return err
	}
	_, err = root.CreateBucketIfNotExists(daysBucket)
	return err
}
