package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/storeurl"
)

// migrateReport decodes migrate -format json.
func migrateReport(t testing.TB, r result) report {
	t.Helper()
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("decoding the report: %v\n%s", err, r)
	}
	return rep
}

// boltWith returns a bbolt file holding st's state.
func boltWith(t testing.TB, st state) service {
	t.Helper()
	b := boltService(t, "source.db")
	s, err := storeurl.Open(t.Context(), b.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.fill(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMigrate100k migrates 100,000 clients' state (363,334 records) from a
// bbolt file to Redis and checks every client's totals: those the command
// read and wrote, in its CSV report, against the generated state; and,
// unless the tests run with -race, an export of Redis in this process
// against the generated state. Measured on the 2-core development machine
// shared with other builds (load 3 to 7): 29 to 40 s in all (1.5 to 4 s to
// fill the file, 16 to 24 s to migrate, 8 to 14 s to check Redis); with
// -race, where the binary is built with it too, 42 to 70 s (10 to 13 s to
// fill, 27 to 51 s to migrate, no check in this process).
func TestMigrate100k(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 100,000-client migration takes about 30 s")
	}
	dst := redisService(t)
	st := state{n: 100_000, now: time.Now()}
	t0 := time.Now()
	src := boltWith(t, st)
	t.Logf("filled the bbolt file with %d clients in %s", st.n, time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	r := mustRun(t, append(append([]string{"migrate", "-from", src.url}, dst.args("to", "to-prefix")...), "-format", "csv", "-progress", "log")...)
	t.Logf("migrated in %s", time.Since(t0).Round(time.Millisecond))
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.HasSuffix(line, ", done") {
			t.Log(line)
		}
	}
	// The report, one row per client: what was read (expected) and
	// written, against the generated state.
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]totals, st.n)
	for i := range st.n {
		want[st.id(i)] = st.totals(i)
	}
	if got := len(rows) - 1; got != st.n {
		t.Errorf("%d clients in the report, want %d", got, st.n)
	}
	bad := 0
	for _, row := range rows[1:] {
		if len(row) != 12 {
			t.Fatalf("report row %q", row)
		}
		num := func(j int) int64 { n, _ := strconv.ParseInt(row[j], 10, 64); return n }
		cr := func(j int) creditsJSON {
			var c creditsJSON
			if err := c.UnmarshalJSON([]byte(row[j])); err != nil {
				t.Fatal(err)
			}
			return c
		}
		read := totals{Windows: num(1), WindowUsed: cr(3), Usage: num(5), Credits: cr(7), Keys: num(9)}
		written := totals{Windows: num(2), WindowUsed: cr(4), Usage: num(6), Credits: cr(8), Keys: num(10)}
		if w, ok := want[row[0]]; !ok || read != w || written != w || row[11] != "true" {
			if bad++; bad <= 5 {
				t.Errorf("client %q: read %+v, written %+v, ok %s; want %+v", row[0], read, written, row[11], w)
			}
		}
	}
	if want := fmt.Sprintf("copied %s records of 100,000 clients", count(st.count())); !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q", want)
	}
	if !strings.Contains(r.stderr, "copying: ") || !strings.Contains(r.stderr, ", done") || !strings.Contains(r.stderr, "every total equal") {
		t.Errorf("stderr lacks the progress log lines and the verdict:\n%s", r.stderr)
	}
	if raceEnabled {
		t.Log("-race: Redis is not exported again in this process")
		return
	}
	t0 = time.Now()
	s := dst.open(t)
	defer s.Close()
	st.check(t, s)
	t.Logf("checked Redis against the generated state in %s", time.Since(t0).Round(time.Millisecond))
}

// migrateArgs returns the arguments of a migration from src to dst.
func migrateArgs(src, dst service, extra ...string) []string {
	args := append([]string{"migrate"}, src.args("from", "from-prefix")...)
	args = append(args, dst.args("to", "to-prefix")...)
	return append(args, extra...)
}

// TestMigrateStores migrates a state around every kind of store, bbolt to
// Redis to PostgreSQL to MySQL to bbolt, checking each target's every
// client, and the report's formats.
func TestMigrateStores(t *testing.T) {
	st := state{n: 2000, now: time.Now()}
	prev := boltWith(t, st)
	for _, kind := range []string{"redis", "postgres", "mysql", "bolt"} {
		dst := serviceOf(t, kind)
		r := mustRun(t, migrateArgs(prev, dst, "-format", "json", "-progress", "none")...)
		rep := migrateReport(t, r)
		if !rep.OK || rep.Records != st.count() || len(rep.Clients) != st.n || rep.Mode != "copy" {
			t.Errorf("%s to %s: ok %v, %d records, %d clients, mode %s", prev.name, kind, rep.OK, rep.Records, len(rep.Clients), rep.Mode)
		}
		s := dst.open(t)
		st.check(t, s)
		s.Close()
		prev = dst
	}
	// The table and CSV of a migration to a fresh store.
	dst := boltService(t, "table.db")
	r := mustRun(t, migrateArgs(prev, dst, "-progress", "none")...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != st.n+2 || !strings.HasPrefix(lines[0], "CLIENT") || !strings.Contains(lines[len(lines)-1], "(total: 2,000 clients)") {
		t.Errorf("the table has %d lines:\n%s\n...\n%s", len(lines), lines[0], lines[len(lines)-1])
	}
	if !strings.Contains(r.stderr, "every total equal") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	dst = boltService(t, "csv.db")
	r = mustRun(t, migrateArgs(prev, dst, "-format", "csv", "-summary", "-progress", "none")...)
	if r.stdout != "client,windows_expected,windows_written,window_used_expected,window_used_written,usage_aggregates_expected,usage_aggregates_written,usage_credits_expected,usage_credits_written,keys_expected,keys_written,ok\n" {
		t.Errorf("-summary of an exact migration lists clients:\n%s", r.stdout)
	}
	if testing.Verbose() {
		t.Logf("table (head):\n%s\n%s\n%s", lines[0], lines[1], lines[len(lines)-1])
	}
}

// TestMigrateRefuses checks the refusals: a target that is not empty
// (naming -merge), the same store twice, missing flags.
func TestMigrateRefuses(t *testing.T) {
	st := state{n: 50, now: time.Now()}
	src := boltWith(t, st)
	dst := boltWith(t, state{n: 5, now: st.now})
	wantFail(t, 1, []string{"is not empty", "add -merge"}, migrateArgs(src, dst)...)
	wantFail(t, 2, []string{"the same store"}, "migrate", "-from", src.url, "-to", "bolt:"+src.url)
	wantFail(t, 2, []string{"-from and -to are required"}, "migrate", "-from", src.url)
	wantFail(t, 2, []string{"-to-prefix applies to Redis"}, "migrate", "-from", src.url, "-to", dst.url+"2", "-to-prefix", "x")
	wantFail(t, 2, []string{"-format \"xml\""}, "migrate", "-from", src.url, "-to", dst.url, "-format", "xml")
	wantFail(t, 2, []string{"-progress \"fancy\""}, "migrate", "-from", src.url, "-to", dst.url, "-progress", "fancy")
}

// TestMigrateResume interrupts migrations with a failure half-way and
// runs them again: the second run resumes, and the target equals the
// source exactly.
func TestMigrateResume(t *testing.T) {
	st := state{n: 3000, now: time.Now()}
	src := boltWith(t, st)
	for _, kind := range []string{"bolt", "redis"} {
		t.Run(kind, func(t *testing.T) {
			dst := serviceOf(t, kind)
			args := migrateArgs(src, dst, "-format", "json", "-progress", "log")
			r := apibillingWith(t, cmdOpts{env: []string{"APIBILLING_TEST_FAIL=copy:4000"}}, args...)
			if r.code != 1 || !strings.Contains(r.stderr, "test hook: failing after 4000 records") ||
				!strings.Contains(r.stderr, "run the same command again to resume") || !strings.Contains(r.stderr, "stopped") {
				t.Fatalf("the failed run: %s", r)
			}
			r = mustRun(t, args...)
			if !strings.Contains(r.stderr, "resuming") {
				t.Errorf("the second run did not resume:\n%s", r.stderr)
			}
			rep := migrateReport(t, r)
			if !rep.OK || rep.Mode != "resume" || rep.Records != st.count() {
				t.Errorf("report: ok %v, mode %s, %d records", rep.OK, rep.Mode, rep.Records)
			}
			s := dst.open(t)
			st.check(t, s)
			s.Close()
			// Finished: the same migration again finds a target that is not
			// empty.
			wantFail(t, 1, []string{"is not empty"}, args...)
		})
	}
}

// started is a run of the binary in the background.
type started struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *lockedBuffer
}

// start starts the binary with env and args.
func start(t testing.TB, env []string, args ...string) *started {
	t.Helper()
	p := &started{cmd: exec.Command(bin, args...), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	p.cmd.Env = append(childEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// waitFor waits until stderr holds text.
func (p *started) waitFor(t testing.TB, text string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.stderr.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on stderr in a minute:\n%s", text, p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its status.
func (p *started) wait(t testing.TB) result {
	t.Helper()
	err := p.cmd.Wait()
	r := result{stdout: p.stdout.String(), stderr: p.stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if r.crashed() {
		t.Errorf("crashed: %s", r)
	}
	return r
}

// TestMigrateInterrupt interrupts a migration with SIGINT half-way, then
// runs it again: it resumes, and the target equals the source.
func TestMigrateInterrupt(t *testing.T) {
	dst := redisService(t)
	st := state{n: 3000, now: time.Now()}
	src := boltWith(t, st)
	args := migrateArgs(src, dst, "-progress", "log")
	p := start(t, []string{"APIBILLING_TEST_PAUSE=copy:2500"}, args...)
	p.waitFor(t, "paused")
	p.cmd.Process.Signal(os.Interrupt)
	r := p.wait(t)
	if r.code != 1 || !strings.Contains(r.stderr, "interrupted: the copy stopped after 2,500 of") ||
		!strings.Contains(r.stderr, "run the same command again to resume") || !strings.Contains(r.stderr, "stopped") {
		t.Errorf("after SIGINT: %s", r)
	}
	r = mustRun(t, args...)
	if !strings.Contains(r.stderr, "resuming") || !strings.Contains(r.stderr, "every total equal") {
		t.Errorf("the second run:\n%s", r.stderr)
	}
	s := dst.open(t)
	st.check(t, s)
	s.Close()
}

// lockedBuffer is a buffer that a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMigrateSourceChanged changes the source between the migration's
// first read and its copy, as an app that still runs would: the migration
// fails, naming the cause, and a run with the app stopped is refused until
// the target is emptied.
func TestMigrateSourceChanged(t *testing.T) {
	st := state{n: 200, now: time.Now()}
	src := redisService(t)
	s := src.open(t)
	st.fill(t, s)
	defer s.Close()
	dst := boltService(t, "dst.db")
	args := migrateArgs(src, dst, "-progress", "none")
	p := start(t, []string{"APIBILLING_TEST_PAUSE=read:0"}, args...)
	p.waitFor(t, "paused")
	b := core.New(s)
	if err := b.SetQuotas(st.id(5), core.Quota{Period: core.Day, Limit: core.Unlimited}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Track(t.Context(), st.id(5), core.Whole(1)); err != nil {
		t.Fatal(err)
	}
	io.WriteString(p.stdin, "go on\n")
	r := p.wait(t)
	if r.code != 1 || !strings.Contains(r.stderr, "the source changed while it was copied") || !strings.Contains(r.stderr, "stop the app") {
		t.Errorf("a source that changed: %s", r)
	}
	wantFail(t, 1, []string{"is not empty", "the source has changed since that run", "empty the target"}, args...)
}

// TestMigrateMerge merges a source into a target with state of its own,
// some clients in both, and checks the report's expectations and the
// target; an interrupted merge is refused when run again.
func TestMigrateMerge(t *testing.T) {
	now := time.Now()
	src := boltWith(t, state{n: 300, now: now})
	// The target holds clients 0 to 99 of the same state: in both stores.
	both := state{n: 100, now: now}
	for _, kind := range []string{"bolt", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dst := serviceOf(t, kind)
			s := dst.open(t)
			both.fill(t, s)
			s.Close()
			r := mustRun(t, migrateArgs(src, dst, "-merge", "-format", "json", "-progress", "none")...)
			rep := migrateReport(t, r)
			if !rep.OK || rep.Mode != "merge" || len(rep.Clients) != 300 {
				t.Fatalf("report: ok %v, mode %s, %d clients", rep.OK, rep.Mode, len(rep.Clients))
			}
			st := state{n: 300, now: now}
			for _, c := range rep.Clients[:3] {
				t.Logf("%q: before %+v, read %+v, written %+v", c.Client, *c.Before, c.Read, c.Written)
			}
			s = dst.open(t)
			got := newTally(false)
			s.Export(t.Context(), func(rec *core.Record) error { got.add(rec); return nil })
			s.Close()
			for i := range st.n {
				want := st.totals(i)
				if i < both.n { // merged with itself: usage adds up, keys stay
					want.WindowUsed *= 2
					want.Credits *= 2
				}
				if g := got.clients[st.id(i)].totals(now.UnixNano()); g != want {
					t.Fatalf("client %q: %+v, want %+v", st.id(i), g, want)
				}
			}
		})
	}
	t.Run("interrupted", func(t *testing.T) {
		dst := boltWith(t, both)
		args := migrateArgs(src, dst, "-merge", "-progress", "none")
		r := apibillingWith(t, cmdOpts{env: []string{"APIBILLING_TEST_FAIL=copy:300"}}, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "merging again would count that part twice") {
			t.Fatalf("the failed merge: %s", r)
		}
		wantFail(t, 1, []string{"was interrupted", "Restore the target from its backup"}, args...)
	})
}

// TestMigrateProgressBar checks the progress bar that a terminal gets.
func TestMigrateProgressBar(t *testing.T) {
	src := boltWith(t, state{n: 500, now: time.Now()})
	r := mustRun(t, migrateArgs(src, boltService(t, "bar.db"), "-progress", "bar", "-summary")...)
	for _, want := range []string{"\rreading", "\rcopying    [", "100%", "records/s", "\x1b[K", "\rverifying"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the bar lacks %q:\n%q", want, r.stderr)
		}
	}
}
