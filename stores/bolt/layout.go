package bolt

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// FormatVersion is the version of the file layout this package writes,
// stored in the meta bucket. [Open] migrates a file of an earlier version
// and refuses one of a later version.
const FormatVersion = 2

// The bucket layout (see the package documentation).
var (
	rootBucket    = []byte("apibilling")
	metaBucket    = []byte("meta")
	clientsBucket = []byte("clients")
	usageBucket   = []byte("usage")
	keysBucket    = []byte("keys")
	expiryBucket  = []byte("expiry")
	formatKey     = []byte("format")
	walKey        = []byte("wal")    // the first log segment not yet in the file
	importKey     = []byte("import") // the ID of an import in progress

	// Buckets of format version 1.
	v1WindowsBucket = []byte("windows")
	v1DaysBucket    = []byte("days")
)

// Bucket numbers, as the write-ahead log names them.
const (
	bkClients byte = iota + 1
	bkUsage
	bkKeys
	bkMeta
)

const (
	clientRecVersion = 1
	slotLen          = 25 // start, end, used, fired
	usageValueLen    = 16 // end, credits
	usageKeyFixed    = 8  // hour start after the client prefix
)

// appendClient appends the client ID prefixed by its length (two bytes,
// big-endian), so that no client's keys can collide with another's
// whatever bytes the IDs hold.
func appendClient(b []byte, client string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(client)))
	return append(b, client...)
}

// usageKey appends the key of a usage aggregate:
// len(client) | client | start | label.
func usageKey(b []byte, client string, start int64, label string) []byte {
	b = appendClient(b, client)
	b = appendTime(b, start)
	return append(b, label...)
}

// keyKey appends the key of an idempotency key record:
// len(client) | client | key.
func keyKey(b []byte, client, key string) []byte {
	return append(appendClient(b, client), key...)
}

// expiryKey appends the key of an expiry index entry: expires | key record key.
func expiryKey(b []byte, expires int64, kk []byte) []byte {
	return append(appendTime(b, expires), kk...)
}

// appendTime appends Unix nanoseconds so that byte order is time order,
// negative times included (the sign bit is flipped).
func appendTime(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// clientPrefixLen returns the length of the client prefix of key.
func clientPrefixLen(k []byte) (int, bool) {
	if len(k) < 2 {
		return 0, false
	}
	n := 2 + int(binary.BigEndian.Uint16(k))
	return n, n > 2 && n <= len(k)
}

// parseUsageKey splits a usage key into client, start and label.
func parseUsageKey(k []byte) (client string, start int64, label string, err error) {
	n, ok := clientPrefixLen(k)
	if !ok || len(k) < n+usageKeyFixed {
		return "", 0, "", fmt.Errorf("%w: malformed usage key %x", ErrCorrupt, k)
	}
	return string(k[2:n]), readTime(k[n:]), string(k[n+usageKeyFixed:]), nil
}

// slot is one window counter of a client.
type slot struct {
	start, end int64
	used       int64
	fired      uint8
	held       bool
}

// usedFor returns the usage a counter holds for w: none if w starts after
// the counter's window (that one has ended), else the counter's (a window
// that starts before it is counted against the newer one, which never
// over-admits). It is the memory store's rule.
func (sl *slot) usedFor(w *core.Window) int64 {
	if !sl.held || w.Start > sl.start {
		return 0
	}
	return sl.used
}

// openHour is the usage of a client's latest hour, by label, kept in the
// client's record so that a charge reads and writes one key. The usage
// bucket holds no aggregate of the client from the open hour's start on.
type openHour struct {
	start, end int64
	labels     []labelCredits
	held       bool
}

type labelCredits struct {
	label   string
	credits int64
}

// label returns the position of label in the open hour, or -1.
func (o *openHour) label(label string) int {
	for i := range o.labels {
		if o.labels[i].label == label {
			return i
		}
	}
	return -1
}

// appendClientRecord appends the value of a client record: a version byte,
// a byte with a bit per period held, then per period held its start, end
// and used (int64) and its threshold bits; then 0, or 1 and the open hour:
// its start and end (int64), the number of labels (uvarint) and per label
// its length (uvarint), its bytes and its credits (int64).
func appendClientRecord(b []byte, slots *[core.MaxQuotas]slot, open *openHour) []byte {
	var mask byte
	for p := range slots {
		if slots[p].held {
			mask |= 1 << p
		}
	}
	b = append(b, clientRecVersion, mask)
	for p := range slots {
		sl := &slots[p]
		if !sl.held {
			continue
		}
		b = binary.BigEndian.AppendUint64(b, uint64(sl.start))
		b = binary.BigEndian.AppendUint64(b, uint64(sl.end))
		b = binary.BigEndian.AppendUint64(b, uint64(sl.used))
		b = append(b, sl.fired)
	}
	if open == nil || !open.held {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(open.start))
	b = binary.BigEndian.AppendUint64(b, uint64(open.end))
	b = binary.AppendUvarint(b, uint64(len(open.labels)))
	for _, l := range open.labels {
		b = binary.AppendUvarint(b, uint64(len(l.label)))
		b = append(b, l.label...)
		b = binary.BigEndian.AppendUint64(b, uint64(l.credits))
	}
	return b
}

// decodeClientRecord reads a client record into slots and open.
func decodeClientRecord(v []byte, slots *[core.MaxQuotas]slot, open *openHour) error {
	bad := func(what string) error { return fmt.Errorf("%w: malformed client record (%s)", ErrCorrupt, what) }
	if len(v) < 3 || v[0] != clientRecVersion || v[1]>>core.MaxQuotas != 0 {
		return bad("header")
	}
	mask := v[1]
	n := 2 + slotLen*bits.OnesCount8(mask)
	if len(v) < n+1 {
		return bad("length")
	}
	v = v[2:]
	for p := range slots {
		if mask&(1<<p) == 0 {
			slots[p] = slot{}
			continue
		}
		sl := slot{
			start: int64(binary.BigEndian.Uint64(v[0:])),
			end:   int64(binary.BigEndian.Uint64(v[8:])),
			used:  int64(binary.BigEndian.Uint64(v[16:])),
			fired: v[24],
			held:  true,
		}
		if sl.used < 0 {
			return bad("negative usage")
		}
		slots[p] = sl
		v = v[slotLen:]
	}
	*open = openHour{labels: open.labels[:0]}
	switch {
	case len(v) == 1 && v[0] == 0:
		return nil
	case len(v) < 1+16+1 || v[0] != 1:
		return bad("open hour")
	}
	open.held = true
	open.start = int64(binary.BigEndian.Uint64(v[1:]))
	open.end = int64(binary.BigEndian.Uint64(v[9:]))
	v = v[17:]
	count, k := binary.Uvarint(v)
	if k <= 0 || count > uint64(len(v)) {
		return bad("labels")
	}
	v = v[k:]
	for range count {
		l, k := binary.Uvarint(v)
		if k <= 0 || l > uint64(len(v)-k) || len(v)-k-int(l) < 8 {
			return bad("label")
		}
		lc := labelCredits{label: string(v[k : k+int(l)]), credits: int64(binary.BigEndian.Uint64(v[k+int(l):]))}
		if lc.credits < 0 {
			return bad("negative usage")
		}
		open.labels = append(open.labels, lc)
		v = v[k+int(l)+8:]
	}
	if len(v) != 0 {
		return bad("trailing bytes")
	}
	return nil
}

func appendUsageValue(b []byte, end, credits int64) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(end))
	return binary.BigEndian.AppendUint64(b, uint64(credits))
}

func decodeUsageValue(v []byte) (end, credits int64, err error) {
	if len(v) != usageValueLen {
		return 0, 0, fmt.Errorf("%w: usage aggregate of %d bytes, want %d", ErrCorrupt, len(v), usageValueLen)
	}
	end, credits = int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
	if credits < 0 {
		return 0, 0, fmt.Errorf("%w: negative usage aggregate", ErrCorrupt)
	}
	return end, credits, nil
}

func decodeKeyRecord(v []byte) (core.KeyRecord, error) {
	var r core.KeyRecord
	if err := r.UnmarshalBinary(v); err != nil {
		return r, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return r, nil
}

// buckets are the store's buckets within one transaction.
type buckets struct {
	meta, clients, usage, keys, expiry *bbolt.Bucket
}

func openBuckets(tx *bbolt.Tx) (buckets, error) {
	root := tx.Bucket(rootBucket)
	if root == nil {
		return buckets{}, fmt.Errorf("%w: bucket %q is missing", ErrCorrupt, rootBucket)
	}
	b := buckets{
		meta:    root.Bucket(metaBucket),
		clients: root.Bucket(clientsBucket),
		usage:   root.Bucket(usageBucket),
		keys:    root.Bucket(keysBucket),
		expiry:  root.Bucket(expiryBucket),
	}
	if b.meta == nil || b.clients == nil || b.usage == nil || b.keys == nil || b.expiry == nil {
		return buckets{}, fmt.Errorf("%w: a bucket of %q is missing", ErrCorrupt, rootBucket)
	}
	return b, nil
}

func (b *buckets) byID(id byte) *bbolt.Bucket {
	switch id {
	case bkClients:
		return b.clients
	case bkUsage:
		return b.usage
	case bkKeys:
		return b.keys
	case bkMeta:
		return b.meta
	}
	return nil
}

// readFormat returns the format version of the store in tx; found is false
// for a file without the store's root bucket.
func readFormat(tx *bbolt.Tx) (version uint32, found bool, err error) {
	root := tx.Bucket(rootBucket)
	if root == nil {
		return 0, false, nil
	}
	meta := root.Bucket(metaBucket)
	if meta == nil {
		return 0, true, fmt.Errorf("%w: bucket %q has no %q bucket", ErrCorrupt, rootBucket, metaBucket)
	}
	v := meta.Get(formatKey)
	if len(v) != 4 {
		return 0, true, fmt.Errorf("%w: format version of %d bytes, want 4", ErrCorrupt, len(v))
	}
	switch ver := binary.BigEndian.Uint32(v); {
	case ver > FormatVersion:
		return ver, true, fmt.Errorf("%w: file format %d, this version reads %d", ErrNewerFormat, ver, FormatVersion)
	case ver < 1:
		return ver, true, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, ver)
	default:
		return ver, true, nil
	}
}

// createLayout creates the buckets of the current format in tx and sets
// its version.
func createLayout(tx *bbolt.Tx) error {
	root, err := tx.CreateBucketIfNotExists(rootBucket)
	if err != nil {
		return err
	}
	meta, err := root.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{clientsBucket, usageBucket, keysBucket, expiryBucket} {
		if _, err := root.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return meta.Put(formatKey, binary.BigEndian.AppendUint32(nil, FormatVersion))
}

// applyPut writes one record in the buckets: the writes of the write-ahead
// log, of its replay and of checkpoints all go through it. An idempotency
// key record also keeps its expiry index entry.
func applyPut(b *buckets, bk byte, k, v []byte, kb *[]byte) error {
	if bk == bkKeys {
		if err := dropExpiry(b, k, kb); err != nil {
			return err
		}
		r, err := decodeKeyRecord(v)
		if err != nil {
			return err
		}
		*kb = expiryKey((*kb)[:0], r.Expires, k)
		if err := b.expiry.Put(*kb, nil); err != nil {
			return err
		}
	}
	bucket := b.byID(bk)
	if bucket == nil {
		return fmt.Errorf("%w: unknown bucket %d in the log", ErrCorrupt, bk)
	}
	return bucket.Put(k, v)
}

// applyDelete removes one record from the buckets.
func applyDelete(b *buckets, bk byte, k []byte, kb *[]byte) error {
	if bk == bkKeys {
		if err := dropExpiry(b, k, kb); err != nil {
			return err
		}
	}
	bucket := b.byID(bk)
	if bucket == nil {
		return fmt.Errorf("%w: unknown bucket %d in the log", ErrCorrupt, bk)
	}
	return bucket.Delete(k)
}

// dropExpiry removes the expiry index entry of the key record that the
// file holds under k, if any.
func dropExpiry(b *buckets, k []byte, kb *[]byte) error {
	old := b.keys.Get(k)
	if old == nil {
		return nil
	}
	r, err := decodeKeyRecord(old)
	if err != nil {
		return err
	}
	*kb = expiryKey((*kb)[:0], r.Expires, k)
	return b.expiry.Delete(*kb)
}
