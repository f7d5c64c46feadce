package mongo

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// microCredit is the smallest charge.
var microCredit = core.MustParseCredits("0.000001")

func mustMicro(t *testing.T, n int64) core.Credits {
	t.Helper()
	c, err := core.Micro(n)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deductionsEnv sets how many deductions TestStorageBounded makes in the
// Versions layout (the Updates layout makes a tenth): 200,000 by default,
// about half a minute on FerretDB with -race; set it to 1000000 for the
// full million.
const deductionsEnv = "APIBILLING_MONGO_DEDUCTIONS"

// TestStorageBounded charges one client many times from 32 goroutines and
// counts the documents left, in each layout. Invariants: every charge is
// admitted and counted exactly; the documents do not grow with the number
// of charges: one per client (Updates), or in the Versions layout the
// versions written within the last two horizons plus at most
// keepLatest+2*checkEvery older ones (once the deletion in the background
// is done); one usage fact per day; no key record.
func TestStorageBounded(t *testing.T) {
	n := 200_000
	if v := os.Getenv(deductionsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive number", deductionsEnv, v)
		}
	}
	for _, l := range []Layout{Updates, Versions} {
		t.Run(l.String(), func(t *testing.T) {
			calls := n
			var opts []*options.ClientOptions
			if l == Updates {
				calls = n / 10
				if onFerretDB(t) {
					opts = append(opts, options.Client().SetMaxPoolSize(1)) // see failureClient
				}
			}
			c := newClient(t, opts...)
			const horizon = 8 * time.Second
			timeout := horizon / 4 // the longest the horizon allows
			if l == Updates {
				timeout = testTimeout // through one connection on FerretDB
			}
			s := newStore(t, c, &Options{Layout: l, Timeout: timeout, Horizon: horizon})
			b := core.New(s)
			if err := b.SetQuotas("client",
				core.Quota{Period: core.Minute, Limit: core.Unlimited},
				core.Quota{Period: core.Month, Limit: core.Unlimited}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var next, failed atomic.Int64
			var first atomic.Value
			var wg sync.WaitGroup
			for range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(calls) {
						if _, err := b.Track(context.Background(), "client", microCredit); err != nil {
							failed.Add(1)
							first.CompareAndSwap(nil, err)
						}
					}
				}()
			}
			wg.Wait()
			took := time.Since(start)
			if failed.Load() > 0 {
				t.Fatalf("%d of %d deductions failed; the first: %v", failed.Load(), calls, first.Load())
			}
			// Let the versions of the burst pass the horizon while the client
			// is charged now and then (its version is known, and each write
			// may delete old versions), then a little more.
			tail := 0
			for until := time.Now().Add(2 * horizon); time.Now().Before(until); tail++ {
				if _, err := b.Track(context.Background(), "client", microCredit); err != nil {
					t.Fatal(err)
				}
				time.Sleep(250 * time.Millisecond)
			}
			for range 8 * checkEvery {
				if _, err := b.Track(context.Background(), "client", microCredit); err != nil {
					t.Fatal(err)
				}
			}
			total := int64(calls + tail + 8*checkEvery)
			if st, err := b.Status(t.Context(), "client"); err != nil || st.Quota(1).Used != mustMicro(t, total) {
				t.Fatalf("month usage = %v, %v; want %v", st.Quota(1).Used, err, mustMicro(t, total))
			}
			// Old versions are deleted in the background: give it time.
			var counts map[string]int64
			var docs, old int64
			cut := time.Now().Add(-2 * horizon).UnixNano()
			for range 300 {
				counts, docs = countDocuments(t, s)
				if l != Versions {
					break
				}
				var err error
				if old, err = s.Database().Collection("versions").CountDocuments(t.Context(), bson.D{{Key: "t", Value: bson.D{{Key: "$lt", Value: cut}}}}); err != nil {
					t.Fatal(err)
				}
				if old <= keepLatest+2*checkEvery {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("%d deductions in %v (%.0f/s), then %d: %d documents: %v", calls, took.Round(time.Millisecond),
				float64(calls)/took.Seconds(), tail+8*checkEvery, docs, counts)
			if counts["keys"] != 0 {
				t.Errorf("%d key records, want none", counts["keys"])
			}
			if counts["usage"] > 2 {
				t.Errorf("%d usage facts for charges of one or two days, want at most 2", counts["usage"])
			}
			switch l {
			case Updates:
				if counts["clients"] != 1 {
					t.Errorf("%d client documents, want 1", counts["clients"])
				}
			case Versions:
				if max := int64(keepLatest + 2*checkEvery); old > max {
					t.Errorf("%d versions older than two horizons (of %d versions) after 30 s, want at most %d", old, counts["versions"], max)
				}
			}
		})
	}
}

// countDocuments returns the documents of each collection of the store's
// database, and their total.
func countDocuments(t *testing.T, s *Store) (map[string]int64, int64) {
	t.Helper()
	names, err := s.Database().ListCollectionNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	var total int64
	for _, name := range names {
		n, err := s.Database().Collection(name).CountDocuments(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		counts[name] = n
		total += n
	}
	return counts, total
}
