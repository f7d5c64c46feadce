package core_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// fakeClock is a settable clock for core.WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// testStart is the fake clock's usual time: Monday 2026-11-30 12:00:30 UTC.
var testStart = time.Date(2026, 11, 30, 12, 0, 30, 0, time.UTC)

// newTestBilling returns a Billing over a fresh memory store with a fake
// clock at testStart.
func newTestBilling(t *testing.T, opts ...core.Option) (*core.Billing, *memory.Store, *fakeClock) {
	t.Helper()
	st := memory.New()
	clk := newFakeClock(testStart)
	b := core.New(st, append([]core.Option{core.WithClock(clk.Now)}, opts...)...)
	return b, st, clk
}

func mustSetQuotas(t *testing.T, b *core.Billing, client string, qs ...core.Quota) {
	t.Helper()
	if err := b.SetQuotas(client, qs...); err != nil {
		t.Fatalf("SetQuotas(%q): %v", client, err)
	}
}

func mustTrack(t *testing.T, b *core.Billing, client string, cost core.Credits) core.Outcome {
	t.Helper()
	o, err := b.Track(context.Background(), client, cost)
	if err != nil {
		t.Fatalf("Track(%q, %s): %v", client, cost, err)
	}
	return o
}

// used returns the usage of client's quota of period p, from Status.
func used(t *testing.T, b *core.Billing, client string, p core.Period) core.Credits {
	t.Helper()
	o, err := b.Status(context.Background(), client)
	if err != nil {
		t.Fatalf("Status(%q): %v", client, err)
	}
	for _, q := range o.Quotas() {
		if q.Period == p {
			return q.Used
		}
	}
	t.Fatalf("client %q has no %s quota", client, p)
	return core.Credits{}
}

// mc returns n micro-credits; it panics if n is negative.
func mc(n int64) core.Credits {
	c, err := core.Micro(n)
	if err != nil {
		panic(err)
	}
	return c
}

// maxMicro is core.MaxCredits in micro-credits.
var maxMicro = core.MaxCredits.Micro()

func TestSetQuotasRefuses(t *testing.T) {
	t.Parallel()
	day := core.Quota{Period: core.Day, Limit: core.Whole(10)}
	one := core.Whole(1)
	tests := []struct {
		name   string
		quotas []core.Quota
	}{
		{"two of one period", []core.Quota{day, {Period: core.Minute, Limit: core.Whole(1)}, {Period: core.Day, Limit: core.Whole(1)}}},
		{"unknown period", []core.Quota{{Period: core.Period(7), Limit: core.Whole(1)}}},
		{"limit not set", []core.Quota{{Period: core.Day}}},
		{"limit above maximum", []core.Quota{{Period: core.Day, Limit: mc(maxMicro + 1)}}},
		{"limit far above maximum", []core.Quota{{Period: core.Day, Limit: mc(math.MaxInt64)}}},
		{"anchor too early", []core.Quota{{Period: core.Month, Limit: core.Whole(1), Anchor: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		{"anchor too late", []core.Quota{{Period: core.Hour, Limit: core.Whole(1), Anchor: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		{"eight quotas", []core.Quota{
			{Period: core.Second, Limit: one}, {Period: core.Minute, Limit: one}, {Period: core.Hour, Limit: one},
			{Period: core.Day, Limit: one}, {Period: core.Week, Limit: one}, {Period: core.Month, Limit: one},
			{Period: core.Year, Limit: one}, {Period: core.Year, Limit: one}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _, _ := newTestBilling(t)
			mustSetQuotas(t, b, "c", day)
			err := b.SetQuotas("c", tt.quotas...)
			if !errors.Is(err, core.ErrInvalidQuota) {
				t.Fatalf("SetQuotas = %v, want an error wrapping ErrInvalidQuota", err)
			}
			// The client's quotas are unchanged.
			if got := b.Quotas("c"); len(got) != 1 || got[0].Period != core.Day || got[0].Limit != day.Limit {
				t.Errorf("quotas after a refused SetQuotas = %+v, want the day quota only", got)
			}
		})
	}
	for _, q := range []core.Quota{
		{Period: core.Second, Limit: core.Whole(0)},
		{Period: core.Year, Limit: core.MaxCredits, Anchor: time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Period: core.Week, Limit: core.Unlimited, Anchor: time.Date(2200, 12, 31, 0, 0, 0, 0, time.UTC)},
	} {
		if err := q.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v, want nil", q, err)
		}
	}
}

func TestClientIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	day := core.Quota{Period: core.Day, Limit: core.Whole(10)}
	anyBytes := func(n int) string {
		var sb strings.Builder
		for i := 0; i < n; i++ {
			sb.WriteByte(byte(i * 37)) // NUL, control bytes, invalid UTF-8
		}
		return sb.String()
	}
	for _, id := range []string{"", strings.Repeat("x", 257), anyBytes(300)} {
		b, _, _ := newTestBilling(t)
		if err := b.SetQuotas(id, day); !errors.Is(err, core.ErrInvalidClient) {
			t.Errorf("SetQuotas(%d bytes) = %v, want ErrInvalidClient", len(id), err)
		}
		if _, err := b.Track(ctx, id, core.Whole(1)); !errors.Is(err, core.ErrInvalidClient) {
			t.Errorf("Track(%d bytes) = %v, want ErrInvalidClient", len(id), err)
		}
		if _, err := b.Status(ctx, id); !errors.Is(err, core.ErrInvalidClient) {
			t.Errorf("Status(%d bytes) = %v, want ErrInvalidClient", len(id), err)
		}
		if _, err := b.DailyUsage(ctx, id, testStart, testStart.Add(time.Hour)); !errors.Is(err, core.ErrInvalidClient) {
			t.Errorf("DailyUsage(%d bytes) = %v, want ErrInvalidClient", len(id), err)
		}
		if _, err := b.DeleteUsage(ctx, id, testStart, testStart.Add(time.Hour)); !errors.Is(err, core.ErrInvalidClient) {
			t.Errorf("DeleteUsage(%d bytes) = %v, want ErrInvalidClient", len(id), err)
		}
		if got := b.Clients(); len(got) != 0 {
			t.Errorf("Clients() = %q after invalid IDs, want none", got)
		}
	}
	for _, id := range []string{"a", strings.Repeat("y", 256), anyBytes(256), "\x00", "ключ", "\xff\xfe", "a\r\nb: c"} {
		b, _, _ := newTestBilling(t)
		mustSetQuotas(t, b, id, day)
		o := mustTrack(t, b, id, core.Whole(3))
		if got := o.Client(); got != id {
			t.Errorf("Outcome.Client() = %q, want %q", got, id)
		}
		if got, want := used(t, b, id, core.Day), core.Whole(3); got != want {
			t.Errorf("client of %d bytes used %s, want %s", len(id), got, want)
		}
		if got := b.Clients(); len(got) != 1 || got[0] != id {
			t.Errorf("Clients() = %q, want [%q]", got, id)
		}
	}
}

func TestReplaceQuotasKeepsUsage(t *testing.T) {
	t.Parallel()
	b, _, _ := newTestBilling(t)
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(10)}, core.Quota{Period: core.Minute, Limit: core.Whole(100)})
	mustTrack(t, b, "c", core.Whole(7))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(8)}, core.Quota{Period: core.Minute, Limit: core.Whole(100)})
	if got, want := used(t, b, "c", core.Day), core.Whole(7); got != want {
		t.Errorf("day usage after a new limit = %s, want %s", got, want)
	}
	if _, err := b.Track(context.Background(), "c", core.Whole(2)); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Errorf("Track(2) with 1 left = %v, want ErrQuotaExceeded", err)
	}
	mustTrack(t, b, "c", core.Whole(1))
	if got, want := used(t, b, "c", core.Minute), core.Whole(8); got != want {
		t.Errorf("minute usage = %s, want %s", got, want)
	}
}

func TestSetQuotasPicksUpStoredUsage(t *testing.T) {
	t.Parallel()
	st := memory.New()
	clk := newFakeClock(testStart)
	quotas := []core.Quota{
		{Period: core.Day, Limit: core.Whole(10)},
		{Period: core.Month, Limit: core.Whole(100), Anchor: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)},
	}
	first := core.New(st, core.WithClock(clk.Now))
	mustSetQuotas(t, first, "c", quotas...)
	mustTrack(t, first, "c", core.Whole(6))

	// A new Billing over the same store, as after a restart.
	second := core.New(st, core.WithClock(clk.Now))
	mustSetQuotas(t, second, "c", quotas...)
	for _, p := range []core.Period{core.Day, core.Month} {
		if got, want := used(t, second, "c", p), core.Whole(6); got != want {
			t.Errorf("%s usage seen by a new Billing = %s, want %s", p, got, want)
		}
	}
	if _, err := second.Track(context.Background(), "c", core.Whole(5)); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Errorf("Track(5) with 4 left = %v, want ErrQuotaExceeded", err)
	}
	// The next day the day window is fresh; the month keeps counting.
	clk.Set(testStart.Add(24 * time.Hour))
	mustTrack(t, second, "c", core.Whole(10))
	if got, want := used(t, second, "c", core.Month), core.Whole(16); got != want {
		t.Errorf("month usage = %s, want %s", got, want)
	}
}

func TestRemoveClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _, _ := newTestBilling(t)
	day := core.Quota{Period: core.Day, Limit: core.Whole(10)}
	if _, err := b.Track(ctx, "unknown", core.Whole(1)); !errors.Is(err, core.ErrNoQuotas) {
		t.Errorf("Track of an unknown client = %v, want ErrNoQuotas", err)
	}
	mustSetQuotas(t, b, "a", day)
	mustSetQuotas(t, b, "b", day)
	mustTrack(t, b, "a", core.Whole(1))
	mustSetQuotas(t, b, "a") // no quotas: removed
	b.RemoveClient("b")
	for _, id := range []string{"a", "b"} {
		if _, err := b.Track(ctx, id, core.Whole(1)); !errors.Is(err, core.ErrNoQuotas) {
			t.Errorf("Track(%q) after removal = %v, want ErrNoQuotas", id, err)
		}
		if _, err := b.Status(ctx, id); !errors.Is(err, core.ErrNoQuotas) {
			t.Errorf("Status(%q) after removal = %v, want ErrNoQuotas", id, err)
		}
		if got := b.Quotas(id); got != nil {
			t.Errorf("Quotas(%q) after removal = %+v, want nil", id, got)
		}
	}
	if got := b.Clients(); len(got) != 0 {
		t.Errorf("Clients() = %q, want none", got)
	}
	// Its usage stays for reporting.
	if total, err := b.TotalUsage(ctx, "a", testStart.Add(-time.Hour), testStart.Add(time.Hour)); err != nil || total != core.Whole(1) {
		t.Errorf("TotalUsage after removal = %s, %v; want 1", total, err)
	}
}

func TestQuotasCopySorted(t *testing.T) {
	t.Parallel()
	b, _, _ := newTestBilling(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	anchor := time.Date(2026, 1, 31, 0, 0, 0, 0, berlin)
	mustSetQuotas(t, b, "c",
		core.Quota{Period: core.Month, Limit: core.Whole(100), Anchor: anchor},
		core.Quota{Period: core.Second, Limit: core.Unlimited},
		core.Quota{Period: core.Day, Limit: core.Whole(10)},
	)
	got := b.Quotas("c")
	if len(got) != 3 || got[0].Period != core.Second || got[1].Period != core.Day || got[2].Period != core.Month {
		t.Fatalf("Quotas = %+v, want second, day, month", got)
	}
	if !got[2].Anchor.Equal(anchor) || got[2].Anchor.Location() != berlin {
		t.Errorf("month anchor = %s, want %s", got[2].Anchor, anchor)
	}
	got[0].Limit = core.Whole(1) // a copy: changing it changes nothing
	if again := b.Quotas("c"); again[0].Limit != core.Unlimited {
		t.Errorf("Quotas returned the billing's own slice")
	}
	if got, want := b.Clients(), []string{"c"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("Clients() = %q, want %q", got, want)
	}
}

func TestNewPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"nil store":              func() { core.New(nil) },
		"nil clock":              func() { core.WithClock(nil) },
		"nil location":           func() { core.WithReportLocation(nil) },
		"zero key retention":     func() { core.WithKeyRetention(0) },
		"negative key retention": func() { core.WithKeyRetention(-time.Hour) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "apibilling/core: ") {
					t.Errorf("panic = %v, want a message prefixed apibilling/core", r)
				}
			}()
			f()
		})
	}
}
