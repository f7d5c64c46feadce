package memory

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/frappy-go/apibilling/core"
)

// Store keeps usage in memory. The zero value is not usable; call [New].
type Store struct {
	seed   maphash.Seed
	closed atomic.Bool
	shards [64]shard
}

type shard struct {
	mu      sync.Mutex
	clients map[string]*client
	_       [40]byte // keep shards on separate cache lines
}

// client is one client's usage: one counter per period (the window it
// counts is replaced when a later one starts, so ended windows are dropped)
// and the day aggregates.
type client struct {
	slots [core.MaxQuotas]slot
	days  map[dayKey]*dayAgg
	// last is the day aggregate charged last: most charges go to the same
	// day and label, so they skip the map.
	last *dayAgg
}

type slot struct {
	start, end int64
	used       core.Credits
	held       bool // the slot counts a window
}

type dayKey struct {
	start int64
	label string
}

type dayAgg struct {
	key     dayKey // as held in the map (the label is the store's copy)
	end     int64
	credits core.Credits
}

var _ core.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	s := &Store{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].clients = make(map[string]*client)
	}
	return s
}

func (s *Store) shard(id string) *shard {
	return &s.shards[maphash.String(s.seed, id)%uint64(len(s.shards))]
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

// used returns the usage a slot holds for w: none if w starts after the
// slot's window (that one has ended), else the slot's (a window that starts
// before it is counted against the newer one, which never over-admits).
func (sl *slot) usedFor(w core.Window) core.Credits {
	if !sl.held || w.Start > sl.start {
		return 0
	}
	return sl.used
}

// Deduct implements [core.Store.Deduct].
func (s *Store) Deduct(ctx context.Context, op core.Op) (core.Result, error) {
	var res core.Result
	if err := s.check(ctx); err != nil {
		return res, err
	}
	sh := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.clients[op.Client]
	res.OK = true
	if c != nil {
		for i, w := range op.Windows() {
			u := c.slots[w.Period].usedFor(w)
			res.Used[i] = u
			if !w.Fits(u, op.Cost) {
				res.OK = false
			}
		}
	} else {
		for _, w := range op.Windows() {
			if !w.Fits(0, op.Cost) {
				res.OK = false
			}
		}
	}
	if !res.OK || op.Cost == 0 {
		return res, nil // refused, or nothing to count: no state is created
	}
	if c == nil {
		c = &client{days: make(map[dayKey]*dayAgg)}
		sh.clients[strings.Clone(op.Client)] = c
	}
	for i, w := range op.Windows() {
		sl := &c.slots[w.Period]
		if !sl.held || w.Start > sl.start {
			*sl = slot{start: w.Start, end: w.End, held: true}
		}
		sl.used += op.Cost
		res.Used[i] = sl.used
	}
	if a := c.last; a != nil && a.key.start == op.Day.Start && a.key.label == op.Label {
		a.credits += op.Cost
		return res, nil
	}
	k := dayKey{op.Day.Start, op.Label}
	a := c.days[k]
	if a != nil {
		a.credits += op.Cost
	} else {
		k.label = strings.Clone(k.label)
		a = &dayAgg{key: k, end: op.Day.End, credits: op.Cost}
		c.days[k] = a
	}
	c.last = a
	return res, nil
}

// Refund implements [core.Store.Refund].
func (s *Store) Refund(ctx context.Context, op core.Op) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	sh := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.clients[op.Client]
	if c == nil {
		return nil
	}
	for _, w := range op.Windows() {
		if sl := &c.slots[w.Period]; sl.held && sl.start == w.Start {
			sl.used = max(0, sl.used-op.Cost)
		}
	}
	if a := c.days[dayKey{op.Day.Start, op.Label}]; a != nil {
		a.credits = max(0, a.credits-op.Cost)
	}
	return nil
}

// Usage implements [core.Store.Usage].
func (s *Store) Usage(ctx context.Context, op core.Op) (core.Result, error) {
	var res core.Result
	if err := s.check(ctx); err != nil {
		return res, err
	}
	sh := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c := sh.clients[op.Client]; c != nil {
		for i, w := range op.Windows() {
			res.Used[i] = c.slots[w.Period].usedFor(w)
		}
	}
	return res, nil
}

// Report implements [core.Store.Report].
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.DayRecord, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(q.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.clients[q.Client]
	if c == nil {
		return nil, nil
	}
	var out []core.DayRecord
	for k, a := range c.days {
		if k.start >= q.From && k.start < q.To {
			out = append(out, core.DayRecord{Day: core.DaySpan{Start: k.start, End: a.end}, Label: k.label, Credits: a.credits})
		}
	}
	return out, nil
}

// Delete implements [core.Store.Delete].
func (s *Store) Delete(ctx context.Context, op core.DeleteOp) (core.Credits, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.clients[op.Client]
	if c == nil {
		return 0, nil
	}
	var total core.Credits
	var inWindow [core.MaxQuotas]core.Credits
	for k, a := range c.days {
		if k.start < op.From || k.start >= op.To {
			continue
		}
		total += a.credits
		for i, w := range op.Windows() {
			if k.start < w.End && w.Start < a.end {
				inWindow[i] += a.credits
			}
		}
		delete(c.days, k)
		if a == c.last {
			c.last = nil
		}
	}
	for i, w := range op.Windows() {
		if sl := &c.slots[w.Period]; sl.held && sl.start == w.Start {
			sl.used = max(0, sl.used-inWindow[i])
		}
	}
	return total, nil
}

// Close implements [core.Store.Close]. The usage is dropped.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.clients = make(map[string]*client)
		sh.mu.Unlock()
	}
	return nil
}
