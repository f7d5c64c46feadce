package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// benchOp returns a deduction of one credit for client g with a day and a
// month window that never refuse.
func benchOp(g int) core.Op {
	const day = int64(86_400e9)
	op := core.Op{Client: fmt.Sprintf("client-%d", g), Label: "/api/fetch-data", Cost: core.Credit, N: 2}
	op.Day = core.DaySpan{Start: 0, End: day}
	op.List[0] = core.Window{Period: core.Day, Start: 0, End: day, Limit: core.Unlimited}
	op.List[1] = core.Window{Period: core.Month, Start: 0, End: 31 * day, Limit: core.MaxCredits}
	return op
}

// runParallel calls deduct b.N times from g goroutines, each as its own
// client, and reports deductions per second.
func runParallel(b *testing.B, g int, deduct func(op *core.Op) error) {
	b.ReportAllocs()
	errs := make(chan error, g)
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range g {
		n := b.N / g
		if i < b.N%g {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := benchOp(i)
			for range n {
				if err := deduct(&op); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deductions/s")
}

var concurrency = []int{1, 16, 64}

// BenchmarkDeduct measures deductions per second of the store, durable
// (group commit, one fsync per batch) and in the interval mode.
func BenchmarkDeduct(b *testing.B) {
	for _, m := range []struct {
		name string
		opts *Options
	}{{"durable", nil}, {"interval-10ms", &Options{CommitInterval: 10e6}}} {
		for _, g := range concurrency {
			b.Run(fmt.Sprintf("%s/g=%d", m.name, g), func(b *testing.B) {
				s, _ := openTest(b, m.opts)
				ctx := context.Background()
				runParallel(b, g, func(op *core.Op) error {
					res, err := s.Deduct(ctx, *op)
					if err == nil && !res.OK {
						err = fmt.Errorf("refused")
					}
					return err
				})
				if n := s.commits.Load(); n > 0 {
					b.ReportMetric(float64(b.N)/float64(n), "deductions/commit")
				}
			})
		}
	}
}

// BenchmarkBaseline measures the same deductions done the naive way, one
// bbolt Update (one fsync) per deduction, and with bbolt's db.Batch, which
// coalesces concurrent Updates after a fixed delay.
func BenchmarkBaseline(b *testing.B) {
	for _, m := range []string{"update", "batch"} {
		for _, g := range concurrency {
			b.Run(fmt.Sprintf("%s/g=%d", m, g), func(b *testing.B) {
				s, _ := openTest(b, nil)
				run := s.db.Update
				if m == "batch" {
					run = s.db.Batch
				}
				runParallel(b, g, func(op *core.Op) error {
					return run(func(tx *bbolt.Tx) error {
						bk, err := openBuckets(tx)
						if err != nil {
							return err
						}
						return naiveDeduct(bk, op)
					})
				})
			})
		}
	}
}

// naiveDeduct is the deduction done directly on the buckets.
func naiveDeduct(b buckets, op *core.Op) error {
	var kb keyBuf
	var recs [core.MaxQuotas]record
	for i, w := range op.Windows() {
		if v := b.windows.Get(kb.window(op.Client, w.Period)); v != nil {
			r, err := decodeWindow(v)
			if err != nil {
				return err
			}
			recs[i] = r
		}
		if !w.Fits(recs[i].usedFor(w), op.Cost) {
			return nil
		}
	}
	for i, w := range op.Windows() {
		r := &recs[i]
		if w.Start > r.start || r.end == 0 {
			r.start, r.end, r.used = w.Start, w.End, 0
		}
		r.used += op.Cost
		if err := b.windows.Put(kb.window(op.Client, w.Period), r.encode(nil)); err != nil {
			return err
		}
	}
	k := kb.day(op.Client, op.Day.Start, op.Label)
	d := record{end: op.Day.End, day: true}
	if v := b.days.Get(k); v != nil {
		var err error
		if d, err = decodeDay(v); err != nil {
			return err
		}
	}
	d.used += op.Cost
	return b.days.Put(k, d.encode(nil))
}

// BenchmarkDeductCeiling measures the durable mode's group commit on a
// database opened with bbolt's NoSync, which skips every fsync. It is not a
// durable configuration: it shows the CPU cost of the committer alone, the
// throughput the durable mode approaches on a disk whose flushes are
// instant.
func BenchmarkDeductCeiling(b *testing.B) {
	for _, g := range concurrency {
		b.Run(fmt.Sprintf("g=%d", g), func(b *testing.B) {
			db, err := bbolt.Open(filepath.Join(b.TempDir(), "usage.db"), 0o600, &bbolt.Options{NoSync: true, FreelistType: bbolt.FreelistMapType})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			s, err := New(db, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			runParallel(b, g, func(op *core.Op) error {
				_, err := s.Deduct(ctx, *op)
				return err
			})
			b.ReportMetric(float64(b.N)/float64(s.commits.Load()), "deductions/commit")
		})
	}
}
