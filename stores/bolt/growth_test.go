package bolt

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// TestLoadGrowth is a measurement, run by hand: it opens the store file
// APIBILLING_BOLT_GROWTH_FILE (a copy is used) whose clients are named
// client-0000000 on (benchFile writes such files), charges random clients
// among APIBILLING_BOLT_GROWTH_CLIENTS from 64 goroutines for
// APIBILLING_BOLT_GROWTH_SECONDS in the mode APIBILLING_BOLT_GROWTH_MODE
// ("interval" with a 50 ms CommitInterval, or "durable"), and logs every
// second the file's size, the heap in use, the deductions made and the p99
// latency of a deduction.
func TestLoadGrowth(t *testing.T) {
	src := os.Getenv("APIBILLING_BOLT_GROWTH_FILE")
	if src == "" {
		t.Skip("a measurement: set APIBILLING_BOLT_GROWTH_FILE")
	}
	n, _ := strconv.Atoi(os.Getenv("APIBILLING_BOLT_GROWTH_CLIENTS"))
	secs, _ := strconv.Atoi(os.Getenv("APIBILLING_BOLT_GROWTH_SECONDS"))
	opts := &Options{}
	if os.Getenv("APIBILLING_BOLT_GROWTH_MODE") != "durable" {
		opts.CommitInterval = 50 * time.Millisecond
	}
	path := t.TempDir() + "/usage.db"
	copyFile(t, src, path)
	t0 := time.Now()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open (with any migration): %v", time.Since(t0))
	defer s.Close()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = clientID(i)
	}
	var count atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 3))
			var op core.Op
			var mine []time.Duration
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
					return
				default:
				}
				benchOp(&op, ids[r.IntN(n)])
				now := time.Now().UnixNano()
				op.At, op.Bucket = now, core.Span{Start: now - now%hour, End: now - now%hour + hour}
				c0 := time.Now()
				if _, err := s.Deduct(context.Background(), &op); err != nil {
					t.Error(err)
					return
				}
				if i%16 == 0 {
					mine = append(mine, time.Since(c0))
				}
				count.Add(1)
			}
		}()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fi, _ := os.Stat(path)
	t.Logf("t=0s file %d MB heap %d MB", fi.Size()>>20, ms.HeapInuse>>20)
	for sec := 1; sec <= secs; sec++ {
		time.Sleep(time.Second)
		runtime.ReadMemStats(&ms)
		fi, _ := os.Stat(path)
		t.Logf("t=%ds file %d MB heap %d MB deductions %d", sec, fi.Size()>>20, ms.HeapInuse>>20, count.Load())
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	if len(lat) > 0 {
		t.Logf("%d deductions in %ds (%.0f/s), latency p50 %v p99 %v max %v", count.Load(), secs,
			float64(count.Load())/float64(secs), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	}
}

// TestOpenOnce is a measurement, run by hand: it opens and closes the
// store file APIBILLING_BOLT_OPEN_FILE once and logs how long Open took
// (with the file's pages dropped from the page cache beforehand, a cold
// start).
func TestOpenOnce(t *testing.T) {
	path := os.Getenv("APIBILLING_BOLT_OPEN_FILE")
	if path == "" {
		t.Skip("a measurement: set APIBILLING_BOLT_OPEN_FILE")
	}
	t0 := time.Now()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open: %v", time.Since(t0))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
