package echobilling_test

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	echobilling "github.com/frappy-go/apibilling/adapters/echo"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// benchClients is the number of clients the parallel benchmarks spread
// their requests over.
const benchClients = 1024

// benchBilling returns a billing on the memory store whose clients
// "client0".. have a day and a month quota too large to run out, and the
// lookup of their keys "key0"...
func benchBilling(b *testing.B) (*core.Billing, func(string) (string, bool)) {
	bill := core.New(memory.New())
	keys := map[string]string{}
	for i := range benchClients {
		id := "client" + strconv.Itoa(i)
		keys["key"+strconv.Itoa(i)] = id
		if err := bill.SetQuotas(id,
			core.Quota{Period: core.Day, Limit: core.MaxCredits},
			core.Quota{Period: core.Month, Limit: core.MaxCredits}); err != nil {
			b.Fatal(err)
		}
	}
	return bill, func(k string) (string, bool) { id, ok := keys[k]; return id, ok }
}

// discard is a ResponseWriter that, like net/http's server, starts each
// request with a new header map.
type discard struct {
	h    http.Header
	code int
}

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(code int)        { w.code = code }

// benchEcho returns the app; with cfg, billed by the middleware.
func benchEcho(b *testing.B, cfg *echobilling.Config) *echo.Echo {
	e := echo.New()
	if cfg != nil {
		bill, lookup := benchBilling(b)
		cfg.Billing = bill
		cfg.Identity = echobilling.MapKey(echobilling.Header("X-API-Key"), lookup)
		e.Use(echobilling.NewWithConfig(*cfg))
	}
	body := []byte(`{"data":"ok"}`)
	e.GET("/api/fetch-data", func(c echo.Context) error { return c.Blob(200, "application/json", body) })
	return e
}

func serial(b *testing.B, e *echo.Echo) {
	req, _ := http.NewRequest("GET", "/api/fetch-data", nil)
	req.Header.Set("X-API-Key", "key0")
	w := &discard{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.h, w.code = make(http.Header), 0
		e.ServeHTTP(w, req)
	}
	if w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
}

func parallel(b *testing.B, e *echo.Echo) {
	var next, failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", "/api/fetch-data", nil)
		req.Header.Set("X-API-Key", "key"+strconv.Itoa(int(next.Add(1)%benchClients)))
		w := &discard{}
		for pb.Next() {
			w.h, w.code = make(http.Header), 0
			e.ServeHTTP(w, req)
			if w.code != 200 {
				failed.Add(1)
			}
		}
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}

func BenchmarkBare(b *testing.B)   { serial(b, benchEcho(b, nil)) }
func BenchmarkBilled(b *testing.B) { serial(b, benchEcho(b, &echobilling.Config{})) }
func BenchmarkBilledNoHeaders(b *testing.B) {
	serial(b, benchEcho(b, &echobilling.Config{DisableLegacyHeaders: true, DisableDraftHeaders: true}))
}
func BenchmarkBilledLegacyHeaders(b *testing.B) {
	serial(b, benchEcho(b, &echobilling.Config{DisableDraftHeaders: true}))
}
func BenchmarkBareParallel(b *testing.B)   { parallel(b, benchEcho(b, nil)) }
func BenchmarkBilledParallel(b *testing.B) { parallel(b, benchEcho(b, &echobilling.Config{})) }
