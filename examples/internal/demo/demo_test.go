package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want Config
		err  bool
	}{
		{"defaults", nil, Config{Addr: "127.0.0.1:8080", DB: "apibilling.db"}, false},
		{"all", []string{"-addr", ":9", "-db", "x.db", "-clients", "c.json", "-redis", "127.0.0.1:6379"},
			Config{Addr: ":9", DB: "x.db", Clients: "c.json", Redis: "127.0.0.1:6379"}, false},
		{"unknown flag", []string{"-port", "1"}, Config{}, true},
		{"stray argument", []string{"serve"}, Config{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := ParseFlags("demo", tc.args, &out)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error: %v", err, tc.err)
			}
			if tc.err {
				if !strings.Contains(out.String(), "Usage: demo") {
					t.Errorf("no usage printed for a bad flag: %q", out.String())
				}
				return
			}
			if got != tc.want {
				t.Errorf("config %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := ParseFlags("demo", []string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

// TestDemoClients checks the built-in clients against the specification.
func TestDemoClients(t *testing.T) {
	f, err := LoadClients("")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"clients":[` +
		`{"id":"client1","keys":["demo-key-1"],"quotas":[{"period":"day","limit":500,"start":"2022-01-01T00:00:00Z"},{"period":"month","limit":10000,"start":"2022-01-01T00:00:00Z"}]},` +
		`{"id":"client2","keys":["demo-key-2"],"quotas":[{"period":"minute","limit":10,"start":"2022-01-01T00:00:00Z"},{"period":"day","limit":-1,"start":"2022-01-01T00:00:00+10:00"}]}]}`
	if string(out) != want {
		t.Errorf("demo clients:\n got %s\nwant %s", out, want)
	}
	for _, tc := range []struct{ key, client string }{{"demo-key-1", "client1"}, {"demo-key-2", "client2"}} {
		if got, ok := f.ClientForKey(tc.key); !ok || got != tc.client {
			t.Errorf("key %s: client %q, %v, want %s", tc.key, got, ok, tc.client)
		}
	}

	path := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(path, []byte(`{"clients":[{"id":"x","keys":["k"],"quotas":[{"period":"dya","limit":1}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadClients(path); err == nil || !strings.Contains(err.Error(), `clients[0] "x": quotas[0].period: unknown period "dya"`) {
		t.Errorf("LoadClients of a bad file: %v", err)
	}
}

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		units string
		want  core.Credits
		err   error
	}{
		{"1", core.Credit, nil},
		{"0.5", core.Credit / 2, nil},
		{"0", 0, nil},
		{"2.000001", 2*core.Credit + 1, nil},
		{"", 0, errUnitsMissing},
		{"-1", 0, errUnitsBad},
		{"abc", 0, errUnitsBad},
		{"1e3", 0, errUnitsBad},
		{"NaN", 0, errUnitsBad},
		{"99999999999", 0, errUnitsBad},
	} {
		t.Run(tc.units, func(t *testing.T) {
			got, err := Units(tc.units)
			if got != tc.want || err != tc.err {
				t.Errorf("Units(%q) = %d, %v, want %d, %v", tc.units, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestBodies(t *testing.T) {
	f, err := LoadClients("")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 15, 4, 5, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := f.Apply(b); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		client string
		cost   core.Credits
	}{{"client1", 11 * core.Credit}, {"client1", core.Credit / 2}, {"client2", 3 * core.Credit}} {
		if _, err := b.Track(ctx, c.client, c.cost); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ client, want string }{
		{"client1", `{"client":"client1","quotas":[` +
			`{"period":"day","limit":500,"used":11.5,"remaining":488.5,"window_start":"2026-11-30T00:00:00Z","resets_at":"2026-12-01T00:00:00Z"},` +
			`{"period":"month","limit":10000,"used":11.5,"remaining":9988.5,"window_start":"2026-11-01T00:00:00Z","resets_at":"2026-12-01T00:00:00Z"}]}`},
		{"client2", `{"client":"client2","quotas":[` +
			`{"period":"minute","limit":10,"used":3,"remaining":7,"window_start":"2026-11-30T15:04:00Z","resets_at":"2026-11-30T15:05:00Z"},` +
			`{"period":"day","limit":null,"used":3,"remaining":null,"window_start":"2026-12-01T00:00:00+10:00","resets_at":"2026-12-02T00:00:00+10:00"}]}`},
	} {
		o, err := b.Track(ctx, tc.client, CostQuota)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(QuotaBody(&o)); got != tc.want {
			t.Errorf("QuotaBody(%s):\n got %s\nwant %s", tc.client, got, tc.want)
		}
	}
	if got, want := string(ComputeBody(core.Credit/2)), `{"units":0.5,"cost":0.5}`; got != want {
		t.Errorf("ComputeBody(0.5) = %s, want %s", got, want)
	}
	for name, body := range map[string][]byte{"fetch-data": FetchDataBody, "fetch-expensive-data": FetchExpensiveDataBody, "unstable": UnstableBody} {
		if !json.Valid(body) {
			t.Errorf("%s body is not JSON: %s", name, body)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a Run in a goroutine.
type running struct {
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	code           chan int
	stopped        chan struct{} // closed when Run calls stopping
}

// start runs Run with args and a plain net/http server whose single route
// charges one credit to the client of the X-API-Key header.
func start(args ...string) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, code: make(chan int, 1), stopped: make(chan struct{})}
	build := func(app *App) (Server, error) {
		mux := http.NewServeMux()
		mux.HandleFunc("/api/fetch-data", func(w http.ResponseWriter, req *http.Request) {
			client, ok := app.ClientForKey(req.Header.Get(APIKeyHeader))
			if !ok {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if _, err := app.Billing.Track(req.Context(), client, CostFetchData); err != nil {
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.Write(FetchDataBody)
		})
		mux.HandleFunc("/api/quota", func(w http.ResponseWriter, req *http.Request) {
			client, _ := app.ClientForKey(req.Header.Get(APIKeyHeader))
			o, err := app.Billing.Status(req.Context(), client)
			if err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.Write(QuotaBody(&o))
		})
		return &http.Server{Handler: mux, ReadHeaderTimeout: ReadHeaderTimeout}, nil
	}
	go func() {
		r.code <- Run(ctx, "demo-test", args, &r.stdout, &r.stderr, func() { close(r.stopped) }, build)
	}()
	return r
}

// addr waits, at most 15 seconds, for the line that says where r listens.
func (r *running) addr(t *testing.T) string {
	t.Helper()
	for range 1500 {
		if out := r.stdout.String(); strings.Contains(out, "\n") {
			_, rest, ok := strings.Cut(out, "listening on http://")
			addr, _, _ := strings.Cut(rest, " ")
			if !ok || addr == "" {
				t.Fatalf("start-up line %q names no address", out)
			}
			return addr
		}
		select {
		case code := <-r.code:
			t.Fatalf("Run exited with %d before listening: %s", code, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("Run did not listen within 15 s; stderr: %s", r.stderr.String())
	return ""
}

// exit waits, at most 30 seconds, for Run's exit code.
func (r *running) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.code:
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s")
		return -1
	}
}

func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(APIKeyHeader, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestRun starts the server on a bbolt file, charges, shuts it down,
// restarts it on the same file, and checks that a second process on the
// file is refused.
func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "usage.db")
	args := []string{"-addr", "127.0.0.1:0", "-db", db}

	first := start(args...)
	base := "http://" + first.addr(t)
	if got := first.stdout.String(); !strings.HasPrefix(got, "demo-test listening on http://127.0.0.1:") || !strings.Contains(got, db) {
		t.Errorf("start-up line %q", got)
	}
	for i := range 3 {
		if code, body := get(t, base+"/api/fetch-data", "demo-key-1"); code != 200 || body != string(FetchDataBody) {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
	}
	if code, _ := get(t, base+"/api/fetch-data", "nobody"); code != 401 {
		t.Errorf("unknown key: %d, want 401", code)
	}

	t.Run("second opener", func(t *testing.T) {
		second := start("-addr", "127.0.0.1:0", "-db", db)
		if code := second.exit(t); code != 1 {
			t.Errorf("second Run on the same file exited with %d, want 1", code)
		}
		if got := second.stderr.String(); !strings.Contains(got, "is still in use") || !strings.Contains(got, db) || !strings.Contains(got, "another -db") {
			t.Errorf("second Run's error %q does not say the file is in use", got)
		}
		if got := second.stdout.String(); got != "" {
			t.Errorf("second Run printed %q", got)
		}
	})

	first.cancel()
	if code := first.exit(t); code != 0 {
		t.Fatalf("Run exited with %d after its context ended: %s", code, first.stderr.String())
	}
	select {
	case <-first.stopped:
	default:
		t.Error("Run did not call stopping")
	}

	again := start(args...)
	base = "http://" + again.addr(t)
	code, body := get(t, base+"/api/quota", "demo-key-1")
	if code != 200 || !strings.Contains(body, `"period":"day","limit":500,"used":3,"remaining":497`) {
		t.Errorf("usage after a restart: %d %s, want 3 credits used", code, body)
	}
	again.cancel()
	if code := again.exit(t); code != 0 {
		t.Errorf("restarted Run exited with %d: %s", code, again.stderr.String())
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	badClients := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(badClients, []byte(`{"clients":[{"id":"client1","keys":["k"],"quotas":[{"period":"day","limit":-5}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad flag", []string{"-nope"}, 2, "flag provided but not defined: -nope"},
		{"help", []string{"-h"}, 0, "Usage: demo-test"},
		{"bad clients file", []string{"-clients", badClients, "-db", filepath.Join(dir, "a.db")}, 1,
			`demo-test: clientsfile: ` + badClients + `: clients[0] "client1": quotas[0].limit: -5 is negative; only -1 is allowed, for unlimited`},
		{"missing clients file", []string{"-clients", filepath.Join(dir, "none.json"), "-db", filepath.Join(dir, "b.db")}, 1, "no such file"},
		{"address in use", []string{"-addr", busy.Addr().String(), "-db", filepath.Join(dir, "c.db")}, 1, "address already in use"},
		{"db in a missing directory", []string{"-db", filepath.Join(dir, "no", "such", "d.db")}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := start(tc.args...)
			if code := r.exit(t); code != tc.code {
				t.Errorf("exit code %d, want %d; stderr %s", code, tc.code, r.stderr.String())
			}
			if got := r.stderr.String(); !strings.Contains(got, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", got, tc.stderr)
			}
			if got := r.stdout.String(); got != "" {
				t.Errorf("stdout %q, want nothing", got)
			}
		})
	}
}
