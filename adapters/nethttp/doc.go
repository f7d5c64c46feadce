// Package nethttpbilling bills net/http requests in credits with
// apibilling: each request is charged to its client's quotas before its
// handler runs, and refused with 429 and rate-limit headers when a quota
// would be overdrawn. Every adapter (net/http, Gin, Echo, Fiber) answers
// identically: see the HTTP behaviour in the project README.
//
// The middleware has the usual shape, func(http.Handler) http.Handler, so
// it wraps a [http.ServeMux], chi or gorilla/mux alike: all three are
// tested on the conformance table every adapter runs. The shortest use
// bills every route one credit to the client of an API key:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /api/fetch-data", fetchData)
//	bill := nethttpbilling.New(b, nethttpbilling.MapKey(nethttpbilling.Header("X-API-Key"), lookup))
//	srv := &http.Server{Handler: bill(mux)}
//
// Wrapping a ServeMux, the middleware asks it for the route before routing
// (mux.Handler), so that a request no route serves (404, 405) is not
// charged, and usage is labelled with the route pattern (without its
// method: "/api/fetch-data"). Other routers tell it with [WithRouter],
// which shows the calls for chi and gorilla/mux.
//
// Routes get their own costs from a table given to the middleware
// ([WithRoutes]) or from route-level handlers derived from one
// [Middleware], which can be combined: a request is charged once, at the
// most specific cost.
//
//	bill := nethttpbilling.NewMiddleware(b, id, nethttpbilling.WithRoutes(map[string]core.Credits{
//		"/api/fetch-expensive-data": core.Whole(5),
//	}))
//	mux.Handle("GET /api/compute", bill.CostFunc(unitsCost)(compute))
//	srv := &http.Server{Handler: bill.Handler(mux)}
//
// Inside the handler, [OutcomeFrom] returns a copy of the charge's outcome.
// Failures the middleware answers itself (500, 503) are logged with the
// [WithLogger] logger.
package nethttpbilling
