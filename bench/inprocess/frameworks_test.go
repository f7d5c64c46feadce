package inprocess

import (
	"net/http"
	"testing"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"
)

// The variants each framework (gin, echo, fiber, net/http with a ServeMux)
// is measured in. The names are what
// cmd/report reads: bare, anchor, billing-memory (default headers),
// billing-memory-legacy (only the X-RateLimit-* triple, as the anchors of
// gin and fiber send), billing-memory-noheaders (none, as echo's
// RateLimiter sends) and billing-bolt (durable bolt, default headers; also
// with 64 goroutines, where concurrent deductions share fsyncs).

func BenchmarkGin(b *testing.B) {
	run := func(name string, mw func(b *testing.B) []gin.HandlerFunc) {
		b.Run(name, func(b *testing.B) {
			modes(b, name == "billing-bolt", func(b *testing.B, goroutines int) {
				serveHTTP(b, apps.Gin(mw(b)...), goroutines)
			})
		})
	}
	run("bare", func(*testing.B) []gin.HandlerFunc { return nil })
	run("anchor", func(*testing.B) []gin.HandlerFunc { return []gin.HandlerFunc{apps.UluleGin()} })
	for _, v := range billedVariants {
		run(v.name, func(b *testing.B) []gin.HandlerFunc {
			return []gin.HandlerFunc{apps.GinBilling(v.billing(b), v.headers)}
		})
	}
}

func BenchmarkEcho(b *testing.B) {
	run := func(name string, mw func(b *testing.B) []echo.MiddlewareFunc) {
		b.Run(name, func(b *testing.B) {
			modes(b, name == "billing-bolt", func(b *testing.B, goroutines int) {
				serveHTTP(b, http.Handler(apps.Echo(mw(b)...)), goroutines)
			})
		})
	}
	run("bare", func(*testing.B) []echo.MiddlewareFunc { return nil })
	run("anchor", func(*testing.B) []echo.MiddlewareFunc { return []echo.MiddlewareFunc{apps.EchoRateLimiter()} })
	for _, v := range billedVariants {
		run(v.name, func(b *testing.B) []echo.MiddlewareFunc {
			return []echo.MiddlewareFunc{apps.EchoBilling(v.billing(b), v.headers)}
		})
	}
}

func BenchmarkFiber(b *testing.B) {
	run := func(name string, mw func(b *testing.B) []fiber.Handler) {
		b.Run(name, func(b *testing.B) {
			modes(b, name == "billing-bolt", func(b *testing.B, goroutines int) {
				app := apps.Fiber(mw(b)...)
				b.Cleanup(func() { _ = app.Shutdown() })
				serveFast(b, app.Handler(), goroutines)
			})
		})
	}
	run("bare", func(*testing.B) []fiber.Handler { return nil })
	run("anchor", func(*testing.B) []fiber.Handler { return []fiber.Handler{apps.FiberLimiter()} })
	for _, v := range billedVariants {
		run(v.name, func(b *testing.B) []fiber.Handler { return []fiber.Handler{apps.FiberBilling(v.billing(b), v.headers)} })
	}
}

func BenchmarkNetHTTP(b *testing.B) {
	run := func(name string, mw func(b *testing.B) []func(http.Handler) http.Handler) {
		b.Run(name, func(b *testing.B) {
			modes(b, name == "billing-bolt", func(b *testing.B, goroutines int) {
				serveHTTP(b, apps.NetHTTP(mw(b)...), goroutines)
			})
		})
	}
	run("bare", func(*testing.B) []func(http.Handler) http.Handler { return nil })
	run("anchor", func(*testing.B) []func(http.Handler) http.Handler {
		return []func(http.Handler) http.Handler{apps.Httprate()}
	})
	for _, v := range billedVariants {
		run(v.name, func(b *testing.B) []func(http.Handler) http.Handler {
			return []func(http.Handler) http.Handler{apps.NetHTTPBilling(v.billing(b), v.headers)}
		})
	}
}
