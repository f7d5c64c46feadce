package nethttpbilling_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// TestMountedMux: a billed ServeMux mounted in another under a prefix
// labels usage with its own route patterns (not the outer mux's prefix),
// takes its costs from the route table by those patterns, and charges
// nothing for a path under the prefix that it does not serve.
func TestMountedMux(t *testing.T) {
	ctx := t.Context()
	b := core.New(memory.New())
	if err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.Whole(100)}); err != nil {
		t.Fatal(err)
	}
	bill := nethttpbilling.NewMiddleware(b,
		nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), func(k string) (string, bool) { return "c", k == "k" }),
		nethttpbilling.WithRoutes(map[string]core.Credits{"/api/items/{id}": core.Whole(3)}))
	api := http.NewServeMux()
	api.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	api.HandleFunc("GET /api/ping", func(w http.ResponseWriter, r *http.Request) {})
	root := http.NewServeMux()
	root.Handle("/api/", bill.Handler(api))

	get := func(path string) int {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-API-Key", "k")
		rec := httptest.NewRecorder()
		root.ServeHTTP(rec, req)
		return rec.Code
	}
	for path, want := range map[string]int{"/api/items/7": 200, "/api/ping": 200, "/api/nothing": 404} {
		if got := get(path); got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	rows, err := b.DailyUsage(ctx, "c", day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]core.Credits{}
	for _, r := range rows {
		for label, n := range r.ByLabel {
			got[label] = got[label].Add(n)
		}
	}
	want := map[string]core.Credits{"/api/items/{id}": core.Whole(3), "/api/ping": core.Whole(1)}
	if len(got) != len(want) || got["/api/items/{id}"] != want["/api/items/{id}"] || got["/api/ping"] != want["/api/ping"] {
		t.Errorf("usage by label = %v, want %v (and nothing for the 404)", got, want)
	}
}
