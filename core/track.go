package core

import (
	"context"
	"fmt"
	"time"
)

// Track charges cost to every quota of client, atomically and all or
// nothing, and returns the outcome. It is the counterpart of the Python
// track_client_usage.
//
// A refused charge changes nothing and returns the outcome together with a
// [*QuotaExceededError] (errors.Is(err, [ErrQuotaExceeded])). Other errors
// wrap [ErrInvalidCost], [ErrInvalidClient], [ErrNoQuotas] or
// [ErrStoreUnavailable]; after them nothing was charged, and the outcome's
// Len is zero. A zero cost is always admitted and charges nothing.
func (b *Billing) Track(ctx context.Context, client string, cost Credits) (Outcome, error) {
	return b.TrackLabel(ctx, client, "", cost)
}

// TrackLabel is [Billing.Track] with a label, such as the route, under which
// the usage is also reported per day.
func (b *Billing) TrackLabel(ctx context.Context, client, label string, cost Credits) (Outcome, error) {
	var o Outcome
	err := b.TrackInto(ctx, &o, client, label, cost)
	return o, err
}

// TrackInto is [Billing.TrackLabel] writing the outcome into *o, which it
// overwrites whole. Middleware that keeps outcomes in pooled per-request
// state uses it to avoid copying them.
func (b *Billing) TrackInto(ctx context.Context, o *Outcome, client, label string, cost Credits) error {
	*o = Outcome{lowest: -1}
	if !validCost(cost) {
		return fmt.Errorf("%w: %d micro-credits (want 0 to %d)", ErrInvalidCost, int64(cost), int64(MaxCredits))
	}
	if err := b.prepare(o, client, b.clock()); err != nil {
		return err
	}
	o.op.Label = label
	o.op.Cost = cost
	res, err := b.store.Deduct(ctx, o.op)
	if err != nil {
		o.op.N = 0
		return storeError(err)
	}
	o.used = res.Used
	o.allowed = res.OK
	o.lowest = o.findLowest()
	if !res.OK {
		return o.exceeded()
	}
	return nil
}

// Refund gives back the credits of an admitted charge to the windows it was
// charged to (those that have not ended since) and to its day aggregate. It
// does nothing for a refused charge or one already refunded. Adapters call
// it when the handler fails.
func (b *Billing) Refund(ctx context.Context, o *Outcome) error {
	if !o.allowed || o.refunded || o.op.Cost == 0 {
		return nil
	}
	if err := b.store.Refund(ctx, o.op); err != nil {
		return storeError(err)
	}
	o.refunded = true
	for i := 0; i < o.op.N; i++ {
		o.used[i] = max(0, o.used[i]-o.op.Cost)
	}
	o.lowest = o.findLowest()
	return nil
}

// Status returns the current usage of every quota of client without
// charging anything. It is the counterpart of the Python get_lowest_quota:
// see [Outcome.Lowest].
func (b *Billing) Status(ctx context.Context, client string) (Outcome, error) {
	var o Outcome
	if err := b.prepare(&o, client, b.clock()); err != nil {
		return o, err
	}
	res, err := b.store.Usage(ctx, o.op)
	if err != nil {
		o.op.N = 0
		return o, storeError(err)
	}
	o.used = res.Used
	o.allowed = true
	o.lowest = o.findLowest()
	return o, nil
}

// prepare fills o with the client's current windows at now.
func (b *Billing) prepare(o *Outcome, client string, now time.Time) error {
	if client == "" || len(client) > MaxClientIDLen {
		return ValidateClientID(client)
	}
	c := b.clients.get(client)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoQuotas, quoteClient(client))
	}
	t := now.UnixNano()
	o.quotas = c
	o.at = t
	o.op.Client = c.id // the registry's copy: safe to keep
	o.op.Day = b.reportDay(now)
	o.op.N = len(c.rules)
	for i, r := range c.rules {
		s, e := r.window(t)
		o.op.List[i] = Window{Period: r.Period, Start: s, End: e, Limit: r.Limit}
	}
	return nil
}

func storeError(err error) error {
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// Outcome is the result of a charge or a status query: every quota's usage
// and the most constrained quota. It also carries what [Billing.Refund]
// needs. The zero Outcome has no quotas.
type Outcome struct {
	op       Op
	used     [MaxQuotas]Credits
	quotas   *clientQuotas
	at       int64
	allowed  bool
	refunded bool
	lowest   int8
}

// Allowed reports whether the charge was admitted (and deducted).
func (o *Outcome) Allowed() bool { return o.allowed }

// Refunded reports whether the charge has been refunded.
func (o *Outcome) Refunded() bool { return o.refunded }

// Client returns the client charged.
func (o *Outcome) Client() string { return o.op.Client }

// Cost returns the cost charged or refused.
func (o *Outcome) Cost() Credits { return o.op.Cost }

// Label returns the label the charge was reported under.
func (o *Outcome) Label() string { return o.op.Label }

// At returns the time of the charge.
func (o *Outcome) At() time.Time { return time.Unix(0, o.at) }

// Len returns the number of the client's quotas.
func (o *Outcome) Len() int { return o.op.N }

// Quota returns the status of the i-th quota, shortest period first, for
// 0 <= i < Len.
func (o *Outcome) Quota(i int) QuotaStatus {
	w := o.op.List[i]
	loc := time.UTC
	if o.quotas != nil {
		loc = o.quotas.rules[i].loc
	}
	s := QuotaStatus{
		Period: w.Period,
		Limit:  w.Limit,
		Used:   o.used[i],
		Start:  time.Unix(0, w.Start).In(loc),
		End:    time.Unix(0, w.End).In(loc),
	}
	s.Remaining = remaining(w, o.used[i])
	return s
}

// Quotas returns the status of every quota, shortest period first.
func (o *Outcome) Quotas() []QuotaStatus {
	out := make([]QuotaStatus, o.op.N)
	for i := range out {
		out[i] = o.Quota(i)
	}
	return out
}

// Lowest returns the most constrained quota: the one with the fewest
// credits left, and of those the earliest renewal. Unlimited quotas are
// never the lowest; ok is false when the client has only unlimited quotas.
func (o *Outcome) Lowest() (s QuotaStatus, ok bool) {
	if o.lowest < 0 || int(o.lowest) >= o.op.N {
		return s, false
	}
	return o.Quota(int(o.lowest)), true
}

// LowestIndex returns the index of [Outcome.Lowest] for [Outcome.Quota], or
// -1.
func (o *Outcome) LowestIndex() int {
	if int(o.lowest) >= o.op.N {
		return -1
	}
	return int(o.lowest)
}

// Violated returns the quotas that refused the charge.
func (o *Outcome) Violated() PeriodSet {
	var s PeriodSet
	if o.allowed {
		return s
	}
	for i := 0; i < o.op.N; i++ {
		if w := o.op.List[i]; !w.Fits(o.used[i], o.op.Cost) {
			s = s.Add(w.Period)
		}
	}
	return s
}

// RetryAt returns when a refused charge can first succeed: the latest
// renewal among the quotas that refused. It is zero for an admitted charge.
func (o *Outcome) RetryAt() time.Time {
	var latest int64
	if o.allowed {
		return time.Time{}
	}
	for i := 0; i < o.op.N; i++ {
		if w := o.op.List[i]; !w.Fits(o.used[i], o.op.Cost) && w.End > latest {
			latest = w.End
		}
	}
	if latest == 0 {
		return time.Time{}
	}
	return time.Unix(0, latest).UTC()
}

func (o *Outcome) findLowest() int8 {
	best := int8(-1)
	var bestRem Credits
	var bestEnd int64
	for i := 0; i < o.op.N; i++ {
		w := o.op.List[i]
		if w.Unlimited() {
			continue
		}
		r := remaining(w, o.used[i])
		if best < 0 || r < bestRem || (r == bestRem && w.End < bestEnd) {
			best, bestRem, bestEnd = int8(i), r, w.End
		}
	}
	return best
}

func (o *Outcome) exceeded() error {
	low, _ := o.Lowest()
	return &QuotaExceededError{
		Quota:     low.Period,
		Limit:     low.Limit,
		Remaining: low.Remaining,
		RenewsAt:  low.End.UTC(),
		Required:  o.op.Cost,
		Violated:  o.Violated(),
		RetryAt:   o.RetryAt(),
	}
}

func remaining(w Window, used Credits) Credits {
	if w.Unlimited() {
		return Unlimited
	}
	return max(0, w.Limit-used)
}

// QuotaStatus is one quota's usage in its current window.
type QuotaStatus struct {
	Period    Period
	Limit     Credits // or Unlimited
	Used      Credits
	Remaining Credits // credits left, never negative; Unlimited if the quota is
	Start     time.Time
	End       time.Time // the renewal time
}

// Unlimited reports whether the quota never refuses.
func (s QuotaStatus) Unlimited() bool { return s.Limit == Unlimited }
