package httpbilling

import (
	"errors"
	"net/http"

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
// parameter that sets the cost is malformed. Nothing is charged. Each
// adapter's BadCost returns one; a custom error handler reads it with
// errors.As.
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
		return http.StatusInternalServerError
	}
	return e.Status
}

// Kind is what the middleware's answer to a request is, and so which
// handler gives it: the denied, identity or error handler of an adapter.
type Kind uint8

// The kinds of answer.
const (
	// Pass: the request goes to its handler.
	Pass Kind = iota
	// Denied: 429, a quota refused (or a usage counter is full); 403, the
	// client has no quotas. The denied handler answers.
	Denied
	// Unidentified: 401, the request names no valid client. The identity
	// handler answers.
	Unidentified
	// Failed: the cost, the idempotency key or the store failed: 400, 422,
	// 500, 503 or the status of a [*CostError]. The error handler answers.
	Failed
)

// String names the kind: "pass", "denied", "unidentified" or "failed".
func (k Kind) String() string {
	switch k {
	case Denied:
		return "denied"
	case Unidentified:
		return "unidentified"
	case Failed:
		return "failed"
	}
	return "pass"
}

// Answer is how the middleware answers an error: the one row of [Classify]'s
// table that matches it.
type Answer struct {
	// Status is the HTTP status, 0 for a nil error.
	Status int
	// Kind says which handler answers.
	Kind Kind
	// Detail is the problem's detail: a sentence for the client that never
	// holds a client ID, a key, or an internal error's text.
	Detail string
	// Report is true for the failures that are the server's (5xx other
	// than a cost function's own status): the adapters hand them to the
	// framework's error path (gin's c.Error, echo's HTTPError, fiber's
	// error handler) or log them (net/http).
	Report bool
}

// Details of the problems the middleware answers.
const (
	detailNoIdentity    = "The request does not identify a client."
	detailUnknownClient = "The client identity is not recognized."
	detailInvalidClient = "The client identity is not valid."
	detailNoQuotas      = "You do not have any available quota"
	detailOverflow      = "Your usage cannot be counted any further in the current window."
	detailInvalidKey    = "The Idempotency-Key must be 1 to 255 visible ASCII characters."
	detailConflict      = "This Idempotency-Key was already used for a request of another cost or route."
	detailInvalidCost   = "The cost of this request could not be determined."
	detailStore         = "Billing is temporarily unavailable. Retry later."
	detailInternal      = "The request could not be billed."
)

// rule is one row of the error table.
type rule struct {
	is     error // matched with errors.Is
	answer Answer
}

// table is the one place where an error becomes a status, a handler kind
// and a problem detail. It is read in order; [*core.QuotaExceededError]
// and [*CostError] come first, matched by type.
var table = [...]rule{
	{core.ErrQuotaExceeded, Answer{http.StatusTooManyRequests, Denied, "", false}},
	{core.ErrUsageOverflow, Answer{http.StatusTooManyRequests, Denied, detailOverflow, false}},
	{core.ErrNoQuotas, Answer{http.StatusForbidden, Denied, detailNoQuotas, false}},
	{ErrNoIdentity, Answer{http.StatusUnauthorized, Unidentified, detailNoIdentity, false}},
	{ErrUnknownClient, Answer{http.StatusUnauthorized, Unidentified, detailUnknownClient, false}},
	{core.ErrInvalidClient, Answer{http.StatusUnauthorized, Unidentified, detailInvalidClient, false}},
	{core.ErrInvalidKey, Answer{http.StatusBadRequest, Failed, detailInvalidKey, false}},
	{core.ErrIdempotencyConflict, Answer{http.StatusUnprocessableEntity, Failed, detailConflict, false}},
	{core.ErrInvalidCost, Answer{http.StatusInternalServerError, Failed, detailInvalidCost, true}},
	{core.ErrStoreUnavailable, Answer{http.StatusServiceUnavailable, Failed, detailStore, true}},
}

// internal is the answer to any other error, such as an identity
// function's own failure or a label that is too long.
var internal = Answer{http.StatusInternalServerError, Failed, detailInternal, true}

// Classify returns how the middleware answers err: status, handler kind,
// problem detail, and whether the failure is reported to the framework.
// A nil error passes.
//
//	429 Denied        core.ErrQuotaExceeded, core.ErrUsageOverflow
//	403 Denied        core.ErrNoQuotas
//	401 Unidentified  ErrNoIdentity, ErrUnknownClient, core.ErrInvalidClient
//	4xx/5xx Failed    *CostError (its status and detail)
//	400 Failed        core.ErrInvalidKey (a malformed Idempotency-Key)
//	422 Failed        core.ErrIdempotencyConflict
//	500 Failed        core.ErrInvalidCost, and any other error
//	503 Failed        core.ErrStoreUnavailable
func Classify(err error) Answer {
	if err == nil {
		return Answer{}
	}
	if _, ok := err.(*core.QuotaExceededError); ok {
		return table[0].answer
	}
	var ce *CostError
	if errors.As(err, &ce) {
		s := ce.status()
		return Answer{Status: s, Kind: Failed, Detail: ce.Detail, Report: ce.Status >= 500 || s != ce.Status}
	}
	for i := range table {
		if errors.Is(err, table[i].is) {
			return table[i].answer
		}
	}
	return internal
}

// StatusOf returns the status the middleware answers for err, as
// [Classify] says: 0 for nil.
func StatusOf(err error) int { return Classify(err).Status }

// IsNoIdentity reports whether err is, or wraps, [ErrNoIdentity].
func IsNoIdentity(err error) bool {
	return err == ErrNoIdentity || errors.Is(err, ErrNoIdentity)
}
