package bolt

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// credit is one credit in micro-credits, as stores count.
const credit int64 = 1_000_000

const (
	hour = int64(time.Hour)
	day  = 24 * hour
)

// openTest opens a store in a new file under t.TempDir and, on cleanup,
// closes it (if the test has not) and checks the file's consistency with
// bbolt's own check.
func openTest(t testing.TB, opts *Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "usage.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkFile(t, path)
	})
	return s, path
}

// checkFile runs bbolt's consistency check on the file at path.
func checkFile(t testing.TB, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 1e9, ReadOnly: true})
	if err != nil {
		t.Errorf("reopen %s for the check: %v", path, err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Errorf("bbolt check of %s: %v", path, err)
	}
}

// dayOp returns a deduction of cost for client with one unlimited day
// window [0, day) and the hour aggregate of hour 0.
func dayOp(client string, cost int64) *core.Op {
	return &core.Op{Client: client, Cost: cost, Bucket: core.Span{Start: 0, End: hour}, N: 1,
		List: [core.MaxQuotas]core.Window{{Period: core.Day, Start: 0, End: day, Limit: -1}}}
}
