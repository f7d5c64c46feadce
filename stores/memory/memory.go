package memory

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Store keeps usage in memory. The zero value is not usable; call [New].
type Store struct {
	retention int64 // nanoseconds; 0 keeps usage aggregates
	closed    atomic.Bool
	importing atomic.Pointer[string] // the ID of an import in progress
	shards    [1 << shardBits]shard
}

// Option configures a [Store].
type Option func(*Store)

// DefaultRetention is how long usage aggregates are kept for reports.
const DefaultRetention = 400 * 24 * time.Hour

// WithRetention sets how long a client's usage aggregates are kept for
// reports: aggregates of hours that started more than d before the client's
// latest charged hour are dropped as the client is charged. A negative d
// keeps them until [core.Billing.DeleteUsage] removes them. The default is
// [DefaultRetention].
func WithRetention(d time.Duration) Option {
	return func(s *Store) {
		if d < 0 {
			s.retention = 0
		} else {
			s.retention = int64(d)
		}
	}
}

var _ core.Store = (*Store)(nil)

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{retention: int64(DefaultRetention)}
	for _, o := range opts {
		o(s)
	}
	for i := range s.shards {
		s.shards[i].reset()
	}
	return s
}

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return core.ErrClosed
	}
	return nil
}

// usedFor returns the usage a slot holds for w: none if w starts after the
// slot's window (that one has ended), else the slot's (a window that starts
// before it is counted against the newer one, which never over-admits).
func (sl *slot) usedFor(w *core.Window) int64 {
	if !sl.held || w.Start > sl.start {
		return 0
	}
	return sl.used
}

// Deduct implements [core.Store.Deduct].
func (s *Store) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := ctx.Err(); err != nil { // s.check, written out: the charge path
		return res, err
	}
	if s.closed.Load() {
		return res, core.ErrClosed
	}
	sh, h, c := s.locate(op) // unlocked without defer: nothing below panics
	sh.deduct(h, c, op, &res, s.retention)
	sh.mu.Unlock()
	return res, nil
}

// deduct is Deduct under the shard's lock, for the client c found there
// (nil if it has no state) whose ID hashes to h.
func (sh *shard) deduct(h uint64, c *client, op *core.Op, res *core.Result, retention int64) {
	if op.Key != "" {
		if r := sh.keyAt(op); r != nil {
			rec := *r
			res.Record = &rec
			if r.Matches(op) {
				res.OK, res.Replayed = true, true
			} else {
				res.Conflict = true
			}
			return
		}
	}
	cost := op.Cost
	ok, overflow := true, false
	ws := op.Windows()
	// The slots of c's windows, found once: checked here, added to below.
	var sls [core.MaxQuotas]*slot
	if c != nil {
		for i := range ws {
			w := &ws[i]
			sl := &c.slots[w.Period]
			sls[i] = sl
			u := sl.usedFor(w)
			res.Used[i] = u
			ok = ok && w.Fits(u, cost)
			overflow = overflow || core.Overflows(u, cost)
		}
	} else {
		for i := range ws {
			ok = ok && ws[i].Fits(0, cost)
		}
	}
	// The hour aggregate is found once: checked here, added to below.
	var agg *int64
	if c != nil && cost > 0 && ok && !overflow {
		if hr := c.hourAt(op.Bucket.Start); hr != nil {
			if agg = hr.find(op.Label); agg != nil && core.Overflows(*agg, cost) {
				overflow = true
			}
		}
	}
	if !ok || overflow {
		res.Overflow = overflow
		return
	}
	res.OK = true
	if cost > 0 { // a zero cost counts nothing: no state is created
		if c == nil {
			c = sh.add(h, op.Client)
			for i := range ws {
				sls[i] = &c.slots[ws[i].Period]
			}
		}
		// Add the cost to every window, replacing the counters of ended
		// windows, and set the threshold bits reached.
		for i := range ws {
			w, sl := &ws[i], sls[i]
			if !sl.held || w.Start > sl.start {
				if sl.held && sl.fired != 0 {
					res.Reset |= 1 << i
				}
				*sl = slot{start: w.Start, end: w.End, held: true}
			}
			sl.used += cost
			res.Used[i] = sl.used
			if l := &w.Levels; l[0]|l[1]|l[2]|l[3] != 0 { // any level set (cheaper than comparing arrays)
				if bits := w.Reached(sl.used, sl.fired); bits != 0 {
					sl.fired |= bits
					res.Fired[i] = bits
				}
			}
		}
		if agg != nil {
			*agg += cost
		} else {
			c.addHour(op.Bucket, retention).add(sh.intern(op.Label), cost)
		}
	}
	if op.Key != "" {
		sh.record(op, &res.Used)
	}
}

// deduct reads the four levels of a window: it fails to compile if
// core.MaxLevels is another number.
var _ = [1]struct{}{}[core.MaxLevels-4]

// Refund implements [core.Store.Refund].
func (s *Store) Refund(ctx context.Context, op *core.Op) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	sh, h := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if op.Key != "" {
		r := sh.keyAt(op)
		if r == nil {
			return nil
		}
		delete(sh.keys, keyID{op.Client, op.Key}) // its place in expiry is skipped when pruned
		rop := r.Op()
		op = &rop
	}
	c := sh.lookup(h, op.Client)
	if c == nil || op.Cost == 0 {
		return nil
	}
	for _, w := range op.Windows() {
		if sl := &c.slots[w.Period]; sl.held && sl.start == w.Start {
			sl.used = max(0, sl.used-op.Cost)
		}
	}
	if hr := c.hourAt(op.Bucket.Start); hr != nil {
		if p := hr.find(op.Label); p != nil {
			*p = max(0, *p-op.Cost)
		}
	}
	return nil
}

// Usage implements [core.Store.Usage].
func (s *Store) Usage(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := s.check(ctx); err != nil {
		return res, err
	}
	sh, h := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c := sh.lookup(h, op.Client); c != nil {
		ws := op.Windows()
		for i := range ws {
			res.Used[i] = c.slots[ws[i].Period].usedFor(&ws[i])
		}
	}
	return res, nil
}

// Report implements [core.Store.Report].
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	sh, h := s.shard(q.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.lookup(h, q.Client)
	if c == nil {
		return nil, nil
	}
	var out []core.UsageRecord
	c.eachHour(q.From, q.To, func(hr *hour) {
		for i := range hr.n {
			l := hr.label(i)
			out = append(out, core.UsageRecord{Bucket: core.Span{Start: hr.start, End: hr.end}, Label: l.label, Credits: l.credits})
		}
	})
	return out, nil
}

// Delete implements [core.Store.Delete]. Sums are capped at
// [core.MaxUsage].
func (s *Store) Delete(ctx context.Context, op *core.DeleteOp) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	sh, h := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.lookup(h, op.Client)
	if c == nil {
		return 0, nil
	}
	var total int64
	var inWindow [core.MaxQuotas]int64
	c.deleteHours(op.From, op.To, func(hr *hour) {
		sum := hr.sum()
		total = addCapped(total, sum)
		for i, w := range op.Windows() {
			if hr.start < w.End && w.Start < hr.end {
				inWindow[i] = addCapped(inWindow[i], sum)
			}
		}
	})
	for i, w := range op.Windows() {
		if sl := &c.slots[w.Period]; sl.held && sl.start == w.Start {
			sl.used = max(0, sl.used-inWindow[i])
		}
	}
	return total, nil
}

// addCapped returns a+b for a, b >= 0, capped at core.MaxUsage.
func addCapped(a, b int64) int64 {
	if core.Overflows(a, b) {
		return core.MaxUsage
	}
	return a + b
}

// Close implements [core.Store.Close]. The usage is dropped.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.reset()
		sh.mu.Unlock()
	}
	return nil
}
