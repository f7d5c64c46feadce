package nethttpbilling

import (
	"net/http"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// New returns a middleware that bills every request it handles to the
// client that id finds, one credit each unless [WithCost], [WithCostFunc]
// or [WithRoutes] say otherwise. It is NewMiddleware(b, id, opts...).Handler.
func New(b *core.Billing, id Identity, opts ...Option) func(http.Handler) http.Handler {
	return NewMiddleware(b, id, opts...).Handler
}

// Middleware is a configured billing middleware from which route-level
// handlers with their own costs are derived. It is safe for concurrent use.
//
// Its handlers can be combined freely: a request that passes the global
// [Middleware.Handler] and a route-level [Middleware.Cost] is charged once,
// at the route-level cost.
type Middleware struct {
	cfg   config
	meter *httpbilling.Meter
}

// NewMiddleware returns a Middleware that bills the client that id finds.
// It panics if b or id is nil, or if a header name of [WithHeaderNames] or
// [WithKeyHeader] is not a valid HTTP field name.
func NewMiddleware(b *core.Billing, id Identity, opts ...Option) *Middleware {
	if b == nil {
		panic("nethttpbilling: NewMiddleware expects a non-nil Billing")
	}
	if id == nil {
		panic("nethttpbilling: NewMiddleware expects a non-nil Identity")
	}
	m := &Middleware{cfg: config{id: id}}
	m.cfg.meter.Billing = b
	for _, o := range opts {
		o(&m.cfg)
	}
	m.meter = httpbilling.NewMeter(m.cfg.meter)
	return m
}

// Handler wraps next with the middleware's configured cost: one credit, or
// as [WithCost], [WithCostFunc] and [WithRoutes] set. When next is an
// [http.ServeMux], the route is found before routing, so that requests it
// does not serve (404, 405, and its redirects) are not charged.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return m.handler(next, &httpbilling.Handler[*request]{Cost: m.cfg.cost, CostFunc: adaptCost(m.cfg.costFunc), Table: true})
}

// Cost returns a route-level middleware that bills cost, such as
// core.Whole(5), with the middleware's other options. It panics if cost is
// not set or above [core.MaxCredits].
func (m *Middleware) Cost(cost core.Credits) func(http.Handler) http.Handler {
	httpbilling.CheckCost("nethttpbilling: Cost: the cost", cost)
	return func(next http.Handler) http.Handler {
		return m.handler(next, &httpbilling.Handler[*request]{Cost: cost})
	}
}

// CostFunc returns a route-level middleware that bills the cost f computes
// from the request, with the middleware's other options. It panics if f is
// nil.
func (m *Middleware) CostFunc(f CostFunc) func(http.Handler) http.Handler {
	if f == nil {
		panic("nethttpbilling: CostFunc expects a non-nil function")
	}
	return func(next http.Handler) http.Handler {
		return m.handler(next, &httpbilling.Handler[*request]{CostFunc: adaptCost(f)})
	}
}

// handler completes h with the middleware's settings and serves next.
func (m *Middleware) handler(next http.Handler, h *httpbilling.Handler[*request]) http.Handler {
	if next == nil {
		panic("nethttpbilling: the middleware expects a non-nil next handler")
	}
	cfg := &m.cfg
	h.Meter = m.meter
	id := cfg.id
	h.Identity = func(c *request) (string, error) { return id(c.r) }
	if cfg.skip != nil {
		skip := cfg.skip
		h.Skip = func(c *request) bool { return skip(c.r) }
	}
	if cfg.label != nil {
		label := cfg.label
		h.Label = func(c *request) string { return label(c.r) }
	}
	h.Denied = adaptHandler(cfg.denied)
	h.Failed = adaptHandler(cfg.failed)
	h.Unidentified = adaptHandler(cfg.unidentified)
	mux, _ := next.(router)
	return &handler{h: h, next: next, mux: mux, router: cfg.router, meter: m.meter}
}

func adaptCost(f CostFunc) func(*request) (core.Credits, error) {
	if f == nil {
		return nil
	}
	return func(c *request) (core.Credits, error) { return f(c.r) }
}

// adaptHandler returns h as the shared layer calls it. A custom handler
// replaces the answer and the log: it logs what it wants.
func adaptHandler(h ErrorHandler) func(*request, error) error {
	if h == nil {
		return nil
	}
	return func(c *request, err error) error {
		h(c.w, c.r, err)
		return nil
	}
}

// handler is one billing handler wrapping next.
type handler struct {
	h      *httpbilling.Handler[*request]
	next   http.Handler
	mux    router // next, when it can find routes (a ServeMux)
	router Router
	meter  *httpbilling.Meter
}

// router is what a ServeMux offers to find the route of a request.
type router interface {
	Handler(r *http.Request) (h http.Handler, pattern string)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := requests.Get().(*request)
	c.h, c.r = h, r
	c.sw.ResponseWriter, c.sw.status = w, 0
	c.w = &c.sw
	_ = h.h.Serve(nethttpIO{}, c)
	*c = request{}
	requests.Put(c)
}
