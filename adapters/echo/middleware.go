package echobilling

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"

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
	notFound sync.Map // *echo.Echo -> *notFoundPaths
	// lastNotFound is the entry of notFound last used: nearly every
	// middleware serves one Echo, found here without a map look-up.
	lastNotFound atomic.Pointer[notFoundPaths]
}

// notFoundPaths are the paths of the RouteNotFound routes of an Echo.
type notFoundPaths struct {
	e     *echo.Echo
	paths map[string]bool
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
	return m.middleware(&httpbilling.Handler[echoReq]{Cost: m.cfg.Cost, CostFunc: adaptCost(m.cfg.CostFunc), Table: true})
}

// Cost returns a route-level middleware that bills cost, such as
// core.Whole(5), with the middleware's other settings. It panics if cost is
// not set or above [core.MaxCredits].
func (m *Middleware) Cost(cost core.Credits) echo.MiddlewareFunc {
	httpbilling.CheckCost("echobilling: Cost: the cost", cost)
	return m.middleware(&httpbilling.Handler[echoReq]{Cost: cost})
}

// CostFunc returns a route-level middleware that bills the cost f computes
// from the request, with the middleware's other settings. It panics if f is
// nil.
func (m *Middleware) CostFunc(f CostFunc) echo.MiddlewareFunc {
	if f == nil {
		panic("echobilling: CostFunc expects a non-nil function")
	}
	return m.middleware(&httpbilling.Handler[echoReq]{CostFunc: adaptCost(f)})
}

func (m *Middleware) middleware(h *httpbilling.Handler[echoReq]) echo.MiddlewareFunc {
	cfg := &m.cfg
	h.Meter = m.meter
	id := cfg.Identity
	h.Identity = func(r echoReq) (string, error) { return id(r.c) }
	if skip := cfg.Skipper; skip != nil {
		h.Skip = func(r echoReq) bool { return skip(r.c) }
	}
	if label := cfg.Label; label != nil {
		h.Label = func(r echoReq) string { return label(r.c) }
	}
	h.Denied = errorHandler(cfg.DenyHandler)
	h.Failed = errorHandler(cfg.ErrorHandler)
	h.Unidentified = errorHandler(cfg.IdentityHandler)
	io := &echoIO{m}
	// Echo applies the middleware of e.Use anew to every request: the
	// closure is all that this allocates per request.
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return h.Serve(io, echoReq{c, next}) }
	}
}

// echoReq is a request passing one billing middleware: its context and
// the rest of its handler chain.
type echoReq struct {
	c    echo.Context
	next echo.HandlerFunc
}

func adaptCost(f CostFunc) func(echoReq) (core.Credits, error) {
	if f == nil {
		return nil
	}
	return func(r echoReq) (core.Credits, error) { return f(r.c) }
}

func errorHandler(h ErrorHandler) func(echoReq, error) error {
	if h == nil {
		return nil
	}
	return func(r echoReq, err error) error { return h(r.c, err) }
}

// echoIO is echo's request I/O for the shared layer.
type echoIO struct{ m *Middleware }

func (*echoIO) Context(r echoReq) context.Context { return r.c.Request().Context() }

func (*echoIO) Header(r echoReq, name string) string {
	if vs := r.c.Request().Header[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// notFoundPC is the code of echo's NotFoundHandler.
var notFoundPC = reflect.ValueOf(echo.NotFoundHandler).Pointer()

func (io *echoIO) Route(r echoReq) httpbilling.Route {
	c := r.c
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
	nf := m.lastNotFound.Load()
	if nf == nil || nf.e != e {
		v, ok := m.notFound.Load(e)
		if !ok {
			paths := map[string]bool{}
			for _, r := range e.Routes() {
				if r.Method == echo.RouteNotFound {
					paths[r.Path] = true
				}
			}
			v, _ = m.notFound.LoadOrStore(e, &notFoundPaths{e, paths})
		}
		nf = v.(*notFoundPaths)
		m.lastNotFound.Store(nf)
	}
	return len(nf.paths) > 0 && nf.paths[path]
}

func (*echoIO) SetHeaders(r echoReq, hs *httpbilling.Headers) {
	hs.SetIn(r.c.Response().Header())
}

func (*echoIO) DelHeaders(r echoReq, hs *httpbilling.Headers) {
	hs.DelIn(r.c.Response().Header())
}

func (*echoIO) Write(r echoReq, status int, body []byte) error {
	return r.c.Blob(status, httpbilling.ProblemContentType, body)
}

func (*echoIO) Next(r echoReq) (int, error) {
	err := r.next(r.c)
	return statusOf(r.c, err), err
}

func (*echoIO) Load(r echoReq) *httpbilling.State { return httpbilling.StateFrom(r.c.Request()) }

// Store hands the rest of the chain a request whose context carries st:
// cheaper than c.Set, whose map echo allocates for the first key of each
// request.
func (*echoIO) Store(r echoReq, st *httpbilling.State) {
	r.c.SetRequest(httpbilling.WithState(r.c.Request(), st))
}

func (*echoIO) Restore(r echoReq, _, _ *httpbilling.State) {
	r.c.SetRequest(httpbilling.WithoutState(r.c.Request()))
}

// Fail returns the failure as echo's own middleware do: an *echo.HTTPError
// whose Internal is err. Its body is written already: echo's error handler
// sees a committed response and writes nothing.
func (*echoIO) Fail(_ echoReq, a httpbilling.Answer, err error) error {
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
