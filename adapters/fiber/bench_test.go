package fiberbilling_test

import (
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
)

// benchHandler returns the app's fasthttp handler; with cfg, billed by the
// middleware in app.Use.
func benchHandler(b *testing.B, cfg *fiberbilling.Config) fasthttp.RequestHandler {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if cfg != nil {
		bill, lookup := adaptertest.BenchBilling(b)
		cfg.Billing = bill
		cfg.Identity = fiberbilling.MapKey(fiberbilling.Header("X-API-Key"), lookup)
		app.Use(fiberbilling.New(*cfg))
	}
	body := []byte(`{"data":"ok"}`)
	app.Get("/api/fetch-data", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	})
	return app.Handler()
}

func newCtx(key string) *fasthttp.RequestCtx {
	fc := &fasthttp.RequestCtx{}
	fc.Request.Header.SetMethod("GET")
	fc.Request.SetRequestURI("/api/fetch-data")
	fc.Request.Header.Set("X-API-Key", key)
	return fc
}

func serial(b *testing.B, h fasthttp.RequestHandler) {
	fc := newCtx("key0")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		fc.Response.Reset()
		h(fc)
	}
	if got := fc.Response.StatusCode(); got != 200 {
		b.Fatalf("status %d", got)
	}
}

func parallel(b *testing.B, h fasthttp.RequestHandler) {
	var next, failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		fc := newCtx(adaptertest.BenchKey(int(next.Add(1))))
		for pb.Next() {
			fc.Response.Reset()
			h(fc)
			if fc.Response.StatusCode() != 200 {
				failed.Add(1)
			}
		}
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}

func BenchmarkBare(b *testing.B)   { serial(b, benchHandler(b, nil)) }
func BenchmarkBilled(b *testing.B) { serial(b, benchHandler(b, &fiberbilling.Config{})) }
func BenchmarkBilledNoHeaders(b *testing.B) {
	serial(b, benchHandler(b, &fiberbilling.Config{DisableLegacyHeaders: true, DisableDraftHeaders: true}))
}
func BenchmarkBilledLegacyHeaders(b *testing.B) {
	serial(b, benchHandler(b, &fiberbilling.Config{DisableDraftHeaders: true}))
}
func BenchmarkBareParallel(b *testing.B)   { parallel(b, benchHandler(b, nil)) }
func BenchmarkBilledParallel(b *testing.B) { parallel(b, benchHandler(b, &fiberbilling.Config{})) }
