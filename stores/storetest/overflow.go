package storetest

import (
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// hourOf returns the k-th hour after base.
func (e *env) hourOf(k int) core.Span {
	s := e.base + int64(k)*hour
	return core.Span{Start: s, End: s + hour}
}

// mustImport imports recs into s, failing the test on an error.
func mustImport(t *testing.T, s core.Store, opts core.ImportOptions, recs ...core.Record) {
	t.Helper()
	if err := importRecords(t.Context(), s, recs, opts); err != nil {
		t.Fatalf("Import(%d records, %+v): %v", len(recs), opts, err)
	}
}

// wantOverflow checks that res refuses a charge for overflow, reporting the
// usage used.
func wantOverflow(t *testing.T, what string, res core.Result, used ...int64) {
	t.Helper()
	if res.OK || !res.Overflow || res.Replayed || res.Conflict {
		t.Errorf("%s: Deduct = {OK %v Overflow %v Replayed %v Conflict %v}, want refused with Overflow", what, res.OK, res.Overflow, res.Replayed, res.Conflict)
	}
	wantUsed(t, what, res, used...)
}

// testOverflowWindow: an unlimited window whose counter is near
// core.MaxUsage (imported) refuses a cost that would take it past MaxUsage,
// with OK false and Overflow true, and changes nothing (no usage, no
// aggregate, no key); a cost that lands exactly on MaxUsage is admitted, and
// a zero cost still is at MaxUsage.
func testOverflowWindow(t *testing.T, e *env) {
	w := e.window(core.Day, 0, unlimited)
	minute := e.window(core.Minute, 0, 10*credit)
	h := e.hourOf(0)
	near := core.MaxUsage - 5*credit
	mustImport(t, e.store, core.ImportOptions{}, windowRec("c", w, near, 0))
	before := exportState(t, e.store)

	refused := []struct {
		name string
		o    *core.Op
	}{
		{"one micro-credit over", op("c", "l", 5*credit+1, h, w)},
		{"well over", op("c", "l", 6*credit, h, w)},
		{"the largest cost", op("c", "l", maxCredits, h, w)},
		{"beside a limited window with room", op("c", "l", 6*credit, h, minute, w)},
		{"with a key", keyed(op("c", "l", 6*credit, h, w), "k")},
	}
	for _, c := range refused {
		res := e.deduct(t, c.o)
		if c.o.N == 2 {
			wantOverflow(t, c.name, res, 0, near)
		} else {
			wantOverflow(t, c.name, res, near)
		}
		e.wantUsage(t, "after refusing "+c.name, "c", []core.Window{minute, w}, 0, near)
		e.wantReportAll(t, "after refusing "+c.name, "c", records{})
		wantState(t, "after refusing "+c.name, e.store, before)
	}

	exact := keyed(op("c", "l", 5*credit, h, w), "k")
	res := e.mustDeduct(t, exact)
	wantCharged(t, "a cost landing on MaxUsage", res)
	wantUsed(t, "a cost landing on MaxUsage", res, core.MaxUsage)
	wantOverflow(t, "one micro-credit at MaxUsage", e.deduct(t, op("c", "l", 1, h, w)), core.MaxUsage)
	res = e.mustDeduct(t, op("c", "l", 0, h, w))
	wantUsed(t, "a zero cost at MaxUsage", res, core.MaxUsage)
	if res.Overflow {
		t.Errorf("a zero cost at MaxUsage reported Overflow")
	}
	e.wantUsage(t, "at the end", "c", []core.Window{w}, core.MaxUsage)
	e.wantReportAll(t, "at the end", "c", records{rec(h, "l"): 5 * credit})
}

// testOverflowHour: the hour aggregate of the op's hour and label is a
// counter too: near core.MaxUsage (imported) it refuses a cost that would
// take it past MaxUsage with Overflow, and nothing changes, while other
// labels and hours are charged; a cost landing exactly on MaxUsage is
// admitted.
func testOverflowHour(t *testing.T, e *env) {
	w := e.window(core.Day, 0, unlimited)
	h := e.hourOf(0)
	near := core.MaxUsage - 5*credit
	mustImport(t, e.store, core.ImportOptions{}, usageRec("c", h, "l", near))
	before := exportState(t, e.store)

	for _, cost := range []int64{5*credit + 1, 6 * credit, maxCredits} {
		wantOverflow(t, "a cost over MaxUsage", e.deduct(t, keyed(op("c", "l", cost, h, w), "k")), 0)
		e.wantUsage(t, "after the refusal", "c", []core.Window{w}, 0)
		e.wantReportAll(t, "after the refusal", "c", records{rec(h, "l"): near})
		wantState(t, "after the refusal", e.store, before)
	}
	e.mustDeduct(t, op("c", "m", 6*credit, h, w))
	e.mustDeduct(t, op("c", "l", 6*credit, e.hourOf(1), w))
	res := e.mustDeduct(t, keyed(op("c", "l", 5*credit, h, w), "k"))
	wantCharged(t, "a cost landing on MaxUsage", res)
	wantUsed(t, "a cost landing on MaxUsage", res, 17*credit)
	wantOverflow(t, "one micro-credit at MaxUsage", e.deduct(t, op("c", "l", 1, h, w)), 17*credit)
	e.mustDeduct(t, op("c", "l", 0, h, w))
	e.wantUsage(t, "at the end", "c", []core.Window{w}, 17*credit)
	e.wantReportAll(t, "at the end", "c", records{rec(h, "l"): core.MaxUsage, rec(h, "m"): 6 * credit, rec(e.hourOf(1), "l"): 6 * credit})
}

// testOverflowByDeductions brings counters to core.MaxUsage by deducting
// the largest cost 1024 times: first a window and its hour aggregate
// together, then the hour aggregate alone (its window renews at each
// charge). The next largest cost is refused with Overflow; the remaining
// 1023 micro-credits land exactly on MaxUsage. It needs Options.Calls of at
// least 1025 and is skipped below.
func testOverflowByDeductions(t *testing.T, e *env) {
	const n = 1024 // n*maxCredits = MaxUsage - 1023
	if e.opts.Calls < n+1 {
		t.Skipf("storetest: Options.Calls is %d, below the %d deductions this test makes", e.opts.Calls, n+1)
	}
	rest := core.MaxUsage - n*maxCredits
	h := e.hourOf(0)
	t.Run("window and hour", func(t *testing.T) {
		w := e.window(core.Day, 0, unlimited)
		for i := 1; i <= n; i++ {
			res := e.mustDeduct(t, op("c", "l", maxCredits, h, w))
			if got, want := res.Used[0], int64(i)*maxCredits; got != want {
				t.Fatalf("deduction %d of the largest cost: Used = %v, want %v", i, got, want)
			}
		}
		wantOverflow(t, "the largest cost once more", e.deduct(t, op("c", "l", maxCredits, h, w)), n*maxCredits)
		wantOverflow(t, "one micro-credit past MaxUsage", e.deduct(t, op("c", "l", rest+1, h, w)), n*maxCredits)
		wantUsed(t, "the rest", e.mustDeduct(t, op("c", "l", rest, h, w)), core.MaxUsage)
		wantOverflow(t, "one micro-credit at MaxUsage", e.deduct(t, op("c", "l", 1, h, w)), core.MaxUsage)
		e.wantUsage(t, "at the end", "c", []core.Window{w}, core.MaxUsage)
		e.wantReportAll(t, "at the end", "c", records{rec(h, "l"): core.MaxUsage})
	})
	t.Run("hour", func(t *testing.T) {
		for i := range n {
			res := e.mustDeduct(t, op("h", "l", maxCredits, h, e.window(core.Minute, i, unlimited)))
			if got, want := res.Used[0], maxCredits; got != want {
				t.Fatalf("deduction %d of the largest cost in a new window: Used = %v, want %v", i, got, want)
			}
		}
		w := e.window(core.Minute, n, unlimited)
		wantOverflow(t, "the largest cost once more", e.deduct(t, op("h", "l", maxCredits, h, w)), 0)
		e.wantUsage(t, "the window of the refused charge", "h", []core.Window{w}, 0)
		wantUsed(t, "the rest", e.mustDeduct(t, op("h", "l", rest, h, w)), rest)
		wantOverflow(t, "one micro-credit at MaxUsage", e.deduct(t, op("h", "l", 1, h, w)), rest)
		e.wantReportAll(t, "at the end", "h", records{rec(h, "l"): core.MaxUsage})
	})
}
