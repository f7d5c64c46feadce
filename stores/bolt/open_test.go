package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/core"
	bbolt "go.etcd.io/bbolt"
)

// TestOpenBadFiles checks that every file the store cannot use is refused
// with a clear error naming the file, and never a panic.
func TestOpenBadFiles(t *testing.T) {
	// good writes a valid store with some usage and returns its bytes.
	good := func(t *testing.T) []byte {
		s, path := openTest(t, nil)
		op := core.Op{Client: "c", Cost: core.Credit, N: 1, List: [core.MaxQuotas]core.Window{{Period: core.Day, End: 1, Limit: core.Unlimited}}}
		for range 3 {
			if _, err := s.Deduct(context.Background(), op); err != nil {
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
	}{
		{"garbage", func(t *testing.T, path string) {
			write(t, path, []byte(strings.Repeat("not a database ", 1000)))
		}, ErrCorrupt},
		{"too short", func(t *testing.T, path string) { write(t, path, []byte("bolt")) }, ErrCorrupt},
		{"truncated", func(t *testing.T, path string) {
			b := good(t)
			write(t, path, b)
			db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			var need int64
			db.View(func(tx *bbolt.Tx) error { need = tx.Size(); return nil })
			db.Close()
			write(t, path, b[:need-int64(os.Getpagesize())]) // the last page in use is cut
		}, ErrCorrupt},
		{"meta pages damaged", func(t *testing.T, path string) {
			b := good(t)
			for i := 16; i < 80; i++ { // both meta pages' fields
				b[i] ^= 0xff
				b[os.Getpagesize()+i] ^= 0xff
			}
			write(t, path, b)
		}, ErrCorrupt},
		{"foreign", withDB(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket([]byte("someone else's"))
			return err
		}), ErrForeign},
		{"newer format", withDB(setFormat(FormatVersion + 1)), ErrNewerFormat},
		{"unknown older format", withDB(setFormat(0)), ErrCorrupt},
		{"no meta bucket", withDB(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket(rootBucket)
			return err
		}), ErrCorrupt},
		{"bad record", withDB(func(tx *bbolt.Tx) error {
			if err := createLayout(tx); err != nil {
				return err
			}
			return tx.Bucket(rootBucket).Bucket(windowsBucket).Put([]byte{0, 1, 'c', 3}, []byte("short"))
		}), ErrCorrupt},
		{"bad key", withDB(func(tx *bbolt.Tx) error {
			if err := createLayout(tx); err != nil {
				return err
			}
			return tx.Bucket(rootBucket).Bucket(daysBucket).Put([]byte{0, 9, 'c'}, make([]byte, dayValueLen))
		}), ErrCorrupt},
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
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLocked checks that a second open of a file in use fails with
// ErrLocked naming the file instead of waiting for ever. bbolt locks with
// flock, which is per open file description, so a second Open in this
// process contends as a second process would.
func TestOpenLocked(t *testing.T) {
	s, path := openTest(t, nil)
	_ = s
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
	op := core.Op{Client: "c", Cost: core.Credit, N: 1, List: [core.MaxQuotas]core.Window{{Period: core.Day, End: 1, Limit: core.Unlimited}}}
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
	if got, want := res.Used[0], core.Credit; got != want {
		t.Errorf("usage in the borrowed db = %v, want %v", got, want)
	}
}
