package redis

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// BenchmarkDeduct charges 1 credit through core.Billing to a client with a
// day and an unlimited month quota, from 1, 16 and 64 goroutines (one
// client each), with the default pipelining and without it, and reports
// deductions per second. The comparison with ulule/limiter's Redis store
// lives in the bench module (bench/redisbench).
func BenchmarkDeduct(b *testing.B) {
	c := newClient(b)
	for _, pipelines := range []int{DefaultPipelines, -1} {
		for _, g := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("pipelines=%d/goroutines=%d", pipelines, g), func(b *testing.B) {
				s := newStore(b, c, &Options{Timeout: 5 * time.Second, Pipelines: pipelines})
				bill := core.New(s)
				clients := make([]string, g)
				for i := range clients {
					clients[i] = "client-" + strconv.Itoa(i)
					if err := bill.SetQuotas(clients[i],
						core.Quota{Period: core.Day, Limit: core.MaxCredits},
						core.Quota{Period: core.Month, Limit: core.Unlimited},
					); err != nil {
						b.Fatal(err)
					}
				}
				var next, failed atomic.Int64
				var wg sync.WaitGroup
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for i := range g {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							if _, err := bill.Track(b.Context(), clients[i], core.Whole(1)); err != nil {
								failed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d of %d deductions failed", n, b.N)
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deductions/s")
			})
		}
	}
}
