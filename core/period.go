package core

import (
	"fmt"
	"strings"
	"time"
)

// Period is the length of a quota's windows: a fixed duration (second,
// minute, hour) or a calendar unit (day, week, month, year) counted in the
// quota anchor's time zone.
type Period uint8

// The periods a quota can have. A client has at most one quota per period.
const (
	Second Period = iota
	Minute
	Hour
	Day
	Week
	Month
	Year
)

// MaxQuotas is the most quotas a client can have: one per [Period].
const MaxQuotas = 7

var periodNames = [MaxQuotas]string{"second", "minute", "hour", "day", "week", "month", "year"}

// String returns the period's lower-case name, such as "day".
func (p Period) String() string {
	if p.Valid() {
		return periodNames[p]
	}
	return fmt.Sprintf("Period(%d)", uint8(p))
}

// Valid reports whether p is one of the defined periods.
func (p Period) Valid() bool { return p < MaxQuotas }

// Nominal returns the period's usual length: exact for second, minute, hour
// and week in a zone without DST; 24 hours for a day, 31 days for a month and
// 365 days for a year. It is what the RateLimit-Policy header states as the
// window (w) and is never used to compute windows.
func (p Period) Nominal() time.Duration {
	switch p {
	case Second:
		return time.Second
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	case Day:
		return 24 * time.Hour
	case Week:
		return 7 * 24 * time.Hour
	case Month:
		return 31 * 24 * time.Hour
	case Year:
		return 365 * 24 * time.Hour
	}
	return 0
}

// ParsePeriod parses a period name ("second", "minute", "hour", "day",
// "week", "month" or "year"; case is ignored).
func ParsePeriod(s string) (Period, error) {
	for i, n := range periodNames {
		if strings.EqualFold(s, n) {
			return Period(i), nil
		}
	}
	return 0, fmt.Errorf("apibilling: unknown period %q (want second, minute, hour, day, week, month or year)", s)
}

// MarshalText encodes the period as its name.
func (p Period) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("apibilling: invalid period %d", uint8(p))
	}
	return []byte(periodNames[p]), nil
}

// UnmarshalText decodes a period name, as [ParsePeriod] does.
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
