package postgres

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The tests need a PostgreSQL server: APIBILLING_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test). Without one they skip, unless
// APIBILLING_REQUIRE_SERVICES=1 makes them fail (CI sets it). Each store
// works in a schema of its own, dropped with everything in it when the
// test ends; nothing else is touched.

const (
	urlEnv     = "APIBILLING_POSTGRES_URL"
	requireEnv = "APIBILLING_REQUIRE_SERVICES"
	defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

func testURL() string {
	if u := os.Getenv(urlEnv); u != "" {
		return u
	}
	return defaultURL
}

var shared struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

// sharedPool returns the pool the tests of this process share (at most 16
// connections: the server is shared with other work), or skips or fails
// the test when the server cannot be reached.
func sharedPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	shared.once.Do(func() {
		shared.pool, shared.err = connect(testURL(), 16)
	})
	if shared.err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("no PostgreSQL at %s (%v), and %s=1 requires one", redact(testURL()), shared.err, requireEnv)
		}
		t.Skipf("\n\n*** SKIPPED: no PostgreSQL at %s (%v).\n*** Start one (.ci/services) or set %s; %s=1 fails instead of skipping. ***\n\n",
			redact(testURL()), shared.err, urlEnv, requireEnv)
	}
	return shared.pool
}

// connect returns a pool of at most maxConns connections to url, once a
// connection has answered.
func connect(url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing the URL: %w", err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.ConnConfig.RuntimeParams["application_name"] = "apibilling-test"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// redact returns url without its password, for messages.
func redact(url string) string {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "(an unparsable URL)"
	}
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

var schemaSeq atomic.Int64

// testSchema returns a schema name no other test or process uses.
func testSchema() string {
	return fmt.Sprintf("apibilling_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
}

// dropSchema drops schema and everything in it when the test ends.
func dropSchema(t testing.TB, pool *pgxpool.Pool, schema string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
}

// newStore returns a store on pool in a fresh schema, which is dropped when
// the test ends; the store is closed then too. opts may be nil.
func newStore(t testing.TB, pool *pgxpool.Pool, opts *Options) *Store {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Schema == "" {
		o.Schema = testSchema()
	}
	dropSchema(t, sharedPool(t), o.Schema)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, pool, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
