package mongo

import (
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// BenchmarkDeduct charges one client one credit at a time, in each layout.
func BenchmarkDeduct(b *testing.B) {
	c := newClient(b)
	for _, l := range []Layout{Updates, Versions} {
		b.Run(l.String(), func(b *testing.B) {
			s := newStore(b, c, &Options{Layout: l})
			base := time.Now().Truncate(time.Hour).UnixNano()
			op := &core.Op{Client: "bench", Label: "/a", Cost: 1, Bucket: core.Span{Start: base, End: base + int64(time.Hour)}, At: base, N: 2}
			op.List[0] = core.Window{Period: core.Minute, Start: base, End: base + int64(time.Minute), Limit: -1}
			op.List[1] = core.Window{Period: core.Day, Start: base, End: base + 24*int64(time.Hour), Limit: -1}
			b.ResetTimer()
			for range b.N {
				if res, err := s.Deduct(b.Context(), op); err != nil || !res.OK {
					b.Fatalf("Deduct: %v %v", res.OK, err)
				}
			}
		})
	}
}

// BenchmarkDeductParallel charges one client from 64 goroutines.
func BenchmarkDeductParallel(b *testing.B) {
	c := newClient(b)
	s := newStore(b, c, &Options{Layout: Versions})
	base := time.Now().Truncate(time.Hour).UnixNano()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		op := &core.Op{Client: "bench", Label: "/a", Cost: 1, Bucket: core.Span{Start: base, End: base + int64(time.Hour)}, At: base, N: 1}
		op.List[0] = core.Window{Period: core.Day, Start: base, End: base + 24*int64(time.Hour), Limit: -1}
		for pb.Next() {
			if res, err := s.Deduct(b.Context(), op); err != nil || !res.OK {
				b.Fatalf("Deduct: %v %v", res.OK, err)
			}
		}
	})
}
