package memory_test

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// BenchmarkDeduct charges random clients among 1k, 100k and 1M, each with
// a day and a month window and usage in the current hour, as Billing does
// for a client with those two quotas. The store is filled by Import, so
// Deduct runs only in the timed loop (callgrind's --toggle-collect counts
// it alone).
func BenchmarkDeduct(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run("clients="+strconv.Itoa(n), func(b *testing.B) {
			s, op, clients := deductFixture(b, n)
			ctx := context.Background()
			mask := len(clients) - 1
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				op.Client = clients[i&mask]
				res, err := s.Deduct(ctx, op)
				if err != nil || !res.OK {
					b.Fatalf("Deduct: OK %v, error %v", res.OK, err)
				}
			}
		})
	}
}

// deductFixture returns a store holding n clients with a day and a month
// window each and usage in the current hour, an op charging those windows,
// and 2^16 random clients among the n to charge, laid out one after the
// other in memory as a caller's request buffers would be.
func deductFixture(b *testing.B, n int) (*memory.Store, *core.Op, []string) {
	b.Helper()
	if f, ok := fixtures[n]; ok {
		return f.s, f.op, f.clients // the benchmark runs more than once
	}
	now := time.Date(2026, time.March, 14, 9, 30, 0, 0, time.UTC)
	day := core.Window{Period: core.Day, Start: time.Date(2026, time.March, 14, 0, 0, 0, 0, time.UTC).UnixNano(),
		End: time.Date(2026, time.March, 15, 0, 0, 0, 0, time.UTC).UnixNano(), Limit: core.MaxCredits.Micro()}
	month := core.Window{Period: core.Month, Start: time.Date(2026, time.February, 15, 0, 0, 0, 0, time.UTC).UnixNano(),
		End: time.Date(2026, time.March, 15, 0, 0, 0, 0, time.UTC).UnixNano(), Limit: core.MaxCredits.Micro()}
	hour := core.Span{Start: now.Truncate(time.Hour).UnixNano(), End: now.Truncate(time.Hour).Add(time.Hour).UnixNano()}
	const label = "/api/fetch-data"

	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%07d", i)
	}
	s := memory.New()
	i, k := 0, 0
	next := func() (*core.Record, error) {
		if i >= n {
			return nil, io.EOF
		}
		id := ids[i]
		var r core.Record
		switch k {
		case 0:
			r = core.Record{Kind: core.RecordWindow, Client: id, Period: core.Day, Start: day.Start, End: day.End, Used: 1_000_000}
		case 1:
			r = core.Record{Kind: core.RecordWindow, Client: id, Period: core.Month, Start: month.Start, End: month.End, Used: 1_000_000}
		case 2:
			r = core.Record{Kind: core.RecordUsage, Client: id, Start: hour.Start, End: hour.End, Label: label, Used: 1_000_000}
		}
		if k++; k == 3 {
			k, i = 0, i+1
		}
		return &r, nil
	}
	if err := s.Import(context.Background(), next, core.ImportOptions{}); err != nil {
		b.Fatal(err)
	}

	var arena strings.Builder
	picks := make([]int, 1<<16)
	x := uint64(0x9e3779b97f4a7c15)
	for j := range picks {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		picks[j] = int(x % uint64(n))
		arena.WriteString(ids[picks[j]])
	}
	all := arena.String()
	clients := make([]string, len(picks))
	off := 0
	for j, p := range picks {
		clients[j] = all[off : off+len(ids[p])]
		off += len(ids[p])
	}
	o := &core.Op{Label: label, Cost: 1_000_000, Bucket: hour, At: now.UnixNano(), N: 2}
	o.List[0], o.List[1] = day, month
	fixtures[n] = fixture{s, o, clients}
	return s, o, clients
}

type fixture struct {
	s       *memory.Store
	op      *core.Op
	clients []string
}

// fixtures keeps each size's fixture for the benchmark's later runs.
var fixtures = map[int]fixture{}
