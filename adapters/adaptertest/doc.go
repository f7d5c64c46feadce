// Package adaptertest is the conformance suite of the apibilling HTTP
// adapters: one table of requests, each with the exact status, rate-limit
// headers, body and usage it must give, run in-process against an app that
// each adapter builds the same way. An adapter adopts it in three lines:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, adaptertest.Gin)
//	}
//
// [Gin], [Echo] and [Fiber] build the suite's app with each adapter, and
// [Compare] runs every case on several apps and checks that their answers
// are identical, byte for byte in the headers the middleware sets.
package adaptertest
