package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// keyResult is what one goroutine of a concurrent key test reports.
type keyResult struct {
	key string
	res core.Result
	err error
}

// testKeyConcurrentSame runs many goroutines (64 by default) that all
// deduct the same keyed charge at once. Its invariants:
//
//   - No call fails.
//   - Exactly one is charged (OK, not Replayed); every other is OK and
//     Replayed with the winner's record.
//   - The window and the hour aggregate hold the cost once.
//   - A later retry, once the window is full, still replays.
func testKeyConcurrentSame(t *testing.T, e *env) {
	g := e.opts.Goroutines
	ws := []core.Window{e.window(core.Minute, 0, 100*credit), e.window(core.Day, 0, unlimited)}
	o := keyed(op("c", "l", 3*credit, e.day(0), ws...), "same")
	start := make(chan struct{})
	results := make(chan keyResult, g)
	for range g {
		go func() {
			<-start
			res, err := e.store.Deduct(t.Context(), clone(o))
			results <- keyResult{o.Key, res, err}
		}()
	}
	close(start)
	var charged []core.Result
	var replays []core.Result
	for range g {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("Deduct: %v", r.err)
		case r.res.OK && !r.res.Replayed && !r.res.Conflict:
			charged = append(charged, r.res)
		default:
			replays = append(replays, r.res)
		}
	}
	if len(charged) != 1 {
		t.Fatalf("%d goroutines deducting the same key: %d charged, want exactly 1", g, len(charged))
	}
	want := recordOf(o, charged[0])
	wantUsed(t, "the charge", charged[0], 3*credit, 3*credit)
	for i, res := range replays {
		wantReplay(t, fmt.Sprintf("concurrent retry %d", i), res, want)
		if t.Failed() {
			break // one message is enough
		}
	}
	e.wantUsage(t, "after concurrent retries", "c", ws, 3*credit, 3*credit)
	e.wantReportAll(t, "after concurrent retries", "c", records{rec(e.day(0), "l"): 3 * credit})
	// A retry is answered OK from the record even when the window is full.
	e.mustDeduct(t, op("c", "", 97*credit, e.day(0), ws...))
	wantReplay(t, "a retry on a full window", e.deduct(t, clone(o)), want)
	e.wantUsage(t, "at the end", "c", ws, 100*credit, 100*credit)
}

// testKeyConcurrentLimit runs many goroutines (64 by default) that each
// deduct two charges of one credit with distinct keys at once, against a
// window whose limit is half as many credits as goroutines. Its invariants:
//
//   - No call fails, and none is a replay or a conflict.
//   - Exactly the limit is admitted, each admitted charge reports a usage of
//     its own (1, 2, ... credits), and the window holds the limit.
//   - Afterwards each admitted key replays its charge, and each refused key
//     is refused again (it recorded nothing).
func testKeyConcurrentLimit(t *testing.T, e *env) {
	g := e.opts.Goroutines
	limit := int64(max(1, g/2))
	ws := []core.Window{e.window(core.Minute, 0, limit*credit), e.window(core.Day, 0, unlimited)}
	opFor := func(key string) *core.Op { return keyed(op("c", "", credit, e.day(0), ws...), key) }
	start := make(chan struct{})
	results := make(chan keyResult, 2*g)
	for i := range g {
		go func() {
			<-start
			for j := range 2 {
				key := fmt.Sprintf("k-%d-%d", i, j)
				res, err := e.store.Deduct(t.Context(), opFor(key))
				results <- keyResult{key, res, err}
			}
		}()
	}
	close(start)
	admitted := map[string]core.Result{}
	var refused []string
	var used []int64
	for range 2 * g {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("Deduct(%q): %v", r.key, r.err)
		case r.res.Replayed || r.res.Conflict:
			t.Errorf("Deduct(%q) of a key used once: Replayed %v Conflict %v", r.key, r.res.Replayed, r.res.Conflict)
		case r.res.OK:
			admitted[r.key] = r.res
			used = append(used, r.res.Used[0])
		default:
			refused = append(refused, r.key)
		}
	}
	if got := int64(len(admitted)); got != limit {
		t.Errorf("%d distinct keys against a limit of %d credits: %d admitted, want exactly %d", 2*g, limit, got, limit)
	}
	slices.Sort(used)
	for k, u := range used {
		if u != int64(k+1)*credit {
			t.Errorf("admitted charges reported usage %v, want %v, %v, ... once each", head(used), credit, 2*credit)
			break
		}
	}
	e.wantUsage(t, "after the concurrent charges", "c", ws, limit*credit, limit*credit)
	if t.Failed() {
		return
	}
	for key, res := range admitted {
		o := opFor(key)
		wantReplay(t, "an admitted key", e.deduct(t, o), recordOf(o, res))
	}
	for _, key := range refused {
		if res := e.deduct(t, opFor(key)); res.OK || res.Replayed || res.Conflict {
			t.Errorf("a refused key %q again: Deduct = {OK %v Replayed %v Conflict %v}, want refused", key, res.OK, res.Replayed, res.Conflict)
		}
	}
	e.wantUsage(t, "at the end", "c", ws, limit*credit, limit*credit)
}
