package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// concClient is one client of a concurrency case.
type concClient struct {
	windows []core.Window
	// want is the exact credits the windows admit when every goroutine of the
	// client charges the same cost, or -1 when the costs are mixed.
	want int64
}

// concReport is what one goroutine of a concurrency case reports when it
// is done.
type concReport struct {
	client   int
	cost     int64
	admitted [][]int64 // Result.Used of each admitted deduction
	refused  int
	errs     []string // the first few failures
}

// testConcurrency runs many goroutines (64 by default) that all start at once
// and each make a fixed number of deductions, enough that together they
// attempt more than the limit admits. Its invariants, checked for every
// client of every case:
//
//   - No call fails.
//   - No limited window ends above its limit, and every window ends holding
//     exactly the sum of the costs admitted (all of a client's windows are
//     charged together or not at all).
//   - With one cost per client, exactly the limit rounded down to a whole
//     number of costs is admitted: never more (over-admission), never less
//     (a refusal while room was left).
//   - With mixed costs, every refused cost still does not fit at the end:
//     usage only grows during the test, so a window that lacked room for it
//     then lacks it still.
//   - Deductions are linearizable: the usage each admitted deduction reports
//     is distinct per window, is at most the final usage, and with one cost
//     they are exactly cost, 2*cost, ..., the final usage. Each refused
//     deduction reports a usage that has no room for its cost.
func testConcurrency(t *testing.T, e *env) {
	tenth := credit / 10
	w := func(p core.Period, limit int64) core.Window { return e.window(p, 0, limit) }
	cases := []struct {
		name    string
		clients []concClient
		costs   []int64
	}{
		{"limit 100 cost 1", []concClient{{[]core.Window{w(core.Minute, 100*credit)}, 100 * credit}}, []int64{credit}},
		{"limit 1000 cost 0.1", []concClient{{[]core.Window{w(core.Minute, 100*credit)}, 100 * credit}}, []int64{tenth}},
		{"limit 100 cost 3", []concClient{{[]core.Window{w(core.Minute, 100*credit)}, 99 * credit}}, []int64{3 * credit}},
		{"multi-window, the smaller binds", []concClient{{[]core.Window{
			w(core.Minute, 500*credit), w(core.Hour, 50*credit), w(core.Day, unlimited),
		}, 50 * credit}}, []int64{credit}},
		{"two clients", []concClient{
			{[]core.Window{w(core.Minute, 60*credit), w(core.Day, 1000*credit)}, 60 * credit},
			{[]core.Window{w(core.Minute, 1000*credit), w(core.Day, 90*credit)}, 90 * credit},
		}, []int64{credit}},
		{"mixed costs", []concClient{{[]core.Window{w(core.Minute, 100*credit), w(core.Day, unlimited)}, -1}},
			[]int64{credit, 2 * credit, 5 * credit, tenth}},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ids := make([]string, len(c.clients))
			for i := range ids {
				ids[i] = fmt.Sprintf("conc-%d-%d", ci, i)
			}
			runConcurrent(t, e, ids, c.clients, c.costs)
		})
	}
	t.Run("deductions with refunds", func(t *testing.T) { runConcurrentRefunds(t, e) })
}

// runConcurrentRefunds runs goroutines that deduct 1 credit at a time from
// one client with a limit of 100, half of which refund each deduction they
// are admitted right after it. Its invariants:
//
//   - No call fails.
//   - No admitted deduction reports usage above the limit, and the window
//     ends at most at the limit.
//   - Refunds lose no update: the window and the day aggregate both end at
//     exactly the credits admitted and not refunded.
func runConcurrentRefunds(t *testing.T, e *env) {
	const limit = 100 * credit
	g := e.opts.Goroutines
	attempts := 200/g + 2
	ws := []core.Window{e.window(core.Minute, 0, limit), e.window(core.Day, 0, unlimited)}
	type report struct {
		kept int64
		errs []string
	}
	start := make(chan struct{})
	reports := make(chan report, g)
	for i := range g {
		go func() {
			var r report
			o := op("conc-refund", "", credit, e.day(0), ws...)
			refunds := i%2 == 1
			fail := func(format string, args ...any) {
				if len(r.errs) < 3 {
					r.errs = append(r.errs, fmt.Sprintf(format, args...))
				}
			}
			<-start
			for range attempts {
				res, err := e.store.Deduct(t.Context(), o)
				if err != nil {
					fail("Deduct: %v", err)
					continue
				}
				if !res.OK {
					continue
				}
				if res.Used[0] > limit {
					fail("admitted Deduct reported usage %v over the limit of %v", res.Used[0], limit)
				}
				if !refunds {
					r.kept += o.Cost
					continue
				}
				if err := e.store.Refund(t.Context(), o); err != nil {
					fail("Refund: %v", err)
					r.kept += o.Cost // it may or may not have been refunded
				}
			}
			reports <- r
		}()
	}
	close(start)
	var kept int64
	for range g {
		r := <-reports
		for _, msg := range r.errs {
			t.Error(msg)
		}
		kept += r.kept
	}
	if t.Failed() {
		return
	}
	final := e.usage(t, "conc-refund", ws...)
	if final[0] > limit {
		t.Errorf("the window ends at %v, over its limit of %v", final[0], limit)
	}
	if !slices.Equal(final, []int64{kept, kept}) {
		t.Errorf("the windows end at %v, want %v each: the credits admitted and not refunded", final, kept)
	}
	want := records{}
	if kept > 0 {
		want[rec(e.day(0), "")] = kept
	}
	e.wantReportAll(t, "after deductions with refunds", "conc-refund", want)
}

// runConcurrent runs one concurrency case and checks the invariants that
// testConcurrency documents.
func runConcurrent(t *testing.T, e *env, ids []string, clients []concClient, costs []int64) {
	g := max(e.opts.Goroutines, len(clients))
	perClient := g / len(clients)
	minCost := slices.Min(costs)
	attempts := 1
	for _, c := range clients {
		var limit int64 = -1
		for _, w := range c.windows {
			if !w.Unlimited() && (limit < 0 || w.Limit < limit) {
				limit = w.Limit
			}
		}
		// Half as many attempts again as the cheapest cost could fit.
		n := int(limit/minCost)*3/2 + 1
		attempts = max(attempts, (n+perClient-1)/perClient+1)
	}

	start := make(chan struct{})
	reports := make(chan concReport, g)
	for i := range g {
		go func() {
			r := concReport{client: i % len(clients), cost: costs[(i/len(clients))%len(costs)]}
			c := clients[r.client]
			o := op(ids[r.client], "", r.cost, e.day(0), c.windows...)
			fail := func(format string, args ...any) {
				if len(r.errs) < 3 {
					r.errs = append(r.errs, fmt.Sprintf(format, args...))
				}
			}
			<-start
			for range attempts {
				res, err := e.store.Deduct(t.Context(), o)
				if err != nil {
					fail("Deduct: %v", err)
					continue
				}
				used := res.Used[:o.N]
				if res.OK {
					r.admitted = append(r.admitted, slices.Clone(used))
					continue
				}
				r.refused++
				fits := true
				for j, w := range c.windows {
					fits = fits && w.Fits(used[j], r.cost)
				}
				if fits {
					fail("Deduct of %v refused while its Result.Used %v has room", r.cost, used)
				}
			}
			reports <- r
		}()
	}
	close(start)

	type tally struct {
		admitted  int64
		count     int
		refused   []int64 // the costs refused
		used      [][]int64
		uniform   bool
		firstCost int64
		haveCost  bool
	}
	tallies := make([]tally, len(clients))
	for i := range tallies {
		tallies[i].uniform = true
	}
	for range g {
		r := <-reports
		for _, msg := range r.errs {
			t.Errorf("client %d, cost %v: %s", r.client, r.cost, msg)
		}
		tl := &tallies[r.client]
		if tl.haveCost && tl.firstCost != r.cost {
			tl.uniform = false
		}
		tl.firstCost, tl.haveCost = r.cost, true
		tl.admitted += int64(len(r.admitted)) * r.cost
		tl.count += len(r.admitted)
		tl.used = append(tl.used, r.admitted...)
		if r.refused > 0 {
			tl.refused = append(tl.refused, r.cost)
		}
	}

	for ci, c := range clients {
		tl := tallies[ci]
		id := ids[ci]
		final := e.usage(t, id, c.windows...)
		for j, w := range c.windows {
			if !w.Unlimited() && final[j] > w.Limit {
				t.Errorf("client %q: %s window ends at %v, over its limit of %v", id, w.Period, final[j], w.Limit)
			}
			if final[j] != tl.admitted {
				t.Errorf("client %q: %s window ends at %v, but the admitted deductions sum to %v", id, w.Period, final[j], tl.admitted)
			}
		}
		if c.want >= 0 && tl.admitted != c.want {
			t.Errorf("client %q: admitted %v credits in %d deductions, want exactly %v", id, tl.admitted, tl.count, c.want)
		}
		if len(tl.refused) == 0 {
			t.Errorf("client %q: no deduction was refused; the case attempts too few to test the limit", id)
		}
		for _, cost := range tl.refused {
			fits := true
			for j, w := range c.windows {
				fits = fits && w.Fits(final[j], cost)
			}
			if fits {
				t.Errorf("client %q: a deduction of %v was refused, yet the final usage %v has room for it", id, cost, final)
			}
		}
		for j, w := range c.windows {
			seen := make([]int64, 0, len(tl.used))
			for _, u := range tl.used {
				seen = append(seen, u[j])
			}
			slices.Sort(seen)
		values:
			for k, v := range seen {
				switch {
				case tl.uniform && v != int64(k+1)*tl.firstCost:
					t.Errorf("client %q: %s window: admitted deductions reported usage %v, want %v, %v, ... once each", id, w.Period, head(seen), tl.firstCost, 2*tl.firstCost)
				case k > 0 && v == seen[k-1]:
					t.Errorf("client %q: %s window: two admitted deductions both reported usage %v", id, w.Period, v)
				case v > final[j]:
					t.Errorf("client %q: %s window: an admitted deduction reported usage %v above the final %v", id, w.Period, v, final[j])
				default:
					continue
				}
				break values // one message per window
			}
		}
	}
}

// head returns at most the first 8 values of s, for messages.
func head(s []int64) []int64 { return s[:min(len(s), 8)] }
