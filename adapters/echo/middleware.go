package echobilling

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// New returns a middleware that bills every request one credit to the
// client that id finds, with [DefaultConfig].
func New(b *core.Billing, id Identity) echo.MiddlewareFunc {
	cfg := DefaultConfig
	cfg.Billing, cfg.Identity = b, id
	return NewWithConfig(cfg)
}

// NewWithConfig returns a middleware configured by cfg. It panics if
// cfg.Billing or cfg.Identity is nil.
func NewWithConfig(cfg Config) echo.MiddlewareFunc { return NewMiddleware(cfg).Handler() }

// Middleware is a configured billing middleware from which route-level
// middleware with their own costs are derived. It is safe for concurrent
// use.
//
// Its middleware can be combined freely: a request that passes the global
// [Middleware.Handler] (in e.Use) and a route-level [Middleware.Cost] is
// charged once, at the route-level cost.
type Middleware struct {
	cfg      Config
	meter    *httpbilling.Meter
	notFound sync.Map // *echo.Echo -> map[string]bool: the paths of its RouteNotFound routes
}

// NewMiddleware returns a Middleware configured by cfg. It panics if
// cfg.Billing or cfg.Identity is nil, a cost of cfg.Routes is not set, or a
// header name is not a valid HTTP field name.
func NewMiddleware(cfg Config) *Middleware {
	if cfg.Billing == nil {
		panic("echobilling: NewMiddleware expects a non-nil Config.Billing")
	}
	if cfg.Identity == nil {
		panic("echobilling: NewMiddleware expects a non-nil Config.Identity")
	}
	if cfg.Cost.IsSet() {
		httpbilling.CheckCost("echobilling: Config.Cost", cfg.Cost)
	}
	httpbilling.CheckRoutes("echobilling: Config.Routes", cfg.Routes)
	return &Middleware{cfg: cfg, meter: httpbilling.NewMeter(cfg.meterConfig())}
}

// Handler returns the middleware with the configured cost: Config.Cost,
// Config.CostFunc, and Config.Routes. Use it in e.Use, on a group or on a
// route; requests no route serves (echo's 404 and 405) are not charged.
func (m *Middleware) Handler() echo.MiddlewareFunc {
	var f func(echo.Context) (core.Credits, error)
	if m.cfg.CostFunc != nil {
		f = m.cfg.CostFunc
	}
	return m.middleware(&httpbilling.Handler[echo.Context]{Cost: m.cfg.Cost, CostFunc: f, Table: true})
}

// Cost returns a route-level middleware that bills cost, such as
// core.Whole(5), with the middleware's other settings. It panics if cost is
// not set or above [core.MaxCredits].
func (m *Middleware) Cost(cost core.Credits) echo.MiddlewareFunc {
	httpbilling.CheckCost("echobilling: Cost: the cost", cost)
	return m.middleware(&httpbilling.Handler[echo.Context]{Cost: cost})
}

// CostFunc returns a route-level middleware that bills the cost f computes
// from the request, with the middleware's other settings. It panics if f is
// nil.
func (m *Middleware) CostFunc(f CostFunc) echo.MiddlewareFunc {
	if f == nil {
		panic("echobilling: CostFunc expects a non-nil function")
	}
	return m.middleware(&httpbilling.Handler[echo.Context]{CostFunc: f})
}

func (m *Middleware) middleware(h *httpbilling.Handler[echo.Context]) echo.MiddlewareFunc {
	cfg := &m.cfg
	h.Meter = m.meter
	h.Identity = cfg.Identity
	h.Skip = cfg.Skipper
	h.Label = cfg.Label
	h.Denied = errorHandler(cfg.DenyHandler)
	h.Failed = errorHandler(cfg.ErrorHandler)
	h.Unidentified = errorHandler(cfg.IdentityHandler)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		io := echoIO{next: next, m: m}
		return func(c echo.Context) error { return h.Serve(io, c) }
	}
}

func errorHandler(h ErrorHandler) func(echo.Context, error) error {
	if h == nil {
		return nil
	}
	return h
}

// echoIO is echo's request I/O for the shared layer.
type echoIO struct {
	next echo.HandlerFunc
	m    *Middleware
}

func (echoIO) Context(c echo.Context) context.Context { return c.Request().Context() }

func (echoIO) Header(c echo.Context, name string) string {
	if vs := c.Request().Header[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// notFoundPC is the code of echo's NotFoundHandler.
var notFoundPC = reflect.ValueOf(echo.NotFoundHandler).Pointer()

func (io echoIO) Route(c echo.Context) httpbilling.Route {
	p := c.Path()
	matched := p != "" &&
		reflect.ValueOf(c.Handler()).Pointer() != notFoundPC && // 404
		c.Get(echo.ContextKeyHeaderAllow) == nil && // 405, or an OPTIONS echo answers itself
		!io.m.notFoundRoute(c.Echo(), p) // a RouteNotFound route
	return httpbilling.Route{Method: c.Request().Method, Pattern: p, Matched: matched}
}

// notFoundRoute reports whether path is that of a RouteNotFound route of
// e, from e's routes when it first served a request.
func (m *Middleware) notFoundRoute(e *echo.Echo, path string) bool {
	v, ok := m.notFound.Load(e)
	if !ok {
		paths := map[string]bool{}
		for _, r := range e.Routes() {
			if r.Method == echo.RouteNotFound {
				paths[r.Path] = true
			}
		}
		v, _ = m.notFound.LoadOrStore(e, paths)
	}
	return v.(map[string]bool)[path]
}

func (echoIO) SetHeaders(c echo.Context, hs *httpbilling.Headers) {
	hs.SetIn(c.Response().Header())
}

func (echoIO) DelHeaders(c echo.Context, hs *httpbilling.Headers) {
	hs.DelIn(c.Response().Header())
}

func (echoIO) Write(c echo.Context, status int, body []byte) error {
	return c.Blob(status, httpbilling.ProblemContentType, body)
}

func (io echoIO) Next(c echo.Context) (int, error) {
	err := io.next(c)
	return statusOf(c, err), err
}

func (echoIO) Load(c echo.Context) *httpbilling.State { return load(c) }

func (echoIO) Store(c echo.Context, st *httpbilling.State) {
	if st == nil {
		c.Set(stateKey, nil)
		return
	}
	c.Set(stateKey, st)
}

// Fail returns the failure as echo's own middleware do: an *echo.HTTPError
// whose Internal is err. Its body is written already: echo's error handler
// sees a committed response and writes nothing.
func (echoIO) Fail(c echo.Context, a httpbilling.Answer, err error) error {
	if !a.Report {
		return nil
	}
	return &echo.HTTPError{Code: a.Status, Message: a.Detail, Internal: err}
}

// statusOf returns the status of the handler's answer: the one written,
// or the one Echo's error handler will write for err.
func statusOf(c echo.Context, err error) int {
	if err == nil || c.Response().Committed {
		return c.Response().Status
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	return http.StatusInternalServerError
}
