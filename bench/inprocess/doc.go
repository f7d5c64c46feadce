// Package inprocess holds the in-process benchmarks: per framework (gin,
// echo, fiber, net/http with a ServeMux), serially and in parallel, the
// bare framework, apibilling on the memory store and on the durable bolt
// store, and the framework's usual limiter, all serving the same route with
// the same handler. Run them with
//
//	go test -run '^$' -bench . -benchmem ./inprocess
//
// gin, echo and net/http are driven through ServeHTTP with a reused request
// and a cheap ResponseWriter reset between requests; fiber through
// app.Handler() on a reused fasthttp.RequestCtx. What remains is the
// framework's routing, the middleware and the handler: no sockets, no HTTP
// parsing. The package cmd/report turns the output into the overhead tables
// of BENCHMARKS.md.
package inprocess
