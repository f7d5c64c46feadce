package mysql

import (
	"fmt"
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
	db := sharedDB(t)
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			difftest.Run(t, func(t *testing.T) core.Store { return newStore(t, db, &Options{Timeout: time.Minute}) }, seed, 400)
		})
	}
}

// TestAgainstMemoryConcurrent runs random operations from many goroutines
// at once, a client each, and compares every answer and the final exports
// with the memory store's.
func TestAgainstMemoryConcurrent(t *testing.T) {
	db := sharedDB(t)
	difftest.RunConcurrent(t, func(t *testing.T) core.Store { return newStore(t, db, &Options{Timeout: time.Minute}) }, 0, 16, 100)
}
