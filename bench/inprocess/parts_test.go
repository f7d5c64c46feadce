package inprocess

import (
	"context"
	"net/http"
	"testing"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/internal/httpbilling"
)

// sink keeps a charge reachable, as an adapter that stores it on the
// request context does, so that it is allocated on the heap.
var sink *httpbilling.Charge

// BenchmarkParts splits apibilling's per-request overhead into its layers,
// serially, with the X-RateLimit-* headers only (the comparison with
// ulule/limiter and fiber's limiter):
//
//   - track: core.Billing.TrackLabel on the memory store;
//   - meter: httpbilling.Meter.Charge, the shared HTTP layer, on a new
//     Charge per request (heap-allocated, as the adapters do): TrackLabel,
//     the decision and the header values;
//   - meter-reused: the same on one Charge zeroed between requests, which
//     shows what the per-request allocation of the Charge costs;
//   - meter-headers: meter, then the headers set in a net/http header
//     map, as the gin and echo adapters do.
//
// The rest of an adapter's overhead (the identity, the framework's context
// and the handler chain) is the framework benchmark's billing-memory-legacy
// minus bare, minus meter-headers.
func BenchmarkParts(b *testing.B) {
	ctx := context.Background()
	newMeter := func() *httpbilling.Meter {
		return httpbilling.NewMeter(httpbilling.Config{Billing: apps.MemoryBilling(), NoDraftHeaders: true})
	}
	check := func(b *testing.B, ch *httpbilling.Charge) {
		if ch.Status != 0 || ch.NumHeaders() != 3 {
			b.Fatalf("status %d, %d headers, err %v", ch.Status, ch.NumHeaders(), ch.Err)
		}
	}
	b.Run("track", func(b *testing.B) { track(b, apps.MemoryBilling(), 0) })
	b.Run("meter", func(b *testing.B) {
		b.ReportAllocs()
		m := newMeter()
		for b.Loop() {
			ch := new(httpbilling.Charge)
			m.Charge(ctx, ch, apps.ClientID, apps.Path, core.Credit)
			check(b, ch)
			sink = ch
		}
	})
	b.Run("meter-reused", func(b *testing.B) {
		b.ReportAllocs()
		m := newMeter()
		ch := new(httpbilling.Charge)
		for b.Loop() {
			*ch = httpbilling.Charge{}
			m.Charge(ctx, ch, apps.ClientID, apps.Path, core.Credit)
			check(b, ch)
		}
	})
	b.Run("meter-headers", func(b *testing.B) {
		b.ReportAllocs()
		m := newMeter()
		h := http.Header{}
		for b.Loop() {
			clear(h)
			ch := new(httpbilling.Charge)
			m.Charge(ctx, ch, apps.ClientID, apps.Path, core.Credit)
			check(b, ch)
			ch.SetHeaders(h)
			sink = ch
		}
	})
}
