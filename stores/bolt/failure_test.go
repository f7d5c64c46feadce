package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// TestFailedCommit fills a database limited in size until commits fail,
// from many goroutines, and checks that a deduction reported as failed was
// not charged and one reported as charged was: after the failures, every
// client's usage is exactly what its caller was told.
func TestFailedCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{MaxSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	opFor := func(g, i int) core.Op {
		// Long IDs and labels fill pages fast.
		id := fmt.Sprintf("%03d-%05d-%s", g, i, strings.Repeat("x", 240))
		return core.Op{Client: id, Label: strings.Repeat("l", 500), Cost: core.Credit, N: 1,
			List: [core.MaxQuotas]core.Window{{Period: core.Day, End: 1, Limit: core.Unlimited}}}
	}
	const goroutines, perG = 8, 400
	type outcome struct {
		g, i    int
		charged bool
	}
	results := make(chan outcome, goroutines*perG)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				res, err := s.Deduct(ctx, opFor(g, i))
				results <- outcome{g, i, err == nil && res.OK}
			}
		}()
	}
	wg.Wait()
	close(results)
	var charged, failed int
	for r := range results {
		op := opFor(r.g, r.i)
		res, err := s.Usage(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		want := core.Credits(0)
		if r.charged {
			want = core.Credit
			charged++
		} else {
			failed++
		}
		if got := res.Used[0]; got != want {
			t.Errorf("client %d/%d: charged=%v but the store holds %v", r.g, r.i, r.charged, got)
		}
	}
	if charged == 0 || failed == 0 {
		t.Fatalf("%d charged, %d failed: the test needs both", charged, failed)
	}
	t.Logf("%d charged, %d failed", charged, failed)
}
