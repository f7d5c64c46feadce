package storetest

import (
	"fmt"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// keyTTL is how long the suite's key records live after their charge.
const keyTTL = day

// keyed sets o's idempotency key, expiring keyTTL after o.At, and returns
// o.
func keyed(o *core.Op, key string) *core.Op {
	o.Key = key
	o.KeyExpires = o.At + keyTTL
	return o
}

// recordOf returns the key record a store must keep for o admitted with
// res: what a replay returns.
func recordOf(o *core.Op, res core.Result) core.KeyRecord {
	return o.Record(&res.Used)
}

// wantCharged checks that res is an admitted charge, not a replay nor a
// conflict.
func wantCharged(t *testing.T, what string, res core.Result) {
	t.Helper()
	if !res.OK || res.Replayed || res.Conflict || res.Overflow {
		t.Errorf("%s: Deduct = {OK %v Replayed %v Conflict %v Overflow %v}, want a charge (OK only)", what, res.OK, res.Replayed, res.Conflict, res.Overflow)
	}
}

// wantReplay checks that res replays the record want: OK and Replayed,
// with the record, and no threshold bits or resets.
func wantReplay(t *testing.T, what string, res core.Result, want core.KeyRecord) {
	t.Helper()
	if !res.OK || !res.Replayed || res.Conflict || res.Overflow {
		t.Errorf("%s: Deduct = {OK %v Replayed %v Conflict %v Overflow %v}, want a replay (OK and Replayed)", what, res.OK, res.Replayed, res.Conflict, res.Overflow)
	}
	wantRecord(t, what, res.Record, want)
	if res.Fired != [core.MaxQuotas]uint8{} || res.Reset != 0 {
		t.Errorf("%s: a replay reported threshold bits %v or resets %b", what, res.Fired, res.Reset)
	}
}

// wantConflict checks that res is a conflict with the record want.
func wantConflict(t *testing.T, what string, res core.Result, want core.KeyRecord) {
	t.Helper()
	if res.OK || res.Replayed || !res.Conflict {
		t.Errorf("%s: Deduct = {OK %v Replayed %v Conflict %v}, want a conflict (Conflict only)", what, res.OK, res.Replayed, res.Conflict)
	}
	wantRecord(t, what, res.Record, want)
}

func wantRecord(t *testing.T, what string, got *core.KeyRecord, want core.KeyRecord) {
	t.Helper()
	if got == nil || *got != want {
		t.Errorf("%s: Result.Record =\n\t%s\nwant\n\t%s", what, fmtKey(got), fmtKey(&want))
	}
}

// refund calls Refund and fails the test on an error.
func (e *env) refund(t *testing.T, o *core.Op) {
	t.Helper()
	if err := e.store.Refund(t.Context(), o); err != nil {
		t.Fatalf("Refund(%q, key %q): %v", o.Client, o.Key, err)
	}
}

// clone returns a copy of o.
func clone(o *core.Op) *core.Op {
	c := *o
	return &c
}

// testKeyReplay: a second Deduct with a recorded key, the same cost and the
// same label, is answered OK and Replayed with the record of the first
// charge (its client, key, label, cost, time, expiry, hour, windows and
// their usage after it) and changes nothing, however often, whatever was
// charged in between, and even when the op's windows have since renewed.
func testKeyReplay(t *testing.T, e *env) {
	ws := []core.Window{
		e.window(core.Minute, 0, 10*credit),
		e.window(core.Day, 0, 100*credit),
		e.window(core.Month, 0, unlimited),
	}
	e.mustDeduct(t, op("c", "/a", 2*credit, e.day(0), ws...))
	first := keyed(op("c", "/a", 3*credit, e.day(0), ws...), "k-1")
	res := e.mustDeduct(t, first)
	wantCharged(t, "the first charge", res)
	wantUsed(t, "the first charge", res, 5*credit, 5*credit, 5*credit)
	want := recordOf(first, res)
	if want.Used[0] != 5*credit || want.List[0].Levels != [core.MaxLevels]int64{} {
		t.Fatalf("storetest: Op.Record = %s, want the usage after the charge and no levels", fmtKey(&want))
	}

	for i := range 3 {
		res := e.deduct(t, clone(first))
		wantReplay(t, fmt.Sprintf("replay %d", i), res, want)
		e.wantUsage(t, "after a replay", "c", ws, 5*credit, 5*credit, 5*credit)
		e.wantReportAll(t, "after a replay", "c", records{rec(e.day(0), "/a"): 5 * credit})
	}

	// Charges in between do not change the record.
	e.mustDeduct(t, op("c", "/a", credit, e.day(0), ws...))
	wantReplay(t, "a replay after another charge", e.deduct(t, clone(first)), want)

	// The replay is answered from the record: a retry that arrives later,
	// with the next windows and at a later time, is not charged and renews
	// nothing.
	later := clone(first)
	later.At += 2 * int64(60e9)
	later.List[0] = e.window(core.Minute, 2, 10*credit)
	wantReplay(t, "a replay with renewed windows", e.deduct(t, later), want)
	e.wantUsage(t, "after the replay with renewed windows", "c", ws, 6*credit, 6*credit, 6*credit)
	e.wantUsage(t, "the renewed minute", "c", []core.Window{later.List[0]}, 0)

	// The same key charges a first time for another client, and another key
	// for the same client.
	other := keyed(op("d", "/a", 3*credit, e.day(0), ws...), "k-1")
	wantCharged(t, "the same key for another client", e.mustDeduct(t, other))
	again := keyed(op("c", "/a", 3*credit, e.day(0), ws...), "k-2")
	wantCharged(t, "another key", e.mustDeduct(t, again))
	e.wantUsage(t, "at the end", "c", ws, 9*credit, 9*credit, 9*credit)
	e.wantUsage(t, "the other client", "d", ws, 3*credit, 3*credit, 3*credit)
}

// testKeyConflict: a Deduct with a recorded key and another cost or another
// label is a conflict: not OK, Conflict, with the first charge's record, and
// nothing changes; the record stays and still replays.
func testKeyConflict(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 10*credit), e.window(core.Day, 0, unlimited)}
	first := keyed(op("c", "/a", 3*credit, e.day(0), ws...), "k")
	want := recordOf(first, e.mustDeduct(t, first))
	cases := []struct {
		name  string
		label string
		cost  int64
	}{
		{"another cost", "/a", 4 * credit},
		{"one micro-credit more", "/a", 3*credit + 1},
		{"zero cost", "/a", 0},
		{"another label", "/b", 3 * credit},
		{"the empty label", "", 3 * credit},
		{"another cost and label", "/b", credit},
	}
	for _, c := range cases {
		o := keyed(op("c", c.label, c.cost, e.day(0), ws...), "k")
		wantConflict(t, c.name, e.deduct(t, o), want)
		e.wantUsage(t, "after a conflict of "+c.name, "c", ws, 3*credit, 3*credit)
		e.wantReportAll(t, "after a conflict of "+c.name, "c", records{rec(e.day(0), "/a"): 3 * credit})
	}
	wantReplay(t, "a replay after conflicts", e.deduct(t, clone(first)), want)
}

// testKeyRefused: a refused charge records no key: the key charges anew
// once there is room, for the same or another cost.
func testKeyRefused(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 5*credit)}
	fill := op("c", "", 5*credit, e.day(0), ws...)
	e.mustDeduct(t, fill)
	refused := keyed(op("c", "/a", 2*credit, e.day(0), ws...), "k")
	for i := range 2 {
		res := e.deduct(t, clone(refused))
		if res.OK || res.Replayed || res.Conflict {
			t.Errorf("keyed charge %d over the limit: Deduct = {OK %v Replayed %v Conflict %v}, want refused", i, res.OK, res.Replayed, res.Conflict)
		}
	}
	// Another cost with the key is not a conflict: nothing was recorded.
	other := keyed(op("c", "/a", 3*credit, e.day(0), ws...), "k")
	if res := e.deduct(t, other); res.Conflict || res.Replayed || res.OK {
		t.Errorf("keyed charge of another cost after a refusal: Deduct = {OK %v Replayed %v Conflict %v}, want refused", res.OK, res.Replayed, res.Conflict)
	}
	e.refund(t, fill)
	res := e.mustDeduct(t, clone(refused))
	wantCharged(t, "the refused key once there is room", res)
	wantUsed(t, "the refused key once there is room", res, 2*credit)
	wantReplay(t, "its retry", e.deduct(t, clone(refused)), recordOf(refused, res))
}

// testKeyZeroCost: an admitted charge of zero cost records its key like any
// other (even on a full window, and for a client with no usage): a retry
// replays it, another cost conflicts, and nothing is counted.
func testKeyZeroCost(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 5*credit), e.window(core.Day, 0, unlimited)}
	e.mustDeduct(t, op("full", "", 5*credit, e.day(0), ws...))
	free := keyed(op("full", "/status", 0, e.day(0), ws...), "k")
	res := e.mustDeduct(t, free)
	wantCharged(t, "a zero cost on a full window", res)
	wantUsed(t, "a zero cost on a full window", res, 5*credit, 5*credit)
	want := recordOf(free, res)
	wantReplay(t, "its retry", e.deduct(t, clone(free)), want)
	wantConflict(t, "the key for a cost", e.deduct(t, keyed(op("full", "/status", credit, e.day(0), ws...), "k")), want)
	e.wantUsage(t, "after zero costs", "full", ws, 5*credit, 5*credit)
	e.wantReportAll(t, "after zero costs", "full", records{rec(e.day(0), ""): 5 * credit})

	fresh := keyed(op("new", "/status", 0, e.day(0), ws...), "k")
	res = e.mustDeduct(t, fresh)
	wantUsed(t, "a zero cost for a new client", res, 0, 0)
	wantReplay(t, "its retry", e.deduct(t, clone(fresh)), recordOf(fresh, res))
	e.wantUsage(t, "a client charged nothing", "new", ws, 0, 0)
	e.wantReportAll(t, "a client charged nothing", "new", records{})
}

// keyIsolationPairs are clients and keys that a store joining client and key
// into one string could confuse. Keys are visible ASCII, as core.ValidKey
// requires; client IDs are any bytes.
var keyIsolationPairs = [][2]string{
	{"a", "b:c"}, {"a:b", "c"}, {"a:", "b:c"},
	{"a", "{b}"}, {"a{", "b}"}, {"{a}", "b"},
	{"a\x00", "b"}, {"a", "b"}, {"a\x00b", "c"},
	{"ab", "c"}, {"a", "bc"}, {"a|b", "c"}, {"a", "b|c"}, {"a/b", "c"}, {"a", "b/c"},
}

// testKeyIsolation: keys of different clients never collide, whatever the
// bytes of the client IDs (NUL, ':', '{', and every ID of ClientIsolation)
// and of the keys: the same or a joined key of another client charges anew,
// replays return each client's own record, and refunding one client's key
// leaves the others.
func testKeyIsolation(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 1000*credit)}
	type charge struct {
		o    *core.Op
		want core.KeyRecord
	}
	var charges []charge
	add := func(client, key string, cost int64) {
		o := keyed(op(client, "l", cost, e.day(0), ws...), key)
		res := e.deduct(t, o)
		wantCharged(t, fmt.Sprintf("client %q key %q", client, key), res)
		charges = append(charges, charge{o, recordOf(o, res)})
	}
	for i, id := range isolationIDs() {
		add(id, "k", int64(i+1))
	}
	for i, p := range keyIsolationPairs {
		add(p[0], p[1], int64(1000+i))
	}
	if t.Failed() {
		return
	}
	for _, c := range charges {
		wantReplay(t, fmt.Sprintf("client %q key %q", c.o.Client, c.o.Key), e.deduct(t, clone(c.o)), c.want)
	}
	// Refund the first; the others keep their records.
	e.refund(t, clone(charges[0].o))
	for _, c := range charges[1:] {
		wantReplay(t, fmt.Sprintf("after refunding another client's key: client %q key %q", c.o.Client, c.o.Key), e.deduct(t, clone(c.o)), c.want)
	}
}

// testKeyExpiry: a record with Expires <= op.At is ignored: the key charges
// anew (also for another cost: no conflict), records the new charge, and a
// refund by the expired key does nothing.
func testKeyExpiry(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Day, 0, 100*credit)}
	at := func(o *core.Op, t int64) *core.Op { o.At = t; return o }
	t0 := e.base + hour
	first := op("c", "l", 2*credit, e.day(0), ws...)
	first.At, first.Key, first.KeyExpires = t0, "k", t0+hour
	want := recordOf(first, e.mustDeduct(t, first))

	wantReplay(t, "just before the expiry", e.deduct(t, at(clone(first), t0+hour-1)), want)
	e.wantUsage(t, "after the replay", "c", ws, 2*credit)

	second := clone(first)
	second.At, second.KeyExpires = t0+hour, t0+2*hour
	res := e.mustDeduct(t, second)
	wantCharged(t, "at the expiry", res)
	wantUsed(t, "at the expiry", res, 4*credit)
	want2 := recordOf(second, res)
	wantReplay(t, "after the second charge", e.deduct(t, at(clone(first), t0+hour+1)), want2)

	third := clone(first)
	third.Cost, third.At, third.KeyExpires = 5*credit, t0+2*hour, t0+3*hour
	res = e.mustDeduct(t, third)
	wantCharged(t, "another cost after the expiry", res)
	wantUsed(t, "another cost after the expiry", res, 9*credit)

	// A refund by the key at or after its expiry does nothing.
	e.refund(t, at(clone(third), t0+3*hour))
	e.wantUsage(t, "after a refund by an expired key", "c", ws, 9*credit)
	e.refund(t, at(clone(third), t0+3*hour-1))
	e.wantUsage(t, "after a refund by the key before it expired", "c", ws, 4*credit)
	e.wantReportAll(t, "at the end", "c", records{rec(e.day(0), "l"): 4 * credit})
}

// testKeyRefundOnce: a refund by key refunds the recorded charge (its cost,
// windows and hour, not the op's) once, however often it is asked, and
// removes the record, so the key then charges anew.
func testKeyRefundOnce(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 10*credit), e.window(core.Day, 0, unlimited)}
	e.mustDeduct(t, op("c", "l", 2*credit, e.day(0), ws...))
	charge := keyed(op("c", "l", 3*credit, e.day(0), ws...), "k")
	e.mustDeduct(t, charge)
	e.wantUsage(t, "before refunds", "c", ws, 5*credit, 5*credit)

	// The refund names the key; its cost, label and hour are not the
	// charge's, and it has no windows: the record says what to refund.
	byKey := op("c", "other", 7*credit, e.day(1))
	byKey.Key, byKey.At = "k", charge.At
	for i := range 3 {
		e.refund(t, clone(byKey))
		e.wantUsage(t, fmt.Sprintf("after refund %d", i), "c", ws, 2*credit, 2*credit)
		e.wantReportAll(t, fmt.Sprintf("after refund %d", i), "c", records{rec(e.day(0), "l"): 2 * credit})
	}

	// The record is gone: the key charges anew, and a retry replays that.
	res := e.mustDeduct(t, clone(charge))
	wantCharged(t, "the key after its refund", res)
	wantUsed(t, "the key after its refund", res, 5*credit, 5*credit)
	wantReplay(t, "its retry", e.deduct(t, clone(charge)), recordOf(charge, res))

	// 16 refunds at once give back one charge.
	const n = 16
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		go func() {
			<-start
			errs <- e.store.Refund(t.Context(), clone(charge))
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Refund: %v", err)
		}
	}
	e.wantUsage(t, "after 16 concurrent refunds", "c", ws, 2*credit, 2*credit)
	e.wantReportAll(t, "after 16 concurrent refunds", "c", records{rec(e.day(0), "l"): 2 * credit})
	wantCharged(t, "the key after concurrent refunds", e.mustDeduct(t, clone(charge)))
}

// testKeyRefundUnknown: a refund by a key the store holds no record of
// does nothing (it does not refund the op), also when another client holds
// the key.
func testKeyRefundUnknown(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 10*credit), e.window(core.Day, 0, unlimited)}
	e.mustDeduct(t, op("c", "l", 4*credit, e.day(0), ws...))
	theirs := keyed(op("d", "l", 3*credit, e.day(0), ws...), "theirs")
	want := recordOf(theirs, e.mustDeduct(t, theirs))

	for _, key := range []string{"unknown", "theirs"} {
		e.refund(t, keyed(op("c", "l", 4*credit, e.day(0), ws...), key))
		e.wantUsage(t, "after a refund by the key "+key, "c", ws, 4*credit, 4*credit)
		e.wantReportAll(t, "after a refund by the key "+key, "c", records{rec(e.day(0), "l"): 4 * credit})
	}
	e.wantUsage(t, "the client holding the key", "d", ws, 3*credit, 3*credit)
	wantReplay(t, "the other client's key", e.deduct(t, clone(theirs)), want)
	// A client without any usage.
	e.refund(t, keyed(op("nobody", "l", credit, e.day(0), ws...), "k"))
	e.wantUsage(t, "a client without usage", "nobody", ws, 0, 0)
}
