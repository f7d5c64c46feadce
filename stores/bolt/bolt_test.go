package bolt

import (
	"path/filepath"
	"testing"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/storetest"
)

// TestConformance runs the shared store suite on the durable mode.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store { return openFresh(t, nil) })
}

// TestConformanceInterval runs the shared store suite on the interval mode.
func TestConformanceInterval(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store { return openFresh(t, &Options{CommitInterval: 2e6}) })
}

// TestConformanceCheckpoints runs the suite on the durable mode with a
// checkpoint after every few log writes, so that calls read what the
// checkpoints wrote into the file and the cache evicted.
func TestConformanceCheckpoints(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store {
		return openFresh(t, &Options{hooks: &testHooks{ckBytes: 512, ckDirty: 4}})
	})
}

// openFresh opens a store in a new file for the suite, which closes it.
func openFresh(t *testing.T, opts *Options) core.Store {
	path := filepath.Join(t.TempDir(), "usage.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { checkFile(t, path) }) // runs after the suite's Close
	return s
}
