package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/frappy-go/apibilling/storeurl"
)

// checkFile decodes check -format json of one file.
func checkFile(t testing.TB, r result) checkJSON {
	t.Helper()
	var c checkJSON
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("decoding: %v\n%s", err, r)
	}
	return c
}

// wantCounts checks a check's counts against the state.
func wantCounts(t testing.TB, c checkJSON, st state) {
	t.Helper()
	var w totals
	for i := range st.n {
		w.add(st.totals(i))
	}
	if c.Format != 2 || c.Clients != st.n || int64(c.Windows) != w.Windows || int64(c.Usage) != w.Usage || int64(c.Keys) != w.Keys {
		t.Errorf("check counted %+v; want format 2, %d clients, %d windows, %d usage aggregates, %d keys",
			c, st.n, w.Windows, w.Usage, w.Keys)
	}
}

// TestCheck checks a sound file: status 0, the format version and the
// record counts, as text and JSON.
func TestCheck(t *testing.T) {
	st := state{n: 2000, now: time.Now()}
	db := boltWith(t, st)
	r := mustRun(t, "check", db.url)
	for _, want := range []string{"format            2", "clients           2,000", "status            ok"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stdout)
		}
	}
	c := checkFile(t, mustRun(t, "check", "bolt:"+db.url, "-format", "json"))
	if !c.OK {
		t.Errorf("not ok: %+v", c)
	}
	wantCounts(t, c, st)
	if testing.Verbose() {
		t.Logf("check:\n%s", r.stdout)
	}
}

// TestCheckDamaged checks that check reports every truncated or damaged
// file with status 1 and a message that names the fix, and never crashes:
// truncations at page boundaries and inside pages, a byte flipped at
// offsets all over the file (each found, or in free space or a value that
// still decodes), both meta pages damaged, an empty file, a
// file that is not bbolt, and a bbolt file of another program.
func TestCheckDamaged(t *testing.T) {
	st := state{n: 2000, now: time.Now()}
	good := boltWith(t, st)
	data, err := os.ReadFile(good.url)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	size := len(data)
	// The pages past the high water mark are free space that bbolt
	// allocated ahead: cutting them off loses nothing.
	used := size
	if db, err := bbolt.Open(good.url, 0o600, &bbolt.Options{ReadOnly: true}); err == nil {
		db.View(func(tx *bbolt.Tx) error { used = int(tx.Size()); return nil })
		db.Close()
	}
	t.Logf("the file has %d bytes, %d of them in use", size, used)
	for _, n := range []int{used, size - 1} {
		p := write(fmt.Sprintf("cut-free-%d.db", n), data[:n])
		if r := apibilling(t, "check", p); r.code != 0 {
			t.Errorf("cut to %d bytes (free space only): %s", n, r)
		}
	}
	for _, n := range []int{0, 1, 100, 4095, 4096, 4097, 8192, 12288, used / 3, used / 2, used - 4096, used - 1} {
		p := write(fmt.Sprintf("truncated-%d.db", n), data[:n])
		r := wantFail(t, 1, []string{p}, "check", p)
		if !strings.Contains(r.stderr, "damaged") && !strings.Contains(r.stderr, "cannot be checked") {
			t.Errorf("truncated to %d bytes: %s", n, r.stderr)
		}
	}
	both := append([]byte(nil), data...)
	both[16] ^= 0xff      // meta page 0
	both[4096+16] ^= 0xff // meta page 1
	wantFail(t, 1, []string{"damaged", "restore it from its latest backup"}, "check", write("metas.db", both))

	// A byte flipped at offsets all over the file: each is reported or
	// harmless (free space), never a crash.
	failed, passed := 0, 0
	const flips = 80
	for i := range flips {
		off := (i*size)/flips + (i*37)%4096
		if off >= size {
			off = size - 1
		}
		b := append([]byte(nil), data...)
		b[off] ^= 0x5a
		p := write(fmt.Sprintf("flip-%d.db", off), b)
		r := apibilling(t, "check", p)
		switch r.code {
		case 0:
			passed++
		case 1:
			failed++
			if !strings.Contains(r.stderr, p) {
				t.Errorf("flip at %d: the message does not name the file:\n%s", off, r.stderr)
			}
		default:
			t.Errorf("flip at %d: %s", off, r)
		}
		os.Remove(p)
	}
	// Most bytes of a bbolt file are free space in pages and free pages,
	// and a flip inside a value (a number of credits) still decodes: the
	// file has no checksums of its data.
	t.Logf("%d bytes flipped: %d reported damaged, %d not found (free space, or a value still valid)", flips, failed, passed)
	if failed == 0 {
		t.Errorf("none of %d flipped bytes was found", flips)
	}

	wantFail(t, 1, []string{"damaged"}, "check", write("text.db", []byte(strings.Repeat("not a database\n", 1000))))
	foreign := filepath.Join(dir, "foreign.db")
	fdb, err := bbolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	fdb.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	fdb.Close()
	wantFail(t, 1, []string{"without an apibilling store"}, "check", foreign)
	wantFail(t, 1, []string{"cannot be checked", "no such file"}, "check", filepath.Join(dir, "missing.db"))

	// Several files: each is reported, and the status is 1.
	r := wantFail(t, 1, []string{"1 of 2 files failed"}, "check", "-format", "json", good.url, write("short.db", data[:5000]))
	var list []checkJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 2 || !list[0].OK || list[1].OK {
		t.Errorf("JSON of two files: %v\n%s", err, r.stdout)
	}
	wantFail(t, 2, []string{"no file given"}, "check")
	wantFail(t, 2, []string{"not a bbolt file"}, "check", "redis://127.0.0.1:6379/0")
}

// TestCheckLocked checks that a file a running store holds is reported
// as in use, with the way to check a copy.
func TestCheckLocked(t *testing.T) {
	db := boltService(t, "live.db")
	s, err := storeurl.Open(t.Context(), db.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantFail(t, 1, []string{"in use", "apibilling backup -api"}, "check", db.url)
}
