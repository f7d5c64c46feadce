package mongo

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// The tests need a MongoDB-protocol server: APIBILLING_MONGO_URI (default
// mongodb://127.0.0.1:27017, where .ci/services runs FerretDB). Without one
// they skip, unless APIBILLING_REQUIRE_SERVICES=1 makes them fail (CI sets
// it). Each store works in a database of its own, dropped when the test
// ends; nothing else is touched.

const (
	uriEnv     = "APIBILLING_MONGO_URI"
	requireEnv = "APIBILLING_REQUIRE_SERVICES"
)

func mongoURI() string {
	if u := os.Getenv(uriEnv); u != "" {
		return u
	}
	return "mongodb://127.0.0.1:27017"
}

var reachable struct {
	once sync.Once
	err  error
}

// probeServer reports, once per process, why the test server cannot be
// reached.
func probeServer() error {
	reachable.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		c, err := mongo.Connect(options.Client().ApplyURI(mongoURI()).SetServerSelectionTimeout(2 * time.Second))
		if err == nil {
			err = c.Ping(ctx, readpref.Primary())
			c.Disconnect(context.Background())
		}
		reachable.err = err
	})
	return reachable.err
}

// requireServer skips or fails the test when the server cannot be reached.
func requireServer(t testing.TB) {
	t.Helper()
	if err := probeServer(); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("no MongoDB server at %s (%v), and %s=1 requires one", mongoURI(), err, requireEnv)
		}
		t.Skipf("\n\n*** SKIPPED: no MongoDB server at %s (%v).\n*** Run .ci/services or set %s; %s=1 fails instead of skipping. ***\n\n",
			mongoURI(), err, uriEnv, requireEnv)
	}
}

// newClient returns a client of the test server, disconnected when the
// test ends; more options may be applied to it. It skips or fails the test
// when the server cannot be reached.
func newClient(t testing.TB, more ...*options.ClientOptions) *mongo.Client {
	t.Helper()
	requireServer(t)
	o := options.Client().ApplyURI(mongoURI()).SetMaxPoolSize(64)
	c, err := mongo.Connect(append([]*options.ClientOptions{o}, more...)...)
	if err != nil {
		t.Fatalf("mongo.Connect: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

var ferret struct {
	once sync.Once
	is   bool
	err  error
}

// onFerretDB reports whether the test server is FerretDB.
func onFerretDB(t testing.TB) bool {
	t.Helper()
	requireServer(t)
	ferret.once.Do(func() {
		c, err := mongo.Connect(options.Client().ApplyURI(mongoURI()))
		if err != nil {
			ferret.err = err
			return
		}
		defer c.Disconnect(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l, err := detect(ctx, c)
		ferret.is, ferret.err = l == Versions, err
	})
	if ferret.err != nil {
		t.Fatalf("asking the server what it is: %v", ferret.err)
	}
	return ferret.is
}

var dbSeq atomic.Int64

// testDatabase returns a database name no other test or process uses.
func testDatabase() string {
	return fmt.Sprintf("apibilling_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e12, dbSeq.Add(1))
}

// testTimeout is the store timeout of tests that are not about timeouts:
// generous, for a shared machine running many tests at once.
const testTimeout = 20 * time.Second

// newStore returns a store on c in a fresh database, dropped when the test
// ends; the store is closed then too.
func newStore(t testing.TB, c *mongo.Client, opts *Options) *Store {
	t.Helper()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Database == "" {
		o.Database = testDatabase()
	}
	if o.Timeout == 0 {
		o.Timeout = testTimeout
	}
	s, err := New(t.Context(), c, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		dropDatabase(t, c, o.Database)
	})
	return s
}

// dropDatabase drops the database name.
func dropDatabase(t testing.TB, c *mongo.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Database(name).Drop(ctx); err != nil {
		t.Errorf("dropping the database %s: %v", name, err)
	}
}
