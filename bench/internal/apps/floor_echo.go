package apps

import (
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/core"
)

// floorState is what [EchoFloor] keeps per request: the charge and its
// outcome, taken from a pool as the middleware's State is.
type floorState struct {
	charge  core.Charge
	outcome core.Outcome
}

var floorStates = sync.Pool{New: func() any { return new(floorState) }}

// floorKey is [KeyHeader] in canonical form, looked up without
// normalizing it per request.
var floorKey = http.CanonicalHeaderKey(KeyHeader)

// floorStateKey is the key of the request-scoped value of [EchoFloor].
const floorStateKey = "apibilling.floor"

// EchoFloor returns the least an echo middleware can do that bills as
// apibilling's does, written out by hand: the client from the API key
// header and the key table, one credit charged with the route as its label
// into a pooled outcome, the outcome stored for the handler with echo's
// own request-scoped storage (c.Set) when set is true, the next handler,
// and the state returned to its pool. It sets no headers, refunds nothing,
// never answers 429 with a body, and lets no second billing middleware
// or handler find the charge when set is false: it is a floor to measure
// apibilling's adapter against, not a middleware to use.
func EchoFloor(b *core.Billing, set bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			key := c.Request().Header[floorKey]
			if len(key) == 0 {
				return echo.ErrUnauthorized
			}
			client, ok := lookup(key[0])
			if !ok {
				return echo.ErrUnauthorized
			}
			st := floorStates.Get().(*floorState)
			defer floorStates.Put(st)
			st.charge = core.Charge{Client: client, Cost: core.Whole(1), Label: c.Path()}
			if err := b.ChargeInto(c.Request().Context(), &st.outcome, &st.charge); err != nil {
				return echo.NewHTTPError(http.StatusTooManyRequests).SetInternal(err)
			}
			if set {
				c.Set(floorStateKey, st)
			}
			return next(c)
		}
	}
}
