package core_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

func loadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

// charge is a charge at a time, under a label.
type charge struct {
	at    time.Time
	label string
	cost  core.Credits
}

// wantDay is an expected report day.
type wantDay struct {
	date       string
	start, end time.Time
	byLabel    map[string]core.Credits
}

func TestDailyUsage(t *testing.T) {
	t.Parallel()
	tokyo := loadZone(t, "Asia/Tokyo")
	ny := loadZone(t, "America/New_York")
	santiago := loadZone(t, "America/Santiago")
	utc := time.UTC
	tests := []struct {
		name     string
		loc      *time.Location
		charges  []charge
		from, to time.Time
		want     []wantDay
	}{
		{
			name: "tokyo days",
			loc:  tokyo,
			charges: []charge{
				{time.Date(2026, 11, 30, 14, 30, 0, 0, utc), "/a", core.Whole(1)},               // Nov 30 23:30 in Tokyo
				{time.Date(2026, 11, 30, 15, 30, 0, 0, utc), "/b", core.Whole(2)},               // Dec 1 00:30
				{time.Date(2026, 12, 1, 14, 59, 0, 0, utc), "/a", core.MustParseCredits("0.5")}, // Dec 1 23:59
				{time.Date(2026, 12, 1, 15, 0, 0, 0, utc), "", core.Whole(7)},                   // Dec 2 00:00
			},
			from: time.Date(2026, 11, 30, 23, 59, 0, 0, tokyo), to: time.Date(2026, 12, 1, 0, 0, 1, 0, tokyo),
			want: []wantDay{
				{"2026-11-30", time.Date(2026, 11, 30, 0, 0, 0, 0, tokyo), time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo), map[string]core.Credits{"/a": core.Whole(1)}},
				{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo), time.Date(2026, 12, 2, 0, 0, 0, 0, tokyo), map[string]core.Credits{"/a": core.MustParseCredits("0.5"), "/b": core.Whole(2)}},
			},
		},
		{
			name: "tokyo range widened to one whole day",
			loc:  tokyo,
			charges: []charge{
				{time.Date(2026, 11, 30, 15, 30, 0, 0, utc), "/b", core.Whole(2)},               // Dec 1 00:30
				{time.Date(2026, 12, 1, 14, 59, 0, 0, utc), "/a", core.MustParseCredits("0.5")}, // Dec 1 23:59
				{time.Date(2026, 12, 1, 15, 0, 0, 0, utc), "", core.Whole(7)},                   // Dec 2 00:00
			},
			from: time.Date(2026, 12, 1, 12, 0, 0, 0, tokyo), to: time.Date(2026, 12, 1, 12, 1, 0, 0, tokyo),
			want: []wantDay{
				{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo), time.Date(2026, 12, 2, 0, 0, 0, 0, tokyo), map[string]core.Credits{"/a": core.MustParseCredits("0.5"), "/b": core.Whole(2)}},
			},
		},
		{
			name: "new york 25-hour day",
			loc:  ny,
			charges: []charge{
				{time.Date(2026, 11, 1, 3, 59, 0, 0, utc), "/x", core.Whole(1)}, // Oct 31 23:59 EDT
				{time.Date(2026, 11, 1, 4, 30, 0, 0, utc), "/x", core.Whole(1)}, // Nov 1 00:30 EDT
				{time.Date(2026, 11, 1, 5, 30, 0, 0, utc), "/x", core.Whole(1)}, // 01:30 EDT
				{time.Date(2026, 11, 1, 6, 30, 0, 0, utc), "/y", core.Whole(1)}, // 01:30 EST
				{time.Date(2026, 11, 2, 4, 59, 0, 0, utc), "/y", core.Whole(1)}, // 23:59 EST
				{time.Date(2026, 11, 2, 5, 0, 0, 0, utc), "/y", core.Whole(1)},  // Nov 2 00:00 EST
			},
			from: time.Date(2026, 11, 1, 12, 0, 0, 0, ny), to: time.Date(2026, 11, 1, 13, 0, 0, 0, ny),
			want: []wantDay{
				{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, ny), time.Date(2026, 11, 2, 0, 0, 0, 0, ny), map[string]core.Credits{"/x": core.Whole(2), "/y": core.Whole(2)}},
			},
		},
		{
			// Santiago turns clocks forward at midnight: Sep 6 2026 starts
			// at 01:00, so 23:30 on Sep 5 is still Sep 5.
			name: "santiago midnight gap",
			loc:  santiago,
			charges: []charge{
				{time.Date(2026, 9, 5, 23, 30, 0, 0, santiago), "", core.Whole(1)},
				{time.Date(2026, 9, 6, 1, 30, 0, 0, santiago), "", core.Whole(2)},
			},
			from: time.Date(2026, 9, 5, 0, 0, 0, 0, santiago), to: time.Date(2026, 9, 7, 0, 0, 0, 0, santiago),
			want: []wantDay{
				{"2026-09-05", time.Date(2026, 9, 5, 0, 0, 0, 0, santiago), time.Date(2026, 9, 6, 4, 0, 0, 0, utc), map[string]core.Credits{"": core.Whole(1)}},
				{"2026-09-06", time.Date(2026, 9, 6, 4, 0, 0, 0, utc), time.Date(2026, 9, 7, 0, 0, 0, 0, santiago), map[string]core.Credits{"": core.Whole(2)}},
			},
		},
		{
			name: "utc by default",
			charges: []charge{
				{time.Date(2026, 11, 30, 23, 59, 0, 0, tokyo), "", core.Whole(1)}, // Nov 30 14:59 UTC
				{time.Date(2026, 12, 1, 8, 59, 0, 0, tokyo), "", core.Whole(1)},   // Nov 30 23:59 UTC
			},
			from: time.Date(2026, 11, 30, 0, 0, 0, 0, utc), to: time.Date(2026, 12, 2, 0, 0, 0, 0, utc),
			want: []wantDay{
				{"2026-11-30", time.Date(2026, 11, 30, 0, 0, 0, 0, utc), time.Date(2026, 12, 1, 0, 0, 0, 0, utc), map[string]core.Credits{"": core.Whole(2)}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var opts []core.Option
			if tt.loc != nil {
				opts = append(opts, core.WithReportLocation(tt.loc))
			}
			b, _, clk := newTestBilling(t, opts...)
			wantLoc := tt.loc
			if wantLoc == nil {
				wantLoc = time.UTC
			}
			if got := b.ReportLocation(); got != wantLoc {
				t.Errorf("ReportLocation() = %v, want %v", got, wantLoc)
			}
			mustSetQuotas(t, b, "c", core.Quota{Period: core.Second, Limit: core.Unlimited})
			for _, c := range tt.charges {
				clk.Set(c.at)
				if _, err := b.Charge(ctx, core.Charge{Client: "c", Label: c.label, Cost: c.cost}); err != nil {
					t.Fatalf("Charge at %s: %v", c.at, err)
				}
			}
			got, err := b.DailyUsage(ctx, "c", tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("DailyUsage returned %d days %+v, want %d", len(got), got, len(tt.want))
			}
			wantTotal := core.Whole(0)
			for i, w := range tt.want {
				g := got[i]
				sum := core.Whole(0)
				for _, c := range w.byLabel {
					sum = sum.Add(c)
				}
				wantTotal = wantTotal.Add(sum)
				if g.Date != w.date || !g.Start.Equal(w.start) || !g.End.Equal(w.end) || g.Credits != sum {
					t.Errorf("day %d = %s [%s, %s) %s credits, want %s [%s, %s) %s", i, g.Date, g.Start, g.End, g.Credits, w.date, w.start, w.end, sum)
				}
				if g.Start.Location() != wantLoc {
					t.Errorf("day %d starts in zone %v, want %v", i, g.Start.Location(), wantLoc)
				}
				if len(g.ByLabel) != len(w.byLabel) {
					t.Errorf("day %d by label = %v, want %v", i, g.ByLabel, w.byLabel)
				}
				for l, c := range w.byLabel {
					if g.ByLabel[l] != c {
						t.Errorf("day %d label %q = %s, want %s", i, l, g.ByLabel[l], c)
					}
				}
			}
			// The same days in total: TotalUsage widens only to whole hours.
			if len(tt.want) > 0 {
				from, to := tt.want[0].start, tt.want[len(tt.want)-1].end
				total, err := b.TotalUsage(ctx, "c", from, to)
				if err != nil || total != wantTotal {
					t.Errorf("TotalUsage(%s, %s) = %s, %v; want %s", from, to, total, err, wantTotal)
				}
			}
		})
	}
}

// TestReportEmptyRange: a range whose end is not after its start is empty:
// its usage is zero, DeleteUsage deletes nothing, and the store is not
// asked.
func TestReportEmptyRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	obs := &fakeObserver{}
	b, _, _ := newTestBilling(t, core.WithObserver(obs))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	mustTrack(t, b, "c", core.Whole(3))
	calls := len(obs.storeCalls())
	for _, r := range [][2]time.Time{{testStart, testStart}, {testStart, testStart.Add(-time.Nanosecond)}, {testStart.Add(time.Hour), testStart.Add(-time.Hour)}} {
		total, err := b.TotalUsage(ctx, "c", r[0], r[1])
		if err != nil || !total.IsZero() {
			t.Errorf("TotalUsage(%s, %s) = %s, %v; want 0, nil", r[0], r[1], total, err)
		}
		days, err := b.DailyUsage(ctx, "c", r[0], r[1])
		if err != nil || len(days) != 0 {
			t.Errorf("DailyUsage(%s, %s) = %+v, %v; want no days, nil", r[0], r[1], days, err)
		}
		days, err = b.DailyUsageIn(ctx, "c", r[0], r[1], time.UTC)
		if err != nil || len(days) != 0 {
			t.Errorf("DailyUsageIn(%s, %s) = %+v, %v; want no days, nil", r[0], r[1], days, err)
		}
		n, err := b.DeleteUsage(ctx, "c", r[0], r[1])
		if err != nil || !n.IsZero() || !n.IsSet() {
			t.Errorf("DeleteUsage(%s, %s) = %s, %v; want 0, nil", r[0], r[1], n, err)
		}
	}
	if got := len(obs.storeCalls()); got != calls {
		t.Errorf("empty ranges made %d store calls, want none", got-calls)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(3); got != want {
		t.Errorf("usage after empty deletions = %s, want %s", got, want)
	}
	// An invalid client is still refused on an empty range.
	if _, err := b.TotalUsage(ctx, "", testStart, testStart); !errors.Is(err, core.ErrInvalidClient) {
		t.Errorf("TotalUsage of an empty client ID = %v, want ErrInvalidClient", err)
	}
}

// TestReportWidestRange: the widest ranges are clamped, not overflowed.
func TestReportWidestRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, _ := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Unlimited})
	mustTrack(t, b, "c", core.Whole(1))
	first, last := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	total, err := b.TotalUsage(ctx, "c", first, last)
	if err != nil || total != core.Whole(1) {
		t.Errorf("TotalUsage over all time = %s, %v; want 1", total, err)
	}
	tokyo := loadZone(t, "Asia/Tokyo")
	for _, loc := range []*time.Location{time.UTC, tokyo, loadZone(t, "America/New_York")} {
		days, err := b.DailyUsageIn(ctx, "c", first, last, loc)
		if err != nil || len(days) != 1 || days[0].Credits != core.Whole(1) || days[0].Date != testStart.In(loc).Format(time.DateOnly) {
			t.Errorf("DailyUsageIn(%s) over all time = %+v, %v; want 1 credit on %s", loc, days, err, testStart.In(loc).Format(time.DateOnly))
		}
	}
	n, err := b.DeleteUsage(ctx, "c", first, last)
	if err != nil || n != core.Whole(1) {
		t.Errorf("DeleteUsage over all time = %s, %v; want 1", n, err)
	}
}

func TestDeleteUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, clk := newTestBilling(t)
	mustSetQuotas(t, b, "c",
		core.Quota{Period: core.Day, Limit: core.Whole(10)},
		core.Quota{Period: core.Month, Limit: core.Whole(100), Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
	)
	yesterday := testStart.Add(-24 * time.Hour)
	clk.Set(yesterday)
	mustTrack(t, b, "c", core.Whole(5))
	clk.Set(testStart)
	if _, err := b.Charge(ctx, core.Charge{Client: "c", Label: "/a", Cost: core.Whole(4)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Charge(ctx, core.Charge{Client: "c", Label: "/b", Cost: core.Whole(6)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Track(ctx, "c", core.Whole(1)); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Fatalf("Track over the day limit = %v, want ErrQuotaExceeded", err)
	}

	// Deleting today's usage lets the client spend again at once.
	n, err := b.DeleteUsage(ctx, "c", testStart, testStart.Add(time.Minute))
	if err != nil || n != core.Whole(10) {
		t.Fatalf("DeleteUsage(today) = %s, %v; want 10", n, err)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(0); got != want {
		t.Errorf("day usage after deleting today = %s, want %s", got, want)
	}
	if got, want := used(t, b, "c", core.Month), core.Whole(5); got != want {
		t.Errorf("month usage after deleting today = %s, want %s", got, want)
	}
	mustTrack(t, b, "c", core.Whole(10))

	// Deleting yesterday's usage gives the month its credits back, not the day.
	n, err = b.DeleteUsage(ctx, "c", yesterday, yesterday.Add(time.Nanosecond))
	if err != nil || n != core.Whole(5) {
		t.Fatalf("DeleteUsage(yesterday) = %s, %v; want 5", n, err)
	}
	if got, want := used(t, b, "c", core.Month), core.Whole(10); got != want {
		t.Errorf("month usage = %s, want %s", got, want)
	}
	if got, want := used(t, b, "c", core.Day), core.Whole(10); got != want {
		t.Errorf("day usage = %s, want %s", got, want)
	}
	days, err := b.DailyUsage(ctx, "c", yesterday, testStart.Add(time.Hour))
	if err != nil || len(days) != 1 || days[0].Credits != core.Whole(10) || days[0].ByLabel[""] != core.Whole(10) {
		t.Errorf("DailyUsage after deletions = %+v, %v; want today's 10 credits without label", days, err)
	}
	// Deleting again deletes nothing; a removed client's usage can still be deleted.
	b.RemoveClient("c")
	n, err = b.DeleteUsage(ctx, "c", yesterday, testStart.Add(time.Hour))
	if err != nil || n != core.Whole(10) {
		t.Errorf("DeleteUsage of a removed client = %s, %v; want 10", n, err)
	}
	n, err = b.DeleteUsage(ctx, "c", yesterday, testStart.Add(time.Hour))
	if err != nil || !n.IsZero() {
		t.Errorf("DeleteUsage twice = %s, %v; want 0", n, err)
	}
}

// TestDailyUsageInDST charges one credit every hour around DST changes and
// reports the days in the zone: each hour lands in the local day it starts
// in, as time.Time.In says, and a 23- or 25-hour day stays one day.
func TestDailyUsageInDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		zone    string
		from    time.Time // UTC, on the hour: the first charge
		hours   int
		dstDay  string
		dstLen  time.Duration
		through bool // report through DailyUsage with WithReportLocation
	}{
		{"Europe/Berlin", time.Date(2026, 3, 27, 20, 0, 0, 0, time.UTC), 80, "2026-03-29", 23 * time.Hour, false},
		{"Europe/Berlin", time.Date(2026, 10, 24, 20, 0, 0, 0, time.UTC), 80, "2026-10-25", 25 * time.Hour, true},
		{"America/New_York", time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), 80, "2026-03-08", 23 * time.Hour, true},
		{"America/New_York", time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), 80, "2026-11-01", 25 * time.Hour, false},
		{"America/Santiago", time.Date(2026, 9, 4, 12, 0, 0, 0, time.UTC), 80, "2026-09-06", 23 * time.Hour, false},
		{"Australia/Lord_Howe", time.Date(2026, 10, 2, 12, 0, 0, 0, time.UTC), 80, "2026-10-04", 23*time.Hour + 30*time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.dstDay, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			loc := loadZone(t, tt.zone)
			var opts []core.Option
			if tt.through {
				opts = append(opts, core.WithReportLocation(loc))
			}
			b, _, clk := newTestBilling(t, opts...)
			mustSetQuotas(t, b, "c", core.Quota{Period: core.Minute, Limit: core.Unlimited})
			want := map[string]int64{} // local date -> credits
			var dates []string
			for h := range tt.hours {
				at := tt.from.Add(time.Duration(h)*time.Hour + 17*time.Minute)
				clk.Set(at)
				label := "/even"
				if h%2 == 1 {
					label = "/odd"
				}
				if _, err := b.Charge(ctx, core.Charge{Client: "c", Cost: core.Whole(1), Label: label}); err != nil {
					t.Fatal(err)
				}
				// The day of the hour's start; in whole-hour zones, the charge's day.
				d := tt.from.Add(time.Duration(h) * time.Hour).In(loc).Format(time.DateOnly)
				if want[d] == 0 {
					dates = append(dates, d)
				}
				want[d]++
			}
			from, to := tt.from.Add(-48*time.Hour), tt.from.Add(time.Duration(tt.hours+48)*time.Hour)
			var days []core.DailyUsage
			var err error
			if tt.through {
				days, err = b.DailyUsage(ctx, "c", from, to)
				// A nil zone is the report zone.
				nilLoc, err2 := b.DailyUsageIn(ctx, "c", from, to, nil)
				if err2 != nil || len(nilLoc) != len(days) || len(days) > 0 && (nilLoc[0].Date != days[0].Date || !nilLoc[0].Start.Equal(days[0].Start)) {
					t.Errorf("DailyUsageIn(nil) = %+v, %v; want DailyUsage's %+v", nilLoc, err2, days)
				}
			} else {
				days, err = b.DailyUsageIn(ctx, "c", from, to, loc)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != len(dates) {
				t.Fatalf("%d days %+v, want %d: %v", len(days), days, len(dates), want)
			}
			var total core.Credits
			for i, d := range days {
				if d.Date != dates[i] || d.Credits != core.Whole(want[d.Date]) {
					t.Errorf("day %d = %s %s credits, want %s %d", i, d.Date, d.Credits, dates[i], want[dates[i]])
				}
				if got := d.ByLabel["/even"].Add(d.ByLabel["/odd"]); got != d.Credits || len(d.ByLabel) > 2 {
					t.Errorf("day %s by label %v does not add up to %s", d.Date, d.ByLabel, d.Credits)
				}
				// Start is the first instant of the date, End the first of the next.
				y, m, dd := d.Start.Date()
				next := time.Date(y, m, dd+1, 12, 0, 0, 0, loc).Format(time.DateOnly)
				if d.Start.Location() != loc || d.Start.Format(time.DateOnly) != d.Date || d.Start.Add(-1).In(loc).Format(time.DateOnly) == d.Date ||
					d.End.In(loc).Format(time.DateOnly) != next || d.End.Add(-1).In(loc).Format(time.DateOnly) != d.Date {
					t.Errorf("day %s = [%s, %s) in %v", d.Date, d.Start, d.End, d.Start.Location())
				}
				if d.Date == tt.dstDay {
					if got := d.End.Sub(d.Start); got != tt.dstLen {
						t.Errorf("day %s lasts %s, want %s", d.Date, got, tt.dstLen)
					}
					if h := int64(tt.dstLen / time.Hour); d.Credits != core.Whole(h) && tt.dstLen%time.Hour == 0 {
						t.Errorf("day %s has %s credits, want one per hour: %d", d.Date, d.Credits, h)
					}
				}
				if i > 0 && !days[i-1].End.Equal(d.Start) {
					t.Errorf("day %s starts at %s, not where the day before ends (%s)", d.Date, d.Start, days[i-1].End)
				}
				total = total.Add(d.Credits)
			}
			if total != core.Whole(int64(tt.hours)) {
				t.Errorf("days add up to %s, want %d", total, tt.hours)
			}
		})
	}
}

// TestDailyUsageInHalfHourZone: in a zone whose offset is not whole hours
// each hour counts in the day in which it starts, and a report of some days
// holds those days only, whole, never a part of the day before.
func TestDailyUsageInHalfHourZone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kolkata := loadZone(t, "Asia/Kolkata") // +05:30
	b, _, clk := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Unlimited})
	charges := []struct {
		at   time.Time
		cost int64
	}{
		{time.Date(2026, 11, 30, 18, 10, 0, 0, time.UTC), 1}, // Nov 30 23:40 IST, hour from 23:30: Nov 30
		{time.Date(2026, 11, 30, 18, 40, 0, 0, time.UTC), 2}, // Dec 1 00:10 IST, hour from Nov 30 23:30: Nov 30
		{time.Date(2026, 11, 30, 19, 5, 0, 0, time.UTC), 4},  // Dec 1 00:35 IST, hour from 00:30: Dec 1
		{time.Date(2026, 12, 1, 18, 20, 0, 0, time.UTC), 8},  // Dec 1 23:50 IST, hour from 23:30: Dec 1
		{time.Date(2026, 12, 1, 18, 50, 0, 0, time.UTC), 16}, // Dec 2 00:20 IST, hour from Dec 1 23:30: Dec 1
		{time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC), 32},  // Dec 2 00:30 IST: Dec 2
	}
	for _, c := range charges {
		clk.Set(c.at)
		mustTrack(t, b, "c", core.Whole(c.cost))
	}
	day := func(d int) time.Time { return time.Date(2026, 11, 30+d, 0, 0, 0, 0, kolkata) }
	tests := []struct {
		from, to time.Time
		want     map[string]int64
	}{
		{day(0), day(3), map[string]int64{"2026-11-30": 3, "2026-12-01": 28, "2026-12-02": 32}},
		{day(1), day(2), map[string]int64{"2026-12-01": 28}},
		{day(1).Add(12 * time.Hour), day(1).Add(13 * time.Hour), map[string]int64{"2026-12-01": 28}},
		{day(2), day(3), map[string]int64{"2026-12-02": 32}},
		{day(0), day(1), map[string]int64{"2026-11-30": 3}},
	}
	for _, tt := range tests {
		days, err := b.DailyUsageIn(ctx, "c", tt.from, tt.to, kolkata)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, d := range days {
			got[d.Date] = d.Credits.Floor()
		}
		if !maps.Equal(got, tt.want) {
			t.Errorf("DailyUsageIn(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

// TestTotalUsageWholeHours: TotalUsage counts the hours that overlap the
// range, whole.
func TestTotalUsageWholeHours(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, clk := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Unlimited})
	at := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, time.UTC) }
	for _, c := range []struct {
		at   time.Time
		cost int64
	}{{at(11, 59), 1}, {at(12, 10), 2}, {at(12, 50), 4}, {at(13, 0), 8}, {at(13, 59), 16}} {
		clk.Set(c.at)
		mustTrack(t, b, "c", core.Whole(c.cost))
	}
	tests := []struct {
		from, to time.Time
		want     int64
	}{
		{at(12, 30), at(12, 31), 6},
		{at(12, 0), at(13, 0), 6},
		{at(12, 0), at(13, 0).Add(1), 30},
		{at(12, 0).Add(-1), at(12, 0), 1},
		{at(11, 0), at(14, 0), 31},
		{at(14, 0), at(15, 0), 0},
		{at(13, 0), at(13, 0), 0},
	}
	for _, tt := range tests {
		total, err := b.TotalUsage(ctx, "c", tt.from, tt.to)
		if err != nil || total != core.Whole(tt.want) {
			t.Errorf("TotalUsage(%s, %s) = %s, %v; want %d", tt.from.Format(time.TimeOnly), tt.to.Format(time.TimeOnly), total, err, tt.want)
		}
	}
}
