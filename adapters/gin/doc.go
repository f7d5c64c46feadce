// Package ginbilling bills Gin requests in credits with apibilling: each
// request is charged to its client's quotas before its handler runs, and
// refused with 429 and rate-limit headers when a quota would be overdrawn.
// Every adapter (Gin, Echo, Fiber, net/http) runs the same request flow,
// package httpbilling, and answers identically: see the HTTP behaviour in
// the project README.
//
// The shortest use bills every route one credit to the client of an API
// key in the X-API-Key header:
//
//	b := core.New(store)
//	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(500)}); err != nil {
//		return err
//	}
//	r := gin.New()
//	r.Use(ginbilling.New(b, ginbilling.MapKey(ginbilling.Header("X-API-Key"), lookup)))
//
// Routes get their own costs from a table given to the middleware
// ([WithRoutes]) or from route-level handlers derived from one
// [Middleware]; the identity and every other option are shared. They can
// be combined: a request is charged once, at the most specific cost.
//
//	bill := ginbilling.NewMiddleware(b, id, ginbilling.WithRoutes(map[string]core.Credits{
//		"/fetch-expensive-data": core.Whole(5),
//	}))
//	r.Use(bill.Handler())                                   // 1 credit, or the table's
//	r.GET("/report", bill.Cost(core.Whole(3)), report)      // 3 credits
//	r.GET("/compute", bill.CostFunc(unitsCost), compute)    // from the request
//
// Requests no route serves (gin's 404 and 405) are not charged. A request
// is labelled in the usage reports with its route pattern (c.FullPath()).
// A retry with the same Idempotency-Key header is not charged again.
// Inside the handler, [OutcomeFrom] returns a copy of the charge's outcome.
//
// The rate-limit headers are stored in c.Writer.Header() under their
// canonical keys, as http.Header.Set would store them: read them with
// h.Get("X-RateLimit-Remaining"). On the wire they read X-Ratelimit-Remaining,
// Ratelimit-Policy, ...: header names are case-insensitive.
package ginbilling
