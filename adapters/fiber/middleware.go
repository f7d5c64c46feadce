package fiberbilling

import (
	"errors"
	"strings"
	"unsafe"

	"github.com/gofiber/fiber/v2"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/internal/httpbilling"
)

// New returns a middleware for app.Use (or a group) that bills every
// request to the client that Config.Identity finds, one credit each unless
// Config.Cost or Config.CostFunc say otherwise. In app.Use the route is not
// known yet, so usage is reported without a label unless Config.Label sets
// one; the handlers of [Middleware] label it with the route pattern. It
// panics if Config.Billing or Config.Identity is nil.
func New(config ...Config) fiber.Handler {
	m := NewMiddleware(config...)
	return m.handler(m.cfg.Cost, m.cfg.CostFunc, false)
}

// Middleware is a configured billing middleware from which route-level
// handlers are derived, with the configured cost or their own. They label
// usage with the route pattern, c.Route().Path. It is safe for concurrent
// use.
//
// A request must be billed by one handler only: use [New] in app.Use, or
// one handler per route, not both on one route.
type Middleware struct {
	cfg   Config
	meter *httpbilling.Meter
}

// NewMiddleware returns a Middleware configured by config. It panics if
// Config.Billing or Config.Identity is nil, or a header name is not a valid
// HTTP field name.
func NewMiddleware(config ...Config) *Middleware {
	cfg := configDefault(config...)
	if cfg.Billing == nil {
		panic("fiberbilling: NewMiddleware expects a non-nil Config.Billing")
	}
	if cfg.Identity == nil {
		panic("fiberbilling: NewMiddleware expects a non-nil Config.Identity")
	}
	httpbilling.CheckCost("fiberbilling: Config.Cost", cfg.Cost)
	mc := cfg.meterConfig()
	httpbilling.CheckHeaderNames("fiberbilling: Config", &mc)
	return &Middleware{cfg: cfg, meter: httpbilling.NewMeter(mc)}
}

// Handler returns a route-level handler with the configured cost:
// Config.Cost or Config.CostFunc. (In app.Use, where the route is not known,
// it would label usage with the prefix of app.Use: use [New] there.)
func (m *Middleware) Handler() fiber.Handler { return m.handler(m.cfg.Cost, m.cfg.CostFunc, true) }

// Cost returns a route-level handler that bills cost, such as
// 5*core.Credit, with the middleware's other settings. It panics if cost is negative
// or above [core.MaxCredits].
func (m *Middleware) Cost(cost core.Credits) fiber.Handler {
	httpbilling.CheckCost("fiberbilling: Cost", cost)
	return m.handler(cost, nil, true)
}

// CostFunc returns a route-level handler that bills the cost f computes
// from the request, with the middleware's other settings. It panics if f is
// nil.
func (m *Middleware) CostFunc(f CostFunc) fiber.Handler {
	if f == nil {
		panic("fiberbilling: CostFunc expects a non-nil function")
	}
	return m.handler(0, f, true)
}

// handler returns a handler billing cost, or what costFunc computes; with
// route, it labels usage with the route pattern by default.
func (m *Middleware) handler(cost core.Credits, costFunc CostFunc, route bool) fiber.Handler {
	cfg := &m.cfg
	var label func(*fiber.Ctx) string
	switch {
	case cfg.Label != nil:
		label = func(c *fiber.Ctx) string { return strings.Clone(cfg.Label(c)) } // out of Fiber's buffers
	case route:
		label = func(c *fiber.Ctx) string { return c.Route().Path } // the route's own string: safe to keep
	}
	return func(c *fiber.Ctx) error {
		if cfg.Next != nil && cfg.Next(c) {
			return c.Next()
		}
		ctx := c.UserContext()
		ch := httpbilling.NewCharge()
		httpbilling.Decide(ctx, m.meter, ch, c, cfg.Identity, cost, costFunc, label)
		h := &c.Response().Header
		for i := range ch.NumHeaders() {
			name, value := ch.Header(i)
			h.SetCanonical(bytesOf(name), bytesOf(value)) // copied
		}
		if ch.Status != 0 {
			err := m.answer(c, ch) // copies the body
			ch.Release()
			return err
		}
		billed := ch.Billed
		if billed {
			c.Locals(outcomeKey{}, &ch.Outcome)
		}
		handled := false
		defer func() {
			if billed {
				c.Locals(outcomeKey{}, nil) // before the release: no handler finds ch
			}
			if !handled { // the handler panicked: a recovery middleware answers 500
				m.meter.Finish(ctx, ch, fiber.StatusInternalServerError)
			}
			ch.Release()
		}()
		err := c.Next()
		handled = true
		m.meter.Finish(ctx, ch, statusOf(c, err))
		return err
	}
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
	return fiber.StatusInternalServerError
}

// answer answers a request that does not pass.
func (m *Middleware) answer(c *fiber.Ctx, ch *httpbilling.Charge) error {
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
	c.Status(ch.Status)
	c.Set(fiber.HeaderContentType, httpbilling.ProblemContentType)
	c.Response().SetBody(ch.Problem()) // copied
	return nil
}

// bytesOf returns the bytes of s, to be read only.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
