// Package redisbench compares the Redis store of apibilling with
// ulule/limiter's Redis store, against the same Redis server in one run:
// deductions per second and the 99th percentile latency, at 1, 16 and 64
// concurrent clients.
//
//	go test -run '^$' -bench . ./redisbench/
//
// The Redis address comes from APIBILLING_REDIS_ADDR (default
// 127.0.0.1:6379); without a reachable Redis the benchmarks skip, unless
// APIBILLING_REQUIRE_SERVICES=1. Keys are written under fresh prefixes and
// deleted afterwards.
package redisbench
