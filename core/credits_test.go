package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

func TestParseCredits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want core.Credits
	}{
		{"0", 0},
		{"5", core.Whole(5)},
		{"0.5", 500_000},
		{".5", 500_000},
		{"1.", core.Whole(1)},
		{"12.000001", core.Whole(12) + 1},
		{"007.25", 7_250_000},
		{"0.1", 100_000},
		{"0.000001", 1},
		// The seventh decimal rounds once, halves up; later digits are ignored.
		{"0.0000004", 0},
		{"0.0000005", 1},
		{"0.00000049999", 0},
		{"0.0000015", 2},
		{"1.9999995", core.Whole(2)},
		{"1.9999994999", 1_999_999},
		{"9007199254.740991", core.MaxCredits},
		{"9007199254.7409914", core.MaxCredits},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := core.ParseCredits(tt.in)
			if err != nil {
				t.Fatalf("ParseCredits(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseCredits(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCreditsRefuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", ".", "-1", "+1", "-0", "1e3", "1E3", "NaN", "nan", "Inf", "+Inf", "-Inf", "infinity",
		"1.2.3", " 1", "1 ", "1,5", "0x10", "1_000", "١", "\x00", "..5",
		"9007199254.7409915", "9007199255", "18446744073709551616", "99999999999999999999999999999",
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got, err := core.ParseCredits(in)
			if !errors.Is(err, core.ErrInvalidCost) {
				t.Errorf("ParseCredits(%q) = %d, %v; want an error wrapping ErrInvalidCost", in, got, err)
			}
			if got != 0 {
				t.Errorf("ParseCredits(%q) = %d with an error, want 0", in, got)
			}
		})
	}
}

func TestCreditsFromFloat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want core.Credits
		ok   bool
	}{
		{0, 0, true},
		{math.Copysign(0, -1), 0, true},
		{0.1, 100_000, true},
		{0.3, 300_000, true},
		{1.0000004, core.Whole(1), true},
		{1.0000006, core.Whole(1) + 1, true},
		{2.5, 2_500_000, true},
		{9007199254, core.Whole(9007199254), true},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{math.Inf(-1), 0, false},
		{-1, 0, false},
		{-1e-300, 0, false},
		{1e10, 0, false},
		{math.MaxFloat64, 0, false},
	}
	for _, tt := range tests {
		got, err := core.CreditsFromFloat(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("CreditsFromFloat(%v) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, core.ErrInvalidCost) || got != 0 {
			t.Errorf("CreditsFromFloat(%v) = %d, %v; want 0 and ErrInvalidCost", tt.in, got, err)
		}
	}
}

func TestCreditsText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c    core.Credits
		want string
	}{
		{0, "0"},
		{1, "0.000001"},
		{500_000, "0.5"},
		{core.Whole(1), "1"},
		{core.Whole(1) + 1, "1.000001"},
		{12_340_000, "12.34"},
		{core.MaxCredits, "9007199254.740991"},
		{-1, "-0.000001"},
		{-core.Whole(3) / 2, "-1.5"},
		{math.MinInt64, "-9223372036854.775808"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := string(tt.c.AppendText([]byte("x="))); got != "x="+tt.want {
				t.Errorf("AppendText = %q, want %q", got, "x="+tt.want)
			}
			j, err := json.Marshal(struct{ C core.Credits }{tt.c})
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if got, want := string(j), `{"C":`+tt.want+`}`; got != want {
				t.Errorf("json = %s, want %s", got, want)
			}
			var back struct{ C json.Number }
			if err := json.Unmarshal(j, &back); err != nil {
				t.Fatalf("json.Unmarshal(%s): %v", j, err)
			}
			if tt.c >= 0 {
				if got, err := core.ParseCredits(back.C.String()); err != nil || got != tt.c {
					t.Errorf("ParseCredits(%q) = %d, %v; want %d", back.C, got, err, tt.c)
				}
			}
		})
	}
}

func TestCreditsWhole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c    core.Credits
		want int64
	}{
		{0, 0},
		{1, 0},
		{core.Whole(1) - 1, 0},
		{core.Whole(1), 1},
		{core.Whole(5) + 999_999, 5},
		{-1, -1},
		{-core.Whole(1), -1},
		{-core.Whole(1) - 1, -2},
		{core.MaxCredits, 9007199254},
	}
	for _, tt := range tests {
		if got := tt.c.Whole(); got != tt.want {
			t.Errorf("Credits(%d).Whole() = %d, want %d", tt.c, got, tt.want)
		}
	}
	if got, want := core.Credits(2_500_000).Float64(), 2.5; got != want {
		t.Errorf("Float64() = %v, want %v", got, want)
	}
}

// TestTenMillionTenths charges 0.1 credits ten million times through
// Billing.Track on the memory store: the usage is exactly 1,000,000
// credits, in the live window and in the daily report.
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
	want := core.Credits(n/10) * core.Whole(1)
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
