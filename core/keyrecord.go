package core

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// keyRecordVersion is the first byte of an encoded [KeyRecord].
const keyRecordVersion = 1

// AppendBinary appends r in a compact binary form that
// [KeyRecord.UnmarshalBinary] reads back: a version byte, then the fields,
// integers as varints and strings prefixed by their length. Stores that
// keep a record as one value use it, so that they all keep the same bytes.
func (r *KeyRecord) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, keyRecordVersion)
	b = appendString(b, r.Client)
	b = appendString(b, r.Key)
	b = appendString(b, r.Label)
	b = binary.AppendVarint(b, r.Cost)
	b = binary.AppendVarint(b, r.At)
	b = binary.AppendVarint(b, r.Expires)
	b = binary.AppendVarint(b, r.Bucket.Start)
	b = binary.AppendVarint(b, r.Bucket.End)
	b = append(b, byte(r.N))
	for i := range r.N {
		w := &r.List[i]
		b = append(b, byte(w.Period))
		b = binary.AppendVarint(b, w.Start)
		b = binary.AppendVarint(b, w.End)
		b = binary.AppendVarint(b, w.Limit)
		b = binary.AppendVarint(b, r.Used[i])
	}
	return b, nil
}

// MarshalBinary returns [KeyRecord.AppendBinary] of r.
func (r *KeyRecord) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// errKeyRecord is the error of a record that cannot be decoded.
var errKeyRecord = errors.New("apibilling: malformed idempotency key record")

// UnmarshalBinary decodes a record that [KeyRecord.AppendBinary] encoded.
func (r *KeyRecord) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if d.byte() != keyRecordVersion {
		return fmt.Errorf("%w: unknown version", errKeyRecord)
	}
	var out KeyRecord
	out.Client = d.string()
	out.Key = d.string()
	out.Label = d.string()
	out.Cost = d.varint()
	out.At = d.varint()
	out.Expires = d.varint()
	out.Bucket.Start = d.varint()
	out.Bucket.End = d.varint()
	out.N = int(d.byte())
	if out.N > MaxQuotas {
		return fmt.Errorf("%w: %d windows", errKeyRecord, out.N)
	}
	for i := range out.N {
		w := &out.List[i]
		w.Period = Period(d.byte())
		w.Start = d.varint()
		w.End = d.varint()
		w.Limit = d.varint()
		out.Used[i] = d.varint()
		if !w.Period.Valid() {
			d.err = true
		}
	}
	if d.err || len(d.b) != 0 {
		return errKeyRecord
	}
	*r = out
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads what AppendBinary wrote; err is set at the first fault.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.err = true
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}
