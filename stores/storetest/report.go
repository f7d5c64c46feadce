package storetest

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// testDailyReport: one aggregate per report day and label, whose day is
// kept as given (23- and 25-hour days too), selected by the day's start in
// [From, To).
func testDailyReport(t *testing.T, e *env) {
	// Three consecutive days as a zone with a DST change has them.
	d0 := core.Span{Start: e.base, End: e.base + day}
	d1 := core.Span{Start: d0.End, End: d0.End + 23*hour}
	d2 := core.Span{Start: d1.End, End: d1.End + 25*hour}
	w := e.window(core.Week, 0, unlimited)
	for _, c := range []struct {
		d    core.Span
		cost int64
	}{{d0, 1 * credit}, {d1, 2 * credit}, {d1, 3 * credit}, {d2, 4 * credit}} {
		e.mustDeduct(t, op("c", "", c.cost, c.d, w))
	}
	r0, r1, r2 := rec(d0, ""), rec(d1, ""), rec(d2, "")
	cases := []struct {
		name     string
		from, to int64
		want     records
	}{
		{"all", d0.Start, d2.End, records{r0: 1 * credit, r1: 5 * credit, r2: 4 * credit}},
		{"wide", e.base - 30*day, e.base + 30*day, records{r0: 1 * credit, r1: 5 * credit, r2: 4 * credit}},
		{"to excludes the day starting at it", d0.Start, d2.Start, records{r0: 1 * credit, r1: 5 * credit}},
		{"from includes the day starting at it", d1.Start, d1.Start + 1, records{r1: 5 * credit}},
		{"a day starting before from is left out", d0.Start + 1, d2.End, records{r1: 5 * credit, r2: 4 * credit}},
		{"empty range", d1.Start, d1.Start, records{}},
		{"before any usage", d0.Start - 10*day, d0.Start, records{}},
		{"after all usage", d2.End, d2.End + 10*day, records{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.wantReport(t, c.name, "c", c.from, c.to, c.want)
		})
	}
	e.wantReportAll(t, "another client", "d", records{})
}

// testLabelReport: each label has its own aggregate per day, labels of any
// bytes included, and the empty label is a label like any other.
func testLabelReport(t *testing.T, e *env) {
	labels := []string{"", "/api/fetch-data", "/api/fetch-expensive-data", "GET /api/compute?units=0.5", "l\x00\xff:{x}"}
	w := e.window(core.Week, 0, unlimited)
	want := records{}
	for i, l := range labels {
		for k := 0; k < 2; k++ {
			d := e.day(k)
			cost := int64(i+1)*credit + int64(k)*1
			e.mustDeduct(t, op("c", l, cost, d, w))
			e.mustDeduct(t, op("c", l, cost, d, w))
			want[rec(d, l)] = 2 * cost
		}
	}
	e.wantReportAll(t, "per label", "c", want)
	var total int64
	for _, v := range want {
		total += v
	}
	e.wantUsage(t, "the week", "c", []core.Window{w}, total)
}

// testDelete: Delete removes the aggregates of the days starting in
// [From, To), returns their credits, takes them out of the live windows the
// days overlap (never below zero) and leaves other days and windows alone.
func testDelete(t *testing.T, e *env) {
	d0, d1, d2 := e.day(0), e.day(1), e.day(2)
	hourOf := func(d core.Span, h int64) core.Window {
		return core.Window{Period: core.Hour, Start: d.Start + h*hour, End: d.Start + (h+1)*hour, Limit: 100 * credit}
	}
	week0 := core.Window{Period: core.Week, Start: d1.Start - 7*day, End: d1.Start, Limit: 100 * credit}
	week1 := core.Window{Period: core.Week, Start: d1.Start, End: d1.Start + 7*day, Limit: 100 * credit}
	month := core.Window{Period: core.Month, Start: d0.Start - 10*day, End: d0.Start + 21*day, Limit: 1000 * credit}

	e.mustDeduct(t, op("c", "a", 10*credit, d0, hourOf(d0, 1), week0, month))
	e.mustDeduct(t, op("c", "b", 5*credit, d0, hourOf(d0, 1), week0, month))
	e.mustDeduct(t, op("c", "a", 7*credit, d1, hourOf(d1, 1), week1, month))
	e.mustDeduct(t, op("c", "a", 4*credit, d2, hourOf(d2, 0), week1, month))
	e.mustDeduct(t, op("c", "a", 3*credit, d2, hourOf(d2, 1), week1, month))
	e.mustDeduct(t, op("other", "a", 9*credit, d1, hourOf(d1, 1), week1, month))
	live := []core.Window{hourOf(d2, 1), week1, month}
	e.wantUsage(t, "before deleting", "c", live, 3*credit, 14*credit, 29*credit)

	steps := []struct {
		name     string
		from, to int64
		deleted  int64
		used     []int64
		report   records
	}{
		{
			"empty range", d1.Start, d1.Start, 0,
			[]int64{3 * credit, 14 * credit, 29 * credit},
			records{rec(d0, "a"): 10 * credit, rec(d0, "b"): 5 * credit, rec(d1, "a"): 7 * credit, rec(d2, "a"): 7 * credit},
		},
		{
			// The day overlaps the week and the month, not the hour.
			"one day", d1.Start, d2.Start, 7 * credit,
			[]int64{3 * credit, 7 * credit, 22 * credit},
			records{rec(d0, "a"): 10 * credit, rec(d0, "b"): 5 * credit, rec(d2, "a"): 7 * credit},
		},
		{
			// The day is in the month only; both of its labels go.
			"a day of an ended week", d0.Start, d0.End, 15 * credit,
			[]int64{3 * credit, 7 * credit, 7 * credit},
			records{rec(d2, "a"): 7 * credit},
		},
		{
			// 7 credits leave the current hour, which holds 3: it floors.
			"floors at zero", d2.Start, d2.Start + 1, 7 * credit,
			[]int64{0, 0, 0},
			records{},
		},
		{"nothing left", d0.Start, d2.End, 0, []int64{0, 0, 0}, records{}},
	}
	for _, s := range steps {
		n, err := e.store.Delete(t.Context(), deleteOp("c", s.from, s.to, live...))
		if err != nil {
			t.Fatalf("%s: Delete: %v", s.name, err)
		}
		if got, want := n, s.deleted; got != want {
			t.Errorf("%s: Delete returned %v, want %v", s.name, got, want)
		}
		e.wantUsage(t, s.name, "c", live, s.used...)
		e.wantReportAll(t, s.name, "c", s.report)
	}
	// The windows have room again: the deleted credits can be spent.
	res := e.mustDeduct(t, op("c", "a", 100*credit, d2, live...))
	wantUsed(t, "after deleting", res, 100*credit, 100*credit, 100*credit)

	e.wantReportAll(t, "another client", "other", records{rec(d1, "a"): 9 * credit})
	e.wantUsage(t, "another client", "other", []core.Window{hourOf(d1, 1), week1, month}, 9*credit, 9*credit, 9*credit)

	t.Run("newer window", func(t *testing.T) {
		// A window listed in the op that starts after the held one has used
		// nothing: the held one is left alone and nothing goes negative.
		held := hourOf(d1, 1)
		e.mustDeduct(t, op("n", "a", 5*credit, d1, held))
		next := hourOf(d1, 2)
		if _, err := e.store.Delete(t.Context(), deleteOp("n", d1.Start, d1.End, next)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		e.wantUsage(t, "the newer window", "n", []core.Window{next}, 0)
		e.wantUsage(t, "the held window", "n", []core.Window{held}, 5*credit)
		e.wantReportAll(t, "after deleting", "n", records{})
	})
	t.Run("unknown client", func(t *testing.T) {
		n, err := e.store.Delete(t.Context(), deleteOp("nobody", d0.Start, d2.End, live...))
		if err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if n != 0 {
			t.Errorf("Delete for a client without usage returned %v, want 0", n)
		}
		e.wantUsage(t, "after deleting", "nobody", live, 0, 0, 0)
	})
}

// testReportModel runs a seeded random sequence of charges into a dozen
// hours and three labels, in any order of hours, with refunds of earlier
// charges and deletions of ranges of hours (the latest hour included), and
// after each step compares reports of random ranges, what Delete returns
// and the usage of the window spanning every hour with a model of the
// contract.
func testReportModel(t *testing.T, e *env) {
	const hours = 12
	labels := []string{"", "/a", "/b"}
	w := e.window(core.Month, 0, unlimited)
	type charge struct {
		h    int
		l    string
		cost int64
	}
	model := map[recKey]int64{}
	var total int64
	var charged []charge
	rng := rand.New(rand.NewPCG(1, 2))
	steps := max(100, e.opts.Calls/5)
	for step := range steps {
		switch k := rng.IntN(10); {
		case k < 6 || len(charged) == 0:
			c := charge{rng.IntN(hours), labels[rng.IntN(len(labels))], int64(rng.IntN(5)+1) * credit / 2}
			e.mustDeduct(t, op("c", c.l, c.cost, e.hourOf(c.h), w))
			model[rec(e.hourOf(c.h), c.l)] += c.cost
			total += c.cost
			charged = append(charged, c)
		case k < 8:
			i := rng.IntN(len(charged))
			c := charged[i]
			charged = slices.Delete(charged, i, i+1)
			e.refund(t, op("c", c.l, c.cost, e.hourOf(c.h), w))
			if r := rec(e.hourOf(c.h), c.l); model[r] > 0 {
				model[r] = max(0, model[r]-c.cost)
			}
			total = max(0, total-c.cost)
		default:
			from := rng.IntN(hours)
			to := from + rng.IntN(hours-from) + 1
			var removed int64
			for r, v := range model {
				if r.Start >= e.hourOf(from).Start && r.Start < e.hourOf(to).Start {
					removed += v
					delete(model, r)
				}
			}
			total = max(0, total-removed)
			n, err := e.store.Delete(t.Context(), deleteOp("c", e.hourOf(from).Start, e.hourOf(to).Start, w))
			if err != nil {
				t.Fatalf("step %d: Delete: %v", step, err)
			}
			if n != removed {
				t.Fatalf("step %d: Delete of hours %d to %d returned %v, want %v", step, from, to, n, removed)
			}
		}
		want := records{}
		from := rng.IntN(hours)
		to := from + rng.IntN(hours-from+1)
		for r, v := range model {
			if v != 0 && r.Start >= e.hourOf(from).Start && r.Start < e.hourOf(to).Start {
				want[r] = v
			}
		}
		if got := e.report(t, "c", e.hourOf(from).Start, e.hourOf(to).Start); !equalRecords(got, want) {
			t.Fatalf("step %d: Report of hours %d to %d = %v, want %v", step, from, to, got, want)
		}
		if got := e.usage(t, "c", w); got[0] != total {
			t.Fatalf("step %d: Usage of the window = %v, want %v", step, got[0], total)
		}
	}
}
