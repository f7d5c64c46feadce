package fiberbilling

import (
	"github.com/gofiber/fiber/v2"

	"github.com/frappy-go/apibilling/core"
)

type outcomeKey struct{}

// OutcomeFrom returns the outcome of the request's charge, for a handler
// behind the middleware: remaining credits, renewal and the most
// constrained quota ([core.Outcome.Lowest]). It reports false for a request
// that was skipped or passed unbilled because the store failed.
//
// The outcome is valid only until the handler returns: the middleware then
// reuses its memory for another request. To keep it, copy the value
// (o := *outcome); it holds no string of Fiber's buffers.
func OutcomeFrom(c *fiber.Ctx) (*core.Outcome, bool) {
	o, ok := c.Locals(outcomeKey{}).(*core.Outcome)
	return o, ok
}
