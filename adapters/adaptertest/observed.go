package adaptertest

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
	"github.com/frappy-go/apibilling/stores/memory"
)

// observer records the outcomes a middleware reports.
type observer struct {
	mu  sync.Mutex
	got []string
}

func (o *observer) Request(outcome, route string) {
	o.mu.Lock()
	o.got = append(o.got, outcome+" "+route)
	o.mu.Unlock()
}

// runObserved sends one request of every outcome and checks that the
// middleware's observer receives exactly one report for each billed or
// refused request, with its outcome and route, and none for a request no
// route serves.
func runObserved(t *testing.T, newApp Maker, wiring Wiring) {
	b := core.New(memory.New(), core.WithClock(func() time.Time { return Now }))
	for _, c := range clients {
		if len(c.quotas) > 0 {
			if err := b.SetQuotas(c.id, c.quotas...); err != nil {
				t.Fatal(err)
			}
		}
	}
	keys := map[string]string{}
	for _, c := range clients {
		keys[c.key] = c.id
	}
	obs := &observer{}
	app := newApp(t, Env{
		Billing:  b,
		Lookup:   func(k string) (string, bool) { id, ok := keys[k]; return id, ok },
		Logger:   slog.New(&logRecorder{}),
		Wiring:   wiring,
		Observer: obs,
	})
	send := func(path string, header map[string]string) {
		req := httptest.NewRequest("GET", "http://api.example"+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		app(req)
	}
	withKey := func(k, idem string) map[string]string {
		return map[string]string{"X-API-Key": k, "Idempotency-Key": idem}
	}
	// Learn the double-wired routes first, so that each later request is
	// charged by one handler only.
	send("/api/compute?units=1", key("key-one"))
	obs.mu.Lock()
	obs.got = nil
	obs.mu.Unlock()

	send("/api/fetch-data", key("key-one"))                     // allowed
	send("/api/fetch-data", nil)                                // unidentified
	send("/api/fetch-data", key("key-none"))                    // no quota
	send("/api/compute?units=x", key("key-one"))                // bad cost
	send("/api/fetch-expensive-data", key("key-small"))         // allowed (5 of 5)
	send("/api/fetch-data", key("key-small"))                   // denied
	send("/api/fetch-data", withKey("key-one", "k1"))           // allowed
	send("/api/fetch-data", withKey("key-one", "k1"))           // replayed
	send("/api/fetch-expensive-data", withKey("key-one", "k1")) // conflict
	send("/api/nowhere", key("key-one"))                        // no route: not reported
	want := []string{
		"allowed /api/fetch-data",
		"unidentified /api/fetch-data",
		"no_quota /api/fetch-data",
		"bad_cost /api/compute",
		"allowed /api/fetch-expensive-data",
		"denied /api/fetch-data",
		"allowed /api/fetch-data",
		"replayed /api/fetch-data",
		"conflict /api/fetch-expensive-data",
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !slices.Equal(obs.got, want) {
		t.Errorf("observed:\n%s\nwant:\n%s", fmt.Sprint(obs.got), fmt.Sprint(want))
	}
}

var _ httpbilling.Observer = (*observer)(nil)
