package memory

import (
	"context"
	"errors"
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

// shardBits is the number of the top bits of a client ID's hash that
// choose its shard.
const shardBits = 6

type shard struct {
	mu sync.Mutex
	// table indexes clients by the hash of their ID, with open addressing:
	// each entry is a tag of the hash (high 32 bits) and the position in
	// clients plus one (low 32 bits), or 0 for none. It is at most half
	// full, and never loses an entry (clients are never removed).
	table []uint64
	// clients holds every client's state by value, so a charge reaches
	// its counters in one step from the table.
	clients []client
	keys    map[keyID]*core.KeyRecord
	expiry  []keyID // keys in the order they were recorded, for pruning
	_       [40]byte
}

type keyID struct{ client, key string }

// client is one client's usage: one counter per period (replaced when a
// later window starts, so ended windows are dropped) and the usage
// aggregates by hour, oldest first. The last hour is where nearly every
// charge goes.
type client struct {
	hash  uint64 // of id
	id    string
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
	sh.table = nil
	sh.clients = nil
	sh.keys = make(map[keyID]*core.KeyRecord)
	sh.expiry = nil
}

// shard returns the shard of the client id and the hash of id.
func (s *Store) shard(id string) (*shard, uint64) {
	h := maphash.String(s.seed, id)
	return &s.shards[h>>(64-shardBits)], h
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

// tag returns the bits of a hash that an entry of a shard's table keeps:
// neither those that chose the shard nor the lowest, which choose the
// entry.
func tag(h uint64) uint64 { return uint64(uint32(h>>26)) << 32 }

// lookup returns the state of the client id, whose hash is h, or nil.
func (sh *shard) lookup(h uint64, id string) *client {
	t := sh.table
	if len(t) == 0 {
		return nil
	}
	mask := uint64(len(t) - 1)
	want := tag(h)
	for i := h & mask; ; i = (i + 1) & mask {
		e := t[i]
		if e == 0 {
			return nil
		}
		if e&^0xffffffff == want {
			if c := &sh.clients[uint32(e)-1]; c.hash == h && c.id == id {
				return c
			}
		}
	}
}

// add returns the state of the client id, whose hash is h, created if
// needed.
func (sh *shard) add(h uint64, id string) *client {
	if c := sh.lookup(h, id); c != nil {
		return c
	}
	if 2*(len(sh.clients)+1) > len(sh.table) {
		sh.table = make([]uint64, max(16, 2*len(sh.table)))
		for n := range sh.clients {
			sh.insert(sh.clients[n].hash, n)
		}
	}
	n := len(sh.clients)
	sh.clients = append(sh.clients, client{hash: h, id: strings.Clone(id)})
	sh.insert(h, n)
	return &sh.clients[n]
}

// insert adds the client at position n, whose ID's hash is h, to the
// table.
func (sh *shard) insert(h uint64, n int) {
	mask := uint64(len(sh.table) - 1)
	i := h & mask
	for sh.table[i] != 0 {
		i = (i + 1) & mask
	}
	sh.table[i] = tag(h) | uint64(n+1)
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
	sh, h := s.shard(op.Client)
	sh.mu.Lock() // unlocked without defer: nothing below panics
	sh.deduct(h, op, &res, s.retention)
	sh.mu.Unlock()
	return res, nil
}

// deduct is Deduct under the shard's lock.
func (sh *shard) deduct(h uint64, op *core.Op, res *core.Result, retention int64) {
	if op.Key != "" {
		if r := sh.keys[keyID{op.Client, op.Key}]; r != nil && r.Expires > op.At {
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
	c := sh.lookup(h, op.Client)
	cost := op.Cost
	ok, overflow := true, false
	ws := op.Windows()
	if c != nil {
		for i := range ws {
			w := &ws[i]
			u := c.slots[w.Period].usedFor(w)
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
		if agg = c.aggregate(op.Bucket.Start, op.Label); agg != nil && core.Overflows(*agg, cost) {
			overflow = true
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
		}
		c.chargeWindows(op, res)
		if agg != nil {
			*agg += cost
		} else {
			c.addAggregate(op.Bucket, op.Label, cost, retention)
		}
	}
	if op.Key != "" {
		sh.record(op, &res.Used)
	}
}

// chargeWindows adds op's cost to its windows, replacing the counters of
// ended windows, and sets the threshold bits reached.
func (c *client) chargeWindows(op *core.Op, res *core.Result) {
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
		if w.Levels != noLevels {
			if bits := w.Reached(sl.used, sl.fired); bits != 0 {
				sl.fired |= bits
				res.Fired[i] = bits
			}
		}
	}
}

var noLevels [core.MaxLevels]int64

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

// aggregate returns the credits of the aggregate of the hour starting at
// start and label, or nil if there is none.
func (c *client) aggregate(start int64, label string) *int64 {
	if i, ok := c.findHour(start); ok {
		h := &c.hours[i]
		for j := range h.labels {
			if h.labels[j].label == label {
				return &h.labels[j].credits
			}
		}
	}
	return nil
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

// addAggregate adds cost to the aggregate of the hour and label, and drops
// aggregates older than retention before the latest hour.
func (c *client) addAggregate(b core.Span, label string, cost, retention int64) {
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
	sh, h := s.shard(op.Client)
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
	c := sh.lookup(h, op.Client)
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
	sh, h := s.shard(op.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.lookup(h, op.Client)
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
		for ci := range sh.clients {
			c := &sh.clients[ci]
			id := c.id
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

// errNilRecord is the error of an import whose next returns neither a
// record nor an error.
var errNilRecord = errors.New("apibilling/memory: import: next returned a nil record without an error")

// Import implements [core.Store.Import].
func (s *Store) Import(ctx context.Context, next func() (*core.Record, error), opts core.ImportOptions) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	held := s.importing.Load() // loaded once: another import may clear it
	resume := opts.ID != "" && held != nil && *held == opts.ID
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
		if rec == nil {
			return errNilRecord
		}
		s.importRecord(rec, opts.Merge)
	}
	s.importing.Store(nil)
	return nil
}

func (s *Store) importRecord(rec *core.Record, merge bool) {
	sh, h := s.shard(rec.Client)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch rec.Kind {
	case core.RecordWindow:
		if !rec.Period.Valid() {
			return
		}
		sl := &sh.add(h, rec.Client).slots[rec.Period]
		st := core.MergeWindow(core.WindowState{Start: sl.start, End: sl.end, Used: sl.used, Fired: sl.fired, Held: sl.held}, rec, merge)
		*sl = slot{start: st.Start, end: st.End, used: st.Used, fired: st.Fired, held: st.Held}
	case core.RecordUsage:
		c := sh.add(h, rec.Client)
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
		// The record's client is the key's: the shard is chosen by it.
		k := keyID{strings.Clone(rec.Client), strings.Clone(rec.Key.Key)}
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
