package storetest

import (
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// testRetention runs on a store that Options.Retention opens with a
// retention of three days, and is skipped without it. Usage aggregates of
// hours that start more than the retention before the latest hour charged
// are gone from Report after a later charge (a store may prune them then,
// in the background, or earlier by the wall clock: the latest hour lies two
// days ahead of it); recent aggregates stay, and the windows keep every
// credit charged to them, so deductions work as before.
func testRetention(t *testing.T, e *env) {
	if e.opts.Retention == nil {
		t.Skip("storetest: Options.Retention is not set: the store's retention of usage aggregates is not tested")
	}
	const keep = 3 * day
	s := track(t, e.opts.Retention(t, time.Duration(keep)))
	w := e.window(core.Month, 0, unlimited)
	latest := e.hourOf(48)
	at := func(k int64) core.Span {
		s := latest.Start - k
		return core.Span{Start: s, End: s + hour}
	}
	recent, edge := at(day), at(keep-2*hour)
	old, older := at(keep+day), at(10*day)
	charge := func(h core.Span, label string, cost int64) {
		t.Helper()
		res, err := s.Deduct(t.Context(), op("c", label, cost, h, w))
		if err != nil || !res.OK {
			t.Fatalf("Deduct in the hour at %s: OK %v, error %v", fmtTime(h.Start), res.OK, err)
		}
	}
	// The recent hours first, then the old ones behind them, then the
	// latest.
	charge(recent, "r", 1*credit)
	charge(edge, "e", 2*credit)
	charge(old, "o", 4*credit)
	charge(older, "o", 8*credit)
	charge(older, "p", 16*credit)
	charge(latest, "l", 32*credit)

	want := records{rec(recent, "r"): credit, rec(edge, "e"): 2 * credit, rec(latest, "l"): 32 * credit}
	from, to := latest.Start-30*day, latest.End
	var got records
	// A store that prunes in the background gets a few seconds.
	for range 50 {
		var err error
		if got, err = reportOf(t.Context(), s, "c", from, to); err != nil {
			t.Fatalf("Report: %v", err)
		}
		if equalRecords(got, want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !equalRecords(got, want) {
		t.Errorf("Report after a charge with a retention of 3 days = %v, want %v (the hours older than 3 days before the latest gone)", got, want)
	}
	res, err := s.Deduct(t.Context(), op("c", "l", credit, latest, w))
	if err != nil || !res.OK {
		t.Fatalf("Deduct after pruning: OK %v, error %v", res.OK, err)
	}
	if got, want := res.Used[0], 64*credit; got != want {
		t.Errorf("Deduct after pruning: Used = %v, want %v (pruning aggregates leaves the windows)", got, want)
	}
}
