package core

import (
	"fmt"
	"slices"
	"time"
)

// Threshold is a share of a quota's limit, in percent, whose crossing
// raises an [Alert]: for example {Period: Day, Percent: 80}.
type Threshold struct {
	Period  Period
	Percent int // 1 to 100
}

// Alert reports that a client's usage reached a [Threshold] in a window,
// or, with Reset, that a new window started after one had raised alerts.
// Each is raised once per client, window and threshold: the store records
// it with the window's counter, in the same atomic step as the charge, so
// it holds under concurrency and across restarts.
type Alert struct {
	Client  string
	Period  Period
	Percent int  // the threshold reached; 0 for a reset
	Reset   bool // a new window started
	// Used and Limit are the window's usage after the charge and its
	// limit. For a reset, Used is the first charge of the new window.
	Used, Limit Credits
	// Start and End bound the window.
	Start, End time.Time
	// At is the time of the charge that raised it.
	At time.Time
}

// WithAlerts raises an [Alert] through notify whenever a charge takes a
// client's usage to one of thresholds of a quota of its period, and when a
// new window starts after alerts. notify runs in the charging goroutine,
// after the charge: it must not block (hand alerts to a queue, as the
// webhook sender does). At most [MaxLevels] thresholds per period; they
// apply to limited quotas only. It panics on a bad threshold.
func WithAlerts(notify func(Alert), thresholds ...Threshold) Option {
	if notify == nil {
		panic("apibilling/core: WithAlerts expects a non-nil notify function")
	}
	var per [MaxQuotas][]int
	for _, t := range thresholds {
		if !t.Period.Valid() || t.Percent < 1 || t.Percent > 100 {
			panic(fmt.Sprintf("apibilling/core: WithAlerts: threshold %v%% of period %v is not 1 to 100%% of a period", t.Percent, t.Period))
		}
		if !slices.Contains(per[t.Period], t.Percent) {
			per[t.Period] = append(per[t.Period], t.Percent)
		}
	}
	for p := range per {
		if len(per[p]) > MaxLevels {
			panic(fmt.Sprintf("apibilling/core: WithAlerts: %d thresholds for period %v, at most %d", len(per[p]), Period(p), MaxLevels))
		}
		slices.Sort(per[p])
	}
	return func(b *Billing) { b.alerts, b.thresholds = notify, per }
}

// setLevels sets the alert levels of r from the billing's thresholds: the
// usage, in micro-credits, at which each is reached (rounded up).
func (b *Billing) setLevels(r *rule) {
	if r.limit <= 0 {
		return
	}
	for i, pct := range b.thresholds[r.Period] {
		// limit <= 2^53, so limit*pct fits in int64.
		r.levels[i] = (r.limit*int64(pct) + 99) / 100
		r.percents[i] = pct
	}
}

// raise sends the alerts of a charge: the threshold bits the store set and
// the windows it renewed.
func (b *Billing) raise(o *Outcome, res *Result) {
	for i := range o.op.N {
		r := o.quotas.rules[i]
		w := &o.op.List[i]
		base := Alert{
			Client: o.op.Client, Period: w.Period, Used: micro(res.Used[i]), Limit: r.Limit,
			Start: time.Unix(0, w.Start).In(r.loc), End: time.Unix(0, w.End).In(r.loc), At: time.Unix(0, o.op.At),
		}
		if res.Reset&(1<<i) != 0 {
			a := base
			a.Reset = true
			b.alerts(a)
		}
		for j := range MaxLevels {
			if res.Fired[i]&(1<<j) != 0 && r.percents[j] != 0 {
				a := base
				a.Percent = r.percents[j]
				b.alerts(a)
			}
		}
	}
}
