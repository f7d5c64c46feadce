package core_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// keyedBilling returns a Billing on a fresh memory store whose client "c"
// has a minute quota of 100 credits and a day quota of 10.
func keyedBilling(t *testing.T, opts ...core.Option) (*core.Billing, *countingStore, *fakeClock) {
	t.Helper()
	st := &countingStore{Store: memoryStore()}
	clk := newFakeClock(testStart)
	b := core.New(st, append([]core.Option{core.WithClock(clk.Now)}, opts...)...)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Minute, Limit: core.Whole(100)}, core.Quota{Period: core.Day, Limit: core.Whole(10)})
	return b, st, clk
}

func mustCharge(t *testing.T, b *core.Billing, c core.Charge) core.Outcome {
	t.Helper()
	o, err := b.Charge(context.Background(), c)
	if err != nil {
		t.Fatalf("Charge(%+v): %v", c, err)
	}
	return o
}

// sameOutcome reports how two outcomes of one charge differ, or "".
func sameOutcome(a, b *core.Outcome) string {
	switch {
	case a.Allowed() != b.Allowed():
		return "Allowed"
	case a.Client() != b.Client() || a.Cost() != b.Cost() || a.Label() != b.Label() || a.IdempotencyKey() != b.IdempotencyKey():
		return "client, cost, label or key"
	case !a.At().Equal(b.At()):
		return "At " + a.At().String() + " and " + b.At().String()
	case !slices.Equal(a.Quotas(), b.Quotas()):
		return "Quotas"
	case a.LowestIndex() != b.LowestIndex():
		return "LowestIndex"
	}
	return ""
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, clk := keyedBilling(t)
	c := core.Charge{Client: "c", Cost: core.Whole(3), Label: "/orders", IdempotencyKey: "order-1"}
	first := mustCharge(t, b, c)
	if first.Replayed() || first.IdempotencyKey() != "order-1" {
		t.Errorf("first charge: replayed %v, key %q", first.Replayed(), first.IdempotencyKey())
	}
	mustCharge(t, b, core.Charge{Client: "c", Cost: core.Whole(2)}) // other usage in between
	clk.Set(testStart.Add(10 * time.Second))
	for i := range 3 {
		again := mustCharge(t, b, c)
		if !again.Replayed() || !again.Allowed() || again.Refunded() {
			t.Fatalf("retry %d: replayed %v, allowed %v, refunded %v", i, again.Replayed(), again.Allowed(), again.Refunded())
		}
		if d := sameOutcome(&first, &again); d != "" {
			t.Errorf("retry %d differs from the first charge in %s", i, d)
		}
		if got, want := again.Quota(1).Used, core.Whole(3); got != want {
			t.Errorf("retry %d reports %s used, want the first charge's %s", i, got, want)
		}
		// A replay charged nothing, so it refunds nothing.
		if err := b.Refund(ctx, &again); err != nil || again.Refunded() {
			t.Errorf("Refund of a replay = %v, refunded %v; want a no-op", err, again.Refunded())
		}
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(5); got != want {
		t.Errorf("day usage = %s, want %s (charged once)", got, want)
	}
	if total, err := b.TotalUsage(ctx, "c", testStart, testStart.Add(time.Hour)); err != nil || total != core.Whole(5) {
		t.Errorf("TotalUsage = %s, %v; want 5", total, err)
	}
	// A replay is answered even when the charge would now be refused.
	mustCharge(t, b, core.Charge{Client: "c", Cost: core.Whole(5)})
	if again := mustCharge(t, b, c); !again.Replayed() {
		t.Error("retry on a full quota was not replayed")
	}
	// A zero cost records its key too.
	free := core.Charge{Client: "c", Cost: core.Whole(0), IdempotencyKey: "free"}
	if o := mustCharge(t, b, free); o.Replayed() {
		t.Error("first free charge replayed")
	}
	if o := mustCharge(t, b, free); !o.Replayed() {
		t.Error("second free charge not replayed")
	}
	free.Cost = core.Whole(1)
	if _, err := b.Charge(ctx, free); !errors.Is(err, core.ErrIdempotencyConflict) {
		t.Errorf("the free charge's key with a cost = %v, want ErrIdempotencyConflict", err)
	}
}

func TestIdempotencyConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, _ := keyedBilling(t)
	mustCharge(t, b, core.Charge{Client: "c", Cost: core.MustParseCredits("1.5"), Label: "/a", IdempotencyKey: "k"})
	for _, c := range []core.Charge{
		{Client: "c", Cost: core.Whole(2), Label: "/a", IdempotencyKey: "k"},
		{Client: "c", Cost: core.MustParseCredits("1.500001"), Label: "/a", IdempotencyKey: "k"},
		{Client: "c", Cost: core.MustParseCredits("1.5"), Label: "/b", IdempotencyKey: "k"},
		{Client: "c", Cost: core.MustParseCredits("1.5"), IdempotencyKey: "k"},
		{Client: "c", Cost: core.Whole(0), Label: "/a", IdempotencyKey: "k"},
		{Client: "c", Cost: core.Whole(50), Label: "/a", IdempotencyKey: "k"}, // would be refused: the conflict comes first
	} {
		o, err := b.Charge(ctx, c)
		var ce *core.IdempotencyConflictError
		if !errors.As(err, &ce) || !errors.Is(err, core.ErrIdempotencyConflict) {
			t.Fatalf("Charge(%s, %q) = %v, want an *IdempotencyConflictError", c.Cost, c.Label, err)
		}
		if ce.Key != "k" || ce.Cost != core.MustParseCredits("1.5") || ce.Label != "/a" {
			t.Errorf("conflict = %+v, want the recorded charge: key k, 1.5 credits, /a", ce)
		}
		if got, want := err.Error(), `apibilling: idempotency key "k" was used for a charge of 1.5 credits under "/a"`; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
		if o.Len() != 0 || o.Allowed() {
			t.Errorf("conflict outcome: %d quotas, allowed %v; want none", o.Len(), o.Allowed())
		}
	}
	if got, want := used(t, b, "c", core.Day), core.MustParseCredits("1.5"); got != want {
		t.Errorf("day usage = %s, want %s", got, want)
	}
}

func TestIdempotencyKeyValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, st, _ := keyedBilling(t)
	for _, key := range []string{
		strings.Repeat("k", core.MaxKeyLen+1), "a b", " k", "k\t", "ключ", "k\x00", "k\x7f", "\n", "é",
	} {
		o, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(1), IdempotencyKey: key})
		if !errors.Is(err, core.ErrInvalidKey) || errors.Is(err, core.ErrStoreUnavailable) {
			t.Errorf("Charge(key %q) = %v, want ErrInvalidKey", key, err)
		}
		if o.Len() != 0 || o.Allowed() {
			t.Errorf("Charge(key %q) outcome: %d quotas, allowed %v", key, o.Len(), o.Allowed())
		}
		if core.ValidKey(key) {
			t.Errorf("ValidKey(%q) = true", key)
		}
	}
	if st.deducts.Load() != 0 {
		t.Errorf("invalid keys reached the store %d times", st.deducts.Load())
	}
	for _, key := range []string{strings.Repeat("k", core.MaxKeyLen), "!", "~", "550e8400-e29b-41d4-a716-446655440000", `"quoted"`} {
		if !core.ValidKey(key) {
			t.Errorf("ValidKey(%q) = false", key)
		}
		if o, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(1), IdempotencyKey: key}); err != nil || o.IdempotencyKey() != key {
			t.Errorf("Charge(key %q) = %q, %v", key, o.IdempotencyKey(), err)
		}
	}
	if core.ValidKey("") {
		t.Error(`ValidKey("") = true`)
	}
	// No key: every charge is charged.
	for range 2 {
		if o := mustCharge(t, b, core.Charge{Client: "c", Cost: core.Whole(1)}); o.Replayed() || o.IdempotencyKey() != "" {
			t.Errorf("charge without a key: replayed %v, key %q", o.Replayed(), o.IdempotencyKey())
		}
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(7); got != want {
		t.Errorf("day usage = %s, want %s", got, want)
	}
}

// TestIdempotencyConcurrent: 64 goroutines charging with one key are
// charged exactly once; the other 63 are replays of that charge.
func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	const workers = 64
	b, _, _ := keyedBilling(t)
	c := core.Charge{Client: "c", Cost: core.Whole(2), Label: "/pay", IdempotencyKey: "payment-9"}
	type result struct {
		o   core.Outcome
		err error
	}
	results := make(chan result, workers)
	start := make(chan struct{})
	for range workers {
		go func() {
			<-start
			o, err := b.Charge(context.Background(), c)
			results <- result{o, err}
		}()
	}
	close(start)
	var charged, replayed int
	var outs []core.Outcome
	for range workers {
		r := <-results
		if r.err != nil {
			t.Errorf("Charge: %v", r.err)
			continue
		}
		if r.o.Replayed() {
			replayed++
		} else {
			charged++
		}
		outs = append(outs, r.o)
	}
	if charged != 1 || replayed != workers-1 {
		t.Errorf("%d charged, %d replayed; want 1 and %d", charged, replayed, workers-1)
	}
	for i := range outs {
		if d := sameOutcome(&outs[0], &outs[i]); d != "" {
			t.Errorf("outcome %d differs in %s", i, d)
		}
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(2); got != want {
		t.Errorf("day usage = %s, want %s", got, want)
	}
}

// TestIdempotentRefundOnce: a keyed charge is refunded once, however many
// copies of its outcome are refunded, one after the other or at once; after
// the refund a retry with the key is charged anew.
func TestIdempotentRefundOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, st, _ := keyedBilling(t)
	mustCharge(t, b, core.Charge{Client: "c", Cost: core.Whole(5)}) // usage a double refund would take
	c := core.Charge{Client: "c", Cost: core.Whole(2), Label: "/x", IdempotencyKey: "k"}
	o := mustCharge(t, b, c)
	copied := o
	for _, out := range []*core.Outcome{&o, &copied, &o} {
		if err := b.Refund(ctx, out); err != nil {
			t.Fatalf("Refund: %v", err)
		}
	}
	if !o.Refunded() || !copied.Refunded() {
		t.Errorf("Refunded() = %v, %v; want true for both copies", o.Refunded(), copied.Refunded())
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(5); got != want {
		t.Errorf("day usage after refunding two copies = %s, want %s", got, want)
	}
	if total, err := b.TotalUsage(ctx, "c", testStart, testStart.Add(time.Hour)); err != nil || total != core.Whole(5) {
		t.Errorf("TotalUsage = %s, %v; want 5", total, err)
	}
	// The key is forgotten: a retry is charged anew, and can be refunded.
	again := mustCharge(t, b, c)
	if again.Replayed() {
		t.Fatal("retry after the refund was replayed")
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(7); got != want {
		t.Errorf("day usage after the retry = %s, want %s", got, want)
	}
	if again2 := mustCharge(t, b, c); !again2.Replayed() {
		t.Error("second retry after the refund was not replayed")
	}

	// Concurrent refunds of 32 copies give back one charge.
	const copies = 32
	outs := make([]core.Outcome, copies)
	for i := range outs {
		outs[i] = again
	}
	refundsBefore := st.refunds.Load()
	errs := make(chan error, copies)
	start := make(chan struct{})
	for i := range outs {
		go func() {
			<-start
			errs <- b.Refund(ctx, &outs[i])
		}()
	}
	close(start)
	for range copies {
		if err := <-errs; err != nil {
			t.Errorf("Refund: %v", err)
		}
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(5); got != want {
		t.Errorf("day usage after %d concurrent refunds = %s, want %s", copies, got, want)
	}
	if total, err := b.TotalUsage(ctx, "c", testStart, testStart.Add(time.Hour)); err != nil || total != core.Whole(5) {
		t.Errorf("TotalUsage = %s, %v; want 5", total, err)
	}
	t.Logf("%d refunds reached the store; one gave credits back", st.refunds.Load()-refundsBefore)
}

// TestIdempotencyRefusedNotRecorded: a refused charge records no key, so a
// retry after the window renews is charged.
func TestIdempotencyRefusedNotRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, clk := keyedBilling(t)
	mustCharge(t, b, core.Charge{Client: "c", Cost: core.Whole(9)})
	c := core.Charge{Client: "c", Cost: core.Whole(2), IdempotencyKey: "k"}
	for range 2 {
		if _, err := b.Charge(ctx, c); !errors.Is(err, core.ErrQuotaExceeded) {
			t.Fatalf("Charge over the day quota = %v, want ErrQuotaExceeded", err)
		}
	}
	// The same key for another cost is not a conflict: nothing was recorded.
	if o, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(1), IdempotencyKey: "k"}); err != nil || o.Replayed() {
		t.Fatalf("Charge(1, k) after refusals = replayed %v, %v; want charged", o.Replayed(), err)
	}
	clk.Set(testStart.Add(24 * time.Hour))
	c.IdempotencyKey = "k2"
	mustCharge(t, b, core.Charge{Client: "c", Cost: core.Whole(9)})
	if _, err := b.Charge(ctx, c); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Fatalf("Charge over the day quota = %v, want ErrQuotaExceeded", err)
	}
	clk.Set(testStart.Add(48 * time.Hour))
	o := mustCharge(t, b, c)
	if o.Replayed() {
		t.Error("retry after the window renewed was replayed")
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(2); got != want {
		t.Errorf("day usage = %s, want %s", got, want)
	}
}

// TestKeyRetention: a key is remembered for the retention after its charge,
// then the same key charges again.
func TestKeyRetention(t *testing.T) {
	t.Parallel()
	b, _, clk := keyedBilling(t, core.WithKeyRetention(time.Hour))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	c := core.Charge{Client: "c", Cost: core.Whole(1), IdempotencyKey: "k"}
	clk.Set(testStart.Add(-10 * time.Hour)) // 02:00:30, so the test stays in one day
	t0 := clk.Now()
	mustCharge(t, b, c)
	for _, d := range []time.Duration{time.Minute, time.Hour - 1} {
		clk.Set(t0.Add(d))
		if o := mustCharge(t, b, c); !o.Replayed() || !o.At().Equal(t0) {
			t.Errorf("after %s: replayed %v at %s; want a replay of the charge at %s", d, o.Replayed(), o.At(), t0)
		}
	}
	clk.Set(t0.Add(time.Hour))
	o := mustCharge(t, b, c)
	if o.Replayed() {
		t.Error("after the retention: replayed, want charged")
	}
	// The new charge's key is remembered from its own time.
	clk.Set(t0.Add(2*time.Hour - 1))
	if again := mustCharge(t, b, c); !again.Replayed() || !again.At().Equal(o.At()) {
		t.Errorf("within the second charge's retention: replayed %v at %s", again.Replayed(), again.At())
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(2); got != want {
		t.Errorf("day usage = %s, want %s", got, want)
	}
	// A retention of default length, without the option.
	d, _, dclk := keyedBilling(t)
	mustCharge(t, d, c)
	dclk.Set(testStart.Add(core.DefaultKeyRetention - 1))
	mustSetQuotas(t, d, "c", core.Quota{Period: core.Month, Limit: core.Whole(10)})
	if o := mustCharge(t, d, c); !o.Replayed() {
		t.Error("within the default retention: charged, want replayed")
	}
	dclk.Set(testStart.Add(core.DefaultKeyRetention))
	if o := mustCharge(t, d, c); o.Replayed() {
		t.Error("after the default retention: replayed, want charged")
	}
	// The longest retention never wraps around into the past.
	forever, _, fclk := keyedBilling(t, core.WithKeyRetention(math.MaxInt64))
	mustSetQuotas(t, forever, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	mustCharge(t, forever, c)
	fclk.Set(testStart.AddDate(100, 0, 0))
	if o := mustCharge(t, forever, c); !o.Replayed() {
		t.Error("a key retained for ever was forgotten")
	}
}

// TestKeysPerClient: two clients using the same key never see each other's
// charge.
func TestKeysPerClient(t *testing.T) {
	t.Parallel()
	b, _, _ := keyedBilling(t)
	mustSetQuotas(t, b, "d", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	a1 := mustCharge(t, b, core.Charge{Client: "c", Cost: core.Whole(1), Label: "/a", IdempotencyKey: "k"})
	d1 := mustCharge(t, b, core.Charge{Client: "d", Cost: core.Whole(2), Label: "/b", IdempotencyKey: "k"})
	if a1.Replayed() || d1.Replayed() {
		t.Fatalf("first charges replayed: %v, %v", a1.Replayed(), d1.Replayed())
	}
	a2 := mustCharge(t, b, core.Charge{Client: "c", Cost: core.Whole(1), Label: "/a", IdempotencyKey: "k"})
	d2 := mustCharge(t, b, core.Charge{Client: "d", Cost: core.Whole(2), Label: "/b", IdempotencyKey: "k"})
	if !a2.Replayed() || !d2.Replayed() || a2.Client() != "c" || d2.Client() != "d" {
		t.Errorf("retries: c replayed %v (%q), d replayed %v (%q)", a2.Replayed(), a2.Client(), d2.Replayed(), d2.Client())
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(1); got != want {
		t.Errorf("c used %s, want %s", got, want)
	}
	if got, want := used(t, b, "d", core.Day), core.Whole(2); got != want {
		t.Errorf("d used %s, want %s", got, want)
	}
	// Refunding c's charge leaves d's key and usage alone.
	if err := b.Refund(context.Background(), &a1); err != nil {
		t.Fatal(err)
	}
	if d3 := mustCharge(t, b, core.Charge{Client: "d", Cost: core.Whole(2), Label: "/b", IdempotencyKey: "k"}); !d3.Replayed() {
		t.Error("d's key was forgotten when c's charge was refunded")
	}
	if got, want := used(t, b, "d", core.Day), core.Whole(2); got != want {
		t.Errorf("d used %s after c's refund, want %s", got, want)
	}
}

// TestIdempotencyConcurrentClients: many clients charging the same keys at
// once: each client is charged once per key.
func TestIdempotencyConcurrentClients(t *testing.T) {
	t.Parallel()
	b, _, _ := keyedBilling(t)
	clients := []string{"p", "q", "r", "s"}
	for _, id := range clients {
		mustSetQuotas(t, b, id, core.Quota{Period: core.Day, Limit: core.Whole(100)})
	}
	keys := []string{"k1", "k2", "k3"}
	var wg sync.WaitGroup
	errs := make(chan error, len(clients)*len(keys)*8)
	for _, id := range clients {
		for _, k := range keys {
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := b.Charge(context.Background(), core.Charge{Client: id, Cost: core.Whole(1), IdempotencyKey: k})
					errs <- err
				}()
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Charge: %v", err)
		}
	}
	for _, id := range clients {
		if got, want := used(t, b, id, core.Day), core.Whole(int64(len(keys))); got != want {
			t.Errorf("client %s used %s, want %s", id, got, want)
		}
	}
}
