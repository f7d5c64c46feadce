package bolt

import (
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// fastState is the interval mode: Deduct, Refund and Usage work on an
// overlay of the file's records in memory, decided under one lock, and a
// flusher commits the changed records every CommitInterval in one
// transaction. Each commit writes a snapshot of the overlay taken at one
// instant, so the file always holds a state the store really had.
type fastState struct {
	s       *Store
	flushMu sync.Mutex // serialises commits; taken before mu
	mu      sync.Mutex // guards the fields below
	ov      *overlay
	closed  bool
	failed  error // the last periodic commit's error, until one succeeds
	quit    chan struct{}

	// The snapshot of the commit in progress (owned by the flushMu holder).
	snap []snapRecord
	vals []byte
}

type snapRecord struct {
	rec *record
	val []byte
}

func newFastState(s *Store) *fastState {
	f := &fastState{s: s, quit: make(chan struct{})}
	f.ov = newOverlay(f.load)
	return f
}

// load reads a record the overlay does not hold from the file.
func (f *fastState) load(day bool, key []byte) (rec record, err error) {
	err = f.s.view(func(b buckets) error {
		bk := b.windows
		if day {
			bk = b.days
		}
		v := bk.Get(key)
		if v == nil {
			return nil
		}
		if day {
			rec, err = decodeDay(v)
		} else {
			rec, err = decodeWindow(v)
		}
		return err
	})
	return rec, err
}

// lock takes mu and reports an error if the store is closed or its
// commits are failing.
func (f *fastState) lock() error {
	f.mu.Lock()
	switch {
	case f.closed:
		f.mu.Unlock()
		return core.ErrClosed
	case f.failed != nil:
		err := f.failed
		f.mu.Unlock()
		return fmt.Errorf("apibilling/bolt: the last commit failed: %w", err)
	}
	return nil
}

func (f *fastState) deduct(op *core.Op) (core.Result, error) {
	if err := f.lock(); err != nil {
		return core.Result{}, err
	}
	defer f.mu.Unlock()
	return f.ov.deduct(op)
}

func (f *fastState) refund(op *core.Op) error {
	if err := f.lock(); err != nil {
		return err
	}
	defer f.mu.Unlock()
	return f.ov.refund(op)
}

func (f *fastState) usage(op *core.Op) (core.Result, error) {
	if err := f.lock(); err != nil {
		return core.Result{}, err
	}
	defer f.mu.Unlock()
	return f.ov.usage(op)
}

// delete commits the pending changes and the deletion in one transaction.
func (f *fastState) delete(op *core.DeleteOp) (n core.Credits, err error) {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, core.ErrClosed
	}
	err = f.s.update(func(b buckets) error {
		if err := f.ov.flush(b); err != nil {
			return err
		}
		n, err = deleteDays(b, op)
		return err
	})
	if err != nil {
		// Nothing committed: the overlay's records are still dirty.
		f.ov.vals = f.ov.vals[:0]
		return 0, err
	}
	f.failed = nil
	f.ov.reset() // everything is on disk; windows reload with the deletion
	return n, nil
}

// stop ends the flusher; Close then commits what is pending with sync.
func (f *fastState) stop() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	close(f.quit)
}

// flushLoop is the flusher goroutine of the interval mode.
func (s *Store) flushLoop() {
	defer close(s.stopped)
	t := time.NewTicker(s.opts.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = s.fast.sync() // a failure is kept in f.failed and retried
		case <-s.fast.quit:
			return
		}
	}
}

// sync commits the changes made so far: it snapshots the dirty records
// under the lock, writes them in one transaction with fsync, and on failure
// marks them dirty again so that the next commit retries.
func (f *fastState) sync() error {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	f.mu.Lock()
	if len(f.ov.dirty) == 0 {
		f.mu.Unlock()
		return nil
	}
	f.snap, f.vals = f.snap[:0], f.vals[:0]
	for _, r := range f.ov.dirty {
		n := len(f.vals)
		f.vals = r.encode(f.vals)
		f.snap = append(f.snap, snapRecord{rec: r, val: f.vals[n:len(f.vals):len(f.vals)]})
		r.dirty = false
	}
	clear(f.ov.dirty)
	f.ov.dirty = f.ov.dirty[:0]
	if h := f.s.opts.hooks; h != nil && h.snapshot != nil {
		h.snapshot()
	}
	f.mu.Unlock()

	err := f.s.update(func(b buckets) error {
		for _, sr := range f.snap {
			bk := b.windows
			if sr.rec.day {
				bk = b.days
			}
			// bbolt copies keys; the records' keys are immutable.
			if err := bk.Put(unsafe.Slice(unsafe.StringData(sr.rec.key), len(sr.rec.key)), sr.val); err != nil {
				return err
			}
		}
		return nil
	})

	f.mu.Lock()
	if err != nil {
		for _, sr := range f.snap {
			f.ov.markDirty(sr.rec)
		}
		f.failed = err
	} else {
		f.failed = nil
		// Day aggregates are read again from the file when needed; window
		// counters stay (one per client and period).
		for _, sr := range f.snap {
			if sr.rec.day && !sr.rec.dirty {
				delete(f.ov.recs, sr.rec.key)
			}
		}
	}
	f.mu.Unlock()
	clear(f.snap)
	if err == nil {
		if h := f.s.opts.hooks; h != nil && h.committed != nil {
			h.committed()
		}
	}
	return err
}

// update runs fn in a write transaction, turning damage into an error.
func (s *Store) update(fn func(b buckets) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b, err := openBuckets(tx)
		if err != nil {
			return err
		}
		return fn(b)
	})
	if err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	return nil
}
