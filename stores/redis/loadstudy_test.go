package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	goredis "github.com/redis/go-redis/v9"
)

// The load study measures where a charge's time goes when several
// instances of an API hammer one Redis on a small machine, and how often a
// healthy Redis is nonetheless answered 503 (a timeout), for a few
// settings of the store's timeout, its pipelining and the client's pool.
// It is not a test of the store's behaviour and runs only when asked:
//
//	APIBILLING_REDIS_LOADSTUDY=1 go test -run TestLoadStudy -v -timeout 30m .
//
// It starts 3 processes (the instances) of 22 goroutines each (the
// requests in flight per instance), all charging one Redis for a few
// seconds per setting, and prints per setting: charges per second, the
// share that failed (what an adapter answers 503), latency percentiles,
// the client pool's waits (go-redis PoolStats: how many calls waited for
// a connection, and for how long in all), the pipelines sent, and the
// microseconds Redis spent per script (INFO commandstats, for every client
// of that Redis). APIBILLING_REDIS_LOADSTUDY_SECONDS sets the seconds per
// setting (default 5); APIBILLING_REDIS_LOADSTUDY_ONLY runs only the
// settings whose name contains it.
const (
	studyEnv      = "APIBILLING_REDIS_LOADSTUDY"
	studyChildEnv = "APIBILLING_REDIS_LOADSTUDY_CHILD"
	studyProcs    = 3
	studyWorkers  = 22
)

// studySetting is one setting of the study.
type studySetting struct {
	Name      string
	Timeout   time.Duration
	Pipelines int
	PoolSize  int // 0: go-redis's default, 10 per CPU
}

// studyResult is what one process reports.
type studyResult struct {
	Calls, Failed, Unknown int64
	Latencies              []int64 // microseconds, sorted
	PoolWaits              int64
	PoolWaitNs             int64
	PoolTimeouts           int64
	Conns                  int64
	Pipelines              int64
	FirstErr               string
}

func TestLoadStudy(t *testing.T) {
	if os.Getenv(studyChildEnv) != "" {
		studyChild(t)
		return
	}
	if os.Getenv(studyEnv) == "" {
		t.Skipf("a measurement, not a test: set %s=1 to run it", studyEnv)
	}
	c := newClient(t)
	seconds := 5
	if v, err := strconv.Atoi(os.Getenv("APIBILLING_REDIS_LOADSTUDY_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	settings := []studySetting{
		{"50ms, no pipelining, default pool (the former defaults)", 50 * time.Millisecond, -1, 0},
		{"50ms, no pipelining, pool 22", 50 * time.Millisecond, -1, 22},
		{"50ms, pipelining", 50 * time.Millisecond, DefaultPipelines, 0},
		{"250ms, no pipelining, default pool", 250 * time.Millisecond, -1, 0},
		{"250ms, pipelining", 250 * time.Millisecond, DefaultPipelines, 0},
		{"500ms, pipelining (the defaults)", DefaultTimeout, DefaultPipelines, 0},
		{"1s, pipelining", time.Second, DefaultPipelines, 0},
	}
	only := os.Getenv("APIBILLING_REDIS_LOADSTUDY_ONLY")
	for _, st := range settings {
		if only != "" && !strings.Contains(st.Name, only) {
			continue
		}
		prefix := testPrefix()
		calls0, usec0 := evalshaStats(c)
		results := make(chan studyResult, studyProcs)
		var wg sync.WaitGroup
		arg, _ := json.Marshal(st)
		for range studyProcs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestLoadStudy$", "-test.count=1", "-test.v")
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s", studyChildEnv, prefix, seconds, arg))
				out, err := cmd.CombinedOutput()
				var r studyResult
				_, line, ok := strings.Cut(string(out), "study-result: ")
				if line, _, _ = strings.Cut(line, "\n"); !ok || json.Unmarshal([]byte(line), &r) != nil {
					r.FirstErr = fmt.Sprintf("child: %v: %s", err, out)
				}
				results <- r
			}()
		}
		wg.Wait()
		close(results)
		calls1, usec1 := evalshaStats(c)
		deleteKeys(t, c, prefix)
		var sum studyResult
		for r := range results {
			sum.Calls += r.Calls
			sum.Failed += r.Failed
			sum.Unknown += r.Unknown
			sum.Latencies = append(sum.Latencies, r.Latencies...)
			sum.PoolWaits += r.PoolWaits
			sum.PoolWaitNs += r.PoolWaitNs
			sum.PoolTimeouts += r.PoolTimeouts
			sum.Conns += r.Conns
			sum.Pipelines += r.Pipelines
			if sum.FirstErr == "" {
				sum.FirstErr = r.FirstErr
			}
		}
		slices.Sort(sum.Latencies)
		pct := func(p float64) time.Duration {
			if len(sum.Latencies) == 0 {
				return 0
			}
			return time.Duration(sum.Latencies[min(len(sum.Latencies)-1, int(p*float64(len(sum.Latencies))))]) * time.Microsecond
		}
		var script float64
		if calls1 > calls0 {
			script = (usec1 - usec0) / (calls1 - calls0)
		}
		var wait time.Duration
		if sum.PoolWaits > 0 {
			wait = time.Duration(sum.PoolWaitNs / sum.PoolWaits)
		}
		t.Logf("%s:\n  %d charges/s, %d of %d failed (%.2f%%, %d in doubt); latency p50 %v p99 %v p99.9 %v max %v;\n"+
			"  pool: %d connections, %d waits (%.1f%% of calls, mean %v), %d pool timeouts; %d pipelines (%.1f calls each); Redis %.1f µs per script",
			st.Name, sum.Calls/int64(seconds), sum.Failed, sum.Calls, 100*float64(sum.Failed)/float64(max(sum.Calls, 1)), sum.Unknown,
			pct(0.5), pct(0.99), pct(0.999), pct(1), sum.Conns, sum.PoolWaits, 100*float64(sum.PoolWaits)/float64(max(sum.Calls, 1)), wait,
			sum.PoolTimeouts, sum.Pipelines, float64(sum.Calls)/float64(max(sum.Pipelines, 1)), script)
		if sum.FirstErr != "" {
			t.Logf("  first error: %.300s", sum.FirstErr)
		}
	}
}

// evalshaStats returns Redis's count of EVALSHA calls and the
// microseconds spent in them.
func evalshaStats(c *goredis.Client) (calls, usec float64) {
	info, _ := c.Info(context.Background(), "commandstats").Result()
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

// studyChild is one instance of the study: studyWorkers goroutines charge
// for the given seconds, each its own client with a day and an unlimited
// month quota, and the process prints its result as JSON.
func studyChild(t *testing.T) {
	arg := os.Getenv(studyChildEnv)
	prefix, rest, _ := strings.Cut(arg, " ")
	secText, setting, _ := strings.Cut(rest, " ")
	seconds, _ := strconv.Atoi(secText)
	var st studySetting
	if err := json.Unmarshal([]byte(setting), &st); err != nil {
		t.Fatal(err)
	}
	needRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr(), ContextTimeoutEnabled: true, PoolSize: st.PoolSize})
	defer rdb.Close()
	s, err := New(rdb, &Options{Prefix: prefix, Timeout: st.Timeout, Pipelines: st.Pipelines})
	if err != nil {
		t.Fatal(err)
	}
	b := core.New(s)
	type tally struct {
		calls, failed, unknown int64
		lat                    []int64
		firstErr               error
	}
	tallies := make(chan tally, studyWorkers)
	stop := time.Now().Add(time.Duration(seconds) * time.Second)
	for w := range studyWorkers {
		client := fmt.Sprintf("client-%d-%d", os.Getpid(), w)
		if err := b.SetQuotas(client, core.Quota{Period: core.Day, Limit: core.MaxCredits}, core.Quota{Period: core.Month, Limit: core.Unlimited}); err != nil {
			t.Fatal(err)
		}
		go func() {
			var n tally
			for time.Now().Before(stop) {
				t0 := time.Now()
				_, err := b.Charge(context.Background(), core.Charge{Client: client, Cost: core.Whole(1), Label: "/api/fetch-data"})
				n.lat = append(n.lat, time.Since(t0).Microseconds())
				n.calls++
				if err != nil {
					n.failed++
					if errors.Is(err, core.ErrOutcomeUnknown) {
						n.unknown++
					}
					if n.firstErr == nil {
						n.firstErr = err
					}
				}
			}
			tallies <- n
		}()
	}
	var r studyResult
	for range studyWorkers {
		n := <-tallies
		r.Calls += n.calls
		r.Failed += n.failed
		r.Unknown += n.unknown
		r.Latencies = append(r.Latencies, n.lat...)
		if r.FirstErr == "" && n.firstErr != nil {
			r.FirstErr = n.firstErr.Error()
		}
	}
	ps := rdb.PoolStats()
	r.PoolWaits, r.PoolWaitNs, r.PoolTimeouts, r.Conns = int64(ps.WaitCount), ps.WaitDurationNs, int64(ps.Timeouts), int64(ps.TotalConns)
	r.Pipelines = int64(s.Stats().Pipelines)
	out, _ := json.Marshal(r)
	fmt.Printf("study-result: %s\n", out)
}
