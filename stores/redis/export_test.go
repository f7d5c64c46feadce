package redis

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/stores/storetest"
)

// TestMigration fills the memory store with the suite's varied state and
// moves it into Redis and back to another memory store (storetest.Fill and
// storetest.RoundTrip): every exported record, usage, report and key replay
// equal at each step.
func TestMigration(t *testing.T) {
	mem := memory.New()
	storetest.Fill(t, mem)
	red := newStore(t, newClient(t), nil)
	storetest.RoundTrip(t, mem, red)
	storetest.RoundTrip(t, red, memory.New())
}

// roundTripQuotas are the quotas of the round trip's clients.
var roundTripQuotas = []core.Quota{
	{Period: core.Hour, Limit: core.Whole(40)},
	{Period: core.Day, Limit: core.Whole(300)},
	{Period: core.Month, Limit: core.Unlimited},
}

// fillBilling charges clients through b over three days of its clock:
// labels, fractional costs, keyed charges, refunds and alerts.
func fillBilling(t *testing.T, b *core.Billing, clock *time.Time) {
	t.Helper()
	ctx := t.Context()
	for i, client := range []string{"acme", "b{r}%", "c:\x00"} {
		if err := b.SetQuotas(client, roundTripQuotas...); err != nil {
			t.Fatal(err)
		}
		for n := range 60 {
			*clock = clock.Add(time.Duration(50+i*7) * time.Minute)
			c := core.Charge{Client: client, Cost: core.MustParseCredits(fmt.Sprintf("%d.%d", 1+n%5, n%10)),
				Label: []string{"/a", "/b", ""}[n%3]}
			if n%4 == 0 {
				c.IdempotencyKey = fmt.Sprintf("key-%d", n)
			}
			out, err := b.Charge(ctx, c)
			if err != nil && !errors.Is(err, core.ErrQuotaExceeded) {
				t.Fatalf("Charge: %v", err)
			}
			if err == nil && n%7 == 0 {
				if err := b.Refund(ctx, &out); err != nil {
					t.Fatalf("Refund: %v", err)
				}
			}
		}
	}
}

// observe returns what a Billing shows of each client: status, total and
// daily usage by label, and whether a charge with a recorded key replays.
func observe(t *testing.T, b *core.Billing, from, to time.Time) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, client := range []string{"acme", "b{r}%", "c:\x00"} {
		st, err := b.Status(t.Context(), client)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		for i := range st.Len() {
			q := st.Quota(i)
			s += fmt.Sprintf("%v %v %v %v; ", q.Period, q.Used, q.Start.UTC(), q.End.UTC())
		}
		total, err := b.TotalUsage(t.Context(), client, from, to)
		if err != nil {
			t.Fatal(err)
		}
		days, err := b.DailyUsage(t.Context(), client, from, to)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range days {
			labels := slices.Sorted(maps.Keys(d.ByLabel))
			s += d.Date + " " + d.Credits.String()
			for _, l := range labels {
				s += " " + l + "=" + d.ByLabel[l].String()
			}
			s += "; "
		}
		out[client] = fmt.Sprintf("%s total %v", s, total)
	}
	return out
}

// copyStore exports from into to.
func copyStore(t *testing.T, from, to core.Store, opts core.ImportOptions) {
	t.Helper()
	recs := make(chan *core.Record)
	errc := make(chan error, 1)
	go func() {
		defer close(recs)
		errc <- from.Export(t.Context(), func(r *core.Record) error {
			c := *r
			select {
			case recs <- &c:
				return nil
			case <-t.Context().Done():
				return t.Context().Err()
			}
		})
	}()
	err := to.Import(t.Context(), func() (*core.Record, error) {
		r, ok := <-recs
		if !ok {
			return nil, io.EOF
		}
		return r, nil
	}, opts)
	for range recs {
	}
	if err != nil {
		t.Fatalf("Import into %T: %v", to, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Export of %T: %v", from, err)
	}
}

// TestRoundTripMemory moves a store's whole state from the memory store to
// Redis and back: each export equals the other, every observable through
// core.Billing (status, total and daily usage by label) is the same, a
// retried keyed charge replays on the new store without charging, and the
// alerts already raised are not raised again. A merging import into a
// store holding the same state doubles its usage and keeps its keys.
func TestRoundTripMemory(t *testing.T) {
	c := newClient(t)
	clock := time.Unix(0, future()).UTC()
	start := clock
	var mu sync.Mutex
	var alerts []core.Alert
	notify := func(a core.Alert) { mu.Lock(); alerts = append(alerts, a); mu.Unlock() }
	thresholds := []core.Threshold{{Period: core.Hour, Percent: 50}, {Period: core.Day, Percent: 10}, {Period: core.Day, Percent: 20}}
	billing := func(s core.Store) *core.Billing {
		b := core.New(s, core.WithClock(func() time.Time { return clock }), core.WithAlerts(notify, thresholds...))
		for _, cl := range []string{"acme", "b{r}%", "c:\x00"} {
			if err := b.SetQuotas(cl, roundTripQuotas...); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	mem := memory.New()
	fillBilling(t, billing(mem), &clock)
	if len(alerts) == 0 {
		t.Fatal("the charges raised no alert: the test needs threshold bits to move")
	}
	from, to := start.Add(-time.Hour), clock.Add(time.Hour)
	want := observe(t, billing(mem), from, to)
	wantExport := exportAll(t, mem, clock.UnixNano())

	red := newStore(t, c, nil)
	copyStore(t, mem, red, core.ImportOptions{ID: "round-trip"})
	if got := exportAll(t, red, clock.UnixNano()); !slices.Equal(got, wantExport) {
		t.Errorf("Redis's export after the import differs from the memory store's:\n%s", diffRecords(got, wantExport))
	}
	if got := observe(t, billing(red), from, to); !maps.Equal(got, want) {
		t.Errorf("observed on Redis:\n  %v\nwant\n  %v", got, want)
	}
	back := memory.New()
	copyStore(t, red, back, core.ImportOptions{})
	if got := exportAll(t, back, clock.UnixNano()); !slices.Equal(got, wantExport) {
		t.Errorf("the export after the way back differs:\n%s", diffRecords(got, wantExport))
	}

	// The same retried keyed charge replays on every store.
	for _, s := range []core.Store{mem, red, back} {
		b := billing(s)
		before, _ := b.Status(t.Context(), "acme")
		before, _ = b.Status(t.Context(), "c:\x00")
		out, err := b.Charge(t.Context(), core.Charge{Client: "c:\x00", Cost: core.MustParseCredits("3.2"), Label: "/b", IdempotencyKey: "key-52"})
		if err != nil || !out.Replayed() {
			t.Errorf("%T: retrying key-52: replayed %v, %v; want a replay", s, out.Replayed(), err)
		}
		after, _ := b.Status(t.Context(), "c:\x00")
		if after.Quota(0).Used != before.Quota(0).Used {
			t.Errorf("%T: the replay charged %v", s, after.Quota(0).Used.Sub(before.Quota(0).Used))
		}
	}
	// Alerts: charging on Redis raises only thresholds not raised yet.
	mu.Lock()
	alerts = nil
	mu.Unlock()
	bm, br := billing(back), billing(red)
	for range 3 {
		for _, b := range []*core.Billing{bm, br} {
			if _, err := b.Track(t.Context(), "b{r}%", core.Whole(2)); err != nil && !errors.Is(err, core.ErrQuotaExceeded) {
				t.Fatal(err)
			}
		}
	}
	mu.Lock()
	if len(alerts)%2 != 0 {
		t.Errorf("alerts after the round trip: %d, want the same on both stores: %+v", len(alerts), alerts)
	}
	mu.Unlock()

	// Merging the same state doubles every usage and keeps the keys.
	merged := newStore(t, c, nil)
	copyStore(t, mem, merged, core.ImportOptions{})
	copyStore(t, mem, merged, core.ImportOptions{Merge: true})
	got := exportAll(t, merged, clock.UnixNano())
	if len(got) != len(wantExport) {
		t.Fatalf("merged export: %d records, want %d:\n%s", len(got), len(wantExport), diffRecords(got, wantExport))
	}
	for i, r := range got {
		w := wantExport[i]
		if w.Kind != core.RecordKey {
			w.Used *= 2
		}
		if r != w {
			t.Errorf("merged record %+v, want %+v", r, w)
		}
	}
}

// TestImportRules checks when Import refuses: a store that is not empty
// without Merge, unless it holds an unfinished import of the same ID,
// which then runs again and overwrites.
func TestImportRules(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c, nil)
	base := future()
	rec := func(used int64) core.Record {
		return core.Record{Kind: core.RecordWindow, Client: "c", Period: core.Day, Start: base, End: base + day, Used: used}
	}
	w := core.Window{Period: core.Day, Start: base, End: base + day, Limit: -1}
	if err := importRecords(t, s, []core.Record{rec(5)}, core.ImportOptions{}); err != nil {
		t.Fatalf("Import into an empty store: %v", err)
	}
	if err := importRecords(t, s, []core.Record{rec(7)}, core.ImportOptions{}); !errors.Is(err, core.ErrNotEmpty) {
		t.Errorf("Import into a store that is not empty: %v, want ErrNotEmpty", err)
	}
	if got := used(t, s, "c", w); got[0] != 5 {
		t.Errorf("usage after a refused import = %d, want 5", got[0])
	}
	// An import that fails half way leaves its ID behind...
	boom := errors.New("boom")
	n := 0
	err := s.Import(t.Context(), func() (*core.Record, error) {
		if n++; n > 1 {
			return nil, boom
		}
		r := rec(9)
		return &r, nil
	}, core.ImportOptions{ID: "x", Merge: true})
	if !errors.Is(err, boom) {
		t.Fatalf("Import whose source fails: %v, want %v", err, boom)
	}
	if id, _ := c.Get(t.Context(), s.importKey()).Result(); id != "x" {
		t.Fatalf("import ID after a failed import = %q, want x", id)
	}
	// ...so that the same import can run again, writing records as they are.
	if err := importRecords(t, s, []core.Record{rec(11)}, core.ImportOptions{ID: "x"}); err != nil {
		t.Fatalf("resuming import x: %v", err)
	}
	if got := used(t, s, "c", w); got[0] != 11 {
		t.Errorf("usage after resuming = %d, want 11 (overwritten)", got[0])
	}
	if n, _ := c.Exists(t.Context(), s.importKey()).Result(); n != 0 {
		t.Errorf("the import ID is still held after the import ended")
	}
	if err := importRecords(t, s, []core.Record{rec(1)}, core.ImportOptions{ID: "x"}); !errors.Is(err, core.ErrNotEmpty) {
		t.Errorf("import x again after it ended: %v, want ErrNotEmpty", err)
	}
	if err := importRecords(t, s, []core.Record{rec(1)}, core.ImportOptions{ID: "y"}); !errors.Is(err, core.ErrNotEmpty) {
		t.Errorf("another import ID: %v, want ErrNotEmpty", err)
	}
}
