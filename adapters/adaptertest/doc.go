// Package adaptertest is the conformance suite of the apibilling HTTP
// adapters: one table of requests, each with the exact status, rate-limit
// headers, body, usage, logs and framework error reports it must give,
// run in-process against an app that each adapter builds the same way, in
// three wirings (route-level handlers; a global middleware with a per-route
// table; both combined), plus runners of concurrent requests (outcomes and
// costs of their own, one idempotency key from 64 requests, outcomes kept
// after their request). It imports no web framework: each adapter supplies
// its harness, a [Maker], from its own test files, and adopts the suite in
// three lines:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, newApp) // newApp is the adapter's Maker
//	}
//
// Every case states its answer exactly, so adapters that pass agree with
// each other byte for byte in what the middleware writes, and no answer,
// header or log line holds a client ID or an API key.
package adaptertest
