package routers_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// checkItems serves, through a global middleware that finds routes with
// route, requests to router, which has the one route GET /items/{id}: a
// served request is charged under that pattern; the paths of notServed,
// which the router does not serve (404, or a redirect), are not charged
// and get no rate-limit headers.
func checkItems(t *testing.T, router http.Handler, route nethttpbilling.Router, notServed ...string) {
	t.Helper()
	b := core.New(memory.New(), core.WithClock(func() time.Time { return adaptertest.Now }))
	if err := b.SetQuotas("client-one", core.Quota{Period: core.Day, Limit: core.Whole(500)}); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { return "client-one", k == "key-one" }
	h := nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup),
		nethttpbilling.WithRouter(route), nethttpbilling.WithLogger(slog.New(slog.DiscardHandler)))(router)
	for i, path := range append([]string{"/items/7"}, notServed...) {
		req := httptest.NewRequest("GET", "http://api.example"+path, nil)
		req.Header.Set("X-API-Key", "key-one")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		days, err := b.DailyUsage(t.Context(), "client-one", adaptertest.Now.Add(-time.Hour), adaptertest.Now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		got := core.Whole(0)
		for _, d := range days {
			got = got.Add(d.ByLabel["/items/{id}"])
		}
		served, limited := rec.Code == http.StatusOK, rec.Header().Get("RateLimit") != ""
		if served != (i == 0) || limited != (i == 0) || got != core.Whole(1) {
			t.Errorf("GET %s: %d, RateLimit %q, usage under /items/{id} %v; want served and charged: %v, 1 credit in all",
				path, rec.Code, rec.Header().Get("RateLimit"), got, i == 0)
		}
	}
}
