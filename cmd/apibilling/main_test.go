package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/mysql"
	"github.com/frappy-go/apibilling/stores/postgres"
	"github.com/frappy-go/apibilling/storeurl"
)

// The tests run the apibilling binary, built once by TestMain (with the
// tag testhooks, which lets a test stop a migration half-way, see
// hooks_testhooks.go; and with -race when the tests run with it), against bbolt files in temporary directories and
// the local servers: Redis (APIBILLING_REDIS_ADDR, default
// 127.0.0.1:6379), PostgreSQL (APIBILLING_POSTGRES_URL) and MySQL or
// MariaDB (APIBILLING_MYSQL_DSN). A test that needs a server it cannot
// reach skips, loudly, unless APIBILLING_REQUIRE_SERVICES=1 (CI) makes it
// fail. Each test works under a key or table prefix of its own and removes
// it when it ends.

// bin is the path of the binary under test.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "apibilling-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "apibilling")
	args := []string{"build", "-tags", "testhooks", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binary:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// crashed reports whether the process panicked or died of a signal
// rather than exiting with a status it chose.
func (r result) crashed() bool {
	// A recovered panic that a message quotes ("...: panic: assertion
	// failed") is not a crash; an unrecovered one starts a line.
	e := "\n" + r.stderr
	return r.code < 0 || strings.Contains(e, "\npanic:") || strings.Contains(e, "\ngoroutine ") ||
		strings.Contains(e, "\nfatal error:") || strings.Contains(e, "SIGSEGV")
}

// cmdOpts are extra settings of a run.
type cmdOpts struct {
	env   []string
	stdin io.Reader
}

// apibilling runs the binary with args and returns what it did.
func apibilling(t testing.TB, args ...string) result {
	t.Helper()
	return apibillingWith(t, cmdOpts{}, args...)
}

func apibillingWith(t testing.TB, o cmdOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = o.stdin
	cmd.Env = append(childEnv(), o.env...)
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running apibilling %s: %v", strings.Join(args, " "), err)
		}
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = -int(ws.Signal())
		}
	}
	if r.crashed() {
		t.Errorf("apibilling %s crashed:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// childEnv is the environment of a run of the binary: the tests', and for
// a binary built with -race no wait at exit (the race runtime waits a
// second by default).
func childEnv() []string {
	env := os.Environ()
	if raceEnabled {
		env = append(env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	return env
}

// mustRun runs the binary and fails the test unless it exits with 0.
func mustRun(t testing.TB, args ...string) result {
	t.Helper()
	r := apibilling(t, args...)
	if r.code != 0 {
		t.Fatalf("apibilling %s:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// wantFail runs the binary and fails the test unless it exits with code
// and its stderr holds every one of want.
func wantFail(t testing.TB, code int, want []string, args ...string) result {
	t.Helper()
	r := apibilling(t, args...)
	if r.code != code {
		t.Fatalf("apibilling %s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("apibilling %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r.stderr)
		}
	}
	return r
}

const requireEnv = "APIBILLING_REQUIRE_SERVICES"

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// needService skips the test, loudly, or fails it under
// APIBILLING_REQUIRE_SERVICES=1, when err says a server is missing.
func needService(t testing.TB, name, where string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("no %s at %s (%v), and %s=1 requires one", name, where, err, requireEnv)
	}
	t.Skipf("\n\n*** SKIPPED: no %s at %s (%v).\n*** Start one (.ci/services) or point the tests at one; %s=1 fails instead of skipping. ***\n\n",
		name, where, err, requireEnv)
}

// uniquePrefix returns a key or table prefix no other test uses.
func uniquePrefix() string {
	var b [5]byte
	rand.Read(b[:])
	return "apbcmd" + hex.EncodeToString(b[:])
}

// service is a store on a server for one test: its URL and prefix.
type service struct {
	name   string
	url    string
	prefix string
}

// args returns the store's flags, such as -store URL -prefix P.
func (s service) args(flagName, prefixFlag string) []string {
	out := []string{"-" + flagName, s.url}
	if s.prefix != "" {
		out = append(out, "-"+prefixFlag, s.prefix)
	}
	return out
}

// open opens the store in the test process.
func (s service) open(t testing.TB) core.Store {
	t.Helper()
	var o storeurl.Options
	switch s.name {
	case "redis":
		o.Redis = redisOptions(s.prefix)
	case "postgres":
		o.Postgres = &postgres.Options{Prefix: s.prefix, Timeout: 10 * time.Second}
	case "mysql":
		o.MySQL = &mysql.Options{Prefix: s.prefix, Timeout: 10 * time.Second}
	}
	st, err := storeurl.Open(context.Background(), s.url, &o)
	if err != nil {
		t.Fatalf("opening %s: %v", s.name, err)
	}
	return st
}

// boltService is a bbolt file in the test's temporary directory.
func boltService(t testing.TB, name string) service {
	return service{name: "bolt", url: filepath.Join(t.TempDir(), name)}
}

// redisService is a prefix of its own on the local Redis, removed when the
// test ends.
func redisService(t testing.TB) service {
	t.Helper()
	addr := getenv("APIBILLING_REDIS_ADDR", "127.0.0.1:6379")
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	needService(t, "Redis", addr, err)
	c.Close()
	s := service{name: "redis", url: "redis://" + addr + "/0", prefix: uniquePrefix()}
	t.Cleanup(func() { dropRedis(t, addr, s.prefix) })
	return s
}

// dropRedis deletes every key under prefix.
func dropRedis(t testing.TB, addr, prefix string) {
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+":*", 5000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 5000 {
			rdb.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Unlink(ctx, batch...)
	}
	if err := iter.Err(); err != nil {
		t.Logf("cleaning Redis prefix %s: %v", prefix, err)
	}
}

// postgresService is a table prefix of its own on the local PostgreSQL,
// whose tables are dropped when the test ends.
func postgresService(t testing.TB) service {
	t.Helper()
	url := getenv("APIBILLING_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err == nil {
		if err = pool.Ping(ctx); err != nil {
			pool.Close()
		}
	}
	needService(t, "PostgreSQL", redactURL(url), err)
	s := service{name: "postgres", url: url, prefix: uniquePrefix() + "_"}
	t.Cleanup(func() {
		defer pool.Close()
		if err := postgres.DropTables(context.Background(), pool, &postgres.Options{Prefix: s.prefix}); err != nil {
			t.Logf("dropping the tables of prefix %s: %v", s.prefix, err)
		}
	})
	return s
}

// mysqlService is a table prefix of its own on the local MySQL or
// MariaDB, whose tables are dropped when the test ends.
func mysqlService(t testing.TB) service {
	t.Helper()
	dsn := getenv("APIBILLING_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test")
	db, err := sql.Open("mysql", dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err != nil {
			db.Close()
		}
	}
	needService(t, "MySQL", redactURL("mysql://"+dsn), err)
	s := service{name: "mysql", url: "mysql://" + dsn, prefix: uniquePrefix() + "_"}
	t.Cleanup(func() {
		defer db.Close()
		if err := mysql.DropTables(context.Background(), db, &mysql.Options{Prefix: s.prefix}); err != nil {
			t.Logf("dropping the tables of prefix %s: %v", s.prefix, err)
		}
	})
	return s
}
