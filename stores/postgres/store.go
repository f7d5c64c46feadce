package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/pruner"
	"github.com/frappy-go/apibilling/stores/internal/storecall"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is a [core.Store] in PostgreSQL tables, shared by every process
// that opens the same schema and prefix. Each operation that changes
// state is one call of a PL/pgSQL function: one statement, one round trip,
// one transaction. Create it with [New] or [Open].
type Store struct {
	pool      *pgxpool.Pool
	ownPool   bool // Open created the pool; Close closes it
	schema    string
	prefix    string
	timeout   time.Duration
	retention int64  // nanoseconds; 0 keeps usage aggregates
	lockWait  string // the lock_timeout of each call
	lockClass int32  // the first half of the clients' advisory lock keys
	batch     int
	q         queries
	gc        *groupCommit // nil: Options.NoGroupCommit

	// explicitTx: the pool's sessions do not run at READ COMMITTED, so
	// calls are sent inside BEGIN ISOLATION LEVEL READ COMMITTED.
	explicitTx atomic.Bool
	closed     atomic.Bool

	pruner *pruner.Pruner
	keyed  atomic.Uint64 // keyed deductions, to kick the pruner now and then
}

var _ core.Store = (*Store)(nil)

// queries are the statements the store sends, with its names substituted
// once.
type queries struct {
	deduct, deductBatch          string
	refund, delete               string
	usage, report                string
	exportWindows, exportUsage   string
	exportKeys, empty            string
	getImport, setImport, endImp string
	lockClient                   string
	importWindow, importUsage    string
	importKey, importKeyMerge    string
	pruneKeys, pruneUsage        string
}

// New returns a store that keeps usage in the tables of opts.Schema
// (created or migrated as needed, see [SchemaVersion]) through pool, which
// the application configured and closes itself: [Store.Close] leaves it
// open. opts may be nil for the defaults.
//
// New fails if the tables were written by a newer version of this package
// (a [*VersionError]) or if the database cannot be reached within
// [Options.Timeout] (ten times it, at least ten seconds, for creating or
// migrating the tables).
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("apibilling/postgres: New expects a non-nil pool")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, max(10*o.Timeout, 10*time.Second))
	defer cancel()
	s := &Store{
		pool:     pool,
		prefix:   o.Prefix,
		timeout:  o.Timeout,
		lockWait: strconv.FormatInt(max(o.Timeout.Milliseconds(), 1), 10) + "ms",
		batch:    o.PruneBatch,
		pruner:   pruner.New(),
	}
	if !o.NoGroupCommit {
		s.gc = &groupCommit{}
	}
	if o.Retention > 0 {
		s.retention = int64(o.Retention)
	}
	if s.schema, err = resolveSchema(sctx, pool, o.Schema); err != nil {
		return nil, err
	}
	if err := s.setup(sctx); err != nil {
		var ve *VersionError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("apibilling/postgres: setting up the tables in schema %q: %w", s.schema, err)
	}
	s.lockClass = lockKey("apibilling:" + s.schema + "." + s.prefix)
	s.prepareQueries()
	if o.PruneInterval > 0 {
		s.pruner.Start(o.PruneInterval, func(ctx context.Context) error {
			_, err := s.Prune(ctx, time.Now())
			return err
		})
	}
	return s, nil
}

// Open connects to the database at url (a PostgreSQL URL or keyword/value
// string, as [pgxpool.ParseConfig] reads it) and returns a store on a pool
// of its own, which [Store.Close] closes.
func Open(ctx context.Context, url string, opts *Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL, password included.
		return nil, errors.New("apibilling/postgres: Open: the connection string cannot be parsed")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("apibilling/postgres: Open: %w", err)
	}
	s, err := New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// Pool returns the pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema of the store's tables.
func (s *Store) Schema() string { return s.schema }

// Prefix returns the prefix of the store's table names.
func (s *Store) Prefix() string { return s.prefix }

// Close implements [core.Store.Close]: it stops the pruning goroutine, and
// later calls fail with [core.ErrClosed]. The usage stays in the
// database; the pool stays open unless [Open] created it.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pruner.Stop()
	s.closeGroupCommit()
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// errs makes the store's errors.
const errs = storecall.Store("postgres")

// check reports why operation op cannot start: ctx is done or the store
// is closed.
func (s *Store) check(ctx context.Context, op string) error {
	return errs.Check(ctx, s.closed.Load(), op)
}

// maxAttempts bounds the attempts of one operation: serialization
// failures and deadlocks (possible only when other sessions hold the
// store's rows in other orders) are retried, as are connections found
// broken before anything was sent.
const maxAttempts = 8

// Codes of the errors the store retries.
const (
	codeSerialization = "40001"
	codeDeadlock      = "40P01"
	codeIsolation     = "AB001" // the functions' own: not READ COMMITTED
)

// run runs f on a connection of the pool, within the store's timeout,
// retrying as [maxAttempts] says. write tells whether f changes state, so
// that a reply lost after the statement was sent is reported as
// [core.ErrOutcomeUnknown].
func (s *Store) run(ctx context.Context, op string, write bool, f func(ctx context.Context, c *pgx.Conn) error) error {
	if err := s.check(ctx, op); err != nil {
		return err
	}
	ctx, cancel := storecall.Bound(ctx, s.timeout)
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		var c *pgxpool.Conn
		c, err = s.pool.Acquire(ctx)
		if err != nil {
			return errs.Failed(op, err)
		}
		err = f(ctx, c.Conn())
		c.Release()
		if err == nil {
			return nil
		}
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe):
			switch pe.Code {
			case codeIsolation:
				s.explicitTx.Store(true)
			case codeSerialization, codeDeadlock:
			default:
				return errs.Failed(op, err)
			}
		case pgconn.SafeToRetry(err):
			// Nothing was sent (a connection the server had closed).
		default:
			return errs.Err(op, err, write)
		}
		if attempt == maxAttempts || ctx.Err() != nil {
			return errs.Failed(op, err)
		}
		storecall.Backoff(ctx, attempt)
	}
}

// queryRow sends one statement and scans its row: alone, in the implicit
// transaction of the statement, or, when the sessions are not at READ
// COMMITTED, between BEGIN ISOLATION LEVEL READ COMMITTED and COMMIT
// queued in the same round trip.
func (s *Store) queryRow(ctx context.Context, c *pgx.Conn, sql string, args []any, dest ...any) error {
	if !s.explicitTx.Load() {
		return c.QueryRow(ctx, sql, args...).Scan(dest...)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	b.Queue(sql, args...)
	b.Queue("COMMIT")
	br := c.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return err
	}
	if err := br.QueryRow().Scan(dest...); err != nil {
		br.Close()
		return err
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return err
	}
	return br.Close()
}
