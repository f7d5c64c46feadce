#!/usr/bin/env bash
# Paired wall-clock comparison of apibilling with each framework's usual
# limiter: the in-process benchmarks of the bare framework, the anchor and
# apibilling with the anchor's headers (memory store), serially, -count
# times interleaved (each round runs every variant once, so that a slow
# spell of the machine falls on all of them), compared with benchstat.
#
#	bench/paired.sh                 # COUNT=10 BENCHTIME=1s
#	COUNT=20 BENCHTIME=500ms bench/paired.sh
#
# It prints /proc/loadavg before and after (wall-clock times on a busy
# machine are only comparable within one run), benchstat's table of the
# three variants per framework, and each overhead (variant minus bare, from
# the medians) with its ratio to the anchor's. The raw output is kept in
# $RESULTS/paired.txt (default bench/results); INPUT=file analyses such an
# output again without running anything. benchstat is taken from the PATH,
# else run from the module proxy (golang.org/x/perf/cmd/benchstat).
set -euo pipefail

cd "$(dirname "$0")"
COUNT=${COUNT:-10}
BENCHTIME=${BENCHTIME:-1s}
RESULTS=${RESULTS:-results}
mkdir -p "$RESULTS"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/apibilling-paired.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if command -v benchstat >/dev/null 2>&1; then
	benchstat() { command benchstat "$@"; }
else
	benchstat() { go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$@"; }
fi

out=$RESULTS/paired.txt
if [[ -n "${INPUT:-}" ]]; then
	out=$INPUT
else
	go test -c -o "$tmp/inprocess.test" ./inprocess
	echo "loadavg before: $(cat /proc/loadavg)"
	: >"$out"
	for ((round = 1; round <= COUNT; round++)); do # every variant once per round
		(cd inprocess && "$tmp/inprocess.test" -test.run '^$' -test.benchmem -test.count 1 -test.benchtime "$BENCHTIME" \
			-test.bench 'Benchmark(Gin|Echo|Fiber|NetHTTP)/(bare|anchor|billing-memory-legacy|billing-memory-noheaders)/serial$') \
			>>"$out"
	done
	echo "loadavg after:  $(cat /proc/loadavg)"
fi

# One file per variant, the benchmarks renamed to their framework, so that
# benchstat sets the variants side by side. apibilling sends the anchor's
# headers: the X-RateLimit-* triple, none for echo.
for fw in Gin Echo Fiber NetHTTP; do
	ours=billing-memory-legacy
	[[ $fw == Echo ]] && ours=billing-memory-noheaders
	for v in bare anchor "$ours"; do
		name=$v
		[[ $v == billing-* ]] && name=apibilling
		grep "^Benchmark$fw/$v/serial" "$out" | sed "s|^Benchmark$fw/$v/serial|Benchmark$fw|" >>"$tmp/$name.txt"
	done
done
head -4 "$out" | grep -E '^(goos|goarch|pkg|cpu):' >"$tmp/header"
for f in bare anchor apibilling; do cat "$tmp/header" "$tmp/$f.txt" >"$tmp/$f.bench"; done
(cd "$tmp" && benchstat anchor=anchor.bench apibilling=apibilling.bench bare=bare.bench)

# Overheads from the medians of ns/op.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "overhead over bare (medians of ns/op): anchor, apibilling, ratio apibilling/anchor"
for fw in Gin Echo Fiber NetHTTP; do
	m() { grep -E "^Benchmark$fw(-[0-9]+)?[[:space:]]" "$tmp/$1.txt" | awk '{for (i = 3; i < NF; i++) if ($(i+1) == "ns/op") print $i}' | median; }
	b=$(m bare) a=$(m anchor) o=$(m apibilling)
	awk -v fw="$fw" -v b="$b" -v a="$a" -v o="$o" \
		'BEGIN {printf "%-8s +%.0f ns  +%.0f ns  %.2f\n", fw, a-b, o-b, (o-b)/(a-b)}'
done
