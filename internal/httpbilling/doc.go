// Package httpbilling holds the HTTP behaviour that every apibilling
// adapter shares: it charges a request through [core.Billing.TrackLabel],
// decides the status to answer, formats the rate-limit headers and writes
// the problem+json bodies. The adapters for Gin, Echo and Fiber only read
// the request, call a [Meter] and copy its [Charge] into their response, so
// the three behave identically by construction.
//
//	m := httpbilling.NewMeter(httpbilling.Config{Billing: b})
//	ch := new(httpbilling.Charge)
//	m.Charge(ctx, ch, client, route, cost)
//	for i := range ch.NumHeaders() {
//		name, _ := ch.Header(i)
//		w.Header()[name] = ch.Values(i)
//	}
//	if ch.Status != 0 {
//		w.Header().Set("Content-Type", httpbilling.ProblemContentType)
//		w.WriteHeader(ch.Status)
//		w.Write(ch.Problem())
//	}
package httpbilling
