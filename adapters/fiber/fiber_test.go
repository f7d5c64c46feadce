package fiberbilling_test

import (
	"context"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

var testNow = time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)

func testBilling(t *testing.T, clients ...string) *core.Billing {
	t.Helper()
	b := core.New(memory.New(), core.WithClock(func() time.Time { return testNow }))
	for _, c := range clients {
		if err := b.SetQuotas(c, core.Quota{Period: core.Day, Limit: 100 * core.Credit}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// serve serves a GET of path with the X-API-Key key on fc, which is reused
// as fasthttp reuses it between requests on one connection.
func serve(h fasthttp.RequestHandler, fc *fasthttp.RequestCtx, path, key string) int {
	fc.Request.Reset()
	fc.Response.Reset()
	fc.Request.Header.SetMethod("GET")
	fc.Request.SetRequestURI(path)
	fc.Request.Header.Set("X-API-Key", key)
	h(fc)
	return fc.Response.StatusCode()
}

func labels(t *testing.T, b *core.Billing, client string) map[string]core.Credits {
	t.Helper()
	days, err := b.DailyUsage(context.Background(), client, testNow.Add(-time.Hour), testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]core.Credits{}
	for _, d := range days {
		for l, c := range d.ByLabel {
			out[l] += c
		}
	}
	return out
}

// TestKeptOutcomeSurvivesBufferReuse checks that an outcome kept beyond its
// request (a copy of the value, as OutcomeFrom says) does not change when
// Fiber reuses the request's buffers: its client and label (here the raw
// path, from Config.Label) are copies.
func TestKeptOutcomeSurvivesBufferReuse(t *testing.T) {
	b := testBilling(t, "client-aaaa", "client-bbbb")
	var kept []core.Outcome
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberbilling.New(fiberbilling.Config{
		Billing:  b,
		Identity: fiberbilling.Header("X-API-Key"),
		Label:    func(c *fiber.Ctx) string { return c.Path() },
	}))
	app.Get("/*", func(c *fiber.Ctx) error {
		if o, ok := fiberbilling.OutcomeFrom(c); ok {
			kept = append(kept, *o)
		}
		return c.SendStatus(200)
	})
	h := app.Handler()
	fc := &fasthttp.RequestCtx{}
	if got := serve(h, fc, "/path-aaaa", "client-aaaa"); got != 200 {
		t.Fatalf("status %d", got)
	}
	if got := serve(h, fc, "/path-bbbb", "client-bbbb"); got != 200 {
		t.Fatalf("status %d", got)
	}
	if len(kept) != 2 {
		t.Fatalf("%d outcomes kept, want 2", len(kept))
	}
	if got, want := kept[0].Label(), "/path-aaaa"; got != want {
		t.Errorf("first label = %q, want %q", got, want)
	}
	if got, want := kept[0].Client(), "client-aaaa"; got != want {
		t.Errorf("first client = %q, want %q", got, want)
	}
	if got := labels(t, b, "client-aaaa"); len(got) != 1 || got["/path-aaaa"] != core.Credit {
		t.Errorf("usage of client-aaaa by label = %v", got)
	}
}

// TestLabels checks the default labels: none in app.Use, where the route is
// not known yet; the route pattern in a route-level handler.
func TestLabels(t *testing.T) {
	b := testBilling(t, "client-use", "client-route")
	cfg := fiberbilling.Config{Billing: b, Identity: fiberbilling.Header("X-API-Key")}
	ok := func(c *fiber.Ctx) error { return c.SendStatus(200) }
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	global := app.Group("/global", fiberbilling.New(cfg))
	global.Get("/items/:id", ok)
	app.Get("/route/items/:id", fiberbilling.NewMiddleware(cfg).Handler(), ok)
	h := app.Handler()
	fc := &fasthttp.RequestCtx{}
	if got := serve(h, fc, "/global/items/42", "client-use"); got != 200 {
		t.Fatalf("status %d", got)
	}
	if got := serve(h, fc, "/route/items/42", "client-route"); got != 200 {
		t.Fatalf("status %d", got)
	}
	for _, tc := range []struct{ client, label string }{
		{"client-use", ""},
		{"client-route", "/route/items/:id"},
	} {
		if got := labels(t, b, tc.client); len(got) != 1 || got[tc.label] != core.Credit {
			t.Errorf("usage of %s by label = %v, want %q: 1", tc.client, got, tc.label)
		}
	}
}
