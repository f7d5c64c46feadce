package adaptertest

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
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
func runConcurrent(t *testing.T, newApp Maker, wiring Wiring) {
	const workers, rounds = 8, 40
	b := core.New(memory.New(), core.WithClock(func() time.Time { return Now }))
	keys := map[string]string{}
	for w := range workers {
		id := "client-" + strconv.Itoa(w)
		keys["key-"+strconv.Itoa(w)] = id
		if err := b.SetQuotas(id, core.Quota{Period: core.Day, Limit: core.Whole(int64(w+1) * 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	app := newApp(t, Env{
		Billing: b,
		Lookup:  func(k string) (string, bool) { id, ok := keys[k]; return id, ok },
		Logger:  slog.New(&logRecorder{}),
		Wiring:  wiring,
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
func runConcurrentCosts(t *testing.T, newApp Maker, wiring Wiring) {
	const workers, rounds, limit = 8, 40, 10_000
	b := core.New(memory.New(), core.WithClock(func() time.Time { return Now }))
	keys := map[string]string{}
	for w := range workers {
		id := "client-" + strconv.Itoa(w)
		keys["key-"+strconv.Itoa(w)] = id
		if err := b.SetQuotas(id, core.Quota{Period: core.Day, Limit: core.Whole(limit)}); err != nil {
			t.Fatal(err)
		}
	}
	app := newApp(t, Env{
		Billing: b,
		Lookup:  func(k string) (string, bool) { id, ok := keys[k]; return id, ok },
		Logger:  slog.New(&logRecorder{}),
		Wiring:  wiring,
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
		if got, want := o.Quota(0).Used, core.Whole(int64(rounds*(w+1))); got != want {
			t.Errorf("client %d used %v, want %v", w, got, want)
		}
	}
}

// runConcurrentKey sends 64 requests at once with one idempotency key, to
// a route of its own cost: exactly one is charged, every one passes with
// the headers of that charge, and the key's usage is reported once.
func runConcurrentKey(t *testing.T, newApp Maker, wiring Wiring) {
	const n = 64
	b := core.New(memory.New(), core.WithClock(func() time.Time { return Now }))
	if err := b.SetQuotas("client-one", core.Quota{Period: core.Day, Limit: core.Whole(500)}); err != nil {
		t.Fatal(err)
	}
	app := newApp(t, Env{
		Billing: b,
		Lookup:  func(k string) (string, bool) { return "client-one", k == "key-one" },
		Logger:  slog.New(&logRecorder{}),
		Wiring:  wiring,
	})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req := httptest.NewRequest("GET", "http://api.example/api/fetch-expensive-data", nil)
			req.Header.Set("X-API-Key", "key-one")
			req.Header.Set("Idempotency-Key", "one-key")
			r := app(req)
			if got := r.Header.Values("X-RateLimit-Remaining"); r.Status != 200 || len(got) != 1 || got[0] != "495" {
				errs <- fmt.Errorf("request %d: %d, X-RateLimit-Remaining %q, want 200 [495]: %s", i, r.Status, got, r.Body)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	o, err := b.Status(t.Context(), "client-one")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.Quota(0).Used, core.Whole(5); got != want {
		t.Errorf("%d requests with one key used %v, want %v", n, got, want)
	}
}

// runKeptOutcomes keeps the outcome /api/outcome reads and hands it to a
// goroutine that reads it after the request has ended, while other
// requests reuse the middleware's memory: each kept outcome still shows its
// own request (client w's quota is (w+1)*1000 credits).
func runKeptOutcomes(t *testing.T, newApp Maker, wiring Wiring) {
	const workers, rounds = 4, 25
	b := core.New(memory.New(), core.WithClock(func() time.Time { return Now }))
	keys := map[string]string{}
	for w := range workers {
		id := "client-" + strconv.Itoa(w)
		keys["key-"+strconv.Itoa(w)] = id
		if err := b.SetQuotas(id, core.Quota{Period: core.Day, Limit: core.Whole(int64(w+1) * 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	type kept struct {
		o  core.Outcome
		ok bool
	}
	keptc := make(chan kept, workers*rounds)
	app := newApp(t, Env{
		Billing: b,
		Lookup:  func(k string) (string, bool) { id, ok := keys[k]; return id, ok },
		Logger:  slog.New(&logRecorder{}),
		Wiring:  wiring,
		Keep:    func(o core.Outcome, ok bool) { keptc <- kept{o, ok} },
	})
	ended := make(chan struct{}) // closed once every request has ended
	errs := make(chan error, workers*rounds+1)
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // reads each kept outcome after the requests
		defer readers.Done()
		<-ended
		close(keptc)
		seen := map[string]bool{}
		for k := range keptc {
			if !k.ok {
				errs <- fmt.Errorf("OutcomeFrom reported no outcome")
				continue
			}
			low, ok := k.o.Lowest()
			if !ok || k.o.Cost() != core.Whole(1) {
				errs <- fmt.Errorf("kept outcome of %s: lowest %v %v, cost %v", k.o.Client(), low, ok, k.o.Cost())
				continue
			}
			w, err := strconv.Atoi(strings.TrimPrefix(k.o.Client(), "client-"))
			if err != nil || low.Limit != core.Whole(int64(w+1)*1000) {
				errs <- fmt.Errorf("kept outcome of %q has the limit %v", k.o.Client(), low.Limit)
				continue
			}
			id := k.o.Client() + "/" + low.Remaining.String()
			if seen[id] {
				errs <- fmt.Errorf("two kept outcomes read %s", id)
			}
			seen[id] = true
		}
		if len(seen) != workers*rounds {
			errs <- fmt.Errorf("%d distinct kept outcomes, want %d", len(seen), workers*rounds)
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				req := httptest.NewRequest("GET", "http://api.example/api/outcome", nil)
				req.Header.Set("X-API-Key", "key-"+strconv.Itoa(w))
				if r := app(req); r.Status != 200 {
					errs <- fmt.Errorf("worker %d: status %d", w, r.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(ended)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
