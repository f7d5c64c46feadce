package core

import (
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"
)

// loadLocation loads an IANA zone or fails the test; tests name zones
// explicitly so that they never depend on the machine's local zone.
func loadLocation(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

// checkWindow checks that w = q.Window(at) contains at, is in the anchor's
// zone and tiles with its neighbours.
func checkWindow(t *testing.T, q Quota, at time.Time) (start, end time.Time) {
	t.Helper()
	start, end = q.Window(at)
	if start.After(at) || !at.Before(end) {
		t.Errorf("%s window of %s is [%s, %s): does not contain it", q.Period, at, start, end)
	}
	if got, want := start.Location(), q.anchor().Location(); got != want {
		t.Errorf("%s window start is in zone %v, want the anchor's %v", q.Period, got, want)
	}
	if ns, _ := q.Window(end); !ns.Equal(end) {
		t.Errorf("%s window after [%s, %s) starts at %s, want its end", q.Period, start, end, ns)
	}
	if _, pe := q.Window(start.Add(-time.Nanosecond)); !pe.Equal(start) {
		t.Errorf("%s window before [%s, %s) ends at %s, want its start", q.Period, start, end, pe)
	}
	return start, end
}

func TestWindowMonthEndNoDrift(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	anchor := time.Date(2024, time.January, 31, 10, 0, 0, 0, utc)
	q := Quota{Period: Month, Limit: Whole(1), Anchor: anchor}
	tests := []struct {
		at         time.Time
		start, end time.Time
	}{
		{time.Date(2024, 2, 15, 0, 0, 0, 0, utc), time.Date(2024, 1, 31, 10, 0, 0, 0, utc), time.Date(2024, 2, 29, 10, 0, 0, 0, utc)},
		{time.Date(2024, 2, 29, 10, 0, 0, 0, utc), time.Date(2024, 2, 29, 10, 0, 0, 0, utc), time.Date(2024, 3, 31, 10, 0, 0, 0, utc)},
		{time.Date(2024, 3, 31, 9, 59, 59, 999999999, utc), time.Date(2024, 2, 29, 10, 0, 0, 0, utc), time.Date(2024, 3, 31, 10, 0, 0, 0, utc)},
		{time.Date(2024, 4, 1, 0, 0, 0, 0, utc), time.Date(2024, 3, 31, 10, 0, 0, 0, utc), time.Date(2024, 4, 30, 10, 0, 0, 0, utc)},
		{time.Date(2024, 5, 30, 12, 0, 0, 0, utc), time.Date(2024, 4, 30, 10, 0, 0, 0, utc), time.Date(2024, 5, 31, 10, 0, 0, 0, utc)},
		{time.Date(2025, 2, 28, 10, 0, 0, 0, utc), time.Date(2025, 2, 28, 10, 0, 0, 0, utc), time.Date(2025, 3, 31, 10, 0, 0, 0, utc)},
		{time.Date(2025, 2, 28, 9, 0, 0, 0, utc), time.Date(2025, 1, 31, 10, 0, 0, 0, utc), time.Date(2025, 2, 28, 10, 0, 0, 0, utc)},
		{time.Date(2100, 2, 28, 11, 0, 0, 0, utc), time.Date(2100, 2, 28, 10, 0, 0, 0, utc), time.Date(2100, 3, 31, 10, 0, 0, 0, utc)},
		// Before the anchor.
		{time.Date(2024, 1, 31, 9, 0, 0, 0, utc), time.Date(2023, 12, 31, 10, 0, 0, 0, utc), time.Date(2024, 1, 31, 10, 0, 0, 0, utc)},
		{time.Date(2023, 12, 1, 0, 0, 0, 0, utc), time.Date(2023, 11, 30, 10, 0, 0, 0, utc), time.Date(2023, 12, 31, 10, 0, 0, 0, utc)},
		{time.Date(2023, 3, 1, 0, 0, 0, 0, utc), time.Date(2023, 2, 28, 10, 0, 0, 0, utc), time.Date(2023, 3, 31, 10, 0, 0, 0, utc)},
		{time.Date(2000, 3, 1, 0, 0, 0, 0, utc), time.Date(2000, 2, 29, 10, 0, 0, 0, utc), time.Date(2000, 3, 31, 10, 0, 0, 0, utc)},
	}
	for _, tt := range tests {
		t.Run(tt.at.Format(time.RFC3339Nano), func(t *testing.T) {
			t.Parallel()
			s, e := checkWindow(t, q, tt.at)
			if !s.Equal(tt.start) || !e.Equal(tt.end) {
				t.Errorf("Window(%s) = [%s, %s), want [%s, %s)", tt.at, s, e, tt.start, tt.end)
			}
		})
	}
}

// TestWindowMonthWalk walks 40 years of month windows forward and backward
// from a Jan 31 anchor: every start is on day min(31, last day of month).
func TestWindowMonthWalk(t *testing.T) {
	t.Parallel()
	anchor := time.Date(2024, time.January, 31, 0, 0, 0, 0, time.UTC)
	q := Quota{Period: Month, Limit: Whole(1), Anchor: anchor}
	for _, dir := range []int{1, -1} {
		at := anchor
		for i := 0; i < 480; i++ {
			s, e := q.Window(at)
			if got, want := s.Day(), min(31, daysInMonthTable(s.Year(), s.Month())); got != want {
				t.Fatalf("window starting %s: day %d, want %d", s, got, want)
			}
			if s.Hour() != 0 || s.Minute() != 0 {
				t.Fatalf("window starting %s: not at the anchor's time of day", s)
			}
			if dir > 0 {
				at = e
			} else {
				at = s.Add(-time.Nanosecond)
			}
		}
	}
}

// daysInMonthTable is the length of a month from a table and the Gregorian
// leap-year rule, independent of the time package.
func daysInMonthTable(y int, m time.Month) int {
	days := [12]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if m == time.February && (y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		return 29
	}
	return days[m-1]
}

func TestWindowYearFeb29(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	q := Quota{Period: Year, Limit: Whole(1), Anchor: time.Date(2024, 2, 29, 12, 0, 0, 0, utc)}
	tests := []struct {
		at    time.Time
		start time.Time
		end   time.Time
	}{
		{time.Date(2024, 6, 1, 0, 0, 0, 0, utc), time.Date(2024, 2, 29, 12, 0, 0, 0, utc), time.Date(2025, 2, 28, 12, 0, 0, 0, utc)},
		{time.Date(2025, 2, 28, 12, 0, 0, 0, utc), time.Date(2025, 2, 28, 12, 0, 0, 0, utc), time.Date(2026, 2, 28, 12, 0, 0, 0, utc)},
		{time.Date(2027, 12, 31, 0, 0, 0, 0, utc), time.Date(2027, 2, 28, 12, 0, 0, 0, utc), time.Date(2028, 2, 29, 12, 0, 0, 0, utc)},
		{time.Date(2028, 2, 29, 11, 0, 0, 0, utc), time.Date(2027, 2, 28, 12, 0, 0, 0, utc), time.Date(2028, 2, 29, 12, 0, 0, 0, utc)},
		// 2100 is not a leap year, 2000 is.
		{time.Date(2100, 3, 1, 0, 0, 0, 0, utc), time.Date(2100, 2, 28, 12, 0, 0, 0, utc), time.Date(2101, 2, 28, 12, 0, 0, 0, utc)},
		{time.Date(2100, 2, 28, 11, 0, 0, 0, utc), time.Date(2099, 2, 28, 12, 0, 0, 0, utc), time.Date(2100, 2, 28, 12, 0, 0, 0, utc)},
		{time.Date(2000, 2, 29, 13, 0, 0, 0, utc), time.Date(2000, 2, 29, 12, 0, 0, 0, utc), time.Date(2001, 2, 28, 12, 0, 0, 0, utc)},
		{time.Date(2000, 2, 28, 13, 0, 0, 0, utc), time.Date(1999, 2, 28, 12, 0, 0, 0, utc), time.Date(2000, 2, 29, 12, 0, 0, 0, utc)},
		{time.Date(1900, 12, 1, 0, 0, 0, 0, utc), time.Date(1900, 2, 28, 12, 0, 0, 0, utc), time.Date(1901, 2, 28, 12, 0, 0, 0, utc)},
	}
	for _, tt := range tests {
		t.Run(tt.at.Format(time.RFC3339), func(t *testing.T) {
			t.Parallel()
			s, e := checkWindow(t, q, tt.at)
			if !s.Equal(tt.start) || !e.Equal(tt.end) {
				t.Errorf("Window(%s) = [%s, %s), want [%s, %s)", tt.at, s, e, tt.start, tt.end)
			}
		})
	}
	// A month quota anchored on Feb 29 renews on the 29th where there is one.
	mq := Quota{Period: Month, Limit: Whole(1), Anchor: time.Date(2100, 1, 29, 0, 0, 0, 0, utc)}
	s, e := checkWindow(t, mq, time.Date(2100, 2, 28, 1, 0, 0, 0, utc))
	if want := time.Date(2100, 2, 28, 0, 0, 0, 0, utc); !s.Equal(want) {
		t.Errorf("2100 month window starts %s, want %s", s, want)
	}
	if want := time.Date(2100, 3, 29, 0, 0, 0, 0, utc); !e.Equal(want) {
		t.Errorf("2100 month window ends %s, want %s", e, want)
	}
}

func TestWindowDST(t *testing.T) {
	t.Parallel()
	ny := loadLocation(t, "America/New_York")
	berlin := loadLocation(t, "Europe/Berlin")
	santiago := loadLocation(t, "America/Santiago")
	tests := []struct {
		name       string
		period     Period
		anchor     time.Time
		at         time.Time
		start, end time.Time
		hours      float64
	}{
		{"new york spring midnight", Day, time.Date(2026, 1, 1, 0, 0, 0, 0, ny), time.Date(2026, 3, 8, 12, 0, 0, 0, ny),
			time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny), 23},
		{"new york autumn midnight", Day, time.Date(2026, 1, 1, 0, 0, 0, 0, ny), time.Date(2026, 11, 1, 23, 0, 0, 0, ny),
			time.Date(2026, 11, 1, 0, 0, 0, 0, ny), time.Date(2026, 11, 2, 0, 0, 0, 0, ny), 25},
		{"berlin spring midnight", Day, time.Date(2026, 1, 1, 0, 0, 0, 0, berlin), time.Date(2026, 3, 29, 12, 0, 0, 0, berlin),
			time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), time.Date(2026, 3, 30, 0, 0, 0, 0, berlin), 23},
		{"berlin autumn midnight", Day, time.Date(2026, 1, 1, 0, 0, 0, 0, berlin), time.Date(2026, 10, 25, 12, 0, 0, 0, berlin),
			time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), time.Date(2026, 10, 26, 0, 0, 0, 0, berlin), 25},
		// 02:30 does not occur on the spring day: that window starts at
		// 03:30 (the time read before the change), one hour after the gap.
		{"new york spring 02:30 before", Day, time.Date(2026, 1, 1, 2, 30, 0, 0, ny), time.Date(2026, 3, 8, 3, 0, 0, 0, ny),
			time.Date(2026, 3, 7, 2, 30, 0, 0, ny), time.Date(2026, 3, 8, 3, 30, 0, 0, ny), 24},
		{"new york spring 02:30 after", Day, time.Date(2026, 1, 1, 2, 30, 0, 0, ny), time.Date(2026, 3, 8, 3, 30, 0, 0, ny),
			time.Date(2026, 3, 8, 3, 30, 0, 0, ny), time.Date(2026, 3, 9, 2, 30, 0, 0, ny), 23},
		{"berlin spring 02:30 before", Day, time.Date(2026, 1, 1, 2, 30, 0, 0, berlin), time.Date(2026, 3, 29, 3, 0, 0, 0, berlin),
			time.Date(2026, 3, 28, 2, 30, 0, 0, berlin), time.Date(2026, 3, 29, 3, 30, 0, 0, berlin), 24},
		{"berlin spring 02:30 after", Day, time.Date(2026, 1, 1, 2, 30, 0, 0, berlin), time.Date(2026, 3, 29, 3, 30, 0, 0, berlin),
			time.Date(2026, 3, 29, 3, 30, 0, 0, berlin), time.Date(2026, 3, 30, 2, 30, 0, 0, berlin), 23},
		// 01:30 (New York) and 02:30 (Berlin) occur twice on the autumn day:
		// the window starts at the first occurrence and is 25 hours long.
		{"new york autumn 01:30", Day, time.Date(2026, 1, 1, 1, 30, 0, 0, ny), time.Date(2026, 11, 1, 12, 0, 0, 0, ny),
			time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), time.Date(2026, 11, 2, 1, 30, 0, 0, ny), 25},
		{"berlin autumn 02:30", Day, time.Date(2026, 1, 1, 2, 30, 0, 0, berlin), time.Date(2026, 10, 25, 12, 0, 0, 0, berlin),
			time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 26, 2, 30, 0, 0, berlin), 25},
		// Santiago turns clocks forward at midnight: Sep 6 2026 begins at
		// 01:00, and its day window with it, not on Sep 5.
		{"santiago midnight gap", Day, time.Date(2026, 1, 1, 0, 0, 0, 0, santiago), time.Date(2026, 9, 5, 23, 30, 0, 0, santiago),
			time.Date(2026, 9, 5, 0, 0, 0, 0, santiago), time.Date(2026, 9, 6, 1, 0, 0, 0, santiago), 24},
		{"santiago midnight gap next", Day, time.Date(2026, 1, 1, 0, 0, 0, 0, santiago), time.Date(2026, 9, 6, 12, 0, 0, 0, santiago),
			time.Date(2026, 9, 6, 1, 0, 0, 0, santiago), time.Date(2026, 9, 7, 0, 0, 0, 0, santiago), 23},
		// Week windows (Monday anchor) across DST.
		{"new york spring week", Week, time.Date(2026, 1, 5, 0, 0, 0, 0, ny), time.Date(2026, 3, 8, 12, 0, 0, 0, ny),
			time.Date(2026, 3, 2, 0, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny), 7*24 - 1},
		{"berlin autumn week", Week, time.Date(2026, 1, 5, 0, 0, 0, 0, berlin), time.Date(2026, 10, 25, 12, 0, 0, 0, berlin),
			time.Date(2026, 10, 19, 0, 0, 0, 0, berlin), time.Date(2026, 10, 26, 0, 0, 0, 0, berlin), 7*24 + 1},
		{"berlin week before anchor", Week, time.Date(2026, 1, 5, 0, 0, 0, 0, berlin), time.Date(2025, 10, 26, 12, 0, 0, 0, berlin),
			time.Date(2025, 10, 20, 0, 0, 0, 0, berlin), time.Date(2025, 10, 27, 0, 0, 0, 0, berlin), 7*24 + 1},
		// Month windows keep the wall-clock time across DST.
		{"new york month", Month, time.Date(2026, 1, 15, 9, 0, 0, 0, ny), time.Date(2026, 3, 20, 0, 0, 0, 0, ny),
			time.Date(2026, 3, 15, 9, 0, 0, 0, ny), time.Date(2026, 4, 15, 9, 0, 0, 0, ny), 31 * 24},
		{"new york month with change", Month, time.Date(2026, 1, 15, 9, 0, 0, 0, ny), time.Date(2026, 3, 1, 0, 0, 0, 0, ny),
			time.Date(2026, 2, 15, 9, 0, 0, 0, ny), time.Date(2026, 3, 15, 9, 0, 0, 0, ny), 28*24 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := Quota{Period: tt.period, Limit: Whole(1), Anchor: tt.anchor}
			s, e := checkWindow(t, q, tt.at)
			if !s.Equal(tt.start) || !e.Equal(tt.end) {
				t.Errorf("Window(%s) = [%s, %s), want [%s, %s)", tt.at, s, e, tt.start, tt.end)
			}
			if got := e.Sub(s).Hours(); got != tt.hours {
				t.Errorf("window is %v hours long, want %v", got, tt.hours)
			}
		})
	}
}

// TestWindowAnchorZone checks that calendar windows follow the anchor's
// zone, not UTC and not the machine's zone.
func TestWindowAnchorZone(t *testing.T) {
	t.Parallel()
	tokyo := loadLocation(t, "Asia/Tokyo")
	kolkata := loadLocation(t, "Asia/Kolkata")
	tests := []struct {
		name       string
		q          Quota
		at         time.Time
		start, end time.Time
	}{
		{"tokyo day", Quota{Period: Day, Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, tokyo)},
			time.Date(2026, 6, 10, 16, 0, 0, 0, time.UTC), // Jun 11 01:00 in Tokyo
			time.Date(2026, 6, 11, 0, 0, 0, 0, tokyo), time.Date(2026, 6, 12, 0, 0, 0, 0, tokyo)},
		{"kolkata month", Quota{Period: Month, Anchor: time.Date(2026, 1, 31, 0, 0, 0, 0, kolkata)},
			time.Date(2026, 2, 27, 19, 0, 0, 0, time.UTC), // Feb 28 00:30 in Kolkata
			time.Date(2026, 2, 28, 0, 0, 0, 0, kolkata), time.Date(2026, 3, 31, 0, 0, 0, 0, kolkata)},
		{"kolkata year", Quota{Period: Year, Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, kolkata)},
			time.Date(2026, 12, 31, 19, 0, 0, 0, time.UTC), // Jan 1 2027 00:30 in Kolkata
			time.Date(2027, 1, 1, 0, 0, 0, 0, kolkata), time.Date(2028, 1, 1, 0, 0, 0, 0, kolkata)},
		{"fixed zone week", Quota{Period: Week, Anchor: time.Date(2026, 1, 5, 0, 0, 0, 0, time.FixedZone("", -7*3600))},
			time.Date(2026, 1, 12, 6, 59, 0, 0, time.UTC), // still Jan 11 at -07:00
			time.Date(2026, 1, 5, 0, 0, 0, 0, time.FixedZone("", -7*3600)), time.Date(2026, 1, 12, 0, 0, 0, 0, time.FixedZone("", -7*3600))},
		{"default anchor day", Quota{Period: Day}, time.Date(2026, 6, 10, 23, 0, 0, 0, tokyo),
			time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 11, 0, 0, 0, 0, time.UTC)},
		{"default anchor week", Quota{Period: Week}, time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC), // a Sunday
			time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, e := checkWindow(t, tt.q, tt.at)
			if !s.Equal(tt.start) || !e.Equal(tt.end) {
				t.Errorf("Window(%s) = [%s, %s), want [%s, %s)", tt.at, s, e, tt.start, tt.end)
			}
		})
	}
}

// TestWindowFixedPeriods covers second, minute and hour windows with
// sub-second anchors, after and before the anchor.
func TestWindowFixedPeriods(t *testing.T) {
	t.Parallel()
	anchor := time.Date(2026, 3, 1, 12, 0, 0, 123_456_789, time.UTC)
	tests := []struct {
		period Period
		at     time.Time
		start  time.Time
	}{
		{Second, anchor, anchor},
		{Second, anchor.Add(-1), anchor.Add(-time.Second)},
		{Second, anchor.Add(999_999_999), anchor},
		{Second, anchor.Add(time.Second), anchor.Add(time.Second)},
		{Second, anchor.Add(-100*time.Hour - 1), anchor.Add(-100*time.Hour - time.Second)},
		{Minute, anchor.Add(90 * time.Second), anchor.Add(time.Minute)},
		{Minute, anchor.Add(-90 * time.Second), anchor.Add(-2 * time.Minute)},
		{Hour, anchor.Add(-1), anchor.Add(-time.Hour)},
		{Hour, anchor.Add(49*time.Hour + 30*time.Minute), anchor.Add(49 * time.Hour)},
		{Hour, anchor.Add(-24 * 365 * 30 * time.Hour), anchor.Add(-24 * 365 * 30 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.period.String()+" "+tt.at.Format(time.RFC3339Nano), func(t *testing.T) {
			t.Parallel()
			q := Quota{Period: tt.period, Anchor: anchor}
			s, e := checkWindow(t, q, tt.at)
			if !s.Equal(tt.start) || !e.Equal(tt.start.Add(tt.period.Nominal())) {
				t.Errorf("Window(%s) = [%s, %s), want [%s, +%s)", tt.at, s, e, tt.start, tt.period.Nominal())
			}
		})
	}
}

// TestWindowBeforeAnchor checks windows long before the anchor for every
// period: they still contain t and tile.
func TestWindowBeforeAnchor(t *testing.T) {
	t.Parallel()
	berlin := loadLocation(t, "Europe/Berlin")
	anchor := time.Date(2100, 1, 31, 2, 30, 0, 5, berlin)
	for p := Second; p <= Year; p++ {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			q := Quota{Period: p, Anchor: anchor}
			for _, at := range []time.Time{
				anchor.Add(-1),
				time.Date(2099, 12, 31, 23, 59, 0, 0, berlin),
				time.Date(2026, 3, 29, 2, 59, 0, 0, time.UTC),
				time.Date(1800, 2, 28, 0, 0, 0, 0, berlin),
			} {
				s, _ := checkWindow(t, q, at)
				if !s.Before(anchor) {
					t.Errorf("window of %s starts %s, not before the anchor", at, s)
				}
			}
		})
	}
}

// TestRuleWindowCache checks that the cached look-up agrees with compute
// while t walks across many window boundaries, including backwards.
func TestRuleWindowCache(t *testing.T) {
	t.Parallel()
	ny := loadLocation(t, "America/New_York")
	anchor := time.Date(2024, 1, 31, 1, 30, 0, 0, ny)
	for p := Second; p <= Year; p++ {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			r := newRule(Quota{Period: p, Anchor: anchor})
			at := anchor.UnixNano()
			step := p.Nominal() / 3
			for i := 0; i < 200; i++ {
				for _, x := range []int64{at - 1, at, at + 1} {
					s, e := r.window(x)
					cs, ce := r.compute(x)
					if s != cs || e != ce {
						t.Fatalf("window(%d) = [%d, %d), compute = [%d, %d)", x, s, e, cs, ce)
					}
					if s > x || x >= e {
						t.Fatalf("window(%d) = [%d, %d) does not contain it", x, s, e)
					}
				}
				_, e := r.compute(at)
				if i%7 == 6 {
					at -= int64(step) // step back into the previous window now and then
				} else {
					at = e
				}
			}
		})
	}
}

func TestWallTime(t *testing.T) {
	t.Parallel()
	ny := loadLocation(t, "America/New_York")
	berlin := loadLocation(t, "Europe/Berlin")
	lordHowe := loadLocation(t, "Australia/Lord_Howe") // 30-minute changes
	tests := []struct {
		name string
		got  int64
		want time.Time
	}{
		{"plain", wallTime(2026, 6, 1, 12, 0, 0, 0, ny), time.Date(2026, 6, 1, 16, 0, 0, 0, time.UTC)},
		{"new york gap", wallTime(2026, 3, 8, 2, 30, 0, 0, ny), time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC)},
		{"berlin gap", wallTime(2026, 3, 29, 2, 30, 0, 0, berlin), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)},
		{"new york fold", wallTime(2026, 11, 1, 1, 30, 0, 0, ny), time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)},
		{"berlin fold", wallTime(2026, 10, 25, 2, 30, 0, 0, berlin), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)},
		{"lord howe gap", wallTime(2026, 10, 4, 2, 15, 0, 0, lordHowe), time.Date(2026, 10, 4, 2, 45, 0, 0, lordHowe)},
		{"lord howe fold", wallTime(2026, 4, 5, 1, 45, 0, 0, lordHowe), time.Date(2026, 4, 4, 14, 45, 0, 0, time.UTC)},
		{"normalised day", wallTime(2026, 1, 32, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := time.Unix(0, tt.got); !got.Equal(tt.want) {
				t.Errorf("wallTime = %s, want %s", got.UTC(), tt.want.UTC())
			}
		})
	}
}

// TestWindowExtremeTimes checks that times at the ends of Unix nanoseconds
// find a window (they are clamped to the years 1680 and 2260) instead of
// stepping forever through windows that overflow.
func TestWindowExtremeTimes(t *testing.T) {
	t.Parallel()
	berlin := loadLocation(t, "Europe/Berlin")
	for p := Second; p <= Year; p++ {
		for _, anchor := range []time.Time{time.Date(2200, 12, 31, 23, 0, 0, 0, berlin), time.Date(1700, 1, 1, 0, 0, 0, 0, berlin)} {
			r := newRule(Quota{Period: p, Anchor: anchor})
			for _, tt := range []struct{ t, clamped int64 }{
				{math.MaxInt64, maxWindowNano},
				{math.MaxInt64 - int64(time.Hour), maxWindowNano},
				{time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC).UnixNano(), maxWindowNano},
				{math.MinInt64, minWindowNano},
				{math.MinInt64 + int64(time.Hour), minWindowNano},
			} {
				s, e := r.window(tt.t)
				ws, we := r.compute(tt.clamped)
				if s != ws || e != we || s > tt.clamped || tt.clamped >= e {
					t.Errorf("%s window of %d = [%d, %d), want [%d, %d) containing %d", p, tt.t, s, e, ws, we, tt.clamped)
				}
			}
		}
	}
}

// TestWindowFarFromAnchor: with the anchor and the clock centuries apart
// (more than the 292 years int64 nanoseconds span), every period's window
// contains the clock and starts on the anchor's grid: fixed windows a whole
// number of steps from the anchor (checked in math/big), calendar windows at
// the anchor's wall-clock time, as the reference computes them.
func TestWindowFarFromAnchor(t *testing.T) {
	t.Parallel()
	zones := []*time.Location{time.UTC, loadLocation(t, "Europe/Berlin"), loadLocation(t, "America/New_York"), loadLocation(t, "Asia/Kolkata")}
	type pair struct{ anchor, clock time.Time }
	var pairs []pair
	for _, loc := range zones {
		pairs = append(pairs,
			pair{time.Date(1700, 1, 1, 0, 0, 0, 0, loc), time.Date(2026, 6, 15, 12, 34, 56, 789, time.UTC)},
			pair{time.Date(1700, 1, 1, 3, 17, 42, 123_456_789, loc), time.Date(2026, 6, 15, 0, 0, 0, 0, loc)},
			pair{time.Date(1700, 3, 31, 23, 0, 0, 0, loc), time.Date(2259, 12, 31, 23, 59, 59, 999_999_999, time.UTC)},
			pair{time.Date(2200, 1, 1, 0, 0, 0, 0, loc), time.Date(1680, 6, 15, 12, 34, 56, 789, time.UTC)},
			pair{time.Date(2200, 12, 31, 23, 59, 59, 999_999_999, loc), time.Date(1680, 1, 2, 0, 0, 0, 1, loc)}, // clocks before 1680 UTC are clamped
			pair{time.Date(2200, 2, 29-1, 6, 0, 0, 0, loc), time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)},
		)
	}
	for _, p := range pairs {
		for period := Second; period <= Year; period++ {
			q := Quota{Period: period, Limit: Whole(1), Anchor: p.anchor}
			at := p.clock.UnixNano()
			s, e := q.Window(p.clock)
			name := fmt.Sprintf("%s quota anchored %s, clock %s", period, p.anchor, p.clock)
			if s.After(p.clock) || !p.clock.Before(e) {
				t.Errorf("%s: window [%s, %s) does not contain the clock", name, s, e)
				continue
			}
			rs, re := refWindow(q, at)
			if s.UnixNano() != rs || e.UnixNano() != re {
				t.Errorf("%s: window [%s, %s), reference [%s, %s)", name, s, e, time.Unix(0, rs).In(p.anchor.Location()), time.Unix(0, re).In(p.anchor.Location()))
			}
			if period <= Hour {
				step := big.NewInt(int64(period.Nominal()))
				d := new(big.Int).Sub(big.NewInt(s.UnixNano()), big.NewInt(p.anchor.UnixNano()))
				if new(big.Int).Mod(d, step).Sign() != 0 || e.Sub(s) != period.Nominal() {
					t.Errorf("%s: window [%s, %s) is not on the anchor's grid: %s ns from it", name, s, e, d)
				}
				continue
			}
			// Calendar windows start at the anchor's wall-clock time (where
			// it occurs that day; these zones change clocks after 01:00).
			ah, am, as := p.anchor.Clock()
			if sh, sm, ss := s.Clock(); period <= Week && (sh != ah || sm != am || ss != as || s.Nanosecond() != p.anchor.Nanosecond()) {
				t.Errorf("%s: window starts at %s, not at the anchor's time of day", name, s)
			}
			if period == Week {
				ay, amo, ad := p.anchor.Date()
				sy, smo, sd := s.Date()
				if days := refDaysFromCivil(sy, int(smo), sd) - refDaysFromCivil(ay, int(amo), ad); days%7 != 0 {
					t.Errorf("%s: week window starts %s, %d days from the anchor", name, s, days)
				}
			}
		}
	}
}
