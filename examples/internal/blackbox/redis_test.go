package blackbox

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The Redis test uses the server at APIBILLING_REDIS_ADDR (default
// 127.0.0.1:6379). Without one it skips, unless APIBILLING_REQUIRE_SERVICES=1
// makes it fail, as in the Redis store's own tests.
const (
	redisAddrEnv    = "APIBILLING_REDIS_ADDR"
	requireRedisEnv = "APIBILLING_REQUIRE_SERVICES"
)

// TestExamplesShareRedis runs the four applications at once with -redis on
// one Redis and one clients file: they are four instances of one API, so
// a client's credits are shared, exactly, whichever instance serves it.
func TestExamplesShareRedis(t *testing.T) {
	addr := os.Getenv(redisAddrEnv)
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rc := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { rc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Ping(ctx).Err(); err != nil {
		if os.Getenv(requireRedisEnv) == "1" {
			t.Fatalf("no Redis at %s (%v), and %s=1 requires one", addr, err, requireRedisEnv)
		}
		t.Skipf("\n\n*** SKIPPED: no Redis at %s (%v).\n*** Start one or set %s; %s=1 fails instead of skipping. ***\n\n", addr, err, redisAddrEnv, requireRedisEnv)
	}

	// A client ID of this run only, whose keys are deleted at the end.
	id := fmt.Sprintf("blackbox-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rc.Scan(ctx, 0, "*{"+id+"}*", 100).Iterator()
		for iter.Next(ctx) {
			rc.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("deleting the test's keys: %v", err)
		}
	})
	dir := t.TempDir()
	clients := filepath.Join(dir, "clients.json")
	file := `{"clients":[{"id":"` + id + `","keys":["shared-key"],"quotas":[` +
		`{"period":"minute","limit":6},{"period":"day","limit":100,"start":"2022-01-01T00:00:00+01:00","tz":"Europe/Berlin"}]}]}`
	if err := os.WriteFile(clients, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}

	bins := buildApps(t)
	procs := make([]*process, len(bins))
	cs := make([]*client, len(bins))
	for i, bin := range bins {
		// Each gets a -db that is never opened: with -redis, usage is in Redis.
		procs[i] = start(t, bin, "-addr", "127.0.0.1:0", "-redis", addr, "-clients", clients, "-db", filepath.Join(dir, apps[i]+".db"))
		cs[i] = &client{t: t, base: "http://" + procs[i].addr(t), http: &http.Client{Timeout: 10 * time.Second}}
		defer cs[i].http.CloseIdleConnections()
	}
	for i, p := range procs {
		if line := p.stdout.String(); !strings.Contains(line, "usage in redis "+addr) {
			t.Errorf("%s: start-up line %q does not name Redis", apps[i], line)
		}
	}
	key := auth{"X-API-Key", "shared-key"}
	periods, limits := []string{"minute", "day"}, []string{"6", "100"}

	// Start at least 10 s before the minute renews, so that every charge
	// falls in one minute window.
	q, _ := cs[0].quota(key, id, periods, limits)
	if left := time.Until(resetsAt(t, q, "minute")); left < 10*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
	q, _ = cs[0].quota(key, id, periods, limits)
	minute := resetsAt(t, q, "minute")
	if got := used(t, q, "minute"); got != "0" {
		t.Fatalf("a fresh client used %s", got)
	}
	if ws := q.Quotas[1].WindowStart; !strings.HasSuffix(ws, "T00:00:00+01:00") && !strings.HasSuffix(ws, "T00:00:00+02:00") {
		t.Errorf("day window starts %s, want midnight in Berlin", ws)
	}

	// Six credits a minute, charged round robin across the four
	// instances: each sees what the others charged.
	for i := range 6 {
		c := cs[i%len(cs)]
		r := c.get("/api/fetch-data", key)
		c.expect(fmt.Sprintf("charge %d on %s", i+1, apps[i%len(cs)]), r, 200, "application/json", fetchDataBody)
		if got, want := r.header.Get("X-RateLimit-Remaining"), fmt.Sprint(5-i); got != want {
			t.Errorf("charge %d on %s: X-RateLimit-Remaining %s, want %s", i+1, apps[i%len(cs)], got, want)
		}
	}
	for i, c := range cs {
		r := c.get("/api/fetch-data", key)
		c.expect("over the shared quota on "+apps[i], r, 429, "application/problem+json", "")
		q, _ := c.quota(key, id, periods, limits)
		if time.Now().Before(minute) {
			if got := used(t, q, "minute"); got != "6" {
				t.Errorf("%s: minute used %s, want 6", apps[i], got)
			}
		}
		if got := used(t, q, "day"); got != "6" {
			t.Errorf("%s: day used %s, want 6", apps[i], got)
		}
	}

	// Stopped and restarted, an instance finds the usage in Redis.
	for i, p := range procs {
		if code := p.stop(t); code != 0 {
			t.Errorf("%s: exit code %d after SIGTERM; stderr: %s", apps[i], code, p.stderr.String())
		}
	}
	p := start(t, bins[0], "-addr", "127.0.0.1:0", "-redis", addr, "-clients", clients)
	cs[0].http.CloseIdleConnections()
	cs[0].base = "http://" + p.addr(t)
	q, _ = cs[0].quota(key, id, periods, limits)
	if got := used(t, q, "day"); got != "6" {
		t.Errorf("after a restart: day used %s, want 6", got)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM; stderr: %s", code, p.stderr.String())
	}

	// A wrong address fails at start-up, within the dial timeout.
	bad := start(t, bins[0], "-addr", "127.0.0.1:0", "-redis", "127.0.0.1:1")
	if code := bad.wait(t); code != 1 {
		t.Errorf("with an unreachable Redis: exit code %d, want 1", code)
	}
	if msg := bad.stderr.String(); !strings.Contains(strings.ToLower(msg), "redis at 127.0.0.1:1 does not answer") {
		t.Errorf("with an unreachable Redis: stderr %q", msg)
	}
}
