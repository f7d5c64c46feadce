package storetest

import (
	"fmt"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// levels returns w with alert levels ls (in micro-credits; 0 is no level).
func levels(w core.Window, ls ...int64) core.Window {
	copy(w.Levels[:], ls)
	return w
}

// wantFired checks the threshold bits and resets a Deduct reported.
func wantFired(t *testing.T, what string, res core.Result, reset uint8, fired ...uint8) {
	t.Helper()
	var want [core.MaxQuotas]uint8
	copy(want[:], fired)
	if res.Fired != want || res.Reset != reset {
		t.Errorf("%s: Deduct reported Fired %04b Reset %b, want Fired %04b Reset %b", what, res.Fired[:max(len(fired), 1)], res.Reset, want[:max(len(fired), 1)], reset)
	}
}

// testThresholdFired: a Deduct reports in Result.Fired[i] exactly the
// threshold bits of window i that its charge newly reaches: once (repeated
// charges, and a refund then the same charge again, do not report them
// again), several together when one charge crosses several levels, per
// window in the order of the op, and none for a refusal or a replay.
func testThresholdFired(t *testing.T, e *env) {
	w := levels(e.window(core.Minute, 0, 100*credit), 50*credit, 80*credit, 100*credit)
	steps := []struct {
		name   string
		cost   int64
		refund bool
		ok     bool
		fired  uint8
	}{
		{"below every level", 40 * credit, false, true, 0},
		{"one micro-credit below", 10*credit - 1, false, true, 0},
		{"exactly the first level", 1, false, true, 0b001},
		{"past the first level again", 10 * credit, false, true, 0},
		{"the second level", 25 * credit, false, true, 0b010},
		{"a refund below it", 25 * credit, true, true, 0},
		{"the second level again", 25 * credit, false, true, 0},
		{"the third level, at the limit", 15 * credit, false, true, 0b100},
		{"a refusal", credit, false, false, 0},
	}
	for _, s := range steps {
		o := op("c", "", s.cost, e.day(0), w)
		if s.refund {
			e.refund(t, o)
			continue
		}
		res := e.deduct(t, o)
		if res.OK != s.ok {
			t.Fatalf("%s: Deduct(%v).OK = %v, want %v", s.name, s.cost, res.OK, s.ok)
		}
		wantFired(t, s.name, res, 0, s.fired)
	}

	t.Run("several at once", func(t *testing.T) {
		res := e.mustDeduct(t, op("jump", "", 90*credit, e.day(0), w))
		wantFired(t, "90 credits at once", res, 0, 0b011)
		res = e.mustDeduct(t, op("jump", "", 10*credit, e.day(0), w))
		wantFired(t, "the rest", res, 0, 0b100)

		gaps := levels(e.window(core.Hour, 0, 100*credit), 0, 30*credit, 0, 60*credit)
		res = e.mustDeduct(t, op("gaps", "", 70*credit, e.day(0), gaps))
		wantFired(t, "levels with gaps", res, 0, 0b1010)
	})
	t.Run("per window", func(t *testing.T) {
		ws := []core.Window{
			levels(e.window(core.Day, 0, 100*credit), 30*credit),
			e.window(core.Hour, 0, 100*credit), // no levels
			levels(e.window(core.Minute, 0, 50*credit), 0, 20*credit),
		}
		e.mustDeduct(t, op("multi", "", 15*credit, e.day(0), ws[2]))
		res := e.mustDeduct(t, op("multi", "", 10*credit, e.day(0), ws...))
		wantFired(t, "the minute's level", res, 0, 0, 0, 0b10)
		res = e.mustDeduct(t, op("multi", "", 20*credit, e.day(0), ws...))
		wantFired(t, "the day's level", res, 0, 0b1, 0, 0)
	})
	t.Run("not on a replay", func(t *testing.T) {
		o := keyed(op("key", "", 60*credit, e.day(0), w), "k")
		res := e.mustDeduct(t, o)
		wantFired(t, "the keyed charge", res, 0, 0b001)
		wantReplay(t, "its retry", e.deduct(t, clone(o)), recordOf(o, res))
	})
}

// testThresholdReset: a Deduct that replaces the counter of an ended
// window that had threshold bits sets bit i of Result.Reset (i the
// window's place in the op), once; replacing a counter without bits sets
// nothing, and a refused charge replaces nothing.
func testThresholdReset(t *testing.T, e *env) {
	minute := func(k int) core.Window { return levels(e.window(core.Minute, k, 10*credit), 5*credit) }
	hourW := func(k int) core.Window { return levels(e.window(core.Hour, k, 100*credit), 50*credit) }

	res := e.mustDeduct(t, op("c", "", 6*credit, e.day(0), minute(0), hourW(0)))
	wantFired(t, "the minute's level", res, 0, 0b1, 0)
	// A refused charge of the next minute leaves the counter as it is.
	res = e.deduct(t, op("c", "", 11*credit, e.day(0), minute(1), hourW(0)))
	if res.OK {
		t.Fatalf("a charge over the limit of the next minute was admitted")
	}
	wantFired(t, "a refused charge of the next minute", res, 0)
	e.wantUsage(t, "after the refusal", "c", []core.Window{minute(0)}, 6*credit)

	res = e.mustDeduct(t, op("c", "", credit, e.day(0), minute(1), hourW(0)))
	wantFired(t, "the next minute", res, 0b01, 0, 0)
	wantUsed(t, "the next minute", res, credit, 7*credit)
	res = e.mustDeduct(t, op("c", "", credit, e.day(0), minute(1), hourW(0)))
	wantFired(t, "the same minute again", res, 0, 0, 0)
	// The minute of the last charge had no bits; the hour had none either.
	res = e.mustDeduct(t, op("c", "", credit, e.day(0), minute(2), hourW(1)))
	wantFired(t, "a minute and an hour replaced without bits", res, 0, 0, 0)

	// The bit is the window's place in the op, whatever its period.
	res = e.mustDeduct(t, op("d", "", 60*credit, e.day(0), hourW(0), e.window(core.Day, 0, unlimited)))
	wantFired(t, "the hour's level", res, 0, 0b1, 0)
	res = e.mustDeduct(t, op("d", "", credit, e.day(0), minute(0), e.window(core.Day, 0, unlimited), hourW(3)))
	wantFired(t, "the next hour, third in the op", res, 0b100, 0, 0, 0)

	// Both replaced at once.
	e.mustDeduct(t, op("e", "", 60*credit, e.day(0), hourW(0)))
	e.mustDeduct(t, op("e", "", 6*credit, e.day(0), minute(0)))
	res = e.mustDeduct(t, op("e", "", 6*credit, e.day(0), minute(5), hourW(1)))
	wantFired(t, "both replaced", res, 0b11, 0b1, 0)
}

// testThresholdConcurrent runs many goroutines (64 by default) that charge
// one credit each at once to a window whose levels are a quarter, half and
// all of its limit (as many credits as goroutines). Its invariants:
//
//   - No call fails, and every charge is admitted.
//   - Each threshold bit is reported exactly once over all the charges, by
//     the charge whose reported usage reaches its level.
func testThresholdConcurrent(t *testing.T, e *env) {
	g := e.opts.Goroutines
	limit := int64(g) * credit
	lv := []int64{max(credit, limit/4), max(credit, limit/2), limit}
	w := levels(e.window(core.Minute, 0, limit), lv...)
	start := make(chan struct{})
	results := make(chan keyResult, g)
	for range g {
		go func() {
			<-start
			res, err := e.store.Deduct(t.Context(), op("c", "", credit, e.day(0), w))
			results <- keyResult{"", res, err}
		}()
	}
	close(start)
	var seen [core.MaxLevels]int
	for range g {
		r := <-results
		if r.err != nil || !r.res.OK {
			t.Errorf("Deduct: OK %v, error %v; want admitted", r.res.OK, r.err)
			continue
		}
		for i := range core.MaxLevels {
			if r.res.Fired[0]&(1<<i) != 0 {
				seen[i]++
				if r.res.Used[0] != lv[i] {
					t.Errorf("threshold bit %d (level %v) reported by the charge reaching %v", i, lv[i], r.res.Used[0])
				}
			}
		}
	}
	for i := range lv {
		if seen[i] != 1 {
			t.Errorf("threshold bit %d (level %v) reported %d times by %d concurrent charges, want once", i, lv[i], seen[i], g)
		}
	}
	if seen[3] != 0 {
		t.Errorf("threshold bit 3, without a level, reported %d times", seen[3])
	}
}

// testThresholdImport: threshold bits survive Export and Import into a new
// store: bits fired before are not reported again there, the others are
// when reached, and replacing the counter reports the reset.
func testThresholdImport(t *testing.T, e *env) {
	w := levels(e.window(core.Minute, 0, 100*credit), 20*credit, 40*credit, 60*credit)
	res := e.mustDeduct(t, op("c", "", 45*credit, e.day(0), w))
	wantFired(t, "before the export", res, 0, 0b011)
	e.mustDeduct(t, op("quiet", "", 5*credit, e.day(0), w))

	to := e.fresh(t)
	mustImport(t, to, core.ImportOptions{}, exportRecords(t, e.store)...)
	for i, s := range []struct {
		cost  int64
		fired uint8
	}{{credit, 0}, {10 * credit, 0}, {10 * credit, 0b100}, {10 * credit, 0}} {
		res, err := to.Deduct(t.Context(), op("c", "", s.cost, e.day(0), w))
		if err != nil || !res.OK {
			t.Fatalf("Deduct %d after the import: OK %v, error %v", i, res.OK, err)
		}
		wantFired(t, fmt.Sprintf("charge %d after the import", i), res, 0, s.fired)
	}
	res, err := to.Deduct(t.Context(), op("c", "", credit, e.day(0), e.window(core.Minute, 1, 100*credit)))
	if err != nil || !res.OK {
		t.Fatalf("Deduct of the next minute after the import: OK %v, error %v", res.OK, err)
	}
	wantFired(t, "the next minute after the import", res, 0b1, 0)
	res, err = to.Deduct(t.Context(), op("quiet", "", credit, e.day(0), e.window(core.Minute, 1, 100*credit)))
	if err != nil || !res.OK {
		t.Fatalf("Deduct of the next minute after the import: OK %v, error %v", res.OK, err)
	}
	wantFired(t, "the next minute of a counter without bits", res, 0, 0)
}
