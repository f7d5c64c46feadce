package ginbilling

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/internal/httpbilling"
)

// New returns a middleware that bills every request it handles to the
// client that id finds, one credit each unless [WithCost] or
// [WithCostFunc] say otherwise. It is NewMiddleware(b, id, opts...).Handler().
func New(b *core.Billing, id Identity, opts ...Option) gin.HandlerFunc {
	return NewMiddleware(b, id, opts...).Handler()
}

// Middleware is a configured billing middleware from which route-level
// handlers with their own costs are derived. It is safe for concurrent use.
//
// A request must be billed by one handler only: use [Middleware.Handler] on
// a group, or one handler per route, not both on one route.
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
// It panics if b or id is nil, or if a name of [WithHeaderNames] is not a
// valid HTTP field name.
func NewMiddleware(b *core.Billing, id Identity, opts ...Option) *Middleware {
	if b == nil {
		panic("ginbilling: NewMiddleware expects a non-nil Billing")
	}
	if id == nil {
		panic("ginbilling: NewMiddleware expects a non-nil Identity")
	}
	m := &Middleware{cfg: config{id: id, cost: core.Credit}}
	m.cfg.meter.Billing = b
	for _, o := range opts {
		o(&m.cfg)
	}
	httpbilling.CheckHeaderNames("ginbilling: WithHeaderNames", &m.cfg.meter)
	m.meter = httpbilling.NewMeter(m.cfg.meter)
	return m
}

// Handler returns the middleware with the configured cost: one credit, or
// as [WithCost] or [WithCostFunc] set.
func (m *Middleware) Handler() gin.HandlerFunc { return m.handler(m.cfg.cost, m.cfg.costFunc) }

// Cost returns a route-level handler that bills cost, such as
// 5*core.Credit, with the middleware's other options. It panics if cost is negative or
// above [core.MaxCredits].
func (m *Middleware) Cost(cost core.Credits) gin.HandlerFunc {
	httpbilling.CheckCost("ginbilling: Cost", cost)
	return m.handler(cost, nil)
}

// CostFunc returns a route-level handler that bills the cost f computes
// from the request, with the middleware's other options. It panics if f is
// nil.
func (m *Middleware) CostFunc(f CostFunc) gin.HandlerFunc {
	if f == nil {
		panic("ginbilling: CostFunc expects a non-nil function")
	}
	return m.handler(0, f)
}

func (m *Middleware) handler(cost core.Credits, costFunc CostFunc) gin.HandlerFunc {
	label := m.cfg.label
	if label == nil {
		label = (*gin.Context).FullPath // the route pattern
	}
	return func(c *gin.Context) {
		cfg := &m.cfg
		if cfg.skip != nil && cfg.skip(c) {
			c.Next()
			return
		}
		ctx := c.Request.Context()
		ch := httpbilling.NewCharge()
		httpbilling.Decide(ctx, m.meter, ch, c, cfg.id, cost, costFunc, label)
		ch.SetHeaders(c.Writer.Header()) // copied: the map outlives ch
		if ch.Status != 0 {
			m.answer(c, ch) // writes the body: the writer does not keep it
			c.Abort()
			ch.Release()
			return
		}
		billed := ch.Billed
		if billed {
			inflight.Put(c, ch) // for OutcomeFrom
		}
		handled := false
		defer func() {
			if billed {
				inflight.Delete(c) // before the release: no handler finds ch
			}
			if !handled { // the handler panicked: a recovery middleware answers 500
				m.meter.Finish(ctx, ch, http.StatusInternalServerError)
			}
			ch.Release()
		}()
		c.Next()
		handled = true
		m.meter.Finish(ctx, ch, c.Writer.Status())
	}
}

// answer writes the response of a request that does not pass.
func (m *Middleware) answer(c *gin.Context, ch *httpbilling.Charge) {
	var h ErrorHandler
	switch ch.Kind() {
	case httpbilling.Denied:
		h = m.cfg.denied
	case httpbilling.Unidentified:
		h = m.cfg.unidentified
	default:
		_ = c.Error(ch.Err)
		h = m.cfg.failed
	}
	if h != nil {
		h(c, ch.Err)
		return
	}
	c.Data(ch.Status, httpbilling.ProblemContentType, ch.Problem())
}
