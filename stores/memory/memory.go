package memory

import (
	"context"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Store keeps usage in memory. The zero value is not usable; call [New].
type Store struct {
	seed      maphash.Seed
	retention int64 // nanoseconds; 0 keeps usage aggregates
	closed    atomic.Bool
	importing atomic.Pointer[string] // the ID of an import in progress
	shards    [64]shard
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

type shard struct {
	mu    sync.Mutex
	index map[string]int32 // client ID -> position in clients
	// clients holds every client's state by value, so a charge reaches
	// its counters in one step from the index.
	clients []client
	keys    map[keyID]*core.KeyRecord
	expiry  []keyID // keys in the order they were recorded, for pruning
	_       [24]byte
}

type keyID struct{ client, key string }

// client is one client's usage: one counter per period (replaced when a
// later window starts, so ended windows are dropped) and the usage
// aggregates by hour, oldest first. The last hour is where nearly every
// charge goes.
type client struct {
	slots [core.MaxQuotas]slot
	hours []hour
}

type slot struct {
	start, end int64
	used       int64
	fired      uint8
	held       bool // the slot counts a window
}

// hour is the usage of one hour, by label.
type hour struct {
	start, end int64
	labels     []labelUsage
}

type labelUsage struct {
	label   string
	credits int64
}

var _ core.Store = (*Store)(nil)

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{seed: maphash.MakeSeed(), retention: int64(DefaultRetention)}
	for _, o := range opts {
		o(s)
	}
	for i := range s.shards {
		s.shards[i].reset()
	}
	return s
}

func (sh *shard) reset() {
	sh.index = make(map[string]int32)
	sh.clients = nil
	sh.keys = make(map[keyID]*core.KeyRecord)
	sh.expiry = nil
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

// lookup returns the client's state, or nil.
func (sh *shard) lookup(id string) *client {
	if i, ok := sh.index[id]; ok {
		return &sh.clients[i]
	}
	return nil
}

// add returns the client's state, created if needed.
func (sh *shard) add(id string) *client {
	if c := sh.lookup(id); c != nil {
		return c
	}
	sh.index[strings.Clone(id)] = int32(len(sh.clients))
	sh.clients = append(sh.clients, client{})
	return &sh.clients[len(sh.clients)-1]
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
	if err := s.check(ctx); err != nil {
		return res, err
	}
	sh := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if op.Key != "" {
		if r := sh.keys[keyID{op.Client, op.Key}]; r != nil && r.Expires > op.At {
			rec := *r
			res.Record = &rec
			if r.Matches(op) {
				res.OK, res.Replayed = true, true
			} else {
				res.Conflict = true
			}
			return res, nil
		}
	}
	c := sh.lookup(op.Client)
	res.OK = true
	ws := op.Windows()
	for i := range ws {
		w := &ws[i]
		var u int64
		if c != nil {
			u = c.slots[w.Period].usedFor(w)
		}
		res.Used[i] = u
		if !w.Fits(u, op.Cost) {
			res.OK = false
		}
		if core.Overflows(u, op.Cost) {
			res.OK, res.Overflow = false, true
		}
	}
	if res.OK && op.Cost > 0 && c != nil && core.Overflows(c.usage(op.Bucket.Start, op.Label), op.Cost) {
		res.OK, res.Overflow = false, true
	}
	if !res.OK {
		return res, nil
	}
	if op.Cost > 0 { // a zero cost counts nothing: no state is created
		sh.charge(c, op, &res, s.retention)
	}
	if op.Key != "" {
		sh.record(op, &res.Used)
	}
	return res, nil
}

// charge adds op's cost to its windows and hour aggregate.
func (sh *shard) charge(c *client, op *core.Op, res *core.Result, retention int64) {
	if c == nil {
		c = sh.add(op.Client)
	}
	ws := op.Windows()
	for i := range ws {
		w := &ws[i]
		sl := &c.slots[w.Period]
		if !sl.held || w.Start > sl.start {
			if sl.held && sl.fired != 0 {
				res.Reset |= 1 << i
			}
			*sl = slot{start: w.Start, end: w.End, held: true}
		}
		sl.used += op.Cost
		res.Used[i] = sl.used
		if bits := w.Reached(sl.used, sl.fired); bits != 0 {
			sl.fired |= bits
			res.Fired[i] = bits
		}
	}
	c.charge(op.Bucket, op.Label, op.Cost, retention)
}

// record keeps the key record of op, whose windows' usage is now used, and
// drops expired records.
func (sh *shard) record(op *core.Op, used *[core.MaxQuotas]int64) {
	for len(sh.expiry) > 0 {
		k := sh.expiry[0]
		r := sh.keys[k]
		if r != nil && r.Expires > op.At {
			break
		}
		delete(sh.keys, k)
		sh.expiry = sh.expiry[1:]
	}
	r := op.Record(used)
	r.Client, r.Key, r.Label = strings.Clone(r.Client), strings.Clone(r.Key), strings.Clone(r.Label)
	k := keyID{r.Client, r.Key}
	if _, ok := sh.keys[k]; !ok {
		sh.expiry = append(sh.expiry, k)
	}
	sh.keys[k] = &r
}

// usage returns the credits of the aggregate of the hour starting at start
// and label.
func (c *client) usage(start int64, label string) int64 {
	if i, ok := c.findHour(start); ok {
		h := &c.hours[i]
		for j := range h.labels {
			if h.labels[j].label == label {
				return h.labels[j].credits
			}
		}
	}
	return 0
}

// findHour returns the position of the hour starting at start, or where
// it would be inserted.
func (c *client) findHour(start int64) (int, bool) {
	if n := len(c.hours); n > 0 && c.hours[n-1].start == start {
		return n - 1, true // the current hour
	}
	return slices.BinarySearchFunc(c.hours, start, func(h hour, s int64) int {
		switch {
		case h.start < s:
			return -1
		case h.start > s:
			return 1
		}
		return 0
	})
}

// charge adds cost to the aggregate of the hour and label, and drops
// aggregates older than retention before the latest hour.
func (c *client) charge(b core.Span, label string, cost, retention int64) {
	i, ok := c.findHour(b.Start)
	if !ok {
		c.hours = slices.Insert(c.hours, i, hour{start: b.Start, end: b.End})
		if retention > 0 && i == len(c.hours)-1 {
			cut := b.Start - retention
			k := 0
			for k < len(c.hours) && c.hours[k].start < cut {
				k++
			}
			if k > 0 {
				c.hours = slices.Delete(c.hours, 0, k)
				i -= k
			}
		}
	}
	h := &c.hours[i]
	for j := range h.labels {
		if h.labels[j].label == label {
			h.labels[j].credits += cost
			return
		}
	}
	h.labels = append(h.labels, labelUsage{label: strings.Clone(label), credits: cost})
}

// Refund implements [core.Store.Refund].
func (s *Store) Refund(ctx context.Context, op *core.Op) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	sh := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if op.Key != "" {
		k := keyID{op.Client, op.Key}
		r := sh.keys[k]
		if r == nil || r.Expires <= op.At {
			return nil
		}
		delete(sh.keys, k) // its place in expiry is skipped when pruned
		rop := r.Op()
		op = &rop
	}
	c := sh.lookup(op.Client)
	if c == nil || op.Cost == 0 {
		return nil
	}
	for _, w := range op.Windows() {
		if sl := &c.slots[w.Period]; sl.held && sl.start == w.Start {
			sl.used = max(0, sl.used-op.Cost)
		}
	}
	if i, ok := c.findHour(op.Bucket.Start); ok {
		h := &c.hours[i]
		for j := range h.labels {
			if h.labels[j].label == op.Label {
				h.labels[j].credits = max(0, h.labels[j].credits-op.Cost)
			}
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
	sh := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c := sh.lookup(op.Client); c != nil {
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
	sh := s.shard(q.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.lookup(q.Client)
	if c == nil {
		return nil, nil
	}
	var out []core.UsageRecord
	i, _ := c.findHour(q.From)
	for ; i < len(c.hours) && c.hours[i].start < q.To; i++ {
		h := &c.hours[i]
		for _, l := range h.labels {
			out = append(out, core.UsageRecord{Bucket: core.Span{Start: h.start, End: h.end}, Label: l.label, Credits: l.credits})
		}
	}
	return out, nil
}

// Delete implements [core.Store.Delete].
func (s *Store) Delete(ctx context.Context, op *core.DeleteOp) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	sh := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.lookup(op.Client)
	if c == nil {
		return 0, nil
	}
	var total int64
	var inWindow [core.MaxQuotas]int64
	from, _ := c.findHour(op.From)
	to := from
	for ; to < len(c.hours) && c.hours[to].start < op.To; to++ {
		h := &c.hours[to]
		var sum int64
		for _, l := range h.labels {
			sum += l.credits
		}
		total += sum
		for i, w := range op.Windows() {
			if h.start < w.End && w.Start < h.end {
				inWindow[i] += sum
			}
		}
	}
	c.hours = slices.Delete(c.hours, from, to)
	for i, w := range op.Windows() {
		if sl := &c.slots[w.Period]; sl.held && sl.start == w.Start {
			sl.used = max(0, sl.used-inWindow[i])
		}
	}
	return total, nil
}

// Export implements [core.Store.Export]. Each shard is read under its
// lock, one at a time, so the export is consistent per client.
func (s *Store) Export(ctx context.Context, fn func(*core.Record) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var recs []core.Record
	for i := range s.shards {
		sh := &s.shards[i]
		recs = recs[:0]
		sh.mu.Lock()
		for id, ci := range sh.index {
			c := &sh.clients[ci]
			for p, sl := range c.slots {
				if sl.held {
					recs = append(recs, core.Record{Kind: core.RecordWindow, Client: id, Period: core.Period(p),
						Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired})
				}
			}
			for _, h := range c.hours {
				for _, l := range h.labels {
					recs = append(recs, core.Record{Kind: core.RecordUsage, Client: id, Start: h.start, End: h.end,
						Label: l.label, Used: l.credits})
				}
			}
		}
		now := time.Now().UnixNano()
		for _, r := range sh.keys {
			if r.Expires > now {
				recs = append(recs, core.Record{Kind: core.RecordKey, Client: r.Client, Key: *r})
			}
		}
		sh.mu.Unlock()
		for j := range recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(&recs[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// empty reports whether the store holds no state.
func (s *Store) empty() bool {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n := len(sh.clients) + len(sh.keys)
		sh.mu.Unlock()
		if n > 0 {
			return false
		}
	}
	return true
}

// Import implements [core.Store.Import].
func (s *Store) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	resume := opts.ID != "" && s.importing.Load() != nil && *s.importing.Load() == opts.ID
	if !opts.Merge && !resume && !s.empty() {
		return core.ErrNotEmpty
	}
	if opts.ID != "" {
		id := opts.ID
		s.importing.Store(&id)
	}
	for {
		if err := s.check(ctx); err != nil {
			return err
		}
		rec, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		s.importRecord(rec, opts.Merge)
	}
	s.importing.Store(nil)
	return nil
}

func (s *Store) importRecord(rec *core.Record, merge bool) {
	sh := s.shard(rec.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return
		}
		sl := &sh.add(rec.Client).slots[rec.Period]
		st := core.MergeWindow(core.WindowState{Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired, Held: sl.held}, rec, merge)
		*sl = slot{start: st.Start, end: st.End, used: st.Used, fired: st.Fired, held: st.Held}
	case core.RecordUsage:
		c := sh.add(rec.Client)
		i, ok := c.findHour(rec.Start)
		if !ok {
			c.hours = slices.Insert(c.hours, i, hour{start: rec.Start, end: rec.End})
		}
		h := &c.hours[i]
		for j := range h.labels {
			if h.labels[j].label == rec.Label {
				h.labels[j].credits = core.MergeUsage(h.labels[j].credits, rec.Used, merge)
				return
			}
		}
		h.labels = append(h.labels, labelUsage{label: strings.Clone(rec.Label), credits: rec.Used})
	case core.RecordKey:
		k := keyID{strings.Clone(rec.Key.Client), strings.Clone(rec.Key.Key)}
		if _, ok := sh.keys[k]; ok && merge {
			return // keys already held stay
		}
		r := rec.Key
		r.Client, r.Key, r.Label = k.client, k.key, strings.Clone(r.Label)
		if _, ok := sh.keys[k]; !ok {
			sh.expiry = append(sh.expiry, k)
		}
		sh.keys[k] = &r
	}
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
