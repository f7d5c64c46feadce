package core

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Credits is an exact, non-negative amount of credits, such as a cost, a
// limit or the usage of a window. Accounting is done in integer millionths
// of a credit (micro-credits), never in floating point, so charging 0.1 ten
// million times uses exactly 1,000,000 credits.
//
// Credits is opaque so that a plain number cannot be taken for an amount by
// mistake: Limit: 500 or Cost(5) does not compile. Write amounts with
// [Whole] (Whole(500)), parse decimal text with [ParseCredits] or
// [MustParseCredits] ("0.5"), convert a float64 once, at the edge, with
// [CreditsFromFloat], and write an unlimited quota's limit as [Unlimited].
//
// The zero Credits is "no amount": it is what an unset field holds, and
// what needs an amount refuses it (a [Quota] whose Limit is not set) or
// applies its documented default (an adapter's cost). Zero credits is
// Whole(0). Credits values compare with ==.
type Credits struct {
	micro int64
	kind  creditsKind
}

type creditsKind uint8

const (
	unset creditsKind = iota
	amount
	unlimited
)

const microPerCredit = 1_000_000

// MaxCredits is the largest cost or limit accepted: 2^53-1 micro-credits,
// about 9 billion credits. It is kept below 2^53 so that every store,
// including those that script in double-precision numbers, compares
// limits and costs exactly.
var MaxCredits = Credits{micro: maxMicro, kind: amount}

// maxMicro is [MaxCredits] in micro-credits.
const maxMicro = 1<<53 - 1

// MaxUsage is the most a usage counter (a window's or an hour's) can hold:
// 2^63-1 micro-credits, about 9.2 trillion credits. A charge that would
// take a counter past it is refused with [ErrUsageOverflow], on every store
// alike, so that no total ever wraps around.
const MaxUsage = math.MaxInt64

// Unlimited as a quota's limit means the quota never refuses; its usage is
// still counted and reported, up to [MaxUsage].
var Unlimited = Credits{micro: -1, kind: unlimited}

// Whole returns n whole credits. It panics if n is negative or above
// [MaxCredits] (about 9 billion): amounts written in code are constants,
// and a mistake in one is found at start-up. Use [ParseCredits] for input.
func Whole(n int64) Credits {
	if n < 0 || n > maxMicro/microPerCredit {
		panic(fmt.Sprintf("apibilling/core: Whole(%d) is outside 0 to %d credits", n, maxMicro/microPerCredit))
	}
	return Credits{micro: n * microPerCredit, kind: amount}
}

// Micro returns micro micro-credits, for amounts read back from storage or
// computed in micro-credits, up to [MaxUsage]. It fails for a negative
// amount. (A cost or limit above [MaxCredits] is still refused where it is
// used.)
func Micro(micro int64) (Credits, error) {
	if micro < 0 {
		return Credits{}, fmt.Errorf("%w: %d micro-credits is negative", ErrInvalidCost, micro)
	}
	return Credits{micro: micro, kind: amount}, nil
}

// micro returns n micro-credits without checks, for the package's own
// amounts, which are never negative.
func micro(n int64) Credits { return Credits{micro: n, kind: amount} }

// IsSet reports whether c holds an amount or [Unlimited]: false only for
// the zero Credits.
func (c Credits) IsSet() bool { return c.kind != unset }

// IsUnlimited reports whether c is [Unlimited].
func (c Credits) IsUnlimited() bool { return c.kind == unlimited }

// IsZero reports whether c is an amount of zero credits.
func (c Credits) IsZero() bool { return c.kind == amount && c.micro == 0 }

// Micro returns c in micro-credits: 0 for the zero Credits, -1 for
// [Unlimited].
func (c Credits) Micro() int64 { return c.micro }

// Floor returns c in whole credits, rounded down: what the
// X-RateLimit-Remaining header reports. It is -1 for [Unlimited].
func (c Credits) Floor() int64 {
	if c.kind == unlimited {
		return -1
	}
	return c.micro / microPerCredit
}

// Float64 returns c in credits as a float64, for display only.
func (c Credits) Float64() float64 {
	if c.kind == unlimited {
		return math.Inf(1)
	}
	return float64(c.micro) / microPerCredit
}

// Cmp compares two amounts: -1 if c < d, 0 if equal, +1 if c > d.
// [Unlimited] is above every amount; the zero Credits counts as zero.
func (c Credits) Cmp(d Credits) int {
	switch {
	case c.kind == unlimited && d.kind == unlimited:
		return 0
	case c.kind == unlimited:
		return 1
	case d.kind == unlimited:
		return -1
	case c.micro < d.micro:
		return -1
	case c.micro > d.micro:
		return 1
	}
	return 0
}

// Add returns c + d, saturating at [MaxUsage]; it is [Unlimited] if either
// is. The zero Credits counts as zero.
func (c Credits) Add(d Credits) Credits {
	if c.kind == unlimited || d.kind == unlimited {
		return Unlimited
	}
	if c.micro > MaxUsage-d.micro {
		return micro(MaxUsage)
	}
	return micro(c.micro + d.micro)
}

// Sub returns c - d, or zero if d is larger. [Unlimited] minus an amount
// is [Unlimited]; an amount minus [Unlimited] is zero.
func (c Credits) Sub(d Credits) Credits {
	switch {
	case c.kind == unlimited:
		return Unlimited
	case d.kind == unlimited || d.micro >= c.micro:
		return micro(0)
	}
	return micro(c.micro - d.micro)
}

// String formats c in credits with up to six decimals and no trailing
// zeros, such as "3" or "0.5"; [Unlimited] is "unlimited" and the zero
// Credits "unset".
func (c Credits) String() string {
	switch c.kind {
	case unset:
		return "unset"
	case unlimited:
		return "unlimited"
	}
	var buf [24]byte
	return string(appendCredits(buf[:0], c.micro))
}

// AppendText appends c as a decimal number of credits, such as "0.5":
// "-1" for [Unlimited], and nothing for the zero Credits (which
// [Credits.UnmarshalText] reads back as unset, never as zero).
func (c Credits) AppendText(b []byte) ([]byte, error) {
	switch c.kind {
	case unlimited:
		return append(b, "-1"...), nil
	case unset:
		return b, nil
	}
	return appendCredits(b, c.micro), nil
}

// MarshalText encodes c as [Credits.AppendText] does.
func (c Credits) MarshalText() ([]byte, error) { return c.AppendText(nil) }

// UnmarshalText decodes what [Credits.AppendText] encodes: a non-negative
// decimal amount, read as [ParseCredits] does but up to [MaxUsage] (usage
// totals can exceed [MaxCredits]; limits and costs are checked where they
// are used), "-1" for [Unlimited], and empty text for the zero Credits.
func (c *Credits) UnmarshalText(b []byte) error {
	switch string(b) {
	case "":
		*c = Credits{}
		return nil
	case "-1":
		*c = Unlimited
		return nil
	}
	v, err := parseDecimal(string(b), MaxUsage)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// MarshalJSON encodes c as a JSON number of credits, exactly ("0.5"), and
// [Unlimited] and the zero Credits as null.
func (c Credits) MarshalJSON() ([]byte, error) {
	if c.kind != amount {
		return []byte("null"), nil
	}
	return appendCredits(nil, c.micro), nil
}

// UnmarshalJSON decodes a JSON number (or a string holding one) exactly,
// as [Credits.UnmarshalText] does, up to [MaxUsage]; null leaves c
// unchanged.
func (c *Credits) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" || s == "-1" {
		return fmt.Errorf("%w: %q is not a decimal number of credits", ErrInvalidCost, s)
	}
	return c.UnmarshalText([]byte(s))
}

// appendCredits appends n micro-credits as a decimal number of credits.
func appendCredits(b []byte, n int64) []byte {
	u := uint64(n)
	if n < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/microPerCredit, 10)
	frac := u % microPerCredit
	if frac == 0 {
		return b
	}
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	k := 6
	for k > 0 && digits[k-1] == '0' {
		k--
	}
	b = append(b, '.')
	return append(b, digits[:k]...)
}

// ParseCredits parses a non-negative decimal amount of credits, such as
// "5", "0.5" or "12.000001", exactly, without floating point.
//
// The syntax is digits, optionally followed by a point and more digits
// ("5", "0.5", "5.0"; not ".5", "5.", "+5", "1e3"). Digits beyond the sixth
// decimal are rounded once, halves up ("0.0000015" is 2 micro-credits); an
// amount that is not zero but rounds to zero ("0.0000001") is refused, so a
// cost never becomes free by rounding. Amounts above [MaxCredits] are
// refused. Errors wrap [ErrInvalidCost].
//
// This is the one rule for decimal text everywhere: the clients file, the
// usage API and the example apps' units parameter all use it.
func ParseCredits(s string) (Credits, error) { return parseDecimal(s, maxMicro) }

// parseDecimal parses s as ParseCredits does, refusing amounts above limit
// micro-credits.
func parseDecimal(s string, limit int64) (Credits, error) {
	top := micro(limit)
	bad := func(why string) (Credits, error) {
		q := s
		if len(q) > 40 {
			q = q[:40] + "..."
		}
		return Credits{}, fmt.Errorf("%w: %q %s", ErrInvalidCost, q, why)
	}
	intPart, fracPart, hasDot := strings.Cut(s, ".")
	if intPart == "" || hasDot && fracPart == "" {
		return bad("is not a decimal number of credits (such as 5 or 0.5)")
	}
	var whole uint64
	for i := 0; i < len(intPart); i++ {
		ch := intPart[i]
		if ch < '0' || ch > '9' {
			return bad("is not a decimal number of credits (such as 5 or 0.5)")
		}
		if whole <= uint64(limit)/microPerCredit {
			whole = whole*10 + uint64(ch-'0')
		}
	}
	var frac uint64
	round, nonzero := false, whole != 0
	for i := 0; i < len(fracPart); i++ {
		ch := fracPart[i]
		if ch < '0' || ch > '9' {
			return bad("is not a decimal number of credits (such as 5 or 0.5)")
		}
		nonzero = nonzero || ch != '0'
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
	if whole > uint64(limit)/microPerCredit {
		return bad("is above the maximum of " + top.String() + " credits")
	}
	v := whole*microPerCredit + frac
	if round {
		v++
	}
	if v > uint64(limit) {
		return bad("is above the maximum of " + top.String() + " credits")
	}
	if v == 0 && nonzero {
		return bad("rounds to zero micro-credits; the smallest amount is 0.000001")
	}
	return micro(int64(v)), nil
}

// MustParseCredits is [ParseCredits] for amounts written in code, such as
// MustParseCredits("0.5"); it panics if s is not valid.
func MustParseCredits(s string) Credits {
	c, err := ParseCredits(s)
	if err != nil {
		panic("apibilling/core: MustParseCredits: " + err.Error())
	}
	return c
}

// CreditsFromFloat converts an amount of credits held in a float64, rounding
// its exact binary value once to the nearest micro-credit, halves away from
// zero (0.1 is 100,000 micro-credits; 5e-7, whose binary value is just
// below half a micro-credit, rounds to zero). Like [ParseCredits] it
// refuses NaN, infinities, negative amounts, amounts above [MaxCredits],
// and amounts that are not zero but round to zero. Errors wrap
// [ErrInvalidCost].
func CreditsFromFloat(f float64) (Credits, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return Credits{}, fmt.Errorf("%w: %v is not a number of credits", ErrInvalidCost, f)
	case f < 0:
		return Credits{}, fmt.Errorf("%w: %v is negative", ErrInvalidCost, f)
	case f > float64(maxMicro)/microPerCredit+1:
		return Credits{}, fmt.Errorf("%w: %v is above the maximum of %s credits", ErrInvalidCost, f, MaxCredits)
	case f == 0:
		return micro(0), nil
	}
	// f * 10^6 exactly: 53 bits times 20 bits fits in 128.
	x := new(big.Float).SetPrec(128).SetFloat64(f)
	x.Mul(x, new(big.Float).SetPrec(128).SetInt64(microPerCredit))
	whole, _ := x.Int(nil) // truncated toward zero
	rest := new(big.Float).SetPrec(128).Sub(x, new(big.Float).SetPrec(128).SetInt(whole))
	if rest.Cmp(big.NewFloat(0.5)) >= 0 {
		whole.Add(whole, big.NewInt(1))
	}
	if !whole.IsInt64() || whole.Int64() > maxMicro {
		return Credits{}, fmt.Errorf("%w: %v is above the maximum of %s credits", ErrInvalidCost, f, MaxCredits)
	}
	if whole.Sign() == 0 {
		return Credits{}, fmt.Errorf("%w: %v rounds to zero micro-credits; the smallest amount is 0.000001", ErrInvalidCost, f)
	}
	return micro(whole.Int64()), nil
}
