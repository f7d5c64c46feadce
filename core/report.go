package core

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// DailyUsage is the usage of one client on one report day.
type DailyUsage struct {
	// Date is the day in the billing's report zone, as "2006-01-02".
	Date string
	// Start and End bound the day in the report zone (23 to 25 hours).
	Start, End time.Time
	// Credits is the day's total.
	Credits Credits
	// ByLabel splits Credits by label (route); usage tracked without a
	// label is under "".
	ByLabel map[string]Credits
}

// TotalUsage returns the credits client used on the report days that
// overlap [from, to). Usage is aggregated per report day, so a range is
// widened to whole days. It is the counterpart of the Python
// get_total_usage.
func (b *Billing) TotalUsage(ctx context.Context, client string, from, to time.Time) (Credits, error) {
	days, err := b.DailyUsage(ctx, client, from, to)
	var total Credits
	for _, d := range days {
		total += d.Credits
	}
	return total, err
}

// DailyUsage returns the usage of client per report day, for the days that
// overlap [from, to), oldest first; days without usage are left out. It is
// the counterpart of the Python get_daily_usage.
func (b *Billing) DailyUsage(ctx context.Context, client string, from, to time.Time) ([]DailyUsage, error) {
	q, err := b.reportQuery(client, from, to)
	if err != nil {
		return nil, err
	}
	recs, err := b.store.Report(ctx, q)
	if err != nil {
		return nil, storeError(err)
	}
	byDay := map[int64]*DailyUsage{}
	var out []*DailyUsage
	for _, r := range recs {
		d := byDay[r.Day.Start]
		if d == nil {
			start := time.Unix(0, r.Day.Start).In(b.reportLoc)
			d = &DailyUsage{
				Date:    start.Format(time.DateOnly),
				Start:   start,
				End:     time.Unix(0, r.Day.End).In(b.reportLoc),
				ByLabel: map[string]Credits{},
			}
			byDay[r.Day.Start] = d
			out = append(out, d)
		}
		d.Credits += r.Credits
		d.ByLabel[r.Label] += r.Credits
	}
	slices.SortFunc(out, func(x, y *DailyUsage) int { return x.Start.Compare(y.Start) })
	res := make([]DailyUsage, 0, len(out))
	for _, d := range out {
		if d.Credits != 0 {
			res = append(res, *d)
		}
	}
	return res, nil
}

// DeleteUsage deletes the usage client recorded on the report days that
// overlap [from, to), for refunds and resets. The credits are also taken out
// of the client's current windows that those days overlap, so they can be
// spent again at once. It returns the credits deleted. It is the
// counterpart of the Python delete_client_usage.
func (b *Billing) DeleteUsage(ctx context.Context, client string, from, to time.Time) (Credits, error) {
	q, err := b.reportQuery(client, from, to)
	if err != nil {
		return 0, err
	}
	op := DeleteOp{Client: q.Client, From: q.From, To: q.To}
	if c := b.clients.get(client); c != nil {
		t := b.clock().UnixNano()
		op.N = len(c.rules)
		for i, r := range c.rules {
			s, e := r.window(t)
			op.List[i] = Window{Period: r.Period, Start: s, End: e, Limit: r.Limit}
		}
	}
	n, err := b.store.Delete(ctx, op)
	if err != nil {
		return 0, storeError(err)
	}
	return n, nil
}

func (b *Billing) reportQuery(client string, from, to time.Time) (ReportQuery, error) {
	if err := ValidateClientID(client); err != nil {
		return ReportQuery{}, err
	}
	if !to.After(from) {
		return ReportQuery{}, fmt.Errorf("apibilling: empty range: %s is not before %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	lo, hi := time.Unix(0, minNano), time.Unix(0, maxNano)
	from = clampTime(from, lo, hi)
	to = clampTime(to, lo, hi)
	return ReportQuery{Client: client, From: b.daySpanOf(from).Start, To: to.UnixNano()}, nil
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
