// Package fiberbilling bills Fiber requests in credits with apibilling:
// each request is charged to its client's quotas before its handler runs,
// and refused with 429 and rate-limit headers when a quota would be
// overdrawn. Every adapter (Gin, Echo, Fiber, net/http) runs the same
// request flow, package httpbilling, and answers identically: see the HTTP
// behaviour in the project README.
//
// The shortest use bills every route one credit to the client of an API
// key in the X-API-Key header:
//
//	b := core.New(store)
//	if err := b.SetQuotas("client1", core.Quota{Period: core.Day, Limit: core.Whole(500)}); err != nil {
//		return err
//	}
//	app := fiber.New(fiber.Config{ErrorHandler: fiberbilling.WrapErrorHandler(nil)})
//	app.Use(fiberbilling.New(fiberbilling.Config{
//		Billing:  b,
//		Identity: fiberbilling.MapKey(fiberbilling.Header("X-API-Key"), lookup),
//	}))
//
// A middleware in app.Use runs before Fiber has found the route, so this
// one finds it among the app's routes (see [New]): requests no route
// serves (404, 405) are not charged, usage is labelled with the route's
// pattern, and Config.Routes gives routes their own costs. Route-level
// handlers derived from one [Middleware] can be combined with it: a request
// is charged once, at the most specific cost.
//
//	bill := fiberbilling.NewMiddleware(fiberbilling.Config{Billing: b, Identity: id,
//		Routes: map[string]core.Credits{"/fetch-expensive-data": core.Whole(5)}})
//	app.Use(bill.Handler())                                  // 1 credit, or the table's
//	app.Get("/report", bill.Cost(core.Whole(3)), report)     // 3 credits
//	app.Get("/compute", bill.CostFunc(unitsCost), compute)   // from the request
//
// A retry with the same Idempotency-Key header is not charged again.
// Inside the handler, [OutcomeFrom] returns a copy of the charge's outcome.
// Failures the middleware answers (500, 503) reach the app's error handler
// when it is wrapped with [WrapErrorHandler], and are logged otherwise.
//
// Header names are sent in canonical form, as fasthttp normalises them
// (X-Ratelimit-Remaining, Ratelimit-Policy): header names are
// case-insensitive.
package fiberbilling
