// Package fiberbilling bills Fiber requests in credits with apibilling:
// each request is charged to its client's quotas before its handler runs,
// and refused with 429 and rate-limit headers when a quota would be
// overdrawn. Every adapter (Gin, Echo, Fiber) answers identically: see the
// HTTP behaviour in the project README.
//
// The shortest use bills every route one credit to the client named by the
// X-API-Key header:
//
//	b := core.New(memory.New())
//	_ = b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: 500 * core.Credit})
//	app := fiber.New()
//	app.Use(fiberbilling.New(fiberbilling.Config{Billing: b, Identity: fiberbilling.Header("X-API-Key")}))
//
// Here the header's value is the client ID. To keep client IDs private and
// let a client hold several keys, map keys to clients with [MapKey]:
// fiberbilling.MapKey(fiberbilling.Header("X-API-Key"), lookup).
//
// In app.Use the route is not known yet, so [New] reports usage without a
// label unless Config.Label sets one. Route-level handlers label usage with
// the route pattern (c.Route().Path) and can have their own costs: make one
// [Middleware] and derive a handler per route; the identity and every other
// setting are shared:
//
//	bill := fiberbilling.NewMiddleware(fiberbilling.Config{Billing: b,
//		Identity: fiberbilling.FirstOf(fiberbilling.Header("X-API-Key"), fiberbilling.Bearer())})
//	app.Get("/fetch-data", bill.Handler(), fetchData)                 // 1 credit
//	app.Get("/fetch-expensive-data", bill.Cost(5*core.Credit), fetch) // 5 credits
//	app.Get("/compute", bill.CostFunc(unitsCost), compute)            // from the request
//
// Inside the handler, [OutcomeFrom] returns the charge's outcome: remaining
// credits, renewal, the most constrained quota.
//
// Strings read from a Fiber context point into buffers Fiber reuses. The
// middleware copies what it keeps (the billing keeps its own copy of the
// client ID, and a label from Config.Label is copied); an [Identity] or
// [CostFunc] that keeps a string beyond its call must copy it too.
package fiberbilling
