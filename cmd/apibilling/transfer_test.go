package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// TestExportImport exports a bbolt file to a snapshot and imports it into
// every kind of store, checking each client's totals; then it checks the
// refusal of a store that is not empty, -merge, an interrupted import run
// again, and a damaged snapshot.
func TestExportImport(t *testing.T) {
	st := state{n: 3000, now: time.Now()}
	src := boltWith(t, st)
	dir := t.TempDir()
	snap := filepath.Join(dir, "state.snapshot")
	r := mustRun(t, "export", "-store", src.url, "-o", snap, "-format", "json")
	var c countsJSON
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatal(err)
	}
	if c.Records != st.count() || c.File != snap {
		t.Errorf("export counted %+v, want %d records", c, st.count())
	}
	// To stdout: the same records (the header's id and time differ).
	r = mustRun(t, "export", "-store", src.url, "-o", "-")
	if n := strings.Count(r.stdout, "\n"); int64(n) != st.count()+2 {
		t.Errorf("export to stdout wrote %d lines, want %d", n, st.count()+2)
	}
	if !strings.Contains(r.stderr, "exported") {
		t.Errorf("the summary of an export to stdout goes to stderr:\n%s", r.stderr)
	}

	for _, kind := range []string{"bolt", "redis", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			dst := serviceOf(t, kind)
			args := append([]string{"import"}, dst.args("store", "prefix")...)
			r := mustRun(t, append(args, "-i", snap)...)
			if !strings.Contains(r.stdout, "(copied)") {
				t.Errorf("import said:\n%s", r.stdout)
			}
			s := dst.open(t)
			st.check(t, s)
			s.Close()

			// Not empty: refused, naming -merge; with -merge, usage adds up.
			wantFail(t, 1, []string{"is not empty", "add -merge"}, append(args, "-i", snap)...)
			r = mustRun(t, append(args, "-i", snap, "-merge", "-format", "json")...)
			if !strings.Contains(r.stdout, `"mode":"merged"`) {
				t.Errorf("import -merge said:\n%s", r.stdout)
			}
			s = dst.open(t)
			doubled := newTally(false)
			s.Export(t.Context(), func(rec *core.Record) error { doubled.add(rec); return nil })
			s.Close()
			for i := range st.n {
				want := st.totals(i)
				want.WindowUsed *= 2
				want.Credits *= 2
				if got := doubled.clients[st.id(i)].totals(st.now.UnixNano()); got != want {
					t.Fatalf("client %q after merging twice: %+v, want %+v", st.id(i), got, want)
				}
			}
		})
	}

	t.Run("interrupted", func(t *testing.T) {
		// A snapshot cut short is refused at its end; the store then holds
		// the records before the cut, and the complete file resumes.
		data, err := os.ReadFile(snap)
		if err != nil {
			t.Fatal(err)
		}
		short := filepath.Join(t.TempDir(), "short.snapshot")
		os.WriteFile(short, data[:len(data)*2/3], 0o600)
		dst := boltService(t, "dst.db")
		wantFail(t, 1, []string{"not a valid snapshot", "import a complete snapshot"}, "import", "-store", dst.url, "-i", short)
		wantFail(t, 1, []string{"not a valid snapshot"}, "import", "-store", dst.url, "-i", short)
		r := mustRun(t, "import", "-store", dst.url, "-i", snap)
		if !strings.Contains(r.stdout, "(resumed)") || !strings.Contains(r.stderr, "resuming") {
			t.Errorf("the second import did not resume:\n%s", r)
		}
		s := dst.open(t)
		st.check(t, s)
		s.Close()

		// A merge cut short cannot be finished: the next run refuses.
		dst2 := boltWith(t, state{n: 10, now: st.now})
		wantFail(t, 1, []string{"merging again would count that part twice"}, "import", "-store", dst2.url, "-i", short, "-merge")
		wantFail(t, 1, []string{"was interrupted", "Restore the store from its backup"}, "import", "-store", dst2.url, "-i", snap, "-merge")
		// A copy into a store that holds an interrupted merge is refused as
		// not empty.
		wantFail(t, 1, []string{"is not empty"}, "import", "-store", dst2.url, "-i", snap)
	})

	t.Run("errors", func(t *testing.T) {
		dst := boltService(t, "e.db")
		bad := filepath.Join(t.TempDir(), "bad.snapshot")
		os.WriteFile(bad, []byte("{\"format\":\"something else\"}\n"), 0o600)
		wantFail(t, 1, []string{"not a valid snapshot: no header line"}, "import", "-store", dst.url, "-i", bad)
		wantFail(t, 1, []string{"no such file"}, "import", "-store", dst.url, "-i", filepath.Join(t.TempDir(), "none"))
		wantFail(t, 2, []string{"-i is required"}, "import", "-store", dst.url)
		wantFail(t, 2, []string{"-o is required"}, "export", "-store", src.url)
		wantFail(t, 1, []string{"no bbolt file"}, "export", "-store", dst.url+".missing", "-o", filepath.Join(t.TempDir(), "x"))
	})
}
