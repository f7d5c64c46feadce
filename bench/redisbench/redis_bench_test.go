package redisbench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/bench/internal/chargerun"
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
	pipelines, _ := strconv.Atoi(os.Getenv("APIBILLING_REDIS_PIPELINES"))
	s, err := redisstore.New(c, &redisstore.Options{Prefix: prefix(b, c), Timeout: 5 * time.Second, Pipelines: pipelines})
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
// per second, the 99th percentile latency in microseconds and the Redis
// time per script call.
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
				run(b, c, st.open(b, g), g)
			})
		}
	}
}

// scriptStats returns the calls of EVALSHA that Redis has counted and the
// microseconds it spent in them (INFO commandstats), or zeros if Redis does
// not say.
func scriptStats(c *goredis.Client) (calls, usec float64) {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				calls, _ = strconv.ParseFloat(v, 64)
			case "usec":
				usec, _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return calls, usec
}

// redisCPU returns the CPU time Redis has used, in seconds (INFO cpu:
// user and system time of all its threads).
func redisCPU(c *goredis.Client) float64 {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var sum float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			sum += f
		}
	}
	return sum
}

// processCPU returns the CPU time this process has used, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// run calls charge b.N times from g goroutines and reports ops/s, p99,
// the microseconds Redis spent per script call (from INFO commandstats),
// and the CPU time per operation of Redis (INFO cpu, all its threads,
// network included) and of this process. Other clients of the same Redis
// running at the same time would count in Redis's figures too.
func run(b *testing.B, c *goredis.Client, charge charger, g int) {
	calls0, usec0 := scriptStats(c)
	rcpu0, pcpu0 := redisCPU(c), processCPU()
	r := chargerun.Run(b, g, charge)
	rcpu1, pcpu1 := redisCPU(c), processCPU()
	calls1, usec1 := scriptStats(c)
	if calls1 > calls0 {
		b.ReportMetric((usec1-usec0)/(calls1-calls0), "redis-µs/op")
	}
	b.ReportMetric((rcpu1-rcpu0)*1e6/float64(b.N), "redis-cpu-µs/op")
	b.ReportMetric((pcpu1-pcpu0)*1e6/float64(b.N), "client-cpu-µs/op")
	r.Check(b)
	r.Report(b)
}
