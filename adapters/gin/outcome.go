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
// like. Call OutcomeFrom on the context the middleware saw, while the
// request is being handled (before c.Copy()): the request's billing state
// is reused once it is done.
func OutcomeFrom(c *gin.Context) (core.Outcome, bool) {
	return load(c).Outcome()
}

// stateKey is the key of a request's billing state in c.Keys.
type stateKey struct{}

func load(c *gin.Context) *httpbilling.State {
	v, _ := c.Get(stateKey{})
	st, _ := v.(*httpbilling.State)
	return st
}
