#!/usr/bin/env bash
# Live alert latency (issue 5's figure): from the syscall's kernel timestamp to the
# alert printed by `casefile record --rules`, p50/p99/max as the recorder measures it.
#
# The workload opens a marker file every 10 ms (the alerts) while a busy dd keeps the
# recorder working (the load an alert has to get through).
# Run as root: benches/alert_latency.sh [ALERTS, default 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
alerts=${1:-1000}
[ "$(id -u)" = 0 ] || { echo "alert_latency: needs root (eBPF)" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/casefile
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/rules.yaml" <<'YAML'
- rule: latency marker opened
  desc: the benchmark's marker file
  condition: evt.type in (open, openat) and fd.name contains casefile-latency-marker
  output: "%proc.name opened %fd.name"
  priority: WARNING
YAML
workload="dd if=/dev/zero of=/dev/null bs=1 count=4000000 status=none & load=\$!;
for i in \$(seq $alerts); do : > $work/casefile-latency-marker; sleep 0.01; done;
kill \$load 2>/dev/null; wait"
"$bin" record -o "$work/latency.case" --rules "$work/rules.yaml" --alerts "$work/alerts.jsonl" \
    -- sh -c "$workload" > /dev/null 2> "$work/stderr" || true
grep -E 'events,|alert latency' "$work/stderr"
echo "alerts written: $(wc -l < "$work/alerts.jsonl")"
