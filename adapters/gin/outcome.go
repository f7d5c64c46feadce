package ginbilling

import (
	"github.com/gin-gonic/gin"

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
// being handled: the middleware keeps its state in the context of
// c.Request, and once the middleware is done OutcomeFrom reports false,
// also for a c.Copy() made earlier.
func OutcomeFrom(c *gin.Context) (core.Outcome, bool) {
	return httpbilling.StateFrom(c.Request).Outcome()
}
