package redis

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/faultproxy"
)

// TestPipelining charges 64 clients from 64 goroutines at once, so that
// calls queue behind the pipelines in flight and go out together.
// Invariants: every call is answered with its own result (each client's
// windows end at exactly the credits it was admitted, and each admitted
// call saw a distinct usage), calls did share pipelines, and the store
// leaves no goroutine behind once idle.
func TestPipelining(t *testing.T) {
	s := newStore(t, newClient(t), &Options{Pipelines: 2})
	base := future()
	const goroutines, calls = 64, 40
	before := runtime.NumGoroutine()
	type report struct {
		client string
		used   []int64
		err    error
	}
	reports := make(chan report, goroutines)
	start := make(chan struct{})
	for g := range goroutines {
		go func() {
			r := report{client: fmt.Sprint("p", g)}
			w := core.Window{Period: core.Day, Start: base, End: base + day, Limit: int64(calls/2) * credit}
			<-start
			for range calls {
				res, err := s.Deduct(context.Background(), mkop(r.client, "/x", credit, hourAt(base), w))
				if err != nil {
					r.err = err
					break
				}
				if res.OK {
					r.used = append(r.used, res.Used[0])
				}
			}
			reports <- r
		}()
	}
	close(start)
	for range goroutines {
		r := <-reports
		if r.err != nil {
			t.Fatalf("%s: %v", r.client, r.err)
		}
		if len(r.used) != calls/2 {
			t.Errorf("%s: %d charges admitted, want %d", r.client, len(r.used), calls/2)
		}
		for i, u := range r.used {
			if u != int64(i+1)*credit {
				t.Errorf("%s: admitted charge %d saw usage %d, want %d", r.client, i, u, int64(i+1)*credit)
				break
			}
		}
		w := core.Window{Period: core.Day, Start: base, End: base + day, Limit: -1}
		if got := used(t, s, r.client, w); got[0] != int64(calls/2)*credit {
			t.Errorf("%s: usage %d, want %d", r.client, got[0], int64(calls/2)*credit)
		}
	}
	st := s.Stats()
	t.Logf("%d calls in %d pipelines", st.Calls, st.Pipelines)
	if st.Pipelines == 0 {
		t.Errorf("no call went out in a pipeline")
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 500 {
			t.Fatalf("%d goroutines after the calls, want at most %d", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPipelineQueue checks the calls that wait for a pipeline while one
// is in flight (Pipelines: 1) on a slow Redis: a call whose caller gives up
// while it waits is answered at once, with its context's error and not
// ErrOutcomeUnknown, and never reaches Redis; the calls that were sent
// are charged once each.
func TestPipelineQueue(t *testing.T) {
	direct := newClient(t)
	quietRedisLog()
	p := faultproxy.Start(t, redisAddr(), 200*time.Millisecond)
	prefix := testPrefix()
	s, err := New(failureClient(t, p.Addr()), &Options{Prefix: prefix, Timeout: 5 * time.Second, Pipelines: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteKeys(t, direct, prefix) })
	base := future()
	w := core.Window{Period: core.Day, Start: base, End: base + day, Limit: -1}
	charge := func(ctx context.Context) error {
		_, err := s.Deduct(ctx, mkop("c", "", credit, hourAt(base), w))
		return err
	}
	if err := faultproxy.RetryN(retryTries, func() error { return charge(t.Context()) }); err != nil {
		t.Fatal(err)
	}
	p.SetMode(faultproxy.Slow)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(1)
	go func() { defer wg.Done(); errs <- charge(context.Background()) }() // in flight for 200 ms
	inflight := func() int {
		s.pipe.mu.Lock()
		defer s.pipe.mu.Unlock()
		return s.pipe.inflight
	}
	for i := 0; inflight() == 0; i++ {
		if i == 500 {
			t.Fatal("the first call never went out")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() { queued <- charge(ctx) }()
	for i := 0; ; i++ {
		s.pipe.mu.Lock()
		n := len(s.pipe.queue)
		s.pipe.mu.Unlock()
		if n == 1 {
			break
		}
		if i == 500 {
			t.Fatal("the second call never queued")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	err = <-queued
	if !errors.Is(err, context.Canceled) || !errors.Is(err, core.ErrStoreUnavailable) || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("a queued call whose caller gave up: %v, want context.Canceled and ErrStoreUnavailable, not ErrOutcomeUnknown", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); errs <- charge(context.Background()) }() // queued, then sent
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a call on the slow Redis: %v", err)
		}
	}
	p.SetMode(faultproxy.Pass)
	if got := used(t, s, "c", w); got[0] != 3*credit {
		t.Errorf("usage = %d, want %d: the first charge and the two sent ones", got[0], 3*credit)
	}
}
