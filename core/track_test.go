package core_test

import (
	"cmp"
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// failingStore fails every call with err, and counts the calls.
type failingStore struct {
	err   error
	calls atomic.Int64
}

func (s *failingStore) Deduct(context.Context, *core.Op) (core.Result, error) {
	s.calls.Add(1)
	return core.Result{OK: true}, s.err
}

func (s *failingStore) Refund(context.Context, *core.Op) error { s.calls.Add(1); return s.err }

func (s *failingStore) Usage(context.Context, *core.Op) (core.Result, error) {
	s.calls.Add(1)
	return core.Result{}, s.err
}

func (s *failingStore) Report(context.Context, core.ReportQuery) ([]core.UsageRecord, error) {
	s.calls.Add(1)
	return nil, s.err
}

func (s *failingStore) Delete(context.Context, *core.DeleteOp) (int64, error) {
	s.calls.Add(1)
	return 0, s.err
}

func (s *failingStore) Export(context.Context, func(*core.Record) error) error {
	s.calls.Add(1)
	return s.err
}

func (s *failingStore) Import(context.Context, func() (*core.Record, error), core.ImportOptions) error {
	s.calls.Add(1)
	return s.err
}

func (s *failingStore) Close() error { return nil }

// countingStore counts the calls that reach a memory store.
type countingStore struct {
	*memory.Store
	deducts atomic.Int64
	refunds atomic.Int64
}

func memoryStore() *memory.Store { return memory.New() }

func (s *countingStore) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	s.deducts.Add(1)
	return s.Store.Deduct(ctx, op)
}

func (s *countingStore) Refund(ctx context.Context, op *core.Op) error {
	s.refunds.Add(1)
	return s.Store.Refund(ctx, op)
}

func TestTrackQuotaExceeded(t *testing.T) {
	t.Parallel()
	at := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name      string
		quotas    []core.Quota
		first     core.Credits // admitted before
		cost      core.Credits // refused
		quota     core.Period
		limit     core.Credits
		remaining core.Credits
		renews    time.Time
		violated  []core.Period
		retry     time.Time
	}{
		{
			name:   "one of three",
			quotas: []core.Quota{{Period: core.Minute, Limit: core.Whole(10)}, {Period: core.Hour, Limit: core.Whole(4)}, {Period: core.Day, Limit: core.Whole(100)}},
			first:  core.Whole(3), cost: core.Whole(2),
			quota: core.Hour, limit: core.Whole(4), remaining: core.Whole(1), renews: at(13, 0),
			violated: []core.Period{core.Hour}, retry: at(13, 0),
		},
		{
			name:   "tie goes to the earliest renewal, retry at the latest",
			quotas: []core.Quota{{Period: core.Minute, Limit: core.Whole(4)}, {Period: core.Hour, Limit: core.Whole(4)}, {Period: core.Month, Limit: core.Unlimited}},
			first:  core.Whole(3), cost: core.Whole(2),
			quota: core.Minute, limit: core.Whole(4), remaining: core.Whole(1), renews: at(12, 1),
			violated: []core.Period{core.Minute, core.Hour}, retry: at(13, 0),
		},
		{
			name: "fewest left wins over earlier renewal",
			quotas: []core.Quota{
				{Period: core.Minute, Limit: core.Whole(4)},
				{Period: core.Hour, Limit: core.Whole(4)},
				{Period: core.Day, Limit: core.MustParseCredits("3.5")},
			},
			first: core.Whole(3), cost: core.Whole(2),
			quota: core.Day, limit: core.MustParseCredits("3.5"), remaining: core.MustParseCredits("0.5"), renews: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			violated: []core.Period{core.Minute, core.Hour, core.Day}, retry: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		},
		{
			name:   "cost above every limit",
			quotas: []core.Quota{{Period: core.Second, Limit: core.Whole(5)}, {Period: core.Week, Limit: core.Whole(50)}},
			first:  core.Whole(0), cost: core.Whole(51),
			quota: core.Second, limit: core.Whole(5), remaining: core.Whole(5), renews: testStart.Add(time.Second),
			violated: []core.Period{core.Second, core.Week}, retry: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _, _ := newTestBilling(t)
			mustSetQuotas(t, b, "c", tt.quotas...)
			if !tt.first.IsZero() {
				mustTrack(t, b, "c", tt.first)
			}
			before, err := b.Status(context.Background(), "c")
			if err != nil {
				t.Fatal(err)
			}
			o, err := b.Track(context.Background(), "c", tt.cost)
			if !errors.Is(err, core.ErrQuotaExceeded) {
				t.Fatalf("Track = %v, want ErrQuotaExceeded", err)
			}
			var qe *core.QuotaExceededError
			if !errors.As(err, &qe) {
				t.Fatalf("Track error %T is not a *QuotaExceededError", err)
			}
			if got, want := qe.Quota, tt.quota; got != want {
				t.Errorf("Quota = %s, want %s", got, want)
			}
			if got, want := qe.Limit, tt.limit; got != want {
				t.Errorf("Limit = %s, want %s", got, want)
			}
			if got, want := qe.Remaining, tt.remaining; got != want {
				t.Errorf("Remaining = %s, want %s", got, want)
			}
			if got, want := qe.Required, tt.cost; got != want {
				t.Errorf("Required = %s, want %s", got, want)
			}
			if got, want := qe.RenewsAt, tt.renews; !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("RenewsAt = %s, want %s in UTC", got, want)
			}
			var want core.PeriodSet
			for _, p := range tt.violated {
				want = want.Add(p)
			}
			if got := qe.Violated; got != want {
				t.Errorf("Violated = %s, want %s", got, want)
			}
			if got, want := qe.RetryAt, tt.retry; !got.Equal(want) {
				t.Errorf("RetryAt = %s, want %s", got, want)
			}
			if got, want := o.RetryAt(), tt.retry; !got.Equal(want) {
				t.Errorf("Outcome.RetryAt = %s, want %s", got, want)
			}
			if o.Allowed() {
				t.Error("Outcome.Allowed() = true for a refused charge")
			}
			if low, ok := o.Lowest(); !ok || low.Period != tt.quota || low.Remaining != tt.remaining {
				t.Errorf("Outcome.Lowest() = %+v, %v; want %s with %s left", low, ok, tt.quota, tt.remaining)
			}
			wantDetail := "You have only " + tt.remaining.String() + " credits remaining, but " + tt.cost.String() +
				" are required. They will renew at " + tt.renews.UTC().Format(time.RFC3339) + "."
			if got := qe.Detail(); got != wantDetail {
				t.Errorf("Detail() = %q, want %q", got, wantDetail)
			}
			if got, want := err.Error(), "apibilling: quota exceeded: "+wantDetail; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			// Nothing changed.
			after, err := b.Status(context.Background(), "c")
			if err != nil {
				t.Fatal(err)
			}
			for i := range before.Len() {
				if b, a := before.Quota(i).Used, after.Quota(i).Used; a != b {
					t.Errorf("%s usage changed by a refused charge: %s -> %s", before.Quota(i).Period, b, a)
				}
			}
		})
	}
}

func TestTrackAdmitsExactlyTheLimit(t *testing.T) {
	t.Parallel()
	b, _, _ := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	o := mustTrack(t, b, "c", mc(9_999_999))
	if low, _ := o.Lowest(); low.Remaining != mc(1) || low.Used != mc(9_999_999) {
		t.Errorf("after charging all but one micro-credit: %+v", low)
	}
	mustTrack(t, b, "c", mc(1))
	if _, err := b.Track(context.Background(), "c", mc(1)); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Errorf("Track(1 micro-credit) over the limit = %v, want ErrQuotaExceeded", err)
	}
}

func TestTrackInvalidCost(t *testing.T) {
	t.Parallel()
	for _, cost := range []core.Credits{{}, core.Unlimited, mc(maxMicro + 1), mc(1 << 62), mc(core.MaxUsage)} {
		b, st, _ := newTestBilling(t)
		mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Unlimited})
		mustTrack(t, b, "c", core.Whole(1))
		o, err := b.Track(context.Background(), "c", cost)
		if !errors.Is(err, core.ErrInvalidCost) {
			t.Errorf("Track(%s) = %v, want ErrInvalidCost", cost, err)
		}
		if o.Len() != 0 || o.Allowed() {
			t.Errorf("Track(%s) outcome has %d quotas, allowed %v; want none", cost, o.Len(), o.Allowed())
		}
		if got, want := used(t, b, "c", core.Day), core.Whole(1); got != want {
			t.Errorf("Track(%s) changed usage to %s, want %s", cost, got, want)
		}
		recs, err := st.Report(context.Background(), core.ReportQuery{Client: "c", From: 0, To: 1 << 62})
		if err != nil || len(recs) != 1 || recs[0].Credits != core.Whole(1).Micro() {
			t.Errorf("Track(%s) changed the report: %+v, %v", cost, recs, err)
		}
	}
}

func TestStoreFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cause := errors.New("disk on fire")
	st := &failingStore{err: cause}
	b := core.New(st, core.WithClock(newFakeClock(testStart).Now))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, cause) {
			t.Errorf("%s = %v, want an error wrapping ErrStoreUnavailable and the store's error", name, err)
		}
	}
	o, err := b.Track(ctx, "c", core.Whole(1))
	check("Track", err)
	if o.Len() != 0 || o.Allowed() {
		t.Errorf("Track outcome after a store failure: %d quotas, allowed %v; want none", o.Len(), o.Allowed())
	}
	if err := b.Refund(ctx, &o); err != nil {
		t.Errorf("Refund of a failed charge = %v, want nil (nothing to refund)", err)
	}
	_, err = b.Status(ctx, "c")
	check("Status", err)
	_, err = b.DailyUsage(ctx, "c", testStart, testStart.Add(time.Hour))
	check("DailyUsage", err)
	_, err = b.TotalUsage(ctx, "c", testStart, testStart.Add(time.Hour))
	check("TotalUsage", err)
	_, err = b.DeleteUsage(ctx, "c", testStart, testStart.Add(time.Hour))
	check("DeleteUsage", err)

	// A refund that fails leaves the outcome refundable.
	good, _, _ := newTestBilling(t)
	mustSetQuotas(t, good, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	admitted := mustTrack(t, good, "c", core.Whole(1))
	err = b.Refund(ctx, &admitted) // through the failing store
	check("Refund", err)
	if admitted.Refunded() {
		t.Error("Refunded() = true after a failed refund")
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	b, _, _ := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	mustTrack(t, b, "c", core.Whole(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Track(ctx, "c", core.Whole(1))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, core.ErrStoreUnavailable) {
		t.Errorf("Track with a cancelled context = %v, want context.Canceled within ErrStoreUnavailable", err)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(1); got != want {
		t.Errorf("usage after a cancelled Track = %s, want %s", got, want)
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &countingStore{Store: memory.New()}
	clk := newFakeClock(testStart)
	b := core.New(st, core.WithClock(clk.Now))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Minute, Limit: core.Whole(5)}, core.Quota{Period: core.Day, Limit: core.Whole(10)})

	o := mustTrack(t, b, "c", core.Whole(3))
	other := mustTrack(t, b, "c", core.Whole(1))
	if err := b.Refund(ctx, &o); err != nil {
		t.Fatalf("Refund: %v", err)
	}
	if !o.Refunded() {
		t.Error("Refunded() = false after Refund")
	}
	// The outcome's own view: its charge's usage, less the refund.
	if got, want := o.Quota(1).Used, core.Whole(0); got != want {
		t.Errorf("refunded outcome reports %s used, want %s", got, want)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(1); got != want {
		t.Errorf("day usage after refund = %s, want %s", got, want)
	}
	// Twice is a no-op.
	if err := b.Refund(ctx, &o); err != nil {
		t.Fatalf("second Refund: %v", err)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(1); got != want {
		t.Errorf("day usage after a second refund = %s, want %s", got, want)
	}
	if got, want := st.refunds.Load(), int64(1); got != want {
		t.Errorf("store refunds = %d, want %d", got, want)
	}
	// A refused charge has nothing to refund.
	refused, err := b.Track(ctx, "c", core.Whole(5))
	if !errors.Is(err, core.ErrQuotaExceeded) {
		t.Fatalf("Track(5) = %v, want ErrQuotaExceeded", err)
	}
	if err := b.Refund(ctx, &refused); err != nil || refused.Refunded() {
		t.Errorf("Refund of a refused charge = %v, refunded %v; want a no-op", err, refused.Refunded())
	}
	if got, want := st.refunds.Load(), int64(1); got != want {
		t.Errorf("store refunds = %d after refunding a refused charge, want %d", got, want)
	}
	// After the minute window ends, a refund restores only the day window
	// and the report.
	clk.Set(testStart.Add(time.Minute))
	mustTrack(t, b, "c", core.Whole(2))
	if err := b.Refund(ctx, &other); err != nil {
		t.Fatal(err)
	}
	if got, want := used(t, b, "c", core.Minute), core.Whole(2); got != want {
		t.Errorf("new minute window after refunding an older charge = %s, want %s", got, want)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(2); got != want {
		t.Errorf("day usage = %s, want %s", got, want)
	}
	total, err := b.TotalUsage(ctx, "c", testStart, testStart.Add(time.Hour))
	if err != nil || total != core.Whole(2) {
		t.Errorf("TotalUsage = %s, %v; want 2", total, err)
	}
	var zero core.Outcome
	if err := b.Refund(ctx, &zero); err != nil {
		t.Errorf("Refund of the zero Outcome = %v", err)
	}
}

func TestStatusLowest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		quotas []core.Quota
		spend  core.Credits
		lowest core.Period
		ok     bool
	}{
		{"fewest left", []core.Quota{{Period: core.Minute, Limit: core.Whole(10)}, {Period: core.Day, Limit: core.Whole(5)}}, core.Whole(1), core.Day, true},
		{"tie: earliest renewal", []core.Quota{{Period: core.Hour, Limit: core.Whole(5)}, {Period: core.Minute, Limit: core.Whole(5)}, {Period: core.Year, Limit: core.Whole(5)}}, core.Whole(1), core.Minute, true},
		{"unlimited never lowest", []core.Quota{{Period: core.Second, Limit: core.Unlimited}, {Period: core.Month, Limit: core.Whole(2)}}, core.Whole(2), core.Month, true},
		{"unlimited only", []core.Quota{{Period: core.Second, Limit: core.Unlimited}, {Period: core.Day, Limit: core.Unlimited}}, core.Whole(7), 0, false},
		{"zero limit", []core.Quota{{Period: core.Week, Limit: core.Whole(0)}, {Period: core.Day, Limit: core.Whole(1)}}, core.Whole(0), core.Week, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _, _ := newTestBilling(t)
			mustSetQuotas(t, b, "c", tt.quotas...)
			if !tt.spend.IsZero() {
				mustTrack(t, b, "c", tt.spend)
			}
			o, err := b.Status(context.Background(), "c")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := o.Len(), len(tt.quotas); got != want {
				t.Errorf("Len() = %d, want %d", got, want)
			}
			for i := range o.Len() {
				q := o.Quota(i)
				want := core.QuotaFigures{Period: q.Period, Limit: q.Limit, Remaining: q.Remaining, End: q.End.UnixNano()}
				if got := o.Figures(i); got != want {
					t.Errorf("Figures(%d) = %+v, want %+v (from Quota)", i, got, want)
				}
			}
			low, ok := o.Lowest()
			if ok != tt.ok || (ok && low.Period != tt.lowest) {
				t.Fatalf("Lowest() = %s, %v; want %s, %v", low.Period, ok, tt.lowest, tt.ok)
			}
			if !ok {
				if got := o.LowestIndex(); got != -1 {
					t.Errorf("LowestIndex() = %d, want -1", got)
				}
				return
			}
			if got := o.Quota(o.LowestIndex()); got != low {
				t.Errorf("Quota(LowestIndex()) = %+v, want %+v", got, low)
			}
			if !o.Allowed() || o.Violated() != 0 || !o.RetryAt().IsZero() {
				t.Errorf("a status reports allowed %v, violated %s, retry %s", o.Allowed(), o.Violated(), o.RetryAt())
			}
		})
	}
}

func TestZeroCostWhenOverdrawn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, _ := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	mustTrack(t, b, "c", core.Whole(8))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(5)}) // now overdrawn
	o, err := b.Track(ctx, "c", core.Whole(0))
	if err != nil || !o.Allowed() {
		t.Fatalf("Track(0) on an overdrawn quota = %v, allowed %v; want admitted", err, o.Allowed())
	}
	low, _ := o.Lowest()
	if low.Used != core.Whole(8) || low.Remaining != core.Whole(0) || low.Limit != core.Whole(5) {
		t.Errorf("overdrawn quota status = %+v, want used 8, remaining 0, limit 5", low)
	}
	_, err = b.Track(ctx, "c", mc(1))
	var qe *core.QuotaExceededError
	if !errors.As(err, &qe) || !qe.Remaining.IsZero() {
		t.Errorf("Track(1 micro-credit) = %v, want refused with 0 remaining", err)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(8); got != want {
		t.Errorf("usage = %s, want %s", got, want)
	}
}

func TestOutcomeAccessors(t *testing.T) {
	t.Parallel()
	b, _, _ := newTestBilling(t)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10), Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, tokyo)})
	o, err := b.Charge(context.Background(), core.Charge{Client: "c", Label: "/api/fetch", Cost: core.MustParseCredits("1.5"), IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Client() != "c" || o.Label() != "/api/fetch" || o.Cost() != mc(1_500_000) || !o.At().Equal(testStart) || o.Refunded() ||
		o.Replayed() || o.IdempotencyKey() != "k1" || !o.Allowed() {
		t.Errorf("outcome = client %q label %q cost %s at %s refunded %v replayed %v key %q allowed %v",
			o.Client(), o.Label(), o.Cost(), o.At(), o.Refunded(), o.Replayed(), o.IdempotencyKey(), o.Allowed())
	}
	q := o.Quota(0)
	want := core.QuotaStatus{
		Period: core.Day, Limit: core.Whole(10), Used: mc(1_500_000), Remaining: mc(8_500_000),
		Start: time.Date(2026, 11, 30, 0, 0, 0, 0, tokyo), End: time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo),
	}
	if q != want {
		t.Errorf("Quota(0) = %+v, want %+v", q, want)
	}
	if qs := o.Quotas(); len(qs) != 1 || qs[0] != want {
		t.Errorf("Quotas() = %+v", qs)
	}
	wantFigures := core.QuotaFigures{Period: want.Period, Limit: want.Limit, Remaining: want.Remaining, End: want.End.UnixNano()}
	if f := o.Figures(0); f != wantFigures {
		t.Errorf("Figures(0) = %+v, want %+v", f, wantFigures)
	}
	var zero core.Outcome
	if _, ok := zero.Lowest(); ok || zero.Len() != 0 || zero.LowestIndex() != -1 {
		t.Errorf("zero Outcome has a lowest quota")
	}
}

// TestTrackConcurrentExactLimit: many goroutines charging one client admit
// exactly the limit of each day window, never more, while the clock moves
// from day to day between rounds (the cached windows are replaced under
// concurrency).
func TestTrackConcurrentExactLimit(t *testing.T) {
	t.Parallel()
	const (
		workers  = 16
		attempts = 50
		limit    = 300
		days     = 3
	)
	b, _, clk := newTestBilling(t)
	mustSetQuotas(t, b, "c",
		core.Quota{Period: core.Day, Limit: core.Whole(limit)},
		core.Quota{Period: core.Month, Limit: core.Unlimited},
	)
	for day := 0; day < days; day++ {
		clk.Set(testStart.Add(time.Duration(day-5) * 24 * time.Hour)) // Nov 25 to 27: one month window
		type result struct {
			admitted int
			err      error
		}
		results := make(chan result, workers)
		for w := 0; w < workers; w++ {
			go func() {
				var r result
				for i := 0; i < attempts; i++ {
					_, err := b.Track(context.Background(), "c", core.Whole(1))
					switch {
					case err == nil:
						r.admitted++
					case !errors.Is(err, core.ErrQuotaExceeded):
						r.err = err
						results <- r
						return
					}
				}
				results <- r
			}()
		}
		admitted := 0
		for w := 0; w < workers; w++ {
			r := <-results
			if r.err != nil {
				t.Errorf("day %d: Track: %v", day, r.err)
			}
			admitted += r.admitted
		}
		if admitted != limit {
			t.Errorf("day %d: admitted %d charges, want exactly %d", day, admitted, limit)
		}
		if got, want := used(t, b, "c", core.Day), core.Whole(limit); got != want {
			t.Errorf("day %d: used %s, want %s", day, got, want)
		}
	}
	if got, want := used(t, b, "c", core.Month), core.Whole(days*limit); got != want {
		t.Errorf("month used %s, want %s", got, want)
	}
}

// TestRetryAtBefore1970: the renewal times of windows that end before 1970
// (negative Unix times), or exactly at its start, are reported as they are.
func TestRetryAtBefore1970(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	tests := []struct {
		name     string
		clock    time.Time
		quotas   []core.Quota
		cost     core.Credits
		quota    core.Period
		renews   time.Time
		violated []core.Period
		retry    time.Time
	}{
		{
			name:  "minute ending at the epoch",
			clock: time.Date(1969, 12, 31, 23, 59, 30, 0, utc),
			quotas: []core.Quota{
				{Period: core.Minute, Limit: core.Whole(1)},
				{Period: core.Day, Limit: core.Whole(100)},
			},
			cost: core.Whole(2), quota: core.Minute, renews: time.Unix(0, 0).UTC(),
			violated: []core.Period{core.Minute}, retry: time.Unix(0, 0).UTC(),
		},
		{
			name:  "day and month in 1969",
			clock: time.Date(1969, 7, 20, 20, 17, 0, 0, utc),
			quotas: []core.Quota{
				{Period: core.Day, Limit: core.Whole(1)},
				{Period: core.Month, Limit: core.Whole(1)},
				{Period: core.Year, Limit: core.Whole(100)},
			},
			cost: core.Whole(2), quota: core.Day, renews: time.Date(1969, 7, 21, 0, 0, 0, 0, utc),
			violated: []core.Period{core.Day, core.Month}, retry: time.Date(1969, 8, 1, 0, 0, 0, 0, utc),
		},
		{
			name:  "year in 1900",
			clock: time.Date(1900, 3, 1, 12, 0, 0, 0, utc),
			quotas: []core.Quota{
				{Period: core.Second, Limit: core.Whole(5)},
				{Period: core.Year, Limit: core.Whole(3), Anchor: time.Date(1890, 7, 1, 0, 0, 0, 0, utc)},
			},
			cost: core.Whole(4), quota: core.Year, renews: time.Date(1900, 7, 1, 0, 0, 0, 0, utc),
			violated: []core.Period{core.Year}, retry: time.Date(1900, 7, 1, 0, 0, 0, 0, utc),
		},
		{
			name:  "one quota before 1970, one after",
			clock: time.Date(1969, 12, 31, 12, 0, 0, 0, utc),
			quotas: []core.Quota{
				{Period: core.Hour, Limit: core.Whole(1)},
				{Period: core.Week, Limit: core.Whole(1)},
			},
			cost: core.Whole(2), quota: core.Hour, renews: time.Date(1969, 12, 31, 13, 0, 0, 0, utc),
			violated: []core.Period{core.Hour, core.Week}, retry: time.Date(1970, 1, 5, 0, 0, 0, 0, utc),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _, clk := newTestBilling(t)
			clk.Set(tt.clock)
			mustSetQuotas(t, b, "c", tt.quotas...)
			o, err := b.Track(context.Background(), "c", tt.cost)
			var qe *core.QuotaExceededError
			if !errors.As(err, &qe) {
				t.Fatalf("Track = %v, want a *QuotaExceededError", err)
			}
			var violated core.PeriodSet
			for _, p := range tt.violated {
				violated = violated.Add(p)
			}
			if qe.Quota != tt.quota || !qe.RenewsAt.Equal(tt.renews) || qe.Violated != violated {
				t.Errorf("error = %s quota renewing %s, violated %s; want %s renewing %s, violated %s",
					qe.Quota, qe.RenewsAt, qe.Violated, tt.quota, tt.renews, violated)
			}
			if got := qe.RetryAt; !got.Equal(tt.retry) || got.IsZero() {
				t.Errorf("QuotaExceededError.RetryAt = %s, want %s", got, tt.retry)
			}
			if got := o.RetryAt(); !got.Equal(tt.retry) || got.IsZero() || got.Location() != time.UTC {
				t.Errorf("Outcome.RetryAt = %s, want %s in UTC", got, tt.retry)
			}
			if o.Violated() != violated {
				t.Errorf("Outcome.Violated = %s, want %s", o.Violated(), violated)
			}
			if got, want := err.Error(), "apibilling: quota exceeded: "+qe.Detail(); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			if !strings.Contains(qe.Detail(), tt.renews.Format(time.RFC3339)) {
				t.Errorf("Detail() = %q, does not name the renewal %s", qe.Detail(), tt.renews.Format(time.RFC3339))
			}
		})
	}
}

// TestLabelLength: a label of up to MaxLabelLen bytes (any bytes) is
// charged and reported; a longer one is refused with ErrInvalidLabel before
// the store is asked, and nothing is charged.
func TestLabelLength(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	obs := &fakeObserver{}
	b, st, _ := newTestBilling(t, core.WithObserver(obs))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	longest := strings.Repeat("é", core.MaxLabelLen/2) // 256 bytes
	for _, label := range []string{"", "/api/{id}", "\x00\xff", longest} {
		o, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(1), Label: label})
		if err != nil || o.Label() != label {
			t.Errorf("Charge(label of %d bytes) = %q, %v", len(label), o.Label(), err)
		}
	}
	obs.take()
	for _, label := range []string{longest + "x", strings.Repeat("/", 10_000)} {
		for _, key := range []string{"k", ""} { // with a key and without (ChargeInto's fast path)
			o, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(1), Label: label, IdempotencyKey: key})
			if !errors.Is(err, core.ErrInvalidLabel) || errors.Is(err, core.ErrStoreUnavailable) {
				t.Errorf("Charge(label of %d bytes, key %q) = %v, want ErrInvalidLabel only", len(label), key, err)
			}
			if o.Len() != 0 || o.Allowed() {
				t.Errorf("Charge(label of %d bytes, key %q) outcome: %d quotas, allowed %v", len(label), key, o.Len(), o.Allowed())
			}
		}
	}
	if got := obs.take(); len(got) != 0 {
		t.Errorf("refused labels reached the store: %q", got)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(4); got != want {
		t.Errorf("usage = %s, want %s", got, want)
	}
	recs, err := st.Report(ctx, core.ReportQuery{Client: "c", From: 0, To: math.MaxInt64})
	if err != nil || len(recs) != 4 {
		t.Errorf("report = %+v, %v; want the four labels", recs, err)
	}
	// The key of the refused charge was not recorded.
	if o, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(1), IdempotencyKey: "k"}); err != nil || o.Replayed() {
		t.Errorf("Charge with the refused charge's key = replayed %v, %v; want charged", o.Replayed(), err)
	}
}

// TestChargeIntoReusedOutcome checks that ChargeInto into an Outcome that
// held another charge (more windows, a key, a label; or a store error)
// gives exactly what it gives into a zero Outcome: Outcome.reset must clear
// every field, and the windows the previous charge left.
func TestChargeIntoReusedOutcome(t *testing.T) {
	// A new field of Op or Outcome must be cleared by Outcome.reset: these
	// counts make the test fail until it is looked at.
	if n := reflect.TypeOf(core.Op{}).NumField(); n != 10 {
		t.Errorf("core.Op has %d fields: check that Outcome.reset clears the new ones, then update this count", n)
	}
	if n := reflect.TypeOf(core.Outcome{}).NumField(); n != 8 {
		t.Errorf("core.Outcome has %d fields: check that Outcome.reset clears the new ones, then update this count", n)
	}
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	var all []core.Quota
	for p := core.Second; p <= core.Year; p++ {
		all = append(all, core.Quota{Period: p, Limit: core.Whole(1000)})
	}
	if err := b.SetQuotas("many", all...); err != nil {
		t.Fatal(err)
	}
	if err := b.SetQuotas("two", core.Quota{Period: core.Day, Limit: core.Whole(10)}, core.Quota{Period: core.Month, Limit: core.Unlimited}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	previous := map[string]*core.Charge{
		"seven windows, a key and a label": {Client: "many", Cost: core.Whole(3), Label: "/a", IdempotencyKey: "k-1"},
		"refused":                          {Client: "many", Cost: core.Whole(5000), Label: "/b"},
		"no quotas":                        {Client: "nobody", Cost: core.Whole(1)},
	}
	// A free charge changes no usage, so both charges see the same state.
	next := []*core.Charge{
		{Client: "two", Cost: core.Whole(0), Label: "/c"},
		{Client: "nobody", Cost: core.Whole(0)},
		{Client: "two", Cost: core.Whole(0), IdempotencyKey: "bad key"},
	}
	for name, prev := range previous {
		for _, c := range next {
			var reused, fresh core.Outcome
			_ = b.ChargeInto(ctx, &reused, prev)
			errReused := b.ChargeInto(ctx, &reused, c)
			errFresh := b.ChargeInto(ctx, &fresh, c)
			if reused != fresh || (errReused == nil) != (errFresh == nil) {
				t.Errorf("after %s, charging %+v: reused Outcome %+v (%v), want %+v (%v)", name, *c, reused, errReused, fresh, errFresh)
			}
		}
	}
}

// TestChargeIntoReusedOutcomeSameClient checks the path where ChargeInto
// keeps the windows of the client's previous charge in a reused Outcome:
// after every change that could make them wrong (time within and past a
// window, into the next hour, backwards, quotas replaced, the client
// removed and set again, another Billing), the reused Outcome equals a
// fresh one.
func TestChargeIntoReusedOutcomeSameClient(t *testing.T) {
	now := time.Date(2026, 3, 14, 23, 59, 58, 0, time.UTC)
	clock := func() time.Time { return now }
	b := core.New(memory.New(), core.WithClock(clock))
	other := core.New(memory.New(), core.WithClock(clock))
	set := func(b *core.Billing, day int64) {
		t.Helper()
		err := b.SetQuotas("c", core.Quota{Period: core.Minute, Limit: core.Whole(100)}, core.Quota{Period: core.Day, Limit: core.Whole(day)})
		if err != nil {
			t.Fatal(err)
		}
	}
	set(b, 1000)
	set(other, 7)
	ctx := context.Background()
	var reused core.Outcome
	c := &core.Charge{Client: "c", Cost: core.Whole(0), Label: "/x"}
	steps := []struct {
		name   string
		change func()
		b      *core.Billing
	}{
		{"the first charge", func() {}, b},
		{"a second later, same windows", func() { now = now.Add(time.Second) }, b},
		{"past midnight: new minute, day and hour", func() { now = now.Add(time.Second) }, b},
		{"back into the previous day", func() { now = now.Add(-2 * time.Second) }, b},
		{"forward again", func() { now = now.Add(3 * time.Second) }, b},
		{"quotas replaced", func() { set(b, 5) }, b},
		{"client removed", func() { b.RemoveClient("c") }, b},
		{"client set again", func() { set(b, 9) }, b},
		{"another Billing", func() {}, other},
		{"back to the first", func() {}, b},
		{"an hour later", func() { now = now.Add(time.Hour) }, b},
	}
	for _, s := range steps {
		s.change()
		var fresh core.Outcome
		errReused := s.b.ChargeInto(ctx, &reused, c)
		errFresh := s.b.ChargeInto(ctx, &fresh, c)
		if reused != fresh || (errReused == nil) != (errFresh == nil) {
			t.Errorf("%s: reused Outcome %+v (%v), want %+v (%v)", s.name, reused, errReused, fresh, errFresh)
		}
		if errReused == nil {
			if got, want := reused.Quota(reused.Len()-1).Limit, s.b.Quotas("c")[len(s.b.Quotas("c"))-1].Limit; got != want {
				t.Errorf("%s: day limit %v, want %v", s.name, got, want)
			}
		}
	}
}

// TestChargeIntoReusedOutcomeAfterReplay checks that an Outcome that
// replayed a charge of earlier windows is not reused as it is: it holds the
// first charge's windows (and hour), not those of the current time, so the
// next ChargeInto into it must prepare them again.
func TestChargeIntoReusedOutcomeAfterReplay(t *testing.T) {
	now := time.Date(2026, 3, 14, 23, 59, 58, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("c", core.Quota{Period: core.Minute, Limit: core.Whole(100)}, core.Quota{Period: core.Day, Limit: core.Whole(1000)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keyed := &core.Charge{Client: "c", Cost: core.Whole(1), Label: "/x", IdempotencyKey: "k"}
	var first core.Outcome
	if err := b.ChargeInto(ctx, &first, keyed); err != nil || first.Replayed() {
		t.Fatalf("first charge: replayed %v, %v", first.Replayed(), err)
	}
	now = now.Add(2 * time.Second) // a new minute, day and hour
	var reused core.Outcome
	if err := b.ChargeInto(ctx, &reused, keyed); err != nil || !reused.Replayed() {
		t.Fatalf("retry: replayed %v, %v; want replayed", reused.Replayed(), err)
	}
	if got, want := reused.Quota(1).Start, time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("replayed day window starts %v, want the first charge's %v", got, want)
	}
	status := &core.Charge{Client: "c", Cost: core.Whole(0), Label: "/x"}
	var fresh core.Outcome
	errReused := b.ChargeInto(ctx, &reused, status)
	errFresh := b.ChargeInto(ctx, &fresh, status)
	if reused != fresh || errReused != nil || errFresh != nil {
		t.Errorf("after a replay: reused Outcome %+v (%v), want %+v (%v)", reused, errReused, fresh, errFresh)
	}
}

// switchStore is a memory store whose Deduct fails while down is set.
type switchStore struct {
	*memory.Store
	down bool
}

func (s *switchStore) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	if s.down {
		return core.Result{}, errors.New("down")
	}
	return s.Store.Deduct(ctx, op)
}

// outcomeView is what an Outcome shows through its methods.
type outcomeView struct {
	Allowed, Replayed, Refunded bool
	Client, Label, Key          string
	Cost                        core.Credits
	At                          time.Time
	Quotas                      []core.QuotaStatus
}

func viewOf(o *core.Outcome) outcomeView {
	return outcomeView{o.Allowed(), o.Replayed(), o.Refunded(), o.Client(), o.Label(), o.IdempotencyKey(), o.Cost(), o.At(), o.Quotas()}
}

// TestChargeIntoReusedOutcomeKeptWindows checks the charges into a reused
// Outcome that keep its windows (the same client, within them) against the
// same charges into zero Outcomes of a second Billing on its own store: a
// key after a keyed charge, a refund, a store error after an admitted
// charge and a new hour within the same day must each leave nothing of the
// previous charge, and the hour reports of both stores must agree.
func TestChargeIntoReusedOutcomeKeptWindows(t *testing.T) {
	now := time.Date(2026, 3, 14, 10, 59, 58, 0, time.UTC)
	clock := func() time.Time { return now }
	ctx := context.Background()
	sa, sb := &switchStore{Store: memory.New()}, &switchStore{Store: memory.New()}
	a, b := core.New(sa, core.WithClock(clock)), core.New(sb, core.WithClock(clock))
	for _, x := range []*core.Billing{a, b} {
		if err := x.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.Whole(100)}); err != nil {
			t.Fatal(err)
		}
	}
	var reused, last core.Outcome
	keyed := &core.Charge{Client: "c", Cost: core.Whole(1), Label: "/k", IdempotencyKey: "k1"}
	plain := &core.Charge{Client: "c", Cost: core.Whole(2), Label: "/p"}
	steps := []struct {
		name   string
		before func()
		c      *core.Charge
	}{
		{"a keyed charge", func() {}, keyed},
		{"a charge without a key", func() {}, plain},
		{"a charge after a refund", func() {
			if err := a.Refund(ctx, &reused); err != nil {
				t.Fatal(err)
			}
			if err := b.Refund(ctx, &last); err != nil {
				t.Fatal(err)
			}
		}, plain},
		{"a store error", func() { sa.down, sb.down = true, true }, plain},
		{"the store back", func() { sa.down, sb.down = false, false }, plain},
		{"an admitted charge again", func() {}, plain},
		{"the next hour, same day", func() { now = now.Add(3 * time.Second) }, plain},
	}
	for _, s := range steps {
		s.before()
		last = core.Outcome{}
		errA := a.ChargeInto(ctx, &reused, s.c)
		errB := b.ChargeInto(ctx, &last, s.c)
		if got, want := viewOf(&reused), viewOf(&last); !reflect.DeepEqual(got, want) || (errA == nil) != (errB == nil) {
			t.Errorf("%s: reused Outcome %+v (%v), want %+v (%v)", s.name, got, errA, want, errB)
		}
	}
	q := core.ReportQuery{Client: "c", From: 0, To: math.MaxInt64}
	ra, errA := sa.Report(ctx, q)
	rb, errB := sb.Report(ctx, q)
	key := func(x, y core.UsageRecord) int {
		return cmp.Or(cmp.Compare(x.Bucket.Start, y.Bucket.Start), cmp.Compare(x.Label, y.Label))
	}
	slices.SortFunc(ra, key)
	slices.SortFunc(rb, key)
	if errA != nil || errB != nil || !reflect.DeepEqual(ra, rb) {
		t.Errorf("report of the reused Outcome's store = %+v (%v), want %+v (%v)", ra, errA, rb, errB)
	}
}

// TestChargeIntoReusedOutcomeStoreError checks that a store error leaves a
// reused Outcome that held an admitted charge of the same windows exactly
// as it leaves a zero one: no windows, no usage, not admitted.
func TestChargeIntoReusedOutcomeStoreError(t *testing.T) {
	ctx := context.Background()
	st := &switchStore{Store: memory.New()}
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	b := core.New(st, core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.Whole(100)}, core.Quota{Period: core.Month, Limit: core.Whole(1000)}); err != nil {
		t.Fatal(err)
	}
	c := &core.Charge{Client: "c", Cost: core.Whole(3), Label: "/x"}
	var reused, fresh core.Outcome
	if err := b.ChargeInto(ctx, &reused, c); err != nil || !reused.Allowed() {
		t.Fatalf("first charge: allowed %v, %v", reused.Allowed(), err)
	}
	st.down = true
	errReused := b.ChargeInto(ctx, &reused, c)
	errFresh := b.ChargeInto(ctx, &fresh, c)
	if reused != fresh || errReused == nil || errFresh == nil {
		t.Errorf("after a store error: reused Outcome %+v (%v), want %+v (%v)", reused, errReused, fresh, errFresh)
	}
}
