package redisbench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	redisstore "github.com/frappy-go/apibilling/stores/redis"
	goredis "github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	ulredis "github.com/ulule/limiter/v3/drivers/store/redis"
)

func newClient(b *testing.B) *goredis.Client {
	b.Helper()
	addr := os.Getenv("APIBILLING_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 80})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("APIBILLING_REQUIRE_SERVICES") == "1" {
			b.Fatalf("no Redis at %s: %v", addr, err)
		}
		b.Skipf("\n\n*** SKIPPED: no Redis at %s (%v); set APIBILLING_REDIS_ADDR. ***\n\n", addr, err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

var prefixSeq atomic.Int64

// prefix returns a fresh key prefix whose keys are deleted when b ends.
func prefix(b *testing.B, c *goredis.Client) string {
	p := fmt.Sprintf("apibilling-bench-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), prefixSeq.Add(1))
	b.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		iter := c.Scan(ctx, 0, p+":*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
	})
	return p
}

// charger charges one credit to client i (0 <= i < clients), and reports
// whether it was admitted.
type charger func(ctx context.Context, i int) (bool, error)

// apibilling returns a charger through core.Billing and the Redis store,
// with the given quotas for each client.
func apibilling(b *testing.B, c *goredis.Client, clients int, quotas ...core.Quota) charger {
	s, err := redisstore.New(c, &redisstore.Options{Prefix: prefix(b, c), Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	bill := core.New(s)
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
		if err := bill.SetQuotas(ids[i], quotas...); err != nil {
			b.Fatal(err)
		}
	}
	return func(ctx context.Context, i int) (bool, error) {
		out, err := bill.Track(ctx, ids[i], core.Whole(1))
		return out.Allowed(), err
	}
}

// ulule returns a charger through ulule/limiter's Redis store: one rate,
// one counter per client.
func ulule(b *testing.B, c *goredis.Client, clients int) charger {
	store, err := ulredis.NewStoreWithOptions(c, limiter.StoreOptions{Prefix: prefix(b, c)})
	if err != nil {
		b.Fatal(err)
	}
	lim := limiter.New(store, limiter.Rate{Period: 24 * time.Hour, Limit: 1 << 50})
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
	}
	return func(ctx context.Context, i int) (bool, error) {
		lc, err := lim.Get(ctx, ids[i])
		return !lc.Reached, err
	}
}

// BenchmarkRedis charges one credit per operation from 1, 16 and 64
// goroutines (one client each) through each store, and reports operations
// per second and the 99th percentile latency in microseconds.
//
// apibilling/1quota is the like-for-like case (one limited window, as
// ulule's one rate); apibilling/2quotas charges a day and an unlimited
// month window together, all or nothing, in the same single round trip.
func BenchmarkRedis(b *testing.B) {
	c := newClient(b)
	stores := []struct {
		name string
		open func(b *testing.B, clients int) charger
	}{
		{"apibilling-1quota", func(b *testing.B, n int) charger {
			return apibilling(b, c, n, core.Quota{Period: core.Day, Limit: core.MaxCredits})
		}},
		{"apibilling-2quotas", func(b *testing.B, n int) charger {
			return apibilling(b, c, n, core.Quota{Period: core.Day, Limit: core.MaxCredits},
				core.Quota{Period: core.Month, Limit: core.Unlimited})
		}},
		{"ulule", func(b *testing.B, n int) charger { return ulule(b, c, n) }},
	}
	for _, g := range []int{1, 16, 64} {
		for _, st := range stores {
			b.Run(fmt.Sprintf("goroutines=%d/store=%s", g, st.name), func(b *testing.B) {
				run(b, st.open(b, g), g)
			})
		}
	}
}

// run calls charge b.N times from g goroutines and reports ops/s and p99.
func run(b *testing.B, charge charger, g int) {
	lat := make([]time.Duration, b.N) // one slot per operation, filled once
	var next atomic.Int64
	var failed, refused atomic.Int64
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
				case !ok:
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f, r := failed.Load(), refused.Load(); f > 0 || r > 0 {
		b.Fatalf("%d of %d operations failed and %d were refused; want none", f, b.N, r)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
