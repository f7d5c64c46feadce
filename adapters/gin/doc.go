// Package ginbilling bills Gin requests in credits with apibilling: each
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
//	r := gin.New()
//	r.Use(ginbilling.New(b, ginbilling.Header("X-API-Key")))
//
// Here the header's value is the client ID. To keep client IDs private and
// let a client hold several keys, map keys to clients with [MapKey]:
// ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup).
//
// To give routes their own costs, make one [Middleware] and derive a
// route-level handler per route; the identity and every other option are
// shared:
//
//	bill := ginbilling.NewMiddleware(b, ginbilling.FirstOf(
//		ginbilling.Header("X-API-Key"), ginbilling.Bearer()))
//	r.GET("/fetch-data", bill.Handler(), fetchData)                 // 1 credit
//	r.GET("/fetch-expensive-data", bill.Cost(5*core.Credit), fetch) // 5 credits
//	r.GET("/compute", bill.CostFunc(unitsCost), compute)            // from the request
//
// A request is labelled in the usage reports with its route pattern
// (c.FullPath()). Inside the handler, [OutcomeFrom] returns the charge's
// outcome: remaining credits, renewal, the most constrained quota.
//
// The rate-limit headers are stored in c.Writer.Header() under their
// canonical keys, as http.Header.Set would store them: read them with
// h.Get("X-RateLimit-Remaining"). On the wire they read X-Ratelimit-Remaining,
// Ratelimit-Policy, ...: header names are case-insensitive.
package ginbilling
