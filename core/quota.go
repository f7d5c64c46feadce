package core

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Quota is one limit of a client: at most Limit credits in each window of
// Period. Windows tile time forwards and backwards from Anchor:
//
//   - Second, Minute, Hour: fixed durations from the anchor instant.
//   - Day, Week: calendar days in the anchor's time zone (its
//     [time.Time.Location]). A window runs from the anchor's wall-clock time
//     to the same wall-clock time one (or seven) days later, so it is 23 or 25
//     hours long across a DST change.
//   - Month: starts on the anchor's day of month at its wall-clock time. In a
//     shorter month the start is clamped to the last day, without drifting
//     later months: an anchor on Jan 31 gives Feb 28 (or 29), Mar 31, Apr 30.
//   - Year: likewise; an anchor on Feb 29 gives Feb 28 in other years.
type Quota struct {
	// Period is the length of each window.
	Period Period
	// Limit is the most credits a window admits, from Whole(0) to
	// [MaxCredits], or [Unlimited]. It must be set: the zero Credits is
	// refused, so that a forgotten limit is found at start-up.
	Limit Credits
	// Anchor is the instant one window starts at, and its Location the zone
	// whose calendar day, week, month and year windows follow. The zero value
	// means [DefaultAnchor].
	Anchor time.Time
}

// DefaultAnchor is the anchor of a [Quota] whose Anchor is the zero time:
// Monday 2001-01-01 00:00:00 UTC, so day, week, month and year windows start
// at midnight UTC on a day, a Monday, the 1st and January 1st.
var DefaultAnchor = time.Date(2001, time.January, 1, 0, 0, 0, 0, time.UTC)

// Anchors must lie in these years, so that every window fits in Unix
// nanoseconds.
const (
	minAnchorYear = 1700
	maxAnchorYear = 2200
)

// Unlimited reports whether the quota never refuses.
func (q Quota) Unlimited() bool { return q.Limit.IsUnlimited() }

// Validate reports why q cannot be used, or nil. Errors wrap [ErrInvalidQuota].
func (q Quota) Validate() error {
	if !q.Period.Valid() {
		return fmt.Errorf("%w: unknown period %d", ErrInvalidQuota, uint8(q.Period))
	}
	switch {
	case !q.Limit.IsSet():
		return fmt.Errorf("%w: the %s quota's Limit is not set: write core.Whole(500), core.MustParseCredits(\"0.5\") or core.Unlimited", ErrInvalidQuota, q.Period)
	case !q.Limit.IsUnlimited() && (q.Limit.micro < 0 || q.Limit.micro > maxMicro):
		return fmt.Errorf("%w: the %s quota's Limit %s is above the maximum of %s credits", ErrInvalidQuota, q.Period, q.Limit, MaxCredits)
	}
	a := q.anchor()
	if y := a.Year(); y < minAnchorYear || y > maxAnchorYear {
		return fmt.Errorf("%w: %s anchor %s is outside the years %d to %d", ErrInvalidQuota, q.Period, a.Format(time.RFC3339), minAnchorYear, maxAnchorYear)
	}
	return nil
}

func (q Quota) anchor() time.Time {
	if q.Anchor.IsZero() {
		return DefaultAnchor
	}
	return q.Anchor
}

// Window returns the window of q that contains t: start <= t < end. It is
// calendar arithmetic only; q is not validated. Times before the year 1680
// or after 2260 are taken as those years' bounds, so windows always fit in
// Unix nanoseconds.
func (q Quota) Window(t time.Time) (start, end time.Time) {
	r := newRule(q)
	s, e := r.compute(t.UnixNano())
	loc := q.anchor().Location()
	return time.Unix(0, s).In(loc), time.Unix(0, e).In(loc)
}

// span is a window as Unix nanoseconds, start inclusive, end exclusive.
type span struct{ start, end int64 }

// rule is a validated quota compiled for fast window look-ups: the anchor's
// wall clock is split once, and the current window is cached.
type rule struct {
	Quota
	limit      int64 // micro-credits, or -1 for unlimited
	levels     [MaxLevels]int64
	percents   [MaxLevels]int
	anchorNano int64
	loc        *time.Location
	year       int
	month      time.Month
	day        int
	hour, min  int
	sec, nsec  int
	step       int64 // fixed periods: window length in nanoseconds
	cache      atomic.Pointer[span]
}

func newRule(q Quota) *rule {
	a := q.anchor()
	r := &rule{Quota: q, limit: q.Limit.micro, anchorNano: a.UnixNano(), loc: a.Location()}
	if q.Limit.IsUnlimited() {
		r.limit = -1
	}
	r.Anchor = a
	r.year, r.month, r.day = a.Date()
	r.hour, r.min, r.sec = a.Clock()
	r.nsec = a.Nanosecond()
	switch q.Period {
	case Second:
		r.step = int64(time.Second)
	case Minute:
		r.step = int64(time.Minute)
	case Hour:
		r.step = int64(time.Hour)
	}
	return r
}

// window returns the window containing t, from the cache when it still holds.
func (r *rule) window(t int64) (start, end int64) {
	if c := r.cache.Load(); c != nil && c.start <= t && t < c.end {
		return c.start, c.end
	}
	s, e := r.compute(t)
	r.cache.Store(&span{s, e})
	return s, e
}

// Window look-ups clamp t to these instants (the starts of the years 1680
// and 2260), so that the windows around it, and the arithmetic that finds
// them, stay inside Unix nanoseconds; without it a clock within a window's
// length of the year 2262 would never find its window.
var (
	minWindowNano = time.Date(1680, time.January, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	maxWindowNano = time.Date(2260, time.January, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// compute returns the window containing t without the cache.
func (r *rule) compute(t int64) (start, end int64) {
	t = min(max(t, minWindowNano), maxWindowNano)
	if r.step != 0 {
		k := stepsBetween(r.anchorNano, t, r.step)
		start = r.anchorNano + k*r.step
		return start, start + r.step
	}
	var k int
	switch r.Period {
	case Day:
		k = int(stepsBetween(r.anchorNano, t, int64(24*time.Hour)))
	case Week:
		k = int(stepsBetween(r.anchorNano, t, int64(7*24*time.Hour)))
	case Month:
		ty, tm, _ := time.Unix(0, t).In(r.loc).Date()
		k = (ty-r.year)*12 + int(tm-r.month)
	case Year:
		k = time.Unix(0, t).In(r.loc).Year() - r.year
	}
	// The estimate is at most one window off (DST shifts, clamping, or the
	// anchor's time of day); step until start(k) <= t < start(k+1).
	for r.startOf(k) > t {
		k--
	}
	for r.startOf(k+1) <= t {
		k++
	}
	return r.startOf(k), r.startOf(k + 1)
}

// startOf returns the start of the k-th window after (k < 0: before) the one
// starting at the anchor.
func (r *rule) startOf(k int) int64 {
	switch r.Period {
	case Day:
		return wallTime(r.year, r.month, r.day+k, r.hour, r.min, r.sec, r.nsec, r.loc)
	case Week:
		return wallTime(r.year, r.month, r.day+7*k, r.hour, r.min, r.sec, r.nsec, r.loc)
	case Month:
		m := int(r.month) - 1 + k
		y := r.year + floorDivInt(m, 12)
		m -= floorDivInt(m, 12) * 12
		return r.clamped(y, time.Month(m+1))
	case Year:
		return r.clamped(r.year+k, r.month)
	}
	return r.anchorNano + int64(k)*r.step
}

// clamped returns the anchor's day and wall-clock time in year y, month m,
// with the day clamped to the month's last day.
func (r *rule) clamped(y int, m time.Month) int64 {
	d := r.day
	if last := daysIn(y, m); d > last {
		d = last
	}
	return wallTime(y, m, d, r.hour, r.min, r.sec, r.nsec, r.loc)
}

// wallTime returns the instant, as Unix nanoseconds, at which the clocks of
// loc show the given date and time (out-of-range fields normalised as
// [time.Date] does). Where clocks were turned back and the time occurs
// twice, it is the first occurrence; where they were turned forward and the
// time does not occur, it is the time as read before the change, that is
// shifted later by the gap (02:30 becomes 03:30, and a midnight that does
// not occur becomes the first instant of that day). [time.Date] leaves both
// choices open, and in practice they depend on the sign of the zone's
// offset, which would start a day window on the previous calendar day in
// zones that change clocks at midnight.
func wallTime(y int, m time.Month, d, hour, min, sec, nsec int, loc *time.Location) int64 {
	t := time.Date(y, m, d, hour, min, sec, nsec, loc)
	n := t.UnixNano()
	wall := time.Date(y, m, d, hour, min, sec, nsec, time.UTC).UnixNano()
	_, off := t.Zone()
	if n+int64(off)*int64(time.Second) < wall {
		// In a gap, resolved to before it: read the time with the offset
		// in effect before the gap (the one t has).
		return wall - int64(off)*int64(time.Second)
	}
	if from, _ := t.ZoneBounds(); !from.IsZero() {
		_, prev := from.Add(-1).Zone()
		if e := wall - int64(prev)*int64(time.Second); prev > off && e < from.UnixNano() {
			return e // the first of two occurrences, before clocks were turned back
		}
	}
	return n
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// stepsBetween returns floor((t-a)/step) without computing t-a, which
// overflows int64 when the two are more than about 292 years apart: each
// is split into whole steps and a remainder first.
func stepsBetween(a, t, step int64) int64 {
	qa, ra := floorDiv(a, step), a-floorDiv(a, step)*step
	qt, rt := floorDiv(t, step), t-floorDiv(t, step)*step
	k := qt - qa
	if rt < ra {
		k--
	}
	return k
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorDivInt(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
