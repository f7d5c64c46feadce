package redis

import (
	"context"
	"errors"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// pipeliner sends the script calls that arrive while others are in flight
// together, in one go-redis pipeline: one write and one read, on one
// connection, for many calls. Each call is still its own EVALSHA, atomic
// and answered on its own; only the round trip is shared. A call that
// finds nothing in flight is sent at once, as without pipelining, so a
// lightly loaded store adds no delay. At most max pipelines (or single
// calls) are in flight at a time; the calls that arrive meanwhile wait for
// the next pipeline.
//
// A pipeline is sent under the earliest deadline of its calls, so that
// every call has its answer, or knows it was lost, by its own deadline.
type pipeliner struct {
	mu       sync.Mutex
	queue    []*call
	spare    []*call
	inflight int
	max      int
}

// maxPipeline is the most calls one pipeline carries.
const maxPipeline = 256

// pipelined runs c through the pipeliner.
func (s *Store) pipelined(ctx context.Context, op string, sc *script, c *call, writes bool, timeout time.Duration) (any, error) {
	ctx, cancel, err := s.begin(ctx, op, timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	p := &s.pipe
	c.op, c.sc, c.writes = op, sc, writes
	c.deadline, _ = ctx.Deadline()
	p.mu.Lock()
	if p.inflight < p.max && len(p.queue) == 0 {
		p.inflight++
		p.mu.Unlock()
		v, err := s.eval(ctx, op, sc, c, writes, timeout)
		p.mu.Lock()
		p.inflight--
		p.kick(s)
		p.mu.Unlock()
		return v, err
	}
	p.queue = append(p.queue, c)
	p.kick(s)
	p.mu.Unlock()
	select {
	case <-c.done:
		return c.reply, c.err
	case <-ctx.Done():
	}
	if p.remove(c) {
		// Its deadline passed (or its caller gave up) before a pipeline
		// took it: nothing was sent.
		s.stats.calls.Add(1)
		return nil, s.fail(op, ctx.Err(), false)
	}
	<-c.done // taken: its pipeline ends by c's deadline
	return c.reply, c.err
}

// kick starts a flusher if calls wait and fewer than max are in flight.
// p.mu must be held.
func (p *pipeliner) kick(s *Store) {
	if len(p.queue) > 0 && p.inflight < p.max {
		p.inflight++
		go s.flush()
	}
}

// remove takes c out of the queue, and reports whether it was there.
func (p *pipeliner) remove(c *call) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, q := range p.queue {
		if q == c {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			return true
		}
	}
	return false
}

// flush sends the waiting calls, a pipeline at a time, until none wait.
func (s *Store) flush() {
	p := &s.pipe
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.inflight--
			p.mu.Unlock()
			return
		}
		n := min(len(p.queue), maxPipeline)
		batch := append(p.spare[:0], p.queue[:n]...)
		rest := copy(p.queue, p.queue[n:])
		clear(p.queue[rest:])
		p.queue = p.queue[:rest]
		p.spare = nil
		p.mu.Unlock()

		s.sendPipeline(batch)
		for _, c := range batch {
			c.done <- struct{}{}
		}
		clear(batch)
		p.mu.Lock()
		p.spare = batch[:0]
		p.mu.Unlock()
	}
}

// sendPipeline sends batch in one pipeline and sets each call's reply or
// error.
func (s *Store) sendPipeline(batch []*call) {
	deadline := batch[0].deadline
	for _, c := range batch[1:] {
		if c.deadline.Before(deadline) {
			deadline = c.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	s.stats.calls.Add(uint64(len(batch)))
	s.stats.pipelines.Add(1)
	if s.counting != nil {
		for _, c := range batch {
			c.sc = s.counting[c.sc]
			c.argv[1] = c.sc.sha
		}
	}
	pipe := s.client.Pipeline()
	for _, c := range batch {
		c.cmd = goredis.NewCmd(ctx, c.argv...)
		_ = pipe.Process(ctx, noRetry{c.cmd})
	}
	_, _ = pipe.Exec(ctx)
	for _, c := range batch {
		err := c.cmd.Err()
		if err != nil && isNoScript(err) {
			// Redis lost the script (a restart, a failover, SCRIPT
			// FLUSH): send it again, this call on its own.
			s.stats.scriptLoads.Add(1)
			c.argv[0], c.argv[1] = "eval", c.sc.src
			c.written = false
			c.cmd = goredis.NewCmd(ctx, c.argv...)
			err = s.client.Process(ctx, noRetry{c.cmd})
		}
		c.reply, c.err = nil, nil
		switch {
		case err == nil:
			c.reply = s.unwrapCounting(c.cmd.Val())
		case errors.Is(err, goredis.Nil):
		default:
			c.err = s.fail(c.op, err, c.writes && c.written && replyLost(err))
		}
		c.cmd = nil
	}
}
