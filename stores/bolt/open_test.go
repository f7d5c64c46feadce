package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// goodFile writes a valid store with some usage, keys and a window of
// each period, closes it and returns its bytes.
func goodFile(t *testing.T) []byte {
	t.Helper()
	s, path := openTest(t, nil)
	ctx := context.Background()
	for i := range 40 {
		op := dayOp(string(rune('a'+i%26))+strings.Repeat("x", i), credit)
		op.Label = "/route/" + strings.Repeat("r", i%5)
		op.At = int64(i)
		if i%3 == 0 {
			op.Key, op.KeyExpires = "key-"+strings.Repeat("k", i), 1<<62
		}
		for p := core.Second; p <= core.Year; p++ {
			op.List[p] = core.Window{Period: p, Start: 0, End: day, Limit: -1}
		}
		op.N = core.MaxQuotas
		if _, err := s.Deduct(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpenBadFiles checks that every file the store cannot use is refused
// with a clear error naming the file, and never a panic.
func TestOpenBadFiles(t *testing.T) {
	// withDB builds a file with a bbolt transaction.
	withDB := func(fn func(tx *bbolt.Tx) error) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(fn); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	setFormat := func(v uint32) func(tx *bbolt.Tx) error {
		return func(tx *bbolt.Tx) error {
			if err := createLayout(tx); err != nil {
				return err
			}
			return tx.Bucket(rootBucket).Bucket(metaBucket).Put(formatKey, binary.BigEndian.AppendUint32(nil, v))
		}
	}
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		want error
		msg  string // also in the message
	}{
		{"empty", func(t *testing.T, path string) { write(t, path, nil) }, ErrCorrupt, "delete it"},
		{"one page", func(t *testing.T, path string) { write(t, path, goodFile(t)[:4096]) }, ErrCorrupt, ""},
		{"garbage", func(t *testing.T, path string) {
			write(t, path, []byte(strings.Repeat("not a database ", 1000)))
		}, ErrCorrupt, ""},
		{"too short", func(t *testing.T, path string) { write(t, path, []byte("bolt")) }, ErrCorrupt, ""},
		{"truncated", func(t *testing.T, path string) {
			b := goodFile(t)
			write(t, path, b)
			db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			var need int64
			db.View(func(tx *bbolt.Tx) error { need = tx.Size(); return nil })
			db.Close()
			write(t, path, b[:need-4096]) // the last page in use is cut
		}, ErrCorrupt, ""},
		{"truncated to 8 KiB", func(t *testing.T, path string) { write(t, path, goodFile(t)[:8192]) }, ErrCorrupt, ""},
		{"meta pages damaged", func(t *testing.T, path string) {
			b := goodFile(t)
			for i := 16; i < 80; i++ { // both meta pages' fields
				b[i] ^= 0xff
				b[4096+i] ^= 0xff
			}
			write(t, path, b)
		}, ErrCorrupt, ""},
		{"foreign", withDB(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket([]byte("someone else's"))
			return err
		}), ErrForeign, ""},
		{"newer format", withDB(setFormat(FormatVersion + 1)), ErrNewerFormat, ""},
		{"unknown older format", withDB(setFormat(0)), ErrCorrupt, ""},
		{"no meta bucket", withDB(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket(rootBucket)
			return err
		}), ErrCorrupt, ""},
		{"no clients bucket", withDB(func(tx *bbolt.Tx) error {
			if err := createLayout(tx); err != nil {
				return err
			}
			return tx.Bucket(rootBucket).DeleteBucket(clientsBucket)
		}), ErrCorrupt, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usage.db")
			tt.make(t, path)
			s, err := Open(path, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want %v", tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Open: %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("Open: %q does not name the file", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Open: %q does not say %q", err, tt.msg)
			}
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedRecordIsLazy checks that Open does not read the records (its
// cost does not grow with the usage stored): a file with one damaged
// client record opens, the calls that read that record fail with
// ErrCorrupt, the others work, and Check finds the damage.
func TestDamagedRecordIsLazy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	write(t, path, goodFile(t))
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(rootBucket).Bucket(clientsBucket).Put([]byte("damaged"), []byte("short"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open of a file with one damaged record: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Deduct(ctx, dayOp("damaged", credit)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Deduct of the damaged client: err = %v, want ErrCorrupt", err)
	}
	if _, err := s.Usage(ctx, dayOp("damaged", 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Usage of the damaged client: err = %v, want ErrCorrupt", err)
	}
	if res, err := s.Deduct(ctx, dayOp("a", credit)); err != nil || !res.OK {
		t.Errorf("Deduct of another client: %v, %v", res.OK, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(ctx, path)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "client record") {
		t.Errorf("Check: %v, want ErrCorrupt naming the client record", err)
	}
	if rep.Format != FormatVersion || rep.Clients == 0 {
		t.Errorf("Check report %+v: want the format and the clients counted", rep)
	}
}

// TestOpenLocked checks that a second open of a file in use fails with
// ErrLocked naming the file instead of waiting for ever. bbolt locks with
// flock, which is per open file description, so a second Open in this
// process contends as a second process would.
func TestOpenLocked(t *testing.T) {
	_, path := openTest(t, nil)
	for _, tt := range []struct {
		name string
		opts *Options
	}{{"default timeout", nil}, {"no wait", &Options{LockTimeout: -1}}} {
		t.Run(tt.name, func(t *testing.T) {
			s2, err := Open(path, tt.opts)
			if err == nil {
				s2.Close()
				t.Fatal("second Open succeeded")
			}
			if !errors.Is(err, ErrLocked) {
				t.Errorf("second Open: %v, want ErrLocked", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("second Open: %q does not name the file", err)
			}
		})
	}
}

// TestNewBorrows checks that a store made with New shares the caller's
// database with the caller's own buckets and leaves it open on Close.
func TestNewBorrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("app"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s, err := New(db, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	op := dayOp("c", credit)
	if _, err := s.Deduct(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("app")) == nil {
			return errors.New("the application's bucket is gone")
		}
		return nil
	}); err != nil {
		t.Fatalf("db after Close: %v", err)
	}
	s, err = New(db, nil)
	if err != nil {
		t.Fatalf("New again: %v", err)
	}
	defer s.Close()
	res, err := s.Usage(context.Background(), op)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Used[0], credit; got != want {
		t.Errorf("usage in the borrowed db = %v, want %v", got, want)
	}
}

// TestDamagedTreeStopsWrites damages a page header deep in the file (an
// overflow count of four billion pages, which makes bbolt loop when it
// frees the page): Open succeeds without reading the tree, the check of the
// tree that runs in the background finds the damage before the first
// checkpoint writes, and the store then fails with ErrCorrupt instead of
// hanging.
func TestDamagedTreeStopsWrites(t *testing.T) {
	b := goodFile(t)
	path := filepath.Join(t.TempDir(), "usage.db")
	write(t, path, b)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := inspectFile(f, path)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A leaf page other than the root: the first page after the meta
	// pages whose header says leaf.
	var victim int64 = -1
	for id := int64(2); id < int64(info.meta.pgid); id++ {
		off := id * info.pageSize
		if id != int64(info.meta.root) && binary.NativeEndian.Uint16(b[off+8:]) == leafPageFlag {
			victim = off
			break
		}
	}
	if victim < 0 {
		t.Fatal("no leaf page to damage")
	}
	binary.NativeEndian.PutUint32(b[victim+12:], 0xFFFFFFF0)
	write(t, path, b)
	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open: %v (the tree is checked in the background)", err)
	}
	<-s.validated
	if !errors.Is(s.validErr, ErrCorrupt) {
		t.Errorf("background check: %v, want ErrCorrupt", s.validErr)
	}
	waitFor(t, "the store to stop", func() bool {
		_, err := s.Deduct(context.Background(), dayOp("a", credit))
		return errors.Is(err, ErrCorrupt)
	})
	if err := s.Close(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Close (its checkpoint): %v, want ErrCorrupt", err)
	}
	if _, err := Check(context.Background(), path); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Check: %v, want ErrCorrupt", err)
	}
}

// waitFor yields until cond holds, and fails the test if it does not after
// a bounded number of tries.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 100_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("gave up waiting for %s", what)
}
