package ginbilling

import (
	"github.com/gin-gonic/gin"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/internal/httpbilling"
)

// inflight holds the charges of the requests being handled, by context:
// unlike c.Set, it allocates nothing per request.
var inflight httpbilling.Requests[gin.Context]

// OutcomeFrom returns the outcome of the request's charge, for a handler
// behind the middleware: remaining credits, renewal and the most
// constrained quota ([core.Outcome.Lowest]). It reports false for a request
// that was skipped or passed unbilled because the store failed.
//
// It answers while the request is handled, for the context the middleware
// saw: read it before starting a goroutine (gin's c.Copy() is another
// context). The outcome is valid only until the handler returns: the
// middleware then reuses its memory for another request. To keep it,
// copy the value (o := *outcome).
func OutcomeFrom(c *gin.Context) (*core.Outcome, bool) {
	if ch := inflight.Get(c); ch != nil {
		return &ch.Outcome, true
	}
	return nil, false
}
