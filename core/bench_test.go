package core_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// benchBilling returns a Billing over the memory store whose clients each
// have a day and a month quota large enough never to refuse.
func benchBilling(b *testing.B, clients int) (*core.Billing, []string) {
	b.Helper()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	bill := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
		err := bill.SetQuotas(ids[i],
			core.Quota{Period: core.Day, Limit: core.MaxCredits},
			core.Quota{Period: core.Month, Limit: core.MaxCredits, Anchor: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)},
		)
		if err != nil {
			b.Fatal(err)
		}
	}
	return bill, ids
}

func BenchmarkTrack(b *testing.B) {
	for _, clients := range []int{1, 10_000} {
		b.Run("clients="+strconv.Itoa(clients)+"/serial", func(b *testing.B) {
			bill, ids := benchBilling(b, clients)
			ctx := context.Background()
			one := core.Whole(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := bill.Track(ctx, ids[i%len(ids)], one); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("clients="+strconv.Itoa(clients)+"/parallel", func(b *testing.B) {
			bill, ids := benchBilling(b, clients)
			ctx := context.Background()
			one := core.Whole(1)
			var next atomic.Int64
			var failed atomic.Value
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919)) // spread goroutines over the clients
				for pb.Next() {
					if _, err := bill.Track(ctx, ids[i%len(ids)], one); err != nil {
						failed.Store(err)
						return
					}
					i++
				}
			})
			if err := failed.Load(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkChargeInto is the path of middleware that keeps the outcome in
// per-request state: a labelled charge into a caller-owned Outcome.
func BenchmarkChargeInto(b *testing.B) {
	bill, ids := benchBilling(b, 1)
	ctx := context.Background()
	var o core.Outcome
	c := core.Charge{Client: ids[0], Cost: core.Whole(1), Label: "/api/fetch-data"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := bill.ChargeInto(ctx, &o, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChargeReplay repeats a charge with the same idempotency key: the
// first is charged, every later one is a replay read from the store.
func BenchmarkChargeReplay(b *testing.B) {
	bill, ids := benchBilling(b, 1)
	ctx := context.Background()
	c := core.Charge{Client: ids[0], Cost: core.Whole(1), IdempotencyKey: "order-42"}
	if _, err := bill.Charge(ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if o, err := bill.Charge(ctx, c); err != nil || !o.Replayed() {
			b.Fatalf("Charge = replayed %v, %v", o.Replayed(), err)
		}
	}
}

// BenchmarkMutexMap is the baseline for BenchmarkTrack: one update of a
// mutex-guarded map, the least a shared in-memory counter costs.
func BenchmarkMutexMap(b *testing.B) {
	for _, clients := range []int{1, 10_000} {
		ids := make([]string, clients)
		for i := range ids {
			ids[i] = "client-" + strconv.Itoa(i)
		}
		b.Run("clients="+strconv.Itoa(clients)+"/serial", func(b *testing.B) {
			var mu sync.Mutex
			m := map[string]int64{}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				mu.Lock()
				m[ids[i%len(ids)]]++
				mu.Unlock()
			}
		})
		b.Run("clients="+strconv.Itoa(clients)+"/parallel", func(b *testing.B) {
			var mu sync.Mutex
			m := map[string]int64{}
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919))
				for pb.Next() {
					mu.Lock()
					m[ids[i%len(ids)]]++
					mu.Unlock()
					i++
				}
			})
		})
	}
}

// BenchmarkObserver is BenchmarkChargeInto without an observer (none: the
// default, one nil check per call, no clock read) and with one that does
// nothing (nop: two clock reads and three calls through the interface).
// Neither allocates.
func BenchmarkObserver(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []core.Option
	}{
		{"none", nil},
		{"nop", []core.Option{core.WithObserver(nopObserver{})}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			opts := append([]core.Option{core.WithClock(func() time.Time { return now })}, tc.opts...)
			bill := core.New(memory.New(), opts...)
			if err := bill.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.MaxCredits}); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var o core.Outcome
			c := core.Charge{Client: "c", Cost: core.Whole(1), Label: "/api/fetch-data"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := bill.ChargeInto(ctx, &o, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
