// Package blackbox holds the black-box test of the example applications:
// it builds examples/gin, examples/echo and examples/fiber, runs each on
// loopback with its own bbolt file, exercises every route with the demo
// keys, restarts it on the same file, starts a second process on that file,
// and checks that the three answer identically.
//
//	go test ./examples/internal/blackbox
package blackbox
