package redis

import (
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// TestMatchesMemory applies the same random sequences of operations to the
// memory store, the reference implementation of the contract, and to
// Redis, and checks that every answer is the same: each Deduct's Result
// (admission, usage, overflow, threshold bits, resets, replays and
// conflicts with their records), Refund by key or by op, Usage, Report,
// Delete, merging imports (values up to core.MaxUsage included, so that
// counters overflow) and Export. Time moves forward by minutes to hours,
// now and then backwards (a lagging clock), so windows renew, hours move to
// their day hashes and late charges reach older hours.
const diffCheckAll = true

func TestMatchesMemory(t *testing.T) {
	c := newClient(t)
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			r := &diffRun{
				t:   t,
				rnd: rand.New(rand.NewPCG(uint64(seed), 42)),
				mem: memory.New(),
				red: newStore(t, c, &Options{Timeout: 10 * time.Second}),
			}
			r.base = future()
			r.now = r.base
			r.run(400)
		})
	}
}

type diffRun struct {
	t      *testing.T
	rnd    *rand.Rand
	mem    *memory.Store
	red    *Store
	base   int64
	now    int64
	latest int64 // the latest time of the run
	// keyExp is when the record of each client's key expires. The memory
	// store may drop a record once a charge's time passes its expiry, so
	// after the clock moved back the test avoids keys whose record has
	// expired at the latest time but not at the current one.
	keyExp   map[[2]string]int64
	log      []string
	limits   map[string][core.MaxQuotas]int64 // per client, per period: limit (0: no quota)
	admitted []core.Op
	keySeq   int
}

var diffClients = []string{"a", "b{x}", "c:\x00"}

// periodLen are the fixed window lengths the test uses per period.
var periodLen = [core.MaxQuotas]int64{
	core.Second: int64(time.Minute), // longer than a second, so that windows hold usage for a few steps
	core.Minute: int64(10 * time.Minute),
	core.Hour:   hour,
	core.Day:    day,
	core.Week:   7 * day,
	core.Month:  31 * day,
	core.Year:   365 * day,
}

func (r *diffRun) limit() int64 {
	switch r.rnd.IntN(5) {
	case 0:
		return -1
	case 1:
		return core.MaxCredits.Micro()
	}
	return int64(r.rnd.IntN(60)) * credit
}

// quotas picks new quotas for client.
func (r *diffRun) quotas(client string) {
	var l [core.MaxQuotas]int64
	for _, p := range r.rnd.Perm(core.MaxQuotas)[:1+r.rnd.IntN(3)] {
		l[p] = r.limit()
		if l[p] == 0 {
			l[p] = credit
		}
	}
	r.limits[client] = l
}

// op returns an op of client at the current time.
func (r *diffRun) op(client string) *core.Op {
	o := &core.Op{Client: client, At: r.now}
	h := r.now - ((r.now%hour)+hour)%hour
	o.Bucket = core.Span{Start: h, End: h + hour}
	base := r.base
	alerts := r.rnd.IntN(3) == 0
	for p, l := range r.limits[client] {
		if l == 0 {
			continue
		}
		n := periodLen[p]
		s := base + ((r.now-base)/n)*n
		if r.now < base && (r.now-base)%n != 0 {
			s -= n
		}
		w := core.Window{Period: core.Period(p), Start: s, End: s + n, Limit: l}
		if alerts && l > 0 {
			w.Levels = [core.MaxLevels]int64{l / 2, l * 8 / 10, l}
		}
		o.List[o.N] = w
		o.N++
	}
	return o
}

func (r *diffRun) cost() int64 {
	switch r.rnd.IntN(10) {
	case 0:
		return 0
	case 1:
		return core.MaxCredits.Micro()
	case 2:
		return int64(r.rnd.IntN(1000)) // fractions of a credit
	}
	return int64(1+r.rnd.IntN(8)) * credit
}

func (r *diffRun) run(steps int) {
	t := r.t
	r.limits = map[string][core.MaxQuotas]int64{}
	r.keyExp = map[[2]string]int64{}
	for _, c := range diffClients {
		r.quotas(c)
	}
	for step := range steps {
		client := diffClients[r.rnd.IntN(len(diffClients))]
		what := r.rnd.IntN(100)
		switch {
		case what < 45:
			r.deduct(step, client)
		case what < 55:
			r.refund(step)
		case what < 65:
			r.usage(step, client)
		case what < 73:
			r.report(step, client)
		case what < 77:
			r.delete(step, client)
		case what < 82:
			r.importMerge(step, client)
		case what < 85:
			r.export(step)
		case what < 88:
			r.quotas(client)
		case what < 92:
			r.now -= int64(r.rnd.IntN(40)) * int64(time.Minute) // a lagging clock
		default:
			r.now += int64(r.rnd.IntN(180)) * int64(time.Minute)
		}
		r.latest = max(r.latest, r.now)
		if diffCheckAll {
			for _, c := range diffClients {
				r.usage(step, c)
			}
			r.export(step)
		}
		if t.Failed() {
			t.Fatalf("stopped at step %d; the last operations:\n%s", step, strings.Join(r.log[max(0, len(r.log)-8):], "\n"))
		}
	}
	r.export(steps)
}

func (r *diffRun) deduct(step int, client string) {
	t := r.t
	o := r.op(client)
	o.Cost = r.cost()
	o.Label = []string{"", "/a", "/b", "GET /c?d=1"}[r.rnd.IntN(4)]
	if r.rnd.IntN(3) == 0 {
		o.Key = fmt.Sprintf("k%d", r.rnd.IntN(6))
		o.KeyExpires = o.At + []int64{int64(30 * time.Minute), 6 * hour}[r.rnd.IntN(2)]
		if e := r.keyExp[[2]string{client, o.Key}]; e > r.now && e <= r.latest {
			o.Key, o.KeyExpires = "", 0
		}
	}
	r.log = append(r.log, fmt.Sprintf("step %d: Deduct %+v", step, *o))
	m1 := *o
	m2 := *o
	want, err1 := r.mem.Deduct(t.Context(), &m1)
	got, err2 := r.red.Deduct(t.Context(), &m2)
	if err1 != nil || err2 != nil {
		t.Fatalf("step %d: Deduct: memory %v, redis %v", step, err1, err2)
	}
	if d := diffResult(got, want, o.N); d != "" {
		t.Errorf("step %d: Deduct(%q cost %d label %q key %q, %d windows):\n%s", step, client, o.Cost, o.Label, o.Key, o.N, d)
	}
	if want.OK && !want.Replayed && o.Key != "" {
		r.keyExp[[2]string{client, o.Key}] = o.KeyExpires
	}
	if want.OK && !want.Replayed && o.Cost > 0 {
		r.admitted = append(r.admitted, *o)
	}
}

func diffResult(got, want core.Result, n int) string {
	var b strings.Builder
	if got.OK != want.OK || got.Replayed != want.Replayed || got.Conflict != want.Conflict || got.Overflow != want.Overflow {
		fmt.Fprintf(&b, "  OK/Replayed/Conflict/Overflow = %v/%v/%v/%v, want %v/%v/%v/%v\n",
			got.OK, got.Replayed, got.Conflict, got.Overflow, want.OK, want.Replayed, want.Conflict, want.Overflow)
	}
	if got.Replayed || got.Conflict || want.Replayed || want.Conflict {
		switch {
		case got.Record == nil || want.Record == nil:
			fmt.Fprintf(&b, "  Record = %v, want %v\n", got.Record, want.Record)
		case *got.Record != *want.Record:
			fmt.Fprintf(&b, "  Record = %+v\n  want     %+v\n", *got.Record, *want.Record)
		}
		return b.String()
	}
	if !slices.Equal(got.Used[:n], want.Used[:n]) {
		fmt.Fprintf(&b, "  Used = %v, want %v\n", got.Used[:n], want.Used[:n])
	}
	if got.Fired != want.Fired || got.Reset != want.Reset {
		fmt.Fprintf(&b, "  Fired, Reset = %v, %b; want %v, %b\n", got.Fired[:n], got.Reset, want.Fired[:n], want.Reset)
	}
	return b.String()
}

func (r *diffRun) refund(step int) {
	t := r.t
	if len(r.admitted) == 0 {
		return
	}
	o := r.admitted[r.rnd.IntN(len(r.admitted))]
	if o.Key != "" && r.keyExp[[2]string{o.Client, o.Key}] <= r.latest {
		return // the memory store may have dropped the record, Redis not
	}
	if o.Key != "" {
		defer delete(r.keyExp, [2]string{o.Client, o.Key})
	}
	if o.Key != "" && r.rnd.IntN(3) == 0 {
		// By key alone: the store refunds what the record says.
		o = core.Op{Client: o.Client, Key: o.Key, At: r.now}
	}
	r.log = append(r.log, fmt.Sprintf("step %d: Refund %+v", step, o))
	m1, m2 := o, o
	err1 := r.mem.Refund(t.Context(), &m1)
	err2 := r.red.Refund(t.Context(), &m2)
	if err1 != nil || err2 != nil {
		t.Fatalf("step %d: Refund: memory %v, redis %v", step, err1, err2)
	}
}

func (r *diffRun) usage(step int, client string) {
	t := r.t
	o := r.op(client)
	want, err1 := r.mem.Usage(t.Context(), o)
	got, err2 := r.red.Usage(t.Context(), o)
	if err1 != nil || err2 != nil {
		t.Fatalf("step %d: Usage: memory %v, redis %v", step, err1, err2)
	}
	if !slices.Equal(got.Used[:o.N], want.Used[:o.N]) {
		t.Errorf("step %d: Usage(%q) = %v, want %v", step, client, got.Used[:o.N], want.Used[:o.N])
	}
}

func (r *diffRun) rangeNear() (int64, int64) {
	from := r.now - int64(r.rnd.IntN(72))*hour - int64(r.rnd.IntN(2))*int64(time.Minute)
	return from, from + int64(r.rnd.IntN(96))*hour
}

func sortUsage(recs []core.UsageRecord) []core.UsageRecord {
	slices.SortFunc(recs, func(a, b core.UsageRecord) int {
		return cmp.Or(cmp.Compare(a.Bucket.Start, b.Bucket.Start), strings.Compare(a.Label, b.Label))
	})
	return recs
}

func (r *diffRun) report(step int, client string) {
	t := r.t
	from, to := r.rangeNear()
	q := core.ReportQuery{Client: client, From: from, To: to}
	want, err1 := r.mem.Report(t.Context(), q)
	got, err2 := r.red.Report(t.Context(), q)
	if err1 != nil || err2 != nil {
		t.Fatalf("step %d: Report: memory %v, redis %v", step, err1, err2)
	}
	if g, w := sortUsage(got), sortUsage(want); !slices.Equal(g, w) {
		t.Errorf("step %d: Report(%q, %d h) =\n  %v\nwant\n  %v", step, client, (to-from)/hour, g, w)
	}
}

func (r *diffRun) delete(step int, client string) {
	t := r.t
	from, to := r.rangeNear()
	o := r.op(client)
	d := &core.DeleteOp{Client: client, From: from, To: to, N: o.N, List: o.List}
	want, err1 := r.mem.Delete(t.Context(), d)
	got, err2 := r.red.Delete(t.Context(), d)
	if err1 != nil || err2 != nil {
		t.Fatalf("step %d: Delete: memory %v, redis %v", step, err1, err2)
	}
	if got != want {
		t.Errorf("step %d: Delete(%q) = %d, want %d", step, client, got, want)
	}
}

// importMerge merges a few records into both stores: the client's current
// windows and hour with large usage (up to MaxUsage), and key records.
func (r *diffRun) importMerge(step int, client string) {
	t := r.t
	o := r.op(client)
	big := func() int64 {
		switch r.rnd.IntN(3) {
		case 0:
			return core.MaxUsage - int64(r.rnd.IntN(3))*core.MaxCredits.Micro()
		case 1:
			return int64(r.rnd.IntN(20)) * credit
		}
		return core.MaxUsage / 2
	}
	var recs []core.Record
	for _, w := range o.Windows() {
		if r.rnd.IntN(2) == 0 {
			recs = append(recs, core.Record{Kind: core.RecordWindow, Client: client, Period: w.Period,
				Start: w.Start, End: w.End, Used: big(), Fired: uint8(r.rnd.IntN(8))})
		}
	}
	recs = append(recs, core.Record{Kind: core.RecordUsage, Client: client, Start: o.Bucket.Start - int64(r.rnd.IntN(3))*hour,
		End: o.Bucket.End, Label: "/a", Used: big()})
	recs[len(recs)-1].End = recs[len(recs)-1].Start + hour
	r.keySeq++
	kop := *o
	kop.Key, kop.KeyExpires, kop.Cost, kop.Label = fmt.Sprintf("imported-%d", r.keySeq), o.At+hour, 3*credit, "/b"
	var u [core.MaxQuotas]int64
	for i := range kop.N {
		u[i] = int64(i+1) * credit
	}
	recs = append(recs, core.Record{Kind: core.RecordKey, Client: client, Key: kop.Record(&u)})
	r.keyExp[[2]string{client, kop.Key}] = kop.KeyExpires
	for _, s := range []core.Store{r.mem, r.red} {
		i := 0
		err := s.Import(t.Context(), func() (*core.Record, error) {
			if i == len(recs) {
				return nil, io.EOF
			}
			i++
			rec := recs[i-1]
			return &rec, nil
		}, core.ImportOptions{Merge: true})
		if err != nil {
			t.Fatalf("step %d: Import into %T: %v", step, s, err)
		}
	}
}

// export compares the exports of both stores, without the key records
// that have expired at the test's latest time (the memory store drops them
// when it records another key, Redis when their lifetime in real time
// ends).
func (r *diffRun) export(step int) {
	t := r.t
	want := exportAll(t, r.mem, r.latest)
	got := exportAll(t, r.red, r.latest)
	if !slices.EqualFunc(got, want, func(a, b core.Record) bool { return a == b }) {
		t.Errorf("step %d: Export differs:\n%s", step, diffRecords(got, want))
	}
}

// exportAll returns a store's export, sorted, without the key records that
// have expired at now.
func exportAll(t *testing.T, s core.Store, now int64) []core.Record {
	t.Helper()
	var out []core.Record
	err := s.Export(t.Context(), func(rec *core.Record) error {
		if rec.Kind != core.RecordKey || rec.Key.Expires > now {
			out = append(out, *rec)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export of %T: %v", s, err)
	}
	slices.SortFunc(out, compareRecords)
	return out
}

func compareRecords(a, b core.Record) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Client, b.Client), cmp.Compare(a.Period, b.Period),
		cmp.Compare(a.Start, b.Start), strings.Compare(a.Label, b.Label), strings.Compare(a.Key.Key, b.Key.Key))
}

func diffRecords(got, want []core.Record) string {
	var b strings.Builder
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case j == len(want) || i < len(got) && compareRecords(got[i], want[j]) < 0:
			fmt.Fprintf(&b, "  + %+v\n", got[i])
			i++
		case i == len(got) || compareRecords(got[i], want[j]) > 0:
			fmt.Fprintf(&b, "  - %+v\n", want[j])
			j++
		default:
			if got[i] != want[j] {
				fmt.Fprintf(&b, "  ~ %+v\n    want %+v\n", got[i], want[j])
			}
			i++
			j++
		}
	}
	return b.String()
}
