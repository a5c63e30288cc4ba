#!/usr/bin/env bash
# Instructions per exported event: `casefile export` of the benchmarks' synthetic
# 1M-event capture on one thread under valgrind's cachegrind, which counts every
# instruction executed. Unlike wall time, which moves by ±15% from run to run on a
# shared VM, the count is the same on every run: it is how export changes are compared
# here. It does not see memory stalls or page faults; export_throughput.sh measures the
# wall time those add.
#     benches/export_instructions.sh [BASELINE_BINARY]
# With BASELINE_BINARY (an older casefile build), both are counted side by side and the
# change is printed. KEEP=DIR keeps the cachegrind files there, for cg_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "export_instructions: SKIPPED, needs valgrind (apt install valgrind)" >&2; exit 1; }
cargo build --release -q --bin casefile --example bench_capture -p casefile -p casefile-replay
CAPTURE=$(target/release/examples/bench_capture target/bench-data 1000000)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
events=$(target/release/casefile info --json "$CAPTURE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')

count() { # BINARY NAME: prints instructions
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$WORK/$2.cg" \
    "$1" export "$CAPTURE" -o "$WORK/$2" -q --threads 1 2>&1 \
    | sed -n 's/.*I *refs: *//p' | tr -d ,
}
binaries=(target/release/casefile)
[ $# -ge 1 ] && binaries+=("$1")
for i in "${!binaries[@]}"; do
  count "${binaries[$i]}" "run$i" > "$WORK/count$i" &
done
wait
now=$(cat "$WORK/count0")
printf 'this build: %s instructions for %s events = %d per event; events table %s Parquet bytes/event\n' \
  "$now" "$events" "$((now / events))" "$(echo "scale=2; $(du -sb "$WORK/run0/events" | cut -f1) / $events" | bc)"
if [ $# -ge 1 ]; then
  base=$(cat "$WORK/count1")
  printf 'baseline:   %s instructions = %d per event; events table %s Parquet bytes/event\n' \
    "$base" "$((base / events))" "$(echo "scale=2; $(du -sb "$WORK/run1/events" | cut -f1) / $events" | bc)"
  printf 'change:     %+.1f%% instructions\n' "$(echo "($now - $base) * 100 / $base" | bc -l)"
fi
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP" && cp "$WORK"/run*.cg "$KEEP"/
  echo "cachegrind files in $KEEP (run0: this build, run1: baseline); cg_annotate FILE shows them by function"
fi
