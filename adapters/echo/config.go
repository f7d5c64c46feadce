package echobilling

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// Config configures the middleware. Zero values mean the documented
// defaults; Billing and Identity are required.
type Config struct {
	// Skipper defines a function to skip the middleware: a skipped request
	// passes unbilled and without rate-limit headers.
	// It has the type of Echo's middleware.Skipper.
	// Optional. Default: nil (bill every request).
	Skipper func(c echo.Context) bool

	// Billing charges the requests. Required.
	Billing *core.Billing

	// Identity finds the client of a request. Required.
	Identity Identity

	// Cost is the cost of a request billed by [Middleware.Handler] (and
	// [New], [NewWithConfig]) when CostFunc is nil, such as core.Whole(2);
	// core.Whole(0) bills nothing.
	// Optional. Default: 1 credit (the zero, unset Credits).
	Cost core.Credits

	// CostFunc computes the cost of a request billed by [Middleware.Handler]
	// from the request.
	// Optional. Default: nil (use Cost).
	CostFunc CostFunc

	// Routes gives routes their own costs in [Middleware.Handler] (and
	// [New], [NewWithConfig]), for a global middleware: route pattern ->
	// cost, such as {"/api/fetch-expensive-data": core.Whole(5)}, a key
	// optionally starting with a method ("GET /api/report"). Patterns are
	// echo's (c.Path()): "/items/:id". A route-level middleware still wins:
	// the request is charged once, at its cost.
	// Optional. Default: none.
	Routes map[string]core.Credits

	// KeyHeader is the request header that carries an idempotency key.
	// Optional. Default: "Idempotency-Key".
	KeyHeader string

	// Label returns the label under which a request's usage is reported per
	// day.
	// Optional. Default: the route pattern, c.Path().
	Label func(c echo.Context) string

	// Refund reports whether a request whose handler answered status (or
	// returned an error of that status) is refunded.
	// Optional. Default: status >= 500 (a panic counts as 500).
	Refund func(status int) bool

	// Observer receives each billed or refused request's outcome and
	// route, for metrics, such as the Prometheus collector of
	// metrics/prometheus.
	// Optional. Default: nil (none, at no cost).
	Observer httpbilling.Observer

	// FailOpen lets requests pass to their handlers, unbilled and without
	// rate-limit headers, when the store fails; the failure is logged.
	// Optional. Default: false (fail closed: 503 with Retry-After).
	FailOpen bool

	// StoreRetryAfter is the Retry-After of the 503 answered when the store
	// fails, rounded up to whole seconds.
	// Optional. Default: 1 second.
	StoreRetryAfter time.Duration

	// Logger receives store failures passed with FailOpen and failed
	// refunds.
	// Optional. Default: slog.Default().
	Logger *slog.Logger

	// DenyHandler answers a refused request: 429 (err is a
	// [*core.QuotaExceededError], or wraps [core.ErrUsageOverflow]) or 403 (err wraps [core.ErrNoQuotas]). The
	// rate-limit headers and Retry-After are already set.
	// Optional. Default: the problem+json body of the HTTP behaviour.
	DenyHandler ErrorHandler

	// ErrorHandler answers a request whose cost, key or billing failed:
	// 400 (a malformed Idempotency-Key), 422 (a key reused for another
	// charge), 500 (invalid cost), the status of [BadCost], or 503 (err
	// wraps [core.ErrStoreUnavailable]; Retry-After is set).
	// Optional. Default: problem+json.
	ErrorHandler ErrorHandler

	// IdentityHandler answers a request without a valid client identity
	// (401).
	// Optional. Default: problem+json.
	IdentityHandler ErrorHandler

	// DisableLegacyHeaders leaves out X-RateLimit-Limit, -Remaining and
	// -Reset.
	// Optional. Default: false (sent).
	DisableLegacyHeaders bool

	// DisableDraftHeaders leaves out RateLimit-Policy and RateLimit
	// (draft-ietf-httpapi-ratelimit-headers).
	// Optional. Default: false (sent).
	DisableDraftHeaders bool

	// LimitHeader, RemainingHeader and ResetHeader rename the legacy triple.
	// Names are case-insensitive: each is stored under its canonical key
	// (http.CanonicalHeaderKey) in c.Response().Header(), where Get finds it;
	// it is sent as X-Ratelimit-Limit for X-RateLimit-Limit.
	// Optional. Default: X-RateLimit-Limit, X-RateLimit-Remaining,
	// X-RateLimit-Reset.
	LimitHeader, RemainingHeader, ResetHeader string
}

// DefaultConfig is the default configuration, without the required Billing
// and Identity: one credit per request.
var DefaultConfig = Config{}

// CostFunc returns the cost of a request, for costs that depend on it.
// Returning an error charges nothing: [BadCost] answers its own status
// (such as 400), other errors answer 500. Returning the zero Credits (not
// set) is an invalid cost: 500, nothing charged.
type CostFunc func(c echo.Context) (core.Credits, error)

// ErrorHandler answers a request the middleware does not pass to its
// handler; err says why (see [StatusOf]). Its text may
// name the client: do not send it in the response. What it returns is what the
// middleware returns, such as an [*echo.HTTPError] for Echo's error handler.
// It replaces the default answer and its error.
type ErrorHandler func(c echo.Context, err error) error

func (cfg *Config) meterConfig() httpbilling.Config {
	return httpbilling.Config{
		Billing:         cfg.Billing,
		NoLegacyHeaders: cfg.DisableLegacyHeaders,
		NoDraftHeaders:  cfg.DisableDraftHeaders,
		LimitHeader:     cfg.LimitHeader,
		RemainingHeader: cfg.RemainingHeader,
		ResetHeader:     cfg.ResetHeader,
		FailOpen:        cfg.FailOpen,
		StoreRetryAfter: cfg.StoreRetryAfter,
		Logger:          cfg.Logger,
		Refund:          cfg.Refund,
		Observer:        cfg.Observer,
		Routes:          cfg.Routes,
		KeyHeader:       cfg.KeyHeader,
	}
}
