// Package echobilling bills Echo requests in credits with apibilling: each
// request is charged to its client's quotas before its handler runs, and
// refused with 429 and rate-limit headers when a quota would be overdrawn.
// Every adapter (Gin, Echo, Fiber) answers identically: see the HTTP
// behaviour in the project README.
//
// The shortest use bills every route one credit to the client named by the
// X-API-Key header:
//
//	b := core.New(memory.New())
//	_ = b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: 500 * core.Credit})
//	e := echo.New()
//	e.Use(echobilling.New(b, echobilling.Header("X-API-Key")))
//
// Here the header's value is the client ID. To keep client IDs private and
// let a client hold several keys, map keys to clients with [MapKey]:
// echobilling.MapKey(echobilling.Header("X-API-Key"), lookup).
//
// [NewWithConfig] takes a [Config] in the manner of Echo's own middleware.
// To give routes their own costs, make one [Middleware] and derive a
// route-level middleware per route; the identity and every other setting
// are shared:
//
//	bill := echobilling.NewMiddleware(echobilling.Config{Billing: b,
//		Identity: echobilling.FirstOf(echobilling.Header("X-API-Key"), echobilling.Bearer())})
//	e.GET("/fetch-data", fetchData, bill.Handler())                 // 1 credit
//	e.GET("/fetch-expensive-data", fetch, bill.Cost(5*core.Credit)) // 5 credits
//	e.GET("/compute", compute, bill.CostFunc(unitsCost))            // from the request
//
// A request is labelled in the usage reports with its route pattern
// (c.Path()). Inside the handler, [OutcomeFrom] returns the charge's
// outcome: remaining credits, renewal, the most constrained quota.
//
// The rate-limit headers are stored in c.Response().Header() under their
// canonical keys, as http.Header.Set would store them: read them with
// h.Get("X-RateLimit-Remaining"). On the wire they read X-Ratelimit-Remaining,
// Ratelimit-Policy, ...: header names are case-insensitive.
package echobilling
