package ginbilling

import (
	"github.com/gin-gonic/gin"

	"github.com/frappy-go/apibilling/core"
)

type outcomeKey struct{}

// OutcomeFrom returns the outcome of the request's charge, for a handler
// behind the middleware: remaining credits, renewal and the most
// constrained quota ([core.Outcome.Lowest]). It reports false for a request
// that was skipped or passed unbilled because the store failed.
func OutcomeFrom(c *gin.Context) (*core.Outcome, bool) {
	v, ok := c.Get(outcomeKey{})
	if !ok {
		return nil, false
	}
	o, ok := v.(*core.Outcome)
	return o, ok
}
