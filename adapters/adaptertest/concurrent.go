package adaptertest

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// runConcurrent serves requests of several clients at once, each client
// from one goroutine, to /api/outcome, and checks that every handler reads
// the outcome of its own request and every response carries its own
// headers, both when it is served and after all requests have ended.
//
// The middleware reuses the memory of a request's charge once the request
// is done: a charge released while its handler still runs, a handler that
// finds another request's charge, or a header value that points into a
// released charge shows another client's figures here (and a data race
// under -race). Client w has a day quota of (w+1)*1000 credits, so the
// remaining credits of each answer name the client and the request.
func runConcurrent(t *testing.T, newApp Maker) {
	const workers, rounds = 8, 40
	b := core.New(memory.New(), core.WithClock(func() time.Time { return Now }))
	keys := map[string]string{}
	for w := range workers {
		id := "client-" + strconv.Itoa(w)
		keys["key-"+strconv.Itoa(w)] = id
		if err := b.SetQuotas(id, core.Quota{Period: core.Day, Limit: core.Credits(w+1) * 1000 * core.Credit}); err != nil {
			t.Fatal(err)
		}
	}
	app := newApp(t, Env{
		Billing: b,
		Lookup:  func(k string) (string, bool) { id, ok := keys[k]; return id, ok },
		Logger:  slog.New(&logRecorder{}),
	})
	// check returns why r is not the answer to the k-th request of worker
	// w, or nil.
	check := func(w, k int, r Response) error {
		left := strconv.Itoa((w+1)*1000 - k)
		if want := `{"cost":"1","period":"day","remaining":"` + left + `"}`; r.Status != 200 || r.Body != want {
			return fmt.Errorf("worker %d request %d: %d %s, want 200 %s", w, k, r.Status, r.Body, want)
		}
		for name, want := range map[string]string{
			"X-RateLimit-Limit":     strconv.Itoa((w + 1) * 1000),
			"X-RateLimit-Remaining": left,
			"RateLimit":             `"day";r=` + left + `;t=3600`,
		} {
			if got := r.Header.Values(name); len(got) != 1 || got[0] != want {
				return fmt.Errorf("worker %d request %d: %s = %q, want [%q]", w, k, name, got, want)
			}
		}
		return nil
	}
	resps := [workers][rounds]Response{}
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				req := httptest.NewRequest("GET", "http://api.example/api/outcome", nil)
				req.Header.Set("X-API-Key", "key-"+strconv.Itoa(w))
				resps[w][k] = app(req)
				if err := check(w, k+1, resps[w][k]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for w := range workers {
		for k := range rounds {
			if err := check(w, k+1, resps[w][k]); err != nil {
				t.Errorf("after all requests: %v", err)
			}
		}
	}
}

// runConcurrentCosts sends requests of several clients at once to
// /api/compute, whose cost comes from each request (worker w asks for w+1
// units), and checks every answer's remaining credits and each client's
// final usage. A cost computed for one request and charged to another, for
// example through state the route's handler shares between requests, shows
// up as wrong figures here (and a data race under -race).
func runConcurrentCosts(t *testing.T, newApp Maker) {
	const workers, rounds, limit = 8, 40, 10_000
	b := core.New(memory.New(), core.WithClock(func() time.Time { return Now }))
	keys := map[string]string{}
	for w := range workers {
		id := "client-" + strconv.Itoa(w)
		keys["key-"+strconv.Itoa(w)] = id
		if err := b.SetQuotas(id, core.Quota{Period: core.Day, Limit: limit * core.Credit}); err != nil {
			t.Fatal(err)
		}
	}
	app := newApp(t, Env{
		Billing: b,
		Lookup:  func(k string) (string, bool) { id, ok := keys[k]; return id, ok },
		Logger:  slog.New(&logRecorder{}),
	})
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 1; k <= rounds; k++ {
				req := httptest.NewRequest("GET", "http://api.example/api/compute?units="+strconv.Itoa(w+1), nil)
				req.Header.Set("X-API-Key", "key-"+strconv.Itoa(w))
				r := app(req)
				want := strconv.Itoa(limit - k*(w+1))
				if got := r.Header.Values("X-RateLimit-Remaining"); r.Status != 200 || len(got) != 1 || got[0] != want {
					errs <- fmt.Errorf("worker %d request %d: %d, X-RateLimit-Remaining %q, want 200 [%q]", w, k, r.Status, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		o, err := b.Status(t.Context(), "client-"+strconv.Itoa(w))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := o.Quota(0).Used, core.Credits(rounds*(w+1))*core.Credit; got != want {
			t.Errorf("client %d used %v, want %v", w, got, want)
		}
	}
}
