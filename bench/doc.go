// Package bench measures apibilling against the bare frameworks and their
// usual limiters, in process and over loopback. It is a module of its own so
// that the main module's dependencies stay lean.
package bench
