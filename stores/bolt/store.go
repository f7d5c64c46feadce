package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// Store keeps usage in a bbolt file. It implements [core.Store]; create it
// with [Open] or [New]. It is safe for concurrent use.
//
// Calls are decided on a cache of the records they touch (loaded from the
// file on first use) and each change is appended to a write-ahead log next
// to the file; in the durable mode a call returns once its log records are
// on disk. The log is written into the bbolt file (a checkpoint) in the
// background, after which the cache forgets what did not change since.
type Store struct {
	db    *bbolt.DB
	owned bool // Close closes db
	opts  Options
	path  string

	mu        sync.Mutex
	flushCond sync.Cond // on mu: wakes the flusher
	durCond   sync.Cond // on mu: wakes callers waiting for the log
	clients   map[string]*clientEntry
	keys      map[string]*keyEntry
	dirtyCl   []*clientEntry
	dirtyKeys []*keyEntry
	importID  string // of an import in progress, or ""
	importSet bool   // importID changed since the last checkpoint
	epoch     uint64 // the cache's generation: rebuilt after a failed log write
	gen       uint64 // incremented when entries are evicted
	evictions uint64 // completed evictions after checkpoints
	maxAt     int64  // the latest charge time seen, for pruning
	pending   []byte // log records not yet written, after a frame header
	spare     []byte // the buffer of the last write, for the next
	calls     int    // calls whose records are in pending
	gatherFor int    // when positive, the flusher waits for this many calls
	lsn       uint64 // log bytes appended so far
	durable   uint64 // log bytes on disk
	logEpoch  uint64 // incremented when pending records are discarded
	failures  map[uint64]failure
	flushErr  error // interval mode: the last log write failed
	closing   bool
	broken    error // the store cannot go on
	sinceCk   int64 // log bytes written since the last checkpoint
	kb        []byte
	sweep     []byte // where the retention sweeps go on; owned by ckMu
	sweepCl   []byte

	logFirst uint64 // the first log segment not in the file; owned by ckMu

	// validated is closed when the background check of the file's page
	// tree (validErr) is done: checkpoints, the only writes into the file,
	// wait for it.
	validated    chan struct{}
	validErr     error
	stopValidate chan struct{} // closed by Close

	flushMu sync.Mutex // held by whoever writes the log
	ckMu    sync.Mutex // held by a checkpoint, and by Export and Backup
	wal     *wal

	ckReq    chan struct{} // buffered 1: a checkpoint is wanted
	gathered chan struct{} // buffered 1: gatherFor calls are pending
	quit     chan struct{} // closed by Close
	bg       sync.WaitGroup

	commits     atomic.Int64 // group commits (log writes)
	checkpoints atomic.Int64

	closeOnce sync.Once
	closeErr  error
	isClosed  atomic.Bool
}

// failure records the log records discarded when a write failed: those
// after floor, of one log epoch.
type failure struct {
	floor uint64
	err   error
}

var _ core.Store = (*Store)(nil)

// Open opens the store in the bbolt file at path, creating it if no file
// exists there, and owns it: [Store.Close] closes it. It fails with
// [ErrLocked] if another process holds the file for longer than
// [Options.LockTimeout], and with [ErrForeign], [ErrNewerFormat] or
// [ErrCorrupt] for a file it cannot use (an empty file included: delete it
// to start a new store). A file of an earlier format is migrated, and the
// write-ahead log left by a crash is replayed into it. opts may be nil.
func Open(path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	db, err := openDB(path, &o, false)
	if err != nil {
		return nil, err
	}
	s, err := newStore(db, o, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New returns a store in db, which the caller opened and keeps: the store
// uses its own bucket, and [Store.Close] leaves db open. The store's bucket
// is created if db has none; its write-ahead log lives next to db's file.
// Other writers must not change that bucket. opts may be nil; its
// LockTimeout is not used.
func New(db *bbolt.DB, opts *Options) (*Store, error) {
	if db == nil {
		panic("apibilling/bolt: New expects a non-nil *bbolt.DB")
	}
	return newStore(db, opts.withDefaults(), false)
}

func newStore(db *bbolt.DB, o Options, owned bool) (*Store, error) {
	path := db.Path()
	if db.IsReadOnly() {
		return nil, fmt.Errorf("apibilling/bolt: %s is open read-only", path)
	}
	s := &Store{
		db: db, owned: owned, opts: o, path: path,
		clients:  make(map[string]*clientEntry),
		keys:     make(map[string]*keyEntry),
		failures: make(map[uint64]failure),
		pending:  make([]byte, frameHeader, 64<<10),
		ckReq:    make(chan struct{}, 1),
		gathered: make(chan struct{}, 1),
		quit:     make(chan struct{}),
	}
	s.flushCond.L = &s.mu
	s.durCond.L = &s.mu
	s.validated = make(chan struct{})
	s.stopValidate = make(chan struct{})
	if err := s.prepare(owned); err != nil {
		return nil, err
	}
	if owned {
		// A damaged page can make a bbolt write loop or crash: the file's
		// tree is checked before the first checkpoint, in the background,
		// so that opening does not read the whole file.
		go func() {
			err := validateTree(s.path, s.stopValidate)
			s.validErr = err
			close(s.validated)
			if err != nil && !errors.Is(err, errStopped) {
				s.mu.Lock()
				if s.broken == nil {
					s.broken = err // calls fail from now on: the file is damaged
				}
				s.durCond.Broadcast()
				s.mu.Unlock()
			}
		}()
	} else {
		close(s.validated) // the application's database: its own writers use it too
	}
	w, err := recoverLog(s)
	if err != nil {
		return nil, err
	}
	s.wal = w
	s.bg.Add(2)
	go s.flushLoop()
	go s.checkpointLoop()
	return s, nil
}

// prepare checks the store's format in the file (and nothing that grows
// with the usage stored), creates the layout in a new file and migrates a
// file of an earlier format.
func (s *Store) prepare(owned bool) error {
	var version uint32
	var found, others bool
	err := s.viewTx(func(tx *bbolt.Tx) error {
		var err error
		if version, found, err = readFormat(tx); err != nil || found {
			return err
		}
		k, _ := tx.Cursor().First()
		others = k != nil
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	switch {
	case !found && others && owned:
		return fmt.Errorf("%w: %s holds other data", ErrForeign, s.path)
	case !found:
		return s.updateTx(createLayout)
	case version < FormatVersion:
		if err := validateTree(s.path, nil); err != nil {
			return err
		}
		return s.migrate(version)
	}
	return s.viewTx(func(tx *bbolt.Tx) error {
		b, err := openBuckets(tx)
		if err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
		s.importID = string(b.meta.Get(importKey))
		return nil
	})
}

// DB returns the bbolt database the store uses.
func (s *Store) DB() *bbolt.DB { return s.db }

// checkArgs reports why a call cannot be made.
func (s *Store) checkArgs(ctx context.Context, client, label string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	if s.isClosed.Load() {
		return core.ErrClosed
	}
	if err := core.ValidateClientID(client); err != nil {
		return err
	}
	if len(label) > core.MaxLabelLen {
		return fmt.Errorf("%w: %d bytes, at most %d", core.ErrInvalidLabel, len(label), core.MaxLabelLen)
	}
	return nil
}

// usable reports, with s.mu held, why the store takes no calls.
func (s *Store) usable() error {
	switch {
	case s.closing:
		return core.ErrClosed
	case s.broken != nil:
		return s.broken
	case s.flushErr != nil:
		return fmt.Errorf("apibilling/bolt: the last write failed: %w", s.flushErr)
	}
	return nil
}

// Deduct implements [core.Store.Deduct]. In the durable mode it returns
// once the deduction is on disk.
func (s *Store) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := s.checkArgs(ctx, op.Client, op.Label); err != nil {
		return res, err
	}
	var kbuf [2 + core.MaxClientIDLen + core.MaxKeyLen]byte
	w := want{client: op.Client, hour: op.Cost > 0, open: true, start: op.Bucket.Start, label: op.Label}
	if op.Key != "" {
		if !core.ValidKey(op.Key) {
			return res, fmt.Errorf("%w: want 1 to %d visible ASCII characters", core.ErrInvalidKey, core.MaxKeyLen)
		}
		w.kk = keyKey(kbuf[:0], op.Client, op.Key)
	}
	s.mu.Lock()
	c, h, k, where, err := s.ensure(&w)
	if err != nil {
		s.mu.Unlock()
		return res, err
	}
	if op.At > s.maxAt {
		s.maxAt = op.At
	}
	if k != nil && k.exists && k.rec.Expires > op.At {
		rec := k.rec
		res.Record = &rec
		if rec.Matches(op) {
			res.OK, res.Replayed = true, true
		} else {
			res.Conflict = true
		}
		return res, s.wait(s.lsn, s.logEpoch)
	}
	res.OK = true
	ws := op.Windows()
	for i := range ws {
		w := &ws[i]
		u := c.slots[w.Period].usedFor(w)
		res.Used[i] = u
		if !w.Fits(u, op.Cost) {
			res.OK = false
		}
		if core.Overflows(u, op.Cost) {
			res.OK, res.Overflow = false, true
		}
	}
	if res.OK && op.Cost > 0 {
		var agg int64
		if where == inOpen {
			agg = c.openCredits(op.Bucket.Start, op.Label)
		} else if h.exists {
			agg = h.credits
		}
		if core.Overflows(agg, op.Cost) {
			res.OK, res.Overflow = false, true
		}
	}
	if !res.OK {
		return res, s.wait(s.lsn, s.logEpoch)
	}
	if op.Cost > 0 {
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
		if where == inOpen {
			s.openAt(c, op.Bucket)
			c.addOpen(op.Label, op.Cost)
		} else {
			if !h.exists {
				h.exists, h.end, h.credits = true, op.Bucket.End, 0
			}
			h.credits += op.Cost
			s.putHour(c, h)
		}
		s.putClient(c)
	}
	if k != nil {
		k.rec = op.Record(&res.Used)
		k.rec.Client, k.rec.Key, k.rec.Label = c.id, k.k[len(w.kk)-len(op.Key):], strings.Clone(op.Label)
		k.exists = true
		s.putKey(k)
	}
	if op.Cost > 0 || k != nil {
		s.called()
	}
	return res, s.wait(s.lsn, s.logEpoch)
}

// Refund implements [core.Store.Refund]. In the durable mode it returns
// once the refund is on disk.
func (s *Store) Refund(ctx context.Context, op *core.Op) error {
	if err := s.checkArgs(ctx, op.Client, op.Label); err != nil {
		return err
	}
	var kbuf [2 + core.MaxClientIDLen + core.MaxKeyLen]byte
	var kk []byte
	if op.Key != "" {
		kk = keyKey(kbuf[:0], op.Client, op.Key)
	}
	s.mu.Lock()
	var c *clientEntry
	var h *hourEntry
	var k *keyEntry
	var where int
	var rop core.Op
	for {
		var err error
		if kk != nil {
			// The key's record says what to refund: load it first, then
			// the client and hour it names, and check that it held still.
			if _, _, k, _, err = s.ensure(&want{client: op.Client, kk: kk}); err != nil {
				s.mu.Unlock()
				return err
			}
			if !k.exists || k.rec.Expires <= op.At {
				s.mu.Unlock()
				return nil
			}
			rop = k.rec.Op()
		} else {
			rop = *op
		}
		w := want{client: rop.Client, hour: true, start: rop.Bucket.Start, label: rop.Label, kk: kk}
		if c, h, k, where, err = s.ensure(&w); err != nil {
			s.mu.Unlock()
			return err
		}
		if kk == nil || (k.exists && k.rec.Expires > op.At && k.rec.Bucket == rop.Bucket && k.rec.Label == rop.Label && k.rec.Cost == rop.Cost) {
			break
		}
	}
	changed := false
	if kk != nil {
		k.exists = false
		k.rec = core.KeyRecord{}
		s.putKey(k)
		changed = true
	}
	if c.exists && rop.Cost > 0 {
		clientChanged := false
		for _, w := range rop.Windows() {
			if sl := &c.slots[w.Period]; sl.held && sl.start == w.Start && sl.used > 0 {
				sl.used = max(0, sl.used-rop.Cost)
				clientChanged = true
			}
		}
		switch {
		case where == inOpen:
			if c.open.start == rop.Bucket.Start && c.openCredits(rop.Bucket.Start, rop.Label) > 0 {
				c.addOpen(rop.Label, -rop.Cost)
				clientChanged = true
			}
		case h.exists && h.credits > 0:
			h.credits = max(0, h.credits-rop.Cost)
			s.putHour(c, h)
			changed = true
		}
		if clientChanged {
			s.putClient(c)
			changed = true
		}
	}
	if changed {
		s.called()
	}
	return s.wait(s.lsn, s.logEpoch)
}

// Usage implements [core.Store.Usage].
func (s *Store) Usage(ctx context.Context, op *core.Op) (core.Result, error) {
	var res core.Result
	if err := s.checkArgs(ctx, op.Client, ""); err != nil {
		return res, err
	}
	ws := op.Windows()
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return res, err
	}
	if c := s.clients[op.Client]; c != nil {
		for i := range ws {
			res.Used[i] = c.slots[ws[i].Period].usedFor(&ws[i])
		}
		s.mu.Unlock()
		return res, nil
	}
	s.mu.Unlock()
	// Not cached: the file holds the latest (or, if it changes meanwhile,
	// a later) state.
	var slots [core.MaxQuotas]slot
	var open openHour
	err := s.view(func(b *buckets) error {
		if v := b.clients.Get([]byte(op.Client)); v != nil {
			return decodeClientRecord(v, &slots, &open)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for i := range ws {
		res.Used[i] = slots[ws[i].Period].usedFor(&ws[i])
	}
	return res, nil
}

// Report implements [core.Store.Report].
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.UsageRecord, error) {
	if err := s.checkArgs(ctx, q.Client, ""); err != nil {
		return nil, err
	}
	if q.From >= q.To {
		return nil, nil
	}
	// The cached aggregates and a read transaction, taken at one instant:
	// the file holds nothing newer than the cache.
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	// Aggregates past the retention are gone, whether or not a checkpoint
	// has removed them from the file yet.
	if cut := s.retentionCut(); q.From < cut {
		q.From = cut
		if q.From >= q.To {
			s.mu.Unlock()
			return nil, nil
		}
	}
	var cached []hourEntry
	var open openHour
	c := s.clients[q.Client]
	if c != nil {
		for _, h := range c.hours {
			if h.start >= q.From && h.start < q.To {
				cached = append(cached, *h)
			}
		}
		open = c.open
		open.labels = slices.Clone(open.labels)
	}
	var tx *bbolt.Tx
	err := safely(s.path, func() error {
		var err error
		tx, err = s.db.Begin(false)
		return err
	})
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("apibilling/bolt: %w", err)
	}
	defer tx.Rollback()
	var out []core.UsageRecord
	err = safely(s.path, func() error {
		b, err := openBuckets(tx)
		if err != nil {
			return err
		}
		if c == nil {
			var slots [core.MaxQuotas]slot
			if v := b.clients.Get([]byte(q.Client)); v != nil {
				if err := decodeClientRecord(v, &slots, &open); err != nil {
					return err
				}
			}
		}
		return scanUsage(b.usage, q.Client, q.From, q.To, func(start, end int64, label []byte, credits int64) error {
			for i := range cached {
				if cached[i].start == start && cached[i].label == string(label) {
					return nil
				}
			}
			out = append(out, core.UsageRecord{Bucket: core.Span{Start: start, End: end}, Label: string(label), Credits: credits})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("apibilling/bolt: %w", err)
	}
	for _, h := range cached {
		if h.exists {
			out = append(out, core.UsageRecord{Bucket: core.Span{Start: h.start, End: h.end}, Label: h.label, Credits: h.credits})
		}
	}
	if open.held && open.start >= q.From && open.start < q.To {
		for _, l := range open.labels {
			out = append(out, core.UsageRecord{Bucket: core.Span{Start: open.start, End: open.end}, Label: l.label, Credits: l.credits})
		}
	}
	return out, nil
}

// retentionCut returns the start of the oldest hour whose usage
// aggregates are kept, with s.mu held: Retention before the latest charge
// seen.
func (s *Store) retentionCut() int64 {
	if s.opts.Retention < 0 || s.maxAt == 0 {
		return math.MinInt64
	}
	return s.maxAt - int64(s.opts.Retention)
}

// scanUsage calls fn with each usage aggregate of client whose hour starts
// in [from, to), in time order. label is valid only during the call.
func scanUsage(b *bbolt.Bucket, client string, from, to int64, fn func(start, end int64, label []byte, credits int64) error) error {
	prefix := appendClient(nil, client)
	c := b.Cursor()
	for k, v := c.Seek(appendTime(prefix, from)); k != nil; k, v = c.Next() {
		if len(k) < len(prefix)+usageKeyFixed || string(k[:len(prefix)]) != string(prefix) {
			break
		}
		start := readTime(k[len(prefix):])
		if start >= to {
			break
		}
		end, credits, err := decodeUsageValue(v)
		if err != nil {
			return err
		}
		if err := fn(start, end, k[len(prefix)+usageKeyFixed:], credits); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements [core.Store.Delete]. In the durable mode it returns once
// the change is on disk.
func (s *Store) Delete(ctx context.Context, op *core.DeleteOp) (int64, error) {
	if err := s.checkArgs(ctx, op.Client, ""); err != nil {
		return 0, err
	}
	if op.From >= op.To {
		return 0, nil
	}
	s.mu.Lock()
	c, _, _, _, err := s.ensure(&want{client: op.Client})
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	// Bring every aggregate of the range into the cache (under the lock:
	// nothing changes meanwhile), then remove them there.
	err = s.view(func(b *buckets) error {
		return scanUsage(b.usage, op.Client, op.From, op.To, func(start, end int64, label []byte, credits int64) error {
			if c.hour(start, string(label)) == nil {
				c.hours = append(c.hours, &hourEntry{start: start, end: end, label: string(label), credits: credits, exists: true})
			}
			return nil
		})
	})
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	var total int64
	var inWindow [core.MaxQuotas]int64
	ws := op.Windows()
	changed, clientChanged := false, false
	remove := func(start, end, credits int64) {
		total += credits
		for i := range ws {
			if start < ws[i].End && ws[i].Start < end {
				inWindow[i] += credits
			}
		}
	}
	for _, h := range c.hours {
		if !h.exists || h.start < op.From || h.start >= op.To {
			continue
		}
		remove(h.start, h.end, h.credits)
		h.exists, h.credits = false, 0
		s.putHour(c, h)
		changed = true
	}
	if o := &c.open; o.held && o.start >= op.From && o.start < op.To && len(o.labels) > 0 {
		for _, l := range o.labels {
			remove(o.start, o.end, l.credits)
		}
		clear(o.labels)
		o.labels = o.labels[:0]
		clientChanged = true
	}
	for i, w := range ws {
		if sl := &c.slots[w.Period]; sl.held && sl.start == w.Start && inWindow[i] > 0 && sl.used > 0 {
			sl.used = max(0, sl.used-inWindow[i])
			clientChanged = true
		}
	}
	if clientChanged {
		s.putClient(c)
	}
	if changed || clientChanged {
		s.called()
	}
	return total, s.wait(s.lsn, s.logEpoch)
}

// called counts a call whose log records are pending and wakes the
// flusher, with s.mu held.
func (s *Store) called() {
	s.calls++
	if s.gatherFor > 0 {
		if s.calls >= s.gatherFor {
			s.gatherFor = 0
			select {
			case s.gathered <- struct{}{}:
			default:
			}
		}
		return
	}
	s.flushCond.Signal()
}

// wait releases s.mu and, in the durable mode, waits until the log holds
// every record up to lsn (of the log epoch it was appended in) on disk. An
// answer never rests on a change that is not on disk.
func (s *Store) wait(lsn, epoch uint64) error {
	defer s.mu.Unlock()
	if s.opts.CommitInterval > 0 {
		return nil
	}
	for {
		if epoch != s.logEpoch {
			f := s.failures[epoch]
			if lsn <= f.floor {
				return nil
			}
			return fmt.Errorf("apibilling/bolt: writing the log: %w", f.err)
		}
		if s.durable >= lsn {
			return nil
		}
		if s.broken != nil {
			return s.broken
		}
		s.durCond.Wait()
	}
}

// Close implements [core.Store.Close]: it writes pending work to the log,
// checkpoints the log into the file, and closes the file if [Open] opened
// it. A store from [New] leaves its *bbolt.DB open.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.isClosed.Store(true)
		s.mu.Lock()
		s.closing = true
		s.flushCond.Broadcast()
		s.durCond.Broadcast() // calls waiting for room in the cache
		s.mu.Unlock()
		close(s.quit)
		s.bg.Wait()
		err := s.flushErrOnClose()
		if err == nil {
			err = s.checkpoint()
		}
		close(s.stopValidate) // not needed any more if it still runs
		if cerr := s.wal.close(err == nil); err == nil {
			err = cerr
		}
		s.closeErr = err
		if s.owned {
			if err := s.db.Close(); err != nil && s.closeErr == nil {
				s.closeErr = fmt.Errorf("apibilling/bolt: close: %w", err)
			}
		}
	})
	return s.closeErr
}

// flushErrOnClose writes what is pending and reports a failure.
func (s *Store) flushErrOnClose() error {
	s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	return s.flushErr
}

// viewTx runs fn in a read transaction, turning damage into an error.
func (s *Store) viewTx(fn func(tx *bbolt.Tx) error) error {
	err := safely(s.path, func() error { return s.db.View(fn) })
	if err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	return nil
}

// updateTx runs fn in a write transaction, turning damage into an error.
func (s *Store) updateTx(fn func(tx *bbolt.Tx) error) error {
	err := safely(s.path, func() error { return s.db.Update(fn) })
	if err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	return nil
}

// view runs fn on the store's buckets in a read transaction.
func (s *Store) view(fn func(b *buckets) error) error {
	return s.viewTx(func(tx *bbolt.Tx) error {
		b, err := openBuckets(tx)
		if err != nil {
			return err
		}
		return fn(&b)
	})
}

func putUint64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// since is time.Since, for tests to read the code's timing in one place.
var since = time.Since
