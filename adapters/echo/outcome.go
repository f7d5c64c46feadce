package echobilling

import (
	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/internal/httpbilling"
)

// inflight holds the charges of the requests being handled, by their
// *echo.Response (one per context, kept across its requests): unlike
// c.Set, it allocates nothing per request.
var inflight httpbilling.Requests[echo.Response]

// OutcomeFrom returns the outcome of the request's charge, for a handler
// behind the middleware: remaining credits, renewal and the most
// constrained quota ([core.Outcome.Lowest]). It reports false for a request
// that was skipped or passed unbilled because the store failed.
//
// It answers while the request is handled (read it before starting a
// goroutine) and finds the request by c.Response(), which a middleware
// must not replace with c.SetResponse between the billing and the
// handler. The outcome is valid only until the handler returns: the
// middleware then reuses its memory for another request. To keep it,
// copy the value (o := *outcome).
func OutcomeFrom(c echo.Context) (*core.Outcome, bool) {
	if ch := inflight.Get(c.Response()); ch != nil {
		return &ch.Outcome, true
	}
	return nil, false
}
