package core_test

import (
	"context"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// importRecords imports recs into st, which must be empty.
func importRecords(t *testing.T, st core.Store, recs ...core.Record) {
	t.Helper()
	i := 0
	next := func() (*core.Record, error) {
		if i == len(recs) {
			return nil, io.EOF
		}
		i++
		return &recs[i-1], nil
	}
	if err := st.Import(context.Background(), next, core.ImportOptions{}); err != nil {
		t.Fatalf("Import: %v", err)
	}
}

// TestUsageOverflowWindow: an unlimited quota whose window is near MaxUsage
// admits charges up to exactly MaxUsage, then refuses with ErrUsageOverflow
// and changes nothing.
func TestUsageOverflowWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memory.New()
	clk := newFakeClock(testStart)
	b := core.New(st, core.WithClock(clk.Now))
	q := core.Quota{Period: core.Day, Limit: core.Unlimited}
	start, end := q.Window(testStart)
	// The day window already holds all but two MaxCredits and 5 micro.
	importRecords(t, st, core.Record{Kind: core.RecordWindow, Client: "c", Period: core.Day,
		Start: start.UnixNano(), End: end.UnixNano(), Used: core.MaxUsage - 2*maxMicro - 5})
	mustSetQuotas(t, b, "c", q, core.Quota{Period: core.Minute, Limit: core.Unlimited})
	for i := range 2 {
		o, err := b.Track(ctx, "c", core.MaxCredits)
		if err != nil {
			t.Fatalf("charge %d of MaxCredits: %v", i, err)
		}
		if got, want := o.Quota(1).Used, mc(core.MaxUsage-(1-int64(i))*maxMicro-5); got != want {
			t.Errorf("charge %d: day used %s, want %s", i, got, want)
		}
	}
	refuse := func(cost core.Credits) {
		t.Helper()
		before := used(t, b, "c", core.Day)
		o, err := b.Track(ctx, "c", cost)
		if !errors.Is(err, core.ErrUsageOverflow) || errors.Is(err, core.ErrQuotaExceeded) {
			t.Fatalf("Track(%s) past MaxUsage = %v, want ErrUsageOverflow", cost, err)
		}
		if o.Allowed() || o.Len() != 2 || o.Violated() != 0 || !o.RetryAt().IsZero() {
			t.Errorf("overflow outcome: allowed %v, %d quotas, violated %s, retry %s", o.Allowed(), o.Len(), o.Violated(), o.RetryAt())
		}
		if after := used(t, b, "c", core.Day); after != before {
			t.Errorf("a refused overflow changed the day usage: %s -> %s", before, after)
		}
	}
	refuse(core.MaxCredits)
	refuse(mc(6))
	mustTrack(t, b, "c", mc(5)) // exactly MaxUsage
	if got := used(t, b, "c", core.Day); got != mc(core.MaxUsage) {
		t.Fatalf("day used %s, want MaxUsage", got)
	}
	refuse(mc(1))
	if o, err := b.Track(ctx, "c", core.Whole(0)); err != nil || !o.Allowed() {
		t.Errorf("a free charge on a full counter = %v, want admitted", err)
	}
	// The minute window and the report hold only what was admitted.
	want := mc(2*maxMicro + 5)
	if got := used(t, b, "c", core.Minute); got != want {
		t.Errorf("minute used %s, want %s", got, want)
	}
	if total, err := b.TotalUsage(ctx, "c", testStart, testStart.Add(time.Minute)); err != nil || total != want {
		t.Errorf("TotalUsage = %s, %v; want %s", total, err, want)
	}
	// The next window starts from zero.
	clk.Set(testStart.Add(24 * time.Hour))
	if o, err := b.Track(ctx, "c", core.MaxCredits); err != nil || o.Quota(1).Used != core.MaxCredits {
		t.Errorf("first charge of the next day = %v", err)
	}
}

// TestUsageOverflowHour: the hour aggregate of a label never passes
// MaxUsage either; another label's aggregate is separate.
func TestUsageOverflowHour(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memory.New()
	b := core.New(st, core.WithClock(newFakeClock(testStart).Now))
	hour := testStart.Truncate(time.Hour)
	importRecords(t, st, core.Record{Kind: core.RecordUsage, Client: "c", Start: hour.UnixNano(),
		End: hour.Add(time.Hour).UnixNano(), Label: "/big", Used: core.MaxUsage - 3})
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Unlimited})
	charge := func(label string, cost core.Credits) error {
		_, err := b.Charge(ctx, core.Charge{Client: "c", Label: label, Cost: cost})
		return err
	}
	if err := charge("/big", mc(4)); !errors.Is(err, core.ErrUsageOverflow) {
		t.Fatalf("Charge past the hour's MaxUsage = %v, want ErrUsageOverflow", err)
	}
	if got := used(t, b, "c", core.Day); !got.IsZero() {
		t.Errorf("a refused overflow charged the day window: %s", got)
	}
	if err := charge("/big", mc(3)); err != nil {
		t.Fatalf("Charge up to MaxUsage: %v", err)
	}
	if err := charge("/big", mc(1)); !errors.Is(err, core.ErrUsageOverflow) {
		t.Fatalf("Charge past MaxUsage = %v, want ErrUsageOverflow", err)
	}
	if err := charge("/small", core.MaxCredits); err != nil {
		t.Fatalf("Charge under another label: %v", err)
	}
	recs, err := st.Report(ctx, core.ReportQuery{Client: "c", From: math.MinInt64, To: math.MaxInt64})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		want := map[string]int64{"/big": core.MaxUsage, "/small": maxMicro}[r.Label]
		if r.Credits != want {
			t.Errorf("hour aggregate %q = %d, want %d", r.Label, r.Credits, want)
		}
	}
	if got, want := used(t, b, "c", core.Day), mc(3+maxMicro); got != want {
		t.Errorf("day used %s, want %s", got, want)
	}
	// Totals saturate at MaxUsage instead of wrapping.
	if total, err := b.TotalUsage(ctx, "c", hour, hour.Add(time.Hour)); err != nil || total != mc(core.MaxUsage) {
		t.Errorf("TotalUsage = %s, %v; want MaxUsage", total, err)
	}
	days, err := b.DailyUsage(ctx, "c", hour, hour.Add(time.Hour))
	if err != nil || len(days) != 1 || days[0].Credits != mc(core.MaxUsage) || days[0].ByLabel["/big"] != mc(core.MaxUsage) {
		t.Errorf("DailyUsage = %+v, %v; want MaxUsage", days, err)
	}
}
