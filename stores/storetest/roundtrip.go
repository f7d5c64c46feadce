package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Fill writes a varied state into s through Deduct and Refund, as a
// source for [RoundTrip]: several clients whose IDs hold ':', '{', NUL,
// bytes that are not UTF-8 and the longest length; minute, hour, day and
// month windows, some replaced by later ones; charges in many hours under
// several labels, the empty label included; threshold bits; idempotency
// keys, one of them refunded and one of a zero cost for a client with no
// other state. The windows lie a few days ahead of the wall clock, and the
// keys expire a week after their charges. It fails the test if s refuses a
// charge or returns an error.
func Fill(t testing.TB, s core.Store) {
	t.Helper()
	fill(t, s, suiteBase())
}

// RoundTrip copies the whole state of from into to, which must be empty,
// with Export and Import, as a migration between stores does, and checks
// that to then shows every observable as from does: the same exported
// state (window counters with their threshold bits, usage aggregates and
// keys, leaving out counters and aggregates that hold nothing), the same
// Usage of every window counter, the same Report of every client, and a
// replay of every key (a Deduct with the key's record answers Replayed
// with that record and charges nothing). It changes nothing in from.
//
// A store's tests use it to check migrations from the memory store into the
// store and back, for example:
//
//	func TestMigration(t *testing.T) {
//		mem := memory.New()
//		storetest.Fill(t, mem)
//		s := open(t)
//		storetest.RoundTrip(t, mem, s)
//		storetest.RoundTrip(t, s, memory.New())
//	}
func RoundTrip(t testing.TB, from, to core.Store) {
	t.Helper()
	if st := exportState(t, to); len(st) != 0 {
		t.Fatalf("storetest: RoundTrip expects an empty target; it holds %d records", len(st))
	}
	recs := exportRecords(t, from)
	want := checkExport(t, recs)
	if err := importRecords(t.Context(), to, recs, core.ImportOptions{ID: "storetest-roundtrip"}); err != nil {
		t.Fatalf("Import of %d exported records: %v", len(recs), err)
	}
	wantState(t, "the target after the import", to, want)
	compareObservables(t, from, to, want)
	wantState(t, "the source after the round trip", from, want)
}

// compareObservables checks that from and to both show the state st
// through Usage, Report and key replays on to.
func compareObservables(t testing.TB, from, to core.Store, st state) {
	t.Helper()
	ctx := t.Context()
	type span struct{ from, to int64 }
	reports := map[string]*span{}
	usage := map[string]records{}
	for _, r := range st.records() {
		switch r.Kind {
		case core.RecordWindow:
			o := &core.Op{Client: r.Client, N: 1}
			o.List[0] = core.Window{Period: r.Period, Start: r.Start, End: r.End, Limit: -1}
			for _, s := range []struct {
				name  string
				store core.Store
			}{{"source", from}, {"target", to}} {
				res, err := s.store.Usage(ctx, o)
				if err != nil {
					t.Fatalf("Usage(%s) on the %s: %v", fmtLabel(r.Client), s.name, err)
				}
				if res.Used[0] != r.Used {
					t.Errorf("Usage of %s on the %s = %v, want %v", fmtRecord(&r), s.name, res.Used[0], r.Used)
				}
			}
		case core.RecordUsage:
			sp := reports[r.Client]
			if sp == nil {
				sp = &span{r.Start, r.Start + 1}
				reports[r.Client] = sp
			}
			sp.from, sp.to = min(sp.from, r.Start), max(sp.to, r.Start+1)
			if usage[r.Client] == nil {
				usage[r.Client] = records{}
			}
			usage[r.Client][recKey{r.Start, r.End, r.Label}] = r.Used
		}
	}
	for client, sp := range reports {
		for _, s := range []struct {
			name  string
			store core.Store
		}{{"source", from}, {"target", to}} {
			got, err := reportOf(ctx, s.store, client, sp.from, sp.to)
			if err != nil {
				t.Fatalf("Report(%s) on the %s: %v", fmtLabel(client), s.name, err)
			}
			if !equalRecords(got, usage[client]) {
				t.Errorf("Report(%s) on the %s = %v, want %v", fmtLabel(client), s.name, got, usage[client])
			}
		}
	}
	for _, r := range st.records() {
		if r.Kind != core.RecordKey || r.Key.At >= r.Key.Expires {
			continue
		}
		o := r.Key.Op()
		res, err := to.Deduct(ctx, &o)
		if err != nil {
			t.Fatalf("Deduct with the key %q of %q on the target: %v", r.Key.Key, r.Client, err)
		}
		if !res.OK || !res.Replayed || res.Record == nil || *res.Record != r.Key {
			t.Errorf("Deduct with the key %q of %q on the target = {OK %v Replayed %v Conflict %v Record %s}, want a replay of %s",
				r.Key.Key, r.Client, res.OK, res.Replayed, res.Conflict, fmtKey(res.Record), fmtKey(&r.Key))
		}
	}
}

// reportOf returns a client's report as records, zero aggregates left out.
func reportOf(ctx context.Context, s core.Store, client string, from, to int64) (records, error) {
	recs, err := s.Report(ctx, core.ReportQuery{Client: client, From: from, To: to})
	if err != nil {
		return nil, err
	}
	out := records{}
	for _, r := range recs {
		if r.Credits != 0 {
			out[rec(r.Bucket, r.Label)] += r.Credits
		}
	}
	return out, nil
}

// fillClients are the clients Fill charges.
var fillClients = []string{"acme", "a:b", "{a}", "a\x00b", "\xff\xfe", strings.Repeat("z", core.MaxClientIDLen)}

// fillKeysOnly is the client of Fill that holds only a key.
const fillKeysOnly = "keys only"

// filled is what fill wrote: the last op charged to each client, with the
// levels of its windows.
type filled struct {
	last map[string]*core.Op
}

// fill writes Fill's state, with windows placed from base.
func fill(t testing.TB, s core.Store, base int64) *filled {
	t.Helper()
	ctx := t.Context()
	f := &filled{last: map[string]*core.Op{}}
	const (
		minute = int64(time.Minute)
		week   = 7 * day
	)
	at := func(n, start, size int64) int64 { return start + (n-start)/size*size }
	for ci, client := range fillClients {
		u := int64(ci+1) * credit / 10
		windows := func(n int64) []core.Window {
			m := at(n, base, minute)
			h := at(n, base, hour)
			d := at(n, base, day)
			return []core.Window{
				levels(core.Window{Period: core.Minute, Start: m, End: m + minute, Limit: 10 * u}, 5*u),
				levels(core.Window{Period: core.Hour, Start: h, End: h + hour, Limit: 100 * u}, 5*u, 10*u),
				levels(core.Window{Period: core.Day, Start: d, End: d + day, Limit: 1000 * u}, 10*u, 20*u),
				{Period: core.Month, Start: base - 10*day, End: base + 21*day, Limit: -1},
			}
		}
		charges := []struct {
			at     int64
			label  string
			cost   int64
			key    string
			refund bool
		}{
			{0, "", 3 * u, "k-0", false},
			{20e9, "/a", 4 * u, "", false},
			{2 * minute, "GET /b", 2 * u, "", false},
			{70 * minute, "\x00\xff", u, "k-1", false},
			{5 * hour, "/a", 5 * u, "", false},
			{5*hour + 1e9, "/a", u, "k-refunded", true},
			{30 * hour, "", 2 * u, "", false},
			{30*hour + minute, "/a", 6 * u, "k-2", false},
		}
		for _, c := range charges {
			n := base + c.at
			h := at(n, base, hour)
			o := &core.Op{Client: client, Label: c.label, Cost: c.cost, Bucket: core.Span{Start: h, End: h + hour}, At: n}
			ws := windows(n)
			o.N = copy(o.List[:], ws)
			if c.key != "" {
				o.Key, o.KeyExpires = c.key, n+week
			}
			res, err := s.Deduct(ctx, o)
			if err != nil || !res.OK || res.Replayed {
				t.Fatalf("Fill: Deduct(%s, %v at %s): OK %v, Replayed %v, error %v; want a charge", fmtLabel(client), c.cost, fmtTime(n), res.OK, res.Replayed, err)
			}
			if c.refund {
				if err := s.Refund(ctx, clone(o)); err != nil {
					t.Fatalf("Fill: Refund(%s, key %q): %v", fmtLabel(client), o.Key, err)
				}
				continue
			}
			f.last[client] = clone(o)
		}
	}
	o := &core.Op{Client: fillKeysOnly, Label: "/status", Bucket: core.Span{Start: base, End: base + hour}, At: base,
		Key: "free", KeyExpires: base + week, N: 1}
	o.List[0] = core.Window{Period: core.Minute, Start: base, End: base + minute, Limit: 0}
	if res, err := s.Deduct(ctx, o); err != nil || !res.OK {
		t.Fatalf("Fill: Deduct of a zero cost: OK %v, error %v", res.OK, err)
	}
	return f
}

// wantKinds checks that a state holds what fill wrote: window counters
// with threshold bits, usage aggregates under the empty label and others,
// and keys, among them the key of the client with no other state and not
// the refunded one.
func wantKinds(t testing.TB, what string, st state) {
	t.Helper()
	var fired, emptyLabel, labels, keys, keysOnly, refunded bool
	for r := range st {
		switch r.Kind {
		case core.RecordWindow:
			fired = fired || r.Fired != 0
			if r.Client == fillKeysOnly {
				t.Errorf("%s: a window counter of a client charged only a zero cost: %s", what, fmtRecord(&r))
			}
		case core.RecordUsage:
			emptyLabel = emptyLabel || r.Label == ""
			labels = labels || r.Label != ""
		case core.RecordKey:
			keys = true
			keysOnly = keysOnly || r.Client == fillKeysOnly
			refunded = refunded || r.Key.Key == "k-refunded"
		}
	}
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{fired, "no window counter with threshold bits"},
		{emptyLabel, "no usage aggregate of the empty label"},
		{labels, "no usage aggregate of a label"},
		{keys, "no idempotency key"},
		{keysOnly, "no key of the client charged only a zero cost"},
		{!refunded, "the key of a refunded charge"},
	} {
		if !c.ok {
			t.Errorf("%s: the exported state has %s", what, c.what)
		}
	}
}

// probe charges one micro-credit to the windows of o on s and checks the
// usage and threshold bits against the state st that s held: each window
// continues from its exported counter, and reports only the bits that
// counter had not set.
func probe(t testing.TB, what string, s core.Store, o *core.Op, st state) core.Result {
	t.Helper()
	p := clone(o)
	p.Cost, p.Key, p.KeyExpires = 1, "", 0
	var wantUsed [core.MaxQuotas]int64
	var wantFired [core.MaxQuotas]uint8
	for i, w := range p.Windows() {
		var used int64
		var fired uint8
		for r := range st {
			if r.Kind == core.RecordWindow && r.Client == p.Client && r.Period == w.Period && r.Start == w.Start {
				used, fired = r.Used, r.Fired
			}
		}
		wantUsed[i] = used + 1
		wantFired[i] = w.Reached(used+1, fired)
	}
	res, err := s.Deduct(t.Context(), p)
	if err != nil || !res.OK {
		t.Fatalf("%s: Deduct(%q) of one micro-credit: OK %v, error %v", what, p.Client, res.OK, err)
	}
	if res.Used != wantUsed || res.Fired != wantFired || res.Reset != 0 {
		t.Errorf("%s: Deduct(%q) of one micro-credit = Used %v Fired %v Reset %b, want Used %v Fired %v Reset 0",
			what, p.Client, res.Used[:p.N], res.Fired[:p.N], res.Reset, wantUsed[:p.N], wantFired[:p.N])
	}
	return res
}
