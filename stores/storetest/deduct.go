package storetest

import (
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// testWithinLimit: deductions that fit are admitted up to the limit exactly,
// and each reports the usage after it.
func testWithinLimit(t *testing.T, e *env) {
	w := e.window(core.Minute, 0, 10*credit)
	steps := []struct {
		cost int64
		used int64
	}{
		{3 * credit, 3 * credit},
		{credit, 4 * credit},
		{6 * credit, 10 * credit}, // exactly the limit
	}
	for i, s := range steps {
		res := e.mustDeduct(t, op("c", "", s.cost, e.day(0), w))
		if got, want := res.Used[0], s.used; got != want {
			t.Errorf("step %d: Deduct(%v).Used = %v, want %v", i, s.cost, got, want)
		}
	}
	e.wantUsage(t, "after filling", "c", []core.Window{w}, 10*credit)
	e.wantReportAll(t, "after filling", "c", records{rec(e.day(0), ""): 10 * credit})
}

// testOverLimit: a deduction that does not fit is refused, reports the usage
// as it is, and leaves usage and reports exactly as they were.
func testOverLimit(t *testing.T, e *env) {
	cases := []struct {
		name    string
		limit   int64
		prefill int64
		cost    int64
	}{
		{"one over", 10 * credit, 8 * credit, 3 * credit},
		{"one micro-credit over", 10 * credit, 10 * credit, 1},
		{"cost above the limit", 10 * credit, 0, 11 * credit},
		{"zero limit", 0, 0, 1},
		{"largest cost", 10 * credit, credit, maxCredits},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := string(rune('a' + i))
			ws := []core.Window{e.window(core.Minute, 0, c.limit), e.window(core.Day, 0, unlimited)}
			if c.prefill > 0 {
				e.mustDeduct(t, op(client, "l", c.prefill, e.day(0), ws...))
			}
			before := e.reportAll(t, client)
			res := e.deduct(t, op(client, "l", c.cost, e.day(0), ws...))
			if res.OK {
				t.Errorf("Deduct(%v) with %v of %v used was admitted", c.cost, c.prefill, c.limit)
			}
			wantUsed(t, "refused Deduct", res, c.prefill, c.prefill)
			e.wantUsage(t, "after the refusal", client, ws, c.prefill, c.prefill)
			if got := e.reportAll(t, client); !equalRecords(got, before) {
				t.Errorf("report after the refusal = %v, want %v as before", got, before)
			}
		})
	}
}

// testMultiWindow: when any one window lacks room, nothing is deducted from
// any window, whichever position the full window has in the op.
func testMultiWindow(t *testing.T, e *env) {
	for full := 0; full < 3; full++ {
		t.Run([]string{"first full", "middle full", "last full"}[full], func(t *testing.T) {
			client := []string{"first", "middle", "last"}[full]
			ws := []core.Window{
				e.window(core.Minute, 0, 100*credit),
				e.window(core.Hour, 0, 100*credit),
				e.window(core.Day, 0, 100*credit),
			}
			ws[full].Limit = 5 * credit
			res := e.mustDeduct(t, op(client, "", 5*credit, e.day(0), ws...))
			wantUsed(t, "filling", res, 5*credit, 5*credit, 5*credit)
			before := e.reportAll(t, client)

			res = e.deduct(t, op(client, "", credit, e.day(0), ws...))
			if res.OK {
				t.Errorf("Deduct with window %d full was admitted", full)
			}
			wantUsed(t, "refused Deduct", res, 5*credit, 5*credit, 5*credit)
			e.wantUsage(t, "after the refusal", client, ws, 5*credit, 5*credit, 5*credit)
			if got := e.reportAll(t, client); !equalRecords(got, before) {
				t.Errorf("report after the refusal = %v, want %v as before", got, before)
			}

			// The other windows still have room on their own.
			others := append(append([]core.Window(nil), ws[:full]...), ws[full+1:]...)
			e.mustDeduct(t, op(client, "", credit, e.day(0), others...))
			e.wantUsage(t, "after a deduction from the others", client, ws, usedAfter(full, 5*credit, 6*credit)...)
		})
	}
}

// usedAfter returns the usage of three windows where window full holds
// fullUsed and the others othersUsed.
func usedAfter(full int, fullUsed, othersUsed int64) []int64 {
	u := []int64{othersUsed, othersUsed, othersUsed}
	u[full] = fullUsed
	return u
}

// testExactUsed: Result.Used reports each window's usage after the call in
// the order of Op.List, whatever the order of the periods.
func testExactUsed(t *testing.T, e *env) {
	ws := []core.Window{
		e.window(core.Day, 0, 100*credit),
		e.window(core.Minute, 0, 10*credit),
		e.window(core.Hour, 0, 50*credit),
	}
	// The hour window already holds usage of its own.
	e.mustDeduct(t, op("c", "", 2*credit, e.day(0), ws[2]))
	steps := []struct {
		cost int64
		ok   bool
		used []int64
	}{
		{1_500_000, true, []int64{1_500_000, 1_500_000, 3_500_000}},
		{1, true, []int64{1_500_001, 1_500_001, 3_500_001}},
		{3_499_999, true, []int64{5 * credit, 5 * credit, 7 * credit}},
		{6 * credit, false, []int64{5 * credit, 5 * credit, 7 * credit}},
		{5 * credit, true, []int64{10 * credit, 10 * credit, 12 * credit}},
	}
	for i, s := range steps {
		res := e.deduct(t, op("c", "", s.cost, e.day(0), ws...))
		if got, want := res.OK, s.ok; got != want {
			t.Errorf("step %d: Deduct(%v).OK = %v, want %v", i, s.cost, got, want)
		}
		wantUsed(t, "step", res, s.used...)
	}
	e.wantUsage(t, "at the end", "c", ws, 10*credit, 10*credit, 12*credit)
}

// testRenewal: a window that starts after the one the store holds replaces
// it, so usage starts again from zero; a deduction against an older window
// never admits credits beyond what either window allows.
func testRenewal(t *testing.T, e *env) {
	const limit = 10 * credit
	w0 := e.window(core.Minute, 0, limit)
	w1 := e.window(core.Minute, 1, limit)
	w5 := e.window(core.Minute, 5, limit)

	e.mustDeduct(t, op("c", "", limit, e.day(0), w0))
	e.wantUsage(t, "the next window before use", "c", []core.Window{w1}, 0)
	e.wantUsage(t, "the full window after reading the next", "c", []core.Window{w0}, limit)

	res := e.mustDeduct(t, op("c", "", 4*credit, e.day(0), w1))
	wantUsed(t, "first deduction of the next window", res, 4*credit)
	res = e.mustDeduct(t, op("c", "", 6*credit, e.day(0), w1))
	wantUsed(t, "filling the next window", res, limit)

	// Both windows are full: neither may admit more.
	if res := e.deduct(t, op("c", "", credit, e.day(0), w0)); res.OK {
		t.Errorf("Deduct against the older, full window after the newer one filled was admitted (Used %v)", res.Used[0])
	}
	if res := e.deduct(t, op("c", "", credit, e.day(0), w1)); res.OK {
		t.Errorf("Deduct against the full current window was admitted (Used %v)", res.Used[0])
	}
	e.wantUsage(t, "the current window", "c", []core.Window{w1}, limit)

	// A window several periods later starts from zero too.
	res = e.mustDeduct(t, op("c", "", 3*credit, e.day(0), w5))
	wantUsed(t, "a later window", res, 3*credit)
	e.wantUsage(t, "the later window", "c", []core.Window{w5}, 3*credit)
	e.wantReportAll(t, "day aggregate", "c", records{rec(e.day(0), ""): 23 * credit})
}

// testUnlimited: an unlimited window admits any cost and counts it.
func testUnlimited(t *testing.T, e *env) {
	un := e.window(core.Day, 0, unlimited)
	for i := range 3 {
		res := e.mustDeduct(t, op("u", "", 1000*credit, e.day(0), un))
		wantUsed(t, "unlimited", res, int64(i+1)*1000*credit)
	}
	res := e.mustDeduct(t, op("max", "", maxCredits, e.day(0), un))
	wantUsed(t, "largest cost", res, maxCredits)
	e.wantUsage(t, "largest cost", "max", []core.Window{un}, maxCredits)

	// Beside a limited window, the unlimited one counts what is admitted.
	ws := []core.Window{e.window(core.Minute, 0, 10*credit), un}
	e.mustDeduct(t, op("mixed", "", 4*credit, e.day(0), ws...))
	e.mustDeduct(t, op("mixed", "", 4*credit, e.day(0), ws...))
	if res := e.deduct(t, op("mixed", "", 4*credit, e.day(0), ws...)); res.OK {
		t.Error("Deduct over the limited window beside an unlimited one was admitted")
	}
	e.wantUsage(t, "mixed", "mixed", ws, 8*credit, 8*credit)
	e.wantReportAll(t, "mixed", "mixed", records{rec(e.day(0), ""): 8 * credit})
}

// testZeroCost: a zero cost is admitted even by a full or zero-limit window
// and charges nothing.
func testZeroCost(t *testing.T, e *env) {
	zero := []core.Window{e.window(core.Minute, 0, 0), e.window(core.Hour, 0, 5*credit)}
	res := e.mustDeduct(t, op("zero", "l", 0, e.day(0), zero...))
	wantUsed(t, "zero limit", res, 0, 0)
	e.wantUsage(t, "zero limit", "zero", zero, 0, 0)
	e.wantReportAll(t, "zero limit", "zero", records{})

	full := []core.Window{e.window(core.Minute, 0, 5*credit)}
	e.mustDeduct(t, op("full", "l", 5*credit, e.day(0), full...))
	for range 3 {
		res := e.mustDeduct(t, op("full", "l", 0, e.day(0), full...))
		wantUsed(t, "full window", res, 5*credit)
	}
	e.wantUsage(t, "full window", "full", full, 5*credit)
	e.wantReportAll(t, "full window", "full", records{rec(e.day(0), "l"): 5 * credit})
}

// testFractional: fractional costs add up exactly, with no drift at any
// step, and the limit is reached to the micro-credit.
func testFractional(t *testing.T, e *env) {
	c, err := core.CreditsFromFloat(0.1)
	if err != nil {
		t.Fatal(err)
	}
	tenth := c.Micro()
	n := e.opts.Calls
	limit := int64(n) * tenth
	ws := []core.Window{e.window(core.Minute, 0, limit), e.window(core.Day, 0, unlimited)}
	for i := 1; i <= n; i++ {
		res := e.mustDeduct(t, op("tenth", "", tenth, e.day(0), ws...))
		if got, want := res.Used[0], int64(i)*tenth; got != want {
			t.Fatalf("deduction %d of 0.1: Used = %v, want %v", i, got, want)
		}
	}
	if res := e.deduct(t, op("tenth", "", 1, e.day(0), ws...)); res.OK {
		t.Errorf("Deduct of one micro-credit after %d deductions of 0.1 filled the limit of %v was admitted", n, limit)
	}
	e.wantUsage(t, "0.1 credits", "tenth", ws, limit, limit)
	e.wantReportAll(t, "0.1 credits", "tenth", records{rec(e.day(0), ""): limit})

	// A third of a credit, rounded once, stays short of a whole credit.
	third := int64(333_333)
	w := []core.Window{e.window(core.Minute, 0, credit)}
	for range 3 {
		e.mustDeduct(t, op("third", "", third, e.day(0), w...))
	}
	e.wantUsage(t, "thirds", "third", w, 999_999)
	res := e.mustDeduct(t, op("third", "", 1, e.day(0), w...))
	wantUsed(t, "the last micro-credit", res, credit)
}

// testRefund: a refund restores its cost to the windows still held and to
// its day aggregate, never below zero, and leaves a newer window alone.
func testRefund(t *testing.T, e *env) {
	d0 := e.day(0)
	t.Run("restores", func(t *testing.T) {
		ws := []core.Window{e.window(core.Minute, 0, 10*credit), e.window(core.Day, 0, 100*credit)}
		e.mustDeduct(t, op("r", "x", 4*credit, d0, ws...))
		charged := op("r", "x", 3*credit, d0, ws...)
		e.mustDeduct(t, charged)
		if err := e.store.Refund(t.Context(), charged); err != nil {
			t.Fatalf("Refund: %v", err)
		}
		e.wantUsage(t, "after the refund", "r", ws, 4*credit, 4*credit)
		e.wantReportAll(t, "after the refund", "r", records{rec(d0, "x"): 4 * credit})
		// The refunded credits can be spent again.
		res := e.mustDeduct(t, op("r", "x", 6*credit, d0, ws...))
		wantUsed(t, "spending the refund", res, 10*credit, 10*credit)
	})
	t.Run("floors at zero", func(t *testing.T) {
		ws := []core.Window{e.window(core.Minute, 0, 10*credit)}
		e.mustDeduct(t, op("f", "x", 2*credit, d0, ws...))
		for i := range 2 {
			if err := e.store.Refund(t.Context(), op("f", "x", 5*credit, d0, ws...)); err != nil {
				t.Fatalf("Refund %d: %v", i, err)
			}
			e.wantUsage(t, "after a refund above the usage", "f", ws, 0)
			e.wantReportAll(t, "after a refund above the usage", "f", records{})
		}
		res := e.mustDeduct(t, op("f", "x", 10*credit, d0, ws...))
		wantUsed(t, "after the floor", res, 10*credit)
	})
	t.Run("ended window", func(t *testing.T) {
		old := op("e", "x", 5*credit, d0, e.window(core.Minute, 0, 10*credit), e.window(core.Day, 0, 100*credit))
		e.mustDeduct(t, old)
		live := []core.Window{e.window(core.Minute, 1, 10*credit), e.window(core.Day, 0, 100*credit)}
		e.mustDeduct(t, op("e", "x", 2*credit, d0, live...))
		if err := e.store.Refund(t.Context(), old); err != nil {
			t.Fatalf("Refund: %v", err)
		}
		e.wantUsage(t, "after refunding a charge of an ended minute", "e", live, 2*credit, 2*credit)
		e.wantReportAll(t, "after refunding a charge of an ended minute", "e", records{rec(d0, "x"): 2 * credit})
	})
	t.Run("only its label", func(t *testing.T) {
		ws := []core.Window{e.window(core.Hour, 0, 100*credit)}
		a := op("l", "a", 3*credit, d0, ws...)
		e.mustDeduct(t, a)
		e.mustDeduct(t, op("l", "b", 4*credit, d0, ws...))
		e.mustDeduct(t, op("l", "a", 1*credit, e.day(1), ws...))
		if err := e.store.Refund(t.Context(), a); err != nil {
			t.Fatalf("Refund: %v", err)
		}
		e.wantUsage(t, "after the refund", "l", ws, 5*credit)
		e.wantReportAll(t, "after the refund", "l", records{rec(d0, "b"): 4 * credit, rec(e.day(1), "a"): credit})
	})
	t.Run("unknown client", func(t *testing.T) {
		ws := []core.Window{e.window(core.Minute, 0, 10*credit)}
		if err := e.store.Refund(t.Context(), op("nobody", "x", 5*credit, d0, ws...)); err != nil {
			t.Fatalf("Refund for a client without usage: %v", err)
		}
		e.wantUsage(t, "after the refund", "nobody", ws, 0)
		e.wantReportAll(t, "after the refund", "nobody", records{})
		res := e.mustDeduct(t, op("nobody", "x", 10*credit, d0, ws...))
		wantUsed(t, "first deduction", res, 10*credit)
	})
}

// testUsageReadsOnly: Usage reports without changing anything: it neither
// charges its cost nor replaces the held window with a newer one.
func testUsageReadsOnly(t *testing.T, e *env) {
	w0, w1 := e.window(core.Minute, 0, 10*credit), e.window(core.Minute, 1, 10*credit)
	e.mustDeduct(t, op("u", "l", 5*credit, e.day(0), w0))
	before := e.reportAll(t, "u")
	for i := range 2 {
		res, err := e.store.Usage(t.Context(), op("u", "l", 3*credit, e.day(0), w0))
		if err != nil {
			t.Fatalf("Usage: %v", err)
		}
		if got, want := res.Used[0], 5*credit; got != want {
			t.Errorf("Usage %d with a cost = %v, want %v", i, got, want)
		}
	}
	e.wantUsage(t, "the next window", "u", []core.Window{w1}, 0)
	e.wantUsage(t, "the held window after reading the next", "u", []core.Window{w0}, 5*credit)
	if got := e.reportAll(t, "u"); !equalRecords(got, before) {
		t.Errorf("report after Usage = %v, want %v as before", got, before)
	}
	e.wantUsage(t, "a client without usage", "nobody", []core.Window{w0, e.window(core.Day, 0, unlimited)}, 0, 0)
	e.wantReportAll(t, "a client only read", "nobody", records{})
	// The held window still binds.
	res := e.mustDeduct(t, op("u", "l", 5*credit, e.day(0), w0))
	wantUsed(t, "after reads", res, 10*credit)
}
