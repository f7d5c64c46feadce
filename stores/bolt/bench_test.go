package bolt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// benchOp sets op to a deduction of one credit for client c with a day
// and a month window that never refuse.
func benchOp(op *core.Op, c string) {
	*op = core.Op{Client: c, Label: "/api/fetch-data", Cost: credit, N: 2, At: 1}
	op.Bucket = core.Span{Start: 0, End: hour}
	op.List[0] = core.Window{Period: core.Day, Start: 0, End: day, Limit: -1}
	op.List[1] = core.Window{Period: core.Month, Start: 0, End: 31 * day, Limit: 1<<53 - 1}
}

func clientID(i int) string { return fmt.Sprintf("client-%07d", i) }

// runParallel calls deduct b.N times from g goroutines; pick chooses the
// client of each call. It reports deductions per second.
func runParallel(b *testing.B, g int, pick func(r *rand.Rand, gor int) string, deduct func(op *core.Op) error) {
	b.ReportAllocs()
	errs := make(chan error, g)
	var wg sync.WaitGroup
	var next atomic.Int64
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			var op core.Op
			for next.Add(1) <= int64(b.N) {
				benchOp(&op, pick(r, i))
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
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the CPU time the process used (user and system), a
// measure of cost that a busy machine disturbs less than wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func deductOK(s *Store) func(op *core.Op) error {
	ctx := context.Background()
	return func(op *core.Op) error {
		res, err := s.Deduct(ctx, op)
		if err == nil && !res.OK {
			err = fmt.Errorf("refused")
		}
		return err
	}
}

var concurrency = []int{1, 16, 64}

// BenchmarkDeduct measures deductions per second of the store, durable
// (group commit, one fsync per batch) and in the interval mode, each
// goroutine charging its own client.
func BenchmarkDeduct(b *testing.B) {
	for _, m := range []struct {
		name string
		opts *Options
	}{{"durable", nil}, {"interval-10ms", &Options{CommitInterval: 10e6}}} {
		for _, g := range concurrency {
			b.Run(fmt.Sprintf("%s/g=%d", m.name, g), func(b *testing.B) {
				s, _ := openTest(b, m.opts)
				ids := make([]string, g)
				for i := range ids {
					ids[i] = clientID(i)
				}
				runParallel(b, g, func(_ *rand.Rand, i int) string { return ids[i] }, deductOK(s))
				if n := s.commits.Load(); n > 0 {
					b.ReportMetric(float64(b.N)/float64(n), "deductions/commit")
				}
			})
		}
	}
}

// BenchmarkDeductClients measures durable deductions per second at 64
// goroutines charging random clients among 1k, 100k and 1M clients that
// the file already holds (a day and a month counter and an hour
// aggregate each). The files are built once per run, or kept in
// APIBILLING_BOLT_BENCH_DIR when it is set.
func BenchmarkDeductClients(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			path := benchFile(b, n)
			var writes, took atomic.Int64
			s, err := Open(path, &Options{OnCommit: func(_ int, d time.Duration) {
				writes.Add(1)
				took.Add(int64(d))
			}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			defer func() {
				if n := writes.Load(); n > 0 {
					b.ReportMetric(float64(took.Load())/float64(n)/1e3, "µs/write")
				}
			}()
			ids := make([]string, n)
			for i := range ids {
				ids[i] = clientID(i)
			}
			runParallel(b, 64, func(r *rand.Rand, _ int) string { return ids[r.IntN(n)] }, deductOK(s))
			if c := s.commits.Load(); c > 0 {
				b.ReportMetric(float64(b.N)/float64(c), "deductions/commit")
			}
		})
	}
}

// BenchmarkOpen measures Open of a file holding 1k, 100k and 1M clients:
// it must not grow with the usage stored.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			path := benchFile(b, n)
			b.ResetTimer()
			for range b.N {
				s, err := Open(path, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// benchFile returns a store file holding n clients, each with a day and a
// month counter and one hour aggregate (in its record's open hour),
// written directly with bbolt.
func benchFile(b *testing.B, n int) string {
	b.Helper()
	dir := os.Getenv("APIBILLING_BOLT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("clients-v2b-%d.db", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Update(createLayout); err != nil {
		b.Fatal(err)
	}
	var op core.Op
	const chunk = 50_000
	for lo := 0; lo < n; lo += chunk {
		err := db.Update(func(tx *bbolt.Tx) error {
			bk, err := openBuckets(tx)
			if err != nil {
				return err
			}
			bk.clients.FillPercent, bk.usage.FillPercent = 0.9, 0.9
			for i := lo; i < min(lo+chunk, n); i++ {
				benchOp(&op, clientID(i))
				var slots [core.MaxQuotas]slot
				for _, w := range op.Windows() {
					slots[w.Period] = slot{start: w.Start, end: w.End, used: credit, held: true}
				}
				open := openHour{start: op.Bucket.Start, end: op.Bucket.End, held: true,
					labels: []labelCredits{{label: op.Label, credits: credit}}}
				if err := bk.clients.Put([]byte(op.Client), appendClientRecord(nil, &slots, &open)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkDeductCeiling measures the durable mode on a database opened
// with bbolt's NoSync, which skips the checkpoints' fsyncs (the log is
// still flushed). It shows the CPU cost of the store alone.
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
			ids := make([]string, g)
			for i := range ids {
				ids[i] = clientID(i)
			}
			runParallel(b, g, func(_ *rand.Rand, i int) string { return ids[i] }, deductOK(s))
			b.ReportMetric(float64(b.N)/float64(max(1, s.commits.Load())), "deductions/commit")
		})
	}
}
