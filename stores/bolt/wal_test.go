package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// copyStore copies the store file at path and its log segments to dir, as
// a crash would leave them, and returns the copy's path.
func copyStore(t *testing.T, path, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(path))
	copyFile(t, path, dst)
	seqs, err := segments(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range seqs {
		copyFile(t, segmentPath(path, q), segmentPath(dst, q))
	}
	return dst
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLogReplay charges a running store whose log has not been written
// into the file (no checkpoint since it opened), copies the file and the
// log as a crash would leave them, and opens the copy: every acknowledged
// change is there, replayed from the log, and the log is gone after.
func TestLogReplay(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s, path := openTest(t, m.opts)
			ctx := context.Background()
			var want []string
			for i := range 50 {
				op := dayOp(fmt.Sprintf("client-%d", i%7), credit)
				op.Label = fmt.Sprint("/r", i%3)
				op.At = int64(i)
				if i%5 == 0 {
					op.Key, op.KeyExpires = fmt.Sprint("key-", i), 1<<62
				}
				if res, err := s.Deduct(ctx, op); err != nil || !res.OK {
					t.Fatal(res, err)
				}
				if i%10 == 9 {
					if err := s.Refund(ctx, op); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := s.Delete(ctx, &core.DeleteOp{Client: "client-3", From: 0, To: hour}); err != nil {
				t.Fatal(err)
			}
			s.flush() // the interval mode's log write; the durable mode has written already
			if got := s.checkpoints.Load(); got != 0 {
				t.Fatalf("%d checkpoints ran: the test needs the changes in the log only", got)
			}
			want = exportAll(t, s, 0)
			dst := copyStore(t, path, t.TempDir())
			c, err := Open(dst, m.opts)
			if err != nil {
				t.Fatalf("Open of the copy: %v", err)
			}
			got := exportAll(t, c, 0)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if seqs, _ := segments(dst); len(seqs) != 0 {
				t.Errorf("after Close, %d log segments, want none (the file holds everything)", len(seqs))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("after the replay:\n%v\nwant\n%v", got, want)
			}
			if len(want) < 10 {
				t.Errorf("only %d records: the test charged too little", len(want))
			}
			checkFile(t, dst)
		})
	}
}

// TestFailedWrite makes log writes fail at random while goroutines
// deduct, and checks that a deduction reported as failed was not charged
// and one reported as charged was: after the failures, every client's
// usage is exactly what its callers were told, also after a checkpoint and
// a restart.
func TestFailedWrite(t *testing.T) {
	var fail atomic.Int64
	opts := &Options{hooks: &testHooks{ckDirty: 64, failWrite: func() error {
		if fail.Add(1)%3 == 0 {
			return errors.New("disk full (test)")
		}
		return nil
	}}}
	s, path := openTest(t, opts)
	ctx := context.Background()
	const goroutines, perG, clients = 8, 150, 20
	var charged [clients]atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				c := (g*perG + i) % clients
				res, err := s.Deduct(ctx, dayOp(fmt.Sprint("client-", c), credit))
				if err == nil && res.OK {
					charged[c].Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	check := func(s *Store, when string) {
		for c := range clients {
			res, err := s.Usage(ctx, dayOp(fmt.Sprint("client-", c), 0))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.Used[0], charged[c].Load()*credit; got != want {
				t.Errorf("%s: client %d holds %d, its callers were told %d", when, c, got, want)
			}
		}
	}
	check(s, "after the failures")
	if failed.Load() == 0 || failed.Load() == goroutines*perG {
		t.Fatalf("%d of %d failed: the test needs both", failed.Load(), goroutines*perG)
	}
	opts.hooks.failWrite = nil
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}
	check(s, "after a checkpoint")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check(s2, "after a restart")
}

// TestOnCommit checks that OnCommit sees every group commit with the
// number of calls it made durable.
func TestOnCommit(t *testing.T) {
	var mu sync.Mutex
	var batches, calls int
	s, _ := openTest(t, &Options{OnCommit: func(batch int, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		batches++
		calls += batch
		if took < 0 {
			t.Errorf("negative duration %v", took)
		}
	}})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := s.Deduct(context.Background(), dayOp(fmt.Sprint("c", g), credit)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil { // OnCommit runs after the callers are answered
		t.Fatal(err)
	}
	commits := s.commits.Load()
	mu.Lock()
	defer mu.Unlock()
	if calls != 16*20 {
		t.Errorf("OnCommit counted %d calls, want %d", calls, 16*20)
	}
	if got := int(commits); batches != got {
		t.Errorf("OnCommit saw %d commits, the store made %d", batches, got)
	}
}

// TestRecycledSegment checks that a log segment made from the spare file
// (a deleted segment renamed) replays only its own frames: the old
// segment's frames after them carry another sequence number.
func TestRecycledSegment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.db")
	old := &wal{path: path}
	f, err := createSegment(path, 1, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	old.switchTo(f, 1)
	frame := func(w *wal, key string) {
		buf := make([]byte, frameHeader)
		buf = append(buf, logPut, bkMeta, byte(len(key)))
		buf = append(buf, key...)
		buf = append(buf, 1, 'v')
		if err := w.write(buf, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		frame(old, fmt.Sprint("old-", i)) // same size as the new frames
	}
	old.f.Close()
	if err := removeSegments(path, 2); err != nil { // segment 1 becomes the spare
		t.Fatal(err)
	}
	f, err = createSegment(path, 2, 0o600) // the spare, renamed
	if err != nil {
		t.Fatal(err)
	}
	w := &wal{path: path}
	w.switchTo(f, 2)
	frame(w, "new-0")
	w.f.Close()
	if fi, err := os.Stat(segmentPath(path, 2)); err != nil || fi.Size() <= int64(w.off) {
		t.Fatalf("segment 2 is not the recycled file: %v, %v", fi, err)
	}
	var got []string
	err = readSegment(segmentPath(path, 2), 2, func(op, bk byte, k, v []byte) error {
		got = append(got, string(k))
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[new-0]" {
		t.Errorf("replay of the recycled segment: %v, %v; want [new-0]", got, err)
	}
}
