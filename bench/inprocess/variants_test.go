package inprocess

import (
	"net/http"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"
)

// TestVariants checks what the benchmarks compare: every variant answers
// 200 with the body, and sends exactly the rate-limit headers it is said
// to send (the anchors of gin, fiber and net/http, and apibilling with
// legacy headers, the X-RateLimit-* triple; echo's anchor and apibilling
// without headers, none).
func TestVariants(t *testing.T) {
	legacy := []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
	draft := []string{"RateLimit-Policy", "RateLimit"}
	type want struct{ present, absent []string }
	wants := map[apps.Headers]want{
		apps.AllHeaders:    {append(legacy, draft...), nil},
		apps.LegacyHeaders: {legacy, draft},
		apps.NoHeaders:     {nil, append(legacy, draft...)},
	}
	checkHTTP := func(t *testing.T, h http.Handler, w want) {
		t.Helper()
		rec := &recorder{h: http.Header{}}
		h.ServeHTTP(rec, newRequest())
		if rec.code != http.StatusOK || rec.n != len(apps.Body) {
			t.Fatalf("status %d, %d bytes", rec.code, rec.n)
		}
		// Header names are case-insensitive: look them up ignoring case,
		// whichever key form each middleware stores.
		get := func(k string) string {
			for name, v := range rec.h {
				if strings.EqualFold(name, k) && len(v) > 0 {
					return v[0]
				}
			}
			return ""
		}
		checkHeaders(t, get, w.present, w.absent)
	}
	checkFiber := func(t *testing.T, app *fiber.App, w want) {
		t.Helper()
		ctx := newRequestCtx()
		app.Handler()(ctx)
		if ctx.Response.StatusCode() != http.StatusOK || string(ctx.Response.Body()) != string(apps.Body) {
			t.Fatalf("status %d, body %q", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		get := func(k string) string {
			var found string
			ctx.Response.Header.VisitAll(func(name, v []byte) {
				if strings.EqualFold(string(name), k) {
					found = string(v)
				}
			})
			return found
		}
		checkHeaders(t, get, w.present, w.absent)
	}

	t.Run("gin/bare", func(t *testing.T) { checkHTTP(t, apps.Gin(), wants[apps.NoHeaders]) })
	t.Run("gin/anchor", func(t *testing.T) { checkHTTP(t, apps.Gin(apps.UluleGin()), wants[apps.LegacyHeaders]) })
	t.Run("echo/bare", func(t *testing.T) { checkHTTP(t, apps.Echo(), wants[apps.NoHeaders]) })
	t.Run("echo/anchor", func(t *testing.T) { checkHTTP(t, apps.Echo(apps.EchoRateLimiter()), wants[apps.NoHeaders]) })
	t.Run("fiber/bare", func(t *testing.T) { checkFiber(t, apps.Fiber(), wants[apps.NoHeaders]) })
	t.Run("fiber/anchor", func(t *testing.T) { checkFiber(t, apps.Fiber(apps.FiberLimiter()), wants[apps.LegacyHeaders]) })
	t.Run("nethttp/bare", func(t *testing.T) { checkHTTP(t, apps.NetHTTP(), wants[apps.NoHeaders]) })
	t.Run("nethttp/anchor", func(t *testing.T) { checkHTTP(t, apps.NetHTTP(apps.Httprate()), wants[apps.LegacyHeaders]) })
	for _, h := range []apps.Headers{apps.AllHeaders, apps.LegacyHeaders, apps.NoHeaders} {
		t.Run("gin/billing-"+h.String(), func(t *testing.T) {
			checkHTTP(t, apps.Gin([]gin.HandlerFunc{apps.GinBilling(apps.MemoryBilling(), h)}...), wants[h])
		})
		t.Run("echo/billing-"+h.String(), func(t *testing.T) {
			checkHTTP(t, apps.Echo([]echo.MiddlewareFunc{apps.EchoBilling(apps.MemoryBilling(), h)}...), wants[h])
		})
		t.Run("fiber/billing-"+h.String(), func(t *testing.T) {
			checkFiber(t, apps.Fiber(apps.FiberBilling(apps.MemoryBilling(), h)), wants[h])
		})
		t.Run("nethttp/billing-"+h.String(), func(t *testing.T) {
			checkHTTP(t, apps.NetHTTP(apps.NetHTTPBilling(apps.MemoryBilling(), h)), wants[h])
		})
	}
}

func checkHeaders(t *testing.T, get func(string) string, present, absent []string) {
	t.Helper()
	for _, k := range present {
		if get(k) == "" {
			t.Errorf("header %s missing", k)
		}
	}
	for _, k := range absent {
		if v := get(k); v != "" {
			t.Errorf("header %s = %q, want none", k, v)
		}
	}
}
