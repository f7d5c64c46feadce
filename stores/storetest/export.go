package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// testExportEmpty: a new store exports nothing, nor does one that has only
// been read, refused charges and charged zero costs without keys: those
// create no state. After refunds of charges it never made and a deletion
// of usage it never had, it exports nothing but, at most, counters and
// aggregates that hold nothing.
func testExportEmpty(t *testing.T, e *env) {
	want := func(what string) {
		t.Helper()
		if recs := exportRecords(t, e.store); len(recs) != 0 {
			t.Errorf("%s: Export gave %d records, want none; the first: %s", what, len(recs), fmtRecord(&recs[0]))
		}
	}
	want("a new store")
	ws := []core.Window{e.window(core.Minute, 0, 10*credit), e.window(core.Day, 0, unlimited)}
	e.usage(t, "c", ws...)
	e.reportAll(t, "c")
	want("after reads")
	if res := e.deduct(t, op("c", "l", 11*credit, e.day(0), ws...)); res.OK {
		t.Fatal("a charge over the limit was admitted")
	}
	if res := e.deduct(t, keyed(op("c", "l", 11*credit, e.day(0), ws...), "k")); res.OK {
		t.Fatal("a charge over the limit was admitted")
	}
	want("after refusals")
	e.mustDeduct(t, op("c", "l", 0, e.day(0), ws...))
	want("after a zero cost")
	e.refund(t, op("c", "l", credit, e.day(0), ws...))
	e.refund(t, keyed(op("c", "l", credit, e.day(0), ws...), "k"))
	if _, err := e.store.Delete(t.Context(), deleteOp("c", e.day(0).Start, e.day(1).Start, ws...)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantState(t, "after refunds and a deletion", e.store, state{})
}

// testRoundTrip: the state Fill writes (clients with odd IDs, several
// periods, windows before and after replacement, usage in many hours and
// labels, the empty label included, keys, threshold bits) exports and
// imports into a new store of the same kind with every observable equal
// (see [RoundTrip]), in the order exported or in reverse; afterwards both
// stores charge alike: each window continues from its counter, threshold
// bits already set are not reported again, and the next window reports the
// reset.
func testRoundTrip(t *testing.T, e *env) {
	f := fill(t, e.store, e.base)
	src := exportState(t, e.store)
	wantKinds(t, "the filled store", src)
	to := e.fresh(t)
	RoundTrip(t, e.store, to)
	if t.Failed() {
		return
	}

	rev := e.fresh(t)
	recs := exportRecords(t, e.store)
	slices.Reverse(recs)
	mustImport(t, rev, core.ImportOptions{}, recs...)
	wantState(t, "a store imported in reverse order", rev, src)

	for _, client := range fillClients {
		o := f.last[client]
		from := probe(t, fmt.Sprintf("the source, client %q", client), e.store, o, src)
		got := probe(t, fmt.Sprintf("the target, client %q", client), to, o, src)
		// The next minute replaces the counter, whose bits are set.
		next := clone(o)
		next.Cost, next.Key = 1, ""
		next.List[0].Start, next.List[0].End = o.List[0].End, 2*o.List[0].End-o.List[0].Start
		for _, s := range []struct {
			name  string
			store core.Store
			fired uint8
		}{{"source", e.store, from.Fired[0]}, {"target", to, got.Fired[0]}} {
			res, err := s.store.Deduct(t.Context(), clone(next))
			if err != nil || !res.OK {
				t.Fatalf("Deduct(%q) of the next minute on the %s: OK %v, error %v", client, s.name, res.OK, err)
			}
			var wantReset uint8
			if probeFired(src, client, o.List[0])|s.fired != 0 {
				wantReset = 1
			}
			if res.Reset != wantReset {
				t.Errorf("Deduct(%q) of the next minute on the %s: Reset %b, want %b", client, s.name, res.Reset, wantReset)
			}
		}
	}
}

// probeFired returns the threshold bits of client's counter of w in st.
func probeFired(st state, client string, w core.Window) uint8 {
	for r := range st {
		if r.Kind == core.RecordWindow && r.Client == client && r.Period == w.Period && r.Start == w.Start {
			return r.Fired
		}
	}
	return 0
}

// testExportConcurrent runs goroutines (64 by default) that charge their own
// clients, half of them with keys, while the store is exported several
// times. Its invariants:
//
//   - No call fails, and every export completes.
//   - Every exported record is valid and of one of the clients charged: a
//     window counter or usage aggregate holds at most what its client was
//     charged in all, and a key is one a goroutine charged.
//   - After the charges, an export holds exactly what was charged, and the
//     store still charges.
func testExportConcurrent(t *testing.T, e *env) {
	g := e.opts.Goroutines
	n := max(4, e.opts.Calls/g)
	w := e.window(core.Day, 0, unlimited)
	client := func(i int) string { return fmt.Sprintf("export-%d", i) }
	clientIdx := map[string]int{}
	for i := range g {
		clientIdx[client(i)] = i
	}
	cost := func(i int) int64 { return int64(i+1) * 1000 }
	start := make(chan struct{})
	done := make(chan []string, g)
	for i := range g {
		go func() {
			var errs []string
			<-start
			for j := range n {
				o := op(client(i), "", cost(i), e.day(0), w)
				if i%2 == 1 {
					keyed(o, fmt.Sprintf("k-%d", j))
				}
				res, err := e.store.Deduct(t.Context(), o)
				if (err != nil || !res.OK || res.Replayed) && len(errs) < 3 {
					errs = append(errs, fmt.Sprintf("Deduct(%q): OK %v, Replayed %v, error %v", o.Client, res.OK, res.Replayed, err))
				}
			}
			done <- errs
		}()
	}
	close(start)
	check := func(r *core.Record) error {
		if msg := checkRecord(r); msg != "" {
			return fmt.Errorf("%s: %s", msg, fmtRecord(r))
		}
		i, ok := clientIdx[r.Client]
		if !ok {
			return fmt.Errorf("a record of a client never charged: %s", fmtRecord(r))
		}
		total := int64(n) * cost(i)
		switch r.Kind {
		case core.RecordWindow, core.RecordUsage:
			if r.Used > total || r.Used%cost(i) != 0 {
				return fmt.Errorf("a record of usage that no number of charges of %v up to %v gives: %s", cost(i), total, fmtRecord(r))
			}
		case core.RecordKey:
			if i%2 == 0 || r.Key.Cost != cost(i) {
				return fmt.Errorf("a key never charged: %s", fmtRecord(r))
			}
		}
		return nil
	}
	for k := range 3 {
		var bad error
		if err := e.store.Export(t.Context(), func(r *core.Record) error {
			if bad == nil {
				bad = check(r)
			}
			return nil
		}); err != nil {
			t.Errorf("Export %d during charges: %v", k, err)
		}
		if bad != nil {
			t.Errorf("Export %d during charges: %v", k, bad)
		}
	}
	for range g {
		for _, msg := range <-done {
			t.Error(msg)
		}
	}
	if t.Failed() {
		return
	}
	want := state{}
	for i := range g {
		total := int64(n) * cost(i)
		want[windowRec(client(i), w, total, 0)] = true
		want[usageRec(client(i), e.day(0), "", total)] = true
	}
	got := exportState(t, e.store)
	for r := range got {
		if r.Kind == core.RecordKey {
			delete(got, r)
		}
	}
	if d := diff(got, want); d != "" {
		t.Errorf("the export after the charges differs (-missing +extra):%s", d)
	}
	res := e.mustDeduct(t, op(client(0), "", cost(0), e.day(0), w))
	wantUsed(t, "after the exports", res, int64(n+1)*cost(0))
}

// testExportStops: an error from fn stops the export at once, and Export
// returns it (or an error wrapping it).
func testExportStops(t *testing.T, e *env) {
	fill(t, e.store, e.base)
	if n := len(exportRecords(t, e.store)); n < 3 {
		t.Fatalf("a filled store exported %d records", n)
	}
	errStop := errors.New("storetest: stop")
	for _, stopAt := range []int{1, 2} {
		calls := 0
		err := e.store.Export(t.Context(), func(*core.Record) error {
			calls++
			if calls >= stopAt {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Errorf("Export whose fn fails at record %d: error %v, want one wrapping fn's", stopAt, err)
		}
		if calls != stopAt {
			t.Errorf("Export whose fn fails at record %d called it %d times", stopAt, calls)
		}
	}
	// The store still works.
	e.mustDeduct(t, op("after", "", credit, e.day(0), e.window(core.Minute, 0, 10*credit)))
}
