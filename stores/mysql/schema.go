package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// SchemaVersion is the version of the tables this package writes, recorded
// in the meta table. [New] migrates tables of an older version and refuses
// tables of a newer one.
const SchemaVersion = 1

// migration brings the tables from version to-1 to version to. MySQL
// commits each DDL statement on its own, so every statement must be safe to
// run again (IF NOT EXISTS) after a migration that stopped half-way; the
// version is written after the last one.
type migration struct {
	to    int
	stmts []string
}

// migrations lists every migration in order; the last one's version is
// the current one. Tests replace it to check the migration path.
var migrations = []migration{
	{to: 1, stmts: []string{
		// One row per client: every operation that changes a client's rows
		// locks it first, so the client's operations are serialized by one
		// lock and no two transactions wait for each other in a cycle.
		`CREATE TABLE IF NOT EXISTS {t}clients (
			client VARBINARY(256) NOT NULL PRIMARY KEY
		) ENGINE = InnoDB`,
		// One counter per client and period, replaced in place when a later
		// window starts.
		`CREATE TABLE IF NOT EXISTS {t}windows (
			client   VARBINARY(256)   NOT NULL,
			period   TINYINT UNSIGNED NOT NULL,
			start_ns BIGINT           NOT NULL,
			end_ns   BIGINT           NOT NULL,
			used     BIGINT           NOT NULL,
			fired    TINYINT UNSIGNED NOT NULL,
			PRIMARY KEY (client, period)
		) ENGINE = InnoDB`,
		// One aggregate per client, hour and label.
		`CREATE TABLE IF NOT EXISTS {t}usage (
			client     VARBINARY(256) NOT NULL,
			hour_start BIGINT         NOT NULL,
			label      VARBINARY(256) NOT NULL,
			hour_end   BIGINT         NOT NULL,
			used       BIGINT         NOT NULL,
			PRIMARY KEY (client, hour_start, label),
			KEY {t}usage_hour (hour_start)
		) ENGINE = InnoDB`,
		// The record of each charge made with an idempotency key, until it
		// expires; windows is "period,start,end,limit,used;" per window.
		`CREATE TABLE IF NOT EXISTS {t}keys (
			client     VARBINARY(256)  NOT NULL,
			idem_key   VARBINARY(255)  NOT NULL,
			label      VARBINARY(256)  NOT NULL,
			cost       BIGINT          NOT NULL,
			at_ns      BIGINT          NOT NULL,
			expires_ns BIGINT          NOT NULL,
			hour_start BIGINT          NOT NULL,
			hour_end   BIGINT          NOT NULL,
			windows    VARBINARY(1024) NOT NULL,
			PRIMARY KEY (client, idem_key),
			KEY {t}keys_expires (expires_ns)
		) ENGINE = InnoDB`,
	}},
}

// currentVersion is the version the migrations lead to.
func currentVersion() int { return migrations[len(migrations)-1].to }

var tableName = regexp.MustCompile(`\{t\}(\w+)`)

// names substitutes the store's prefix in a statement: {t}name is the
// quoted name of a table, index or procedure.
func (s *Store) names(stmt string) string {
	return tableName.ReplaceAllString(stmt, "`"+s.prefix+"${1}`")
}

// VersionError is the error of [New] on tables written by a newer version
// of this package.
type VersionError struct {
	Prefix       string
	Found, Known int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("apibilling/mysql: the tables %s* have schema version %d, newer than version %d that this package knows: upgrade github.com/frappy-go/apibilling/stores/mysql",
		e.Prefix, e.Found, e.Known)
}

// setup creates or migrates the store's tables and creates its
// procedures, serialized with other processes opening the same tables by
// a named lock (GET_LOCK) held on one connection meanwhile.
func (s *Store) setup(ctx context.Context) (err error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	lock := "apibilling:" + s.prefix
	var got sql.NullInt64
	if err := c.QueryRowContext(ctx, `SELECT GET_LOCK(CONCAT(?, SHA1(DATABASE())), 60)`, lock).Scan(&got); err != nil {
		return err
	}
	if got.Int64 != 1 {
		return errors.New("another process holds the setup lock")
	}
	defer func() {
		if _, rerr := c.ExecContext(context.WithoutCancel(ctx), `DO RELEASE_LOCK(CONCAT(?, SHA1(DATABASE())))`, lock); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if _, err := c.ExecContext(ctx, s.names(`CREATE TABLE IF NOT EXISTS {t}meta (
		name  VARCHAR(64)  NOT NULL PRIMARY KEY,
		value VARCHAR(255) NOT NULL
	) ENGINE = InnoDB`)); err != nil {
		return err
	}
	version := 0
	var text string
	err = c.QueryRowContext(ctx, s.names(`SELECT value FROM {t}meta WHERE name = 'schema_version'`)).Scan(&text)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		if version, err = strconv.Atoi(text); err != nil {
			return fmt.Errorf("apibilling/mysql: schema version %q in %smeta: %w", text, s.prefix, err)
		}
	}
	if known := currentVersion(); version > known {
		return &VersionError{Prefix: s.prefix, Found: version, Known: known}
	}
	for _, m := range migrations {
		if m.to <= version {
			continue
		}
		for _, stmt := range m.stmts {
			if _, err := c.ExecContext(ctx, s.names(stmt)); err != nil {
				return fmt.Errorf("apibilling/mysql: migrating to schema version %d: %w", m.to, err)
			}
		}
		version = m.to
		if _, err := c.ExecContext(ctx, s.names(`INSERT INTO {t}meta (name, value) VALUES ('schema_version', ?)
			ON DUPLICATE KEY UPDATE value = ?`), strconv.Itoa(version), strconv.Itoa(version)); err != nil {
			return err
		}
	}
	for _, p := range procedures {
		var n int
		if err := c.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.ROUTINES
			WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = ?`, s.prefix+p.name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if _, err := c.ExecContext(ctx, s.names(p.body)); err != nil {
			return fmt.Errorf("apibilling/mysql: creating procedure %s%s: %w", s.prefix, p.name, err)
		}
	}
	return nil
}

// DropTables removes every table and procedure of the store's prefix, and
// the data in them: for tests and for uninstalling. The store must not be
// used afterwards.
func DropTables(ctx context.Context, db *sql.DB, opts *Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	s := &Store{db: db, prefix: o.Prefix}
	for _, p := range procedures {
		if _, err := db.ExecContext(ctx, s.names(`DROP PROCEDURE IF EXISTS {t}`+p.name)); err != nil {
			return err
		}
	}
	for _, t := range []string{"keys", "usage", "windows", "clients", "meta"} {
		if _, err := db.ExecContext(ctx, s.names(`DROP TABLE IF EXISTS {t}`+t)); err != nil {
			return err
		}
	}
	return nil
}
