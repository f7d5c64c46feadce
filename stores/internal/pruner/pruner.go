// Package pruner runs a store's pruning of old usage and expired keys in a
// goroutine of its own: every interval, and at once when the store asks
// (after many keyed deductions, say), never two passes at a time. The SQL
// stores share it.
package pruner

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Pruner runs the passes and keeps the last one's error. The zero value
// is not usable: call New.
type Pruner struct {
	kick chan struct{}
	stop chan struct{}
	done sync.WaitGroup
	err  atomic.Pointer[error]
}

// New returns a Pruner that has not started.
func New() *Pruner { return &Pruner{kick: make(chan struct{}, 1), stop: make(chan struct{})} }

// Kick asks for a pass now, unless one is asked for already. It never
// blocks, and does nothing when the Pruner is not running.
func (p *Pruner) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Start calls prune in a goroutine of its own every interval and when
// kicked, until Stop; the context it passes is cancelled then. An error
// other than the cancellation is kept for Err until a pass succeeds.
// Start is called at most once.
func (p *Pruner) Start(interval time.Duration, prune func(context.Context) error) {
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		p.run(interval, prune)
	}()
}

// Stop cancels the pass in progress, if any, and returns once the
// goroutine has ended (at once if Start was never called). It is called
// at most once.
func (p *Pruner) Stop() {
	close(p.stop)
	p.done.Wait()
}

func (p *Pruner) run(interval time.Duration, prune func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.stop
		cancel()
	}()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.kick:
		}
		if err := prune(ctx); err != nil && !errors.Is(err, context.Canceled) {
			p.err.Store(&err)
		} else {
			p.err.Store(nil)
		}
	}
}

// Err returns the error of the last pass, or nil if it succeeded (or none
// ran yet).
func (p *Pruner) Err() error {
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}
