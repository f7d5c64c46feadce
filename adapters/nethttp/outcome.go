package nethttpbilling

import (
	"net/http"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// OutcomeFrom returns the outcome of the request's charge, for a handler
// behind the middleware: the cost, remaining credits, renewal and the most
// constrained quota ([core.Outcome.Lowest]). It reports false for a request
// that was skipped, that no route serves, or that passed unbilled because
// the store failed.
//
// The outcome is a copy: keep it, or hand it to a goroutine, as long as you
// like. Call OutcomeFrom on the request's goroutine while the request is
// being handled: once the middleware is done, it reports false.
func OutcomeFrom(r *http.Request) (core.Outcome, bool) {
	return httpbilling.StateFrom(r).Outcome()
}
