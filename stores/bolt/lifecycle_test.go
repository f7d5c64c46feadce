package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// TestWithdrawnOnCancel holds bbolt's write lock so that the committer
// stalls with one deduction taken, queues a second deduction and cancels
// its context: the second is withdrawn and never charged, the first waits
// for its commit and is charged.
func TestWithdrawnOnCancel(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "usage.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	op := func(client string) core.Op {
		return core.Op{Client: client, Cost: core.Credit, N: 1, List: [core.MaxQuotas]core.Window{{Period: core.Day, End: 1, Limit: core.Unlimited}}}
	}
	hold, err := db.Begin(true) // the committer's Begin waits for this
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := s.Deduct(context.Background(), op("first"))
		first <- err
	}()
	// Wait until the committer has taken the first deduction.
	waitFor(t, "the first batch", func() bool { return s.batches.Load() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := s.Deduct(ctx, op("second"))
		second <- err
	}()
	waitFor(t, "the second deduction queued", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.queue) == 1
	})
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("second deduction: err = %v, want context.Canceled", err)
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Errorf("first deduction: %v", err)
	}
	for _, c := range []struct {
		client string
		want   core.Credits
	}{{"first", core.Credit}, {"second", 0}} {
		res, err := s.Usage(context.Background(), op(c.client))
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Used[0]; got != c.want {
			t.Errorf("%s: used %v, want %v", c.client, got, c.want)
		}
	}
}

// TestCloseUnderLoad closes the store while goroutines deduct. Every
// deduction either succeeds or fails with ErrClosed, and after reopening
// the file holds exactly the ones that succeeded: Close finishes the
// pending work and loses nothing.
func TestCloseUnderLoad(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s, path := openTest(t, m.opts)
			op := core.Op{Client: "c", Cost: core.Credit, N: 1, List: [core.MaxQuotas]core.Window{{Period: core.Day, End: 1, Limit: core.Unlimited}}}
			const goroutines = 16
			oks := make(chan int, goroutines)
			errs := make(chan error, goroutines)
			var wg sync.WaitGroup
			var started sync.WaitGroup
			started.Add(goroutines)
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					once := sync.OnceFunc(started.Done)
					defer once()
					n := 0
					for i := range 100_000 {
						if i == 1 {
							once()
						}
						_, err := s.Deduct(context.Background(), op)
						if errors.Is(err, core.ErrClosed) {
							break
						}
						if err != nil {
							errs <- err
							break
						}
						n++
					}
					oks <- n
				}()
			}
			started.Wait() // every goroutine has made a deduction
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			close(oks)
			close(errs)
			for err := range errs {
				t.Errorf("Deduct: %v", err)
			}
			var total core.Credits
			for n := range oks {
				total += core.Credits(n) * core.Credit
			}
			s2, err := Open(path, m.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			res, err := s2.Usage(context.Background(), op)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.Used[0], total; got != want {
				t.Errorf("after Close and Open: used %v, want the %v acknowledged", got, want)
			}
		})
	}
}

// waitFor yields until cond holds, and fails the test if it does not after
// a bounded number of tries.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 10_000_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("gave up waiting for %s", what)
}
