package storetest

import (
	"fmt"
	"math"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// hints returns ClientHash values for client: none, its own hash and hints
// any caller may pass that are not it (another shard's or slot's, another
// client's, arbitrary values).
func hints(client string) []uint64 {
	h := core.HashClient(client)
	return []uint64{0, h, h ^ 1<<63, h ^ 1<<40, h ^ 1, h + 1, core.HashClient("hint-other"), 1, math.MaxUint64}
}

// testClientHashHint: core.Op.ClientHash is a hint that any caller may set.
// Whatever it holds, a store finds the same client: a client first charged
// under a wrong hint and then under every other is one client, as are its
// refunds, usage and keys, and another client's hash reaches nothing of
// that client.
func testClientHashHint(t *testing.T, e *env) {
	w := e.window(core.Day, 0, 1_000_000_000)
	d := e.day(0)
	with := func(o *core.Op, hint uint64) *core.Op { o.ClientHash = hint; return o }
	e.mustDeduct(t, op("hint-other", "/h", 1, d, w))
	for i := range hints("") {
		client := fmt.Sprintf("hint-%d", i)
		hs := hints(client)
		first := hs[i] // the client's first charge, under each hint in turn
		e.mustDeduct(t, with(op(client, "/h", 1, d, w), first))
		for _, h := range hs {
			e.mustDeduct(t, with(op(client, "/h", 1, d, w), h))
		}
		for _, h := range hs {
			res, err := e.store.Usage(t.Context(), with(op(client, "", 0, core.Span{}, w), h))
			if err != nil || res.Used[0] != int64(1+len(hs)) {
				t.Errorf("%s first charged with hint %#x: Usage with hint %#x = %d, %v; want %d", client, first, h, res.Used[0], err, 1+len(hs))
			}
		}
		for _, h := range hs {
			if err := e.store.Refund(t.Context(), with(op(client, "/h", 1, d, w), h)); err != nil {
				t.Fatalf("Refund(%s, hint %#x): %v", client, h, err)
			}
		}
		e.wantUsage(t, "after a refund under each hint", client, []core.Window{w}, 1)
		e.wantReportAll(t, "after a refund under each hint", client, records{rec(d, "/h"): 1})

		// A key recorded under one hint, with no usage (a zero cost), is
		// replayed under every other.
		kc := fmt.Sprintf("hint-key-%d", i)
		ks := hints(kc)
		o := keyed(with(op(kc, "/h", 0, d, w), ks[i]), "k")
		want := recordOf(o, e.mustDeduct(t, o))
		for _, h := range ks {
			wantReplay(t, fmt.Sprintf("%s recorded with hint %#x, retried with hint %#x", kc, ks[i], h), e.deduct(t, keyed(with(op(kc, "/h", 0, d, w), h), "k")), want)
		}
	}
	e.wantUsage(t, "the client whose hash was a hint", "hint-other", []core.Window{w}, 1)
}
