package storetest

import (
	"errors"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// importSample returns records of two clients to import: window counters,
// usage aggregates and a key.
func (e *env) importSample() []core.Record {
	ws := e.window(core.Minute, 0, 10*credit)
	k := keyed(op("x", "l", 2*credit, e.hourOf(0), ws), "k").Record(&[core.MaxQuotas]int64{2 * credit})
	return []core.Record{
		windowRec("x", ws, 2*credit, 0b1),
		windowRec("y", e.window(core.Day, 0, unlimited), 7*credit, 0),
		usageRec("x", e.hourOf(0), "l", 2*credit),
		usageRec("y", e.hourOf(1), "", 7*credit),
		keyRec(k),
	}
}

// testImportNotEmpty: Import without Merge into a store that holds any
// state (a charge, only a key, or imported records) fails with an error
// wrapping core.ErrNotEmpty and changes nothing, also with an import ID the
// store has not seen.
func testImportNotEmpty(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 10*credit), e.window(core.Day, 0, unlimited)}
	sample := e.importSample()
	cases := []struct {
		name  string
		setup func(t *testing.T, s core.Store)
	}{
		{"a charge", func(t *testing.T, s core.Store) {
			if res, err := s.Deduct(t.Context(), op("x", "l", 3*credit, e.hourOf(0), ws...)); err != nil || !res.OK {
				t.Fatalf("Deduct: OK %v, error %v", res.OK, err)
			}
		}},
		{"only a key", func(t *testing.T, s core.Store) {
			if res, err := s.Deduct(t.Context(), keyed(op("x", "l", 0, e.hourOf(0), ws...), "k")); err != nil || !res.OK {
				t.Fatalf("Deduct: OK %v, error %v", res.OK, err)
			}
		}},
		{"imported records", func(t *testing.T, s core.Store) {
			mustImport(t, s, core.ImportOptions{ID: "first"}, windowRec("x", ws[0], 3*credit, 0))
		}},
		{"an imported key", func(t *testing.T, s core.Store) {
			mustImport(t, s, core.ImportOptions{}, sample[len(sample)-1])
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := e.fresh(t)
			c.setup(t, s)
			before := exportState(t, s)
			usage := func() []int64 {
				res, err := s.Usage(t.Context(), op("x", "", 0, core.Span{}, ws...))
				if err != nil {
					t.Fatalf("Usage: %v", err)
				}
				return res.Used[:2]
			}
			used := usage()
			for _, opts := range []core.ImportOptions{{}, {ID: "another"}} {
				err := importRecords(t.Context(), s, sample, opts)
				if !errors.Is(err, core.ErrNotEmpty) {
					t.Errorf("Import(%+v) into a store holding %s: error %v, want one wrapping core.ErrNotEmpty", opts, c.name, err)
				}
				wantState(t, "after the refused import", s, before)
				if got := usage(); got[0] != used[0] || got[1] != used[1] {
					t.Errorf("after the refused import: Usage = %v, want %v", got, used)
				}
			}
		})
	}
}

// testImportMerge: Import with Merge adds records to a store's state as
// core.MergeWindow and core.MergeUsage say: a window counter of the same
// start adds its usage and joins its threshold bits, a later start replaces
// the counter and an earlier one is dropped; usage aggregates add; sums are
// capped at core.MaxUsage; a key the store holds stays as it is, and a
// missing one is added. The store then charges from the merged state.
func testImportMerge(t *testing.T, e *env) {
	minute := e.window(core.Minute, 0, 10*credit)
	dayW := e.window(core.Day, 0, unlimited)
	month := e.window(core.Month, 1, unlimited)
	year := e.window(core.Year, 0, unlimited)
	h0, h1 := e.hourOf(0), e.hourOf(1)

	// The state before: charged, and imported for counters near MaxUsage.
	first := keyed(op("c", "/a", 3*credit, h0, minute, dayW, month), "kept")
	kept := recordOf(first, e.mustDeduct(t, first))
	e.mustDeduct(t, op("c", "", 2*credit, h0, dayW))
	mustImport(t, e.store, core.ImportOptions{Merge: true},
		windowRec("c", year, core.MaxUsage-5, 0),
		usageRec("c", h1, "big", core.MaxUsage-5),
		windowRec("c", minute, 0, 0b1), // sets a bit only
	)
	before := exportState(t, e.store)

	// What to merge.
	added := keyed(op("c", "/b", credit, h1, minute), "added").Record(&[core.MaxQuotas]int64{credit})
	otherKept := kept
	otherKept.Cost, otherKept.Label = 9*credit, "/other"
	recs := []core.Record{
		windowRec("c", minute, 2*credit, 0b10),                              // same start: adds
		windowRec("c", e.window(core.Day, 1, unlimited), 4*credit, 0),       // later: replaces
		windowRec("c", e.window(core.Month, 0, unlimited), 100*credit, 0b1), // earlier: dropped
		windowRec("c", year, 10, 0),                                         // capped
		windowRec("new", minute, credit, 0),                                 // a new client
		usageRec("c", h0, "/a", 5*credit),                                   // adds
		usageRec("c", h0, "/new", 6*credit),                                 // a new label
		usageRec("c", h1, "big", 10),                                        // capped
		usageRec("new", h0, "", credit),                                     // a new client
		keyRec(otherKept),                                                   // held: stays
		keyRec(added),                                                       // missing: added
	}
	want := state{}
	for r := range before {
		want[r] = true
	}
	for i := range recs {
		mergeInto(want, &recs[i])
	}
	mustImport(t, e.store, core.ImportOptions{Merge: true}, recs...)
	wantState(t, "after the merge", e.store, want)

	// The same, through the other methods.
	e.wantUsage(t, "after the merge", "c", []core.Window{minute, e.window(core.Day, 1, unlimited), month, year},
		5*credit, 4*credit, 3*credit, core.MaxUsage)
	e.wantUsage(t, "a new client", "new", []core.Window{minute}, credit)
	e.wantReport(t, "after the merge", "c", h0.Start, h1.End, records{
		rec(h0, "/a"): 8 * credit, rec(h0, ""): 2 * credit, rec(h0, "/new"): 6 * credit, rec(h1, "big"): core.MaxUsage,
	})
	wantReplay(t, "the key held before the merge", e.deduct(t, clone(first)), kept)
	addedOp := added.Op()
	wantReplay(t, "the merged key", e.deduct(t, &addedOp), added)
	res := e.mustDeduct(t, op("c", "/a", 5*credit, h0, levels(minute, 2*credit, 4*credit, 5*credit)))
	wantUsed(t, "a charge after the merge", res, 10*credit)
	wantFired(t, "a charge after the merge", res, 0, 0b100)
}

// mergeInto applies the contract's merge of rec to the state st, with the
// helpers core.MergeWindow and core.MergeUsage.
func mergeInto(st state, rec *core.Record) {
	for r := range st {
		if r.Kind != rec.Kind || r.Client != rec.Client {
			continue
		}
		switch {
		case r.Kind == core.RecordWindow && r.Period == rec.Period:
			delete(st, r)
			m := core.MergeWindow(core.WindowState{Start: r.Start, End: r.End, Used: r.Used, Fired: r.Fired, Held: true}, rec, true)
			n, _ := normalize(&core.Record{Kind: r.Kind, Client: r.Client, Period: r.Period, Start: m.Start, End: m.End, Used: m.Used, Fired: m.Fired})
			st[n] = true
			return
		case r.Kind == core.RecordUsage && r.Start == rec.Start && r.Label == rec.Label:
			delete(st, r)
			r.Used = core.MergeUsage(r.Used, rec.Used, true)
			st[r] = true
			return
		case r.Kind == core.RecordKey && r.Key.Key == rec.Key.Key:
			return
		}
	}
	if n, ok := normalize(rec); ok {
		st[n] = true
	}
}

// testImportResume: an import with an ID that fails part way (next
// returns an error) returns that error and leaves a store that is not
// empty to any other import; an import of the same ID, without Merge, then
// writes its records as they are, so the store ends exactly as after one
// clean import (nothing counted twice), and the ID is forgotten when it
// completes.
func testImportResume(t *testing.T, e *env) {
	src := e.fresh(t)
	fill(t, src, e.base)
	recs := exportRecords(t, src)
	want := checkExport(t, recs)
	if len(recs) < 4 {
		t.Fatalf("a filled store exported %d records", len(recs))
	}
	errBroken := errors.New("storetest: the export broke off")
	cases := []struct {
		name string
		cut  int // records returned before the error
	}{
		{"after some records", len(recs) / 2},
		{"after all records, before the end", len(recs)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := e.fresh(t)
			const id = "import-1"
			err := s.Import(t.Context(), recordsThen(recs[:c.cut], errBroken), core.ImportOptions{ID: id})
			if !errors.Is(err, errBroken) {
				t.Fatalf("Import whose next fails: error %v, want one wrapping next's", err)
			}
			partial := exportState(t, s)
			for _, opts := range []core.ImportOptions{{}, {ID: "import-2"}} {
				if err := importRecords(t.Context(), s, recs, opts); !errors.Is(err, core.ErrNotEmpty) {
					t.Errorf("Import(%+v) after an unfinished import: error %v, want one wrapping core.ErrNotEmpty", opts, err)
				}
			}
			wantState(t, "after the refused imports", s, partial)

			if err := importRecords(t.Context(), s, recs, core.ImportOptions{ID: id}); err != nil {
				t.Fatalf("Import resuming the unfinished import: %v", err)
			}
			wantState(t, "after resuming", s, want)
			// Every observable matches the source.
			compareObservables(t, src, s, want)

			if err := importRecords(t.Context(), s, recs, core.ImportOptions{ID: id}); !errors.Is(err, core.ErrNotEmpty) {
				t.Errorf("Import of a completed import's ID: error %v, want one wrapping core.ErrNotEmpty", err)
			}
		})
	}
}

// testImportNilRecord: a next function that returns a nil record without an
// error (a bug of the caller's) makes Import fail with an error, without a
// panic, whether the nil comes first or after records.
func testImportNilRecord(t *testing.T, e *env) {
	sample := e.importSample()
	for _, before := range []int{0, 2} {
		s := e.fresh(t)
		recs := recordsThen(sample[:before], nil)
		var err error
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("Import with a nil record after %d records panicked: %v", before, v)
				}
			}()
			err = s.Import(t.Context(), recs, core.ImportOptions{})
		}()
		if err == nil {
			t.Errorf("Import with a nil record after %d records: no error", before)
		}
	}
}
