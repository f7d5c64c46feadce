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

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/storeurl"
)

// requireEnv set to 1 makes a test fail instead of skipping when its server
// is not there, as in the stores' own tests.
const requireEnv = "APIBILLING_REQUIRE_SERVICES"

// sharedStore is a store that several instances of an app share, as its
// flag names it.
type sharedStore struct {
	name     string // also the flag: -redis, -postgres, -mysql, -mongo
	env, def string // the variable that gives the server, and the default
	url      func(v string) string
	where    func(v string) string // what the start-up line says after "usage in "
	bad      string                // a server that does not answer
	badMsg   string                // what the error then says, lower-cased (optional)
}

var sharedStores = []sharedStore{
	{name: "redis", env: "APIBILLING_REDIS_ADDR", def: "127.0.0.1:6379",
		url: func(v string) string { return "redis://" + v }, where: func(v string) string { return "redis " + v },
		bad: "127.0.0.1:1", badMsg: "redis at 127.0.0.1:1 does not answer"},
	{name: "postgres", env: "APIBILLING_POSTGRES_URL", def: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		url: func(v string) string { return v }, where: func(string) string { return "postgres" },
		bad: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"},
	{name: "mysql", env: "APIBILLING_MYSQL_DSN", def: "root@tcp(127.0.0.1:3306)/test",
		url: func(v string) string { return "mysql://" + v }, where: func(string) string { return "mysql" },
		bad: "root@tcp(127.0.0.1:1)/test?timeout=2s"},
	{name: "mongo", env: "APIBILLING_MONGO_URI", def: "mongodb://127.0.0.1:27017",
		url: func(v string) string { return v }, where: func(string) string { return "mongodb" },
		bad: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=2000&connectTimeoutMS=2000"},
}

// TestExamplesShareAStore runs the four applications at once on one shared
// store (Redis, PostgreSQL, MySQL or MariaDB, MongoDB or FerretDB) and one
// clients file: they are four instances of one API, so a client's credits
// are shared, exactly, whichever instance serves it; restarted, an instance
// finds the usage; a server that does not answer fails the start-up.
func TestExamplesShareAStore(t *testing.T) {
	for _, st := range sharedStores {
		t.Run(st.name, func(t *testing.T) { testSharedStore(t, st) })
	}
}

func testSharedStore(t *testing.T, st sharedStore) {
	v := os.Getenv(st.env)
	if v == "" {
		v = st.def
	}
	// A client ID of this run only, whose usage is deleted at the end.
	id := fmt.Sprintf("blackbox-%d-%d", os.Getpid(), time.Now().UnixNano())
	file := `{"clients":[{"id":"` + id + `","keys":["shared-key"],"quotas":[` +
		`{"period":"minute","limit":6},{"period":"day","limit":100,"start":"2022-01-01T00:00:00+01:00","tz":"Europe/Berlin"}]}]}`
	cleanUp(t, st, st.url(v), file, id)

	dir := t.TempDir()
	clients := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(clients, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	flag := "-" + st.name
	bins := buildApps(t)
	procs := make([]*process, len(bins))
	cs := make([]*client, len(bins))
	for i, bin := range bins {
		// Each gets a -db that is never opened: the usage is in the shared store.
		procs[i] = start(t, bin, "-addr", "127.0.0.1:0", flag, v, "-clients", clients, "-db", filepath.Join(dir, apps[i]+".db"))
		cs[i] = &client{t: t, base: "http://" + procs[i].addr(t), http: &http.Client{Timeout: 10 * time.Second}}
		defer cs[i].http.CloseIdleConnections()
	}
	for i, p := range procs {
		if line := p.stdout.String(); !strings.Contains(line, "usage in "+st.where(v)+";") {
			t.Errorf("%s: start-up line %q does not name %s", apps[i], line, st.where(v))
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

	// Stopped and restarted, an instance finds the usage in the store.
	for i, p := range procs {
		if code := p.stop(t); code != 0 {
			t.Errorf("%s: exit code %d after SIGTERM; stderr: %s", apps[i], code, p.stderr.String())
		}
	}
	p := start(t, bins[0], "-addr", "127.0.0.1:0", flag, v, "-clients", clients)
	cs[0].http.CloseIdleConnections()
	cs[0].base = "http://" + p.addr(t)
	q, _ = cs[0].quota(key, id, periods, limits)
	if got := used(t, q, "day"); got != "6" {
		t.Errorf("after a restart: day used %s, want 6", got)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM; stderr: %s", code, p.stderr.String())
	}

	// A server that does not answer fails the start-up.
	bad := start(t, bins[0], "-addr", "127.0.0.1:0", flag, st.bad)
	if code := bad.wait(t); code != 1 {
		t.Errorf("with an unreachable server: exit code %d, want 1; stderr: %s", code, bad.stderr.String())
	}
	if msg := bad.stderr.String(); st.badMsg != "" && !strings.Contains(strings.ToLower(msg), st.badMsg) {
		t.Errorf("with an unreachable server: stderr %q, want %q", msg, st.badMsg)
	}
}

// cleanUp opens the shared store, skipping the test (or failing it, with
// APIBILLING_REQUIRE_SERVICES=1) when its server does not answer, and deletes
// the usage of the test's client when the test ends.
func cleanUp(t *testing.T, st sharedStore, url, file, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := storeurl.Open(ctx, url, &storeurl.Options{PingTimeout: 5 * time.Second})
	if err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("no %s server (%v), and %s=1 requires one", st.name, err, requireEnv)
		}
		t.Skipf("\n\n*** SKIPPED: no %s server (%v).\n*** Start one or set %s; %s=1 fails instead of skipping. ***\n\n", st.name, err, st.env, requireEnv)
	}
	t.Cleanup(func() {
		defer s.Close()
		f, err := clientsfile.Parse([]byte(file))
		if err != nil {
			t.Fatal(err)
		}
		b := core.New(s)
		if err := f.Apply(b); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := b.DeleteUsage(ctx, id, time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)); err != nil {
			t.Errorf("deleting the test's usage: %v", err)
		}
	})
}
