package fiberbilling_test

import (
	"context"
	"log/slog"
	"strings"
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
		if err := b.SetQuotas(c, core.Quota{Period: core.Day, Limit: core.Whole(100)}); err != nil {
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
			out[l] = out[l].Add(c)
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
			kept = append(kept, o)
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
	if got := labels(t, b, "client-aaaa"); len(got) != 1 || got["/path-aaaa"] != core.Whole(1) {
		t.Errorf("usage of client-aaaa by label = %v", got)
	}
}

// TestLabels checks the default labels: the route pattern in app.Use (the
// middleware finds the route among the app's) and in a route-level handler.
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
		{"client-use", "/global/items/:id"},
		{"client-route", "/route/items/:id"},
	} {
		if got := labels(t, b, tc.client); len(got) != 1 || got[tc.label] != core.Whole(1) {
			t.Errorf("usage of %s by label = %v, want %q: 1", tc.client, got, tc.label)
		}
	}
}

// TestFailureWithoutWrapper checks that, without WrapErrorHandler, a
// failure the middleware answers keeps its problem+json body and goes to
// Config.Logger instead of Fiber's error handler.
func TestFailureWithoutWrapper(t *testing.T) {
	b := testBilling(t, "client-x")
	var logged []string
	var seen []error
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ErrorHandler: func(c *fiber.Ctx, err error) error {
		seen = append(seen, err)
		return fiber.DefaultErrorHandler(c, err)
	}})
	app.Use(fiberbilling.New(fiberbilling.Config{
		Billing:  b,
		Identity: fiberbilling.Header("X-API-Key"),
		CostFunc: func(*fiber.Ctx) (core.Credits, error) { return core.Credits{}, nil }, // invalid: 500
		Logger:   slog.New(recordHandler{&logged}),
	}))
	app.Get("/x", func(c *fiber.Ctx) error { return c.SendString("ok") })
	fc := &fasthttp.RequestCtx{}
	if got := serve(app.Handler(), fc, "/x", "client-x"); got != 500 {
		t.Fatalf("status %d, want 500", got)
	}
	if got, want := string(fc.Response.Body()), `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"The cost of this request could not be determined."}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if len(seen) != 0 {
		t.Errorf("the error handler saw %v", seen)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "invalid cost") {
		t.Errorf("logged %q, want the invalid cost", logged)
	}
}

// TestRoutingOfUse checks how the middleware in app.Use finds routes: by
// the app's case and trailing-slash rules, in groups, and never for a path
// that only an app.Use prefix matches.
func TestRoutingOfUse(t *testing.T) {
	b := testBilling(t, "client-r")
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberbilling.New(fiberbilling.Config{Billing: b, Identity: fiberbilling.Header("X-API-Key")}))
	app.Use("/api", func(c *fiber.Ctx) error { return c.Next() })
	app.Get("/api/items/:id", func(c *fiber.Ctx) error { return c.SendString("ok") })
	g := app.Group("/v2")
	g.Get("/things", func(c *fiber.Ctx) error { return c.SendString("ok") })
	h := app.Handler()
	fc := &fasthttp.RequestCtx{}
	for _, tc := range []struct {
		path   string
		status int
		used   int64
	}{
		{"/api/items/1", 200, 1},
		{"/API/Items/2", 200, 2},  // case-insensitive by default
		{"/api/items/3/", 200, 3}, // trailing slash ignored by default
		{"/api", 404, 3},
		{"/api/nope", 404, 3},
		{"/v2/things", 200, 4},
		{"/v2/nope", 404, 4},
	} {
		if got := serve(h, fc, tc.path, "client-r"); got != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, got, tc.status)
		}
		o, err := b.Status(context.Background(), "client-r")
		if err != nil {
			t.Fatal(err)
		}
		if got := o.Quota(0).Used; got != core.Whole(tc.used) {
			t.Errorf("after %s: used %v, want %d", tc.path, got, tc.used)
		}
	}
}

type recordHandler struct{ out *[]string }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.Key + "=" + a.Value.String(); return true })
	*h.out = append(*h.out, line)
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// ctxStore records the context value of ctxKey that Deduct sees.
type ctxStore struct {
	*memory.Store
	seen []any
}

type ctxKey struct{}

func (s *ctxStore) Deduct(ctx context.Context, op *core.Op) (core.Result, error) {
	s.seen = append(s.seen, ctx.Value(ctxKey{}))
	return s.Store.Deduct(ctx, op)
}

// TestUserContext checks that the charge is made under the context a
// handler before the middleware set with SetUserContext, and under a
// context without it when none was set (the middleware reads Fiber's user
// context as c.UserContext does).
func TestUserContext(t *testing.T) {
	st := &ctxStore{Store: memory.New()}
	b := core.New(st, core.WithClock(func() time.Time { return testNow }))
	if err := b.SetQuotas("client-aaaa", core.Quota{Period: core.Day, Limit: core.Whole(100)}); err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		if c.Path() == "/with" {
			c.SetUserContext(context.WithValue(context.Background(), ctxKey{}, "set"))
		}
		return c.Next()
	})
	app.Use(fiberbilling.New(fiberbilling.Config{Billing: b, Identity: fiberbilling.Header("X-API-Key")}))
	app.Get("/*", func(c *fiber.Ctx) error { return c.SendStatus(200) })
	h := app.Handler()
	for _, path := range []string{"/with", "/without", "/with"} {
		// A new RequestCtx per request: fasthttp clears the user values,
		// where Fiber keeps the user context, after each request.
		if got := serve(h, &fasthttp.RequestCtx{}, path, "client-aaaa"); got != 200 {
			t.Fatalf("%s: status %d", path, got)
		}
	}
	if want := []any{"set", nil, "set"}; len(st.seen) != len(want) || st.seen[0] != want[0] || st.seen[1] != want[1] || st.seen[2] != want[2] {
		t.Errorf("context values the store saw = %v, want %v", st.seen, want)
	}
}
