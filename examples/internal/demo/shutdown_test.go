package demo

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunFinishesInFlight checks the graceful shutdown: when the context
// ends, Run stops accepting connections, lets the request in flight finish
// and be charged, then closes the store and returns 0.
func TestRunFinishesInFlight(t *testing.T) {
	db := filepath.Join(t.TempDir(), "usage.db")
	entered := make(chan struct{})
	release := make(chan struct{})
	build := func(app *App) (Server, error) {
		mux := http.NewServeMux()
		mux.HandleFunc("/slow", func(w http.ResponseWriter, req *http.Request) {
			if _, err := app.Billing.Track(req.Context(), "client1", CostFetchExpensiveData); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			close(entered)
			<-release
			w.Write(FetchExpensiveDataBody)
		})
		mux.HandleFunc("/api/quota", func(w http.ResponseWriter, req *http.Request) {
			o, err := app.Billing.Status(req.Context(), "client1")
			if err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.Write(QuotaBody(&o))
		})
		return &http.Server{Handler: mux, ReadHeaderTimeout: ReadHeaderTimeout}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &running{code: make(chan int, 1), stopped: make(chan struct{})}
	go func() {
		r.code <- Run(ctx, "demo-test", []string{"-addr", "127.0.0.1:0", "-db", db}, &r.stdout, &r.stderr, func() { close(r.stopped) }, build)
	}()
	addr := r.addr(t)

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(b), err}
	}()
	select {
	case <-entered:
	case res := <-slow:
		t.Fatalf("the slow request ended before its handler ran: %+v", res)
	case <-time.After(15 * time.Second):
		t.Fatal("the slow request did not reach its handler within 15 s")
	}

	cancel()
	select {
	case <-r.stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not start shutting down within 15 s")
	}
	// New connections are refused once the listener is closed.
	refused := false
	for range 1500 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Error("connections still accepted 15 s after the shutdown began")
	}
	select {
	case code := <-r.code:
		t.Fatalf("Run returned %d with a request in flight", code)
	default:
	}

	close(release)
	res := <-slow
	if res.err != nil || res.status != 200 || res.body != string(FetchExpensiveDataBody) {
		t.Errorf("the request in flight: %+v, want 200 with its body", res)
	}
	if code := r.exit(t); code != 0 {
		t.Fatalf("Run returned %d: %s", code, r.stderr.String())
	}

	// The charge of the request in flight is in the store.
	again := start("-addr", "127.0.0.1:0", "-db", db)
	code, body := get(t, "http://"+again.addr(t)+"/api/quota", "demo-key-1")
	if want := `"period":"day","limit":500,"used":5,"remaining":495`; code != 200 || !strings.Contains(body, want) {
		t.Errorf("after the restart: %d %s, want %s", code, body, want)
	}
	again.cancel()
	if code := again.exit(t); code != 0 {
		t.Errorf("restarted Run returned %d: %s", code, again.stderr.String())
	}
}
