#!/usr/bin/env bash
# Regenerates /BENCHMARKS.md: the in-process benchmarks (./inprocess), CPU
# and allocation profiles of the billed paths, the instructions per request
# under valgrind's callgrind (./cmd/callgrind, when valgrind is installed),
# the loopback load runs (./cmd/load), the store benchmarks (memory and
# bbolt at a million clients, ./sqlbench, ./mongobench, each against its
# naive counterpart) and the report (./cmd/report). Run it
# on a quiet machine:
#
#	bench/run.sh
#
# A full run takes about 10 minutes (callgrind about 3 of them). The raw
# outputs are kept in bench/results/ (the benchmark text, the callgrind and
# load JSON, the pprof listings), so that REPORT_ONLY=1 bench/run.sh writes
# the report again from them, for example after editing
# cmd/report/notes.md.
#
# Environment (defaults in brackets):
#	BENCHTIME [1s]       -benchtime of each in-process benchmark
#	COUNT [3]            times the in-process suite is run (medians are reported)
#	LOAD_DURATION [3s]   measured time of each load run
#	LOAD_WARMUP [500ms]  unmeasured time before each load run
#	CALLGRIND_N [10000]  requests of the shorter callgrind run of each variant
#	OUT [../BENCHMARKS.md, relative to bench/]
#	RESULTS [results, relative to bench/]
#	QUICK=1              a smoke run of about two minutes (BENCHTIME=300x COUNT=1 LOAD_DURATION=1s CALLGRIND_N=500)
#	REPORT_ONLY=1        only write the report from RESULTS
set -euo pipefail

cd "$(dirname "$0")"
OUT=${OUT:-../BENCHMARKS.md}
RESULTS=${RESULTS:-results}
mkdir -p "$RESULTS"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apibilling-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [[ "${REPORT_ONLY:-}" != 1 ]]; then
	started=$(date +%s)
	loadavg_before=$(cat /proc/loadavg 2>/dev/null || true)
	# The code measured: the commit, and whether files differed from it.
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n "$(git status --porcelain --untracked-files=no -- .. ':!../BENCHMARKS.md' ':!results' 2>/dev/null)" ]]; then
		commit="$commit with uncommitted changes"
	fi

	if [[ "${QUICK:-}" == 1 ]]; then
		: "${BENCHTIME:=300x}" "${COUNT:=1}" "${LOAD_DURATION:=1s}" "${LOAD_WARMUP:=200ms}" "${CALLGRIND_N:=500}"
	fi
	CALLGRIND_N=${CALLGRIND_N:-10000}
	BENCHTIME=${BENCHTIME:-1s}
	COUNT=${COUNT:-3}
	LOAD_DURATION=${LOAD_DURATION:-3s}
	LOAD_WARMUP=${LOAD_WARMUP:-500ms}
	rm -f "$RESULTS"/*

	echo "== building" >&2
	go test -c -o "$tmp/inprocess.test" ./inprocess
	go build -o "$tmp/load" ./cmd/load
	go build -o "$tmp/benchserver" ./cmd/benchserver
	go build -o "$tmp/callgrind" ./cmd/callgrind

	echo "== in-process benchmarks (-benchtime=$BENCHTIME, $COUNT times)" >&2
	bench_cmd="cd bench && go test -run '^\$' -bench . -benchmem -benchtime=$BENCHTIME -count=1 ./inprocess   # $COUNT times over"
	# The whole suite is run COUNT times over, rather than each benchmark
	# COUNT times in a row, so that a slow spell of the machine spreads over
	# every variant instead of falling on one.
	for ((i = 1; i <= COUNT; i++)); do
		(cd inprocess && "$tmp/inprocess.test" -test.run '^$' -test.bench . -test.benchmem \
			-test.benchtime="$BENCHTIME" -test.count=1) | tee -a "$RESULTS/bench.txt" >&2
	done

	echo "== profiles" >&2
	profile() { # name, benchmark regexp
		(cd inprocess && "$tmp/inprocess.test" -test.run '^$' -test.bench "$2" -test.benchmem -test.benchtime=2s \
			-test.cpuprofile "$tmp/$1.cpu" -test.memprofile "$tmp/$1.mem") >&2
		go tool pprof -top -nodecount=25 "$tmp/inprocess.test" "$tmp/$1.cpu" 2>/dev/null |
			sed -n '/flat%/,$p' >"$RESULTS/$1.cpu.txt"
		go tool pprof -sample_index=alloc_space -top -nodecount=12 "$tmp/inprocess.test" "$tmp/$1.mem" 2>/dev/null |
			sed -n '/flat%/,$p' >"$RESULTS/$1.alloc.txt"
	}
	profile core '^BenchmarkCore$/^memory$/^serial$'
	profile gin '^BenchmarkGin$/^billing-memory-legacy$/^serial$'
	profile fiber '^BenchmarkFiber$/^billing-memory-legacy$/^serial$'

	echo "== instructions per request (callgrind, -n $CALLGRIND_N)" >&2
	callgrind_cmd="cd bench && go build -o /tmp/callgrind ./cmd/callgrind && /tmp/callgrind -n $CALLGRIND_N -out callgrind.json"
	if command -v valgrind >/dev/null 2>&1; then
		"$tmp/callgrind" -n "$CALLGRIND_N" -out "$RESULTS/callgrind.json"
	else
		echo "no valgrind: the instruction counts are left out (apt-get install valgrind)" >&2
	fi

	echo "== loopback load (-duration $LOAD_DURATION)" >&2
	load_cmd="cd bench && go run ./cmd/load -root .. -clients 1,16,64 -duration $LOAD_DURATION -warmup $LOAD_WARMUP -out load.json"
	"$tmp/load" -root .. -clients 1,16,64 -duration "$LOAD_DURATION" -warmup "$LOAD_WARMUP" \
		-cpuprofile "gin/bolt=$tmp/gin-bolt-load.cpu" -out "$RESULTS/load.json"
	go tool pprof -top -cum -nodecount=40 "$tmp/benchserver" "$tmp/gin-bolt-load.cpu" 2>/dev/null |
		sed -n '/^Duration/p; /flat%/,$p' >"$RESULTS/gin-bolt-load.cpu.txt"

	echo "== Redis: apibilling vs ulule/limiter on one Redis" >&2
	redis_cmd="cd bench && go test -run '^\$' -bench . -benchmem -benchtime=2s ./redisbench"
	if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
		go test -run '^$' -bench . -benchmem -benchtime=2s ./redisbench | tee "$RESULTS/redis.txt" >&2
	else
		echo "no Redis at 127.0.0.1:6379: the Redis comparison is left out" >&2
		: >"$RESULTS/redis.txt"
	fi

	if [[ "${QUICK:-}" != 1 ]]; then
		echo "== paired wall-clock (paired.sh)" >&2
		{
			echo "# The in-process benchmarks of the bare framework, its usual limiter and apibilling with the limiter's headers (none for echo), serially, every variant once per round, compared with benchstat; then each overhead over bare (medians) and its ratio to the limiter's. Wall-clock times on this shared machine move by 10 to 40% between runs: compare within the table."
			echo "# cd bench && COUNT=${PAIRED_COUNT:-8} BENCHTIME=${PAIRED_BENCHTIME:-500ms} ./paired.sh"
			COUNT=${PAIRED_COUNT:-8} BENCHTIME=${PAIRED_BENCHTIME:-500ms} RESULTS="$tmp" ./paired.sh 2>&1 | grep -v '^go: downloading'
		} | tee "$RESULTS/paired.txt" >&2
	fi

	# Store benchmarks: each output starts with "# " lines saying what it
	# measures, the last one its command, for cmd/report. A store whose
	# server is not there skips its benchmarks (the section is left out).
	store_bench() { # name, description, directory (from the repository root), go test arguments...
		local name=$1 about=$2 dir=$3
		shift 3
		echo "== stores: $name" >&2
		{
			printf '# %s\n' "$about"
			printf '# cd %s && go test -run '"'"'^$'"'"'' "$dir"
			printf ' %q' "$@"
			printf '\n'
			(cd "../$dir" && go test -run '^$' "$@" 2>&1) || true
		} | tee "$RESULTS/store-$name.txt" >&2
	}
	if [[ "${QUICK:-}" != 1 ]]; then
		export APIBILLING_BOLT_BENCH_DIR=$tmp
		store_bench memory "The memory store's Deduct alone (a day and a month window and the hour's usage), random clients among 1k, 100k and 1M." \
			stores/memory -bench BenchmarkDeduct -benchmem -benchtime 2s .
		store_bench bolt "The bbolt store, durable (one fsync per group commit): deductions per second at 64 goroutines charging random clients among 1k, 100k and 1M that the file already holds; and Open of such a file, which must not grow with the usage stored." \
			stores/bolt -bench 'BenchmarkDeductClients|BenchmarkOpen' -benchmem -benchtime 5s .
		store_bench sql "PostgreSQL and MariaDB: apibilling's store (one call of its function or procedure) against a naive transaction (SELECT ... FOR UPDATE, then UPDATE and an upsert; five round trips) on the same server in the same run, at 1, 16 and 64 goroutines, each charging its own client (own) or all one client (one). p99 in microseconds." \
			bench -bench . -benchtime 2000x ./sqlbench
		store_bench mongo "MongoDB protocol, on FerretDB 1.24 with its SQLite back end (the figures are FerretDB's, not MongoDB's): apibilling's store against a naive find-then-update loop, at 1, 16 and 64 goroutines; lost/op counts the charges the naive loop lost." \
			bench -bench . ./mongobench
	fi

	{
		printf 'started=%q\n' "$started"
		printf 'loadavg_before=%q\n' "$loadavg_before"
		printf 'loadavg_after=%q\n' "$(cat /proc/loadavg 2>/dev/null || true)"
		printf 'commit=%q\n' "$commit"
		printf 'bench_cmd=%q\n' "$bench_cmd"
		printf 'load_cmd=%q\n' "$load_cmd"
		printf 'redis_cmd=%q\n' "$redis_cmd"
		printf 'callgrind_cmd=%q\n' "$callgrind_cmd"
		printf 'elapsed=%q\n' "$(($(date +%s) - started))"
	} >"$RESULTS/meta.sh"
fi

echo "== report" >&2
# shellcheck source=/dev/null
source "$RESULTS/meta.sh"
go build -o "$tmp/report" ./cmd/report
"$tmp/report" -bench "$RESULTS/bench.txt" -load "$RESULTS/load.json" -out "$OUT" \
	-bench-cmd "$bench_cmd" -load-cmd "$load_cmd" -started "$started" -elapsed "$elapsed" \
	-redis "$RESULTS/redis.txt" -redis-cmd "${redis_cmd:-}" \
	-callgrind "$RESULTS/callgrind.json" -callgrind-cmd "${callgrind_cmd:-}" \
	-text "Paired wall-clock time against each framework's limiter=$RESULTS/paired.txt" \
	-store "The memory store at a million clients=$RESULTS/store-memory.txt" \
	-store "The bbolt store at a million clients=$RESULTS/store-bolt.txt" \
	-store "PostgreSQL and MySQL/MariaDB against a naive transaction=$RESULTS/store-sql.txt" \
	-store "MongoDB (on FerretDB) against a naive find-then-update=$RESULTS/store-mongo.txt" \
	-loadavg-before "$loadavg_before" -loadavg-after "$loadavg_after" -commit "$commit" \
	-profile "core path alone, memory store, serial: CPU (pprof -top)=$RESULTS/core.cpu.txt" \
	-profile "gin, apibilling on the memory store, X-RateLimit-* only, serial: CPU (pprof -top)=$RESULTS/gin.cpu.txt" \
	-profile "gin, same benchmark: allocated bytes (pprof -sample_index=alloc_space -top)=$RESULTS/gin.alloc.txt" \
	-profile "fiber, apibilling on the memory store, X-RateLimit-* only, serial: CPU (pprof -top)=$RESULTS/fiber.cpu.txt" \
	-profile "fiber, same benchmark: allocated bytes=$RESULTS/fiber.alloc.txt" \
	-profile "gin over loopback, durable bolt (benchserver), whole load run: CPU, cumulative (pprof -top -cum)=$RESULTS/gin-bolt-load.cpu.txt"
echo "wrote $OUT" >&2
