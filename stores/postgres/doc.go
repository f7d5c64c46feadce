// Package postgres is a [core.Store] in PostgreSQL tables, for an API
// that runs as many instances and keeps its billing data in its relational
// database, beside its customers and invoices, where it can be joined,
// queried with plain SQL and backed up with everything else. It uses
// github.com/jackc/pgx/v5 with a pool the application configures:
//
//	pool, err := pgxpool.New(ctx, "postgres://app@db.internal/app")
//	...
//	defer pool.Close()
//	store, err := postgres.New(ctx, pool, nil) // creates or migrates the tables
//	...
//	defer store.Close()
//	b := core.New(store)
//
// or, with a pool of its own that Close closes:
//
//	store, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), &postgres.Options{Schema: "billing"})
//
// # One round trip per deduction
//
// Every operation that changes state is one call of a PL/pgSQL function
// that the store creates beside its tables: one statement, one round trip,
// one transaction, committed before the reply. A deduction takes the
// client's lock, answers an idempotency key already recorded (replay or
// conflict), reads the client's counters, and only if every window has
// room (and no counter would pass [core.MaxUsage]) adds the cost to the
// hour aggregate and the windows and records the key: all or nothing.
// Credits are BIGINT micro-credits; overflow is checked as used >
// 9223372036854775807 - cost, so no SQL arithmetic overflows.
//
// Concurrency: every function that changes a client's rows first takes the
// client's lock, a transaction-level advisory lock
// (pg_advisory_xact_lock(int4, int4): the store's schema and prefix, and
// the client, each hashed with FNV-1a; two clients that share a hash only
// wait for each other), and touches the client's rows only under it. A
// transaction thus waits for at most one lock, so deductions never
// deadlock, and since READ COMMITTED reads the latest committed rows after
// the lock, no update is lost; the lock also covers a client's first
// charge, before it has any row. The functions check that they run at READ COMMITTED; on a pool
// whose sessions default to REPEATABLE READ or SERIALIZABLE they refuse,
// and the store from then on sends each call between BEGIN ISOLATION LEVEL
// READ COMMITTED and COMMIT queued in the same round trip. Serialization
// failures and deadlocks (which only other software holding the rows could
// cause) are retried, up to 8 attempts within [Options.Timeout].
//
// # Group commit
//
// With synchronous_commit on, each transaction waits for its WAL flush,
// and on a small server the commits, not the statements, bound the rate.
// So deductions made through one Store while another of its deductions is
// in flight wait for it and are then sent together, as one call of the
// batch function (apibilling_deduct_batch_1): one statement, one round
// trip, one transaction and one commit for all of them. A deduction that
// finds nothing in flight is sent alone at once, as before, and a batch
// is sent as soon as the previous call returns, never on a timer, so
// there is no added latency without concurrency. Each caller returns only
// after the batch committed.
//
// The batch function calls the deduct function once per op, in the order
// given, so every answer (admitted, refused, replayed, conflict, overflow,
// thresholds fired, counters reset) is the one the op would get alone in
// that order. The ops are sorted by their client's lock, then client, then
// arrival: the ops of a client apply in the order they arrived, and every
// batch of every process takes its client locks in one global order, so
// batches cannot deadlock each other. If the server refuses a batch (it
// rolled back, nothing was applied) its ops are sent again one by one,
// in the order they arrived, and an op that fails on its own fails alone.
// A failure of the batch's connection is each caller's, with the same
// errors as a lone call ([core.ErrStoreUnavailable], and
// [core.ErrOutcomeUnknown] once sent). A caller whose context ends while
// its op waits leaves the queue (nothing sent); one whose context ends
// while the batch is in flight gets [core.ErrOutcomeUnknown]. Each caller
// is bounded by [Options.Timeout] from its call, as a lone call. Close
// waits for the batch in flight (bounded by the timeout) and fails the
// deductions still queued with [core.ErrClosed], unsent.
// [Options.NoGroupCommit] sends every deduction alone. Refunds, deletions
// and reads are never batched.
//
// # Schema
//
// The store owns its tables, in [Options.Schema] (default: the current
// schema), named with [Options.Prefix] (default "apibilling_"). [New]
// creates them, or migrates tables of an older [SchemaVersion] in one
// transaction, serialized across processes by an advisory lock; tables of
// a newer version are refused with a [*VersionError] naming both
// versions.
//
//	apibilling_meta    (name text PRIMARY KEY, value text)
//	                   schema_version; import (the ID of an unfinished import)
//	apibilling_windows (client bytea, period smallint, start_ns bigint,
//	                   end_ns bigint, used bigint, fired smallint,
//	                   PRIMARY KEY (client, period))
//	                   one counter per client and period, replaced in place
//	                   when a later window starts
//	apibilling_usage   (client bytea, hour_start bigint, label bytea,
//	                   hour_end bigint, used bigint,
//	                   PRIMARY KEY (client, hour_start, label))
//	                   + INDEX apibilling_usage_hour (hour_start)
//	                   one aggregate per client, hour and label
//	apibilling_keys    (client bytea, idem_key text, label bytea, cost bigint,
//	                   at_ns bigint, expires_ns bigint, hour_start bigint,
//	                   hour_end bigint, periods smallint[], starts bigint[],
//	                   ends bigint[], limits bigint[], used bigint[],
//	                   PRIMARY KEY (client, idem_key))
//	                   + INDEX apibilling_keys_expires (expires_ns)
//	                   the record of each keyed charge until it expires
//
// and the functions apibilling_deduct_1, apibilling_deduct_batch_1,
// apibilling_refund_1 and apibilling_delete_1 (the number is the revision
// of the body). A function is created when missing, beside tables of the
// same version: the batch function, added after schema version 1, needed
// no new version, so processes with and without it share the tables. Periods
// are numbered as [core.Period] (0 second, 1 minute, 2 hour, 3 day, 4
// week, 5 month, 6 year). Client IDs and labels are bytea because they may
// hold any bytes; times are Unix nanoseconds; amounts are micro-credits (1
// credit = 1000000). Storage grows with clients and windows, not with
// requests: counters are updated in place, aggregates are per hour and
// label, and key records expire.
//
// # Pruning
//
// [Store.Prune] deletes key records that have expired and usage
// aggregates of hours older than [Options.Retention] (400 days by
// default), in transactions of [Options.PruneBatch] rows selected FOR
// UPDATE SKIP LOCKED, so it never waits for a deduction. The store runs it
// every [Options.PruneInterval] (a minute) and after every 1024 keyed
// deductions; a client's first charge of an hour also drops up to 16 of
// its own aggregates past the retention. Several processes may prune at
// once.
//
// # Durability
//
// A deduction is acknowledged only after its transaction committed. With
// synchronous_commit = on (the default) and fsync on, a committed
// deduction survives a crash of the server. With synchronous_commit = off
// the server acknowledges before the WAL reaches the disk, and a crash
// loses up to about three times wal_writer_delay (600 ms by default) of
// acknowledged deductions: those clients were served without being
// billed. The setting can be lowered per role or database for this store
// alone (ALTER ROLE billing SET synchronous_commit = off) if that trade is
// acceptable.
//
// On failover to a streaming replica, what survives depends on
// synchronous replication: with synchronous_standby_names set and
// synchronous_commit = on (or remote_apply), a deduction acknowledged by
// the primary is on the standby, and a failover loses nothing; with
// asynchronous replication (the default), the deductions the replica had
// not received are lost: the promoted server may admit those credits
// again in the current windows, and they are missing from the aggregates
// and reports. Keys recorded in that gap are lost too, so a retried charge
// may be charged again.
//
// # Failures
//
// Each operation is bounded by [Options.Timeout] (one second by default),
// the wait for a pool connection included, unless the caller's context
// ends sooner; the timeout is also each call's lock_timeout. A database
// that is down, slow, locked or restarting makes the operation fail with
// an error wrapping [core.ErrStoreUnavailable]. When the call had been
// sent and its reply was lost (a timeout, a dropped connection), the
// server may have committed it: the error then also wraps
// [core.ErrOutcomeUnknown], and a retry with the same idempotency key is
// charged at most once. A call that failed before it was sent charged
// nothing.
//
// [Store.Export] reads the three tables in one REPEATABLE READ snapshot;
// [Store.Import] writes records in batches of 256 per round trip and
// transaction; both are bounded by the caller's context only.
package postgres
