package core_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// fakeObserver records what a Billing reports, in order.
type fakeObserver struct {
	mu     sync.Mutex
	events []string
	calls  []storeCall
}

type storeCall struct {
	op   core.StoreOp
	took time.Duration
	err  error
}

func (o *fakeObserver) StoreCall(op core.StoreOp, took time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, storeCall{op, took, err})
	errText := "nil"
	if err != nil {
		errText = "error"
	}
	o.events = append(o.events, fmt.Sprintf("store %s %s", op, errText))
}

func (o *fakeObserver) Charged(_, label string, cost core.Credits, ok, replayed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("charged %q %s ok=%v replayed=%v", label, cost, ok, replayed))
}

func (o *fakeObserver) Refunded(_, label string, cost core.Credits) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("refunded %q %s", label, cost))
}

func (o *fakeObserver) storeCalls() []storeCall {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

// take returns the events since the last take.
func (o *fakeObserver) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	e := o.events
	o.events = nil
	return e
}

func TestObserver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	obs := &fakeObserver{}
	b, _, _ := newTestBilling(t, core.WithObserver(obs))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	want := func(what string, events ...string) {
		t.Helper()
		if got := obs.take(); !slices.Equal(got, events) {
			t.Errorf("%s: observed %q, want %q", what, got, events)
		}
	}

	o, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(4), Label: "/a", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	want("charge", "store deduct nil", `charged "/a" 4 ok=true replayed=false`)
	if _, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(4), Label: "/a", IdempotencyKey: "k"}); err != nil {
		t.Fatal(err)
	}
	want("replay", "store deduct nil", `charged "/a" 4 ok=true replayed=true`)
	if _, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(2), Label: "/a", IdempotencyKey: "k"}); !errors.Is(err, core.ErrIdempotencyConflict) {
		t.Fatal(err)
	}
	want("conflict", "store deduct nil")
	if _, err := b.Track(ctx, "c", core.MustParseCredits("6.5")); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Fatal(err)
	}
	want("refusal", "store deduct nil", `charged "" 6.5 ok=false replayed=false`)
	if err := b.Refund(ctx, &o); err != nil {
		t.Fatal(err)
	}
	want("refund", "store refund nil", `refunded "/a" 4`)
	if err := b.Refund(ctx, &o); err != nil {
		t.Fatal(err)
	}
	want("second refund")
	if _, err := b.Track(ctx, "c", core.Credits{}); !errors.Is(err, core.ErrInvalidCost) {
		t.Fatal(err)
	}
	if _, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(1), IdempotencyKey: "a b"}); !errors.Is(err, core.ErrInvalidKey) {
		t.Fatal(err)
	}
	if _, err := b.Track(ctx, "unknown", core.Whole(1)); !errors.Is(err, core.ErrNoQuotas) {
		t.Fatal(err)
	}
	want("invalid charges")
	if _, err := b.Status(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	want("status", "store usage nil")
	if _, err := b.TotalUsage(ctx, "c", testStart, testStart.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DailyUsage(ctx, "c", testStart, testStart.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want("reports", "store report nil", "store report nil")
	if _, err := b.DeleteUsage(ctx, "c", testStart, testStart.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want("delete", "store delete nil")
	for _, c := range obs.storeCalls() {
		if c.took < 0 {
			t.Errorf("store call %s took %s", c.op, c.took)
		}
	}

	// Store errors are reported with each call; nothing is charged or refunded.
	cause := errors.New("disk on fire")
	fobs := &fakeObserver{}
	fb := core.New(&failingStore{err: cause}, core.WithClock(newFakeClock(testStart).Now), core.WithObserver(fobs))
	mustSetQuotas(t, fb, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	fb.Track(ctx, "c", core.Whole(1))
	admitted := mustTrack(t, b, "c", core.Whole(1))
	obs.take()
	fb.Refund(ctx, &admitted)
	fb.Status(ctx, "c")
	fb.TotalUsage(ctx, "c", testStart, testStart.Add(time.Hour))
	fb.DeleteUsage(ctx, "c", testStart, testStart.Add(time.Hour))
	if got, want := fobs.take(), []string{"store deduct error", "store refund error", "store usage error", "store report error", "store delete error"}; !slices.Equal(got, want) {
		t.Errorf("failing store: observed %q, want %q", got, want)
	}
	for _, c := range fobs.storeCalls() {
		if !errors.Is(c.err, cause) {
			t.Errorf("store call %s reported error %v, want the store's", c.op, c.err)
		}
	}
}

// nopObserver discards what it observes.
type nopObserver struct{}

func (nopObserver) StoreCall(core.StoreOp, time.Duration, error)     {}
func (nopObserver) Charged(string, string, core.Credits, bool, bool) {}
func (nopObserver) Refunded(string, string, core.Credits)            {}

func TestStoreOpString(t *testing.T) {
	t.Parallel()
	for op, want := range map[core.StoreOp]string{
		core.OpDeduct: "deduct", core.OpRefund: "refund", core.OpUsage: "usage",
		core.OpReport: "report", core.OpDelete: "delete", core.StoreOp(99): "unknown",
	} {
		if got := op.String(); got != want {
			t.Errorf("StoreOp(%d).String() = %q, want %q", op, got, want)
		}
	}
}

// TestChargeAllocations: without an observer, a charge on the memory store
// allocates nothing (the figure is logged). Track returns its outcome
// through a sync.Pool, which the race detector empties at random, so its
// count is only checked without -race; ChargeInto is checked always.
func TestChargeAllocations(t *testing.T) {
	// Not parallel: AllocsPerRun counts the allocations of the whole
	// process.
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("client1",
		core.Quota{Period: core.Day, Limit: core.MaxCredits},
		core.Quota{Period: core.Month, Limit: core.MaxCredits, Anchor: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)},
	); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	one := core.Whole(1)
	var failed error
	track := testing.AllocsPerRun(1000, func() {
		if _, err := b.Track(ctx, "client1", one); err != nil {
			failed = err
		}
	})
	var o core.Outcome
	c := core.Charge{Client: "client1", Cost: one, Label: "/api/fetch-data"}
	into := testing.AllocsPerRun(1000, func() {
		if err := b.ChargeInto(ctx, &o, &c); err != nil {
			failed = err
		}
	})
	observed := core.New(memory.New(), core.WithClock(func() time.Time { return now }), core.WithObserver(nopObserver{}))
	if err := observed.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.MaxCredits}); err != nil {
		t.Fatal(err)
	}
	withObserver := testing.AllocsPerRun(1000, func() {
		if err := observed.ChargeInto(ctx, &o, &c); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	t.Logf("allocations per charge: Track %v, ChargeInto %v; ChargeInto with an observer %v (race detector: %v)", track, into, withObserver, raceEnabled)
	if into != 0 {
		t.Errorf("ChargeInto makes %v allocations, want 0", into)
	}
	if !raceEnabled && track != 0 {
		t.Errorf("Track makes %v allocations, want 0", track)
	}
}
