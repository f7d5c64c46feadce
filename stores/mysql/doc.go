// Package mysql is a [core.Store] in MySQL or MariaDB tables, for an API
// that runs as many instances and keeps its billing data in its relational
// database, beside its customers and invoices, where it can be joined,
// queried with plain SQL and backed up with everything else. It uses
// database/sql with github.com/go-sql-driver/mysql and a *sql.DB the
// application configures. It is tested on MariaDB 10.11 and written in
// SQL that MySQL 8 runs too.
//
//	db, err := sql.Open("mysql", "app:secret@tcp(db.internal:3306)/app")
//	...
//	defer db.Close()
//	store, err := mysql.New(ctx, db, nil) // creates or migrates the tables
//	...
//	defer store.Close()
//	b := core.New(store)
//
// or, with a *sql.DB of its own that Close closes:
//
//	store, err := mysql.Open(ctx, os.Getenv("MYSQL_DSN"), &mysql.Options{Prefix: "billing_"})
//
// The database user needs CREATE ROUTINE (once, to create the procedures)
// and EXECUTE besides the usual table privileges. The DSN needs no
// particular parameter. With binary logging on, binlog_format must be ROW
// or MIXED (the defaults): the procedures run at READ COMMITTED, which
// STATEMENT refuses.
//
// # One round trip per deduction
//
// Every operation that changes state is one CALL of a stored procedure
// that the store creates beside its tables: one round trip, one
// transaction, which the procedure commits before it selects its result,
// so a result received is a committed call. A deduction locks the
// client's row, answers an idempotency key already recorded (replay or
// conflict), reads the client's counters and hour aggregate in one
// statement, and only if every window has room (and no counter would pass
// [core.MaxUsage]) writes them all, adds the cost to the hour aggregate
// and records the key: all or nothing. Credits are BIGINT micro-credits;
// overflow is checked as used > 9223372036854775807 - cost, so no SQL
// arithmetic overflows.
//
// The statements are sent as text with their values written in, bytes as
// hex literals (X'...') that no value can escape from: one round trip per
// call whatever the DSN says (a prepared statement would take a second
// round trip on each new connection, or three without a statement cache),
// and the text is parsed by the server in microseconds.
//
// Concurrency: each procedure runs its transaction at READ COMMITTED. One
// that changes a client's rows first locks the client's row in
// {prefix}clients (SELECT ... FOR UPDATE, or INSERT ... ON DUPLICATE KEY
// UPDATE on the client's first charge) and touches the client's other
// rows only under it. A transaction thus waits for at most one lock, so
// deductions never deadlock, and the counters read after the lock are the
// latest committed ones, so no update is lost. Deadlocks (which only other
// software holding the rows could cause) are retried, up to 8 attempts
// within [Options.Timeout].
//
// # Schema
//
// The store owns its tables, in the DSN's database, named with
// [Options.Prefix] (default "apibilling_"). [New] creates them, or
// migrates tables of an older [SchemaVersion], serialized across processes
// by a named lock (GET_LOCK); tables of a newer version are refused with a
// [*VersionError] naming both versions. MySQL commits each DDL statement
// on its own, so a migration is written to be run again if it stopped
// half-way; the version is recorded after its last statement.
//
//	apibilling_meta    (name VARCHAR(64) PRIMARY KEY, value VARCHAR(255))
//	                   schema_version; import (the ID of an unfinished import)
//	apibilling_clients (client VARBINARY(256) PRIMARY KEY)
//	                   one row per client: the lock of its operations
//	apibilling_windows (client VARBINARY(256), period TINYINT UNSIGNED,
//	                   start_ns BIGINT, end_ns BIGINT, used BIGINT,
//	                   fired TINYINT UNSIGNED, PRIMARY KEY (client, period))
//	                   one counter per client and period, replaced in place
//	                   when a later window starts
//	apibilling_usage   (client VARBINARY(256), hour_start BIGINT,
//	                   label VARBINARY(256), hour_end BIGINT, used BIGINT,
//	                   PRIMARY KEY (client, hour_start, label),
//	                   KEY apibilling_usage_hour (hour_start))
//	                   one aggregate per client, hour and label
//	apibilling_keys    (client VARBINARY(256), idem_key VARBINARY(255),
//	                   label VARBINARY(256), cost BIGINT, at_ns BIGINT,
//	                   expires_ns BIGINT, hour_start BIGINT, hour_end BIGINT,
//	                   windows VARBINARY(1024),
//	                   PRIMARY KEY (client, idem_key),
//	                   KEY apibilling_keys_expires (expires_ns))
//	                   the record of each keyed charge until it expires;
//	                   windows is "period,start,end,limit,used;" per window
//
// and the procedures apibilling_deduct_1, apibilling_refund_1 and
// apibilling_delete_1 (the number is the revision of the body). Periods
// are numbered as [core.Period] (0 second, 1 minute, 2 hour, 3 day, 4
// week, 5 month, 6 year). Client IDs and labels are VARBINARY because they
// may hold any bytes; times are Unix nanoseconds; amounts are
// micro-credits (1 credit = 1000000). Storage grows with clients and
// windows, not with requests: counters are updated in place, aggregates
// are per hour and label, and key records expire.
//
// # Pruning
//
// [Store.Prune] deletes key records that have expired and usage
// aggregates of hours older than [Options.Retention] (400 days by
// default), in READ COMMITTED transactions of [Options.PruneBatch] rows
// selected FOR UPDATE SKIP LOCKED (MySQL 8.0.1, MariaDB 10.6), so it never
// waits for a deduction. The store runs it every [Options.PruneInterval]
// (a minute) and after every 1024 keyed deductions; a client's first
// charge of an hour also drops up to 16 of its own aggregates past the
// retention. Several processes may prune at once.
//
// # Durability
//
// A deduction is acknowledged only after its transaction committed. With
// innodb_flush_log_at_trx_commit = 1 (the default) InnoDB writes and
// flushes its redo log at each commit, and a committed deduction survives
// a crash of the server or of the machine. With 2 the log is written at
// commit and flushed about once a second: a crash of the server loses
// nothing, a crash of the machine up to about a second of acknowledged
// deductions. With 0 a crash of the server may lose that second too. Lost
// deductions are clients served without being billed. With binary logging
// on, sync_binlog = 1 (the default since MySQL 5.7.7) keeps the binary log
// as durable as the redo log.
//
// On failover to a replica, what survives depends on the replication:
// asynchronous replication (the default) loses the transactions the
// replica had not received, so the promoted server may admit those
// credits again in the current windows, and they are missing from the
// aggregates and reports; keys recorded in that gap are lost too, so a
// retried charge may be charged again. Semi-synchronous replication
// (rpl_semi_sync_master_wait_point = AFTER_SYNC) or Galera/Group
// Replication acknowledge a commit only once another node has it, and a
// failover loses no acknowledged deduction.
//
// # Failures
//
// Each operation is bounded by [Options.Timeout] (one second by default),
// the wait for a connection included, unless the caller's context ends
// sooner; rounded up to whole seconds it is also each call's
// innodb_lock_wait_timeout. A database that is down, slow, locked or
// restarting makes the operation fail with an error wrapping
// [core.ErrStoreUnavailable]. When the call had been sent and its reply
// was lost (a timeout, a dropped connection), the server may have
// committed it: the error then also wraps [core.ErrOutcomeUnknown], and a
// retry with the same idempotency key is charged at most once. A call that
// failed before it was sent charged nothing. The driver closes a
// connection whose context ended; a call that was waiting for a lock then
// waits on the server until innodb_lock_wait_timeout.
//
// [Store.Export] reads the three tables in one REPEATABLE READ snapshot;
// [Store.Import] writes records in transactions of 256; both are bounded
// by the caller's context only.
package mysql
