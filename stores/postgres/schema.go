package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SchemaVersion is the version of the tables this package writes, recorded
// in the meta table. [New] migrates tables of an older version and refuses
// tables of a newer one.
const SchemaVersion = 1

// migration brings the tables from version to-1 to version to. Its
// statements run in one transaction with the others of the same open, so
// that a failed migration leaves the tables as they were.
type migration struct {
	to    int
	stmts []string
}

// migrations lists every migration in order; the last one's version is
// the current one. Tests replace it to check the migration path.
var migrations = []migration{
	{to: 1, stmts: []string{
		// One counter per client and period, replaced in place when a later
		// window starts.
		`CREATE TABLE {t}windows (
			client   bytea    NOT NULL,
			period   smallint NOT NULL,
			start_ns bigint   NOT NULL,
			end_ns   bigint   NOT NULL,
			used     bigint   NOT NULL,
			fired    smallint NOT NULL,
			PRIMARY KEY (client, period)
		)`,
		// One aggregate per client, hour and label.
		`CREATE TABLE {t}usage (
			client     bytea  NOT NULL,
			hour_start bigint NOT NULL,
			label      bytea  NOT NULL,
			hour_end   bigint NOT NULL,
			used       bigint NOT NULL,
			PRIMARY KEY (client, hour_start, label)
		)`,
		`CREATE INDEX {p}usage_hour ON {t}usage (hour_start)`,
		// The record of each charge made with an idempotency key, until it
		// expires.
		`CREATE TABLE {t}keys (
			client     bytea      NOT NULL,
			idem_key   text       NOT NULL,
			label      bytea      NOT NULL,
			cost       bigint     NOT NULL,
			at_ns      bigint     NOT NULL,
			expires_ns bigint     NOT NULL,
			hour_start bigint     NOT NULL,
			hour_end   bigint     NOT NULL,
			periods    smallint[] NOT NULL,
			starts     bigint[]   NOT NULL,
			ends       bigint[]   NOT NULL,
			limits     bigint[]   NOT NULL,
			used       bigint[]   NOT NULL,
			PRIMARY KEY (client, idem_key)
		)`,
		`CREATE INDEX {p}keys_expires ON {t}keys (expires_ns)`,
	}},
}

// currentVersion is the version the migrations lead to.
func currentVersion() int { return migrations[len(migrations)-1].to }

// names substitutes the store's schema and prefix in a statement: {t}
// starts a table or function name ("schema"."prefix), {p} an index name
// (prefix, unqualified, as CREATE INDEX wants it).
func (s *Store) names(stmt string) string {
	stmt = strings.ReplaceAll(stmt, "{schema}", `"`+s.schema+`"`)
	stmt = tableName.ReplaceAllString(stmt, `"`+s.schema+`"."`+s.prefix+`${1}"`)
	return indexName.ReplaceAllString(stmt, `"`+s.prefix+`${1}"`)
}

var (
	tableName = regexp.MustCompile(`\{t\}(\w+)`)
	indexName = regexp.MustCompile(`\{p\}(\w+)`)
)

// VersionError is the error of [New] on tables written by a newer version
// of this package.
type VersionError struct {
	Schema, Prefix string
	Found, Known   int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("apibilling/postgres: the tables %q.%q* have schema version %d, newer than version %d that this package knows: upgrade github.com/frappy-go/apibilling/stores/postgres",
		e.Schema, e.Prefix, e.Found, e.Known)
}

// setup creates or migrates the store's tables and creates its functions,
// in one transaction, serialized with other processes opening the same
// tables by an advisory lock.
func (s *Store) setup(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
			"apibilling/postgres setup "+s.schema+"."+s.prefix); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.names(`CREATE SCHEMA IF NOT EXISTS {schema}`)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.names(`CREATE TABLE IF NOT EXISTS {t}meta (
			name  text PRIMARY KEY,
			value text NOT NULL
		)`)); err != nil {
			return err
		}
		version := 0
		var text string
		err := tx.QueryRow(ctx, s.names(`SELECT value FROM {t}meta WHERE name = 'schema_version'`)).Scan(&text)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			if version, err = strconv.Atoi(text); err != nil {
				return fmt.Errorf("apibilling/postgres: schema version %q in %s.%smeta: %w", text, s.schema, s.prefix, err)
			}
		}
		if known := currentVersion(); version > known {
			return &VersionError{Schema: s.schema, Prefix: s.prefix, Found: version, Known: known}
		}
		for _, m := range migrations {
			if m.to <= version {
				continue
			}
			for _, stmt := range m.stmts {
				if _, err := tx.Exec(ctx, s.names(stmt)); err != nil {
					return fmt.Errorf("apibilling/postgres: migrating to schema version %d: %w", m.to, err)
				}
			}
			version = m.to
		}
		if _, err := tx.Exec(ctx, s.names(`INSERT INTO {t}meta (name, value) VALUES ('schema_version', $1)
			ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`), strconv.Itoa(version)); err != nil {
			return err
		}
		return s.createFunctions(ctx, tx)
	})
}

// createFunctions creates the functions the store calls, unless they
// exist. Their names carry a revision, raised whenever a body changes, so
// that processes of different versions sharing the tables each call their
// own.
func (s *Store) createFunctions(ctx context.Context, tx pgx.Tx) error {
	for _, f := range functions {
		var exists bool
		name := s.schema + "." + s.prefix + f.name
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = $1 AND p.proname = $2)`, s.schema, s.prefix+f.name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			continue
		}
		if _, err := tx.Exec(ctx, s.names(f.body)); err != nil {
			return fmt.Errorf("apibilling/postgres: creating function %s: %w", name, err)
		}
	}
	return nil
}

// DropTables removes every table and function of the store's schema and
// prefix, and the data in them: for tests and for uninstalling. The schema
// itself stays. The store must not be used afterwards.
func DropTables(ctx context.Context, pool *pgxpool.Pool, opts *Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	s := &Store{pool: pool, prefix: o.Prefix}
	if s.schema, err = resolveSchema(ctx, pool, o.Schema); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, f := range functions {
			if _, err := tx.Exec(ctx, s.names(`DROP FUNCTION IF EXISTS {t}`+f.name)); err != nil {
				return err
			}
		}
		for _, t := range []string{"keys", "usage", "windows", "meta"} {
			if _, err := tx.Exec(ctx, s.names(`DROP TABLE IF EXISTS {t}`+t)); err != nil {
				return err
			}
		}
		return nil
	})
}

// resolveSchema returns schema, or the connection's current schema when it
// is empty.
func resolveSchema(ctx context.Context, pool *pgxpool.Pool, schema string) (string, error) {
	if schema != "" {
		return schema, nil
	}
	var cur *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&cur); err != nil {
		return "", fmt.Errorf("apibilling/postgres: reading the current schema: %w", err)
	}
	if cur == nil {
		return "", errors.New("apibilling/postgres: the connection has no current schema (search_path): set Options.Schema")
	}
	if !validName(*cur) {
		return "", fmt.Errorf("apibilling/postgres: the current schema %q is not a plain name: set Options.Schema", *cur)
	}
	return *cur, nil
}
