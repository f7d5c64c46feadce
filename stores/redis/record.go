package redis

import (
	"errors"
	"strconv"
	"strings"

	"github.com/frappy-go/apibilling/core"
)

// An idempotency key's record is one string, written by the deduct script
// in the step that admits the charge:
//
//	expires (8)   when the record expires, as appendTime writes it
//	mlen (5), m   the match: cost (decimal) ':' label; a retry with the
//	              same match is a replay, another is a conflict
//	rlen (5), R   the refund, as appendRefund writes it, for Refund by key
//	used list     each window's usage after the charge, decimal, ','
//	              between them, then '\n'
//	body          core.KeyRecord.AppendBinary of the record, usage zero
//
// The script fills in the usage it computed; the rest comes from the
// caller. The record's Redis key expires after the key retention (PX), so
// Redis prunes expired records itself.

const lenWidth = 5 // width of mlen and rlen

// maxLabel is the longest label the store keeps (the core allows
// core.MaxLabelLen).
const maxLabel = 1 << 16

// appendHead appends the fixed part of a key record before the usage:
// expires, the match and the refund.
func appendHead(b []byte, op *core.Op, expires int64) []byte {
	b = appendTime(b, expires)
	var num [20]byte
	cost := strconv.AppendInt(num[:0], op.Cost, 10)
	b = appendPadded(b, uint64(len(cost)+1+len(op.Label)), lenWidth)
	b = append(b, cost...)
	b = append(b, ':')
	b = append(b, op.Label...)
	at := len(b)
	b = append(b, "00000"...)
	b = appendRefund(b, op)
	n := len(b) - at - lenWidth
	appendPadded(b[at:at], uint64(n), lenWidth)
	return b
}

// appendRefund appends what the refund script reads: cost (16), bucket,
// the number of windows (1), each window's counter field (9), then the
// label field of the hour.
func appendRefund(b []byte, op *core.Op) []byte {
	b = appendPadded(b, uint64(op.Cost), 16)
	b = appendBucket(b, op.Bucket)
	b = append(b, byte('0'+op.N))
	for i := range op.N {
		b = appendCounter(b, &op.List[i])
	}
	return appendLabelField(b, op.Bucket, op.Label)
}

// appendRecord appends the whole record of r, as the deduct script writes
// it: for Import.
func appendRecord(b []byte, r *core.KeyRecord) ([]byte, error) {
	op := r.Op()
	b = appendHead(b, &op, r.Expires)
	for i := range r.N {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, r.Used[i], 10)
	}
	b = append(b, '\n')
	body := *r
	body.Used = [core.MaxQuotas]int64{}
	return body.AppendBinary(b)
}

var errRecord = errors.New("malformed idempotency key record")

// parseRecord decodes a record that the deduct script wrote.
func parseRecord(v string) (*core.KeyRecord, error) {
	if len(v) < timeLen+lenWidth {
		return nil, errRecord
	}
	ml, err := strconv.Atoi(v[timeLen : timeLen+lenWidth])
	o := timeLen + lenWidth + ml
	if err != nil || ml < 0 || len(v) < o+lenWidth {
		return nil, errRecord
	}
	rl, err := strconv.Atoi(v[o : o+lenWidth])
	o += lenWidth + rl
	if err != nil || rl < 0 || len(v) < o {
		return nil, errRecord
	}
	list, body, ok := strings.Cut(v[o:], "\n")
	if !ok {
		return nil, errRecord
	}
	r := new(core.KeyRecord)
	if err := r.UnmarshalBinary([]byte(body)); err != nil {
		return nil, err
	}
	for i := range r.N {
		var u string
		if i == r.N-1 {
			u = list
		} else if u, list, ok = strings.Cut(list, ","); !ok {
			return nil, errRecord
		}
		if r.Used[i], err = strconv.ParseInt(u, 10, 64); err != nil {
			return nil, errRecord
		}
	}
	if r.N == 0 && list != "" {
		return nil, errRecord
	}
	return r, nil
}
