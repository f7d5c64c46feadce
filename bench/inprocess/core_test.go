package inprocess

import (
	"context"
	"runtime"
	"testing"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/frappy-go/apibilling/core"
)

// BenchmarkCore measures the core path alone, Billing.ChargeInto with a
// day and a month quota into a reused Outcome, as the middleware charges, without a framework: the allocations it reports are
// the ones the spec bounds (at most 2 per request). Each store runs
// serially, in parallel (one goroutine per GOMAXPROCS) and with 64
// goroutines ("g64"), the concurrency of the spec's target of 50,000
// durable deductions a second; every variant reports deductions/s.
func BenchmarkCore(b *testing.B) {
	for _, store := range []struct {
		name    string
		billing func(b *testing.B) *core.Billing
	}{{"memory", memoryBilling}, {"bolt", boltBilling}} {
		b.Run(store.name, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) { track(b, store.billing(b), 0) })
			b.Run("parallel", func(b *testing.B) { track(b, store.billing(b), runtime.GOMAXPROCS(0)) })
			b.Run("g64", func(b *testing.B) { track(b, store.billing(b), 64) })
		})
	}
}

// track charges one credit per iteration, serially when goroutines is 0,
// else from that many goroutines (rounded up to a multiple of GOMAXPROCS).
func track(b *testing.B, bl *core.Billing, goroutines int) {
	b.ReportAllocs()
	ctx := context.Background()
	deduct := func(o *core.Outcome, ch *core.Charge) bool {
		err := bl.ChargeInto(ctx, o, ch)
		if err != nil || !o.Allowed() {
			b.Errorf("ChargeInto: %v", err)
			return false
		}
		return true
	}
	newCharge := func() *core.Charge {
		return &core.Charge{Client: apps.ClientID, Cost: core.Whole(1), Label: apps.Path}
	}
	if goroutines == 0 {
		var o core.Outcome
		ch := newCharge()
		for b.Loop() {
			if !deduct(&o, ch) {
				return
			}
		}
	} else {
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((goroutines + procs - 1) / procs)
		b.RunParallel(func(pb *testing.PB) {
			var o core.Outcome
			ch := newCharge()
			for pb.Next() {
				if !deduct(&o, ch) {
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deductions/s")
}
