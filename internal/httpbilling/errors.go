package httpbilling

import (
	"errors"
	"strconv"

	"github.com/frappy-go/apibilling/core"
)

// Errors of client identity, checked with [errors.Is]. An identity function
// returns them, or errors that wrap them, to answer 401.
var (
	// ErrNoIdentity: the request carries no client identity (no API key,
	// no bearer token).
	ErrNoIdentity = errors.New("apibilling: no client identity")
	// ErrUnknownClient: the request carries an identity, such as an API key,
	// that names no client.
	ErrUnknownClient = errors.New("apibilling: unknown client")
)

// CostError is the error a cost function returns to answer with its own
// status and detail instead of 500, for example 400 when a request
// parameter that sets the cost is malformed. Nothing is charged.
type CostError struct {
	// Status is the HTTP status to answer, 400 to 599; any other value
	// answers 500.
	Status int
	// Detail is the problem's detail, sent to the client.
	Detail string
}

// Error returns the detail with a package prefix.
func (e *CostError) Error() string { return "apibilling: bad cost: " + e.Detail }

// status returns the status to answer for e.
func (e *CostError) status() int {
	if e.Status < 400 || e.Status > 599 {
		return 500
	}
	return e.Status
}

// StatusOf returns the status the middleware answers for err: 0 for nil,
// 429 for [core.ErrQuotaExceeded], 403 for [core.ErrNoQuotas], 401 for
// [ErrNoIdentity], [ErrUnknownClient] and [core.ErrInvalidClient], the
// status of a [*CostError], 503 for [core.ErrStoreUnavailable], and 500
// otherwise (an invalid cost included).
func StatusOf(err error) int {
	if err == nil {
		return 0
	}
	if _, ok := err.(*core.QuotaExceededError); ok {
		return 429
	}
	var ce *CostError
	switch {
	case errors.Is(err, core.ErrQuotaExceeded):
		return 429
	case errors.Is(err, core.ErrNoQuotas):
		return 403
	case errors.Is(err, ErrNoIdentity), errors.Is(err, ErrUnknownClient), errors.Is(err, core.ErrInvalidClient):
		return 401
	case errors.As(err, &ce):
		return ce.status()
	case errors.Is(err, core.ErrStoreUnavailable):
		return 503
	}
	return 500
}

// IsNoIdentity reports whether err is, or wraps, [ErrNoIdentity].
func IsNoIdentity(err error) bool {
	return err == ErrNoIdentity || errors.Is(err, ErrNoIdentity)
}

// CheckCost panics with prefix if cost cannot be charged: a constant cost
// is a configuration mistake found at start-up.
func CheckCost(prefix string, cost core.Credits) {
	if cost < 0 || cost > core.MaxCredits {
		panic(prefix + ": cost " + cost.String() + " is not between 0 and core.MaxCredits")
	}
}

// CheckHeaderNames panics with prefix if a configured header name, such as
// cfg.LimitHeader, is neither empty (the default) nor a valid HTTP field
// name: a configuration mistake found at start-up.
func CheckHeaderNames(prefix string, cfg *Config) {
	for _, name := range []string{cfg.LimitHeader, cfg.RemainingHeader, cfg.ResetHeader} {
		if name != "" && !validHeaderName(name) {
			panic(prefix + ": header name " + strconv.Quote(name) + " is not a valid HTTP field name")
		}
	}
}
