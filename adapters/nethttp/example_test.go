package nethttpbilling_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	nethttpbilling "github.com/frappy-go/apibilling/adapters/nethttp"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// newBilling returns a billing with one client, "client1", whose API key is
// "demo-key-1", at a fixed time one hour before its day renews.
func newBilling() (*core.Billing, func(key string) (string, bool)) {
	now := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(10)}); err != nil {
		panic(err)
	}
	keys := map[string]string{"demo-key-1": "client1"}
	return b, func(key string) (string, bool) { c, ok := keys[key]; return c, ok }
}

func get(h http.Handler, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Bill every route of a ServeMux one credit, identifying clients by API
// key. A path no route serves is not charged.
func Example() {
	b, lookup := newBilling()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/fetch-data", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	h := nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup))(mux)

	rec := get(h, "/api/fetch-data", "demo-key-1")
	fmt.Println(rec.Code, rec.Header().Values("X-RateLimit-Remaining"), rec.Header().Values("RateLimit"))
	rec = get(h, "/api/nope", "demo-key-1")
	fmt.Println(rec.Code, rec.Header().Values("X-RateLimit-Remaining"))
	rec = get(h, "/api/fetch-data", "")
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// 200 [9] ["day";r=9;t=3600]
	// 404 []
	// 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"The request does not identify a client."}
}

// Give routes their own costs: a table for the global middleware, and a
// route-level cost function. Each request is charged once.
func ExampleMiddleware_CostFunc() {
	b, lookup := newBilling()
	bill := nethttpbilling.NewMiddleware(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup),
		nethttpbilling.WithRoutes(map[string]core.Credits{"/api/fetch-expensive-data": core.Whole(5)}))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("GET /api/fetch-expensive-data", ok)
	mux.Handle("GET /api/compute", bill.CostFunc(func(r *http.Request) (core.Credits, error) {
		units, err := core.ParseCredits(r.URL.Query().Get("units"))
		if err != nil {
			return core.Credits{}, nethttpbilling.BadCost(400, "units must be a non-negative decimal number")
		}
		return units, nil
	})(ok))
	h := bill.Handler(mux)

	for _, path := range []string{"/api/fetch-expensive-data", "/api/compute?units=2.5", "/api/compute?units=x", "/api/compute?units=1"} {
		rec := get(h, path, "demo-key-1")
		fmt.Println(path, rec.Code, rec.Header().Values("X-RateLimit-Remaining"))
	}
	// Output:
	// /api/fetch-expensive-data 200 [5]
	// /api/compute?units=2.5 200 [2]
	// /api/compute?units=x 400 []
	// /api/compute?units=1 200 [1]
}

// Read the billing outcome inside the handler: a copy, valid after the
// request too.
func ExampleOutcomeFrom() {
	b, lookup := newBilling()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		if o, ok := nethttpbilling.OutcomeFrom(r); ok {
			low, _ := o.Lowest()
			fmt.Fprintf(w, "%s: %s credits left, renewing at %s", low.Period, low.Remaining, low.End.Format(time.RFC3339))
		}
	})
	h := nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup))(mux)
	fmt.Println(get(h, "/api/me", "demo-key-1").Body)
	// Output: day: 9 credits left, renewing at 2026-12-01T00:00:00Z
}
