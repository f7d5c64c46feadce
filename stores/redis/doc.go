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
// # Operations
//
// Each operation is one Lua script, loaded once and run with EVALSHA (EVAL
// when the server has lost it), so it is atomic across processes and takes
// one round trip: a deduction reads every window of the client and adds
// the cost to all of them, or to none. Credits are exact int64
// micro-credits, incremented with HINCRBY and never summed in floating
// point; window times are compared digit-exactly, not as Lua numbers.
//
// Each operation is bounded by [Options.Timeout] (50 ms by default) unless
// the caller's context ends sooner: a Redis that is down, slow or failing
// over makes it fail with an error that wraps [core.ErrStoreUnavailable],
// which the adapters turn into 503 (fail closed) or a pass (fail open).
//
// # Keys
//
// All keys of one client share the hash tag {client}, so every script runs
// on one Redis Cluster slot:
//
//	apibilling:{client1}:w:day   hash s (window start), u (credits used),
//	                             x (expiry, Unix ms)
//	apibilling:{client1}:w:month one per period of the client's quotas
//	apibilling:{client1}:d       hash of day aggregates: one field per
//	                             report day and label, plus p (last pruned day)
//
// In the tag, '%', '{' and '}' of a client ID are written %25, %7B and %7D
// (the empty ID as a lone %); other bytes, ':' and NUL included, are kept,
// so no two IDs share keys. A window counter is replaced when a later
// window of its period starts and expires [Options.Grace] after its window
// ends, so the counters never grow with time. Day aggregates are pruned
// after [Options.Retention] (400 days by default), and the whole hash
// expires when a client has been charged nothing for that long.
//
// # Durability caveats
//
// The store is exactly as durable as the Redis behind it:
//
//   - Without persistence, a restart loses all usage: every window starts
//     again from zero and the day aggregates are gone. For billing, run
//     Redis with appendonly yes; appendfsync everysec (the default with
//     AOF) may lose about the last second of charges on a crash, and
//     appendfsync always loses none at a cost in throughput. RDB snapshots
//     alone lose everything since the last snapshot.
//   - Set maxmemory-policy noeviction: the keys carry expiries, so an
//     eviction policy would drop live counters under memory pressure and
//     admit their credits again. A full Redis then refuses writes, and
//     charges fail as unavailable instead.
//   - Replication is asynchronous: on a failover, charges the old primary
//     acknowledged but had not yet sent to the replica are lost, so the
//     promoted replica may admit up to those credits again in the current
//     windows, and they are missing from the day aggregates. WAIT is not
//     used; it would add a round trip to every request.
//   - go-redis retries a command whose connection broke (MaxRetries, 3 by
//     default). If Redis had run a deduction before the connection broke,
//     the retry charges it twice: the client is refused early, never
//     admitted beyond a limit. Set MaxRetries: -1 on the client to charge at
//     most once and fail the request instead.
//   - A timeout does not tell whether Redis ran the script: a charge that
//     failed with [core.ErrStoreUnavailable] may still have been counted.
//   - Expiry uses Redis's clock and windows use the instances' clocks; keep
//     them within [Options.Grace] (NTP) or a lagging instance may find a
//     counter gone and admit a window's credits again.
package redis
