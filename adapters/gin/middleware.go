package ginbilling

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// New returns a middleware that bills every request it handles to the
// client that id finds, one credit each unless [WithCost], [WithCostFunc]
// or [WithRoutes] say otherwise. It is NewMiddleware(b, id, opts...).Handler().
func New(b *core.Billing, id Identity, opts ...Option) gin.HandlerFunc {
	return NewMiddleware(b, id, opts...).Handler()
}

// Middleware is a configured billing middleware from which route-level
// handlers with their own costs are derived. It is safe for concurrent use.
//
// Its handlers can be combined freely: a request that passes the global
// [Middleware.Handler] (in r.Use) and a route-level [Middleware.Cost] is
// charged once, at the route-level cost.
type Middleware struct {
	cfg   config
	meter *httpbilling.Meter
}

type config struct {
	id           Identity
	cost         core.Credits
	costFunc     CostFunc
	skip         func(*gin.Context) bool
	label        func(*gin.Context) string
	denied       ErrorHandler
	failed       ErrorHandler
	unidentified ErrorHandler
	meter        httpbilling.Config
}

// NewMiddleware returns a Middleware that bills the client that id finds.
// It panics if b or id is nil, or if a name of [WithHeaderNames] or
// [WithKeyHeader] is not a valid HTTP field name.
func NewMiddleware(b *core.Billing, id Identity, opts ...Option) *Middleware {
	if b == nil {
		panic("ginbilling: NewMiddleware expects a non-nil Billing")
	}
	if id == nil {
		panic("ginbilling: NewMiddleware expects a non-nil Identity")
	}
	m := &Middleware{cfg: config{id: id}}
	m.cfg.meter.Billing = b
	for _, o := range opts {
		o(&m.cfg)
	}
	m.meter = httpbilling.NewMeter(m.cfg.meter)
	return m
}

// Handler returns the middleware with the configured cost: one credit, or
// as [WithCost], [WithCostFunc] and [WithRoutes] set. Use it in r.Use or
// on a group or route; requests no route serves (gin's 404 and 405) are
// not charged.
func (m *Middleware) Handler() gin.HandlerFunc {
	var f func(*gin.Context) (core.Credits, error)
	if m.cfg.costFunc != nil {
		f = m.cfg.costFunc
	}
	return m.handler(&httpbilling.Handler[*gin.Context]{Cost: m.cfg.cost, CostFunc: f, Table: true})
}

// Cost returns a route-level handler that bills cost, such as
// core.Whole(5), with the middleware's other options. It panics if cost is
// not set or above [core.MaxCredits].
func (m *Middleware) Cost(cost core.Credits) gin.HandlerFunc {
	httpbilling.CheckCost("ginbilling: Cost: the cost", cost)
	return m.handler(&httpbilling.Handler[*gin.Context]{Cost: cost})
}

// CostFunc returns a route-level handler that bills the cost f computes
// from the request, with the middleware's other options. It panics if f is
// nil.
func (m *Middleware) CostFunc(f CostFunc) gin.HandlerFunc {
	if f == nil {
		panic("ginbilling: CostFunc expects a non-nil function")
	}
	return m.handler(&httpbilling.Handler[*gin.Context]{CostFunc: f})
}

func (m *Middleware) handler(h *httpbilling.Handler[*gin.Context]) gin.HandlerFunc {
	cfg := &m.cfg
	h.Meter = m.meter
	h.Identity = cfg.id
	h.Skip = cfg.skip
	h.Label = cfg.label
	h.Denied = custom(cfg.denied)
	h.Failed = custom(cfg.failed)
	h.Unidentified = custom(cfg.unidentified)
	return func(c *gin.Context) { _ = h.Serve(ginIO{}, c) }
}

// custom returns h as the shared layer calls it.
func custom(h ErrorHandler) func(*gin.Context, error) error {
	if h == nil {
		return nil
	}
	return func(c *gin.Context, err error) error {
		h(c, err)
		c.Abort()
		return nil
	}
}

// ginIO is gin's request I/O for the shared layer.
type ginIO struct{}

func (ginIO) Context(c *gin.Context) context.Context { return c.Request.Context() }

func (ginIO) Header(c *gin.Context, name string) string {
	if vs := c.Request.Header[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (ginIO) Route(c *gin.Context) httpbilling.Route {
	p := c.FullPath() // "" for gin's 404 and 405
	return httpbilling.Route{Method: c.Request.Method, Pattern: p, Matched: p != ""}
}

func (ginIO) SetHeaders(c *gin.Context, hs *httpbilling.Headers) { hs.SetIn(c.Writer.Header()) }
func (ginIO) DelHeaders(c *gin.Context, hs *httpbilling.Headers) { hs.DelIn(c.Writer.Header()) }

func (ginIO) Write(c *gin.Context, status int, body []byte) error {
	c.Data(status, httpbilling.ProblemContentType, body)
	c.Abort()
	return nil
}

func (ginIO) Next(c *gin.Context) (int, error) {
	c.Next()
	return c.Writer.Status(), nil
}

func (ginIO) Load(c *gin.Context) *httpbilling.State { return httpbilling.StateFrom(c.Request) }

// Store hands the rest of the chain a request whose context carries st,
// as otelgin hands it its span: cheaper than c.Set, whose map gin
// allocates for the first key of each request.
func (ginIO) Store(c *gin.Context, st *httpbilling.State) {
	c.Request = httpbilling.WithState(c.Request, st)
}

func (ginIO) Restore(c *gin.Context, _, _ *httpbilling.State) {
	c.Request = httpbilling.WithoutState(c.Request)
}

func (ginIO) Fail(c *gin.Context, a httpbilling.Answer, err error) error {
	if a.Report {
		_ = c.Error(err) // for the application's error log
	}
	return nil
}
