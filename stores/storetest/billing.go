package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// testBilling goes through core.Billing with a fake clock: tracking with
// labels, a refusal, refunds, status, a second Billing on the same store (as
// after a restart, or another instance), crossing a day boundary, daily
// reports, deletion and a closed store.
func testBilling(t *testing.T, e *env) {
	ctx := t.Context()
	d0 := time.Unix(0, e.base).UTC()
	d1 := d0.AddDate(0, 0, 1)
	clk := &fakeClock{}
	clk.Set(d0.Add(23*time.Hour + 58*time.Minute))
	quotas := []core.Quota{
		{Period: core.Minute, Limit: core.Whole(10)},
		{Period: core.Day, Limit: core.Whole(100)},
		// Renews at noon, so the day boundary of the test stays inside one month window.
		{Period: core.Month, Limit: core.Whole(1000), Anchor: d0.AddDate(0, 0, -5).Add(12 * time.Hour)},
	}
	newBilling := func() *core.Billing {
		b := core.New(e.store, core.WithClock(clk.Now))
		if err := b.SetQuotas("acme", quotas...); err != nil {
			t.Fatalf("SetQuotas: %v", err)
		}
		return b
	}
	wantStatus := func(what string, b *core.Billing, want ...core.Credits) {
		t.Helper()
		out, err := b.Status(ctx, "acme")
		if err != nil {
			t.Fatalf("%s: Status: %v", what, err)
		}
		if got := used(&out); !slices.Equal(got, want) {
			t.Errorf("%s: Status used %v, want %v", what, got, want)
		}
	}
	track := func(b *core.Billing, label string, cost core.Credits) core.Outcome {
		t.Helper()
		out, err := b.Charge(ctx, core.Charge{Client: "acme", Label: label, Cost: cost})
		if err != nil {
			t.Fatalf("Charge(%q, %v): %v", label, cost, err)
		}
		return out
	}

	b := newBilling()
	track(b, "/a", core.Whole(1))
	track(b, "/b", core.Whole(2))
	out := track(b, "/a", core.Whole(3))
	if got, want := used(&out), []core.Credits{core.Whole(6), core.Whole(6), core.Whole(6)}; !slices.Equal(got, want) {
		t.Errorf("Track outcome used %v, want %v", got, want)
	}

	refused, err := b.Track(ctx, "acme", core.Whole(5))
	var qe *core.QuotaExceededError
	if !errors.As(err, &qe) {
		t.Fatalf("Track over the minute quota: error %v, want a *core.QuotaExceededError", err)
	}
	if qe.Quota != core.Minute || qe.Remaining != core.Whole(4) || qe.Required != core.Whole(5) || !qe.RenewsAt.Equal(d0.Add(23*time.Hour+59*time.Minute)) {
		t.Errorf("QuotaExceededError = {%v remaining %v required %v renews %v}, want {minute 4 5 %v}",
			qe.Quota, qe.Remaining, qe.Required, qe.RenewsAt, d0.Add(23*time.Hour+59*time.Minute))
	}
	if err := b.Refund(ctx, &refused); err != nil {
		t.Errorf("Refund of a refused charge: %v", err)
	}
	wantStatus("after a refusal", b, core.Whole(6), core.Whole(6), core.Whole(6))

	failed := track(b, "/unstable", core.Whole(2))
	wantStatus("before a refund", b, core.Whole(8), core.Whole(8), core.Whole(8))
	for i := range 2 {
		if err := b.Refund(ctx, &failed); err != nil {
			t.Fatalf("Refund %d: %v", i, err)
		}
		wantStatus("after a refund", b, core.Whole(6), core.Whole(6), core.Whole(6))
	}

	// A second Billing on the store sees and shares the usage.
	b2 := newBilling()
	wantStatus("a new Billing", b2, core.Whole(6), core.Whole(6), core.Whole(6))
	track(b2, "", core.Whole(4))
	if _, err := b.Track(ctx, "acme", core.Whole(1)); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Errorf("Track on the first Billing after the second filled the minute: error %v, want core.ErrQuotaExceeded", err)
	}
	wantStatus("the first Billing", b, core.Whole(10), core.Whole(10), core.Whole(10))

	// The next day: new minute and day windows, the same month window.
	clk.Set(d1.Add(30 * time.Second))
	wantStatus("the next day", b, core.Whole(0), core.Whole(0), core.Whole(10))
	track(b, "/a", core.Whole(2))
	wantStatus("the next day", b2, core.Whole(2), core.Whole(2), core.Whole(12))

	days, err := b.DailyUsage(ctx, "acme", d0, d1.AddDate(0, 0, 1))
	if err != nil {
		t.Fatalf("DailyUsage: %v", err)
	}
	wantDays := []dailySummary{
		{d0.Format(time.DateOnly), core.Whole(10), map[string]core.Credits{"/a": core.Whole(4), "/b": core.Whole(2), "": core.Whole(4)}},
		{d1.Format(time.DateOnly), core.Whole(2), map[string]core.Credits{"/a": core.Whole(2)}},
	}
	checkDays(t, "DailyUsage", days, wantDays)
	if total, err := b.TotalUsage(ctx, "acme", d0, d1.AddDate(0, 0, 1)); err != nil || total != core.Whole(12) {
		t.Errorf("TotalUsage = %v, %v; want 12, nil", total, err)
	}

	// Deleting the first day takes its credits out of the month window only.
	n, err := b.DeleteUsage(ctx, "acme", d0, d1)
	if err != nil {
		t.Fatalf("DeleteUsage: %v", err)
	}
	if got, want := n, core.Whole(10); got != want {
		t.Errorf("DeleteUsage = %v, want %v", got, want)
	}
	wantStatus("after deleting the first day", b, core.Whole(2), core.Whole(2), core.Whole(2))
	days, err = b2.DailyUsage(ctx, "acme", d0, d1.AddDate(0, 0, 1))
	if err != nil {
		t.Fatalf("DailyUsage: %v", err)
	}
	checkDays(t, "DailyUsage after deleting", days, wantDays[1:])

	if err := e.store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := b.Track(ctx, "acme", core.Whole(1)); !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, core.ErrClosed) {
		t.Errorf("Track on a closed store: error %v, want one wrapping core.ErrStoreUnavailable and core.ErrClosed", err)
	}
}

// used returns the usage of each quota of an outcome.
func used(o *core.Outcome) []core.Credits {
	out := make([]core.Credits, o.Len())
	for i := range out {
		out[i] = o.Quota(i).Used
	}
	return out
}

// dailySummary is what the suite checks of a core.DailyUsage.
type dailySummary struct {
	date    string
	credits core.Credits
	byLabel map[string]core.Credits // labels of zero credits left out
}

func checkDays(t *testing.T, what string, got []core.DailyUsage, want []dailySummary) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d days, want %d: %+v", what, len(got), len(want), got)
		return
	}
	for i, d := range got {
		labels := maps.Clone(d.ByLabel)
		maps.DeleteFunc(labels, func(_ string, c core.Credits) bool { return c.IsZero() })
		if d.Date != want[i].date || d.Credits != want[i].credits || !maps.Equal(labels, want[i].byLabel) {
			t.Errorf("%s: day %d = %s %v %v, want %s %v %v", what, i, d.Date, d.Credits, labels, want[i].date, want[i].credits, want[i].byLabel)
		}
	}
}

// testBillingKeysAndAlerts goes through core.Billing with a fake clock,
// idempotency keys and threshold alerts: a retry replays the first
// charge's outcome, a reused key for another cost is a conflict, a keyed
// refund gives back once even from a stale copy of the outcome, a refunded
// key charges anew, another Billing on the store replays keys, and each
// alert fires once per window, with a reset when the next day starts.
func testBillingKeysAndAlerts(t *testing.T, e *env) {
	ctx := t.Context()
	d0 := time.Unix(0, e.base).UTC()
	clk := &fakeClock{}
	clk.Set(d0.Add(10 * time.Hour))
	var mu sync.Mutex
	var alerts []string
	notify := func(a core.Alert) {
		mu.Lock()
		defer mu.Unlock()
		if a.Reset {
			alerts = append(alerts, fmt.Sprintf("%s reset", a.Period))
		} else {
			alerts = append(alerts, fmt.Sprintf("%s %d%%", a.Period, a.Percent))
		}
	}
	newBilling := func() *core.Billing {
		b := core.New(e.store, core.WithClock(clk.Now),
			core.WithAlerts(notify, core.Threshold{Period: core.Day, Percent: 50}, core.Threshold{Period: core.Day, Percent: 100}))
		if err := b.SetQuotas("acme",
			core.Quota{Period: core.Day, Limit: core.Whole(10)},
			core.Quota{Period: core.Month, Limit: core.Whole(100), Anchor: d0.AddDate(0, 0, -5)},
		); err != nil {
			t.Fatalf("SetQuotas: %v", err)
		}
		return b
	}
	b := newBilling()
	charge := func(b *core.Billing, key string, cost int64, label string) (core.Outcome, error) {
		return b.Charge(ctx, core.Charge{Client: "acme", Cost: core.Whole(cost), Label: label, IdempotencyKey: key})
	}
	mustCharge := func(b *core.Billing, key string, cost int64, label string, replayed bool, used int64) core.Outcome {
		t.Helper()
		out, err := charge(b, key, cost, label)
		if err != nil {
			t.Fatalf("Charge(%q, %v): %v", key, cost, err)
		}
		if !out.Allowed() || out.Replayed() != replayed || out.Quota(0).Used != core.Whole(used) {
			t.Errorf("Charge(%q, %v) = {Allowed %v Replayed %v day used %v}, want {true %v %v}", key, cost, out.Allowed(), out.Replayed(), out.Quota(0).Used, replayed, used)
		}
		return out
	}
	wantStatus := func(what string, used int64) {
		t.Helper()
		out, err := b.Status(ctx, "acme")
		if err != nil {
			t.Fatalf("%s: Status: %v", what, err)
		}
		if got := used2(&out); got != [2]core.Credits{core.Whole(used), core.Whole(used)} {
			t.Errorf("%s: Status used %v, want %v each", what, got, used)
		}
	}

	first := mustCharge(b, "req-1", 3, "/a", false, 3)
	clk.Add(time.Minute)
	retry := mustCharge(b, "req-1", 3, "/a", true, 3)
	if !retry.At().Equal(first.At()) || retry.Label() != "/a" || retry.Cost() != core.Whole(3) {
		t.Errorf("the replay = {At %v Label %q Cost %v}, want the first charge's {%v /a 3}", retry.At(), retry.Label(), retry.Cost(), first.At())
	}
	if _, err := charge(b, "req-1", 4, "/a"); !errors.Is(err, core.ErrIdempotencyConflict) {
		t.Errorf("Charge with a reused key for another cost: error %v, want core.ErrIdempotencyConflict", err)
	}
	wantStatus("after a replay and a conflict", 3)

	out := mustCharge(b, "req-2", 2, "/b", false, 5)
	mustCharge(b, "req-3", 1, "/b", false, 6)
	stale := out
	for _, o := range []*core.Outcome{&out, &out, &stale} {
		if err := b.Refund(ctx, o); err != nil {
			t.Fatalf("Refund: %v", err)
		}
	}
	wantStatus("after refunds of one keyed charge", 4)
	mustCharge(b, "req-2", 2, "/b", false, 6)
	mustCharge(b, "req-4", 4, "", false, 10)
	if _, err := charge(b, "req-5", 1, ""); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Errorf("Charge over the day's quota: error %v, want core.ErrQuotaExceeded", err)
	}

	// Another Billing on the store (a restart, another instance) replays.
	b2 := newBilling()
	mustCharge(b2, "req-4", 4, "", true, 10)
	mustCharge(b2, "req-5", 0, "", false, 10)

	clk.Set(d0.Add(34 * time.Hour))
	mustCharge(b2, "req-6", 1, "", false, 1)
	mu.Lock()
	got := slices.Clone(alerts)
	mu.Unlock()
	if want := []string{"day 50%", "day 100%", "day reset"}; !slices.Equal(got, want) {
		t.Errorf("alerts = %q, want %q", got, want)
	}
}

// used2 returns the usage of the first two quotas of an outcome.
func used2(o *core.Outcome) [2]core.Credits {
	return [2]core.Credits{o.Quota(0).Used, o.Quota(1).Used}
}
