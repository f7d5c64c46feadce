// Package loadgen is a small HTTP/1.1 load generator for loopback
// benchmarks: N clients, each on one keep-alive connection, send the same
// GET request back to back for a bounded time and a bounded count, and the
// run reports requests per second and latency percentiles.
//
// Its client is deliberately minimal (a pre-encoded request, a buffered
// reader that parses the status line, the headers and a Content-Length or
// chunked body) so that on a small machine it takes as little CPU from the
// server under test as it can.
//
//	res, err := loadgen.Run(ctx, loadgen.Config{
//		Addr: "127.0.0.1:8080", Path: "/api/fetch-data",
//		Header: [][2]string{{"X-API-Key", "key"}},
//		Clients: 64, Duration: 3 * time.Second,
//	})
package loadgen
