#!/bin/bash
# Re-record the SCARLETEEL sample: sudo samples/scarleteel/simulate.sh [OUTPUT.case]
#
# Builds a container-like sandbox (a cgroup v2 directory named like a containerd
# container of a Kubernetes pod, private pid/mount/uts/network namespaces), starts the
# mock metadata service, C2 and mining pool inside the private network namespace, and
# records driver.sh — which starts the vulnerable web app in the sandbox and attacks it —
# with `casefile record`. See README.md for the story, the fake ids and addresses.
#
# Nothing leaves the network namespace (it has only lo), nothing on the host is
# written but the sandbox's own cgroup directories, namespace and work directory, and
# the EXIT trap removes them all, also when a step fails.
#
# Environment: CASEFILE=path/to/casefile (default: casefile on PATH, else the newer of the
# repo's target/release and target/debug builds).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
output=${1:-$here/scarleteel.case}

# Fixed, fake identities, so every recording names the same container, pod and node:
#   container id = sha256("casefile scarleteel sample container\n")
#   pod uid      = uuid5(NAMESPACE_URL, "casefile:scarleteel:pod")
#   node         = a fixed name; machine id = md5("casefile scarleteel sample node\n")
container_id=9fe9b73af39c675cf6fd2b3af0a77e1672953f4028f15d505e270f48bdd9ec20
pod_uid=a88bf1dc-5bc2-5ce2-af8e-48294591ae32
node_name=scarleteel-demo-node
node_machine_id=bc44fc3603f020c163df7d68c8309daf

netns=casefile-scarleteel
work=/run/casefile-scarleteel # fixed: paths in the capture are the same on every host

die() {
    echo "simulate.sh: $*" >&2
    exit 1
}

[[ $(id -u) == 0 ]] || die "needs root (eBPF, cgroups, namespaces): sudo $0"

if [[ -n ${CASEFILE:-} ]]; then
    casefile=$CASEFILE
elif command -v casefile >/dev/null; then
    casefile=$(command -v casefile)
elif [[ -x $repo/target/release/casefile || -x $repo/target/debug/casefile ]]; then
    # The newer of the two builds.
    casefile=$(ls -t "$repo"/target/{release,debug}/casefile 2>/dev/null | head -n1)
else
    die "no casefile binary: build it (cargo build) or set CASEFILE"
fi
for tool in ip nsenter unshare setpriv curl mkfifo base64 /usr/bin/python3; do
    command -v "$tool" >/dev/null || die "missing $tool"
done

# The cgroup v2 mount point, from mountinfo: hybrid hosts mount it below /sys/fs/cgroup
# (e.g. /sys/fs/cgroup/unified). The filesystem type follows the " - " separator.
cgroup2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
cgroup2=$(printf '%b' "$cgroup2") # mountinfo escapes spaces as \040
[[ -n $cgroup2 && -d $cgroup2 ]] || die "no cgroup2 filesystem mounted"
container_rel=kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${pod_uid//-/_}.slice/cri-containerd-$container_id.scope
container_cgroup=$cgroup2/$container_rel

# Leftovers of a run that was killed too hard for its trap: refuse, say how to clean.
[[ ! -e /run/netns/$netns ]] || die "network namespace $netns exists (an earlier run?): ip netns del $netns"
[[ ! -e $work ]] || die "$work exists (an earlier run?): remove it"
[[ ! -e $container_cgroup ]] || die "$container_cgroup exists (an earlier run?): rmdir it once empty"
[[ ! -e $output ]] || [[ -f $output ]] || die "$output exists and is not a file"

# ---- Clean-up: everything this script created, in reverse order ---------------------
created_cgroups=()
mock_pids=()
netns_created=0
cleanup() {
    local status=$? pid dir i log
    set +e
    if ((status != 0)); then # show what the sandbox said before it is removed
        for log in "$work"/*.log "$work"/*.err; do
            [[ -s $log ]] && { echo "--- $log" >&2; cat "$log" >&2; }
        done
    fi
    for pid in "${mock_pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    # Sandbox processes left behind by a failed run (all started by this script).
    if [[ -f $container_cgroup/cgroup.procs ]]; then
        while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$container_cgroup/cgroup.procs"
        for i in $(seq 50); do
            [[ -s $container_cgroup/cgroup.procs ]] || break
            sleep 0.1
        done
    fi
    for ((i = ${#created_cgroups[@]} - 1; i >= 0; i--)); do
        rmdir "${created_cgroups[i]}" || echo "simulate.sh: could not remove ${created_cgroups[i]}" >&2
    done
    ((netns_created)) && ip netns del "$netns"
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- The fake container's cgroup: create only the levels that are missing ------------
dir=$cgroup2
IFS=/ read -ra parts <<<"$container_rel"
for part in "${parts[@]}"; do
    dir=$dir/$part
    if [[ ! -d $dir ]]; then
        mkdir "$dir"
        created_cgroups+=("$dir")
    fi
done

# ---- The private network: lo only, with documentation-range addresses ----------------
#   192.0.2.10      the pod (web app)            TEST-NET-1
#   203.0.113.7     the attacker's machine       TEST-NET-3
#   169.254.169.254 instance metadata service    link-local, as in the cloud
#   203.0.113.66    C2 host                      TEST-NET-3
#   198.51.100.23   mining pool                  TEST-NET-2
ip netns add "$netns"
netns_created=1
ipn() { ip -n "$netns" "$@"; }
ipn link set lo up
for addr in 192.0.2.10 203.0.113.7 169.254.169.254 203.0.113.66 198.51.100.23; do
    ipn addr add "$addr/32" dev lo
done
# Connections from the pod to the "remote" hosts start at the pod's address, as they
# would on a real network (otherwise the kernel picks the destination as the source).
for addr in 169.254.169.254 203.0.113.66 198.51.100.23; do
    ipn route replace local "$addr" dev lo table local scope host src 192.0.2.10
done
in_netns() { nsenter --net="/run/netns/$netns" -- "$@"; }

# ---- Work directory: what the sandbox runs, at fixed paths ---------------------------
mkdir -m 0700 "$work"
mkdir "$work/app" "$work/etc"
install -m 0755 "$here/driver.sh" "$here/container_init.sh" "$work/"
install -m 0644 "$here/app/webapp.py" "$work/app/"
install -m 0644 "$here/container-etc/hosts" "$here/container-etc/resolv.conf" "$work/etc/"

# ---- The mock remote hosts, started before recording (outside the recorded tree) -----
for mock in imds_mock c2_mock pool_mock; do
    # nsenter execs python3 in place: $! is the mock's own pid, for the clean-up.
    nsenter --net="/run/netns/$netns" -- /usr/bin/python3 -B "$here/$mock.py" 2>"$work/$mock.log" &
    mock_pids+=($!)
done
wait_port() { # host port: until something listens (an empty connection is harmless)
    local i
    for i in $(seq 100); do
        in_netns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
        sleep 0.1
    done
    die "mock at $1:$2 did not start; see $work/*.log"
}
wait_port 169.254.169.254 80
wait_port 203.0.113.66 8080
wait_port 198.51.100.23 3333

# ---- Record --------------------------------------------------------------------------
# casefile records the command and everything it starts (its pid tree), including the
# processes in the sandbox's new pid namespace. The capture is written in the work
# directory first: casefile never overwrites a file, the sample's file is replaced only
# by a complete recording.
#
# What keeps the recording host's own details out of the sample (and makes re-recordings
# alike), all inside private mount and uts namespaces for casefile:
# * a minimal environment and / as the working directory: execve events record them,
#   and the invoking user's belong neither in a published sample nor in a reproducible one;
# * casefile's start-of-capture snapshot lists every process /proc shows, with command
#   lines, whatever the scope. So casefile gets a /proc that hides other processes
#   (hidepid=invisible, no group exemption) and runs without CAP_SYS_PTRACE (which would
#   see through hidepid): the snapshot then holds casefile alone. Its children still see
#   each other (same user, same capabilities);
# * the capture header names the host: a fixed node name and machine id stand in.
printf '%s\n' "$node_machine_id" >"$work/machine-id"
echo "recording with $casefile (cgroup2 at $cgroup2)"
env -i -C / PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    unshare --mount --uts --propagation private -- \
    sh -c 'mount -t proc -o hidepid=invisible,gid=65534 proc /proc &&
           hostname "$1" &&
           { [ ! -e /etc/machine-id ] || mount --bind "$2" /etc/machine-id; } &&
           shift 2 && exec "$@"' sh "$node_name" "$work/machine-id" \
    setpriv --bounding-set -sys_ptrace --inh-caps -sys_ptrace -- \
    "$casefile" record -q -o "$work/scarleteel.case" -- \
    nsenter --net="/run/netns/$netns" -- "$work/driver.sh" "$work" "$container_cgroup"
echo
echo "C2 received: $(grep -c exfiltrated "$work/c2_mock.log") upload(s)"

rm -f "$output"
mv "$work/scarleteel.case" "$output"
chmod 0644 "$output" # a published sample, not a live host's capture
"$casefile" info "$output"
