// Package mongo is a [core.Store] in MongoDB (6 or later), for an API that
// runs as many instances: they all charge the same quotas, and no instance
// can admit credits that another has already spent. It uses the official
// driver, go.mongodb.org/mongo-driver/v2, with a client the application
// configures, or one that [Open] connects:
//
//	store, err := mongo.Open(ctx, "mongodb://db1,db2,db3/?replicaSet=rs0", nil)
//	if err != nil { ... }
//	defer store.Close()
//	b := core.New(store)
//
// It also runs on FerretDB (1.x, a MongoDB-protocol server on SQLite or
// PostgreSQL), which the tests of this package use, in a layout of its own:
// see "Atomicity on FerretDB" below.
//
// # Atomicity on MongoDB (the Updates layout)
//
// Each client is one document in the collection clients: its live window
// counters, the usage aggregates of its latest day (per hour and label),
// and small lists of work on its way to other collections.
//
//	{_id: "acme", ver: 812, n: nonce,
//	 w: {minute: {s: start, e: end, u: used, f: threshold bits}, month: {...}},
//	 h: {"1767225600000000000": {e: end, l: {"_GET%20/api/fetch-data": used}}},
//	 lh: latest hour charged, lo: .., hi: .., o: [pending usage facts], k: [pending key records]}
//
// A deduction is one findAndModify: its filter holds when every window of
// the charge is the one the document counts (start) and has room (used <=
// limit - cost), no threshold level would be crossed that is not already
// fired, no counter would pass MaxUsage, and the charge's hour is live; its
// update $incs every counter, and ver. MongoDB applies it atomically, and
// returns the counters after it, so concurrent deductions from any number
// of processes admit exactly the limit. When the filter does not hold (a
// window renews, a new hour starts, a threshold fires, the client is new,
// or the charge does not fit), the store reads the document, applies the
// change as the memory store would, and replaces the document if its ver
// is still the one read, retrying on a newer one a bounded number of
// times. A change that lost that race claims the document before it reads
// it again ($set b: true, which the fast path's filter excludes), so that a
// steady stream of deductions cannot keep it from ever committing; the
// replacement drops the claim.
// Refunds, deletions, imports and charges with idempotency keys take that
// path too. Multi-document transactions are never used, so the store also
// works on a standalone server; the per-document atomicity it relies on is
// MongoDB's for every write.
//
// Usage aggregates of earlier days live in the collection usage, one
// document per client and UTC day (a "fact"; rarely a few, when a charge,
// refund or deletion arrives for a day already written); key records live
// in the collection keys. Both are written from the client's document:
// the change that charges records the work there, atomically with the
// charge; the work is then written out (idempotently: each item has an
// ID) and removed from the document by the next change. A lookup reads the
// client's document before those collections, so it sees every item in one
// place or the other.
//
// # Atomicity on FerretDB (the Versions layout)
//
// FerretDB 1.24 runs an update as a read of the document followed by a
// write of the whole document, and concurrent updates of one document
// from several connections interleave: in this package's own measurement
// (16 goroutines, 30 conditional $inc of 5 each, limit 1000), every update
// reported success and the counter ended between 160 and 280, with the
// SQLite backend and with the PostgreSQL one alike (there the read is a
// query outside the transaction that writes); 4 processes charging one
// client through the Updates layout admitted 2560 credits against a limit
// of 1000 and stored 57. Inserts are atomic there: its backends enforce
// the unique index on _id, and of concurrent inserts of one _id exactly one
// succeeds (measured across 4 processes on both backends).
//
// So on FerretDB each client's state is a chain of insert-only versions in
// the collection versions, {_id: "acme|813", c: "acme", v: 813, t: time
// written, ...the same fields}, and every change inserts the next version:
// the unique _id admits exactly one writer, which makes each change atomic
// across processes without any update. A process keeps the latest version
// it wrote or read: a deduction by the process that charges a client is
// one insert, and a process that lost the race reads the latest version and
// tries again. Changes of one client within a process are combined (group
// commit): while one version is being inserted the others queue, and the
// next version applies them all in order, so a busy client costs one
// insert per round trip rather than one per charge.
//
// Superseded versions are deleted once their successor is older than
// [Options.Horizon] (a minute by default), in the background. This rests on
// one assumption about time: a process inserts version v+1 only on the
// strength of having seen version v less than a quarter of the horizon
// before, and such an insert reaches the server within the rest of the
// horizon (it is sent within [Options.Timeout], at most a quarter of the
// horizon). Then no insert can land on the _id of a version already deleted,
// which would fork the chain. MongoDB needs no such assumption (the Updates
// layout never deletes a client's document).
//
// The store asks the server what it is (buildInfo names FerretDB) and uses
// the Versions layout on FerretDB and the Updates layout elsewhere, unless
// [Options.Layout] says otherwise; it records the layout in the database
// (collection meta) and refuses to open it in the other one. On FerretDB the
// Updates layout is atomic only through a client with a single connection
// (FerretDB runs the commands of a connection one at a time): the tests use
// that to check the layout's logic here, and no application should.
//
// FerretDB 1.x answers every query but an insert by reading the whole
// collection (the SQLite backend does not use its _id index for lookups:
// measured, a lookup by _id that finds nothing takes 42 ms among 10,000
// documents, 3.7 ms on the PostgreSQL backend). The Versions layout keeps
// the frequent path to inserts, and checks that a version it knows is still
// the latest by inserting its successor; reading a client's latest version
// cold, a charge with an idempotency key, a report or a charge to a day
// already written read a collection. FerretDB suits tests and small
// deployments; MongoDB scales.
//
// # Operations both servers support
//
// The store uses only what MongoDB 6+ and FerretDB 1.24 both implement:
// find and findOne with equality, $gt, $gte, $lt, $lte, $in, $or, $and,
// $not and $exists filters on dotted paths, with sort and limit; insertOne;
// replaceOne; updateOne with $set, $inc and upsert; findOneAndUpdate with
// $inc and returnDocument after (without a projection); deleteMany; and
// plain compound indexes. It uses no transactions, no TTL or partial
// indexes, no aggregation pipelines or pipeline updates, no arrays of arrays
// (FerretDB refuses them), no $natural order and no positional or
// arrayFilters updates. Numbers are int64 everywhere (micro-credits, Unix
// nanoseconds), never doubles, so counters stay exact up to MaxUsage.
// Client IDs, labels and keys of any bytes are stored escaped (%XX for bytes
// outside visible ASCII and for % | . $), which keeps them valid UTF-8 and
// usable in field names.
//
// # Write concern and failover
//
// Every write uses [Options.WriteConcern], majority by default: a
// deduction returns only once a majority of the replica set has it, so an
// acknowledged charge survives the failover of the primary, and a new
// primary cannot admit credits already spent. Reads use the primary. A
// weaker write concern (w: 1) is faster and may lose the last
// acknowledged charges when a primary fails before its secondaries copied
// them: the windows may then admit those credits again.
//
// Each operation is bounded by [Options.Timeout] (1 s by default) unless the
// caller's context ends sooner: a server that is down, slow or electing a
// primary makes the call fail within it (twice it at most, for a call that
// joined a batch) with an error that wraps [core.ErrStoreUnavailable], which
// the adapters answer with 503 or let pass. When a write had been sent and
// its answer was lost, the error also wraps [core.ErrOutcomeUnknown]: the
// charge may have been counted, and a retry with the same idempotency key
// is charged at most once. On a replica set the driver retries a write once
// after a network error or an election (retryable writes), and MongoDB
// applies it once. The driver opens connections in the background, bounded
// by the client's connect timeout, not by the operations' contexts; after
// a network partition heals the store serves again once those handshakes
// have timed out, so [Open] sets it to 5 s ([OpenConnectTimeout]).
//
// # Retention
//
// Usage aggregates of hours that started more than [Options.Retention]
// (400 days by default) before a client's latest charged hour are left out
// of reports at once, and their days are deleted from the collection usage
// as the client is charged. Key records are deleted an hour after they
// expire, by a goroutine of the store every [Options.PruneEvery] (an hour).
// TTL indexes are not used: FerretDB has none. Storage therefore grows with
// clients, days and keys in their retention, not with requests: the test
// TestStorageBounded, run with APIBILLING_MONGO_DEDUCTIONS=1000000, charges
// one client 100,000 times in the Updates layout (one document left) and a
// million times in the Versions layout (the versions of the last two
// horizons left: 122 documents with an 8 s horizon).
//
// # Indexes
//
// The store creates the indexes it queries by: keys {c, k} and {x}, usage
// {c, d, n}, versions {c, v}. Collections are named by [Options.Prefix]
// followed by clients, versions, keys, usage and meta, in
// [Options.Database] (apibilling by default).
package mongo
