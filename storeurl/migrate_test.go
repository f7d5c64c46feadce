package storeurl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/stores/mongo"
	"github.com/frappy-go/apibilling/stores/mysql"
	"github.com/frappy-go/apibilling/stores/postgres"
	"github.com/frappy-go/apibilling/stores/redis"
	"github.com/frappy-go/apibilling/stores/storetest"
	"github.com/frappy-go/apibilling/storeurl"
)

// TestEveryStoreThroughEveryOther moves one varied state (storetest.Fill)
// through every store this machine runs, in a chain — memory, bbolt,
// Redis, PostgreSQL, MySQL, MongoDB, and back into memory — with Export
// and Import, as a migration does; at each step storetest.RoundTrip checks
// that the target shows every observable as the source does (each
// window's usage and threshold bits, each client's usage per hour and
// label, the replay of every idempotency key). So a state survives any
// migration between any two stores exactly.
func TestEveryStoreThroughEveryOther(t *testing.T) {
	run := fmt.Sprintf("rt%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 30*time.Second)
	}
	// Each step opens its store and returns what removes it again: the
	// store's data first (while its connections are open), then the store.
	chain := []struct {
		name string
		open func(t *testing.T) (core.Store, func(core.Store), error)
	}{
		{"bolt", func(t *testing.T) (core.Store, func(core.Store), error) {
			s, err := storeurl.Open(t.Context(), filepath.Join(t.TempDir(), "rt.db"), nil)
			return s, func(s core.Store) { s.Close() }, err
		}},
		{"redis", func(t *testing.T) (core.Store, func(core.Store), error) {
			addr := env("APIBILLING_REDIS_ADDR", "127.0.0.1:6379")
			s, err := storeurl.Open(t.Context(), "redis://"+addr+"/0",
				&storeurl.Options{Redis: &redis.Options{Prefix: "apibilling-" + run}})
			return s, func(s core.Store) {
				s.Close()
				c := goredis.NewClient(&goredis.Options{Addr: addr})
				defer c.Close()
				ctx, cancel := cleanupCtx()
				defer cancel()
				iter := c.Scan(ctx, 0, "apibilling-"+run+"*", 1000).Iterator()
				for iter.Next(ctx) {
					c.Del(ctx, iter.Val())
				}
			}, err
		}},
		{"postgres", func(t *testing.T) (core.Store, func(core.Store), error) {
			s, err := storeurl.Open(t.Context(), env("APIBILLING_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
				&storeurl.Options{Postgres: &postgres.Options{Schema: run}})
			return s, func(s core.Store) {
				ctx, cancel := cleanupCtx()
				defer cancel()
				s.(*postgres.Store).Pool().Exec(ctx, `DROP SCHEMA IF EXISTS "`+run+`" CASCADE`)
				s.Close()
			}, err
		}},
		{"mysql", func(t *testing.T) (core.Store, func(core.Store), error) {
			s, err := storeurl.Open(t.Context(), "mysql://"+env("APIBILLING_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test"),
				&storeurl.Options{MySQL: &mysql.Options{Prefix: run + "_"}})
			return s, func(s core.Store) {
				ctx, cancel := cleanupCtx()
				defer cancel()
				mysql.DropTables(ctx, s.(*mysql.Store).DB(), &mysql.Options{Prefix: run + "_"})
				s.Close()
			}, err
		}},
		{"mongo", func(t *testing.T) (core.Store, func(core.Store), error) {
			s, err := storeurl.Open(t.Context(), env("APIBILLING_MONGO_URI", "mongodb://127.0.0.1:27017"),
				&storeurl.Options{Mongo: &mongo.Options{Database: run}})
			return s, func(s core.Store) {
				ctx, cancel := cleanupCtx()
				defer cancel()
				s.(*mongo.Store).Database().Drop(ctx)
				s.Close()
			}, err
		}},
	}
	var from core.Store = memory.New()
	storetest.Fill(t, from)
	for _, step := range chain {
		to, remove, err := step.open(t)
		if err != nil {
			if os.Getenv("APIBILLING_REQUIRE_SERVICES") == "1" {
				t.Fatalf("%s: %v", step.name, err)
			}
			t.Logf("SKIP: %s not reachable: %v", step.name, err)
			continue
		}
		t.Cleanup(func() { remove(to) })
		if !t.Run("into "+step.name, func(t *testing.T) { storetest.RoundTrip(t, from, to) }) {
			t.FailNow()
		}
		from = to
	}
	t.Run("back into memory", func(t *testing.T) { storetest.RoundTrip(t, from, memory.New()) })
}
