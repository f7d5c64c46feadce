// Package storeurl opens any apibilling store from one string, for
// programs that take the store as configuration: the admin command
// (cmd/apibilling) and the example apps. It is a module of its own because
// it imports every store and its driver; an application that knows its
// store imports that store's package instead.
//
//	s, err := storeurl.Open(ctx, "redis://127.0.0.1:6379/0", nil)
//
// # URLs
//
//	apibilling.db, bolt:PATH, bolt://PATH  the embedded bbolt file at PATH
//	redis://[user:password@]HOST:PORT[/DB] Redis (rediss:// for TLS)
//	postgres://..., postgresql://...       PostgreSQL, as pgx reads it
//	mysql://DSN                            MySQL or MariaDB: DSN as go-sql-driver/mysql reads it,
//	                                       such as mysql://root@tcp(127.0.0.1:3306)/test
//	mongodb://..., mongodb+srv://...       MongoDB (or FerretDB)
//	memory:                                an in-memory store (tests; usage is lost at exit)
//
// A string without a scheme is a bbolt file path. Errors never quote a
// password.
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/stores/mongo"
	"github.com/frappy-go/apibilling/stores/mysql"
	"github.com/frappy-go/apibilling/stores/postgres"
	"github.com/frappy-go/apibilling/stores/redis"
)

// Options holds each store's options; nil fields mean that store's
// defaults.
type Options struct {
	Bolt     *bolt.Options
	Redis    *redis.Options
	Postgres *postgres.Options
	MySQL    *mysql.Options
	Mongo    *mongo.Options
	// PingTimeout bounds the check that a server answers, so that a wrong
	// address fails at start-up rather than with 503s. Default: 5 s.
	PingTimeout time.Duration
}

// Kind names a store kind: "bolt", "redis", "postgres", "mysql", "mongo"
// or "memory".
type Kind string

// ErrUnknownScheme is the error of a URL whose scheme names no store.
var ErrUnknownScheme = errors.New("apibilling/storeurl: unknown store URL scheme")

// Parse returns the kind of store url names and the part its driver reads.
func Parse(url string) (Kind, string, error) {
	scheme, rest, ok := strings.Cut(url, ":")
	if !ok || strings.ContainsAny(scheme, `/\.`) || len(scheme) == 1 { // a path, or a Windows drive letter
		if url == "" {
			return "", "", errors.New("apibilling/storeurl: empty store URL")
		}
		return "bolt", url, nil
	}
	switch strings.ToLower(scheme) {
	case "bolt", "bbolt", "file":
		return "bolt", strings.TrimPrefix(rest, "//"), nil
	case "redis", "rediss", "unix":
		return "redis", url, nil
	case "postgres", "postgresql":
		return "postgres", url, nil
	case "mysql", "mariadb":
		return "mysql", strings.TrimPrefix(rest, "//"), nil
	case "mongodb", "mongodb+srv":
		return "mongo", url, nil
	case "memory", "mem":
		return "memory", "", nil
	}
	return "", "", fmt.Errorf("%w %q: want a bbolt file path, bolt:, redis://, postgres://, mysql://, mongodb:// or memory:", ErrUnknownScheme, scheme)
}

// Open opens the store that url names (see the package documentation).
// Closing the store closes what Open opened for it (the file, the pool, the
// client).
func Open(ctx context.Context, url string, opts *Options) (core.Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 5 * time.Second
	}
	kind, rest, err := Parse(url)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "bolt":
		return bolt.Open(rest, o.Bolt)
	case "memory":
		return memory.New(), nil
	case "redis":
		return openRedis(ctx, rest, &o)
	case "postgres":
		pctx, cancel := context.WithTimeout(ctx, o.PingTimeout)
		defer cancel()
		return postgres.Open(pctx, rest, o.Postgres)
	case "mysql":
		pctx, cancel := context.WithTimeout(ctx, o.PingTimeout)
		defer cancel()
		return mysql.Open(pctx, rest, o.MySQL)
	case "mongo":
		pctx, cancel := context.WithTimeout(ctx, o.PingTimeout)
		defer cancel()
		return mongo.Open(pctx, rest, o.Mongo)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownScheme, kind)
}

// openRedis connects to the Redis server at url and checks that it
// answers.
func openRedis(ctx context.Context, url string, o *Options) (core.Store, error) {
	ro, err := goredis.ParseURL(url)
	if err != nil {
		return nil, errors.New("apibilling/storeurl: the Redis URL cannot be parsed (want redis://[user:password@]host:port[/db])")
	}
	// Timeouts come from the store's contexts; dial at most twice.
	ro.ContextTimeoutEnabled = true
	ro.DialerRetries = 1
	client := goredis.NewClient(ro)
	pctx, cancel := context.WithTimeout(ctx, o.PingTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("apibilling/storeurl: Redis at %s does not answer: %w", ro.Addr, err), client.Close())
	}
	s, err := redis.New(client, o.Redis)
	if err != nil {
		return nil, errors.Join(err, client.Close())
	}
	return &ownedRedis{Store: s, client: client}, nil
}

// ownedRedis is a Redis store that closes its client.
type ownedRedis struct {
	*redis.Store
	client *goredis.Client
}

// Close closes the store, then its client.
func (s *ownedRedis) Close() error { return errors.Join(s.Store.Close(), s.client.Close()) }

// Unwrap returns the store's own type, for its extra methods (Stats).
func (s *ownedRedis) Unwrap() core.Store { return s.Store }

// UnknownOutcomes returns a function that counts the store's calls whose
// reply was lost after they were sent (the Redis store's Stats), for the
// metrics; ok is false for a store that does not count them.
func UnknownOutcomes(s core.Store) (count func() uint64, ok bool) {
	if r, isRedis := s.(*ownedRedis); isRedis {
		return func() uint64 { return r.Stats().OutcomeUnknown }, true
	}
	if r, isRedis := s.(*redis.Store); isRedis {
		return func() uint64 { return r.Stats().OutcomeUnknown }, true
	}
	return nil, false
}

// Backup returns the store's online backup (the bbolt store's consistent
// copy of its file), for the usage API's GET api/backup; ok is false for a
// store that has none.
func Backup(s core.Store) (backup func(ctx context.Context, w io.Writer) (int64, error), ok bool) {
	if b, isBolt := s.(*bolt.Store); isBolt {
		return b.Backup, true
	}
	return nil, false
}
