// Package echobilling bills Echo requests in credits with apibilling: each
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
//	e := echo.New()
//	e.Use(echobilling.New(b, echobilling.MapKey(echobilling.Header("X-API-Key"), lookup)))
//
// [NewWithConfig] takes a [Config] in the manner of Echo's own middleware.
// Routes get their own costs from Config.Routes or from route-level
// middleware derived from one [Middleware]; they can be combined: a
// request is charged once, at the most specific cost.
//
//	bill := echobilling.NewMiddleware(echobilling.Config{Billing: b, Identity: id,
//		Routes: map[string]core.Credits{"/fetch-expensive-data": core.Whole(5)}})
//	e.Use(bill.Handler())                                 // 1 credit, or the table's
//	e.GET("/report", report, bill.Cost(core.Whole(3)))    // 3 credits
//	e.GET("/compute", compute, bill.CostFunc(unitsCost))  // from the request
//
// Requests no route serves (echo's 404 and 405, RouteNotFound routes) are
// not charged. A request is labelled in the usage reports with its route
// pattern (c.Path()). A retry with the same Idempotency-Key header is not
// charged again. Inside the handler, [OutcomeFrom] returns a copy of the
// charge's outcome. Failures the middleware answers (500, 503) are
// returned as an *echo.HTTPError whose Internal is the billing error,
// after the problem body is written.
//
// The rate-limit headers are stored in c.Response().Header() under their
// canonical keys, as http.Header.Set would store them: read them with
// h.Get("X-RateLimit-Remaining"). On the wire they read X-Ratelimit-Remaining,
// Ratelimit-Policy, ...: header names are case-insensitive.
package echobilling
