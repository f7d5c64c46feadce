package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// The tests need a MySQL or MariaDB server: APIBILLING_MYSQL_DSN (default
// root@tcp(127.0.0.1:3306)/test). Without one they skip, unless
// APIBILLING_REQUIRE_SERVICES=1 makes them fail (CI sets it). Each store
// works under a table prefix of its own, whose tables and procedures are
// dropped when the test ends; nothing else is touched.

const (
	dsnEnv     = "APIBILLING_MYSQL_DSN"
	requireEnv = "APIBILLING_REQUIRE_SERVICES"
	defaultDSN = "root@tcp(127.0.0.1:3306)/test"
)

func testDSN() string {
	if d := os.Getenv(dsnEnv); d != "" {
		return d
	}
	return defaultDSN
}

var shared struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// sharedDB returns the handle the tests of this process share (at most 16
// connections: the server is shared with other work), or skips or fails
// the test when the server cannot be reached.
func sharedDB(t testing.TB) *sql.DB {
	t.Helper()
	shared.once.Do(func() {
		shared.db, shared.err = connect(testDSN(), 16)
	})
	if shared.err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("no MySQL at %s (%v), and %s=1 requires one", redact(testDSN()), shared.err, requireEnv)
		}
		t.Skipf("\n\n*** SKIPPED: no MySQL or MariaDB at %s (%v).\n*** Start one (.ci/services) or set %s; %s=1 fails instead of skipping. ***\n\n",
			redact(testDSN()), shared.err, dsnEnv, requireEnv)
	}
	return shared.db
}

// connect returns a handle of at most maxConns connections to dsn, once a
// connection has answered.
func connect(dsn string, maxConns int) (*sql.DB, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing the DSN: %w", err)
	}
	cfg.Timeout = 5 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// redact returns dsn without its password, for messages.
func redact(dsn string) string {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return "(an unparsable DSN)"
	}
	return fmt.Sprintf("%s@%s(%s)/%s", cfg.User, cfg.Net, cfg.Addr, cfg.DBName)
}

var prefixSeq atomic.Int64

// testPrefix returns a table prefix no other test or process uses.
func testPrefix() string {
	return fmt.Sprintf("t%d_%d_%d_", os.Getpid(), time.Now().UnixNano()%1e9, prefixSeq.Add(1))
}

// dropTables drops the tables and procedures of prefix when the test ends.
func dropTables(t testing.TB, db *sql.DB, prefix string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DropTables(ctx, db, &Options{Prefix: prefix}); err != nil {
			t.Errorf("dropping the tables of %s: %v", prefix, err)
		}
	})
}

// newStore returns a store on db under a fresh prefix, whose tables are
// dropped when the test ends; the store is closed then too. opts may be
// nil.
func newStore(t testing.TB, db *sql.DB, opts *Options) *Store {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = testPrefix()
	}
	dropTables(t, sharedDB(t), o.Prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, db, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
