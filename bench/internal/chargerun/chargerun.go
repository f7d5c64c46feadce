// Package chargerun runs the store benchmarks' charges (mongobench,
// sqlbench, redisbench): b.N charges from a number of goroutines, each
// timed, and reports the operations per second and the 99th percentile
// latency.
//
//	r := chargerun.Run(b, g, func(ctx context.Context, i int) (bool, error) { ... })
//	r.Check(b)  // fails the benchmark if a charge failed or was refused
//	r.Report(b) // ops/s and p99-µs
package chargerun

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Result is what Run measured.
type Result struct {
	N        int             // charges made: b.N
	Elapsed  time.Duration   // from the first charge to the end of the last
	Latency  []time.Duration // each charge's, sorted
	Failed   int64           // charges that returned an error
	Refused  int64           // charges that returned false
	FirstErr error           // the first error, if one failed
}

// Run calls charge b.N times from g goroutines, goroutine i passing i, and
// times each call. It resets the benchmark timer (reporting allocations)
// before the first call and stops it after the last.
func Run(b *testing.B, g int, charge func(ctx context.Context, i int) (bool, error)) Result {
	lat := make([]time.Duration, b.N) // one slot per operation, filled once
	var next atomic.Int64
	var failed, refused atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range g {
		wg.Go(func() {
			ctx := context.Background()
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				t0 := time.Now()
				ok, err := charge(ctx, i)
				lat[n] = time.Since(t0)
				switch {
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				case !ok:
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	r := Result{N: b.N, Elapsed: elapsed, Latency: lat, Failed: failed.Load(), Refused: refused.Load()}
	if p := firstErr.Load(); p != nil {
		r.FirstErr = *p
	}
	return r
}

// Check fails the benchmark if a charge failed or was refused.
func (r Result) Check(b *testing.B) {
	b.Helper()
	if r.Failed > 0 || r.Refused > 0 {
		b.Fatalf("%d of %d operations failed (first: %v) and %d were refused; want none", r.Failed, r.N, r.FirstErr, r.Refused)
	}
}

// Report reports the charges per second (ops/s) and the 99th percentile
// latency in microseconds (p99-µs).
func (r Result) Report(b *testing.B) {
	b.ReportMetric(float64(r.N)/r.Elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(r.Latency[len(r.Latency)*99/100].Microseconds()), "p99-µs")
}
