package fiberbilling

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/internal/httpbilling"
)

// Config configures the middleware. Zero values mean the documented
// defaults; Billing and Identity are required.
type Config struct {
	// Next defines a function to skip this middleware when it returns true:
	// the request passes unbilled and without rate-limit headers.
	//
	// Optional. Default: nil
	Next func(c *fiber.Ctx) bool

	// Billing charges the requests.
	//
	// Required.
	Billing *core.Billing

	// Identity finds the client of a request.
	//
	// Required.
	Identity Identity

	// Cost is the cost of a request billed by [New] and [Middleware.Handler]
	// when CostFunc is nil. To bill nothing, use [Middleware.Cost](0).
	//
	// Optional. Default: 1 credit (core.Credit)
	Cost core.Credits

	// CostFunc computes the cost of a request billed by [New] and
	// [Middleware.Handler] from the request.
	//
	// Optional. Default: nil (use Cost)
	CostFunc CostFunc

	// Label returns the label under which a request's usage is reported per
	// day; it is copied. In app.Use the route is not known yet: c.Path() is
	// the raw path, which may hold IDs and grow the reports without bound.
	//
	// Optional. Default: the route pattern, c.Route().Path, in the handlers
	// of a Middleware; no label with New
	Label func(c *fiber.Ctx) string

	// Refund reports whether a request whose handler answered status (or
	// returned a *fiber.Error of that status) is refunded.
	//
	// Optional. Default: status >= 500
	Refund func(status int) bool

	// FailOpen lets requests pass to their handlers, unbilled and without
	// rate-limit headers, when the store fails; the failure is logged.
	//
	// Optional. Default: false (fail closed: 503 with Retry-After)
	FailOpen bool

	// StoreRetryAfter is the Retry-After of the 503 answered when the store
	// fails, rounded up to whole seconds.
	//
	// Optional. Default: 1 * time.Second
	StoreRetryAfter time.Duration

	// Logger receives store failures passed with FailOpen and failed
	// refunds.
	//
	// Optional. Default: slog.Default()
	Logger *slog.Logger

	// DenyHandler answers a refused request: 429 (err is a
	// *core.QuotaExceededError) or 403 (err wraps core.ErrNoQuotas). The
	// rate-limit headers and Retry-After are already set.
	//
	// Optional. Default: the problem+json body of the HTTP behaviour
	DenyHandler ErrorHandler

	// ErrorHandler answers a request whose cost or billing failed: 500
	// (invalid cost), the status of [BadCost], or 503 (err wraps
	// core.ErrStoreUnavailable; Retry-After is set).
	//
	// Optional. Default: problem+json
	ErrorHandler ErrorHandler

	// IdentityHandler answers a request without a valid client identity
	// (401).
	//
	// Optional. Default: problem+json
	IdentityHandler ErrorHandler

	// DisableLegacyHeaders leaves out X-RateLimit-Limit, -Remaining and
	// -Reset.
	//
	// Optional. Default: false (sent)
	DisableLegacyHeaders bool

	// DisableDraftHeaders leaves out RateLimit-Policy and RateLimit
	// (draft-ietf-httpapi-ratelimit-headers).
	//
	// Optional. Default: false (sent)
	DisableDraftHeaders bool

	// LimitHeader, RemainingHeader and ResetHeader rename the legacy triple.
	// Header names are case-insensitive; like every header of the
	// middleware, they are sent in canonical form, as fasthttp normalises
	// names by default (X-RateLimit-Limit is sent as X-Ratelimit-Limit).
	//
	// Optional. Default: "X-RateLimit-Limit", "X-RateLimit-Remaining",
	// "X-RateLimit-Reset"
	LimitHeader, RemainingHeader, ResetHeader string
}

// ConfigDefault is the default config, without the required Billing and
// Identity.
var ConfigDefault = Config{
	Cost: core.Credit,
}

// CostFunc returns the cost of a request, for costs that depend on it.
// Returning an error charges nothing: [BadCost] answers its own status
// (such as 400), other errors answer 500.
type CostFunc func(c *fiber.Ctx) (core.Credits, error)

// ErrorHandler answers a request the middleware does not pass to its
// handler; err says why (see [StatusOf]). Its text may
// name the client: do not send it in the response. What it returns is what the
// middleware returns, such as a *fiber.Error for Fiber's error handler.
type ErrorHandler func(c *fiber.Ctx, err error) error

// configDefault returns the config with its defaults set.
func configDefault(config ...Config) Config {
	if len(config) < 1 {
		return ConfigDefault
	}
	cfg := config[0]
	if cfg.Cost == 0 {
		cfg.Cost = ConfigDefault.Cost
	}
	return cfg
}

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
	}
}
