package echobilling

import (
	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/core"
)

// outcomeKey is the key of the outcome in the echo.Context store.
const outcomeKey = "github.com/frappy-go/apibilling/adapters/echo.outcome"

// OutcomeFrom returns the outcome of the request's charge, for a handler
// behind the middleware: remaining credits, renewal and the most
// constrained quota ([core.Outcome.Lowest]). It reports false for a request
// that was skipped or passed unbilled because the store failed.
func OutcomeFrom(c echo.Context) (*core.Outcome, bool) {
	o, ok := c.Get(outcomeKey).(*core.Outcome)
	return o, ok
}
