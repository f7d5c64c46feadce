package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/pruner"
	"github.com/frappy-go/apibilling/stores/internal/storecall"
	gomysql "github.com/go-sql-driver/mysql"
)

// Store is a [core.Store] in MySQL or MariaDB tables, shared by every
// process that opens the same database and prefix. Each operation that
// changes state is one CALL of a stored procedure: one round trip, one
// transaction. Create it with [New] or [Open].
type Store struct {
	db        *sql.DB
	ownDB     bool // Open created db; Close closes it
	prefix    string
	timeout   time.Duration
	retention int64 // nanoseconds; 0 keeps usage aggregates
	lockWait  int64 // innodb_lock_wait_timeout of each call, in seconds
	batch     int
	q         queries

	closed atomic.Bool
	pruner *pruner.Pruner
	keyed  atomic.Uint64 // keyed deductions, to kick the pruner now and then
}

var _ core.Store = (*Store)(nil)

// queries are the starts of the statements the store sends, with its
// prefix substituted once.
type queries struct {
	deduct, refund, delete     string
	usage, report              string
	exportWindows, exportUsage string
	exportKeys, empty          string
	getImport, setImport       string
	endImport, lockClient      string
	importWindow, importUsage  string
	importKey                  string
	pruneKeysSelect            string
	pruneKeysDelete            string
	pruneUsageSelect           string
	pruneUsageDelete           string
}

// New returns a store that keeps usage in tables of db's database (created
// or migrated as needed, see [SchemaVersion]), through db, which the
// application configured and closes itself: [Store.Close] leaves it open.
// The database user needs the CREATE ROUTINE privilege besides the usual
// ones, once, to create the procedures. opts may be nil for the defaults.
//
// New fails if the tables were written by a newer version of this package
// (a [*VersionError]) or if the database cannot be reached within ten
// times [Options.Timeout] (at least ten seconds).
func New(ctx context.Context, db *sql.DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("apibilling/mysql: New expects a non-nil *sql.DB")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, max(10*o.Timeout, 10*time.Second))
	defer cancel()
	s := &Store{
		db:       db,
		prefix:   o.Prefix,
		timeout:  o.Timeout,
		lockWait: max(int64((o.Timeout+time.Second-1)/time.Second), 1),
		batch:    o.PruneBatch,
		pruner:   pruner.New(),
	}
	if o.Retention > 0 {
		s.retention = int64(o.Retention)
	}
	if err := s.setup(sctx); err != nil {
		var ve *VersionError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("apibilling/mysql: setting up the tables: %w", err)
	}
	s.prepareQueries()
	if o.PruneInterval > 0 {
		s.pruner.Start(o.PruneInterval, func(ctx context.Context) error {
			_, err := s.Prune(ctx, time.Now())
			return err
		})
	}
	return s, nil
}

// Open connects to the database that dsn names (in the form of
// github.com/go-sql-driver/mysql, such as "user:password@tcp(host:3306)/db")
// and returns a store on a *sql.DB of its own, which [Store.Close] closes.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	if _, err := gomysql.ParseDSN(dsn); err != nil {
		// The error may quote the DSN, password included.
		return nil, errors.New("apibilling/mysql: Open: the DSN cannot be parsed")
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("apibilling/mysql: Open: %w", err)
	}
	s, err := New(ctx, db, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.ownDB = true
	return s, nil
}

// DB returns the database handle the store uses.
func (s *Store) DB() *sql.DB { return s.db }

// Prefix returns the prefix of the store's table names.
func (s *Store) Prefix() string { return s.prefix }

// Close implements [core.Store.Close]: it stops the pruning goroutine, and
// later calls fail with [core.ErrClosed]. The usage stays in the
// database; the *sql.DB stays open unless [Open] created it.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pruner.Stop()
	if s.ownDB {
		return s.db.Close()
	}
	return nil
}

// errs makes the store's errors.
const errs = storecall.Store("mysql")

// check reports why operation op cannot start: ctx is done or the store
// is closed.
func (s *Store) check(ctx context.Context, op string) error {
	return errs.Check(ctx, s.closed.Load(), op)
}

// maxAttempts bounds the attempts of one operation: deadlocks (possible
// only when other sessions hold the store's rows in other orders) are
// retried, as are connections found broken before anything was sent.
const maxAttempts = 8

// Errors of the server that the store retries.
const (
	erLockDeadlock = 1213
	erRecordChange = 1020 // MariaDB: a snapshot conflict
)

// run runs f within the store's timeout, retrying as [maxAttempts] says.
// f reports whether it sent its statement; write tells whether f changes
// state, so that a reply lost after it was sent is reported as
// [core.ErrOutcomeUnknown].
func (s *Store) run(ctx context.Context, op string, write bool, f func(ctx context.Context) (sent bool, err error)) error {
	if err := s.check(ctx, op); err != nil {
		return err
	}
	ctx, cancel := storecall.Bound(ctx, s.timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		sent, err := f(ctx)
		if err == nil {
			return nil
		}
		var me *gomysql.MySQLError
		switch {
		case errors.As(err, &me):
			if me.Number != erLockDeadlock && me.Number != erRecordChange {
				return errs.Failed(op, err)
			}
		case !sent:
			if !errors.Is(err, driver.ErrBadConn) {
				return errs.Failed(op, err)
			}
		default:
			return errs.Err(op, err, write)
		}
		if attempt == maxAttempts || ctx.Err() != nil {
			return errs.Failed(op, err)
		}
		storecall.Backoff(ctx, attempt)
	}
}

// call sends query (a CALL) on one connection and scans the first row of
// its result. The procedures commit before they select their result, so
// a row received is a committed call, whatever happens to the rest of the
// reply.
func (s *Store) call(ctx context.Context, op string, query []byte, dest ...any) error {
	return s.run(ctx, op, true, func(ctx context.Context) (bool, error) {
		c, err := s.db.Conn(ctx)
		if err != nil {
			return false, err
		}
		defer c.Close()
		rows, err := c.QueryContext(ctx, string(query))
		if err != nil {
			return !errors.Is(err, driver.ErrBadConn), err
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return true, err
			}
			return true, errors.New("the procedure returned no row")
		}
		return true, rows.Scan(dest...)
	})
}

// query runs a query that changes nothing and calls fn for each row.
func (s *Store) query(ctx context.Context, op string, query []byte, dest []any, fn func() error) error {
	return s.run(ctx, op, false, func(ctx context.Context) (bool, error) {
		rows, err := s.db.QueryContext(ctx, string(query))
		if err != nil {
			return true, err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return true, err
			}
			if err := fn(); err != nil {
				return true, err
			}
		}
		return true, rows.Err()
	})
}

// exec runs a statement that changes no usage.
func (s *Store) exec(ctx context.Context, op string, stmt []byte) error {
	return s.run(ctx, op, false, func(ctx context.Context) (bool, error) {
		_, err := s.db.ExecContext(ctx, string(stmt))
		return true, err
	})
}

// Statements are sent as text with their values written in: bytes as hex
// literals (X'...'), which no value can escape from, and integers in
// decimal. It is what the driver's interpolateParams does, without
// depending on the DSN: one round trip per statement, where a prepared
// statement would take a second one to prepare on each new connection,
// or three without a statement cache.

// appendBytes appends v as a hex literal.
func appendBytes(b []byte, v string) []byte {
	b = append(b, "X'"...)
	b = hex.AppendEncode(b, []byte(v))
	return append(b, '\'')
}

// appendInt appends v in decimal.
func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }
