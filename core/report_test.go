package core_test

import (
	"context"
	"errors"
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
				{time.Date(2026, 11, 30, 14, 30, 0, 0, utc), "/a", core.Whole(1)},     // Nov 30 23:30 in Tokyo
				{time.Date(2026, 11, 30, 15, 30, 0, 0, utc), "/b", core.Whole(2)}, // Dec 1 00:30
				{time.Date(2026, 12, 1, 14, 59, 0, 0, utc), "/a", 500_000},          // Dec 1 23:59
				{time.Date(2026, 12, 1, 15, 0, 0, 0, utc), "", core.Whole(7)},     // Dec 2 00:00
			},
			from: time.Date(2026, 11, 30, 23, 59, 0, 0, tokyo), to: time.Date(2026, 12, 1, 0, 0, 1, 0, tokyo),
			want: []wantDay{
				{"2026-11-30", time.Date(2026, 11, 30, 0, 0, 0, 0, tokyo), time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo), map[string]core.Credits{"/a": core.Whole(1)}},
				{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo), time.Date(2026, 12, 2, 0, 0, 0, 0, tokyo), map[string]core.Credits{"/a": 500_000, "/b": core.Whole(2)}},
			},
		},
		{
			name: "tokyo range widened to one whole day",
			loc:  tokyo,
			charges: []charge{
				{time.Date(2026, 11, 30, 15, 30, 0, 0, utc), "/b", core.Whole(2)}, // Dec 1 00:30
				{time.Date(2026, 12, 1, 14, 59, 0, 0, utc), "/a", 500_000},          // Dec 1 23:59
				{time.Date(2026, 12, 1, 15, 0, 0, 0, utc), "", core.Whole(7)},     // Dec 2 00:00
			},
			from: time.Date(2026, 12, 1, 12, 0, 0, 0, tokyo), to: time.Date(2026, 12, 1, 12, 1, 0, 0, tokyo),
			want: []wantDay{
				{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo), time.Date(2026, 12, 2, 0, 0, 0, 0, tokyo), map[string]core.Credits{"/a": 500_000, "/b": core.Whole(2)}},
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
				if _, err := b.TrackLabel(ctx, "c", c.label, c.cost); err != nil {
					t.Fatalf("TrackLabel at %s: %v", c.at, err)
				}
			}
			got, err := b.DailyUsage(ctx, "c", tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("DailyUsage returned %d days %+v, want %d", len(got), got, len(tt.want))
			}
			var wantTotal core.Credits
			for i, w := range tt.want {
				g := got[i]
				var sum core.Credits
				for _, c := range w.byLabel {
					sum += c
				}
				wantTotal += sum
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
			total, err := b.TotalUsage(ctx, "c", tt.from, tt.to)
			if err != nil || total != wantTotal {
				t.Errorf("TotalUsage = %s, %v; want %s", total, err, wantTotal)
			}
		})
	}
}

func TestReportRangeRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, _ := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Unlimited})
	for _, r := range [][2]time.Time{{testStart, testStart}, {testStart, testStart.Add(-time.Nanosecond)}} {
		if _, err := b.DailyUsage(ctx, "c", r[0], r[1]); err == nil {
			t.Errorf("DailyUsage(%s, %s) = nil error, want an empty range refused", r[0], r[1])
		}
		if _, err := b.DeleteUsage(ctx, "c", r[0], r[1]); err == nil {
			t.Errorf("DeleteUsage(%s, %s) = nil error, want an empty range refused", r[0], r[1])
		}
	}
	// The widest ranges are clamped, not overflowed.
	mustTrack(t, b, "c", core.Whole(1))
	total, err := b.TotalUsage(ctx, "c", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || total != core.Whole(1) {
		t.Errorf("TotalUsage over all time = %s, %v; want 1", total, err)
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
	if _, err := b.TrackLabel(ctx, "c", "/a", core.Whole(4)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TrackLabel(ctx, "c", "/b", core.Whole(6)); err != nil {
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
	if got, want := used(t, b, "c", core.Day), core.Credits(0); got != want {
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
	if err != nil || n != 0 {
		t.Errorf("DeleteUsage twice = %s, %v; want 0", n, err)
	}
}
