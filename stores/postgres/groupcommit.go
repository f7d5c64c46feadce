package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/storecall"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Group commit. With synchronous_commit on, a deduction costs the server
// one WAL flush at its commit, and on few cores the commits, not the
// statements, bound the rate. Concurrent deductions of one Store are
// therefore gathered and sent as one call of the batch function: one
// statement, one transaction, one commit for all of them.
//
// A deduction that finds no call of the store in flight is sent alone, at
// once, through the deduct function, exactly as without group commit (no
// added latency without concurrency). One that finds a call in flight
// joins the queue; when the call in flight returns, the whole queue is
// sent as the next batch, never on a timer. Each caller returns only
// after its batch committed (or failed).
//
// The batch applies the ops one call of the deduct function each, in one
// transaction: the same code as a lone op, so every answer (replay,
// conflict, overflow, thresholds, resets) is the same as if they had been
// sent one after the other in that order. The ops are sorted by their
// client's advisory lock, then client, then arrival, so that the ops of a
// client apply in the order they arrived and every batch (of any process)
// takes its locks in one global order: batches cannot deadlock with each
// other, and lone calls take a single lock.
//
// Failures: if the batch fails on the server with an error (a PgError:
// the transaction rolled back, nothing applied) its ops are sent again
// alone, one after the other in the order they arrived, so that an op
// that fails on its own fails alone. Any other
// failure (no connection, the reply lost after sending) is each caller's,
// with the same meaning as for a lone op (ErrStoreUnavailable, and
// ErrOutcomeUnknown when the batch had been sent). A caller whose context
// ends while its op is queued leaves the queue (nothing was sent); one
// whose context ends after its batch was sent gets ErrOutcomeUnknown.
// Each caller is bounded by [Options.Timeout] from its call, as a lone op.

// maxBatch bounds the ops of one batch; the rest waits for the next.
const maxBatch = 256

// Where a queued op is.
const (
	reqQueued = iota
	reqSent
)

// deductReq is a deduction waiting in the queue or in a batch in flight.
type deductReq struct {
	ctx   context.Context // the caller's, bounded by the store's timeout
	op    core.Op         // a copy: the caller may leave (its context ended) and reuse its op
	lock  int32
	state int // under groupCommit.mu
	done  chan struct{}
	res   core.Result
	err   error
}

// groupCommit is the queue of a store's deductions.
type groupCommit struct {
	mu       sync.Mutex
	inFlight bool // a call of the deduct or batch function is in flight
	closed   bool
	queue    []*deductReq
	runners  sync.WaitGroup // goroutines sending batches; Close waits for them
	// onBatch, set by tests, is called with the size of each batch sent.
	onBatch func(n int)
}

// batchable reports whether op may join a batch: its key must be text the
// server accepts (UTF-8 without NUL), or the server's refusal of it would
// fail the batch (its neighbours would then be sent alone, which is
// correct but slow).
func batchable(op *core.Op) bool {
	if op.Key == "" {
		return true
	}
	return utf8.ValidString(op.Key) && !containsNUL(op.Key)
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// deductGrouped sends op alone if no call is in flight, or else queues it
// for the next batch.
func (s *Store) deductGrouped(ctx context.Context, op *core.Op) (core.Result, error) {
	if err := s.check(ctx, "deduct"); err != nil {
		return core.Result{}, err
	}
	g := s.gc
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return core.Result{}, errs.Closed("deduct")
	}
	if !g.inFlight {
		g.inFlight = true
		g.mu.Unlock()
		res, err := s.deductOne(ctx, op)
		s.sendQueued()
		return res, err
	}
	ctx, cancel := storecall.Bound(ctx, s.timeout)
	defer cancel()
	r := &deductReq{ctx: ctx, op: *op, lock: lockKey(op.Client), done: make(chan struct{})}
	g.queue = append(g.queue, r)
	g.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		g.mu.Lock()
		state := r.state
		if state == reqQueued {
			if i := slices.Index(g.queue, r); i >= 0 {
				g.queue = slices.Delete(g.queue, i, i+1)
			}
		}
		g.mu.Unlock()
		if state == reqQueued {
			return core.Result{}, errs.Failed("deduct", ctx.Err())
		}
		select {
		case <-r.done:
		default:
			return core.Result{}, errs.Err("deduct", ctx.Err(), true)
		}
	}
	return r.res, r.err
}

// sendQueued is called when a call in flight returned: it starts a
// goroutine that sends the queue, batch after batch, until it is empty,
// or else marks that nothing is in flight.
func (s *Store) sendQueued() {
	g := s.gc
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		g.failQueued()
	case len(g.queue) == 0:
		g.inFlight = false
	default:
		g.runners.Add(1)
		go s.sendBatches()
	}
}

// failQueued fails the ops still queued with [core.ErrClosed], unsent,
// and marks that nothing is in flight. g.mu is held.
func (g *groupCommit) failQueued() {
	for _, r := range g.queue {
		r.state = reqSent
		r.err = errs.Closed("deduct")
		close(r.done)
	}
	g.queue = nil
	g.inFlight = false
}

// sendBatches sends the queue as batches until it is empty; after Close
// it fails what is queued with [core.ErrClosed].
func (s *Store) sendBatches() {
	g := s.gc
	defer g.runners.Done()
	for {
		g.mu.Lock()
		if g.closed {
			g.failQueued()
			g.mu.Unlock()
			return
		}
		var batch []*deductReq
		n := 0
		for _, r := range g.queue {
			if len(batch) == maxBatch {
				g.queue[n] = r
				n++
				continue
			}
			if r.ctx.Err() != nil {
				continue // its caller leaves: nothing was sent
			}
			r.state = reqSent
			batch = append(batch, r)
		}
		clear(g.queue[n:])
		g.queue = g.queue[:n]
		if len(batch) == 0 {
			g.inFlight = false
			g.mu.Unlock()
			return
		}
		if g.onBatch != nil {
			g.onBatch(len(batch))
		}
		g.mu.Unlock()
		if len(batch) == 1 {
			r := batch[0]
			r.res, r.err = s.deductOne(r.ctx, &r.op)
			close(r.done)
			continue
		}
		s.sendBatch(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

// closeGroupCommit makes later deductions fail with [core.ErrClosed] and
// waits for the batch in flight, if any (bounded by the timeout); the ops
// still queued then fail with [core.ErrClosed], unsent.
func (s *Store) closeGroupCommit() {
	g := s.gc
	if g == nil {
		return
	}
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.runners.Wait()
	// A lone call still in flight finds the store closed when it returns
	// and fails what was queued behind it.
}

// sendBatch sends batch in one call of the batch function and sets each
// request's result.
func (s *Store) sendBatch(arrived []*deductReq) {
	// One global lock order; the ops of a client keep their arrival order.
	batch := slices.Clone(arrived)
	slices.SortStableFunc(batch, func(a, b *deductReq) int {
		return cmp.Or(cmp.Compare(a.lock, b.lock), cmp.Compare(a.op.Client, b.op.Client))
	})
	var (
		n                            = len(batch)
		locks                        = make([]int32, n)
		clients, labels              = make([][]byte, n), make([][]byte, n)
		costs, hourStarts, hourEnds  = make([]int64, n), make([]int64, n), make([]int64, n)
		ats, keyExpires              = make([]int64, n), make([]int64, n)
		keys                         = make([]*string, n)
		counts                       = make([]int32, n)
		cutoffs                      = make([]*int64, n)
		periods                      []int16
		starts, ends, limits, levels []int64
	)
	// The batch ends when the last of its callers' deadlines does: a
	// caller whose own ends sooner leaves with ErrOutcomeUnknown.
	deadline, _ := batch[0].ctx.Deadline()
	for i, r := range batch {
		op := &r.op
		if d, _ := r.ctx.Deadline(); d.After(deadline) {
			deadline = d
		}
		locks[i] = r.lock
		clients[i], labels[i] = []byte(op.Client), []byte(op.Label)
		costs[i], hourStarts[i], hourEnds[i] = op.Cost, op.Bucket.Start, op.Bucket.End
		ats[i], keyExpires[i] = op.At, op.KeyExpires
		if op.Key != "" {
			keys[i] = &op.Key
		}
		if c, ok := s.cutoff(op.Bucket.Start).(int64); ok {
			cutoffs[i] = &c
		}
		ws := op.Windows()
		counts[i] = int32(len(ws))
		for _, w := range ws {
			periods = append(periods, int16(w.Period))
			starts, ends, limits = append(starts, w.Start), append(ends, w.End), append(limits, w.Limit)
			levels = append(levels, w.Levels[:]...)
		}
	}
	if periods == nil { // empty arrays, not NULL
		periods, starts, ends, limits, levels = []int16{}, []int64{}, []int64{}, []int64{}, []int64{}
	}
	args := []any{s.lockClass, locks, clients, labels, costs, hourStarts, hourEnds, ats, keys, keyExpires,
		counts, periods, starts, ends, limits, levels, cutoffs, s.lockWait}
	rows := make([]deductRow, n)
	ctx, cancel := context.WithDeadline(context.WithoutCancel(batch[0].ctx), deadline)
	defer cancel()
	err := s.run(ctx, "deduct", true, func(ctx context.Context, c *pgx.Conn) error {
		clear(rows)
		got := 0
		var index int32
		dest := make([]any, 0, 16)
		return s.query(ctx, c, s.q.deductBatch, args, func(r pgx.Rows) error {
			if got == n {
				return fmt.Errorf("the batch function returned more than %d rows", n)
			}
			dest = append(append(dest[:0], &index), rows[got].dest()...)
			if err := r.Scan(dest...); err != nil {
				return err
			}
			if int(index) != got+1 {
				return fmt.Errorf("row %d of the batch function answers op %d", got+1, index)
			}
			got++
			return nil
		}, func() error {
			if got != n {
				return fmt.Errorf("the batch function returned %d rows for %d ops", got, n)
			}
			return nil
		})
	})
	if err != nil {
		var se *storecall.Error
		var pe *pgconn.PgError
		if errors.As(err, &se) && !se.Unknown && errors.As(err, &pe) {
			// The server refused the batch and rolled it back: each op
			// alone, in the order they arrived, so that one that fails on
			// its own fails alone.
			for _, r := range arrived {
				r.res, r.err = s.deductOne(r.ctx, &r.op)
			}
			return
		}
		for _, r := range batch {
			r.err = err
		}
		return
	}
	for i, r := range batch {
		r.res, r.err = s.deductResult(&r.op, &rows[i])
	}
}

// query sends one statement and calls row for each row of its result,
// then end once all were read and the transaction committed: alone, in
// the statement's implicit transaction, or between BEGIN ISOLATION LEVEL
// READ COMMITTED and COMMIT queued in the same round trip, as
// [Store.queryRow].
func (s *Store) query(ctx context.Context, c *pgx.Conn, sql string, args []any, row func(pgx.Rows) error, end func() error) error {
	read := func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			if err := row(rows); err != nil {
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return end()
	}
	if !s.explicitTx.Load() {
		rows, err := c.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		return read(rows)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	b.Queue(sql, args...)
	b.Queue("COMMIT")
	br := c.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return err
	}
	rows, err := br.Query()
	if err == nil {
		err = read(rows)
	}
	if err != nil {
		br.Close()
		return err
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return err
	}
	return br.Close()
}
