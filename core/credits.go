package core

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Credits is an exact amount of credits, counted in millionths of a credit
// (micro-credits). Accounting is done in these integers, never in floating
// point, so charging 0.1 ten million times uses exactly 1,000,000 credits.
//
// Write whole amounts as multiples of [Credit] (5*core.Credit); parse
// decimal text with [ParseCredits]; convert a float64 once, at the edge, with
// [CreditsFromFloat].
type Credits int64

const (
	// MicroCredit is the smallest amount that can be accounted.
	MicroCredit Credits = 1
	// Credit is one whole credit.
	Credit Credits = 1_000_000

	// MaxCredits is the largest cost or limit accepted: 2^53-1 micro-credits,
	// about 9 billion credits. It is kept below 2^53 so every store, including
	// those that script in double-precision numbers, stays exact.
	MaxCredits Credits = 1<<53 - 1

	// Unlimited as a quota's limit means the quota never refuses; its usage
	// is still counted and reported.
	Unlimited Credits = -1
)

// Whole returns c in whole credits, rounded down (toward negative infinity).
// It is what the X-RateLimit-Remaining header reports.
func (c Credits) Whole() int64 {
	q := int64(c / Credit)
	if c%Credit < 0 {
		q--
	}
	return q
}

// Float64 returns c in credits as a float64, for display only.
func (c Credits) Float64() float64 { return float64(c) / float64(Credit) }

// String formats c in credits with up to six decimals and no trailing zeros,
// such as "3", "0.5" or "-1.000001". [Unlimited] is not special-cased here.
func (c Credits) String() string {
	var buf [32]byte
	return string(c.AppendText(buf[:0]))
}

// AppendText appends c as [Credits.String] formats it.
func (c Credits) AppendText(b []byte) []byte {
	u := uint64(c)
	if c < 0 {
		b = append(b, '-')
		u = uint64(-c)
	}
	b = strconv.AppendUint(b, u/uint64(Credit), 10)
	frac := u % uint64(Credit)
	if frac == 0 {
		return b
	}
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 6
	for n > 0 && digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// MarshalJSON encodes c as a JSON number in credits, exactly ("0.5").
func (c Credits) MarshalJSON() ([]byte, error) { return c.AppendText(nil), nil }

// CreditsFromFloat converts an amount in credits to [Credits], rounding once
// to the nearest micro-credit (halves away from zero). NaN, infinities,
// negative amounts and amounts above [MaxCredits] are refused with an error
// that wraps [ErrInvalidCost].
func CreditsFromFloat(f float64) (Credits, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: %v", ErrInvalidCost, f)
	}
	if f < 0 {
		return 0, fmt.Errorf("%w: negative amount %v", ErrInvalidCost, f)
	}
	m := math.Round(f * float64(Credit))
	if m > float64(MaxCredits) {
		return 0, fmt.Errorf("%w: %v is above the maximum of %v credits", ErrInvalidCost, f, MaxCredits)
	}
	return Credits(m), nil
}

// ParseCredits parses a non-negative decimal amount in credits, such as "5",
// "0.5" or "12.000001", exactly: no floating point is involved. Digits beyond
// the sixth decimal are rounded once (halves up). Signs, exponents, NaN,
// infinities, empty text and amounts above [MaxCredits] are refused with an
// error that wraps [ErrInvalidCost].
func ParseCredits(s string) (Credits, error) {
	bad := func(why string) (Credits, error) {
		return 0, fmt.Errorf("%w: %q %s", ErrInvalidCost, s, why)
	}
	if s == "" {
		return bad("is empty")
	}
	intPart, fracPart, hasDot := strings.Cut(s, ".")
	if intPart == "" && fracPart == "" {
		return bad("is not a number")
	}
	if hasDot && fracPart == "" && intPart == "" {
		return bad("is not a number")
	}
	var whole uint64
	for i := 0; i < len(intPart); i++ {
		ch := intPart[i]
		if ch < '0' || ch > '9' {
			return bad("is not a non-negative decimal number")
		}
		if whole > uint64(MaxCredits/Credit)+1 {
			return bad("is too large")
		}
		whole = whole*10 + uint64(ch-'0')
	}
	var frac uint64
	round := false
	for i := 0; i < len(fracPart); i++ {
		ch := fracPart[i]
		if ch < '0' || ch > '9' {
			return bad("is not a non-negative decimal number")
		}
		switch {
		case i < 6:
			frac = frac*10 + uint64(ch-'0')
		case i == 6:
			round = ch >= '5'
		}
	}
	for i := len(fracPart); i < 6; i++ {
		frac *= 10
	}
	if whole > uint64(MaxCredits/Credit)+1 {
		return bad("is too large")
	}
	v := whole*uint64(Credit) + frac
	if round {
		v++
	}
	if v > uint64(MaxCredits) {
		return bad("is too large")
	}
	return Credits(v), nil
}

// validCost reports whether c can be charged.
func validCost(c Credits) bool { return c >= 0 && c <= MaxCredits }
