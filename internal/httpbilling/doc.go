// Package httpbilling holds the HTTP behaviour that every apibilling
// adapter shares: it charges a request through [core.Billing.TrackLabel],
// decides the status to answer, formats the rate-limit headers and writes
// the problem+json bodies. The adapters for Gin, Echo and Fiber only read
// the request, call a [Meter] and copy its [Charge] into their response, so
// the three behave identically by construction.
//
//	m := httpbilling.NewMeter(httpbilling.Config{Billing: b})
//	ch := httpbilling.NewCharge()
//	defer ch.Release()
//	m.Charge(ctx, ch, client, route, cost)
//	ch.SetHeaders(w.Header())
//	if ch.Status != 0 {
//		w.Header().Set("Content-Type", httpbilling.ProblemContentType)
//		w.WriteHeader(ch.Status)
//		w.Write(ch.Problem())
//		return
//	}
//	next.ServeHTTP(w, r) // with ch.Outcome at hand
//	m.Finish(ctx, ch, status)
package httpbilling
