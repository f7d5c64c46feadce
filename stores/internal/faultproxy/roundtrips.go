package faultproxy

import (
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// CountRoundTrips runs deductions (keyed and not, admitted, refused and
// replayed) and refunds on s, one at a time after a warm-up, and fails
// unless each sent exactly one write through p: one round trip each.
func CountRoundTrips(t *testing.T, s core.Store, p *Proxy) {
	t.Helper()
	ctx := t.Context()
	hour := int64(time.Hour)
	base := time.Now().Truncate(time.Hour).Add(48 * time.Hour).UnixNano()
	op := func(cost int64, key string) *core.Op {
		o := &core.Op{Client: "rt", Cost: cost, Bucket: core.Span{Start: base, End: base + hour}, At: base,
			Key: key, KeyExpires: base + hour, N: 2}
		o.List[0] = core.Window{Period: core.Hour, Start: base, End: base + hour, Limit: 50}
		o.List[1] = core.Window{Period: core.Day, Start: base, End: base + 24*hour, Limit: -1}
		return o
	}
	// Warm-up: the connection is opened and its statements prepared.
	for range 3 {
		if _, err := s.Deduct(ctx, op(1, "")); err != nil {
			t.Fatal(err)
		}
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"admitted", func() error { _, err := s.Deduct(ctx, op(1, "")); return err }},
		{"refused", func() error { _, err := s.Deduct(ctx, op(100, "")); return err }},
		{"keyed", func() error { _, err := s.Deduct(ctx, op(1, "k1")); return err }},
		{"replayed", func() error { _, err := s.Deduct(ctx, op(1, "k1")); return err }},
		{"refund by key", func() error { return s.Refund(ctx, op(1, "k1")) }},
		{"refund", func() error { return s.Refund(ctx, op(1, "")) }},
	}
	for _, c := range calls {
		// Once unmeasured: pgx prepares a statement on its first use on
		// a connection, in a round trip of its own.
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		before := p.Writes()
		for range 20 {
			if err := c.call(); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if got := p.Writes() - before; got != 20 {
			t.Errorf("%s: 20 calls sent %d writes, want 20 (one round trip each)", c.name, got)
		} else {
			t.Logf("%s: one round trip per call", c.name)
		}
	}
}
