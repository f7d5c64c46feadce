// Command load runs the loopback load tests: for each framework it starts
// servers on 127.0.0.1 (each a process of its own, on a free port) and
// drives them with 1, 16 and 64 keep-alive clients for a bounded time,
// then writes requests/s and latency percentiles as JSON for cmd/report.
//
// Targets, per framework:
//
//   - bare: cmd/benchserver without middleware, the same route and handler
//     as the billed servers;
//   - memory: cmd/benchserver with apibilling on the memory store;
//   - bolt: cmd/benchserver with apibilling on a durable bolt store;
//   - example: the example application (examples/gin, examples/echo,
//     examples/fiber, examples/nethttp), durable bolt, with a clients file whose quotas never
//     run out during a run.
//
// Usage, from the bench module:
//
//	go run ./cmd/load -root .. -duration 3s -out load.json
//
// With -cpuprofile gin/bolt=cpu.out the benchserver of that target writes
// a CPU profile of its whole run.
package main
