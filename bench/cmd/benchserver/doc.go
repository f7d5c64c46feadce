// Command benchserver serves the benchmark route of package apps on
// loopback with one framework, bare or billed, for the loopback load runs
// of cmd/load:
//
//	benchserver -framework gin -mode bare -addr 127.0.0.1:8080
//	benchserver -framework fiber -mode bolt -db /tmp/bench.db
//	benchserver -framework nethttp -mode anchor
//
// Modes: bare (no middleware), anchor (the framework's usual limiter),
// memory (apibilling on the memory store) and bolt (apibilling on a durable
// bolt store in -db). It answers the API key apps.Key and stops cleanly on
// SIGINT or SIGTERM. With -cpuprofile it writes a CPU profile of its whole
// run, for the profiles of BENCHMARKS.md.
package main
