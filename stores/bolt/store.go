package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Store keeps usage in a bbolt file. It implements [core.Store]; create it
// with [Open] or [New]. It is safe for concurrent use.
type Store struct {
	db    *bbolt.DB
	owned bool // Close closes db
	opts  Options

	mu     sync.Mutex
	cond   sync.Cond // signals the committer: queue not empty, or closing
	queue  []*request
	closed bool
	// gatherFor, when positive, is the queue length the committer waits for
	// before it takes a batch; the caller that reaches it sends on gathered.
	gatherFor int
	gathered  chan struct{}
	stopped   chan struct{} // closed when the committer or flusher has ended

	reqs    sync.Pool
	commits atomic.Int64 // transactions committed by the durable mode
	batches atomic.Int64 // batches taken by the durable mode's committer

	// The interval mode's state; see fast.go.
	fast *fastState

	closeOnce sync.Once
	closeErr  error
	isClosed  atomic.Bool
}

var _ core.Store = (*Store)(nil)

// Open opens the store in the bbolt file at path, creating it if needed, and
// owns it: [Store.Close] closes it. It fails with [ErrLocked] if another
// process holds the file for longer than [Options.LockTimeout], and with
// [ErrForeign], [ErrNewerFormat] or [ErrCorrupt] for a file it cannot use.
// opts may be nil.
func Open(path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && fi.Size() < minFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, too short for a bbolt file", ErrCorrupt, path, fi.Size())
	}
	db, err := openDB(path, &o)
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

// minFileSize is the size of bbolt's two meta pages at the smallest page size.
const minFileSize = 2 * 512

func openDB(path string, o *Options) (db *bbolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, p)
		}
	}()
	db, err = bbolt.Open(path, o.FileMode, &bbolt.Options{
		Timeout:      o.LockTimeout,
		FreelistType: bbolt.FreelistMapType,
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s is still in use after %v (is another instance running?)", ErrLocked, path, o.LockTimeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	return nil, fmt.Errorf("apibilling/bolt: open %s: %w", path, err)
}

// New returns a store in db, which the caller opened and keeps: the store
// uses its own bucket, and [Store.Close] leaves db open. The store's bucket
// is created if db has none. Other writers must not change that bucket.
// opts may be nil; its LockTimeout is not used.
func New(db *bbolt.DB, opts *Options) (*Store, error) {
	if db == nil {
		panic("apibilling/bolt: New expects a non-nil *bbolt.DB")
	}
	return newStore(db, opts.withDefaults(), false)
}

func newStore(db *bbolt.DB, o Options, owned bool) (*Store, error) {
	if db.IsReadOnly() {
		return nil, fmt.Errorf("apibilling/bolt: %s is open read-only", db.Path())
	}
	if err := prepareFile(db, owned); err != nil {
		return nil, err
	}
	s := &Store{db: db, owned: owned, opts: o, stopped: make(chan struct{}), gathered: make(chan struct{}, 1)}
	s.cond.L = &s.mu
	s.reqs.New = func() any { return &request{done: make(chan struct{}, 1)} }
	if o.CommitInterval > 0 {
		s.fast = newFastState(s)
		go s.flushLoop()
	} else {
		go s.commitLoop()
	}
	return s, nil
}

// prepareFile checks the file's size and layout and creates the layout in
// a new file. Damage is reported as an error wrapping [ErrCorrupt], never a
// panic.
func prepareFile(db *bbolt.DB, owned bool) (err error) {
	path := db.Path()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, p)
		}
	}()
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("apibilling/bolt: %s: %w", path, err)
	}
	var found, others bool
	err = db.View(func(tx *bbolt.Tx) error {
		if tx.Size() > fi.Size() {
			return fmt.Errorf("%w: %s is truncated: %d bytes, its pages need %d", ErrCorrupt, path, fi.Size(), tx.Size())
		}
		var err error
		if found, err = checkLayout(tx); err != nil || found {
			return err
		}
		c := tx.Cursor()
		k, _ := c.First()
		others = k != nil
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !found && others && owned {
		return fmt.Errorf("%w: %s holds other data", ErrForeign, path)
	}
	// A write transaction also loads bbolt's free page list, so that damage
	// there shows now rather than in the first deduction.
	err = db.Update(func(tx *bbolt.Tx) error {
		if found {
			return nil
		}
		return createLayout(tx)
	})
	if err != nil {
		return fmt.Errorf("apibilling/bolt: %s: %w", path, err)
	}
	return nil
}

// DB returns the bbolt database the store uses.
func (s *Store) DB() *bbolt.DB { return s.db }

func (s *Store) check(ctx context.Context, client, label string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	if s.isClosed.Load() {
		return core.ErrClosed
	}
	if err := core.ValidateClientID(client); err != nil {
		return err
	}
	if len(label) > maxLabelLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrLabelTooLong, len(label), maxLabelLen)
	}
	return nil
}

// Deduct implements [core.Store.Deduct]. In the durable mode it returns
// once the deduction is committed to disk.
func (s *Store) Deduct(ctx context.Context, op core.Op) (core.Result, error) {
	if err := s.check(ctx, op.Client, op.Label); err != nil {
		return core.Result{}, err
	}
	if s.fast != nil {
		return s.fast.deduct(&op)
	}
	if op.Cost == 0 {
		// Always admitted and changes nothing: read the usage, no commit.
		res, err := s.Usage(ctx, op)
		res.OK = err == nil
		return res, err
	}
	r := s.newRequest(kindDeduct)
	r.op = op
	if err := s.submit(ctx, r); err != nil {
		return core.Result{}, err
	}
	res, err := r.res, r.err
	s.freeRequest(r)
	return res, err
}

// Refund implements [core.Store.Refund]. In the durable mode it returns
// once the refund is committed to disk.
func (s *Store) Refund(ctx context.Context, op core.Op) error {
	if err := s.check(ctx, op.Client, op.Label); err != nil {
		return err
	}
	if s.fast != nil {
		return s.fast.refund(&op)
	}
	r := s.newRequest(kindRefund)
	r.op = op
	if err := s.submit(ctx, r); err != nil {
		return err
	}
	err := r.err
	s.freeRequest(r)
	return err
}

// Usage implements [core.Store.Usage].
func (s *Store) Usage(ctx context.Context, op core.Op) (core.Result, error) {
	if err := s.check(ctx, op.Client, ""); err != nil {
		return core.Result{}, err
	}
	if s.fast != nil {
		return s.fast.usage(&op)
	}
	var res core.Result
	err := s.view(func(b buckets) error {
		var kb keyBuf
		for i, w := range op.Windows() {
			v := b.windows.Get(kb.window(op.Client, w.Period))
			if v == nil {
				continue
			}
			r, err := decodeWindow(v)
			if err != nil {
				return err
			}
			res.Used[i] = r.usedFor(w)
		}
		return nil
	})
	return res, err
}

// Report implements [core.Store.Report].
func (s *Store) Report(ctx context.Context, q core.ReportQuery) ([]core.DayRecord, error) {
	if err := s.check(ctx, q.Client, ""); err != nil {
		return nil, err
	}
	if s.fast != nil {
		if err := s.fast.sync(); err != nil {
			return nil, err
		}
	}
	var out []core.DayRecord
	err := s.view(func(b buckets) error {
		prefix := appendClient(nil, q.Client)
		seek := appendTime(prefix, q.From)
		c := b.days.Cursor()
		for k, v := c.Seek(seek); k != nil && len(k) >= len(prefix)+dayKeyFixed && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			start := readTime(k[len(prefix):])
			if start >= q.To {
				break
			}
			r, err := decodeDay(v)
			if err != nil {
				return err
			}
			out = append(out, core.DayRecord{
				Day:     core.DaySpan{Start: start, End: r.end},
				Label:   string(k[len(prefix)+dayKeyFixed:]),
				Credits: r.used,
			})
		}
		return nil
	})
	return out, err
}

// Delete implements [core.Store.Delete]. In the durable mode it returns once
// the change is committed to disk.
func (s *Store) Delete(ctx context.Context, op core.DeleteOp) (core.Credits, error) {
	if err := s.check(ctx, op.Client, ""); err != nil {
		return 0, err
	}
	if s.fast != nil {
		return s.fast.delete(&op)
	}
	r := s.newRequest(kindDelete)
	r.del = op
	if err := s.submit(ctx, r); err != nil {
		return 0, err
	}
	n, err := r.removed, r.err
	s.freeRequest(r)
	return n, err
}

// Close implements [core.Store.Close]: it commits pending work, waits for
// it, and closes the file if [Open] opened it. A store from [New] leaves
// its *bbolt.DB open.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.isClosed.Store(true)
		s.mu.Lock()
		s.closed = true
		s.cond.Signal()
		if s.gatherFor > 0 {
			s.gatherFor = 0
			s.gathered <- struct{}{}
		}
		s.mu.Unlock()
		if s.fast != nil {
			s.fast.stop()
		}
		<-s.stopped
		if s.fast != nil {
			s.closeErr = s.fast.sync()
		}
		if s.owned {
			if err := s.db.Close(); err != nil && s.closeErr == nil {
				s.closeErr = fmt.Errorf("apibilling/bolt: close: %w", err)
			}
		}
	})
	return s.closeErr
}

// view runs fn in a read transaction, turning damage into an error.
func (s *Store) view(fn func(b buckets) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	err = s.db.View(func(tx *bbolt.Tx) error {
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

// deleteDays applies [core.Store.Delete] in a write transaction.
func deleteDays(b buckets, op *core.DeleteOp) (core.Credits, error) {
	var total core.Credits
	var inWindow [core.MaxQuotas]core.Credits
	prefix := appendClient(nil, op.Client)
	var doomed [][]byte
	c := b.days.Cursor()
	for k, v := c.Seek(appendTime(prefix, op.From)); k != nil && len(k) >= len(prefix)+dayKeyFixed && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
		start := readTime(k[len(prefix):])
		if start >= op.To {
			break
		}
		r, err := decodeDay(v)
		if err != nil {
			return 0, err
		}
		total += r.used
		for i, w := range op.Windows() {
			if start < w.End && w.Start < r.end {
				inWindow[i] += r.used
			}
		}
		doomed = append(doomed, append([]byte(nil), k...))
	}
	for _, k := range doomed {
		if err := b.days.Delete(k); err != nil {
			return 0, err
		}
	}
	var kb keyBuf
	for i, w := range op.Windows() {
		k := kb.window(op.Client, w.Period)
		v := b.windows.Get(k)
		if v == nil || inWindow[i] == 0 {
			continue
		}
		r, err := decodeWindow(v)
		if err != nil {
			return 0, err
		}
		if r.end != 0 && r.start == w.Start {
			r.used = max(0, r.used-inWindow[i])
			if err := b.windows.Put(k, r.encode(nil)); err != nil {
				return 0, err
			}
		}
	}
	return total, nil
}
