package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/storeurl"
)

// TestBackupOffline backs up a stopped app's file and checks the copy's
// every client against the state.
func TestBackupOffline(t *testing.T) {
	st := state{n: 2000, now: time.Now()}
	db := boltWith(t, st)
	out := filepath.Join(t.TempDir(), "backup.db")
	r := mustRun(t, "backup", "-db", db.url, "-o", out)
	if !strings.Contains(r.stdout, "passed its check") || !strings.Contains(r.stdout, "2,000 clients") {
		t.Errorf("backup said:\n%s", r.stdout)
	}
	wantCounts(t, checkFile(t, mustRun(t, "check", out, "-format", "json")), st)
	s, err := storeurl.Open(t.Context(), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.check(t, s)
	s.Close()

	// JSON, and a second backup replaces the first.
	r = mustRun(t, "backup", "-db", "bolt:"+db.url, "-o", out, "-format", "json")
	if c := checkFile(t, r); !c.OK || c.Clients != st.n {
		t.Errorf("JSON: %s", r.stdout)
	}
	wantFail(t, 2, []string{"-o names the store file itself"}, "backup", "-db", db.url, "-o", db.url)
	wantFail(t, 1, []string{"no bbolt file at"}, "backup", "-db", filepath.Join(t.TempDir(), "missing.db"), "-o", out)
	wantFail(t, 2, []string{"either -db FILE"}, "backup", "-o", out)
	wantFail(t, 2, []string{"-o is required"}, "backup", "-db", db.url)
	wantFail(t, 2, []string{"-token goes with -api"}, "backup", "-db", db.url, "-o", out, "-token", "x")
	wantFail(t, 2, []string{"use apibilling export"}, "backup", "-db", "redis://127.0.0.1:6379/0", "-o", out)

	// A running store holds the file: the fix is the online backup.
	s, err = storeurl.Open(t.Context(), db.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantFail(t, 1, []string{"in use", "backup -api"}, "backup", "-db", db.url, "-o", filepath.Join(t.TempDir(), "b.db"))
}

// TestBackupOnline backs up a live bbolt store through the usage API while
// charges go on, and checks that the copy holds at least the credits
// charged before the backup began and at most those charged by its end.
func TestBackupOnline(t *testing.T) {
	dir := t.TempDir()
	s, err := bolt.Open(filepath.Join(dir, "live.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Some state to copy besides the charges.
	state{n: 3000, now: time.Now()}.fill(t, s)
	srv := usageAPI(t, s, s.Backup)
	b := core.New(s)
	const clients = 20
	for i := range clients {
		if err := b.SetQuotas(fmt.Sprintf("live-%d", i), core.Quota{Period: core.Day, Limit: core.Unlimited}); err != nil {
			t.Fatal(err)
		}
	}
	var charged atomic.Int64 // credits admitted
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if _, err := b.Track(context.Background(), fmt.Sprintf("live-%d", (g*7+i)%clients), core.Whole(1)); err != nil {
					errs <- err
					return
				}
				charged.Add(1)
			}
		}()
	}
	for charged.Load() < 500 {
		time.Sleep(time.Millisecond)
	}
	before := charged.Load()
	out := filepath.Join(dir, "online.db")
	r := apibillingWith(t, cmdOpts{env: []string{"APIBILLING_ADMIN_TOKEN=" + adminToken}},
		"backup", "-api", srv.URL+"/billing/", "-o", out)
	after := charged.Load()
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("charging: %v", err)
	}
	if r.code != 0 {
		t.Fatalf("backup: %s", r)
	}
	t.Logf("%s; %d credits charged before the backup, %d by its end, %d in all", strings.TrimSpace(r.stdout), before, after, charged.Load())
	if after == before {
		t.Log("no charge ran during the backup")
	}
	c, err := storeurl.Open(t.Context(), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got int64
	err = c.Export(t.Context(), func(rec *core.Record) error {
		if rec.Kind == core.RecordUsage && strings.HasPrefix(rec.Client, "live-") {
			got += rec.Used
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A charge is on disk before Track returns and counted just after:
	// each goroutine may have one charge copied but not yet counted.
	if got < before*1e6 || got > (after+4)*1e6 {
		t.Errorf("the copy holds %s credits of the live clients; want from %d to %d", credits(got), before, after+4)
	}

	// The token on the command line works too; a wrong one, a wrong URL and
	// an app without backups are refused with the fix.
	mustRun(t, "backup", "-api", srv.URL+"/billing", "-token", adminToken, "-o", out)
	wantFail(t, 1, []string{"refused the token", "admin token"}, "backup", "-api", srv.URL+"/billing", "-token", "wrong", "-o", out)
	wantFail(t, 1, []string{"answered 404", "where the app mounts its usage API"}, "backup", "-api", srv.URL, "-token", adminToken, "-o", out)
	nob := usageAPI(t, s, nil)
	wantFail(t, 1, []string{"answered 404: Backups are not available"}, "backup", "-api", nob.URL+"/billing", "-token", adminToken, "-o", out)
	wantFail(t, 2, []string{"admin token"}, "backup", "-api", srv.URL+"/billing", "-o", out)
	wantFail(t, 2, []string{"want the URL where the app mounts"}, "backup", "-api", "ftp://x", "-token", "t", "-o", out)
	if r := wantFail(t, 1, []string{"refused the token"}, "backup", "-api", srv.URL+"/billing", "-token", "s3cret-token", "-o", out); strings.Contains(r.stderr, "s3cret") {
		t.Errorf("the token was printed: %s", r.stderr)
	}
}

// TestBackupIncomplete checks that a backup cut short by the server is
// refused, and that it leaves no file and an earlier backup in place.
func TestBackupIncomplete(t *testing.T) {
	db := boltWith(t, state{n: 500, now: time.Now()})
	data, err := os.ReadFile(db.url)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/billing/api/backup" || r.Header.Get("Authorization") != "Bearer "+adminToken {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data[:len(data)/3]) // then the connection ends: a backup that failed half-way
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "backup.db")
	os.WriteFile(out, []byte("the previous backup"), 0o600)
	wantFail(t, 1, []string{"the copy failed its check", "damaged"}, "backup", "-api", srv.URL+"/billing", "-token", adminToken, "-o", out)
	if b, err := os.ReadFile(out); err != nil || string(b) != "the previous backup" {
		t.Errorf("the previous backup was replaced: %q, %v", b, err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".backup.db.tmp-*")); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}
