// Package mongobench compares the MongoDB store of apibilling with a naive
// find-then-update loop (read the client's document, check the limit,
// write the new counters back: what the Python module's MongoDB store
// did), against the same server in one run: deductions per second and the
// 99th percentile latency, at 1, 16 and 64 concurrent goroutines, each
// charging a client of its own, or all charging one client.
//
//	go test -run '^$' -bench . ./mongobench/
//
// The server comes from APIBILLING_MONGO_URI (default
// mongodb://127.0.0.1:27017, where .ci/services runs FerretDB); without one
// the benchmarks skip, unless APIBILLING_REQUIRE_SERVICES=1. Each
// benchmark works in a database of its own, dropped afterwards. On FerretDB
// the store uses its Versions layout (insert-only versions; see the
// package documentation of stores/mongo), and the figures are FerretDB's,
// not MongoDB's.
//
// Besides ops/s and p99, each benchmark reports lost/op: the charges missing
// from the counter at the end, per charge made. The store's is always 0. A
// find-then-update loop loses the charges whose read another goroutine's
// write overtook, as soon as two goroutines charge one client.
package mongobench
