package core_test

import (
	"context"
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

var plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// FuzzParseCredits checks ParseCredits against exact rational arithmetic:
// a plain decimal (digits, optionally a point and digits) is its value in
// micro-credits rounded half up, or refused as too large or as rounding to
// zero without being zero; anything else is refused. What String() writes
// parses back to the same value.
func FuzzParseCredits(f *testing.F) {
	for _, s := range []string{"0", "1", "0.5", ".5", "1.", "5.0", "12.000001", "0.0000005", "0.00000049999", "0.0000000",
		"1.9999995", "0.0000015", "9007199254.740991", "9007199254.7409915", "9007199255", "", ".", "-1", "+5", "1e3",
		"NaN", "Inf", "1.2.3", " 1", "00000000000000000000000001", "99999999999999999999999999"} {
		f.Add(s)
	}
	million := big.NewRat(1_000_000, 1)
	half := big.NewRat(1, 2)
	maxRat := new(big.Rat).SetInt64(maxMicro)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := core.ParseCredits(s)
		if err != nil && (!errors.Is(err, core.ErrInvalidCost) || got.IsSet()) {
			t.Fatalf("ParseCredits(%q) = %s, %v; want the zero Credits and ErrInvalidCost", s, got, err)
		}
		if !plainDecimal.MatchString(s) {
			if err == nil {
				t.Fatalf("ParseCredits(%q) = %s, want an error", s, got)
			}
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat cannot parse %q", s)
		}
		exact := r.Sign()
		r.Mul(r, million).Add(r, half)
		want := new(big.Int).Quo(r.Num(), r.Denom()) // floor: r is positive
		switch {
		case new(big.Rat).SetInt(want).Cmp(maxRat) > 0:
			if err == nil {
				t.Fatalf("ParseCredits(%q) = %s, want too large", s, got)
			}
			return
		case want.Sign() == 0 && exact != 0:
			if err == nil {
				t.Fatalf("ParseCredits(%q) = %s, want refused as rounding to zero", s, got)
			}
			return
		}
		if err != nil || got.Micro() != want.Int64() || !got.IsSet() {
			t.Fatalf("ParseCredits(%q) = %d micro, %v; want %s", s, got.Micro(), err, want)
		}
		if back, err := core.ParseCredits(got.String()); err != nil || back != got {
			t.Fatalf("ParseCredits(%q.String() = %q) = %s, %v", s, got.String(), back, err)
		}
		var fromJSON core.Credits
		if j, _ := got.MarshalJSON(); fromJSON.UnmarshalJSON(j) != nil || fromJSON != got {
			t.Fatalf("JSON of %s = %s decodes as %s", got, j, fromJSON)
		}
	})
}

// FuzzCreditsFromFloat checks CreditsFromFloat against exact rational
// arithmetic (refFromFloat): the float's binary value rounded once to the
// nearest micro-credit, or refused.
func FuzzCreditsFromFloat(f *testing.F) {
	for _, x := range []float64{0, 0.1, 5e-7, 2.5e-6, 1.5, 9007199254.740991, 9007199254.7409915, 1e10, -1, math.NaN(), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		checkFromFloat(t, x)
	})
}

var fuzzZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "America/Santiago", "Australia/Lord_Howe", "Pacific/Apia"}

// fuzzCredits maps a fuzzed int64 to an amount: n >= 0 is n micro-credits
// (above MaxCredits too), -1 is Unlimited, and below is the zero Credits.
func fuzzCredits(n int64) core.Credits {
	switch {
	case n >= 0:
		return mc(n)
	case n == -1:
		return core.Unlimited
	}
	return core.Credits{}
}

// FuzzTrack charges arbitrary costs, labels and idempotency keys to
// arbitrary client IDs with arbitrary quotas and clocks. It never panics; a
// refused or invalid charge changes nothing; an admitted one adds exactly
// its cost to every window and to the report, and a retry with its key is a
// replay that adds nothing.
func FuzzTrack(f *testing.F) {
	f.Add(int64(1_000_000), []byte("client1"), "/a", "", int64(1767225600), uint8(0), int64(1796000000), uint8(3), int64(10_000_000))
	f.Add(int64(-1), []byte("c"), "", "k", int64(0), uint8(1), int64(0), uint8(5), int64(-1))
	f.Add(int64(-2), []byte("c"), "", "k", int64(0), uint8(1), int64(0), uint8(5), int64(-2))
	f.Add(int64(0), []byte{}, "", "", int64(-1), uint8(2), int64(1), uint8(9), int64(0))
	f.Add(maxMicro, make([]byte, 256), string(make([]byte, 256)), strings.Repeat("k", 255), int64(4102444800), uint8(4), int64(4102444800), uint8(6), maxMicro)
	f.Add(maxMicro+1, make([]byte, 257), string(make([]byte, 257)), strings.Repeat("k", 256), int64(-8000000000), uint8(5), int64(-8000000000), uint8(0), int64(5))
	f.Add(int64(500_000), []byte("\xff\x00\r\n"), "\xff", "a b", int64(1788652800), uint8(4), int64(1788665400), uint8(3), int64(1_000_000))
	f.Add(int64(3), []byte("x"), "", "é", int64(1325152800), uint8(6), int64(1325239200), uint8(4), int64(7))
	f.Add(int64(3), []byte("x"), "", "k", int64(1325152800), uint8(1), int64(9223372000), uint8(3), int64(7)) // 2262-04-11: the key expires after MaxInt64
	f.Add(int64(3), []byte("x"), "", "", int64(1325152800), uint8(1), int64(math.MinInt64), uint8(6), int64(7))
	f.Add(int64(3), []byte("x"), "", "k", int64(1325152800), uint8(1), int64(-100000000), uint8(3), int64(7)) // 1966
	locs := make([]*time.Location, len(fuzzZones))
	for i, name := range fuzzZones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			f.Fatal(err)
		}
		locs[i] = loc
	}
	f.Fuzz(func(t *testing.T, costN int64, clientB []byte, label, key string, anchorSec int64, zone uint8, clockSec int64, period uint8, limitN int64) {
		ctx := context.Background()
		client := string(clientB)
		cost := fuzzCredits(costN)
		// Anchors stay where Unix nanoseconds can hold them, so that some are
		// valid; the clock may be anywhere.
		const span = 250 * 365 * 24 * 3600
		anchor := time.Unix(anchorSec%span, 0).In(locs[int(zone)%len(locs)])
		now := time.Unix(clockSec, 0)
		sane := now.Year() >= 1700 && now.Year() <= 2200
		st := memory.New()
		b := core.New(st, core.WithClock(func() time.Time { return now }))
		quotas := []core.Quota{
			{Period: core.Period(period), Limit: fuzzCredits(limitN), Anchor: anchor},
			{Period: core.Second, Limit: core.Whole(10)},
		}
		if core.Period(period) == core.Second {
			quotas = quotas[:1]
		}
		all := core.ReportQuery{Client: client, From: math.MinInt64, To: math.MaxInt64}
		c := core.Charge{Client: client, Cost: cost, Label: label, IdempotencyKey: key}
		if err := b.SetQuotas(client, quotas...); err != nil {
			if !errors.Is(err, core.ErrInvalidClient) && !errors.Is(err, core.ErrInvalidQuota) {
				t.Fatalf("SetQuotas = %v, want ErrInvalidClient or ErrInvalidQuota", err)
			}
			if _, err := b.Charge(ctx, c); err == nil {
				t.Fatal("Charge admitted for a client whose quotas were refused")
			}
			if recs, _ := st.Report(ctx, all); len(recs) != 0 {
				t.Fatalf("store holds %v after refused quotas", recs)
			}
			return
		}
		before, err := b.Status(ctx, client)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		o, err := b.Charge(ctx, c)
		after, serr := b.Status(ctx, client)
		if serr != nil {
			t.Fatalf("Status: %v", serr)
		}
		reported := func() int64 {
			recs, err := st.Report(ctx, all)
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, r := range recs {
				sum += r.Credits
			}
			return sum
		}
		admitted := err == nil
		if admitted != o.Allowed() {
			t.Fatalf("Charge error %v but Allowed() = %v", err, o.Allowed())
		}
		charged := cost.Micro()
		if !admitted {
			validCost := cost.IsSet() && !cost.IsUnlimited() && cost.Micro() <= maxMicro
			validLabel := len(label) <= core.MaxLabelLen
			validKey := key == "" || core.ValidKey(key)
			switch {
			case !validCost:
				if !errors.Is(err, core.ErrInvalidCost) {
					t.Fatalf("Charge(%s) = %v, want ErrInvalidCost", cost, err)
				}
			case !validLabel:
				if !errors.Is(err, core.ErrInvalidLabel) {
					t.Fatalf("Charge(label of %d bytes) = %v, want ErrInvalidLabel", len(label), err)
				}
			case !validKey:
				if !errors.Is(err, core.ErrInvalidKey) {
					t.Fatalf("Charge(key %q) = %v, want ErrInvalidKey", key, err)
				}
			case !errors.Is(err, core.ErrQuotaExceeded):
				t.Fatalf("Charge(%s) = %v, want ErrQuotaExceeded", cost, err)
			}
			charged = 0 // nothing may change
		}
		for i := range before.Len() {
			if b, a := before.Quota(i).Used, after.Quota(i).Used; a.Micro() != b.Micro()+charged {
				t.Fatalf("%s usage %s -> %s, want +%d micro-credits (err %v)", before.Quota(i).Period, b, a, charged, err)
			}
			if q := after.Quota(i); sane && (q.Start.After(now) || !now.Before(q.End)) {
				t.Fatalf("%s window [%s, %s) does not contain %s", q.Period, q.Start, q.End, now)
			}
		}
		if got := reported(); got != charged {
			t.Fatalf("report holds %d micro-credits, want %d", got, charged)
		}
		if !admitted || key == "" {
			return
		}
		again, err := b.Charge(ctx, c)
		if err != nil || !again.Replayed() || !again.Allowed() || !again.At().Equal(o.At()) {
			t.Fatalf("retry with key %q = replayed %v, %v", key, again.Replayed(), err)
		}
		if got := reported(); got != charged {
			t.Fatalf("report holds %d micro-credits after a replay, want %d", got, charged)
		}
	})
}

// FuzzWindow checks that the window of t contains it and tiles with its
// neighbours, for any anchor, zone and period.
func FuzzWindow(f *testing.F) {
	f.Add(int64(1706659200_000000000), uint8(0), uint8(5), int64(2_000_000_000_000_000))
	f.Add(int64(1772931000_000000000), uint8(1), uint8(3), int64(-86_400_000_000_000))
	f.Add(int64(1774747800_000000000), uint8(2), uint8(4), int64(1))
	f.Add(int64(1788663600_000000000), uint8(4), uint8(3), int64(3_600_000_000_000))
	f.Add(int64(1325239200_000000000), uint8(6), uint8(4), int64(-1))
	f.Add(int64(951782400_123456789), uint8(3), uint8(6), int64(-3_000_000_000_000_000))
	f.Add(int64(-1), uint8(5), uint8(0), int64(-1))
	locs := make([]*time.Location, len(fuzzZones))
	for i, name := range fuzzZones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			f.Fatal(err)
		}
		locs[i] = loc
	}
	f.Fuzz(func(t *testing.T, anchorNano int64, zone uint8, period uint8, offset int64) {
		q := core.Quota{Period: core.Period(period % core.MaxQuotas), Anchor: time.Unix(0, anchorNano).In(locs[int(zone)%len(locs)])}
		if q.Validate() != nil {
			return
		}
		const span = int64(100 * 365 * 24 * time.Hour)
		at := time.Unix(0, anchorNano+offset%span)
		if at.Year() < 1700 || at.Year() > 2200 {
			return
		}
		start, end := q.Window(at)
		if start.After(at) || !at.Before(end) {
			t.Fatalf("%s window of %s is [%s, %s)", q.Period, at, start, end)
		}
		if s, _ := q.Window(end); !s.Equal(end) {
			t.Fatalf("window after [%s, %s) starts at %s", start, end, s)
		}
		if _, e := q.Window(start.Add(-1)); !e.Equal(start) {
			t.Fatalf("window before [%s, %s) ends at %s", start, end, e)
		}
		if d, nominal := end.Sub(start), q.Period.Nominal(); d > nominal+26*time.Hour || d < nominal/2 {
			t.Fatalf("%s window [%s, %s) lasts %s", q.Period, start, end, d)
		}
	})
}
