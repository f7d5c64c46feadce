package ginbilling

import "github.com/frappy-go/apibilling/httpbilling"

// Errors of client identity, checked with [errors.Is]; an [Identity]
// returns them to answer 401.
var (
	// ErrNoIdentity: the request carries no client identity.
	ErrNoIdentity = httpbilling.ErrNoIdentity
	// ErrUnknownClient: the request's identity, such as an API key, names
	// no client.
	ErrUnknownClient = httpbilling.ErrUnknownClient
)

// CostError is the error of [BadCost]: a custom error handler reads its
// Status and Detail with errors.As.
type CostError = httpbilling.CostError

// BadCost returns the error a [CostFunc] returns to answer status (400 to
// 599) with detail as the problem's detail, instead of 500, for example
// when a request parameter that sets the cost is malformed. Nothing is
// charged.
func BadCost(status int, detail string) error {
	return &httpbilling.CostError{Status: status, Detail: detail}
}

// StatusOf returns the status the middleware answers for err, for handlers
// set with [WithDeniedHandler], [WithErrorHandler] and
// [WithIdentityHandler]: 429 quota exceeded, 403 client without quotas, 401
// identity, 400 malformed idempotency key, 422 key reused, the status of
// [BadCost], 503 store unavailable, 500 otherwise.
func StatusOf(err error) int { return httpbilling.StatusOf(err) }
