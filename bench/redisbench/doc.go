// Package redisbench compares the Redis store of apibilling with
// ulule/limiter's Redis store, against the same Redis server and through
// the same go-redis client in one run: charges per second, the 99th
// percentile latency, the time Redis spends per script (INFO
// commandstats) and the CPU time per charge of Redis and of the benchmark
// process, at 1, 16 and 64 concurrent clients.
//
//	go test -run '^$' -bench Redis -benchtime 30000x -count 5 ./redisbench/ | tee redis.txt
//	benchstat -col /store redis.txt
//
// The Redis address comes from APIBILLING_REDIS_ADDR (default
// 127.0.0.1:6379); without a reachable Redis the benchmarks skip, unless
// APIBILLING_REQUIRE_SERVICES=1. APIBILLING_REDIS_PIPELINES sets the
// store's Options.Pipelines (-1: pipelining off). Keys are written under
// fresh prefixes and deleted afterwards. Redis's figures count every
// client of that Redis: run it on a Redis nothing else uses.
package redisbench
