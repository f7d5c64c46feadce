package echobilling

import (
	"github.com/labstack/echo/v4"

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
// like. Call OutcomeFrom while the request is being handled: the request's
// billing state is reused once it is done.
func OutcomeFrom(c echo.Context) (core.Outcome, bool) { return load(c).Outcome() }

// stateKey is the key of a request's billing state in the context's store
// (echo's keys are strings: this one is the package's own).
const stateKey = "github.com/frappy-go/apibilling/adapters/echo.state"

func load(c echo.Context) *httpbilling.State {
	st, _ := c.Get(stateKey).(*httpbilling.State)
	return st
}
