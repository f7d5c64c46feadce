package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Options adjusts the suite for a store that is slow per call, such as one
// that commits each deduction to disk or answers over a network. The zero
// value runs the full suite.
type Options struct {
	// Goroutines is how many goroutines each concurrency test runs.
	// Optional. Default: 64.
	Goroutines int
	// Calls is how many deductions the fractional-credit test makes one after
	// the other; it also sizes ReportMatchesModel (Calls/5 steps) and
	// ExportConcurrent (Calls/Goroutines deductions per goroutine), and
	// OverflowByDeductions runs only with Calls of at least 1025.
	// Optional. Default: 2000.
	Calls int
	// Sequential runs the subtests one after the other instead of in
	// parallel, for a store whose open cannot give parallel subtests
	// isolated stores. Optional. Default: false.
	Sequential bool
	// Retention opens a new, empty store (as open does) that keeps usage
	// aggregates for retention before the latest hour charged, for the
	// subtest Retention; the suite closes it. Retention is a setting of
	// each store, so the suite cannot set it otherwise. Optional. Default:
	// nil, and the subtest Retention is skipped.
	Retention func(t *testing.T, retention time.Duration) core.Store
}

func (o Options) withDefaults() Options {
	if o.Goroutines <= 0 {
		o.Goroutines = 64
	}
	if o.Calls <= 0 {
		o.Calls = 2000
	}
	return o
}

// Run runs the conformance suite against the store that open returns. open
// is called at least once per subtest (the export and import subtests open
// more stores to copy state into), possibly from parallel subtests, and
// must return a new, empty store each time (or one isolated from every
// other store it returned, e.g. by a key prefix); the suite closes it.
func Run(t *testing.T, open func(t *testing.T) core.Store) {
	t.Helper()
	RunWithOptions(t, open, Options{})
}

// RunWithOptions is [Run] with options for stores that need them.
func RunWithOptions(t *testing.T, open func(t *testing.T) core.Store, opts Options) {
	t.Helper()
	if open == nil {
		t.Fatal("storetest: Run expects a non-nil open function")
	}
	opts = opts.withDefaults()
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			if !opts.Sequential {
				t.Parallel()
			}
			st.run(t, newEnv(t, open, opts))
		})
	}
}

// subtests lists the suite, one entry per named subtest.
var subtests = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"WithinLimit", testWithinLimit},
	{"OverLimitChangesNothing", testOverLimit},
	{"MultiWindowAllOrNothing", testMultiWindow},
	{"ExactUsed", testExactUsed},
	{"WindowRenewal", testRenewal},
	{"Unlimited", testUnlimited},
	{"ZeroCost", testZeroCost},
	{"FractionalCredits", testFractional},
	{"Refund", testRefund},
	{"UsageReadsOnly", testUsageReadsOnly},
	{"DailyReport", testDailyReport},
	{"LabelReport", testLabelReport},
	{"ReportMatchesModel", testReportModel},
	{"Delete", testDelete},
	{"ClientIsolation", testIsolation},
	{"Closed", testClosed},
	{"CancelledContext", testCancelled},
	{"Concurrency", testConcurrency},
	{"Billing", testBilling},
	{"BillingKeysAndAlerts", testBillingKeysAndAlerts},

	// Idempotency keys: idempotency.go and idempotency_concurrent.go.
	{"KeyReplay", testKeyReplay},
	{"KeyConflict", testKeyConflict},
	{"KeyRefusedNotRecorded", testKeyRefused},
	{"KeyZeroCost", testKeyZeroCost},
	{"KeyClientIsolation", testKeyIsolation},
	{"KeyExpiry", testKeyExpiry},
	{"KeyRefundOnce", testKeyRefundOnce},
	{"KeyRefundUnknown", testKeyRefundUnknown},
	{"KeyConcurrentSameKey", testKeyConcurrentSame},
	{"KeyConcurrentLimit", testKeyConcurrentLimit},

	// Overflow at core.MaxUsage: overflow.go.
	{"OverflowWindow", testOverflowWindow},
	{"OverflowHour", testOverflowHour},
	{"OverflowByDeductions", testOverflowByDeductions},

	// Threshold bits: thresholds.go.
	{"ThresholdFired", testThresholdFired},
	{"ThresholdReset", testThresholdReset},
	{"ThresholdConcurrent", testThresholdConcurrent},
	{"ThresholdSurvivesImport", testThresholdImport},

	// Export and import: export.go and import.go.
	{"ExportEmpty", testExportEmpty},
	{"ExportImportRoundTrip", testRoundTrip},
	{"ExportConcurrent", testExportConcurrent},
	{"ExportStops", testExportStops},
	{"ImportNotEmpty", testImportNotEmpty},
	{"ImportMerge", testImportMerge},
	{"ImportResume", testImportResume},
	{"ImportNilRecord", testImportNilRecord},

	// Input of any bytes: input.go.
	{"AnyBytes", testAnyBytes},

	// A client hash that is not the client's: hint.go.
	{"ClientHashHint", testClientHashHint},

	// Retention of usage aggregates, where the store offers it: retention.go.
	{"Retention", testRetention},
}

// env is one subtest's store and the times its windows are placed at.
type env struct {
	store core.Store
	opts  Options
	open  func(t *testing.T) core.Store
	// base is a UTC midnight two days after the wall clock, in Unix
	// nanoseconds: every window and day of the suite lies after it.
	base int64
}

func newEnv(t *testing.T, open func(t *testing.T) core.Store, opts Options) *env {
	t.Helper()
	e := &env{opts: opts, open: open, base: suiteBase()}
	e.store = e.fresh(t)
	return e
}

// suiteBase returns a UTC midnight two days after the wall clock, in Unix
// nanoseconds.
func suiteBase() int64 {
	return time.Now().UTC().Truncate(24 * time.Hour).Add(48 * time.Hour).UnixNano()
}

// fresh opens another new, empty store, which the suite closes at the end
// of the test.
func (e *env) fresh(t *testing.T) core.Store {
	t.Helper()
	return track(t, e.open(t))
}

// track fails the test on a nil store and closes s at the end of the test.
func track(t *testing.T, s core.Store) core.Store {
	t.Helper()
	if s == nil {
		t.Fatal("storetest: open returned a nil store")
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, core.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

const (
	credit     int64 = 1_000_000 // one credit in micro-credits
	maxCredits       = int64(1<<53 - 1)
	unlimited        = int64(-1)
	hour             = int64(time.Hour)
	day              = 24 * hour
)

// window returns the k-th window of period p after base, with the period's
// nominal length.
func (e *env) window(p core.Period, k int, limit int64) core.Window {
	n := int64(p.Nominal())
	s := e.base + int64(k)*n
	return core.Window{Period: p, Start: s, End: s + n, Limit: limit}
}

// day returns the k-th 24-hour report day after base.
func (e *env) day(k int) core.Span {
	s := e.base + int64(k)*day
	return core.Span{Start: s, End: s + day}
}

// op builds a Deduct, Refund or Usage operation.
func op(client, label string, cost int64, d core.Span, ws ...core.Window) *core.Op {
	o := &core.Op{Client: client, Label: label, Cost: cost, Bucket: d, At: d.Start, N: len(ws)}
	copy(o.List[:], ws)
	return o
}

// deleteOp builds a Delete operation.
func deleteOp(client string, from, to int64, ws ...core.Window) *core.DeleteOp {
	o := &core.DeleteOp{Client: client, From: from, To: to, N: len(ws)}
	copy(o.List[:], ws)
	return o
}

// deduct calls Deduct and fails the test on an error.
func (e *env) deduct(t *testing.T, o *core.Op) core.Result {
	t.Helper()
	res, err := e.store.Deduct(t.Context(), o)
	if err != nil {
		t.Fatalf("Deduct(%q, cost %v): %v", o.Client, o.Cost, err)
	}
	return res
}

// mustDeduct deducts o and fails the test unless it is admitted.
func (e *env) mustDeduct(t *testing.T, o *core.Op) core.Result {
	t.Helper()
	res := e.deduct(t, o)
	if !res.OK {
		t.Fatalf("Deduct(%q, cost %v) refused with usage %v, want admitted", o.Client, o.Cost, res.Used[:o.N])
	}
	return res
}

// usage returns the usage of client's windows ws.
func (e *env) usage(t *testing.T, client string, ws ...core.Window) []int64 {
	t.Helper()
	o := op(client, "", 0, core.Span{}, ws...)
	res, err := e.store.Usage(t.Context(), o)
	if err != nil {
		t.Fatalf("Usage(%s): %v", fmtLabel(client), err)
	}
	return slices.Clone(res.Used[:len(ws)])
}

// wantUsage checks the usage of client's windows ws.
func (e *env) wantUsage(t *testing.T, what, client string, ws []core.Window, want ...int64) {
	t.Helper()
	if got := e.usage(t, client, ws...); !slices.Equal(got, want) {
		t.Errorf("%s: Usage(%s) = %v, want %v", what, fmtLabel(client), got, want)
	}
}

// wantUsed checks the usage a Result reports for n windows.
func wantUsed(t *testing.T, what string, res core.Result, want ...int64) {
	t.Helper()
	if got := res.Used[:len(want)]; !slices.Equal(got, want) {
		t.Errorf("%s: Result.Used = %v, want %v", what, got, want)
	}
}

// recKey identifies one day aggregate.
type recKey struct {
	Start, End int64
	Label      string
}

func (k recKey) String() string {
	return fmt.Sprintf("{%s..%s %s}", time.Unix(0, k.Start).UTC().Format(time.RFC3339), time.Unix(0, k.End).UTC().Format(time.RFC3339), fmtLabel(k.Label))
}

// fmtLabel quotes a label or client ID for messages, shortening a long one
// to its first and last bytes and its length.
func fmtLabel(s string) string {
	if len(s) <= 40 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...%q (%d bytes)", s[:24], s[len(s)-8:], len(s))
}

// records is a report as a map; aggregates of zero credits are left out,
// since a store may keep or drop an aggregate that a refund or zero cost
// left at zero.
type records map[recKey]int64

func (r records) String() string {
	keys := make([]recKey, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b recKey) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Label, b.Label)
	})
	var b strings.Builder
	b.WriteString("[")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%v=%v", k, r[k])
	}
	b.WriteString("]")
	return b.String()
}

func rec(d core.Span, label string) recKey { return recKey{d.Start, d.End, label} }

// report returns client's day aggregates whose day starts in [from, to). It
// fails the test on an error, a negative aggregate, or two records of one
// day and label.
func (e *env) report(t *testing.T, client string, from, to int64) records {
	t.Helper()
	recs, err := e.store.Report(t.Context(), core.ReportQuery{Client: client, From: from, To: to})
	if err != nil {
		t.Fatalf("Report(%s): %v", fmtLabel(client), err)
	}
	out := records{}
	seen := map[recKey]bool{}
	for _, r := range recs {
		k := rec(r.Bucket, r.Label)
		if seen[k] {
			t.Errorf("Report(%q) has two records for day and label %v", client, k)
		}
		seen[k] = true
		if r.Credits < 0 {
			t.Errorf("Report(%q): %v has %v credits, below zero", client, k, r.Credits)
		}
		if r.Credits != 0 {
			out[k] = r.Credits
		}
	}
	return out
}

// reportAll returns all of client's day aggregates of the suite's days.
func (e *env) reportAll(t *testing.T, client string) records {
	t.Helper()
	return e.report(t, client, e.base-30*day, e.base+60*day)
}

// wantReport checks client's day aggregates whose day starts in [from, to).
func (e *env) wantReport(t *testing.T, what, client string, from, to int64, want records) {
	t.Helper()
	if got := e.report(t, client, from, to); !equalRecords(got, want) {
		t.Errorf("%s: Report(%s) = %v, want %v", what, fmtLabel(client), got, want)
	}
}

// wantReportAll checks all of client's day aggregates.
func (e *env) wantReportAll(t *testing.T, what, client string, want records) {
	t.Helper()
	e.wantReport(t, what, client, e.base-30*day, e.base+60*day, want)
}

func equalRecords(a, b records) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// fakeClock is a clock for [core.WithClock] that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// deadContexts returns contexts that are already done, with the error each
// must be reported with.
func deadContexts() []struct {
	name string
	ctx  context.Context
	err  error
} {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	cancel2()
	return []struct {
		name string
		ctx  context.Context
		err  error
	}{
		{"Canceled", cancelled, context.Canceled},
		{"DeadlineExceeded", expired, context.DeadlineExceeded},
	}
}
