package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// Credits is a struct with unexported fields, so a plain number is not an
// amount: `core.Quota{Limit: 500}` and `core.Credits(5)` do not compile
// ("cannot use 500 (untyped int constant) as core.Credits value"; "cannot
// convert 5 to type core.Credits"). That is checked by the compiler, so no
// test here; the tests below cover what remains: the zero Credits ("not
// set") is refused where an amount is needed, and every way to write an
// amount follows one rule.

func TestParseCredits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64 // micro-credits
	}{
		{"0", 0},
		{"000", 0},
		{"0.0", 0},
		{"0.0000000", 0}, // zero written with seven decimals is zero, not "rounds to zero"
		{"5", 5_000_000},
		{"5.0", 5_000_000},
		{"0.5", 500_000},
		{"12.000001", 12_000_001},
		{"007.25", 7_250_000},
		{"0.1", 100_000},
		{"0.000001", 1},
		// The seventh decimal rounds once, halves up; later digits are ignored.
		{"0.0000005", 1},
		{"0.00000059", 1},
		{"0.0000015", 2},
		{"0.0000014999", 1},
		{"1.9999995", 2_000_000},
		{"1.9999994999", 1_999_999},
		{"9007199254.740991", maxMicro},
		{"9007199254.7409914", maxMicro},
		{"9007199254.74099149999999999999", maxMicro},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := core.ParseCredits(tt.in)
			if err != nil {
				t.Fatalf("ParseCredits(%q): %v", tt.in, err)
			}
			if got != mc(tt.want) || !got.IsSet() || got.IsUnlimited() {
				t.Errorf("ParseCredits(%q) = %s (%d micro), want %d micro", tt.in, got, got.Micro(), tt.want)
			}
			if got.IsZero() != (tt.want == 0) {
				t.Errorf("ParseCredits(%q).IsZero() = %v", tt.in, got.IsZero())
			}
			if m := core.MustParseCredits(tt.in); m != got {
				t.Errorf("MustParseCredits(%q) = %s, want %s", tt.in, m, got)
			}
		})
	}
}

func TestParseCreditsRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in  string
		why string // in the error
	}{
		// One syntax: digits, optionally a point and more digits.
		{"", "not a decimal"}, {".", "not a decimal"}, {".5", "not a decimal"}, {"5.", "not a decimal"},
		{"+5", "not a decimal"}, {"-1", "not a decimal"}, {"-0", "not a decimal"}, {"1e3", "not a decimal"},
		{"1E3", "not a decimal"}, {" 5", "not a decimal"}, {"5 ", "not a decimal"}, {"5\n", "not a decimal"},
		{"NaN", "not a decimal"}, {"nan", "not a decimal"}, {"Inf", "not a decimal"}, {"+Inf", "not a decimal"},
		{"infinity", "not a decimal"}, {"1.2.3", "not a decimal"}, {"1,5", "not a decimal"}, {"0x10", "not a decimal"},
		{"1_000", "not a decimal"}, {"١", "not a decimal"}, {"\x00", "not a decimal"}, {"..5", "not a decimal"},
		{"0.5.", "not a decimal"}, {"5..0", "not a decimal"},
		// Not zero but rounds to zero: never free.
		{"0.0000001", "rounds to zero"}, {"0.0000004", "rounds to zero"}, {"0.00000049999", "rounds to zero"},
		{"0.000000000000000000001", "rounds to zero"}, {"00.0000004999999", "rounds to zero"},
		// Above MaxCredits.
		{"9007199254.7409915", "above the maximum"}, {"9007199255", "above the maximum"},
		{"18446744073709551616", "above the maximum"}, {"99999999999999999999999999999", "above the maximum"},
		{"9223372036854.775807", "above the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := core.ParseCredits(tt.in)
			if !errors.Is(err, core.ErrInvalidCost) {
				t.Fatalf("ParseCredits(%q) = %s, %v; want an error wrapping ErrInvalidCost", tt.in, got, err)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("ParseCredits(%q) error %q does not say %q", tt.in, err, tt.why)
			}
			if got.IsSet() {
				t.Errorf("ParseCredits(%q) = %s with an error, want the zero Credits", tt.in, got)
			}
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("MustParseCredits(%q) did not panic", tt.in)
				}
			}()
			core.MustParseCredits(tt.in)
		})
	}
	// A long input is cut in the message.
	_, err := core.ParseCredits(strings.Repeat("9", 1000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("ParseCredits of 1000 digits: error %q, want a short one", err)
	}
}

// refFromFloat is CreditsFromFloat computed with exact rationals: the
// float's binary value times a million, rounded half up (the value is
// never negative), refused if it is not a non-negative finite number, if it
// rounds to zero without being zero, or if it is above MaxCredits.
func refFromFloat(f float64) (int64, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	if f == 0 {
		return 0, true
	}
	r := new(big.Rat).SetFloat64(f)
	r.Mul(r, big.NewRat(1_000_000, 1))
	r.Add(r, big.NewRat(1, 2))
	n := new(big.Int).Quo(r.Num(), r.Denom()) // floor: r > 0
	if n.Sign() == 0 || !n.IsInt64() || n.Int64() > maxMicro {
		return 0, false
	}
	return n.Int64(), true
}

func checkFromFloat(t *testing.T, f float64) {
	t.Helper()
	got, err := core.CreditsFromFloat(f)
	want, ok := refFromFloat(f)
	switch {
	case ok && (err != nil || got != mc(want)):
		t.Errorf("CreditsFromFloat(%v [%b]) = %d micro, %v; want %d micro", f, f, got.Micro(), err, want)
	case !ok && (!errors.Is(err, core.ErrInvalidCost) || got.IsSet()):
		t.Errorf("CreditsFromFloat(%v [%b]) = %s, %v; want the zero Credits and ErrInvalidCost", f, f, got, err)
	}
}

func TestCreditsFromFloat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want int64 // micro-credits
		ok   bool
	}{
		{0, 0, true},
		{math.Copysign(0, -1), 0, true},
		{0.1, 100_000, true},
		{0.3, 300_000, true},
		{1.0000004, 1_000_000, true},
		{1.0000006, 1_000_001, true},
		{2.5, 2_500_000, true},
		{1e-6, 1, true},
		{9007199254, 9_007_199_254_000_000, true},
		{9007199254.740990, maxMicro - 1, true}, // the float is ...740989.685 micro: rounds up
		// The float nearest 9007199254.740991 is ...740991.59 micro: rounds above MaxCredits.
		{9007199254.740991, 0, false},
		// 5e-7's binary value is just below half a micro-credit: it rounds
		// to zero and is refused, never free.
		{5e-7, 0, false},
		{math.SmallestNonzeroFloat64, 0, false},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{math.Inf(-1), 0, false},
		{-1, 0, false},
		{-1e-300, 0, false},
		{9007199254.741, 0, false},
		{1e10, 0, false},
		{math.MaxFloat64, 0, false},
	}
	for _, tt := range tests {
		got, err := core.CreditsFromFloat(tt.in)
		if tt.ok {
			if err != nil || got != mc(tt.want) {
				t.Errorf("CreditsFromFloat(%v) = %s, %v; want %d micro", tt.in, got, err, tt.want)
			}
		} else if !errors.Is(err, core.ErrInvalidCost) || got.IsSet() {
			t.Errorf("CreditsFromFloat(%v) = %s, %v; want the zero Credits and ErrInvalidCost", tt.in, got, err)
		}
		checkFromFloat(t, tt.in) // the table agrees with the reference
	}
	// 2.5e-6 is whatever its exact binary value rounds to.
	checkFromFloat(t, 2.5e-6)
	checkFromFloat(t, 1.5e-6)
}

// TestCreditsFromFloatReference compares CreditsFromFloat with exact
// rational arithmetic over many floats: uniform ones, every magnitude, the
// halves between two micro-credits and their neighbours, and random bit
// patterns.
func TestCreditsFromFloatReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(10, 4))
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	for range n {
		checkFromFloat(t, rng.Float64()*10)
		checkFromFloat(t, math.Ldexp(1+rng.Float64(), rng.IntN(70)-40)) // 2^-40 to 2^30
		half := (float64(rng.Int64N(1<<40)) + 0.5) / 1e6                // near a half micro-credit
		checkFromFloat(t, half)
		checkFromFloat(t, math.Nextafter(half, 0))
		checkFromFloat(t, math.Nextafter(half, math.Inf(1)))
		checkFromFloat(t, math.Float64frombits(rng.Uint64())) // any value, NaN and negative included
		checkFromFloat(t, float64(rng.Int64N(maxMicro+2))/1e6)
	}
	if t.Failed() {
		t.Log("CreditsFromFloat must round the float's exact binary value once")
	}
}

func TestWhole(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		n    int64
		want int64
	}{{0, 0}, {1, 1_000_000}, {500, 500_000_000}, {9007199254, 9_007_199_254_000_000}} {
		c := core.Whole(tt.n)
		if c.Micro() != tt.want || !c.IsSet() || c.IsUnlimited() || c.Floor() != tt.n {
			t.Errorf("Whole(%d) = %d micro (floor %d), want %d", tt.n, c.Micro(), c.Floor(), tt.want)
		}
	}
	if !core.Whole(0).IsZero() || core.Whole(0) != mc(0) {
		t.Errorf("Whole(0) is not zero credits")
	}
	for _, n := range []int64{-1, 9007199255, math.MaxInt64, math.MinInt64} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "apibilling/core: Whole(") {
					t.Errorf("Whole(%d) panicked with %v, want a message prefixed apibilling/core", n, r)
				}
			}()
			core.Whole(n)
		}()
	}
}

func TestMicro(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, 1, maxMicro, maxMicro + 1, math.MaxInt64} {
		c, err := core.Micro(n)
		if err != nil || c.Micro() != n || !c.IsSet() {
			t.Errorf("Micro(%d) = %d, %v", n, c.Micro(), err)
		}
	}
	for _, n := range []int64{-1, math.MinInt64} {
		if c, err := core.Micro(n); !errors.Is(err, core.ErrInvalidCost) || c.IsSet() {
			t.Errorf("Micro(%d) = %s, %v; want ErrInvalidCost", n, c, err)
		}
	}
}

func TestCreditsKinds(t *testing.T) {
	t.Parallel()
	var unset core.Credits
	tests := []struct {
		name                 string
		c                    core.Credits
		set, zero, unlimited bool
		micro, floor         int64
		float                float64
		str, text, json      string
	}{
		{"unset", unset, false, false, false, 0, 0, 0, "unset", "", "null"},
		{"zero", core.Whole(0), true, true, false, 0, 0, 0, "0", "0", "0"},
		{"one micro", mc(1), true, false, false, 1, 0, 0.000001, "0.000001", "0.000001", "0.000001"},
		{"half", mc(500_000), true, false, false, 500_000, 0, 0.5, "0.5", "0.5", "0.5"},
		{"whole", core.Whole(1), true, false, false, 1_000_000, 1, 1, "1", "1", "1"},
		{"just below two", mc(1_999_999), true, false, false, 1_999_999, 1, 1.999999, "1.999999", "1.999999", "1.999999"},
		{"fraction", mc(12_340_000), true, false, false, 12_340_000, 12, 12.34, "12.34", "12.34", "12.34"},
		{"max credits", core.MaxCredits, true, false, false, maxMicro, 9007199254, 9007199254.740991, "9007199254.740991", "9007199254.740991", "9007199254.740991"},
		{"max usage", mc(core.MaxUsage), true, false, false, core.MaxUsage, 9223372036854, 9223372036854.775807, "9223372036854.775807", "9223372036854.775807", "9223372036854.775807"},
		{"unlimited", core.Unlimited, true, false, true, -1, -1, math.Inf(1), "unlimited", "-1", "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.c
			if c.IsSet() != tt.set || c.IsZero() != tt.zero || c.IsUnlimited() != tt.unlimited {
				t.Errorf("IsSet, IsZero, IsUnlimited = %v, %v, %v; want %v, %v, %v", c.IsSet(), c.IsZero(), c.IsUnlimited(), tt.set, tt.zero, tt.unlimited)
			}
			if c.Micro() != tt.micro || c.Floor() != tt.floor || c.Float64() != tt.float {
				t.Errorf("Micro, Floor, Float64 = %d, %d, %v; want %d, %d, %v", c.Micro(), c.Floor(), c.Float64(), tt.micro, tt.floor, tt.float)
			}
			if got := c.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got, err := c.AppendText([]byte("x=")); err != nil || string(got) != "x="+tt.text {
				t.Errorf("AppendText = %q, %v; want %q", got, err, "x="+tt.text)
			}
			if got, err := c.MarshalText(); err != nil || string(got) != tt.text {
				t.Errorf("MarshalText = %q, %v; want %q", got, err, tt.text)
			}
			j, err := json.Marshal(struct{ C core.Credits }{c})
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if got, want := string(j), `{"C":`+tt.json+`}`; got != want {
				t.Errorf("json = %s, want %s", got, want)
			}
		})
	}
}

// TestCreditsJSONRoundTrip: every amount up to MaxCredits survives JSON
// exactly, as a number and as a string holding one.
func TestCreditsJSONRoundTrip(t *testing.T) {
	t.Parallel()
	type doc struct {
		C core.Credits  `json:"c"`
		P *core.Credits `json:"p"`
	}
	rng := rand.New(rand.NewPCG(1, 2))
	values := []int64{0, 1, 9, 10, 999_999, 1_000_000, 1_000_001, 100_000, maxMicro - 1, maxMicro}
	for range 5000 {
		values = append(values, rng.Int64N(maxMicro+1), rng.Int64N(10_000_000))
	}
	for _, n := range values {
		c := mc(n)
		j, err := json.Marshal(doc{C: c, P: &c})
		if err != nil {
			t.Fatalf("Marshal(%d micro): %v", n, err)
		}
		var back doc
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", j, err)
		}
		if back.C != c || back.P == nil || *back.P != c {
			t.Fatalf("%d micro: %s decoded as %s, %v", n, j, back.C, back.P)
		}
		var fromString core.Credits
		if err := json.Unmarshal([]byte(`"`+c.String()+`"`), &fromString); err != nil || fromString != c {
			t.Fatalf("Unmarshal(%q) = %s, %v; want %s", c.String(), fromString, err, c)
		}
		var fromText core.Credits
		if err := fromText.UnmarshalText([]byte(c.String())); err != nil || fromText != c {
			t.Fatalf("UnmarshalText(%q) = %s, %v; want %s", c.String(), fromText, err, c)
		}
	}
	// null leaves the value as it was: unset, or what it held.
	var d doc
	if err := json.Unmarshal([]byte(`{"c":null,"p":null}`), &d); err != nil || d.C.IsSet() || d.P != nil {
		t.Errorf("Unmarshal(null) = %+v, %v; want unset", d, err)
	}
	d.C = core.Whole(3)
	if err := json.Unmarshal([]byte(`{"c":null}`), &d); err != nil || d.C != core.Whole(3) {
		t.Errorf("Unmarshal(null) over 3 = %s, %v; want 3 kept", d.C, err)
	}
	// The one decimal rule applies to JSON too.
	// JSON numbers up to MaxUsage decode, so that usage totals round-trip.
	var big core.Credits
	if err := json.Unmarshal([]byte(`9223372036854.775807`), &big); err != nil || big.Micro() != core.MaxUsage {
		t.Errorf("Unmarshal(MaxUsage) = %s, %v; want %d micro-credits", big, err, int64(core.MaxUsage))
	}
	for _, in := range []string{`-1`, `1e3`, `0.5e1`, `".5"`, `"5."`, `"0.0000001"`, `9223372036854.775808`, `true`, `"x"`, `{}`, `[]`, `""`} {
		var c core.Credits
		if err := json.Unmarshal([]byte(in), &c); !errors.Is(err, core.ErrInvalidCost) || c.IsSet() {
			t.Errorf("Unmarshal(%s) = %s, %v; want ErrInvalidCost", in, c, err)
		}
	}
}

func TestCreditsArithmetic(t *testing.T) {
	t.Parallel()
	var unset core.Credits
	u := core.Unlimited
	maxUsage := mc(core.MaxUsage)
	cmp := []struct {
		a, b core.Credits
		want int
	}{
		{core.Whole(1), core.Whole(2), -1},
		{core.Whole(2), core.Whole(1), 1},
		{core.Whole(2), core.Whole(2), 0},
		{mc(1), core.Whole(0), 1},
		{unset, core.Whole(0), 0},
		{unset, mc(1), -1},
		{u, core.MaxCredits, 1},
		{u, maxUsage, 1},
		{maxUsage, u, -1},
		{u, u, 0},
		{u, unset, 1},
	}
	for _, tt := range cmp {
		if got := tt.a.Cmp(tt.b); got != tt.want {
			t.Errorf("%s.Cmp(%s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	ops := []struct {
		name string
		got  core.Credits
		want core.Credits
	}{
		{"1+2", core.Whole(1).Add(core.Whole(2)), core.Whole(3)},
		{"0.1+0.2", core.MustParseCredits("0.1").Add(core.MustParseCredits("0.2")), core.MustParseCredits("0.3")},
		{"unset+1", unset.Add(core.Whole(1)), core.Whole(1)},
		{"unset+unset", unset.Add(unset), core.Whole(0)},
		{"max+max", core.MaxCredits.Add(core.MaxCredits), mc(2 * maxMicro)},
		{"saturates", maxUsage.Add(mc(1)), maxUsage},
		{"saturates from below", mc(core.MaxUsage - 5).Add(core.MaxCredits), maxUsage},
		{"exactly max", mc(core.MaxUsage - 5).Add(mc(5)), maxUsage},
		{"unlimited+1", u.Add(core.Whole(1)), u},
		{"1+unlimited", core.Whole(1).Add(u), u},
		{"3-1", core.Whole(3).Sub(core.Whole(1)), core.Whole(2)},
		{"1-3", core.Whole(1).Sub(core.Whole(3)), core.Whole(0)},
		{"1-1", core.Whole(1).Sub(core.Whole(1)), core.Whole(0)},
		{"1-unset", core.Whole(1).Sub(unset), core.Whole(1)},
		{"unlimited-1", u.Sub(core.Whole(1)), u},
		{"unlimited-unlimited", u.Sub(u), u},
		{"1-unlimited", core.Whole(1).Sub(u), core.Whole(0)},
		{"max usage-1", maxUsage.Sub(mc(1)), mc(core.MaxUsage - 1)},
	}
	for _, tt := range ops {
		if tt.got != tt.want {
			t.Errorf("%s = %s (%d micro), want %s", tt.name, tt.got, tt.got.Micro(), tt.want)
		}
	}
	// Sub of an amount is never unset, so that a result is always an amount.
	if d := core.Whole(1).Sub(core.Whole(5)); !d.IsSet() || !d.IsZero() {
		t.Errorf("1-5 = %s, want zero credits", d)
	}
}

// TestZeroCreditsNotSet: the zero Credits is refused where an amount is
// needed, with an error that names the fix.
func TestZeroCreditsNotSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, st, _ := newTestBilling(t)
	err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.Whole(10)}, core.Quota{Period: core.Month})
	if !errors.Is(err, core.ErrInvalidQuota) || !strings.Contains(err.Error(), "core.Whole") || !strings.Contains(err.Error(), "month") {
		t.Errorf("SetQuotas with an unset Limit = %v, want ErrInvalidQuota naming the month quota and core.Whole", err)
	}
	if got := b.Quotas("c"); got != nil {
		t.Errorf("quotas after a refused SetQuotas = %+v", got)
	}
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	for name, charge := range map[string]func(core.Credits) (core.Outcome, error){
		"Track": func(c core.Credits) (core.Outcome, error) { return b.Track(ctx, "c", c) },
		"Charge": func(c core.Credits) (core.Outcome, error) {
			return b.Charge(ctx, core.Charge{Client: "c", Cost: c, IdempotencyKey: "k"})
		},
		"ChargeInto": func(c core.Credits) (core.Outcome, error) {
			var o core.Outcome
			err := b.ChargeInto(ctx, &o, &core.Charge{Client: "c", Cost: c, Label: "/x"})
			return o, err
		},
	} {
		for _, cost := range []core.Credits{{}, core.Unlimited, mc(maxMicro + 1), mc(core.MaxUsage)} {
			o, err := charge(cost)
			if !errors.Is(err, core.ErrInvalidCost) {
				t.Errorf("%s(%s) = %v, want ErrInvalidCost", name, cost, err)
			}
			if !cost.IsSet() && (err == nil || !strings.Contains(err.Error(), "core.Whole")) {
				t.Errorf("%s(unset) error %v does not name core.Whole", name, err)
			}
			if o.Len() != 0 || o.Allowed() {
				t.Errorf("%s(%s) outcome has %d quotas, allowed %v; want none", name, cost, o.Len(), o.Allowed())
			}
		}
	}
	if got := used(t, b, "c", core.Day); !got.IsZero() {
		t.Errorf("usage after refused costs = %s, want 0", got)
	}
	if recs, err := st.Report(ctx, core.ReportQuery{Client: "c", From: math.MinInt64, To: math.MaxInt64}); err != nil || len(recs) != 0 {
		t.Errorf("report after refused costs = %+v, %v", recs, err)
	}
}

// TestWholeZeroIsFree: Whole(0) is admitted even when every credit is used,
// and charges nothing, also with a label and a key.
func TestWholeZeroIsFree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, st, _ := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Minute, Limit: core.Whole(5)}, core.Quota{Period: core.Day, Limit: core.Whole(0)})
	if _, err := b.Track(ctx, "c", mc(1)); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Fatalf("Track(1 micro) with a zero day limit = %v, want ErrQuotaExceeded", err)
	}
	for _, c := range []core.Charge{
		{Client: "c", Cost: core.Whole(0)},
		{Client: "c", Cost: core.MustParseCredits("0"), Label: "/api/quota"},
		{Client: "c", Cost: core.Whole(0), Label: "/api/quota", IdempotencyKey: "free"},
	} {
		o, err := b.Charge(ctx, c)
		if err != nil || !o.Allowed() {
			t.Fatalf("Charge(%+v) on exhausted quotas = %v, allowed %v; want admitted", c, err, o.Allowed())
		}
		if low, ok := o.Lowest(); !ok || low.Period != core.Day || !low.Remaining.IsZero() || !low.Used.IsZero() {
			t.Errorf("lowest quota after a free charge = %+v, %v", low, ok)
		}
		if !o.Cost().IsZero() || o.Violated() != 0 || !o.RetryAt().IsZero() {
			t.Errorf("free charge outcome: cost %s, violated %s, retry %s", o.Cost(), o.Violated(), o.RetryAt())
		}
		if err := b.Refund(ctx, &o); err != nil || o.Refunded() {
			t.Errorf("Refund of a free charge = %v, refunded %v; want a no-op", err, o.Refunded())
		}
	}
	if got := used(t, b, "c", core.Minute); !got.IsZero() {
		t.Errorf("minute usage after free charges = %s, want 0", got)
	}
	if recs, err := st.Report(ctx, core.ReportQuery{Client: "c", From: math.MinInt64, To: math.MaxInt64}); err != nil || len(recs) != 0 {
		t.Errorf("free charges made usage aggregates: %+v, %v", recs, err)
	}
}

// TestTenMillionTenths charges 0.1 credits ten million times through
// Billing.Track on the memory store: the usage is exactly 1,000,000
// credits, in the live window and in the report.
func TestTenMillionTenths(t *testing.T) {
	t.Parallel()
	n := 10_000_000
	if testing.Short() {
		n = 100_000
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.Unlimited}); err != nil {
		t.Fatal(err)
	}
	tenth, err := core.ParseCredits("0.1")
	if err != nil {
		t.Fatal(err)
	}
	if f, err := core.CreditsFromFloat(0.1); err != nil || f != tenth {
		t.Fatalf("CreditsFromFloat(0.1) = %s, %v; want %s", f, err, tenth)
	}
	ctx := context.Background()
	// Two goroutines share the charges, so that the test takes half as long
	// on two cores; the sum must be exact all the same.
	const workers = 2
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < n/workers; i++ {
				if _, err := b.Track(ctx, "c", tenth); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Errorf("Track: %v", err)
		}
	}
	want := core.Whole(int64(n / 10))
	st, err := b.Status(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Quota(0).Used; got != want {
		t.Errorf("used %s credits, want exactly %s", got, want)
	}
	total, err := b.TotalUsage(ctx, "c", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if total != want {
		t.Errorf("total usage %s credits, want exactly %s", total, want)
	}
}
