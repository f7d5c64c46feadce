package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
	goredis "github.com/redis/go-redis/v9"
)

// Defaults of [Options].
const (
	// DefaultPrefix starts every key the store writes.
	DefaultPrefix = "apibilling"
	// DefaultTimeout bounds each operation.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultRetention is how long day aggregates are kept for reports.
	DefaultRetention = 400 * 24 * time.Hour
	// DefaultGrace is how long a window counter outlives its window.
	DefaultGrace = time.Minute
)

// Options configures a [Store]. The zero value means the defaults.
type Options struct {
	// Prefix starts every key, so that several stores (or other data) can
	// share one Redis. It must not contain '{' or '}', which would break the
	// hash tag that keeps a client's keys on one Cluster slot.
	// Optional. Default: [DefaultPrefix].
	Prefix string

	// Timeout bounds each operation, unless the caller's context has an
	// earlier deadline: a Redis that is down, slow or failing over makes
	// the operation fail within it with an error that wraps
	// [core.ErrStoreUnavailable], which [core.Billing] reports and the
	// adapters answer with 503 (or let pass, when failing open).
	// Optional. Default: [DefaultTimeout].
	Timeout time.Duration

	// Retention is how long day aggregates are kept for reports and
	// invoices: on a client's first charge of a day, aggregates of days
	// that started more than Retention before it are removed, and a client
	// charged nothing for Retention loses them all. A negative Retention
	// keeps them until [core.Billing.DeleteUsage] removes them.
	// Optional. Default: [DefaultRetention].
	Retention time.Duration

	// Grace is how long a window counter is kept after its window ends
	// (or after its last charge, for a window that ended before it), so
	// that instances whose clocks lag still find it. Counters of a client
	// and period are replaced, not added, when a later window starts.
	// Optional. Default: [DefaultGrace].
	Grace time.Duration
}

// Store is a [core.Store] in Redis, shared by every instance of an API that
// uses the same Redis and prefix. Each operation is one Lua script: one
// round trip, atomic across processes. Create it with [New].
type Store struct {
	client    goredis.UniversalClient
	prefix    string
	timeout   time.Duration
	graceMs   int64
	keepMs    int64 // 0: keep day aggregates
	retention int64 // nanoseconds
	closed    atomic.Bool
}

var _ core.Store = (*Store)(nil)

// New returns a store that keeps usage in Redis through client, which the
// application configured (single node, Sentinel or Cluster) and closes
// itself: [Store.Close] leaves it open. opts may be nil for the defaults.
//
// Timeouts come from contexts, so the client must be created with
// ContextTimeoutEnabled set; New refuses a *redis.Client, *redis.ClusterClient
// or *redis.Ring without it, since such a client would wait for its read
// timeout (seconds) on a stalled server instead of [Options.Timeout].
func New(client goredis.UniversalClient, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("apibilling/redis: New expects a non-nil client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("apibilling/redis: prefix %q contains '{' or '}'", o.Prefix)
	}
	if o.Timeout < 0 || o.Grace < 0 {
		return nil, errors.New("apibilling/redis: Timeout and Grace must not be negative")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if !contextTimeouts(client) {
		return nil, errors.New("apibilling/redis: the client must be created with ContextTimeoutEnabled: true, so that Options.Timeout bounds each operation")
	}
	s := &Store{
		client:  client,
		prefix:  o.Prefix,
		timeout: o.Timeout,
		graceMs: max(o.Grace.Milliseconds(), 1),
	}
	if o.Retention > 0 {
		s.retention = int64(o.Retention)
		// The aggregates live a day longer than the retention, so that the
		// oldest day kept is not dropped before it is pruned.
		s.keepMs = (o.Retention + 24*time.Hour).Milliseconds()
	}
	return s, nil
}

// contextTimeouts reports whether client bounds its socket I/O by the
// context's deadline, when its type says.
func contextTimeouts(client goredis.UniversalClient) bool {
	switch c := client.(type) {
	case *goredis.Client:
		return c.Options().ContextTimeoutEnabled
	case *goredis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *goredis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return true
}

// Client returns the Redis client the store uses.
func (s *Store) Client() goredis.UniversalClient { return s.client }

// Prefix returns the prefix of the store's keys.
func (s *Store) Prefix() string { return s.prefix }

// unavailableError is a failure of Redis or of the context: it matches
// [core.ErrStoreUnavailable] and its cause with errors.Is.
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string   { return "apibilling/redis: " + e.op + ": " + e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{core.ErrStoreUnavailable, e.err} }

// check reports why an operation cannot start: ctx is done or the store
// is closed.
func (s *Store) check(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return &unavailableError{op, err}
	}
	if s.closed.Load() {
		return fmt.Errorf("apibilling/redis: %s: %w", op, core.ErrClosed)
	}
	return nil
}

// begin checks that the store is open and ctx not done, and returns the
// context to run the operation under: ctx itself when its deadline comes
// within the timeout, else ctx bounded by it.
func (s *Store) begin(ctx context.Context, op string) (context.Context, context.CancelFunc, error) {
	if err := s.check(ctx, op); err != nil {
		return nil, nil, err
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= s.timeout {
		return ctx, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, cancel, nil
}

// run runs script and returns its reply as a slice.
func (s *Store) run(ctx context.Context, op string, script *goredis.Script, keys []string, arg string) ([]any, error) {
	ctx, cancel, err := s.begin(ctx, op)
	if err != nil {
		return nil, err
	}
	if cancel != nil {
		defer cancel()
	}
	v, err := script.Run(ctx, s.client, keys, arg).Slice()
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return nil, nil
		}
		return nil, &unavailableError{op, err}
	}
	return v, nil
}

// nowMs returns the local time in Unix milliseconds.
func nowMs() int64 { return time.Now().UnixMilli() }

// appendHeader appends the fields Deduct and Refund start with: the cost,
// the cutoff before which day aggregates are pruned, and how long the day
// aggregates are kept in milliseconds (zero: for ever).
func (s *Store) appendHeader(b []byte, cost core.Credits, day core.DaySpan) []byte {
	b = appendPadded(b, uint64(cost), 16)
	cutoff := day.Start - s.retention
	if cutoff > day.Start { // overflow: nothing is that old
		cutoff = -1 << 63
	}
	b = appendTime(b, cutoff)
	return appendPadded(b, uint64(s.keepMs), 16)
}

func (s *Store) opArg(op *core.Op) string {
	ws := op.Windows()
	var stack [52 + core.MaxQuotas*recordLen + 40 + 64]byte
	b := stack[:0]
	b = s.appendHeader(b, op.Cost, op.Day)
	b = s.appendWindows(b, ws, nowMs())
	b = appendDayField(b, op.Day, op.Label)
	return string(b)
}

// Deduct implements [core.Store.Deduct] in one script: it reads every
// window's counter, and only if each has room adds the cost to all of them
// and to the day aggregate.
func (s *Store) Deduct(ctx context.Context, op core.Op) (core.Result, error) {
	var res core.Result
	if err := s.check(ctx, "deduct"); err != nil {
		return res, err
	}
	if !validCost(op.Cost) {
		return res, fmt.Errorf("apibilling/redis: deduct: %w: %d micro-credits", core.ErrInvalidCost, int64(op.Cost))
	}
	ws := op.Windows()
	v, err := s.run(ctx, "deduct", deductScript, s.keys(op.Client, ws, true), s.opArg(&op))
	if err != nil {
		return res, err
	}
	if len(v) != len(ws)+1 {
		return res, s.badReply("deduct", v)
	}
	ok, err := toCredits(v[0])
	if err != nil {
		return res, &unavailableError{"deduct", err}
	}
	res.OK = ok == 1
	for i := range ws {
		if res.Used[i], err = toCredits(v[i+1]); err != nil {
			return res, &unavailableError{"deduct", err}
		}
	}
	return res, nil
}

// Refund implements [core.Store.Refund].
func (s *Store) Refund(ctx context.Context, op core.Op) error {
	if err := s.check(ctx, "refund"); err != nil {
		return err
	}
	if !validCost(op.Cost) {
		return fmt.Errorf("apibilling/redis: refund: %w: %d micro-credits", core.ErrInvalidCost, int64(op.Cost))
	}
	if op.Cost == 0 {
		return nil
	}
	_, err := s.run(ctx, "refund", refundScript, s.keys(op.Client, op.Windows(), true), s.opArg(&op))
	return err
}

// Usage implements [core.Store.Usage].
func (s *Store) Usage(ctx context.Context, op core.Op) (core.Result, error) {
	var res core.Result
	ws := op.Windows()
	if len(ws) == 0 {
		return res, s.check(ctx, "usage")
	}
	b := make([]byte, 0, len(ws)*recordLen)
	b = s.appendWindows(b, ws, nowMs())
	v, err := s.run(ctx, "usage", usageScript, s.keys(op.Client, ws, false), string(b))
	if err != nil {
		return res, err
	}
	if len(v) != len(ws) {
		return res, s.badReply("usage", v)
	}
	for i := range ws {
		if res.Used[i], err = toCredits(v[i]); err != nil {
			return res, &unavailableError{"usage", err}
		}
	}
	return res, nil
}

// Report implements [core.Store.Report].
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.DayRecord, error) {
	b := make([]byte, 0, 40)
	b = appendTime(b, q.From)
	b = appendTime(b, q.To)
	v, err := s.run(ctx, "report", reportScript, s.keys(q.Client, nil, true), string(b))
	if err != nil {
		return nil, err
	}
	if len(v)%2 != 0 {
		return nil, s.badReply("report", v)
	}
	var out []core.DayRecord
	for i := 0; i < len(v); i += 2 {
		f, ok := v[i].(string)
		if !ok || len(f) < 40 {
			return nil, s.badReply("report", v)
		}
		start, ok1 := parseTime(f[:20])
		end, ok2 := parseTime(f[20:40])
		c, err := toCredits(v[i+1])
		if !ok1 || !ok2 || err != nil {
			return nil, s.badReply("report", v)
		}
		out = append(out, core.DayRecord{Day: core.DaySpan{Start: start, End: end}, Label: f[40:], Credits: c})
	}
	return out, nil
}

// Delete implements [core.Store.Delete].
func (s *Store) Delete(ctx context.Context, op core.DeleteOp) (core.Credits, error) {
	ws := op.Windows()
	b := make([]byte, 0, 40+len(ws)*recordLen)
	b = appendTime(b, op.From)
	b = appendTime(b, op.To)
	b = s.appendWindows(b, ws, nowMs())
	v, err := s.run(ctx, "delete", deleteScript, s.keys(op.Client, ws, true), string(b))
	if err != nil {
		return 0, err
	}
	var total core.Credits
	for _, x := range v {
		c, err := toCredits(x)
		if err != nil {
			return total, &unavailableError{"delete", err}
		}
		total += c
	}
	return total, nil
}

// Close implements [core.Store.Close]: later calls fail with
// [core.ErrClosed]. The usage stays in Redis, and the client stays open:
// the application that created it closes it.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

func (s *Store) badReply(op string, v []any) error {
	return &unavailableError{op, fmt.Errorf("unexpected reply %v", v)}
}

// toCredits converts a script's reply value: an integer, or a decimal
// string where a value may exceed 2^53.
func toCredits(x any) (core.Credits, error) {
	switch v := x.(type) {
	case int64:
		return core.Credits(v), nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("credits %q: %w", v, err)
		}
		return core.Credits(n), nil
	}
	return 0, fmt.Errorf("unexpected value %v (%T)", x, x)
}

// validCost reports whether c fits the scripts' 16-digit field; Billing
// never passes more than core.MaxCredits.
func validCost(c core.Credits) bool { return c >= 0 && c <= core.MaxCredits }
