package httpbilling

import (
	"fmt"
	"sync"
	"testing"
)

type reqKey struct{ _ [64]byte }

// TestRequests checks that concurrent requests each find their own charge
// while in flight and none after.
func TestRequests(t *testing.T) {
	var r Requests[reqKey]
	const workers, rounds = 8, 500
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := new(reqKey)
			for i := range rounds {
				ch := &Charge{Status: w*rounds + i}
				r.Put(k, ch)
				if got := r.Get(k); got != ch {
					errs <- fmt.Errorf("worker %d round %d: Get = %p, want %p", w, i, got, ch)
					return
				}
				r.Delete(k)
				if got := r.Get(k); got != nil {
					errs <- fmt.Errorf("worker %d round %d: Get after Delete = %p", w, i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRequestsAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under the race detector")
	}
	var r Requests[reqKey]
	k, ch := new(reqKey), new(Charge)
	r.Put(k, ch) // the shard's map
	r.Delete(k)
	if n := testing.AllocsPerRun(100, func() {
		r.Put(k, ch)
		_ = r.Get(k)
		r.Delete(k)
	}); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}
