package faultproxy

import (
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Client is the client the failure tests charge.
const Client = "client"

// Billing returns a billing on s whose Client has room for every call the
// failure tests make: a million credits an hour, an unlimited day.
func Billing(t testing.TB, s core.Store) *core.Billing {
	t.Helper()
	b := core.New(s)
	if err := b.SetQuotas(Client,
		core.Quota{Period: core.Hour, Limit: core.Whole(1_000_000)},
		core.Quota{Period: core.Day, Limit: core.Unlimited},
	); err != nil {
		t.Fatal(err)
	}
	return b
}

// Run charges Client one credit from goroutines goroutines, calls times in
// all, calling before (if not nil) with each call's index before the call,
// and returns each call's error, and the durations sorted.
func Run(b *core.Billing, goroutines, calls int, before func(i int)) (errs []error, took []time.Duration) {
	type report struct {
		err  error
		took time.Duration
	}
	reports := make(chan report, calls)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= calls {
					return
				}
				if before != nil {
					before(i)
				}
				start := time.Now()
				_, err := b.Track(context.Background(), Client, core.Whole(1))
				reports <- report{err, time.Since(start)}
			}
		}()
	}
	wg.Wait()
	close(reports)
	for r := range reports {
		errs = append(errs, r.err)
		took = append(took, r.took)
	}
	slices.Sort(took)
	return errs, took
}

// Others returns how many goroutines the process runs that are not the
// proxy's.
func (p *Proxy) Others() int64 {
	return int64(runtime.NumGoroutine()) - p.Goroutines()
}

// WaitGoroutines waits, up to tries times 10 ms, for the goroutines that
// are not the proxy's to come down to allowed(), and fails with their
// stacks if they do not.
func (p *Proxy) WaitGoroutines(t testing.TB, tries int, allowed func() int64) {
	t.Helper()
	var n, want int64
	for range tries {
		want = allowed()
		if n = p.Others(); n <= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	var stacks bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&stacks, 1)
	t.Errorf("%d goroutines after the failures, want at most %d as before them; stacks:\n%s", n, want, stacks.String())
}

// Retry calls f up to 100 times, a tenth of a second apart, until it
// succeeds, and returns its last error: for a call that must succeed once
// the server is reachable, through a client that may take a while to find
// out that it is.
func Retry(f func() error) error { return RetryN(100, f) }

// RetryN is Retry with up to tries calls instead of 100.
func RetryN(tries int, f func() error) (err error) {
	for range tries {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
