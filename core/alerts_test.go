package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// alertLog collects alerts from any goroutine.
type alertLog struct {
	mu     sync.Mutex
	alerts []core.Alert
}

func (l *alertLog) notify(a core.Alert) {
	l.mu.Lock()
	l.alerts = append(l.alerts, a)
	l.mu.Unlock()
}

// take returns the alerts since the last take.
func (l *alertLog) take() []core.Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.alerts
	l.alerts = nil
	return a
}

// summary describes alerts as "day 50%" or "day reset".
func summary(as []core.Alert) string {
	var parts []string
	for _, a := range as {
		if a.Reset {
			parts = append(parts, a.Period.String()+" reset")
		} else {
			parts = append(parts, fmt.Sprintf("%s %d%%", a.Period, a.Percent))
		}
	}
	return strings.Join(parts, ", ")
}

func TestAlerts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	berlin := loadZone(t, "Europe/Berlin")
	log := &alertLog{}
	b, _, clk := newTestBilling(t, core.WithAlerts(log.notify,
		core.Threshold{Period: core.Day, Percent: 50}, core.Threshold{Period: core.Day, Percent: 100},
		core.Threshold{Period: core.Day, Percent: 50}, // a repeat counts once
		core.Threshold{Period: core.Month, Percent: 90},
	))
	mustSetQuotas(t, b, "acme",
		core.Quota{Period: core.Minute, Limit: core.Whole(100)}, // no thresholds for minutes
		core.Quota{Period: core.Day, Limit: core.Whole(10), Anchor: time.Date(2026, 1, 1, 0, 0, 0, 0, berlin)},
		core.Quota{Period: core.Month, Limit: core.Unlimited}, // unlimited: never alerts
	)
	dayStart, dayEnd := time.Date(2026, 11, 30, 0, 0, 0, 0, berlin), time.Date(2026, 12, 1, 0, 0, 0, 0, berlin)
	step := func(what string, cost core.Credits, want string) []core.Alert {
		t.Helper()
		clk.Set(clk.Now().Add(time.Second))
		if _, err := b.Track(ctx, "acme", cost); err != nil && !errors.Is(err, core.ErrQuotaExceeded) {
			t.Fatalf("%s: Track(%s): %v", what, cost, err)
		}
		got := log.take()
		if s := summary(got); s != want {
			t.Errorf("%s: alerts [%s], want [%s]", what, s, want)
		}
		return got
	}
	step("below 50%", core.Whole(4), "")
	got := step("to 50%", core.Whole(1), "day 50%")
	if len(got) == 1 {
		want := core.Alert{Client: "acme", Period: core.Day, Percent: 50, Used: core.Whole(5), Limit: core.Whole(10),
			Start: dayStart, End: dayEnd, At: clk.Now()}
		checkAlert(t, got[0], want)
	}
	step("above 50%", core.Whole(1), "")
	step("refused", core.Whole(5), "")
	got = step("to 100%", core.Whole(4), "day 100%")
	if len(got) == 1 {
		checkAlert(t, got[0], core.Alert{Client: "acme", Period: core.Day, Percent: 100, Used: core.Whole(10), Limit: core.Whole(10),
			Start: dayStart, End: dayEnd, At: clk.Now()})
	}
	// A refund and a charge back to the same levels raise nothing again
	// (on a second Billing, so that the first keeps its day).
	b2log := &alertLog{}
	b2, _, _ := newTestBilling(t, core.WithAlerts(b2log.notify, core.Threshold{Period: core.Day, Percent: 50}, core.Threshold{Period: core.Day, Percent: 100}))
	mustSetQuotas(t, b2, "acme", core.Quota{Period: core.Day, Limit: core.Whole(10)})
	big := mustTrack(t, b2, "acme", core.Whole(6))
	if s := summary(b2log.take()); s != "day 50%" {
		t.Errorf("first charge: alerts [%s], want [day 50%%]", s)
	}
	if err := b2.Refund(ctx, &big); err != nil {
		t.Fatal(err)
	}
	mustTrack(t, b2, "acme", core.Whole(6))
	if s := summary(b2log.take()); s != "" {
		t.Errorf("re-charge after a refund: alerts [%s], want none", s)
	}
	mustTrack(t, b2, "acme", core.Whole(4))
	if s := summary(b2log.take()); s != "day 100%" {
		t.Errorf("to 100%%: alerts [%s], want [day 100%%]", s)
	}
	mustTrack(t, b2, "acme", core.Whole(0))
	if s := summary(b2log.take()); s != "" {
		t.Errorf("a free charge at 100%%: alerts [%s], want none", s)
	}

	// The next day: the first charge raises a reset, then the thresholds again.
	clk.Set(time.Date(2026, 12, 1, 0, 0, 1, 0, berlin))
	got = step("next day", core.Whole(6), "day reset, day 50%")
	if len(got) == 2 {
		nextStart, nextEnd := dayEnd, time.Date(2026, 12, 2, 0, 0, 0, 0, berlin)
		checkAlert(t, got[0], core.Alert{Client: "acme", Period: core.Day, Reset: true, Used: core.Whole(6), Limit: core.Whole(10),
			Start: nextStart, End: nextEnd, At: clk.Now()})
		checkAlert(t, got[1], core.Alert{Client: "acme", Period: core.Day, Percent: 50, Used: core.Whole(6), Limit: core.Whole(10),
			Start: nextStart, End: nextEnd, At: clk.Now()})
	}
	step("next day to 100%", core.Whole(4), "day 100%")
	// A day without alerts is followed by no reset.
	clk.Set(time.Date(2026, 12, 2, 12, 0, 0, 0, berlin))
	step("a day with one credit", core.Whole(1), "day reset")
	clk.Set(time.Date(2026, 12, 3, 12, 0, 0, 0, berlin))
	step("the day after it", core.Whole(1), "")
}

func checkAlert(t *testing.T, got, want core.Alert) {
	t.Helper()
	if got.Client != want.Client || got.Period != want.Period || got.Percent != want.Percent || got.Reset != want.Reset ||
		got.Used != want.Used || got.Limit != want.Limit || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) || !got.At.Equal(want.At) {
		t.Errorf("alert = %+v\nwant    %+v", got, want)
	}
	if got.Start.Location() != want.Start.Location() || got.End.Location() != want.End.Location() {
		t.Errorf("alert window [%s, %s) not in the anchor's zone %v", got.Start, got.End, want.Start.Location())
	}
}

// TestAlertsConcurrent: 64 goroutines charging one client raise each
// threshold exactly once per window, and one reset when the next day starts.
func TestAlertsConcurrent(t *testing.T) {
	t.Parallel()
	const workers = 64
	log := &alertLog{}
	b, _, clk := newTestBilling(t, core.WithAlerts(log.notify,
		core.Threshold{Period: core.Day, Percent: 50}, core.Threshold{Period: core.Day, Percent: 100}))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(100)})
	for day := range 3 {
		clk.Set(testStart.Add(time.Duration(day) * 24 * time.Hour))
		errs := make(chan error, workers)
		start := make(chan struct{})
		for range workers {
			go func() {
				<-start
				var err error
				for range 3 { // 192 attempts at 1 credit: 100 admitted
					if _, e := b.Track(context.Background(), "c", core.Whole(1)); e != nil && !errors.Is(e, core.ErrQuotaExceeded) {
						err = e
					}
				}
				errs <- err
			}()
		}
		close(start)
		for range workers {
			if err := <-errs; err != nil {
				t.Errorf("day %d: Track: %v", day, err)
			}
		}
		want := "day 50%, day 100%"
		if day > 0 {
			want = "day reset, " + want
		}
		alerts := log.take()
		// Goroutines may deliver alerts out of order: count them.
		count := map[string]int{}
		for _, a := range alerts {
			count[summary([]core.Alert{a})]++
		}
		wantCount := map[string]int{}
		for _, s := range strings.Split(want, ", ") {
			wantCount[s]++
		}
		if fmt.Sprint(count) != fmt.Sprint(wantCount) {
			t.Errorf("day %d: alerts [%s], want each of [%s] once", day, summary(alerts), want)
		}
		for _, a := range alerts {
			if !a.Reset && a.Used != core.Whole(int64(a.Percent)) {
				t.Errorf("day %d: %d%% alert with %s used, want the charge that reached it", day, a.Percent, a.Used)
			}
		}
		if got := used(t, b, "c", core.Day); got != core.Whole(100) {
			t.Errorf("day %d: used %s, want 100", day, got)
		}
	}
}

// TestAlertsNotForReplaysOrRefusals: a replayed charge and a refused one
// raise nothing.
func TestAlertsNotForReplaysOrRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := &alertLog{}
	b, _, _ := newTestBilling(t, core.WithAlerts(log.notify, core.Threshold{Period: core.Day, Percent: 1}, core.Threshold{Period: core.Day, Percent: 100}))
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(3)}, core.Quota{Period: core.Week, Limit: core.Whole(0)})
	c := core.Charge{Client: "c", Cost: core.Whole(3), IdempotencyKey: "k"}
	if _, err := b.Charge(ctx, c); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Fatalf("Charge against a zero week = %v, want refused", err)
	}
	mustSetQuotas(t, b, "c", core.Quota{Period: core.Day, Limit: core.Whole(3)})
	mustCharge(t, b, c)
	if s := summary(log.take()); s != "day 1%, day 100%" {
		t.Errorf("first charge: alerts [%s], want [day 1%%, day 100%%]", s)
	}
	if o := mustCharge(t, b, c); !o.Replayed() {
		t.Fatal("retry not replayed")
	}
	if _, err := b.Track(ctx, "c", core.Whole(1)); !errors.Is(err, core.ErrQuotaExceeded) {
		t.Fatalf("Track over the limit = %v", err)
	}
	if s := summary(log.take()); s != "" {
		t.Errorf("replay and refusal: alerts [%s], want none", s)
	}
	// A fractional limit: 1% of 3 credits is 0.03, reached by 0.03.
	mustSetQuotas(t, b, "d", core.Quota{Period: core.Day, Limit: core.Whole(3)})
	mustTrack(t, b, "d", core.MustParseCredits("0.029999"))
	if s := summary(log.take()); s != "" {
		t.Errorf("below 1%%: alerts [%s]", s)
	}
	mustTrack(t, b, "d", mc(1))
	if s := summary(log.take()); s != "day 1%" {
		t.Errorf("at 1%%: alerts [%s], want [day 1%%]", s)
	}
}

func TestWithAlertsPanics(t *testing.T) {
	t.Parallel()
	notify := func(core.Alert) {}
	for name, f := range map[string]func(){
		"nil notify":     func() { core.WithAlerts(nil, core.Threshold{Period: core.Day, Percent: 50}) },
		"zero percent":   func() { core.WithAlerts(notify, core.Threshold{Period: core.Day, Percent: 0}) },
		"negative":       func() { core.WithAlerts(notify, core.Threshold{Period: core.Day, Percent: -10}) },
		"above 100":      func() { core.WithAlerts(notify, core.Threshold{Period: core.Day, Percent: 101}) },
		"unknown period": func() { core.WithAlerts(notify, core.Threshold{Period: core.Period(7), Percent: 50}) },
		"five thresholds": func() {
			core.WithAlerts(notify, core.Threshold{Period: core.Month, Percent: 10}, core.Threshold{Period: core.Month, Percent: 20},
				core.Threshold{Period: core.Month, Percent: 30}, core.Threshold{Period: core.Month, Percent: 40}, core.Threshold{Period: core.Month, Percent: 50})
		},
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
	// Four per period, and the same percent repeated, are fine.
	core.WithAlerts(notify, core.Threshold{Period: core.Month, Percent: 10}, core.Threshold{Period: core.Month, Percent: 20},
		core.Threshold{Period: core.Month, Percent: 30}, core.Threshold{Period: core.Month, Percent: 100},
		core.Threshold{Period: core.Month, Percent: 100}, core.Threshold{Period: core.Day, Percent: 1})
}
