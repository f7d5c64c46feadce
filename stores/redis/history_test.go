package redis

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// countCommands makes s run variants of its scripts that count their Redis
// commands; lastCommands then returns the count of the last call.
func countCommands(s *Store) {
	s.counting = map[*script]*script{}
	for _, sc := range scripts {
		s.counting[sc] = sc.counting()
	}
}

func lastCommands(s *Store) int64 { return s.lastCalls.Load() }

// importRecords imports recs into s.
func importRecords(t *testing.T, s core.Store, recs []core.Record, opts core.ImportOptions) error {
	t.Helper()
	i := 0
	return s.Import(t.Context(), func() (*core.Record, error) {
		if i == len(recs) {
			return nil, io.EOF
		}
		i++
		return &recs[i-1], nil
	}, opts)
}

// TestOverflow charges the largest cost to an unlimited quota until its
// counters would pass core.MaxUsage, through core.Billing: exactly the
// charges that fit are admitted (1024 of MaxCredits), every later one is
// refused with ErrUsageOverflow (never ErrStoreUnavailable: no HINCRBY
// overflows inside Redis), smaller charges that still fit are admitted,
// and the counters, the status and the report stay readable and exact.
func TestOverflow(t *testing.T) {
	s := newStore(t, newClient(t), nil)
	at := time.Unix(0, future()).Add(90 * time.Minute)
	b := core.New(s, core.WithClock(func() time.Time { return at }))
	if err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.Unlimited}); err != nil {
		t.Fatal(err)
	}
	maxc := core.MaxCredits.Micro()
	admitted := int64(0)
	for i := range 1100 {
		_, err := b.Charge(t.Context(), core.Charge{Client: "c", Cost: core.MaxCredits, Label: "/x"})
		switch {
		case err == nil:
			admitted++
		case errors.Is(err, core.ErrUsageOverflow):
		default:
			t.Fatalf("charge %d: %v, want success or ErrUsageOverflow", i, err)
		}
	}
	if admitted != 1024 {
		t.Errorf("admitted %d charges of MaxCredits, want 1024 (1024 × (2^53-1) = 2^63-1024)", admitted)
	}
	total := admitted * maxc
	room := core.MaxUsage - total // 1023 micro-credits
	small, _ := core.Micro(room)
	if _, err := b.Charge(t.Context(), core.Charge{Client: "c", Cost: small, Label: "/x"}); err != nil {
		t.Errorf("a charge of the %d micro-credits left: %v", room, err)
	}
	one, _ := core.Micro(1)
	if _, err := b.Charge(t.Context(), core.Charge{Client: "c", Cost: one, Label: "/x"}); !errors.Is(err, core.ErrUsageOverflow) {
		t.Errorf("a charge past MaxUsage: %v, want ErrUsageOverflow", err)
	}
	// A charge under another label has its own aggregate but shares the
	// window: refused too. A zero charge is admitted.
	if _, err := b.Charge(t.Context(), core.Charge{Client: "c", Cost: one, Label: "/y"}); !errors.Is(err, core.ErrUsageOverflow) {
		t.Errorf("a charge past MaxUsage under another label: %v, want ErrUsageOverflow", err)
	}
	if _, err := b.Charge(t.Context(), core.Charge{Client: "c", Cost: core.Whole(0)}); err != nil {
		t.Errorf("a free charge on a full counter: %v", err)
	}
	st, err := b.Status(t.Context(), "c")
	if err != nil || st.Quota(0).Used.Micro() != core.MaxUsage {
		t.Errorf("Status = %v, %v; want MaxUsage used", st.Quota(0).Used, err)
	}
	if recs := report(t, s, "c", 0, at.Add(time.Hour).UnixNano()); len(recs) != 1 || recs[0].Credits != core.MaxUsage {
		t.Errorf("Report = %+v, want one aggregate of MaxUsage", recs)
	}
	if s.Stats().Failed != 0 {
		t.Errorf("Stats().Failed = %d, want 0", s.Stats().Failed)
	}
	// The next hour starts a new aggregate; the day window stays full.
	at = at.Add(time.Hour)
	if _, err := b.Charge(t.Context(), core.Charge{Client: "c", Cost: one, Label: "/x"}); !errors.Is(err, core.ErrUsageOverflow) {
		t.Errorf("the next hour, on the full day window: %v, want ErrUsageOverflow", err)
	}
}

// history returns the usage records of a client with days days of usage,
// hours hours a day, on routes routes, ending before the hour at end.
func history(client string, end int64, days, hours, routes int) []core.Record {
	var recs []core.Record
	for d := days; d > 0; d-- {
		for h := range hours {
			s := end - int64(d)*day + int64(h)*hour
			for r := range routes {
				recs = append(recs, core.Record{Kind: core.RecordUsage, Client: client,
					Start: s, End: s + hour, Label: fmt.Sprintf("/route/%d", r), Used: int64(r+1) * credit})
			}
		}
	}
	return recs
}

// TestLongHistory gives one client 400 days of usage aggregates (2 hours
// a day on 20 routes: 16,000 aggregates), another 40 days, and a third
// none, and checks that no call costs more Redis commands for the longer
// history (but the two that prune the days it still has past the
// retention): a charge in the current hour, the first charge of a new hour and
// of a new day (which move the previous hour to its day hash and prune the
// days past the retention, at most 64 a call), a late charge into an old
// hour, keyed charges and refunds, a status read and a report of one day.
// A report reads only the days asked, the export reads the whole history
// page by page, exactly, and pruning catches up an hour at a time.
func TestLongHistory(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c, &Options{Retention: 30 * 24 * time.Hour})
	now := future() + 10*hour
	midnight := now - now%day
	mem := memory.New(memory.WithRetention(-1)) // the reference export
	for _, h := range []struct {
		client string
		days   int
	}{{"400 days", 400}, {"40 days", 40}} {
		recs := history(h.client, midnight, h.days, 2, 20)
		if err := importRecords(t, s, recs, core.ImportOptions{Merge: true}); err != nil {
			t.Fatalf("Import of %d aggregates: %v", len(recs), err)
		}
		if err := importRecords(t, mem, recs, core.ImportOptions{Merge: true}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := exportAll(t, s, now), exportAll(t, mem, now); !slices.Equal(got, want) {
		t.Fatalf("export of the long history differs from the memory store's:\n%s", diffRecords(got, want))
	}
	countCommands(s)
	windows := []core.Window{
		{Period: core.Day, Start: midnight, End: midnight + day, Limit: 1000 * credit},
		{Period: core.Month, Start: midnight, End: midnight + 30*day, Limit: -1},
	}
	at := now
	charge := func(client, key string, bucket int64) error {
		o := mkop(client, "/route/1", credit, hourAt(bucket), windows...)
		o.At = at
		if key != "" {
			o.Key, o.KeyExpires = key, at+day
		}
		_, err := s.Deduct(t.Context(), o)
		return err
	}
	hourStart := func() int64 { return at - at%hour }
	steps := []struct {
		name string
		call func(client string) error
	}{
		{"first charge", func(cl string) error { return charge(cl, "", hourStart()) }},
		{"charge in the same hour", func(cl string) error { return charge(cl, "", hourStart()) }},
		{"first charge of the next hour", func(cl string) error { at += hour; return charge(cl, "", hourStart()) }},
		{"charge in the same hour", func(cl string) error { return charge(cl, "", hourStart()) }},
		{"first charge of the next day", func(cl string) error { at += day; return charge(cl, "", hourStart()) }},
		{"late charge into an hour 3 days ago", func(cl string) error { return charge(cl, "", hourStart()-3*day) }},
		{"keyed charge", func(cl string) error { return charge(cl, "k1", hourStart()) }},
		{"replayed keyed charge", func(cl string) error { return charge(cl, "k1", hourStart()) }},
		{"refund by key", func(cl string) error {
			return s.Refund(t.Context(), &core.Op{Client: cl, Key: "k1", At: at})
		}},
		{"refund", func(cl string) error {
			return s.Refund(t.Context(), mkop(cl, "/route/1", credit, hourAt(hourStart()), windows...))
		}},
		{"usage", func(cl string) error {
			_, err := s.Usage(t.Context(), mkop(cl, "", 0, core.Span{}, windows...))
			return err
		}},
		{"report of one day", func(cl string) error {
			_, err := s.Report(t.Context(), core.ReportQuery{Client: cl, From: midnight - 20*day, To: midnight - 19*day})
			return err
		}},
	}
	for _, st := range steps {
		var counts [3]int64
		var took [3]time.Duration
		start := at
		for i, cl := range []string{"400 days", "40 days", "new"} {
			at = start
			t0 := time.Now()
			if err := st.call(cl); err != nil {
				t.Fatalf("%s (%s): %v", st.name, cl, err)
			}
			took[i] = time.Since(t0)
			counts[i] = lastCommands(s)
		}
		t.Logf("%-36s commands: 400 days %2d, 40 days %2d, new %2d; round trips %v, %v, %v",
			st.name, counts[0], counts[1], counts[2], took[0], took[1], took[2])
		// The longer history may still have days to prune (64 a call):
		// UNLINK and ZREM, two commands more.
		if counts[0] < counts[1] || counts[0] > counts[1]+2 || counts[0] > 24 {
			t.Errorf("%s: %d Redis commands with 400 days of history, %d with 40 days; want the same (or 2 more while pruning), at most 24",
				st.name, counts[0], counts[1])
		}
	}
	if recs := report(t, s, "400 days", midnight-20*day, midnight-19*day); len(recs) != 2*20 {
		t.Errorf("report of one day: %d aggregates, want %d", len(recs), 2*20)
	}
	// Pruning takes 64 days a new hour: a few more hours drop every day
	// that ended more than the retention before.
	for range 6 {
		at += hour
		if err := charge("400 days", "", hourStart()); err != nil {
			t.Fatal(err)
		}
	}
	cut := hourStart() - 30*day
	for _, cl := range []string{"400 days", "40 days"} {
		recs := report(t, s, cl, 0, midnight)
		if len(recs) == 0 || recs[0].Bucket.End > cut+day || recs[0].Bucket.Start < cut-day {
			t.Errorf("%s: the oldest aggregate kept starts at %v, want within a day of %v (the retention before the latest hour)",
				cl, time.Unix(0, recs[0].Bucket.Start).UTC(), time.Unix(0, cut).UTC())
		}
	}
}
