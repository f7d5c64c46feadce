package bolt

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// The durable mode's group commit. Callers append a request to the queue
// and wait. One committer goroutine takes everything queued, applies the
// requests in order in one write transaction (each decided against the
// state the previous ones left), commits with fsync, and only then answers
// each caller. While it commits, the next batch gathers in the queue. If the
// commit fails, every request of the batch gets the error and nothing they
// decided is reported.

type requestKind uint8

const (
	kindDeduct requestKind = iota
	kindRefund
	kindDelete
)

// A request's state: queued until the committer takes it or its caller
// gives up waiting; whoever changes it first owns the outcome.
const (
	stateQueued int32 = iota
	stateTaken
	stateCanceled
)

type request struct {
	kind    requestKind
	state   atomic.Int32
	op      core.Op
	del     core.DeleteOp
	res     core.Result
	removed core.Credits
	err     error
	done    chan struct{} // buffered 1: the committer's answer
}

func (s *Store) newRequest(k requestKind) *request {
	r := s.reqs.Get().(*request)
	r.kind = k
	r.state.Store(stateQueued)
	return r
}

func (s *Store) freeRequest(r *request) {
	r.op = core.Op{}
	r.del = core.DeleteOp{}
	r.res = core.Result{}
	r.removed = 0
	r.err = nil
	s.reqs.Put(r)
}

// submit queues r and waits for its answer. If ctx ends before the
// committer has taken r, r is withdrawn, submit returns the context's
// error and nothing of r is applied; once taken, r is answered after its
// commit.
func (s *Store) submit(ctx context.Context, r *request) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.freeRequest(r)
		return core.ErrClosed
	}
	s.queue = append(s.queue, r)
	if s.gatherFor > 0 {
		if len(s.queue) >= s.gatherFor {
			s.gatherFor = 0
			s.gathered <- struct{}{} // buffered; the committer waits for it
		}
	} else {
		s.cond.Signal()
	}
	s.mu.Unlock()
	if d := ctx.Done(); d != nil {
		select {
		case <-r.done:
			return nil
		case <-d:
			if r.state.CompareAndSwap(stateQueued, stateCanceled) {
				// The committer will drop r and free it.
				return fmt.Errorf("apibilling/bolt: %w", ctx.Err())
			}
		}
	}
	<-r.done
	return nil
}

// commitLoop is the committer goroutine of the durable mode.
//
// Callers answered by one commit often come straight back (a client that
// waited for its response sends the next request). So when the last batch
// was larger than what is queued, the committer waits for as many requests
// as that batch held, but at most a tenth of the last commit's duration:
// batches stay full under load, and a lone request waits for nobody.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	c := committer{s: s}
	c.ov = newOverlay(c.load)
	var batch []*request
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	last, lastDur := 0, time.Duration(0)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		if n := len(s.queue); n < last && !s.closed && lastDur > 0 {
			s.gatherFor = last
			s.mu.Unlock()
			timer.Reset(lastDur / 10)
			select {
			case <-s.gathered:
			case <-timer.C:
			}
			timer.Stop()
			s.mu.Lock()
			s.gatherFor = 0
			select {
			case <-s.gathered: // a signal sent after the timer fired
			default:
			}
		}
		batch, s.queue = s.queue, batch[:0]
		s.batches.Add(1)
		s.mu.Unlock()
		start := time.Now()
		c.commit(batch)
		last, lastDur = len(batch), time.Since(start)
		clear(batch)
	}
}

type committer struct {
	s     *Store
	ov    *overlay
	b     buckets
	taken []*request
	// deleted is set when the transaction has deleted day aggregates.
	deleted bool
}

func (c *committer) load(day bool, key []byte) (record, error) {
	if day {
		if v := c.b.days.Get(key); v != nil {
			return decodeDay(v)
		}
		return record{}, nil
	}
	if v := c.b.windows.Get(key); v != nil {
		return decodeWindow(v)
	}
	return record{}, nil
}

// commit applies batch in one transaction and answers every request taken.
func (c *committer) commit(batch []*request) {
	c.taken = c.taken[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(stateQueued, stateTaken) {
			c.taken = append(c.taken, r)
		} else {
			c.s.freeRequest(r) // its caller gave up
		}
	}
	if len(c.taken) == 0 {
		return
	}
	err := c.apply()
	c.ov.reset()
	c.b = buckets{}
	for _, r := range c.taken {
		if err != nil {
			r.err = err
			r.res = core.Result{}
			r.removed = 0
		}
		r.done <- struct{}{}
	}
	clear(c.taken)
}

// apply runs the taken requests in one write transaction and commits it.
func (c *committer) apply() (err error) {
	tx, err := c.s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("apibilling/bolt: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	c.deleted = false
	if c.b, err = openBuckets(tx); err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	for _, r := range c.taken {
		if err := c.applyOne(r); err != nil {
			return fmt.Errorf("apibilling/bolt: %w", err)
		}
	}
	if len(c.ov.dirty) == 0 && !c.deleted {
		// Only refusals: nothing to write, and no fsync to wait for. The
		// refusals were decided on committed state.
		return tx.Rollback()
	}
	if err := c.ov.flush(c.b); err != nil {
		return fmt.Errorf("apibilling/bolt: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apibilling/bolt: commit: %w", err)
	}
	c.s.commits.Add(1)
	return nil
}

func (c *committer) applyOne(r *request) error {
	var err error
	switch r.kind {
	case kindDeduct:
		r.res, err = c.ov.deduct(&r.op)
	case kindRefund:
		err = c.ov.refund(&r.op)
	case kindDelete:
		// Delete works on the buckets: write what the overlay holds first,
		// then let later requests load the result.
		c.deleted = true
		if err = c.ov.flush(c.b); err == nil {
			c.ov.forget()
			r.removed, err = deleteDays(c.b, &r.del)
		}
	}
	return err
}
