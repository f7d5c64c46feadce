#!/usr/bin/env bash
# Regenerates /BENCHMARKS.md: the in-process benchmarks (./inprocess), CPU
# and allocation profiles of the billed paths, the loopback load runs
# (./cmd/load) and the report (./cmd/report). Run it on a quiet machine:
#
#	bench/run.sh
#
# A full run takes about 6 to 8 minutes. Environment (defaults in brackets):
#	BENCHTIME [1s]       -benchtime of each in-process benchmark
#	COUNT [3]            -count of the in-process benchmarks (medians are reported)
#	LOAD_DURATION [3s]   measured time of each load run
#	LOAD_WARMUP [500ms]  unmeasured time before each load run
#	OUT [../BENCHMARKS.md, relative to bench/]
#	QUICK=1              a smoke run of about a minute (BENCHTIME=300x COUNT=1 LOAD_DURATION=1s)
set -euo pipefail

cd "$(dirname "$0")"
started=$(date +%s)
# The code measured: the commit, and whether files differed from it.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git status --porcelain --untracked-files=no -- .. ':!../BENCHMARKS.md' 2>/dev/null)" ]]; then
	commit="$commit with uncommitted changes"
fi
loadavg_before=$(cat /proc/loadavg 2>/dev/null || true)

if [[ "${QUICK:-}" == 1 ]]; then
	: "${BENCHTIME:=300x}" "${COUNT:=1}" "${LOAD_DURATION:=1s}" "${LOAD_WARMUP:=200ms}"
fi
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-3}
LOAD_DURATION=${LOAD_DURATION:-3s}
LOAD_WARMUP=${LOAD_WARMUP:-500ms}
OUT=${OUT:-../BENCHMARKS.md}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apibilling-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== building" >&2
go test -c -o "$tmp/inprocess.test" ./inprocess
go build -o "$tmp/load" ./cmd/load
go build -o "$tmp/report" ./cmd/report

echo "== in-process benchmarks (-benchtime=$BENCHTIME -count=$COUNT)" >&2
bench_cmd="cd bench && go test -run '^\$' -bench . -benchmem -benchtime=$BENCHTIME -count=1 ./inprocess   # $COUNT times over"
# The whole suite is run COUNT times over, rather than each benchmark COUNT
# times in a row, so that a slow spell of the machine spreads over every
# variant instead of falling on one.
for ((i = 1; i <= COUNT; i++)); do
	(cd inprocess && "$tmp/inprocess.test" -test.run '^$' -test.bench . -test.benchmem \
		-test.benchtime="$BENCHTIME" -test.count=1) | tee -a "$tmp/bench.txt" >&2
done

echo "== profiles" >&2
profile() { # name, benchmark regexp
	(cd inprocess && "$tmp/inprocess.test" -test.run '^$' -test.bench "$2" -test.benchmem -test.benchtime=2s \
		-test.cpuprofile "$tmp/$1.cpu" -test.memprofile "$tmp/$1.mem") >&2
	go tool pprof -top -nodecount=25 "$tmp/inprocess.test" "$tmp/$1.cpu" 2>/dev/null | sed -n '/flat%/,$p' >"$tmp/$1.cpu.txt"
	go tool pprof -sample_index=alloc_space -top -nodecount=12 "$tmp/inprocess.test" "$tmp/$1.mem" 2>/dev/null |
		sed -n '/flat%/,$p' >"$tmp/$1.alloc.txt"
}
profile core '^BenchmarkCore$/^memory$/^serial$'
profile gin '^BenchmarkGin$/^billing-memory-legacy$/^serial$'
profile fiber '^BenchmarkFiber$/^billing-memory-legacy$/^serial$'

echo "== loopback load (-duration $LOAD_DURATION)" >&2
load_cmd="cd bench && go run ./cmd/load -root .. -clients 1,16,64 -duration $LOAD_DURATION -warmup $LOAD_WARMUP -out load.json"
"$tmp/load" -root .. -clients 1,16,64 -duration "$LOAD_DURATION" -warmup "$LOAD_WARMUP" \
	-cpuprofile "gin/bolt=$tmp/gin-bolt-load.cpu" -out "$tmp/load.json"
go build -o "$tmp/benchserver" ./cmd/benchserver
go tool pprof -top -cum -nodecount=40 "$tmp/benchserver" "$tmp/gin-bolt-load.cpu" 2>/dev/null |
	sed -n '/^Duration/p; /flat%/,$p' >"$tmp/gin-bolt-load.cpu.txt"

echo "== report" >&2
"$tmp/report" -bench "$tmp/bench.txt" -load "$tmp/load.json" -out "$OUT" \
	-bench-cmd "$bench_cmd" -load-cmd "$load_cmd" -started "$started" -loadavg-before "$loadavg_before" -commit "$commit" \
	-profile "core path alone, memory store, serial: CPU (pprof -top)=$tmp/core.cpu.txt" \
	-profile "gin, apibilling on the memory store, X-RateLimit-* only, serial: CPU (pprof -top)=$tmp/gin.cpu.txt" \
	-profile "gin, same benchmark: allocated bytes (pprof -sample_index=alloc_space -top)=$tmp/gin.alloc.txt" \
	-profile "fiber, apibilling on the memory store, X-RateLimit-* only, serial: CPU (pprof -top)=$tmp/fiber.cpu.txt" \
	-profile "fiber, same benchmark: allocated bytes=$tmp/fiber.alloc.txt" \
	-profile "gin over loopback, durable bolt (benchserver), whole load run: CPU, cumulative (pprof -top -cum)=$tmp/gin-bolt-load.cpu.txt"
echo "wrote $OUT in $(($(date +%s) - started))s" >&2
