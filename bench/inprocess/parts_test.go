package inprocess

import (
	"context"
	"net/http"
	"testing"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
)

// BenchmarkParts splits apibilling's per-request overhead into its layers,
// serially, with the X-RateLimit-* headers only (the comparison with
// ulule/limiter and fiber's limiter):
//
//   - track: core.Billing.ChargeInto on the memory store, into a reused
//     Outcome (the core path);
//   - flow: httpbilling.Handler.Serve, the shared per-request flow, over a
//     framework that does nothing: the identity, the key header read, the
//     pooled state, the charge and the header values;
//   - flow-headers: the same, with the headers set in a net/http header
//     map, as the gin, echo and net/http adapters do.
//
// The rest of an adapter's overhead (the framework's context, its
// request-scoped storage and the handler chain) is the framework
// benchmark's billing-memory-legacy minus bare, minus flow-headers.
func BenchmarkParts(b *testing.B) {
	b.Run("track", func(b *testing.B) { track(b, apps.MemoryBilling(), 0) })
	flow := func(b *testing.B, headers bool) {
		b.ReportAllocs()
		h := &httpbilling.Handler[*request]{
			Meter: httpbilling.NewMeter(httpbilling.Config{Billing: apps.MemoryBilling(), NoDraftHeaders: true}),
			Identity: func(r *request) (string, error) {
				if r.key == apps.Key {
					return apps.ClientID, nil
				}
				return "", httpbilling.ErrUnknownClient
			},
		}
		r := &request{key: apps.Key, headers: headers}
		for b.Loop() {
			if headers {
				r.h = make(http.Header, 4) // as net/http starts each response
			}
			if err := h.Serve(nopIO{}, r); err != nil || r.n != 3 {
				b.Fatalf("err %v, %d headers", err, r.n)
			}
		}
	}
	b.Run("flow", func(b *testing.B) { flow(b, false) })
	b.Run("flow-headers", func(b *testing.B) { flow(b, true) })
}

// request is a request of a framework that does nothing.
type request struct {
	key     string
	st      *httpbilling.State
	headers bool
	h       http.Header
	n       int
}

type nopIO struct{}

func (nopIO) Context(*request) context.Context { return context.Background() }
func (nopIO) Header(r *request, name string) string {
	if name == "X-Api-Key" {
		return r.key
	}
	return ""
}
func (nopIO) Route(*request) httpbilling.Route {
	return httpbilling.Route{Method: "GET", Pattern: apps.Path, Matched: true}
}
func (nopIO) SetHeaders(r *request, hs *httpbilling.Headers) {
	r.n = hs.Len()
	if r.headers {
		hs.SetIn(r.h)
	}
}
func (nopIO) DelHeaders(*request, *httpbilling.Headers)      {}
func (nopIO) Write(*request, int, []byte) error              { return nil }
func (nopIO) Next(*request) (int, error)                     { return http.StatusOK, nil }
func (nopIO) Load(r *request) *httpbilling.State             { return r.st }
func (nopIO) Store(r *request, st *httpbilling.State)        { r.st = st }
func (nopIO) Restore(r *request, _, prev *httpbilling.State) { r.st = prev }
func (nopIO) Fail(*request, httpbilling.Answer, error) error { return nil }

var _ core.Credits // the core path is track's
