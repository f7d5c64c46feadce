package fiberbilling

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// New returns a middleware for app.Use (or a group) that bills every
// request that a route serves to the client that Config.Identity finds, one
// credit each unless Config.Cost, Config.CostFunc or Config.Routes say
// otherwise. It is NewMiddleware(config...).Handler(). It panics if
// Config.Billing or Config.Identity is nil.
//
// A Fiber middleware in app.Use runs before the route is known, so the
// middleware finds it itself: the first of the app's routes (other than
// app.Use's) registered for the request's method whose pattern matches the
// path (fiber.RoutePatternMatch, with the app's CaseSensitive and
// StrictRouting). Requests no route serves (Fiber's 404 and 405) are not
// charged; the route's pattern labels the usage and selects the cost of
// Config.Routes. The match of each path is remembered (up to 4096 paths per
// app; routes added later are seen).
func New(config ...Config) fiber.Handler { return NewMiddleware(config...).Handler() }

// Middleware is a configured billing middleware from which route-level
// handlers are derived, with the configured cost or their own. It is safe
// for concurrent use.
//
// Its handlers can be combined freely: a request that passes the global
// [Middleware.Handler] (in app.Use) and a route-level [Middleware.Cost] is
// charged once, at the route-level cost.
type Middleware struct {
	cfg     Config
	meter   *httpbilling.Meter
	routes  routeIndexes
	wrapped wrappedApps
	// keyInList says that the idempotency key header is one fasthttp keeps
	// in its list of headers (not Host, Content-Type and the like), whose
	// keys PeekKeys lists.
	keyInList bool
}

// NewMiddleware returns a Middleware configured by config. It panics if
// Config.Billing or Config.Identity is nil, a cost of Config.Routes is not
// set, or a header name is not a valid HTTP field name.
func NewMiddleware(config ...Config) *Middleware {
	cfg := configDefault(config...)
	if cfg.Billing == nil {
		panic("fiberbilling: NewMiddleware expects a non-nil Config.Billing")
	}
	if cfg.Identity == nil {
		panic("fiberbilling: NewMiddleware expects a non-nil Config.Identity")
	}
	if cfg.Cost.IsSet() {
		httpbilling.CheckCost("fiberbilling: Config.Cost", cfg.Cost)
	}
	httpbilling.CheckRoutes("fiberbilling: Config.Routes", cfg.Routes)
	m := &Middleware{cfg: cfg, meter: httpbilling.NewMeter(cfg.meterConfig())}
	m.keyInList = !specialHeader(m.meter.KeyHeader())
	return m
}

// specialHeader reports whether fasthttp's RequestHeader keeps the header
// name (canonical) apart from its list of headers.
func specialHeader(name string) bool {
	switch name {
	case fiber.HeaderHost, fiber.HeaderContentType, fiber.HeaderUserAgent, fiber.HeaderConnection,
		fiber.HeaderContentLength, fiber.HeaderCookie, fiber.HeaderTrailer:
		return true
	}
	return false
}

// Handler returns a handler with the configured cost: Config.Cost,
// Config.CostFunc and Config.Routes. It works in app.Use (see [New]), on a
// group and on a route.
func (m *Middleware) Handler() fiber.Handler {
	var f func(*fiber.Ctx) (core.Credits, error)
	if m.cfg.CostFunc != nil {
		f = m.cfg.CostFunc
	}
	return m.handler(&httpbilling.Handler[*fiber.Ctx]{Cost: m.cfg.Cost, CostFunc: f, Table: true})
}

// Cost returns a route-level handler that bills cost, such as
// core.Whole(5), with the middleware's other settings. It panics if cost is
// not set or above [core.MaxCredits].
func (m *Middleware) Cost(cost core.Credits) fiber.Handler {
	httpbilling.CheckCost("fiberbilling: Cost: the cost", cost)
	return m.handler(&httpbilling.Handler[*fiber.Ctx]{Cost: cost})
}

// CostFunc returns a route-level handler that bills the cost f computes
// from the request, with the middleware's other settings. It panics if f is
// nil.
func (m *Middleware) CostFunc(f CostFunc) fiber.Handler {
	if f == nil {
		panic("fiberbilling: CostFunc expects a non-nil function")
	}
	return m.handler(&httpbilling.Handler[*fiber.Ctx]{CostFunc: f})
}

func (m *Middleware) handler(h *httpbilling.Handler[*fiber.Ctx]) fiber.Handler {
	cfg := &m.cfg
	h.Meter = m.meter
	h.Identity = cfg.Identity
	h.Skip = cfg.Next
	h.Label = cfg.Label
	h.Volatile = true
	h.Denied = errorHandler(cfg.DenyHandler)
	h.Failed = errorHandler(cfg.ErrorHandler)
	h.Unidentified = errorHandler(cfg.IdentityHandler)
	io := fiberIO{m}
	return func(c *fiber.Ctx) error { return h.Serve(io, c) }
}

func errorHandler(h ErrorHandler) func(*fiber.Ctx, error) error {
	if h == nil {
		return nil
	}
	return h
}

// fiberIO is Fiber's request I/O for the shared layer.
type fiberIO struct{ m *Middleware }

func (fiberIO) Context(c *fiber.Ctx) context.Context {
	// c.UserContext(), without storing context.Background() in the
	// request's user values when no handler has set a context (fasthttp
	// clears them after each request, so UserContext stores it anew on
	// every request): the key is Fiber's (userContextKey).
	if ctx, ok := c.Context().UserValue(userContextKey).(context.Context); ok {
		return ctx
	}
	return context.Background()
}

// userContextKey is the user value under which Fiber keeps the context
// that Ctx.SetUserContext sets (TestUserContext checks that it is still
// Fiber's).
const userContextKey = "__local_user_context__"

// Header returns the idempotency key header, the only one the shared layer
// reads. Most requests carry none: fasthttp's Peek would copy and
// normalise the name before finding that out, so the keys of the list of
// headers are searched for the name first (it is canonical, the form
// fasthttp keeps keys in, or the form Peek compares as it is when the app
// disables normalising).
func (io fiberIO) Header(c *fiber.Ctx, name string) string {
	if io.m.keyInList {
		found := false
		for _, k := range c.Request().Header.PeekKeys() {
			if string(k) == name {
				found = true
				break
			}
		}
		if !found {
			return ""
		}
	}
	return c.Get(name)
}

func (io fiberIO) Route(c *fiber.Ctx) httpbilling.Route {
	method := c.Method()
	pattern, ok := io.m.routes.match(c.App(), method, c.Path())
	return httpbilling.Route{Method: method, Pattern: pattern, Matched: ok}
}

func (fiberIO) SetHeaders(c *fiber.Ctx, hs *httpbilling.Headers) {
	h := &c.Response().Header
	for i := range hs.Len() {
		h.SetCanonical(hs.NameBytes(i), hs.Bytes(i)) // copied; the name is canonical already
	}
}

func (fiberIO) DelHeaders(c *fiber.Ctx, hs *httpbilling.Headers) {
	h := &c.Response().Header
	for i := range hs.Len() {
		h.Del(hs.Name(i))
	}
}

func (fiberIO) Write(c *fiber.Ctx, status int, body []byte) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, httpbilling.ProblemContentType)
	c.Response().SetBody(body) // copied
	return nil
}

func (fiberIO) Next(c *fiber.Ctx) (int, error) {
	err := c.Next()
	return statusOf(c, err), err
}

func (fiberIO) Load(c *fiber.Ctx) *httpbilling.State { return load(c) }

// Store keeps st in c.Locals (fasthttp's user values, which c.Locals
// wraps: called directly, without its variadic argument).
func (fiberIO) Store(c *fiber.Ctx, st *httpbilling.State) { c.Context().SetUserValue(stateKey, st) }

func (fiberIO) Restore(c *fiber.Ctx, _, prev *httpbilling.State) {
	if prev == nil {
		c.Context().SetUserValue(stateKey, nil) // an untyped nil, as if never set
		return
	}
	c.Context().SetUserValue(stateKey, prev)
}

// Fail hands a failure the middleware answered (500, 503) to the app's
// error handler when it is wrapped with [WrapErrorHandler], which keeps the
// answer; otherwise it logs it with Config.Logger.
func (io fiberIO) Fail(c *fiber.Ctx, a httpbilling.Answer, err error) error {
	if !a.Report {
		return nil
	}
	if io.m.wrapped.wrapped(c.App()) {
		return &AnsweredError{Status: a.Status, Err: err}
	}
	io.m.meter.Logger().LogAttrs(c.UserContext(), slog.LevelError, "apibilling: request not billed",
		slog.Int("status", a.Status), slog.String("method", c.Method()), slog.Any("error", err))
	return nil
}

// statusOf returns the status of the handler's answer: the one set, or the
// one Fiber's error handler will write for err.
func statusOf(c *fiber.Ctx, err error) int {
	if err == nil {
		return c.Response().StatusCode()
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	var ae *AnsweredError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return fiber.StatusInternalServerError
}
