package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/storetest"
)

// suite runs the shared store suite on stores opened with opts (each
// subtest gets its own copy).
func suite(t *testing.T, opts Options) {
	storetest.RunWithOptions(t, func(t *testing.T) core.Store {
		o := opts
		return openFresh(t, &o)
	}, storetest.Options{
		Retention: func(t *testing.T, retention time.Duration) core.Store {
			o := opts
			o.Retention = retention
			return openFresh(t, &o)
		},
	})
}

// TestConformance runs the shared store suite on the durable mode.
func TestConformance(t *testing.T) { suite(t, Options{}) }

// TestConformanceInterval runs the shared store suite on the interval mode.
func TestConformanceInterval(t *testing.T) { suite(t, Options{CommitInterval: 2e6}) }

// TestConformanceCheckpoints runs the suite on the durable mode with a
// checkpoint after every few log writes, so that calls read what the
// checkpoints wrote into the file and the cache evicted.
func TestConformanceCheckpoints(t *testing.T) {
	suite(t, Options{hooks: &testHooks{ckBytes: 512, ckDirty: 4}})
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
