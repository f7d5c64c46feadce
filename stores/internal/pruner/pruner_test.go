package pruner

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRun: a kick runs a pass at once, a failing pass's error is kept
// until a pass succeeds, and Stop cancels the pass in progress and returns
// once the goroutine has ended.
func TestRun(t *testing.T) {
	p := New()
	passes := make(chan chan error)
	p.Start(time.Hour, func(ctx context.Context) error {
		reply := make(chan error)
		passes <- reply
		select {
		case err := <-reply:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	cause := errors.New("prune failed")
	p.Kick()
	(<-passes) <- cause
	p.Kick()
	reply := <-passes // the second pass has started: the first has returned
	if err := p.Err(); !errors.Is(err, cause) {
		t.Errorf("Err after a failed pass = %v, want %v", err, cause)
	}
	reply <- nil
	p.Kick()
	reply = <-passes
	if err := p.Err(); err != nil {
		t.Errorf("Err after a pass that succeeded = %v, want nil", err)
	}
	p.Stop() // the pass in progress is cancelled: its error is not kept
	if err := p.Err(); err != nil {
		t.Errorf("Err after a cancelled pass = %v, want nil", err)
	}
	p.Kick() // does not block once stopped
}

// TestStopUnstarted: Stop of a Pruner that never started returns at once.
func TestStopUnstarted(t *testing.T) {
	New().Stop()
}
