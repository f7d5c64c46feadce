// Package difftest checks a [core.Store] against the reference
// implementation, the memory store: it runs the same random operations on
// both (keyed charges, replays and conflicts, refunds, renewals, counters
// near [core.MaxUsage], threshold levels, deletions, reports, exports and
// imports) and fails at the first answer that differs. It complements the
// conformance suite in stores/storetest, whose cases are written by hand,
// for stores outside the root module.
package difftest

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// Run runs steps random operations, drawn from seed, on a store that open
// returns and on a memory store, and compares every result; then it
// compares their exports, imports the export into a second store from
// open, merges the memory store's export into a third, and compares those
// too. open must return a new, empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) core.Store, seed uint64, steps int) {
	t.Helper()
	d := &diff{t: t, got: open(t), want: memory.New(), rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	defer d.got.Close()
	defer d.want.Close()
	d.base = time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour).UnixNano()
	d.seedNearMax()
	for i := range steps {
		d.step = i
		if i%100 == 50 {
			d.seedNearMax()
		}
		d.randomOp()
		if t.Failed() {
			return
		}
	}
	// The random ops must have reached every kind of answer, or the
	// comparison proved little.
	for what, n := range map[string]int{"admitted": d.seen.ok, "refused": d.seen.refused, "overflow": d.seen.overflow,
		"replayed": d.seen.replayed, "conflict": d.seen.conflict, "fired": d.seen.fired, "reset": d.seen.reset} {
		if n == 0 {
			t.Errorf("no deduction was %s in %d steps: the random ops miss a case", what, steps)
		}
	}
	t.Logf("deductions: %+v", d.seen)
	want := d.export(d.want)
	if got := d.export(d.got); !reflect.DeepEqual(got, want) {
		t.Fatalf("exports differ: %s", firstDiff(got, want))
	}

	// The export imported into an empty store is the same state.
	copyStore := open(t)
	defer copyStore.Close()
	if err := copyStore.Import(t.Context(), feed(want), core.ImportOptions{ID: "copy"}); err != nil {
		t.Fatalf("Import into an empty store: %v", err)
	}
	if got := d.export(copyStore); !reflect.DeepEqual(got, want) {
		t.Fatalf("export of the imported copy differs: %s", firstDiff(got, want))
	}
	// Into a store that is not empty: refused without Merge, unless it
	// resumes an import of the same ID that did not finish.
	if err := copyStore.Import(t.Context(), feed(want), core.ImportOptions{}); !errors.Is(err, core.ErrNotEmpty) {
		t.Fatalf("Import into a store that is not empty: %v, want ErrNotEmpty", err)
	}
	d.checkResume(open, want)
	d.checkMerge(open, want)
}

type diff struct {
	t         *testing.T
	got, want core.Store
	rnd       *rand.Rand
	base      int64
	step      int
	at        int64
	seen      struct{ ok, refused, overflow, replayed, conflict, fired, reset int }
	lastKeyed *core.Op // retried now and then, to be replayed

	// Set by RunConcurrent: the one client of this diff's ops, the
	// failure report (t.Errorf: it runs in a goroutine of its own) and
	// each client's clock for the final export.
	client  string
	fail    func(format string, args ...any)
	clockOf map[string]int64
}

// fatalf reports a difference and stops this diff's ops.
func (d *diff) fatalf(format string, args ...any) {
	d.t.Helper()
	if d.fail != nil {
		d.fail(format, args...)
		return
	}
	d.t.Fatalf(format, args...)
}

var clients = []string{"a", "b\x00\xff", "c"}

// periods the random ops use, with their lengths.
var periods = []struct {
	p   core.Period
	len int64
}{
	{core.Minute, int64(time.Minute)},
	{core.Hour, int64(time.Hour)},
	{core.Day, int64(24 * time.Hour)},
}

const (
	credit = 1_000_000
	maxMic = int64(1<<53 - 1)
)

// seedNearMax imports (merges, after the first time), into both stores,
// counters and an aggregate of client "c" at the current time a little
// below MaxUsage, so that charges overflow them.
func (d *diff) seedNearMax(clients ...string) {
	if clients == nil {
		clients = []string{"c"}
	}
	var recs []core.Record
	now := d.base + d.at
	for _, c := range clients {
		for _, p := range periods {
			s := now - now%p.len
			recs = append(recs, core.Record{Kind: core.RecordWindow, Client: c, Period: p.p, Start: s, End: s + p.len,
				Used: math.MaxInt64 - 3*credit, Fired: 1})
		}
		h := now - now%int64(time.Hour)
		recs = append(recs, core.Record{Kind: core.RecordUsage, Client: c, Start: h, End: h + int64(time.Hour),
			Label: "big", Used: math.MaxInt64 - 2*credit})
	}
	for _, s := range []core.Store{d.got, d.want} {
		if err := s.Import(d.t.Context(), feed(recs), core.ImportOptions{Merge: d.at != 0}); err != nil {
			d.t.Fatalf("seeding: Import: %v", err)
		}
	}
}

// op returns a random op at the current time.
func (d *diff) op() *core.Op {
	r := d.rnd
	// Time mostly moves forward, by up to two hours, and now and then
	// steps back into an earlier window.
	// The clock (At, which keys expire by) only moves forward; the windows
	// and hour are now and then those of an earlier time, as an instance
	// whose clock lags computes them.
	d.at += r.Int64N(int64(10 * time.Minute))
	at := d.base + d.at
	o := &core.Op{Client: clients[r.IntN(len(clients))], At: at}
	if d.client != "" {
		o.Client = d.client
	}
	if r.IntN(10) == 0 {
		at -= r.Int64N(int64(30 * time.Minute))
	}
	o.Bucket.Start = at - at%int64(time.Hour)
	o.Bucket.End = o.Bucket.Start + int64(time.Hour)
	o.Label = []string{"", "/a", "big"}[r.IntN(3)]
	switch r.IntN(10) {
	case 0:
		o.Cost = 0
	case 1:
		o.Cost = maxMic
	default:
		o.Cost = r.Int64N(5*credit) + 1
	}
	for _, p := range periods {
		if r.IntN(4) == 0 {
			continue
		}
		s := at - ((at%p.len)+p.len)%p.len
		w := core.Window{Period: p.p, Start: s, End: s + p.len, Limit: []int64{-1, 20 * credit, 200 * credit, maxMic}[r.IntN(4)]}
		for j := range core.MaxLevels {
			if r.IntN(2) == 0 {
				w.Levels[j] = int64(j+1) * 5 * credit
			}
		}
		o.List[o.N] = w
		o.N++
	}
	if r.IntN(3) == 0 {
		o.Key = fmt.Sprintf("k%d", r.IntN(6))
		o.KeyExpires = o.At + int64(time.Hour)
		if d.client != "" {
			// The memory store drops the keys of all clients of a shard
			// that have expired at the time of the op: with a clock per
			// goroutine, keys must outlive every clock.
			o.KeyExpires = o.At + int64(1000*time.Hour)
		}
		if d.lastKeyed != nil {
			switch r.IntN(4) {
			case 0: // a retry of the last keyed charge: a replay
				o.Cost, o.Label, o.Key = d.lastKeyed.Cost, d.lastKeyed.Label, d.lastKeyed.Key
			case 1: // another charge under the last key: a conflict
				o.Cost, o.Label, o.Key = d.lastKeyed.Cost+1, d.lastKeyed.Label, d.lastKeyed.Key
			}
		}
		last := *o
		d.lastKeyed = &last
	}
	return o
}

func (d *diff) randomOp() {
	t := d.t
	ctx := t.Context()
	o := d.op()
	switch k := d.rnd.IntN(20); {
	case k < 12:
		got, gerr := d.got.Deduct(ctx, o)
		want, werr := d.want.Deduct(ctx, o)
		d.same("Deduct", o, got, gerr, want, werr)
		d.count(&want)
	case k < 15:
		if d.rnd.IntN(2) == 0 {
			o.Key = ""
		}
		gerr := d.got.Refund(ctx, o)
		werr := d.want.Refund(ctx, o)
		d.same("Refund", o, nil, gerr, nil, werr)
	case k < 17:
		got, gerr := d.got.Usage(ctx, o)
		want, werr := d.want.Usage(ctx, o)
		d.same("Usage", o, got, gerr, want, werr)
	case k < 19:
		q := core.ReportQuery{Client: o.Client, From: o.Bucket.Start - 3*int64(time.Hour), To: o.Bucket.End}
		got, gerr := d.got.Report(ctx, q)
		want, werr := d.want.Report(ctx, q)
		sortUsage(got)
		sortUsage(want)
		d.same("Report", q, got, gerr, want, werr)
	default:
		del := &core.DeleteOp{Client: o.Client, From: o.Bucket.Start - int64(time.Hour), To: o.Bucket.End, N: o.N, List: o.List}
		got, gerr := d.got.Delete(ctx, del)
		want, werr := d.want.Delete(ctx, del)
		d.same("Delete", del, got, gerr, want, werr)
	}
}

// RunConcurrent runs random operations from goroutines at once, each on
// a client of its own (so that a store's group commit gathers the
// deductions of many clients in one batch), steps per goroutine, drawn
// from seed, on a store that open returns and on a memory store; it
// compares every answer (the clients are independent, so each one's
// answers do not depend on how the goroutines interleave) and then the
// exports. Half the clients are seeded near [core.MaxUsage] first.
func RunConcurrent(t *testing.T, open func(t *testing.T) core.Store, seed uint64, goroutines, steps int) {
	t.Helper()
	got, want := open(t), memory.New()
	defer got.Close()
	defer want.Close()
	base := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour).UnixNano()
	names := make([]string, goroutines)
	for i := range names {
		names[i] = fmt.Sprintf("client %d \x00\xff", i)
	}
	seed0 := &diff{t: t, got: got, want: want, base: base}
	seed0.seedNearMax(names[:goroutines/2]...)
	var (
		mu    sync.Mutex
		total diff
		wg    sync.WaitGroup
	)
	clock := make(map[string]int64)
	for i, name := range names {
		d := &diff{t: t, got: got, want: want, base: base, client: name, fail: t.Errorf,
			rnd: rand.New(rand.NewPCG(seed+uint64(i), seed^0x9e3779b97f4a7c15))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range steps {
				d.step = j
				d.randomOp()
				if t.Failed() {
					return
				}
			}
			mu.Lock()
			defer mu.Unlock()
			clock[name] = d.at
			s, n := &total.seen, d.seen
			s.ok += n.ok
			s.refused += n.refused
			s.overflow += n.overflow
			s.replayed += n.replayed
			s.conflict += n.conflict
			s.fired += n.fired
			s.reset += n.reset
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for what, n := range map[string]int{"admitted": total.seen.ok, "refused": total.seen.refused, "overflow": total.seen.overflow,
		"replayed": total.seen.replayed, "conflict": total.seen.conflict, "fired": total.seen.fired, "reset": total.seen.reset} {
		if n == 0 {
			t.Errorf("no deduction was %s in %d steps of %d goroutines: the random ops miss a case", what, steps, goroutines)
		}
	}
	t.Logf("deductions: %+v", total.seen)
	d := &diff{t: t, base: base, clockOf: clock}
	w := d.export(want)
	if g := d.export(got); !reflect.DeepEqual(g, w) {
		t.Fatalf("exports differ: %s", firstDiff(g, w))
	}
}

func (d *diff) count(r *core.Result) {
	switch {
	case r.Replayed:
		d.seen.replayed++
	case r.Conflict:
		d.seen.conflict++
	case r.OK:
		d.seen.ok++
	case r.Overflow:
		d.seen.overflow++
	default:
		d.seen.refused++
	}
	if r.Reset != 0 {
		d.seen.reset++
	}
	for _, f := range r.Fired {
		if f != 0 {
			d.seen.fired++
			break
		}
	}
}

func (d *diff) same(what string, arg, got any, gerr error, want any, werr error) {
	d.t.Helper()
	if (gerr == nil) != (werr == nil) {
		d.fatalf("step %d: %s(%+v): error %v, want %v", d.step, what, arg, gerr, werr)
		return
	}
	if !reflect.DeepEqual(got, want) {
		d.fatalf("step %d: %s(%+v):\n got %+v\nwant %+v", d.step, what, arg, got, want)
	}
}

func sortUsage(r []core.UsageRecord) {
	slices.SortFunc(r, func(a, b core.UsageRecord) int {
		return cmp.Or(cmp.Compare(a.Bucket.Start, b.Bucket.Start), cmp.Compare(a.Label, b.Label))
	})
}

// export returns s's export, sorted, without aggregates of zero credits
// (a store may keep or drop them) and without keys expired on the ops'
// clock (which runs ahead of the wall clock Export goes by: a store may
// keep or drop them).
func (d *diff) export(s core.Store) []core.Record {
	d.t.Helper()
	var out []core.Record
	if err := s.Export(d.t.Context(), func(r *core.Record) error {
		now := d.base + d.at
		if d.clockOf != nil {
			now = d.base + d.clockOf[r.Client]
		}
		if r.Kind == core.RecordUsage && r.Used == 0 || r.Kind == core.RecordKey && r.Key.Expires <= now {
			return nil
		}
		out = append(out, *r)
		return nil
	}); err != nil {
		d.t.Fatalf("Export: %v", err)
	}
	slices.SortFunc(out, func(a, b core.Record) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Client, b.Client), cmp.Compare(a.Period, b.Period),
			cmp.Compare(a.Start, b.Start), cmp.Compare(a.Label, b.Label), cmp.Compare(a.Key.Key, b.Key.Key))
	})
	return out
}

// feed returns a next function for Import that yields recs.
func feed(recs []core.Record) func() (*core.Record, error) {
	i := 0
	return func() (*core.Record, error) {
		if i == len(recs) {
			return nil, io.EOF
		}
		r := recs[i]
		i++
		return &r, nil
	}
}

// checkResume interrupts an import with an ID half-way, and checks that
// another import is refused but the same ID resumes it.
func (d *diff) checkResume(open func(t *testing.T) core.Store, recs []core.Record) {
	t := d.t
	if len(recs) < 2 {
		return
	}
	s := open(t)
	defer s.Close()
	failAt := len(recs) / 2
	next := feed(recs)
	n := 0
	errBroken := errors.New("the export broke off")
	err := s.Import(t.Context(), func() (*core.Record, error) {
		if n++; n > failAt {
			return nil, errBroken
		}
		return next()
	}, core.ImportOptions{ID: "resumable"})
	if !errors.Is(err, errBroken) {
		t.Fatalf("interrupted Import: %v, want the error of next", err)
	}
	if err := s.Import(t.Context(), feed(recs), core.ImportOptions{ID: "another"}); !errors.Is(err, core.ErrNotEmpty) {
		t.Fatalf("Import of another ID into an interrupted import: %v, want ErrNotEmpty", err)
	}
	if err := s.Import(t.Context(), feed(recs), core.ImportOptions{ID: "resumable"}); err != nil {
		t.Fatalf("resumed Import: %v", err)
	}
	if got := d.export(s); !reflect.DeepEqual(got, recs) {
		t.Fatalf("export after the resumed import differs: %s", firstDiff(got, recs))
	}
}

// checkMerge merges recs into a store and a memory store that hold other
// records of the same clients, and compares the results.
func (d *diff) checkMerge(open func(t *testing.T) core.Store, recs []core.Record) {
	t := d.t
	s := open(t)
	defer s.Close()
	m := memory.New()
	defer m.Close()
	var other []core.Record
	for _, r := range recs {
		switch r.Kind {
		case core.RecordWindow:
			r.Used /= 3
			r.Fired = 2
			if d.rnd.IntN(3) == 0 {
				r.Start += int64(time.Second) // a later window
			}
		case core.RecordUsage:
			r.Used = r.Used/2 + 1
		case core.RecordKey:
			r.Key.Cost++
		}
		other = append(other, r)
	}
	for _, st := range []core.Store{s, m} {
		if err := st.Import(t.Context(), feed(other), core.ImportOptions{}); err != nil {
			t.Fatalf("Import: %v", err)
		}
		if err := st.Import(t.Context(), feed(recs), core.ImportOptions{Merge: true}); err != nil {
			t.Fatalf("Import with Merge: %v", err)
		}
	}
	if got, want := d.export(s), d.export(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("export after merging differs: %s", firstDiff(got, want))
	}
}

// firstDiff describes the first record where got and want differ.
func firstDiff(got, want []core.Record) string {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("record %d of %d/%d:\n got %s\nwant %s", i, len(got), len(want), show(&got[i]), show(&want[i]))
		}
	}
	return fmt.Sprintf("%d records, want %d", len(got), len(want))
}

func show(r *core.Record) string {
	switch r.Kind {
	case core.RecordWindow:
		return fmt.Sprintf("window %q %v [%d, %d) used %d fired %b", r.Client, r.Period, r.Start, r.End, r.Used, r.Fired)
	case core.RecordUsage:
		return fmt.Sprintf("usage %q [%d, %d) %q used %d", r.Client, r.Start, r.End, r.Label, r.Used)
	}
	k := &r.Key
	return fmt.Sprintf("key %q %q label %q cost %d at %d expires %d hour %v windows %v used %v",
		k.Client, k.Key, k.Label, k.Cost, k.At, k.Expires, k.Bucket, k.Windows(), k.Used[:k.N])
}
