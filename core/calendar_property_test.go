package core

import (
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// This file checks Quota.Window against a reference written independently
// of quota.go: dates are counted with civil-day arithmetic and a table of
// month lengths, and a wall-clock time is turned into an instant by trying
// the zone's offsets around it, never by time.Date or AddDate.

const nsPerDay = int64(24 * time.Hour)

// refDaysFromCivil returns the days since 1970-01-01 of a proleptic
// Gregorian date (month 1-12, any day count).
func refDaysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + 1 - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468 + int64(d-1)
}

// refCivilFromDays is the inverse of refDaysFromCivil.
func refCivilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

// refWall is a wall-clock time of day in nanoseconds since midnight.
type refWall struct {
	y, m, d int
	tod     int64
}

// refOffset returns loc's UTC offset at instant n, in nanoseconds.
func refOffset(loc *time.Location, n int64) int64 {
	_, off := time.Unix(0, n).In(loc).Zone()
	return int64(off) * int64(time.Second)
}

// refInstant returns the instant at which loc's clocks show w: the earliest
// such instant, or, in a gap, w read with the offset in effect before the
// gap (the smallest offset around it).
func refInstant(loc *time.Location, w refWall) int64 {
	u := refDaysFromCivil(w.y, w.m, w.d)*nsPerDay + w.tod
	var offs []int64
	for j := int64(-10); j <= 10; j++ {
		o := refOffset(loc, u+j*3*int64(time.Hour))
		seen := false
		for _, x := range offs {
			seen = seen || x == o
		}
		if !seen {
			offs = append(offs, o)
		}
	}
	best, found := int64(0), false
	minOff := offs[0]
	for _, o := range offs {
		minOff = min(minOff, o)
		if c := u - o; refOffset(loc, c) == o && (!found || c < best) {
			best, found = c, true
		}
	}
	if !found {
		return u - minOff
	}
	return best
}

// refCalendar walks calendar windows from an anchor.
type refCalendar struct {
	period  Period
	loc     *time.Location
	y, m, d int
	tod     int64
}

func newRefCalendar(p Period, a time.Time) refCalendar {
	off := refOffset(a.Location(), a.UnixNano())
	local := a.UnixNano() + off
	days := local / nsPerDay
	if local%nsPerDay < 0 {
		days--
	}
	y, m, d := refCivilFromDays(days)
	return refCalendar{period: p, loc: a.Location(), y: y, m: m, d: d, tod: local - days*nsPerDay}
}

// start returns the start of the k-th window from the anchor's.
func (c refCalendar) start(k int) int64 {
	w := refWall{tod: c.tod}
	switch c.period {
	case Day, Week:
		n := k
		if c.period == Week {
			n = 7 * k
		}
		w.y, w.m, w.d = refCivilFromDays(refDaysFromCivil(c.y, c.m, c.d) + int64(n))
	case Month, Year:
		months := c.y*12 + (c.m - 1) + k
		if c.period == Year {
			months = (c.y+k)*12 + (c.m - 1)
		}
		w.y = months / 12
		if months < 0 && months%12 != 0 {
			w.y--
		}
		w.m = months - w.y*12 + 1
		w.d = min(c.d, daysInMonthTable(w.y, time.Month(w.m)))
	}
	return refInstant(c.loc, w)
}

// window walks from an estimate of k, one window at a time, to the window
// containing t.
func (c refCalendar) window(anchor, t int64) (int64, int64) {
	// Average lengths (a Gregorian month is 30.436875 days), and the
	// distance in math/big: t and the anchor may be more than 292 years
	// (int64 nanoseconds) apart.
	approx := map[Period]int64{Day: nsPerDay, Week: 7 * nsPerDay, Month: 2629746 * int64(time.Second), Year: 31556952 * int64(time.Second)}[c.period]
	k := int(new(big.Int).Quo(new(big.Int).Sub(big.NewInt(t), big.NewInt(anchor)), big.NewInt(approx)).Int64())
	for i := 0; ; i++ {
		if i > 100 {
			panic("reference walk did not converge")
		}
		s, e := c.start(k), c.start(k+1)
		switch {
		case t < s:
			k--
		case t >= e:
			k++
		default:
			return s, e
		}
	}
}

// refFixedStart returns the start of the fixed window of length step that
// contains t, on the grid through the anchor an: an + floor((t-an)/step)*step,
// computed in math/big so that no difference overflows.
func refFixedStart(an, t, step int64) int64 {
	d := new(big.Int).Sub(big.NewInt(t), big.NewInt(an))
	k := new(big.Int).Div(d, big.NewInt(step)) // Euclidean: floor for step > 0
	s := new(big.Int).Add(big.NewInt(an), k.Mul(k, big.NewInt(step)))
	return s.Int64()
}

func refWindow(q Quota, t int64) (int64, int64) {
	a := q.anchor()
	an := a.UnixNano()
	if q.Period <= Hour {
		s := refFixedStart(an, t, int64(q.Period.Nominal()))
		return s, s + int64(q.Period.Nominal())
	}
	return newRefCalendar(q.Period, a).window(an, t)
}

var propertyZones = []string{
	"UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Asia/Kolkata",
	"Australia/Lord_Howe", "Australia/Sydney", "America/Santiago", "America/St_Johns",
	"Pacific/Chatham", "Asia/Tehran", "Europe/London", "America/Sao_Paulo", "Pacific/Apia",
}

func TestWindowMatchesReference(t *testing.T) {
	t.Parallel()
	locs := make([]*time.Location, len(propertyZones))
	for i, name := range propertyZones {
		locs[i] = loadLocation(t, name)
	}
	rng := rand.New(rand.NewPCG(20261130, 1))
	cases := 3000
	if testing.Short() {
		cases = 500
	}
	span := map[Period]int64{
		Second: int64(time.Hour), Minute: int64(48 * time.Hour), Hour: 400 * nsPerDay,
		Day: 800 * nsPerDay, Week: 2000 * nsPerDay, Month: 40 * 365 * nsPerDay, Year: 100 * 365 * nsPerDay,
	}
	for i := 0; i < cases; i++ {
		loc := locs[rng.IntN(len(locs))]
		y, m := 1950+rng.IntN(150), time.Month(1+rng.IntN(12))
		d := 1 + rng.IntN(daysInMonthTable(y, m))
		hh, mm, ss, ns := rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1e9)
		switch rng.IntN(4) { // favour the times where clocks change
		case 0:
			hh, mm, ss, ns = 0, 0, 0, 0
		case 1:
			hh, mm, ss, ns = 2, 30, 0, 0
		}
		if rng.IntN(3) == 0 {
			d = max(d, min(28+rng.IntN(4), daysInMonthTable(y, m)))
		}
		anchor := time.Date(y, m, d, hh, mm, ss, ns, loc)
		p := Period(rng.IntN(MaxQuotas))
		q := Quota{Period: p, Limit: Whole(1), Anchor: anchor}
		at := anchor.UnixNano() + rng.Int64N(2*span[p]) - span[p]
		ws, we := refWindow(q, at)
		// Also probe the reference window's own boundaries.
		for _, x := range []int64{at, ws, we - 1, we} {
			gs, ge := q.Window(time.Unix(0, x))
			rs, re := refWindow(q, x)
			if gs.UnixNano() != rs || ge.UnixNano() != re {
				t.Fatalf("case %d: %s quota anchored %s: Window(%s) = [%s, %s), reference [%s, %s)",
					i, p, anchor, time.Unix(0, x).In(loc), gs, ge, time.Unix(0, rs).In(loc), time.Unix(0, re).In(loc))
			}
			if rs > x || x >= re {
				t.Fatalf("case %d: reference window [%d, %d) does not contain %d", i, rs, re, x)
			}
		}
	}
}

// TestWindowTilesAcrossDSTYears walks day and week windows over whole years
// in zones with DST, checking that consecutive windows tile and that each
// lasts 23 to 25 hours per day.
func TestWindowTilesAcrossDSTYears(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"America/New_York", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Pacific/Apia"} {
		for _, p := range []Period{Day, Week} {
			t.Run(name+" "+p.String(), func(t *testing.T) {
				t.Parallel()
				loc := loadLocation(t, name)
				for _, hh := range []int{0, 1, 2} {
					anchor := time.Date(2011, 1, 3, hh, 30, 0, 0, loc)
					q := Quota{Period: p, Anchor: anchor}
					r := newRule(q)
					at := time.Date(2010, 6, 1, 0, 0, 0, 0, loc).UnixNano()
					days := int64(1)
					if p == Week {
						days = 7
					}
					for i := 0; i < int(800/days); i++ {
						s, e := r.window(at)
						if s > at || at >= e {
							t.Fatalf("window [%d, %d) does not contain %d", s, e, at)
						}
						rs, re := refWindow(q, at)
						if s != rs || e != re {
							t.Fatalf("window of %s = [%s, %s), reference [%s, %s)", time.Unix(0, at).In(loc),
								time.Unix(0, s).In(loc), time.Unix(0, e).In(loc), time.Unix(0, rs).In(loc), time.Unix(0, re).In(loc))
						}
						// Apia skipped Dec 30 2011 entirely: its week is six days.
						lo, hi := 24*days-1, 24*days+1
						if name == "Pacific/Apia" {
							lo -= 24
						}
						if h := (e - s) / int64(time.Hour); h < lo || h > hi {
							t.Fatalf("window [%s, %s) lasts %d hours", time.Unix(0, s).In(loc), time.Unix(0, e).In(loc), h)
						}
						at = e
					}
				}
			})
		}
	}
}
