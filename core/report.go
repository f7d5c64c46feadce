package core

import (
	"context"
	"maps"
	"slices"
	"time"
)

// DailyUsage is the usage of one client on one calendar day.
type DailyUsage struct {
	// Date is the day, as "2006-01-02", in the zone of the report.
	Date string
	// Start and End bound the day in that zone (23 to 25 hours).
	Start, End time.Time
	// Credits is the day's total.
	Credits Credits
	// ByLabel splits Credits by label (route); usage charged without a
	// label is under "".
	ByLabel map[string]Credits
}

// Usage is kept per hour of Unix time (whole hours in UTC and in every zone
// whose offset is a whole number of hours), by label. A report in a zone
// whose offset is not whole hours (India, Nepal, Newfoundland, parts of
// Australia) counts each hour in the day in which it starts.

// TotalUsage returns the credits client used in the hours that overlap
// [from, to): usage is kept per hour, so a range is widened to whole hours.
// An empty range (to not after from) is zero. It is the counterpart of the
// Python get_total_usage.
func (b *Billing) TotalUsage(ctx context.Context, client string, from, to time.Time) (Credits, error) {
	recs, err := b.report(ctx, client, from, to)
	var total int64
	for _, r := range recs {
		total = addCapped(total, r.Credits)
	}
	return micro(total), err
}

// DailyUsage returns the usage of client per day of the billing's report
// zone ([WithReportLocation], UTC by default), for the days that overlap
// [from, to), oldest first; days without usage are left out. It is the
// counterpart of the Python get_daily_usage.
func (b *Billing) DailyUsage(ctx context.Context, client string, from, to time.Time) ([]DailyUsage, error) {
	return b.DailyUsageIn(ctx, client, from, to, b.reportLoc)
}

// DailyUsageIn is [Billing.DailyUsage] in the days of the zone loc: each
// day runs from midnight to midnight on loc's calendar, so a day across a
// DST change is still one day of 23 or 25 hours.
func (b *Billing) DailyUsageIn(ctx context.Context, client string, from, to time.Time, loc *time.Location) ([]DailyUsage, error) {
	if loc == nil {
		loc = b.reportLoc
	}
	if to.After(from) { // whole days
		// Clamped first, as reportQuery does: the day arithmetic below
		// works in Unix nanoseconds.
		lo, hi := time.Unix(0, minNano), time.Unix(0, maxNano)
		from, to = clampTime(from, lo, hi), clampTime(to, lo, hi)
		from = dayStart(from, loc)
		y, m, d := to.Add(-1).In(loc).Date()
		to = time.Unix(0, wallTime(y, m, d+1, 0, 0, 0, 0, loc))
	}
	recs, err := b.report(ctx, client, from, to)
	if err != nil {
		return nil, err
	}
	byDay := map[int64]*DailyUsage{}
	first := from.UnixNano()
	for _, r := range recs {
		ds := dayStart(time.Unix(0, r.Bucket.Start), loc)
		k := ds.UnixNano()
		if k < first {
			// An hour that starts before the first day (in a zone whose
			// offset is not whole hours, the hour before its midnight)
			// belongs to a day that was not asked for.
			continue
		}
		d := byDay[k]
		if d == nil {
			y, m, dd := ds.Date()
			d = &DailyUsage{
				Date:    ds.Format(time.DateOnly),
				Start:   ds,
				End:     time.Unix(0, wallTime(y, m, dd+1, 0, 0, 0, 0, loc)).In(loc),
				Credits: micro(0),
				ByLabel: map[string]Credits{},
			}
			byDay[k] = d
		}
		d.Credits = d.Credits.Add(micro(r.Credits))
		d.ByLabel[r.Label] = d.ByLabel[r.Label].Add(micro(r.Credits))
	}
	out := make([]DailyUsage, 0, len(byDay))
	for _, d := range byDay {
		maps.DeleteFunc(d.ByLabel, func(_ string, c Credits) bool { return c.IsZero() })
		if !d.Credits.IsZero() {
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(x, y DailyUsage) int { return x.Start.Compare(y.Start) })
	return out, nil
}

// dayStart returns the first instant of t's day in loc.
func dayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Unix(0, wallTime(y, m, d, 0, 0, 0, 0, loc)).In(loc)
}

// DeleteUsage deletes the usage client recorded in the hours that overlap
// [from, to), for refunds and resets. The credits are also taken out of
// the client's current windows that those hours overlap, so they can be
// spent again at once. It returns the credits deleted; an empty range
// deletes nothing. It is the counterpart of the Python delete_client_usage.
func (b *Billing) DeleteUsage(ctx context.Context, client string, from, to time.Time) (Credits, error) {
	q, ok, err := b.reportQuery(client, from, to)
	if !ok {
		return micro(0), err
	}
	op := DeleteOp{Client: q.Client, From: q.From, To: q.To}
	if c := b.clients.get(client); c != nil {
		t := b.clock().UnixNano()
		op.N = len(c.rules)
		for i, r := range c.rules {
			s, e := r.window(t)
			op.List[i] = Window{Period: r.Period, Start: s, End: e, Limit: r.limit}
		}
	}
	var t0 time.Time
	if b.observer != nil {
		t0 = time.Now()
	}
	n, err := b.store.Delete(ctx, &op)
	if b.observer != nil {
		b.observe(OpDelete, t0, err)
	}
	if err != nil {
		return micro(0), storeError(err)
	}
	return micro(n), nil
}

// report returns the usage records of client in the hours that overlap
// [from, to).
func (b *Billing) report(ctx context.Context, client string, from, to time.Time) ([]UsageRecord, error) {
	q, ok, err := b.reportQuery(client, from, to)
	if !ok {
		return nil, err
	}
	var t0 time.Time
	if b.observer != nil {
		t0 = time.Now()
	}
	recs, err := b.store.Report(ctx, q)
	if b.observer != nil {
		b.observe(OpReport, t0, err)
	}
	if err != nil {
		return nil, storeError(err)
	}
	return recs, nil
}

// reportQuery returns the query of the hours that overlap [from, to), and
// false for an invalid client (with its error) or an empty range.
func (b *Billing) reportQuery(client string, from, to time.Time) (ReportQuery, bool, error) {
	if err := ValidateClientID(client); err != nil {
		return ReportQuery{}, false, err
	}
	if !to.After(from) {
		return ReportQuery{}, false, nil
	}
	lo, hi := time.Unix(0, minNano), time.Unix(0, maxNano)
	from = clampTime(from, lo, hi)
	to = clampTime(to, lo, hi)
	return ReportQuery{Client: client, From: hourOf(from.UnixNano()).Start, To: to.UnixNano()}, true, nil
}

// The times a range may span: about the years 1678 to 2262, kept a few days
// inside int64 nanoseconds so that day arithmetic never overflows.
const (
	minNano = -1<<63 + int64(48*time.Hour)
	maxNano = 1<<63 - 1 - int64(48*time.Hour)
)

func clampTime(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}
