package echobilling

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/internal/httpbilling"
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
// A request must be billed by one middleware only: use
// [Middleware.Handler] on a group, or one per route, not both on one route.
type Middleware struct {
	cfg   Config
	meter *httpbilling.Meter
}

// NewMiddleware returns a Middleware configured by cfg. It panics if
// cfg.Billing or cfg.Identity is nil, or a header name is not a valid HTTP
// field name.
func NewMiddleware(cfg Config) *Middleware {
	if cfg.Billing == nil {
		panic("echobilling: NewMiddleware expects a non-nil Config.Billing")
	}
	if cfg.Identity == nil {
		panic("echobilling: NewMiddleware expects a non-nil Config.Identity")
	}
	if cfg.Cost == 0 {
		cfg.Cost = core.Credit
	}
	httpbilling.CheckCost("echobilling: Config.Cost", cfg.Cost)
	mc := cfg.meterConfig()
	httpbilling.CheckHeaderNames("echobilling: Config", &mc)
	return &Middleware{cfg: cfg, meter: httpbilling.NewMeter(mc)}
}

// Handler returns the middleware with the configured cost: Config.Cost or
// Config.CostFunc.
func (m *Middleware) Handler() echo.MiddlewareFunc { return m.middleware(m.cfg.Cost, m.cfg.CostFunc) }

// Cost returns a route-level middleware that bills cost, such as
// 5*core.Credit, with the middleware's other settings. It panics if cost is negative
// or above [core.MaxCredits].
func (m *Middleware) Cost(cost core.Credits) echo.MiddlewareFunc {
	httpbilling.CheckCost("echobilling: Cost", cost)
	return m.middleware(cost, nil)
}

// CostFunc returns a route-level middleware that bills the cost f computes
// from the request, with the middleware's other settings. It panics if f is
// nil.
func (m *Middleware) CostFunc(f CostFunc) echo.MiddlewareFunc {
	if f == nil {
		panic("echobilling: CostFunc expects a non-nil function")
	}
	return m.middleware(0, f)
}

func (m *Middleware) middleware(cost core.Credits, costFunc CostFunc) echo.MiddlewareFunc {
	cfg := &m.cfg
	label := cfg.Label
	if label == nil {
		label = echo.Context.Path // the route pattern
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper != nil && cfg.Skipper(c) {
				return next(c)
			}
			ctx := c.Request().Context()
			ch := httpbilling.NewCharge()
			httpbilling.Decide(ctx, m.meter, ch, c, cfg.Identity, cost, costFunc, label)
			ch.SetHeaders(c.Response().Header()) // copied: the map outlives ch
			if ch.Status != 0 {
				err := m.answer(c, ch) // writes the body: the writer does not keep it
				ch.Release()
				return err
			}
			billed, key := ch.Billed, c.Response()
			if billed {
				inflight.Put(key, ch) // for OutcomeFrom
			}
			handled := false
			defer func() {
				if billed {
					inflight.Delete(key) // before the release: no handler finds ch
				}
				if !handled { // the handler panicked: a recovery middleware answers 500
					m.meter.Finish(ctx, ch, http.StatusInternalServerError)
				}
				ch.Release()
			}()
			err := next(c)
			handled = true
			m.meter.Finish(ctx, ch, statusOf(c, err))
			return err
		}
	}
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

// answer answers a request that does not pass.
func (m *Middleware) answer(c echo.Context, ch *httpbilling.Charge) error {
	var h ErrorHandler
	switch ch.Kind() {
	case httpbilling.Denied:
		h = m.cfg.DenyHandler
	case httpbilling.Unidentified:
		h = m.cfg.IdentityHandler
	default:
		h = m.cfg.ErrorHandler
	}
	if h != nil {
		return h(c, ch.Err)
	}
	return c.Blob(ch.Status, httpbilling.ProblemContentType, ch.Problem())
}
