// Package redis is a [core.Store] in Redis, for an API that runs as many
// instances: they all charge the same quotas, and no instance can admit
// credits that another has already spent. It uses
// github.com/redis/go-redis/v9 with a client the application configures
// (single node, Sentinel or Cluster) and closes.
//
//	rdb := goredis.NewUniversalClient(&goredis.UniversalOptions{
//		Addrs:                 []string{"127.0.0.1:6379"},
//		ContextTimeoutEnabled: true, // required: see New
//	})
//	defer rdb.Close()
//	store, err := redis.New(rdb, nil)
//	...
//	b := core.New(store)
//
// It needs Redis 7.0 or later (PEXPIREAT with GT and NX).
//
// # Operations
//
// Each operation is one Lua script, loaded once and run with EVALSHA (EVAL
// when the server has lost it), so it is atomic across processes and takes
// one round trip: a deduction checks every window of the client and adds
// the cost to all of them and to the hour's usage aggregate, or to none,
// and records the charge's idempotency key in the same step. No script
// stops half way: the general path reads what it decides on before it
// writes, and the fast path below undoes its increments, in the same
// script, before it hands over.
//
// The common deduction (its windows and hour already counted, no alert
// thresholds, no idempotency key) costs one HINCRBY per window and one for
// the hour, on fields named by the window's start and the hour's start, so
// nothing is parsed (about 64,000 instructions inside Redis for two
// windows, 24,000 of which any EVALSHA costs). Anything else (a new window
// or hour, a refusal, a key, thresholds, a counter near 2^53) undoes the
// increments and takes the general path, which reads everything first.
//
// Credits are exact int64 micro-credits and never summed in floating
// point; Lua's numbers (doubles) only ever hold values below 2^53, larger
// counters are changed with HINCRBY and compared digit by digit. A charge
// that would take any counter (a window's or an hour's) past
// [core.MaxUsage] is refused with Result.Overflow, so no HINCRBY ever
// overflows inside Redis. Times are kept as 8 bytes and compared byte by
// byte, exact to the nanosecond.
//
// # Pipelining
//
// Deduct, Refund and Usage calls that arrive while [Options.Pipelines]
// calls (2 by default) are in flight wait and go out together in one
// pipeline: one write and one read on one connection. Each call is still
// its own script and its own answer; only the round trip is shared. Under
// load this removes most system calls on both sides and most connections:
// at 64 concurrent deductions it more than doubles the deductions per
// second. A call that finds fewer calls in flight is sent at once, so a
// lightly loaded store adds no delay. A pipeline runs under the earliest
// deadline of its calls.
//
// # Keys
//
// Every key of one client starts with <prefix>:{<client>}, so all of them
// hash to one Redis Cluster slot; scripts also name keys of the client
// that they do not receive in KEYS (its day hashes and indexes), which
// Redis Cluster allows within the slot:
//
//	apibilling:{client1}          hash: window counters, their spans and
//	                              threshold bits, the current hour's
//	                              aggregates by label
//	apibilling:{client1}:d:+0020631  hash: the aggregates of older hours
//	                              starting on that Unix day
//	apibilling:{client1}:i        sorted set: the days that have a hash
//	apibilling:{client1}:k:<key>  string: an idempotency key's record
//	apibilling:{client1}:ki       sorted set: the client's keys by expiry
//	apibilling:import             string: the ID of an import in progress
//
// In the tag, '%', '{' and '}' of a client ID are written %25, %7B and %7D
// (the empty ID as a lone %); other bytes, ':' and NUL included, are kept,
// so no two IDs share keys. Field names and times inside the hashes are
// binary (8-byte big-endian times).
//
// A window counter is replaced when a later window of its period starts. A
// charge into a later hour than the client's current one moves the current
// hour's aggregates to their day hash: once per hour and client, costing
// the labels of one hour, never the client's history. A report reads the
// day hashes of its range only (the day index finds them).
//
// # Idempotency keys
//
// A charge with a key stores, in the same script that admits it, the
// key's record: when it expires, its cost and label, what a refund needs,
// each window's usage after the charge, and the record itself as
// [core.KeyRecord.AppendBinary] encodes it. The record's key expires with
// the key retention (PX), so Redis prunes expired records itself. A retry
// finds it and replays (same cost and label) or conflicts; a refund by key
// reads and deletes it in one script, so it applies at most once.
//
// # Retention
//
// Usage aggregates are kept for [Options.Retention] (400 days by default):
// when a client's charges reach a new hour, the day hashes of days that
// ended more than the retention before it are deleted, at most 64 a
// charge, found in the day index (no scan); every key of a client also
// expires when it has been charged nothing for the retention. Window
// counters live in the client hash, which expires only when every window
// it holds has ended ([Options.Grace] after) and the retention has passed.
// With a negative Retention nothing expires but the keys' records.
//
// # Export and import
//
// Export finds the clients with SCAN (on every primary of a Cluster) and
// reads each client consistently: one script for a client with a few days
// of aggregates, else a few scripts that read the older days first (16 a
// script) and then, in one step, the last two days, the counters and the
// keys, so that no Redis call grows with a client's history. (A charge
// that lands, during the export, in an hour more than two days older than
// the client's latest would be missing from that hour's aggregate.) Import
// writes a record per script, a few hundred scripts to a pipeline; it
// refuses a store that is not empty (or holds another unfinished import)
// unless told to merge, and keeps the import's ID in <prefix>:import while
// it runs, so that an import that broke off can be run again.
//
// # Timeouts and doubt
//
// Deduct, Refund and Usage are bounded by [Options.Timeout] (500 ms by
// default), Report, Delete, Export and Import by [Options.AdminTimeout]
// (5 s) per script, unless the caller's context ends sooner; the time a
// call waits for a pooled connection or for a pipeline counts. A call that
// does not finish in time fails with an error that wraps
// [core.ErrStoreUnavailable], which the adapters answer with 503 (or let
// pass, when failing open).
//
// Such an error also wraps [core.ErrOutcomeUnknown] exactly when the call
// changes state (Deduct, Refund, Delete, Import) and its command was
// written to a connection but its reply was lost: a timeout while waiting
// for the reply, or a connection that broke after the write. Redis may
// then have applied it: the charge may have been counted although the
// caller answers 503. A call that failed before its command was written
// (no connection could be had, the pool was exhausted, the write failed,
// the context ended while it waited) changed nothing, and so did one that
// Redis answered with an error. [Store.Stats] counts the calls in doubt.
// Retrying a charge in doubt with the same idempotency key is safe: it is
// charged at most once. The store never lets go-redis retry a script
// (whatever the client's MaxRetries), since a retry of a script that ran
// would charge twice.
//
// The default timeout comes from a load study (loadstudy_test.go): three
// processes of 22 goroutines charging one Redis on two busy cores saw
// latencies of p99 5-9 ms and at most 220-250 ms; with the former 50 ms
// timeout 0.01-0.24% of healthy calls failed, with 500 ms none did. A dead
// Redis is still found out within the timeout: a refused connection fails
// in microseconds once go-redis has seen its dial fail (the first calls
// wait for go-redis's dial retries, 5 by default, 100 ms apart: set
// DialerRetries to 1 to fail them at once), and a silent one (a
// partition, a black-holed socket) fails each call at the timeout.
//
// Size the client's pool for the calls in flight: with pipelining, a
// connection per pipeline ([Options.Pipelines]) plus one per concurrent
// report, deletion, export or import, so go-redis's default (10 per CPU)
// is ample; with pipelining off, one per concurrent charge, or calls wait
// for a connection within their timeout.
//
// # Durability caveats
//
// The store is exactly as durable as the Redis behind it:
//
//   - Without persistence, a restart loses all usage: every window starts
//     again from zero and the aggregates are gone. For billing, run Redis
//     with appendonly yes; appendfsync everysec (the default with AOF) may
//     lose about the last second of charges on a crash, and appendfsync
//     always loses none at a cost in throughput. RDB snapshots alone lose
//     everything since the last snapshot.
//   - Set maxmemory-policy noeviction: the keys carry expiries, so an
//     eviction policy would drop live counters under memory pressure and
//     admit their credits again. A full Redis then refuses writes, and
//     charges fail as unavailable instead.
//   - Replication is asynchronous: on a failover, charges the old primary
//     acknowledged but had not yet sent to the replica are lost, so the
//     promoted replica may admit up to those credits again in the current
//     windows, and they are missing from the aggregates. WAIT is not used;
//     it would add a round trip to every request.
//   - Expiry uses Redis's clock and windows use the instances' clocks; keep
//     them within [Options.Grace] (NTP) or a lagging instance may find a
//     counter gone and admit a window's credits again.
package redis
