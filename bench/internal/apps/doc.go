// Package apps builds the small API that every benchmark serves, once per
// framework (gin, echo, fiber, net/http), bare or behind a middleware:
// apibilling or the framework's usual limiter. The in-process benchmarks,
// the instruction counts of cmd/callgrind and the loopback benchmark server
// share it, so all of them measure the same handler.
//
//	engine := apps.Gin(apps.UluleGin()) // gin behind ulule/limiter
package apps
