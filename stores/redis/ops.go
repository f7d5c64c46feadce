package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// validOp reports why a store cannot run op: what core.Billing never sends.
func validOp(what string, op *core.Op) error {
	if op.Cost < 0 || op.Cost > core.MaxCredits.Micro() {
		return fmt.Errorf("apibilling/redis: %s: %w: %d micro-credits", what, core.ErrInvalidCost, op.Cost)
	}
	if len(op.Label) > maxLabel {
		return fmt.Errorf("apibilling/redis: %s: %w: %d bytes", what, core.ErrInvalidLabel, len(op.Label))
	}
	if op.N < 0 || op.N > core.MaxQuotas {
		return fmt.Errorf("apibilling/redis: %s: %d windows", what, op.N)
	}
	for _, w := range op.Windows() {
		if !w.Period.Valid() {
			return fmt.Errorf("apibilling/redis: %s: %w: period %d", what, core.ErrInvalidQuota, w.Period)
		}
	}
	return nil
}

// clientKeys returns the client hash of client and, if key is set, the key
// of its record, in one allocation.
func (s *Store) clientKeys(client, key string) (h, k string) {
	var stack [320]byte
	b := appendTag(stack[:0], s.prefix, client)
	n := len(b)
	if key == "" {
		h = string(b)
		return h, ""
	}
	b = append(b, ":k:"...)
	b = append(b, key...)
	k = string(b)
	return k[:n], k
}

// keepUntil returns when a usage aggregate of the hour ending at end, or
// the client hash holding it, may expire: Retention after the hour, or
// after now if that is later. Zero means never.
func (s *Store) keepUntil(end, now int64) int64 {
	if s.retention == 0 {
		return 0
	}
	return msCeil(addSat(max(end, now), s.retention))
}

// addSat returns a+b (b >= 0), saturated at MaxInt64.
func addSat(a, b int64) int64 {
	if a > core.MaxUsage-b {
		return core.MaxUsage
	}
	return a + b
}

// cutDay returns the day number below which a client's day hashes are
// pruned when its charges reach the hour starting at start.
func (s *Store) cutDay(start int64) int64 {
	if s.retention == 0 || start < -core.MaxUsage+s.retention {
		return -9_999_999
	}
	return max(dayOf(start-s.retention), -9_999_999)
}

// bucketMeta is the part of the deduct script's meta that depends only on
// the hour charged (and the clock, for an hour already past): the bucket,
// the client hash's and the day hash's expiry (ms, 16 digits each) and the
// prune day. The store keeps the last one, since every charge of an hour
// shares it.
type bucketMeta struct {
	bucket core.Span
	keep   int64  // ms; 0: never
	enc    []byte // bucket, keep (as the client hash's expiry), keep, prune day
}

// meta returns the bucket meta of b at now.
func (s *Store) meta(b core.Span, now int64) *bucketMeta {
	if m := s.lastMeta.Load(); m != nil && m.bucket == b && (b.End > now || s.retention == 0) {
		return m
	}
	m := &bucketMeta{bucket: b, keep: s.keepUntil(b.End, now)}
	enc := make([]byte, 0, bucketLen+16+16+dayLen)
	enc = appendBucket(enc, b)
	enc = appendPadded(enc, uint64(m.keep), 16)
	enc = appendPadded(enc, uint64(m.keep), 16)
	m.enc = appendDay(enc, s.cutDay(b.Start))
	if b.End > now {
		s.lastMeta.Store(m)
	}
	return m
}

// appendMeta appends what the deduct script reads only on its general
// path: the bucket, the client hash's expiry x (16), the day hash's expiry
// (16), the prune day (8) and each window's end (8).
func (s *Store) appendMeta(b []byte, op *core.Op, now, keyMs int64) []byte {
	m := s.meta(op.Bucket, now)
	x := m.keep
	if x != 0 {
		for i := range op.N {
			x = max(x, msCeil(addSat(op.List[i].End, s.grace)))
		}
		x = max(x, keyMs)
	}
	if x == m.keep {
		b = append(b, m.enc...)
	} else {
		b = append(b, m.enc[:bucketLen]...)
		b = appendPadded(b, uint64(x), 16)
		b = append(b, m.enc[bucketLen+16:]...)
	}
	for i := range op.N {
		b = appendTime(b, op.List[i].End)
	}
	return b
}

// Deduct implements [core.Store.Deduct] in one script: it reads the
// client's counters (one hash), and only if every window has room and no
// counter would pass core.MaxUsage adds the cost to all of them and to the
// hour aggregate, and records the idempotency key.
func (s *Store) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := s.check(ctx, "deduct"); err != nil {
		return res, err
	}
	if err := validOp("deduct", op); err != nil {
		return res, err
	}
	c := getCall()
	defer putCall(c)
	if err := s.deductArgs(c, op, time.Now().UnixNano()); err != nil {
		return res, err
	}
	ws := op.Windows()
	v, err := s.run(ctx, "deduct", deductScript, c, true)
	if err != nil {
		return res, err
	}
	r, ok := v.([]any)
	if !ok {
		return res, s.badReply("deduct", v)
	}
	n := len(ws)
	if len(r) == n && !(n == 2 && isString(r[1])) {
		// The fast path: admitted, each window's usage. (A replay's or
		// a conflict's reply is {3 or 4, record}.)
		res.OK = true
		for i := range n {
			if res.Used[i], err = toInt(r[i]); err != nil {
				return res, s.badReply("deduct", v)
			}
		}
		return res, nil
	}
	if len(r) < 2 {
		return res, s.badReply("deduct", v)
	}
	status, _ := r[0].(int64)
	switch status {
	case 3, 4:
		text, _ := r[1].(string)
		rec, err := parseRecord(text)
		if err != nil {
			return res, s.fail("deduct", err, false)
		}
		res.Record = rec
		if status == 3 {
			res.OK, res.Replayed = true, true
		} else {
			res.Conflict = true
		}
		return res, nil
	case 0, 1, 2:
	default:
		return res, s.badReply("deduct", v)
	}
	fired := len(r) == 2+2*n
	if len(r) != 2+n && !fired {
		return res, s.badReply("deduct", v)
	}
	res.OK = status == 1
	res.Overflow = status == 2
	reset, err := toInt(r[1])
	if err != nil {
		return res, s.badReply("deduct", v)
	}
	res.Reset = uint8(reset)
	for i := range n {
		if res.Used[i], err = toInt(r[2+i]); err != nil {
			return res, s.badReply("deduct", v)
		}
		if fired {
			f, err := toInt(r[2+n+i])
			if err != nil {
				return res, s.badReply("deduct", v)
			}
			res.Fired[i] = uint8(f)
		}
	}
	return res, nil
}

// deductArgs sets c to run the deduct script for op at now (the wall
// clock, for expiries).
func (s *Store) deductArgs(c *call, op *core.Op, now int64) error {
	h, k := s.clientKeys(op.Client, op.Key)
	var px, keyMs int64
	if op.Key != "" {
		px = msCeil(max(op.KeyExpires-op.At, 1))
		keyMs = now/1e6 + px
	}
	c.buf = strconv.AppendInt(c.buf, op.Cost, 10)
	c.end()
	c.buf = s.appendMeta(c.buf, op, now, keyMs)
	c.end()
	for i := range op.N {
		c.buf = appendCounter(c.buf, &op.List[i])
		c.end()
	}
	c.buf = appendLabelField(c.buf, op.Bucket, op.Label)
	c.end()
	for i := range op.N {
		c.buf = appendLimit(c.buf, &op.List[i])
		c.end()
	}
	if op.Key == "" {
		c.prepare(deductScript, h)
		return nil
	}
	c.buf = appendHead(c.buf, op, op.KeyExpires)
	c.end()
	var zero [core.MaxQuotas]int64
	r := op.Record(&zero)
	var err error
	if c.buf, err = r.AppendBinary(c.buf); err != nil {
		return err
	}
	c.end()
	c.buf = appendTime(c.buf, op.At)
	c.buf = appendPadded(c.buf, uint64(px), 16)
	c.buf = appendPadded(c.buf, uint64(keyMs), 16)
	c.end()
	c.prepare(deductScript, h, k)
	return nil
}

// Refund implements [core.Store.Refund] in one script.
func (s *Store) Refund(ctx context.Context, op *core.Op) error {
	if err := s.check(ctx, "refund"); err != nil {
		return err
	}
	if err := validOp("refund", op); err != nil {
		return err
	}
	if op.Key == "" && op.Cost == 0 {
		return nil
	}
	c := getCall()
	defer putCall(c)
	h, k := s.clientKeys(op.Client, op.Key)
	if op.Key == "" {
		c.buf = appendRefund(c.buf, op)
		c.end()
		c.prepare(refundScript, h)
	} else {
		c.buf = appendTime(c.buf, op.At)
		c.end()
		c.prepare(refundScript, h, k)
	}
	_, err := s.run(ctx, "refund", refundScript, c, true)
	return err
}

// Usage implements [core.Store.Usage].
func (s *Store) Usage(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := s.check(ctx, "usage"); err != nil {
		return res, err
	}
	if err := validOp("usage", op); err != nil {
		return res, err
	}
	ws := op.Windows()
	if len(ws) == 0 {
		return res, nil
	}
	c := getCall()
	defer putCall(c)
	h, _ := s.clientKeys(op.Client, "")
	for i := range ws {
		c.buf = appendCounter(c.buf, &ws[i])
		c.end()
	}
	c.prepare(usageScript, h)
	v, err := s.run(ctx, "usage", usageScript, c, false)
	if err != nil {
		return res, err
	}
	r, ok := v.([]any)
	if !ok || len(r) != len(ws) {
		return res, s.badReply("usage", v)
	}
	for i := range ws {
		if res.Used[i], err = toInt(r[i]); err != nil {
			return res, s.badReply("usage", v)
		}
	}
	return res, nil
}

// appendRange appends a range's bounds and the day numbers of its first
// and last hours, and reports whether the range is empty.
func appendRange(c *call, from, to int64) bool {
	if to <= from {
		return false
	}
	c.buf = appendTime(c.buf, from)
	c.end()
	c.buf = appendTime(c.buf, to)
	c.end()
	c.buf = strconv.AppendInt(c.buf, dayOf(from), 10)
	c.end()
	c.buf = strconv.AppendInt(c.buf, dayOf(to-1), 10)
	c.end()
	return true
}

// Report implements [core.Store.Report]: it reads the day hashes of the
// range only, found in the client's index of days.
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	if err := s.check(ctx, "report"); err != nil {
		return nil, err
	}
	c := getCall()
	defer putCall(c)
	if !appendRange(c, q.From, q.To) {
		return nil, nil
	}
	h, _ := s.clientKeys(q.Client, "")
	c.prepare(reportScript, h)
	v, err := s.eval(ctx, "report", reportScript, c, false, s.adminTimeout)
	if err != nil {
		return nil, err
	}
	r, ok := v.([]any)
	if !ok || len(r)%2 != 0 {
		return nil, s.badReply("report", v)
	}
	out := make([]core.UsageRecord, 0, len(r)/2)
	for i := 0; i < len(r); i += 2 {
		u, ok := parseUsage(r[i], r[i+1])
		if !ok {
			return nil, s.badReply("report", v)
		}
		out = append(out, u)
	}
	return out, nil
}

// parseUsage reads an aggregate's field (start, end, label) and credits.
func parseUsage(field, credits any) (core.UsageRecord, bool) {
	f, ok := field.(string)
	if !ok || len(f) < 2*timeLen {
		return core.UsageRecord{}, false
	}
	start, ok1 := parseTime(f[:timeLen])
	end, ok2 := parseTime(f[timeLen : 2*timeLen])
	n, err := toInt(credits)
	if !ok1 || !ok2 || err != nil {
		return core.UsageRecord{}, false
	}
	return core.UsageRecord{Bucket: core.Span{Start: start, End: end}, Label: f[2*timeLen:], Credits: n}, true
}

// Delete implements [core.Store.Delete] in one script.
func (s *Store) Delete(ctx context.Context, op *core.DeleteOp) (int64, error) {
	if err := s.check(ctx, "delete"); err != nil {
		return 0, err
	}
	if op.N < 0 || op.N > core.MaxQuotas {
		return 0, fmt.Errorf("apibilling/redis: delete: %d windows", op.N)
	}
	c := getCall()
	defer putCall(c)
	if !appendRange(c, op.From, op.To) {
		return 0, nil
	}
	ws := op.Windows()
	for i := range ws {
		if !ws[i].Period.Valid() {
			return 0, fmt.Errorf("apibilling/redis: delete: %w: period %d", core.ErrInvalidQuota, ws[i].Period)
		}
		c.buf = appendCounter(c.buf, &ws[i])
		c.end()
		c.buf = appendTime(c.buf, ws[i].End)
		c.end()
	}
	h, _ := s.clientKeys(op.Client, "")
	c.prepare(deleteScript, h)
	v, err := s.eval(ctx, "delete", deleteScript, c, true, s.adminTimeout)
	if err != nil {
		return 0, err
	}
	r, ok := v.([]any)
	if !ok {
		return 0, s.badReply("delete", v)
	}
	var total int64
	for _, x := range r {
		n, err := toInt(x)
		if err != nil {
			return total, s.badReply("delete", v)
		}
		total = addSat(total, n)
	}
	return total, nil
}

func isString(x any) bool {
	_, ok := x.(string)
	return ok
}

// toInt converts a script's reply value: an integer, or a decimal string
// where a value may reach 2^53.
func toInt(x any) (int64, error) {
	switch v := x.(type) {
	case int64:
		return v, nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("unexpected value %v (%T)", x, x)
}
