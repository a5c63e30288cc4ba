#!/usr/bin/env bash
# Recorder overhead and size (issue 3's figures). Run as root on an otherwise idle host:
#     sudo benches/record_overhead.sh [RUNS]
# 1. dd if=/dev/zero of=/dev/null bs=1 count=5000000 (10M syscalls): alone, with
#    do-nothing programs on sys_enter/sys_exit (the floor), on sys_exit only (the floor
#    of a recorder that, like casefile, reads everything at exit), with the least record
#    there is (timestamp and ids through a ring buffer), and under casefile record;
#    prints times, ratios, events recorded, drops and bytes per event.
# 2. A mixed workload (a shell loop that execs, opens files and connects on loopback):
#    alone and under casefile record, host-wide.
# Each figure is the median of RUNS runs (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
if [ "$(id -u)" != 0 ]; then echo "record_overhead: needs root" >&2; exit 1; fi
if [ "$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null)" = 1 ]; then
  echo "record_overhead: kernel.bpf_stats_enabled is 1, which adds two clock reads to every" >&2
  echo "program run and skews every figure; run: sysctl -w kernel.bpf_stats_enabled=0" >&2
  exit 1
fi
cargo build --release -q --bin casefile --example overhead_floor -p casefile -p casefile-capture
BIN=target/release/casefile
FLOOR=target/release/examples/overhead_floor
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
DD=(dd if=/dev/zero of=/dev/null bs=1 count=5000000 status=none)

time_cmd() { local t0 t1; t0=$(now); "$@"; t1=$(now); echo "$t1 - $t0" | bc -l; }

echo "== dd, 10M syscalls, median of $RUNS (alone, floor and recorded runs alternate)"
for i in $(seq "$RUNS"); do
  time_cmd "${DD[@]}" >> "$WORK/alone_raw"

  # Floors: the issue's (empty programs on sys_enter and sys_exit) and the one of
  # casefile's design, which attaches to sys_exit only.
  # And the least record there is, a timestamp and ids through a ring buffer: what any
  # recorder pays per syscall on this kernel before reading a single argument.
  for mode in both exit minimal; do
    case $mode in both) floor=floor ;; *) floor=floor_$mode ;; esac
    coproc FLOORPROC { exec "$FLOOR" "$mode" 2>> "$WORK/minimal_counts"; }
    read -r ready <&"${FLOORPROC[0]}"
    [ "$ready" = attached ] || { echo "floor program did not attach" >&2; exit 1; }
    time_cmd "${DD[@]}" >> "$WORK/${floor}_raw"
    exec {FLOORPROC[1]}>&-
    wait "$FLOORPROC_PID" 2>/dev/null || true
  done

  # dd's own time while recorded (bash's `time` inside the recorded command), and the
  # whole `casefile record` run (start-up, the /proc scan and the final drain included).
  rm -f "$WORK/dd.case"
  t0=$(now)
  "$BIN" record --quiet --syscalls all -o "$WORK/dd.case" -- \
    bash -c 'TIMEFORMAT=%R; time dd if=/dev/zero of=/dev/null bs=1 count=5000000 status=none' \
    2>> "$WORK/recorded_raw"
  t1=$(now)
  echo "$t1 - $t0" | bc -l >> "$WORK/recorded_total_raw"

  # The same without buffer contents (--snaplen 0): what copying 80 bytes of each read
  # and write out of user memory costs.
  rm -f "$WORK/dd0.case"
  "$BIN" record --quiet --syscalls all --snaplen 0 -o "$WORK/dd0.case" -- \
    bash -c 'TIMEFORMAT=%R; time dd if=/dev/zero of=/dev/null bs=1 count=5000000 status=none' \
    2>> "$WORK/recorded_snaplen0_raw"
done
for f in alone floor floor_exit floor_minimal recorded recorded_snaplen0 recorded_total; do median < "$WORK/${f}_raw" > "$WORK/$f"; done
ratio() { echo "$(cat "$WORK/$1") / $(cat "$WORK/alone")" | bc -l | cut -c1-5; }
echo "alone:            $(cat "$WORK/alone") s  (runs: $(tr '\n' ' ' < "$WORK/alone_raw"))"
echo "empty programs:   $(cat "$WORK/floor") s  ($(ratio floor)x)  (runs: $(tr '\n' ' ' < "$WORK/floor_raw"))"
echo "empty, exit only: $(cat "$WORK/floor_exit") s  ($(ratio floor_exit)x)  (runs: $(tr '\n' ' ' < "$WORK/floor_exit_raw"))"
echo "minimal record:   $(cat "$WORK/floor_minimal") s  ($(ratio floor_minimal)x)  (runs: $(tr '\n' ' ' < "$WORK/floor_minimal_raw"))"
echo "                  $(tail -n1 "$WORK/minimal_counts")"
echo "casefile record:  $(cat "$WORK/recorded") s  ($(ratio recorded)x the run alone)  (runs: $(tr '\n' ' ' < "$WORK/recorded_raw"))"
echo "                  whole record command $(cat "$WORK/recorded_total") s"
echo "  --snaplen 0:      $(cat "$WORK/recorded_snaplen0") s  ($(ratio recorded_snaplen0)x)  (runs: $(tr '\n' ' ' < "$WORK/recorded_snaplen0_raw"))"
"$BIN" info --json "$WORK/dd.case" > "$WORK/dd.json"
python3 - "$WORK/dd.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
reads = info["by_type"].get("read", 0); writes = info["by_type"].get("write", 0)
print(f"recorded: {info['events']} events (read {reads}, write {writes}), "
      f"{info['drops']} dropped, {info['bytes'] / max(info['events'], 1):.2f} bytes/event")
PY

echo "== mixed workload (exec, open, connect), median of $RUNS"
cat > "$WORK/mixed.sh" <<'SH'
python3 - <<'PY' &
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 47123)); s.listen(64)
for _ in range(400):
    c, _ = s.accept(); c.recv(16); c.close()
PY
sleep 0.3
for i in $(seq 400); do
  cat /etc/hostname /etc/os-release > /dev/null
  ls /usr/bin > /dev/null
  sha256sum /bin/ls > /dev/null
  exec 3<>/dev/tcp/127.0.0.1/47123 && echo hi >&3 && exec 3>&-
done
wait
SH
# Alone and recorded runs alternate, so drift in the machine's speed hits both alike.
for i in $(seq "$RUNS"); do
  time_cmd bash "$WORK/mixed.sh" >> "$WORK/mixed_alone_raw"
  rm -f "$WORK/host.case" "$WORK/host.ready"
  "$BIN" record --quiet -o "$WORK/host.case" --ready-file "$WORK/host.ready" &
  REC=$!
  # Timed from the moment the recorder says it is recording (probes attached).
  while [ ! -e "$WORK/host.ready" ]; do
    kill -0 "$REC" 2>/dev/null || { echo "the recorder ended before it was ready" >&2; exit 1; }
    sleep 0.05
  done
  time_cmd bash "$WORK/mixed.sh" >> "$WORK/mixed_recorded_raw"
  kill -INT "$REC"; wait "$REC" || true
done
median < "$WORK/mixed_alone_raw" > "$WORK/mixed_alone"
median < "$WORK/mixed_recorded_raw" > "$WORK/mixed_recorded"
echo "alone:            $(cat "$WORK/mixed_alone") s  (runs: $(tr '\n' ' ' < "$WORK/mixed_alone_raw"))"
echo "casefile record (host-wide, security set): $(cat "$WORK/mixed_recorded") s  (+$(echo "($(cat "$WORK/mixed_recorded") / $(cat "$WORK/mixed_alone") - 1) * 100" | bc -l | cut -c1-5)%)  (runs: $(tr '\n' ' ' < "$WORK/mixed_recorded_raw"))"
"$BIN" info --json "$WORK/host.case" > "$WORK/host.json"
python3 - "$WORK/host.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
print(f"recorded: {info['events']} events, {info['drops']} dropped, "
      f"{info['bytes'] / max(info['events'], 1):.2f} bytes/event")
PY
