// Package memory is an in-memory [core.Store]: fast, safe for concurrent
// use, and built on the standard library only. Use it in tests and in single
// instances that may lose usage on restart; use the bolt store to keep it.
//
// Each client holds one counter per period; a counter is replaced when its
// window ends, so the counters never grow with time. Usage aggregates for
// reports are kept per hour and label for [DefaultRetention] (see
// [WithRetention]) or until deleted with [core.Billing.DeleteUsage].
// Idempotency keys are kept until they expire, and dropped as later keyed
// charges are recorded.
//
// Clients are spread over 64 shards, each under its own lock. A charge
// hashes the client ID once, finds the client in its shard's open-addressing
// table, and reads and writes only the client's own state: its counters, and
// its latest hour with the first label charged in it, both held in the
// client. Labels are kept once per shard, so comparing them reads memory
// that other clients' charges keep cached. A charge allocates nothing once
// the client and its hour exist.
//
//	b := core.New(memory.New())
package memory
