// Command report writes BENCHMARKS.md from the outputs of bench/run.sh:
// the text of `go test -bench` over ./inprocess (any -count: the median of
// each benchmark is used), the JSON of cmd/load, and pprof listings. It
// computes, per framework, apibilling's overhead over the bare framework
// and the overhead of the framework's usual limiter, their ratio, and
// checks each against the targets of the spec.
//
//	go run ./cmd/report -bench bench.txt -load load.json -out ../BENCHMARKS.md
package main
