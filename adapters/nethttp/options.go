package nethttpbilling

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// Option configures a [Middleware].
type Option func(*config)

// CostFunc returns the cost of a request, for costs that depend on it.
// Returning an error charges nothing: [BadCost] answers its own status
// (such as 400), other errors answer 500. Returning the zero Credits (not
// set) is an invalid cost: 500, nothing charged.
type CostFunc func(r *http.Request) (core.Credits, error)

// ErrorHandler answers a request the middleware does not pass to its
// handler; err says why (see [StatusOf]). Its text may name the client: do
// not send it in the response. The rate-limit headers and Retry-After are
// already set. It replaces the default answer and its log: log what you
// want.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// Router finds the route that serves a request, for routers other than
// [http.ServeMux]: its pattern, and false when no route serves it (the
// router's 404 or 405), so that it is not charged. See [WithRouter].
type Router func(r *http.Request) (pattern string, ok bool)

type config struct {
	id           Identity
	cost         core.Credits
	costFunc     CostFunc
	skip         func(*http.Request) bool
	label        func(*http.Request) string
	router       Router
	denied       ErrorHandler
	failed       ErrorHandler
	unidentified ErrorHandler
	meter        httpbilling.Config
}

// WithCost sets the cost of every request billed by [Middleware.Handler]
// (and [New]). Default: 1 credit; core.Whole(0) bills nothing but still
// answers the headers. It panics if cost is not set or above
// [core.MaxCredits].
func WithCost(cost core.Credits) Option {
	httpbilling.CheckCost("nethttpbilling: WithCost: the cost", cost)
	return func(c *config) { c.cost, c.costFunc = cost, nil }
}

// WithCostFunc computes the cost of every request billed by
// [Middleware.Handler] (and [New]) from the request.
func WithCostFunc(f CostFunc) Option {
	if f == nil {
		panic("nethttpbilling: WithCostFunc expects a non-nil function")
	}
	return func(c *config) { c.costFunc = f }
}

// WithRoutes gives routes their own costs in the middleware's
// [Middleware.Handler]: route pattern -> cost, such as
// {"/api/fetch-expensive-data": core.Whole(5)}, a key optionally starting
// with a method ("GET /api/report"). Patterns are ServeMux patterns
// without their method and host, or those of [WithRouter]. The route is
// found before routing when the middleware wraps an [http.ServeMux] (or
// has a Router); a route-level handler still wins (the request is charged
// once, at its cost). It panics if a cost is not set.
func WithRoutes(routes map[string]core.Credits) Option {
	httpbilling.CheckRoutes("nethttpbilling: WithRoutes", routes)
	return func(c *config) { c.meter.Routes = routes }
}

// WithRouter tells the middleware how to find the route of a request, for
// routers other than [http.ServeMux] (which it asks itself with Handler):
// the pattern labels and prices the request, and a request no route serves
// is not charged. The middleware calls it before routing, and in its
// route-level handlers too. Ask the router the way it routes. With chi,
// which routes the escaped path when the URL has one (so /a%2Fb is its
// 404, not /a/b):
//
//	nethttpbilling.WithRouter(func(r *http.Request) (string, bool) {
//		path := r.URL.RawPath
//		if path == "" {
//			path = r.URL.Path
//		}
//		rctx := chi.NewRouteContext()
//		if !router.Match(rctx, r.Method, path) {
//			return "", false
//		}
//		return rctx.RoutePattern(), true
//	})
//
// With gorilla/mux, whose Match reports true with a MatchErr when the
// router has a MethodNotAllowedHandler (a 405) or a NotFoundHandler (a
// 404), and which redirects a path that is not clean (such as /items/..)
// before matching, unless SkipClean:
//
//	nethttpbilling.WithRouter(func(r *http.Request) (string, bool) {
//		if r.URL.Path != cleanPath(r.URL.Path) { // path.Clean, keeping a trailing slash
//			return "", false
//		}
//		var m mux.RouteMatch
//		if !router.Match(r, &m) || m.MatchErr != nil {
//			return "", false
//		}
//		tpl, err := m.Route.GetPathTemplate()
//		return tpl, err == nil
//	})
//
// Both are tested on the adapters' conformance table (the module
// adapters/nethttp/routers of the repository). Route-level handlers
// without a Router read their route from r.Pattern, which ServeMux and chi
// set but gorilla/mux does not: with gorilla/mux, give a Router even
// without a global middleware, or usage is not labelled and an
// Idempotency-Key reused on another route is not told apart. Without a
// ServeMux or a Router, the global middleware cannot tell a 404 from a
// served request: it bills every request it sees, without a label.
func WithRouter(router Router) Option { return func(c *config) { c.router = router } }

// WithSkipper skips billing for the requests skip reports true for: they
// pass unbilled and without rate-limit headers.
func WithSkipper(skip func(r *http.Request) bool) Option {
	return func(c *config) { c.skip = skip }
}

// WithLabel sets the label under which a request's usage is reported.
// Default: the route pattern (r.Pattern without its method, or the
// [WithRouter] pattern).
func WithLabel(label func(r *http.Request) string) Option {
	return func(c *config) { c.label = label }
}

// WithRefund sets which statuses of the handler refund the request's
// charge. Default: status >= 500 (a panic counts as 500). A nil predicate
// never refunds.
func WithRefund(refund func(status int) bool) Option {
	if refund == nil {
		refund = func(int) bool { return false }
	}
	return func(c *config) { c.meter.Refund = refund }
}

// WithObserver sends each billed or refused request's outcome and route to
// o, for metrics, such as the Prometheus collector of metrics/prometheus.
// Default: none, at no cost.
func WithObserver(o httpbilling.Observer) Option {
	return func(c *config) { c.meter.Observer = o }
}

// WithFailOpen lets requests pass to their handlers, unbilled and without
// rate-limit headers, when the store fails; the failure is logged. Default:
// fail closed, answering 503 with Retry-After.
func WithFailOpen() Option { return func(c *config) { c.meter.FailOpen = true } }

// WithStoreRetryAfter sets the Retry-After of the 503 answered when the
// store fails, rounded up to whole seconds. Default: 1 second.
func WithStoreRetryAfter(d time.Duration) Option {
	return func(c *config) { c.meter.StoreRetryAfter = d }
}

// WithLogger sets the logger of the failures the middleware answers (500,
// 503), of store failures passed with [WithFailOpen] and of failed refunds.
// Default: [slog.Default].
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.meter.Logger = l } }

// WithKeyHeader renames the request header that carries an idempotency key.
// Default: Idempotency-Key.
func WithKeyHeader(name string) Option { return func(c *config) { c.meter.KeyHeader = name } }

// WithDeniedHandler replaces the answer to a refused request: 429 (err is a
// [*core.QuotaExceededError], or wraps [core.ErrUsageOverflow]) or 403
// (err wraps [core.ErrNoQuotas]). Default: the problem+json body of the
// HTTP behaviour.
func WithDeniedHandler(h ErrorHandler) Option { return func(c *config) { c.denied = h } }

// WithErrorHandler replaces the answer to a request whose cost, key or
// billing failed: 400 (a malformed Idempotency-Key), 422 (a key reused for
// another charge), 500 (invalid cost), the status of [BadCost], or 503
// (err wraps [core.ErrStoreUnavailable]). Default: problem+json.
func WithErrorHandler(h ErrorHandler) Option { return func(c *config) { c.failed = h } }

// WithIdentityHandler replaces the answer to a request without a valid
// client identity (401). Default: problem+json.
func WithIdentityHandler(h ErrorHandler) Option { return func(c *config) { c.unidentified = h } }

// WithoutLegacyHeaders leaves out the X-RateLimit-Limit, -Remaining and
// -Reset headers. Default: sent.
func WithoutLegacyHeaders() Option { return func(c *config) { c.meter.NoLegacyHeaders = true } }

// WithoutDraftHeaders leaves out the RateLimit-Policy and RateLimit headers
// of draft-ietf-httpapi-ratelimit-headers. Default: sent.
func WithoutDraftHeaders() Option { return func(c *config) { c.meter.NoDraftHeaders = true } }

// WithHeaderNames renames the legacy triple; an empty name keeps its
// default. Names are case-insensitive: each is stored under its canonical
// key (http.CanonicalHeaderKey), where h.Get finds it. Default:
// X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset. It panics if
// a name is not a valid header name.
func WithHeaderNames(limit, remaining, reset string) Option {
	return func(c *config) {
		c.meter.LimitHeader, c.meter.RemainingHeader, c.meter.ResetHeader = limit, remaining, reset
	}
}
