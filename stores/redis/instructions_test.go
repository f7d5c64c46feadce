package redis

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	goredis "github.com/redis/go-redis/v9"
)

// TestRedisInstructions counts the instructions Redis runs per call, with
// callgrind: repeatable where wall-clock time on a shared machine is not.
// It needs a Redis of its own running under callgrind, and runs only when
// told where:
//
//	valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//		redis-server --port 6390 --save '' --appendonly no &
//	APIBILLING_REDIS_CALLGRIND=$!:127.0.0.1:6390:/tmp/cg.out \
//		go test -run TestRedisInstructions -v ./stores/redis
//	kill %1
//
// It reports the instructions per deduction of the store's common charge
// with one and two windows, of ulule/limiter's script (INCRBY and PEXPIRE
// or PTTL) and of an empty script with the store's arguments, and per
// deduction from 64 goroutines with and without pipelining.
func TestRedisInstructions(t *testing.T) {
	spec := os.Getenv("APIBILLING_REDIS_CALLGRIND")
	if spec == "" {
		t.Skip("a measurement, not a test: set APIBILLING_REDIS_CALLGRIND=pid:host:port:out-file (see the comment)")
	}
	pid, rest, _ := strings.Cut(spec, ":")
	i := strings.LastIndexByte(rest, ':')
	addr, out := rest[:i], rest[i+1:]
	c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 80})
	defer c.Close()
	total := func() float64 { return callgrindTotal(t, pid, out) }
	base := future()
	day2 := []core.Window{
		{Period: core.Day, Start: base, End: base + day, Limit: core.MaxCredits.Micro()},
		{Period: core.Month, Start: base, End: base + 31*day, Limit: -1},
	}
	measure := func(name string, call func()) {
		for range 200 {
			call()
		}
		total()
		const n = 2000
		for range n {
			call()
		}
		t.Logf("%-46s %7.0f instructions per call", name, total()/n)
	}
	s, err := New(c, &Options{Prefix: testPrefix(), Timeout: time.Minute, Pipelines: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ws := range [][]core.Window{day2[:1], day2} {
		measure(fmt.Sprintf("apibilling, %d window(s)", len(ws)), func() {
			if _, err := s.Deduct(t.Context(), mkop(fmt.Sprint("c", len(ws)), "/x", credit, hourAt(base), ws...)); err != nil {
				t.Fatal(err)
			}
		})
	}
	empty := newScriptFrom("empty", "return 1")
	measure("an empty script, the store's arguments", func() {
		cl := getCall()
		defer putCall(cl)
		if err := s.deductArgs(cl, mkop("c2", "/x", credit, hourAt(base), day2...), 0); err != nil {
			t.Fatal(err)
		}
		cl.argv[1] = empty.sha
		if _, err := s.eval(t.Context(), "empty", empty, cl, true, time.Minute); err != nil {
			t.Fatal(err)
		}
	})
	ulule := newScriptFrom("ulule", `
local key = KEYS[1]
local count = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local ret = redis.call("incrby", key, ARGV[1])
if ret == count then
	if ttl > 0 then
		redis.call("pexpire", key, ARGV[2])
	end
	return {ret, ttl}
end
ttl = redis.call("pttl", key)
return {ret, ttl}
`)
	sha, err := c.ScriptLoad(t.Context(), ulule.src).Result()
	if err != nil {
		t.Fatal(err)
	}
	key := s.Prefix() + ":ulule:client-1"
	measure("ulule/limiter's script", func() {
		if err := c.EvalSha(t.Context(), sha, []string{key}, 1, int64(86400000)).Err(); err != nil {
			t.Fatal(err)
		}
	})
	for _, pl := range []int{-1, DefaultPipelines} {
		sp, err := New(c, &Options{Prefix: s.Prefix(), Timeout: time.Minute, Pipelines: pl})
		if err != nil {
			t.Fatal(err)
		}
		run := func(k int) {
			var wg sync.WaitGroup
			for g := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range k / 64 {
						if _, err := sp.Deduct(context.Background(), mkop(fmt.Sprint("g", g), "/x", credit, hourAt(base), day2...)); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		}
		run(640)
		total()
		run(6400)
		t.Logf("%-46s %7.0f instructions per call (%d pipelines)", fmt.Sprintf("apibilling, 2 windows, 64 goroutines, Pipelines %d", pl),
			total()/6400, sp.Stats().Pipelines)
	}
	deleteKeys(t, c, s.Prefix())
}

// callgrindTotal dumps callgrind's counters of pid, zeroes them, and
// returns the instructions counted since the last zeroing.
func callgrindTotal(t *testing.T, pid, out string) float64 {
	t.Helper()
	if b, err := exec.Command("callgrind_control", "-d", pid).CombinedOutput(); err != nil {
		t.Fatalf("callgrind_control -d: %v: %s", err, b)
	}
	files, _ := filepath.Glob(out + ".*")
	slices.SortFunc(files, func(a, b string) int {
		x, _ := os.Stat(a)
		y, _ := os.Stat(b)
		return x.ModTime().Compare(y.ModTime())
	})
	if len(files) == 0 {
		t.Fatalf("no callgrind dump at %s.*", out)
	}
	data, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("callgrind_control", "-z", pid).CombinedOutput(); err != nil {
		t.Fatalf("callgrind_control -z: %v: %s", err, b)
	}
	for _, line := range strings.Split(string(data), "\n") {
		for _, p := range []string{"summary: ", "totals: "} {
			if v, ok := strings.CutPrefix(line, p); ok {
				f, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				return f
			}
		}
	}
	t.Fatal("no totals in the callgrind dump")
	return 0
}
