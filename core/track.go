package core

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Charge is one charge to a client: what [Billing.Charge] takes.
type Charge struct {
	// Client is the client charged. Required.
	Client string
	// Cost is charged to every quota of the client, all or nothing. It must
	// be set: Whole(0) charges nothing (a status route); the zero Credits
	// is refused.
	Cost Credits
	// Label, such as the route pattern, is what the usage is reported
	// under per hour and day. Optional; at most [MaxLabelLen] bytes.
	Label string
	// IdempotencyKey, when set (1 to [MaxKeyLen] visible ASCII characters),
	// makes the charge happen once: a later charge of the same client with
	// the same key, within the key retention ([WithKeyRetention]), is not
	// charged again and returns the first charge's outcome (Replayed), even
	// from another process on a shared store; one with another Cost or
	// Label fails with [*IdempotencyConflictError]. The key is recorded in
	// the same atomic store step as the charge. Only admitted charges record
	// their key, so a refused charge can be retried with the same key.
	IdempotencyKey string
}

// Track charges cost to every quota of client, atomically and all or
// nothing, and returns the outcome. It is the counterpart of the Python
// track_client_usage: Charge(ctx, Charge{Client: client, Cost: cost}).
func (b *Billing) Track(ctx context.Context, client string, cost Credits) (Outcome, error) {
	return b.Charge(ctx, Charge{Client: client, Cost: cost})
}

// outcomes holds Outcomes for Charge, which returns a copy: charging into
// pooled memory keeps the store's arguments off the stack.
var outcomes = sync.Pool{New: func() any { return new(Outcome) }}

// Charge charges c.Cost to every quota of c.Client, atomically and all or
// nothing, and returns the outcome.
//
// A refused charge changes nothing and returns the outcome together with a
// [*QuotaExceededError] (errors.Is(err, [ErrQuotaExceeded])), or
// [ErrUsageOverflow]. Other errors wrap [ErrInvalidCost], [ErrInvalidClient],
// [ErrInvalidLabel], [ErrInvalidKey], [ErrNoQuotas],
// [ErrIdempotencyConflict] or [ErrStoreUnavailable]; after them nothing was
// charged and the outcome's Len is zero, with one exception: when the error
// also wraps [ErrOutcomeUnknown], a network store received the call and may
// have applied it (its reply was lost). Retrying with the same
// IdempotencyKey is then safe: it is charged at most once.
func (b *Billing) Charge(ctx context.Context, c Charge) (Outcome, error) {
	o := outcomes.Get().(*Outcome)
	err := b.ChargeInto(ctx, o, &c)
	out := *o
	*o = Outcome{}
	outcomes.Put(o)
	return out, err
}

// ChargeInto is [Billing.Charge] writing the outcome into *o, which it
// overwrites whole. Middleware that keeps outcomes in per-request state uses
// it to avoid copying them.
func (b *Billing) ChargeInto(ctx context.Context, o *Outcome, c *Charge) error {
	// The usual charge, a valid cost and label without a key, skips
	// checkCharge's cases one by one.
	if c.Cost.kind != amount || uint64(c.Cost.micro) > maxMicro || len(c.Label) > MaxLabelLen || c.IdempotencyKey != "" {
		if err := checkCharge(c); err != nil {
			o.reset()
			return err
		}
	}
	t := clockNano(b.clock())
	// When o holds the windows that b prepared for the client's current
	// quotas (its previous charge, the middleware's reused Outcome) and
	// each still contains t, they stay as they are, with o.quotas, the
	// client and N: the registry look-up and the copy of every rule are
	// skipped, since the window of a rule that contains a time is unique
	// (rule.window's cache does the same). [o.from, o.to) is empty unless
	// o holds every window that prepare wrote for o.quotas (not a
	// replay's, nor none after an error): then o.quotas is set, and t in
	// it is in each window. Otherwise o is reset and prepared.
	if q := o.quotas; t < o.from || t >= o.to || q.b != b || q.id != c.Client || q.stale.Load() {
		o.reset()
		if err := b.prepare(o, c.Client, t); err != nil {
			return err
		}
	} else {
		// o.replayed is false (a replay empties the span); o.used is
		// written once the store answers, or cleared by fail.
		o.op.At = t
		if bk := &o.op.Bucket; t < bk.Start || t >= bk.End { // else still the hour of t
			*bk = b.bucket(t)
		}
		o.allowed, o.refunded = false, false
	}
	o.op.Label = c.Label
	o.op.Cost = c.Cost.micro
	if c.IdempotencyKey != "" {
		o.op.Key = c.IdempotencyKey
		o.op.KeyExpires = o.op.At + int64(b.keyRetention)
		if o.op.KeyExpires < o.op.At { // a clock near the year 2262
			o.op.KeyExpires = math.MaxInt64
		}
	} else if o.op.Key != "" { // the previous charge's
		o.op.Key, o.op.KeyExpires = "", 0
	}
	var t0 time.Time
	if b.observer != nil {
		t0 = time.Now()
	}
	res, err := b.store.Deduct(ctx, &o.op)
	if b.observer != nil {
		b.observe(OpDeduct, t0, err)
	}
	if err != nil {
		o.fail()
		return storeError(err)
	}
	switch {
	case res.Conflict && res.Record != nil:
		o.fail()
		return &IdempotencyConflictError{Key: c.IdempotencyKey, Cost: micro(res.Record.Cost), Label: res.Record.Label}
	case res.Replayed && res.Record != nil:
		o.replay(res.Record)
		if b.observer != nil {
			b.observer.Charged(o.op.Client, o.op.Label, c.Cost, true, true)
		}
		return nil
	}
	o.used = res.Used
	o.allowed = res.OK
	if b.observer != nil {
		b.observer.Charged(o.op.Client, o.op.Label, c.Cost, res.OK, false)
	}
	if b.alerts != nil && res.OK {
		b.raise(o, &res)
	}
	if !res.OK {
		if o.Violated() == 0 && res.Overflow {
			return fmt.Errorf("%w: client %s", ErrUsageOverflow, quoteClient(o.op.Client))
		}
		return o.exceeded()
	}
	return nil
}

// checkCharge reports why c cannot be charged, before anything is read.
func checkCharge(c *Charge) error {
	switch {
	case !c.Cost.IsSet():
		return fmt.Errorf("%w: the cost is not set: write core.Whole(1), core.MustParseCredits(\"0.5\"), or core.Whole(0) for no charge", ErrInvalidCost)
	case c.Cost.kind != amount || c.Cost.micro < 0 || c.Cost.micro > maxMicro:
		return fmt.Errorf("%w: %s credits (want 0 to %s)", ErrInvalidCost, c.Cost, MaxCredits)
	case len(c.Label) > MaxLabelLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidLabel, len(c.Label), MaxLabelLen)
	case c.IdempotencyKey != "" && !ValidKey(c.IdempotencyKey):
		return fmt.Errorf("%w: want 1 to %d visible ASCII characters", ErrInvalidKey, MaxKeyLen)
	}
	return nil
}

// ValidKey reports whether k can be an idempotency key: 1 to [MaxKeyLen]
// visible ASCII characters (0x21 to 0x7e).
func ValidKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// Refund gives back the credits of an admitted charge to the windows it was
// charged to (those that have not ended since) and to its hour aggregate. It
// does nothing for a refused charge, a replayed one (which charged nothing)
// or one already refunded. A charge with an idempotency key is refunded at
// most once, however often and from wherever Refund is called, and its key
// is then forgotten, so a retry with it is charged anew. Adapters call it
// when the handler fails.
func (b *Billing) Refund(ctx context.Context, o *Outcome) error {
	if !o.allowed || o.refunded || o.replayed || o.op.Cost == 0 {
		return nil
	}
	var t0 time.Time
	if b.observer != nil {
		t0 = time.Now()
	}
	err := b.store.Refund(ctx, &o.op)
	if b.observer != nil {
		b.observe(OpRefund, t0, err)
	}
	if err != nil {
		return storeError(err)
	}
	if b.observer != nil {
		b.observer.Refunded(o.op.Client, o.op.Label, micro(o.op.Cost))
	}
	o.refunded = true
	for i := 0; i < o.op.N; i++ {
		o.used[i] = max(0, o.used[i]-o.op.Cost)
	}
	return nil
}

// Status returns the current usage of every quota of client without
// charging anything. It is the counterpart of the Python get_lowest_quota:
// see [Outcome.Lowest].
func (b *Billing) Status(ctx context.Context, client string) (Outcome, error) {
	var o Outcome
	if err := b.prepare(&o, client, clockNano(b.clock())); err != nil {
		return o, err
	}
	var t0 time.Time
	if b.observer != nil {
		t0 = time.Now()
	}
	res, err := b.store.Usage(ctx, &o.op)
	if b.observer != nil {
		b.observe(OpUsage, t0, err)
	}
	if err != nil {
		o.dropWindows()
		return o, storeError(err)
	}
	o.used = res.Used
	o.allowed = true
	return o, nil
}

// prepare fills o with the client's current windows at t (Unix
// nanoseconds, from clockNano).
func (b *Billing) prepare(o *Outcome, client string, t int64) error {
	if client == "" || len(client) > MaxClientIDLen {
		return ValidateClientID(client)
	}
	c := b.clients.get(client)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoQuotas, quoteClient(client))
	}
	o.quotas = c
	o.op.At = t
	o.op.Client = c.id // the registry's copy: safe to keep
	o.op.ClientHash = c.hash
	o.op.Bucket = b.bucket(t)
	o.op.N = len(c.rules)
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	for i, r := range c.rules {
		w := &o.op.List[i]
		w.Period, w.Limit, w.Levels = r.Period, r.limit, r.levels
		w.Start, w.End = r.window(t)
		from, to = max(from, w.Start), min(to, w.End)
	}
	o.from, o.to = from, to
	return nil
}

// clockNano returns now in Unix nanoseconds, clamped to the years 1680 to
// 2260, where every window and hour fits in int64 nanoseconds. (A clock
// reading strictly between the bounds' seconds is inside them: one
// comparison of seconds decides for every reading but those of the bounds'
// own seconds.)
func clockNano(now time.Time) int64 {
	s := now.Unix()
	if s <= minClockSec || s >= maxClockSec {
		switch {
		case now.Before(minClock):
			return minWindowNano
		case now.After(maxClock):
			return maxWindowNano
		}
	}
	return s*int64(time.Second) + int64(now.Nanosecond()) // now.UnixNano(), without reading the seconds again
}

var (
	minClock, maxClock       = time.Unix(0, minWindowNano), time.Unix(0, maxWindowNano)
	minClockSec, maxClockSec = minClock.Unix(), maxClock.Unix()
)

// storeError wraps a store's error in ErrStoreUnavailable, keeping what it
// wraps (ErrOutcomeUnknown, the context's error) visible to errors.Is.
func storeError(err error) error {
	if errors.Is(err, ErrStoreUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// Outcome is the result of a charge or a status query: every quota's usage
// and the most constrained quota. It also carries what [Billing.Refund]
// needs. It is a value: a copy stays valid after the request. The zero
// Outcome has no quotas.
type Outcome struct {
	op     Op
	used   [MaxQuotas]int64
	quotas *clientQuotas
	// from and to bound the span that every window of op contains, when
	// prepare wrote them for quotas; else it is empty (from >= to).
	from, to int64
	allowed  bool
	refunded bool
	replayed bool
}

// reset makes o the zero Outcome, as *o = Outcome{} would, for
// [Billing.ChargeInto]. The windows past op.N are zero in every Outcome,
// so only the previous charge's are cleared, not the whole list (a
// ChargeInto into a reused Outcome, the middleware's path, clears a few
// dozen bytes instead of the whole Outcome).
func (o *Outcome) reset() {
	o.dropWindows()
	o.op.Client, o.op.Label, o.op.Key = "", "", ""
	o.op.ClientHash = 0
	o.op.Cost, o.op.At, o.op.KeyExpires = 0, 0, 0
	o.op.Bucket = Span{}
	o.used = [MaxQuotas]int64{}
	o.quotas = nil
	o.allowed, o.refunded, o.replayed = false, false, false
}

// fail leaves o as a failed charge leaves it: without windows or usage
// (and not admitted: ChargeInto cleared that before the store's call).
func (o *Outcome) fail() {
	o.dropWindows()
	o.used = [MaxQuotas]int64{}
}

// dropWindows leaves o without windows (zero, as windows past op.N are).
func (o *Outcome) dropWindows() {
	for i := range o.op.N { // a few windows: cheaper than a call to clear
		o.op.List[i] = Window{}
	}
	o.op.N = 0
	o.from, o.to = 0, 0
}

// replay makes o the outcome recorded under an idempotency key.
func (o *Outcome) replay(r *KeyRecord) {
	q := o.quotas
	o.op = r.Op()
	o.op.Client, o.op.ClientHash = q.id, q.hash
	o.from, o.to = 0, 0 // the first charge's windows, not prepare's
	o.used = r.Used
	o.quotas = q
	o.allowed = true
	o.replayed = true
}

// Allowed reports whether the charge was admitted (and deducted, unless it
// was replayed).
func (o *Outcome) Allowed() bool { return o.allowed }

// Replayed reports whether the charge repeated an idempotency key: nothing
// was charged, and the outcome is the first charge's.
func (o *Outcome) Replayed() bool { return o.replayed }

// Refunded reports whether the charge has been refunded.
func (o *Outcome) Refunded() bool { return o.refunded }

// Client returns the client charged.
func (o *Outcome) Client() string { return o.op.Client }

// Cost returns the cost charged or refused.
func (o *Outcome) Cost() Credits { return micro(o.op.Cost) }

// Label returns the label the charge was reported under.
func (o *Outcome) Label() string { return o.op.Label }

// IdempotencyKey returns the charge's idempotency key, or "".
func (o *Outcome) IdempotencyKey() string { return o.op.Key }

// At returns the time of the charge (of the first charge, when replayed).
func (o *Outcome) At() time.Time { return time.Unix(0, o.op.At) }

// Len returns the number of the client's quotas.
func (o *Outcome) Len() int { return o.op.N }

// Quota returns the status of the i-th quota, shortest period first, for
// 0 <= i < Len.
func (o *Outcome) Quota(i int) QuotaStatus {
	w := &o.op.List[i]
	loc := o.loc(w.Period)
	s := QuotaStatus{
		Period: w.Period,
		Used:   micro(o.used[i]),
		Start:  time.Unix(0, w.Start).In(loc),
		End:    time.Unix(0, w.End).In(loc),
	}
	if w.Unlimited() {
		s.Limit, s.Remaining = Unlimited, Unlimited
	} else {
		s.Limit, s.Remaining = micro(w.Limit), micro(max(0, w.Limit-o.used[i]))
	}
	return s
}

// QuotaFigures are one quota's figures as rate-limit headers state them:
// [QuotaStatus] without the times in the quota's zone.
type QuotaFigures struct {
	Period    Period
	Limit     Credits // or Unlimited
	Remaining Credits // never negative; Unlimited if the quota is
	// End is the renewal time, Unix nanoseconds.
	End int64
}

// Figures returns the figures of the i-th quota, for 0 <= i < Len: what
// [Outcome.Quota] returns, read without building times in the quota's
// zone, for middleware that formats headers on every request.
func (o *Outcome) Figures(i int) QuotaFigures {
	w := &o.op.List[i]
	f := QuotaFigures{Period: w.Period, End: w.End}
	if w.Unlimited() {
		f.Limit, f.Remaining = Unlimited, Unlimited
	} else {
		f.Limit, f.Remaining = micro(w.Limit), micro(max(0, w.Limit-o.used[i]))
	}
	return f
}

// loc returns the zone of the client's quota of period p.
func (o *Outcome) loc(p Period) *time.Location {
	if o.quotas != nil {
		for _, r := range o.quotas.rules {
			if r.Period == p {
				return r.loc
			}
		}
	}
	return time.UTC
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
	i := o.LowestIndex()
	if i < 0 {
		return s, false
	}
	return o.Quota(i), true
}

// LowestIndex returns the index of [Outcome.Lowest] for [Outcome.Quota], or
// -1.
func (o *Outcome) LowestIndex() int {
	best := -1
	var bestRem, bestEnd int64
	for i := 0; i < o.op.N; i++ {
		w := &o.op.List[i]
		if w.Unlimited() {
			continue
		}
		r := max(0, w.Limit-o.used[i])
		if best < 0 || r < bestRem || (r == bestRem && w.End < bestEnd) {
			best, bestRem, bestEnd = i, r, w.End
		}
	}
	return best
}

// Violated returns the quotas that refused the charge.
func (o *Outcome) Violated() PeriodSet {
	var s PeriodSet
	if o.allowed {
		return s
	}
	for i := 0; i < o.op.N; i++ {
		if w := &o.op.List[i]; !w.Fits(o.used[i], o.op.Cost) {
			s = s.Add(w.Period)
		}
	}
	return s
}

// RetryAt returns when a refused charge can first succeed: the latest
// renewal among the quotas that refused. It is the zero time for an
// admitted charge.
func (o *Outcome) RetryAt() time.Time {
	var latest int64
	found := false
	if o.allowed {
		return time.Time{}
	}
	for i := 0; i < o.op.N; i++ {
		if w := &o.op.List[i]; !w.Fits(o.used[i], o.op.Cost) && (!found || w.End > latest) {
			latest, found = w.End, true
		}
	}
	if !found {
		return time.Time{}
	}
	return time.Unix(0, latest).UTC()
}

func (o *Outcome) exceeded() error {
	// The lowest quota has the fewest credits left, so it refused too.
	low, _ := o.Lowest()
	return &QuotaExceededError{
		Quota:     low.Period,
		Limit:     low.Limit,
		Remaining: low.Remaining,
		RenewsAt:  low.End.UTC(),
		Required:  micro(o.op.Cost),
		Violated:  o.Violated(),
		RetryAt:   o.RetryAt(),
	}
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
func (s QuotaStatus) Unlimited() bool { return s.Limit.IsUnlimited() }
