#!/usr/bin/env bash
# Export throughput (issue 6's figure): `casefile export` of the benchmarks' synthetic
# 20M-event capture (target/bench-data, shared with `cargo bench`), with Falco's stable
# rules filling `alerts` when ../shared/corpus is present and without rules, RUNS times
# each, alternating. Prints every run (wall, CPU, load average), the median and the
# best, rows/s, and Parquet bytes per event against the capture's.
#     benches/export_throughput.sh [RUNS]          (default 3)
# CASEFILE_BENCH_CAPTURE=FILE measures another capture.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
command -v /usr/bin/time >/dev/null || { echo "export_throughput: needs /usr/bin/time (apt install time)" >&2; exit 1; }
cargo build --release -q --bin casefile --example bench_capture -p casefile -p casefile-replay
BIN=target/release/casefile
CAPTURE=$(target/release/examples/bench_capture target/bench-data 20000000)
RULES=../shared/corpus/falco/falco_rules.yaml
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

events=$("$BIN" info --json "$CAPTURE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
capture_bytes=$(stat -c %s "$CAPTURE")
echo "capture: $CAPTURE, $events events, $(echo "scale=2; $capture_bytes / $events" | bc) bytes/event; $(nproc) cores"
modes=(plain)
if [ -f "$RULES" ]; then
  modes+=(rules)
else
  echo "SKIPPED the run with rules: $RULES is absent (Falco's stable rules, ../shared/corpus)"
fi

for i in $(seq "$RUNS"); do
  for mode in "${modes[@]}"; do
    args=()
    [ "$mode" = rules ] && args=(-r "$RULES")
    rm -rf "$WORK/out"
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" "$BIN" export "$CAPTURE" -o "$WORK/out" -q "${args[@]}"
    read -r wall user sys < "$WORK/time"
    echo "$wall" >> "$WORK/$mode"
    printf '%-6s run %d: %6.2f s wall, %6.2f s CPU, load %s before\n' "$mode" "$i" "$wall" "$(echo "$user + $sys" | bc)" "$load"
  done
done

parquet_bytes=$(du -sb "$WORK/out/events" | cut -f1)
for mode in "${modes[@]}"; do
  sort -g "$WORK/$mode" > "$WORK/$mode.sorted"
  median=$(awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' "$WORK/$mode.sorted")
  best=$(head -n1 "$WORK/$mode.sorted")
  printf '%-6s median %6.2f s = %.2f M rows/s; best %6.2f s = %.2f M rows/s\n' "$mode" \
    "$median" "$(echo "$events / $median / 1000000" | bc -l)" \
    "$best" "$(echo "$events / $best / 1000000" | bc -l)"
done
echo "events table: $(echo "scale=2; $parquet_bytes / $events" | bc) Parquet bytes/event (capture $(echo "scale=2; $capture_bytes / $events" | bc))"
