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

var plainDecimal = regexp.MustCompile(`^[0-9]*(\.[0-9]*)?$`)

// FuzzParseCredits checks ParseCredits against exact rational arithmetic:
// a plain decimal is its value in micro-credits rounded half up, or refused
// as too large; anything else is refused.
func FuzzParseCredits(f *testing.F) {
	for _, s := range []string{"0", "1", "0.5", ".5", "1.", "12.000001", "0.0000005", "0.00000049999", "1.9999995",
		"9007199254.740991", "9007199254.7409915", "9007199255", "", ".", "-1", "1e3", "NaN", "Inf", "1.2.3", " 1",
		"00000000000000000000000001", "99999999999999999999999999"} {
		f.Add(s)
	}
	million := big.NewRat(int64(core.Whole(1)), 1)
	half := big.NewRat(1, 2)
	maxRat := new(big.Rat).SetInt64(int64(core.MaxCredits))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := core.ParseCredits(s)
		if err != nil {
			if !errors.Is(err, core.ErrInvalidCost) || got != 0 {
				t.Fatalf("ParseCredits(%q) = %d, %v; want 0 and ErrInvalidCost", s, got, err)
			}
		}
		if !plainDecimal.MatchString(s) || s == "" || s == "." {
			if err == nil {
				t.Fatalf("ParseCredits(%q) = %d, want an error", s, got)
			}
			return
		}
		text := "0" + s
		if strings.Contains(s, ".") {
			text += "0" // "1." and ".5" as big.Rat reads them
		}
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			t.Fatalf("big.Rat cannot parse %q", s)
		}
		r.Mul(r, million).Add(r, half)
		want := new(big.Int).Quo(r.Num(), r.Denom()) // floor: r is positive
		if new(big.Rat).SetInt(want).Cmp(maxRat) > 0 {
			if err == nil {
				t.Fatalf("ParseCredits(%q) = %d, want too large", s, got)
			}
			return
		}
		if err != nil || int64(got) != want.Int64() {
			t.Fatalf("ParseCredits(%q) = %d, %v; want %s", s, got, err, want)
		}
		if back, err := core.ParseCredits(got.String()); err != nil || back != got {
			t.Fatalf("ParseCredits(%q.String() = %q) = %d, %v", s, got.String(), back, err)
		}
	})
}

// FuzzCreditsFromFloat checks that a float converts to the nearest
// micro-credit, or is refused when it is NaN, infinite, negative or too
// large.
func FuzzCreditsFromFloat(f *testing.F) {
	for _, x := range []float64{0, 0.1, 0.5e-6, 1.5, 9007199254.740991, 9007199254.7409915, 1e10, -1, math.NaN(), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		got, err := core.CreditsFromFloat(x)
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || x*1e6 > float64(core.MaxCredits)+0.5 {
			if !errors.Is(err, core.ErrInvalidCost) || got != 0 {
				t.Fatalf("CreditsFromFloat(%v) = %d, %v; want 0 and ErrInvalidCost", x, got, err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, core.ErrInvalidCost) || math.Round(x*1e6) <= float64(core.MaxCredits) {
				t.Fatalf("CreditsFromFloat(%v) = %v", x, err)
			}
			return
		}
		if got < 0 || got > core.MaxCredits {
			t.Fatalf("CreditsFromFloat(%v) = %d, out of range", x, got)
		}
		if d := math.Abs(float64(got) - x*1e6); d > 0.5+1e-9*x*1e6 {
			t.Fatalf("CreditsFromFloat(%v) = %d, %v micro-credits off", x, got, d)
		}
	})
}

var fuzzZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "America/Santiago", "Australia/Lord_Howe", "Pacific/Apia"}

// FuzzTrack charges arbitrary costs to arbitrary client IDs with arbitrary
// quotas and clocks. It never panics; a refused or invalid charge changes
// nothing; an admitted one adds exactly its cost to every window and to the
// report.
func FuzzTrack(f *testing.F) {
	f.Add(int64(1_000_000), []byte("client1"), int64(1767225600), uint8(0), int64(1796000000), uint8(3), int64(10_000_000))
	f.Add(int64(-1), []byte("c"), int64(0), uint8(1), int64(0), uint8(5), int64(-1))
	f.Add(int64(0), []byte{}, int64(-1), uint8(2), int64(1), uint8(9), int64(0))
	f.Add(int64(core.MaxCredits), make([]byte, 256), int64(4102444800), uint8(4), int64(4102444800), uint8(6), int64(core.MaxCredits))
	f.Add(int64(core.MaxCredits+1), make([]byte, 257), int64(-8000000000), uint8(5), int64(-8000000000), uint8(0), int64(5))
	f.Add(int64(500_000), []byte("\xff\x00\r\n"), int64(1788652800), uint8(4), int64(1788665400), uint8(3), int64(1_000_000))
	f.Add(int64(3), []byte("x"), int64(1325152800), uint8(6), int64(1325239200), uint8(4), int64(7))
	f.Add(int64(3), []byte("x"), int64(1325152800), uint8(1), int64(9223372000), uint8(3), int64(7)) // 2262-04-11
	f.Add(int64(3), []byte("x"), int64(1325152800), uint8(1), int64(math.MinInt64), uint8(6), int64(7))
	locs := make([]*time.Location, len(fuzzZones))
	for i, name := range fuzzZones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			f.Fatal(err)
		}
		locs[i] = loc
	}
	f.Fuzz(func(t *testing.T, cost int64, clientB []byte, anchorSec int64, zone uint8, clockSec int64, period uint8, limit int64) {
		ctx := context.Background()
		client := string(clientB)
		// Anchors stay where Unix nanoseconds can hold them, so that some are
		// valid; the clock may be anywhere.
		const span = 250 * 365 * 24 * 3600
		anchor := time.Unix(anchorSec%span, 0).In(locs[int(zone)%len(locs)])
		now := time.Unix(clockSec, 0)
		sane := now.Year() >= 1700 && now.Year() <= 2200
		st := memory.New()
		b := core.New(st, core.WithClock(func() time.Time { return now }))
		quotas := []core.Quota{
			{Period: core.Period(period), Limit: core.Credits(limit), Anchor: anchor},
			{Period: core.Second, Limit: core.Whole(10)},
		}
		if core.Period(period) == core.Second {
			quotas = quotas[:1]
		}
		all := core.ReportQuery{Client: client, From: math.MinInt64, To: math.MaxInt64}
		if err := b.SetQuotas(client, quotas...); err != nil {
			if !errors.Is(err, core.ErrInvalidClient) && !errors.Is(err, core.ErrInvalidQuota) {
				t.Fatalf("SetQuotas = %v, want ErrInvalidClient or ErrInvalidQuota", err)
			}
			if _, err := b.Track(ctx, client, core.Credits(cost)); err == nil {
				t.Fatal("Track admitted a charge for a client whose quotas were refused")
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
		o, err := b.Track(ctx, client, core.Credits(cost))
		after, serr := b.Status(ctx, client)
		if serr != nil {
			t.Fatalf("Status: %v", serr)
		}
		recs, rerr := st.Report(ctx, all)
		if rerr != nil {
			t.Fatal(rerr)
		}
		var reported core.Credits
		for _, r := range recs {
			reported += r.Credits
		}
		admitted := err == nil
		if admitted != o.Allowed() {
			t.Fatalf("Track error %v but Allowed() = %v", err, o.Allowed())
		}
		if !admitted {
			valid := cost >= 0 && cost <= int64(core.MaxCredits)
			if valid != errors.Is(err, core.ErrQuotaExceeded) || valid == errors.Is(err, core.ErrInvalidCost) {
				t.Fatalf("Track(%d) = %v", cost, err)
			}
			cost = 0 // nothing may change
		}
		for i := range before.Len() {
			if b, a := before.Quota(i).Used, after.Quota(i).Used; a != b+core.Credits(cost) {
				t.Fatalf("%s usage %s -> %s, want +%d micro-credits (err %v)", before.Quota(i).Period, b, a, cost, err)
			}
			if q := after.Quota(i); sane && (q.Start.After(now) || !now.Before(q.End)) {
				t.Fatalf("%s window [%s, %s) does not contain %s", q.Period, q.Start, q.End, now)
			}
		}
		if reported != core.Credits(cost) {
			t.Fatalf("report holds %s, want %d micro-credits", reported, cost)
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
