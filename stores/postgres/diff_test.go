package postgres

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/difftest"
)

// TestAgainstMemory runs random operations on the store and on the memory
// store (the reference implementation of the contract) and compares every
// answer, the exports, an import of the export, an interrupted and resumed
// import, and a merge.
func TestAgainstMemory(t *testing.T) {
	pool := sharedPool(t)
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			difftest.Run(t, func(t *testing.T) core.Store { return newStore(t, pool, &Options{Timeout: time.Minute}) }, seed, 400)
		})
	}
}

// TestAgainstMemoryConcurrent runs random operations from many goroutines
// at once, a client each, so that the group commit sends their deductions
// in batches, and compares every answer and the final exports with the
// memory store's; it checks that batches were sent.
func TestAgainstMemoryConcurrent(t *testing.T) {
	pool := sharedPool(t)
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			var batches, batched atomic.Int64
			difftest.RunConcurrent(t, func(t *testing.T) core.Store {
				s := newStore(t, pool, &Options{Timeout: time.Minute})
				s.gc.onBatch = func(n int) {
					if n > 1 {
						batches.Add(1)
						batched.Add(int64(n))
					}
				}
				return s
			}, seed, 24, 150)
			if batches.Load() == 0 {
				t.Fatal("no batch of more than one deduction was sent")
			}
			t.Logf("%d batches of %d deductions", batches.Load(), batched.Load())
		})
	}
}
