package fiberbilling

import (
	"github.com/gofiber/fiber/v2"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// stateKey is the key of a request's billing state in c.Locals: a
// pointer, which fasthttp compares with the keys it holds more cheaply than
// a value of an empty struct type.
var stateKey = new(stateKeyType)

type stateKeyType byte

// OutcomeFrom returns the outcome of the request's charge, for a handler
// behind the middleware: the cost, remaining credits, renewal and the most
// constrained quota ([core.Outcome.Lowest]). It reports false for a request
// that was skipped, that no route serves, or that passed unbilled because
// the store failed.
//
// The outcome is a copy that holds no string of Fiber's buffers: keep it,
// or hand it to a goroutine, as long as you like. Call OutcomeFrom while
// the request is being handled: the request's billing state is reused once
// it is done.
func OutcomeFrom(c *fiber.Ctx) (core.Outcome, bool) { return load(c).Outcome() }

func load(c *fiber.Ctx) *httpbilling.State {
	st, _ := c.Context().UserValue(stateKey).(*httpbilling.State)
	return st
}
