package echobilling_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	echobilling "github.com/frappy-go/apibilling/adapters/echo"
)

// benchEcho returns the app; with cfg, billed by the middleware.
func benchEcho(b *testing.B, cfg *echobilling.Config) *echo.Echo {
	e := echo.New()
	if cfg != nil {
		bill, lookup := adaptertest.BenchBilling(b)
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
	w := &adaptertest.Discard{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.H, w.Code = make(http.Header), 0
		e.ServeHTTP(w, req)
	}
	if w.Code != 200 {
		b.Fatalf("status %d", w.Code)
	}
}

func parallel(b *testing.B, e *echo.Echo) {
	var next, failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", "/api/fetch-data", nil)
		req.Header.Set("X-API-Key", adaptertest.BenchKey(int(next.Add(1))))
		w := &adaptertest.Discard{}
		for pb.Next() {
			w.H, w.Code = make(http.Header), 0
			e.ServeHTTP(w, req)
			if w.Code != 200 {
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
