#!/bin/bash
# The sandbox's "container runtime": runs as PID 1 of the sample's new pid, mount and uts
# namespaces (driver.sh starts it with unshare, already in the fake containerd cgroup and
# the private network namespace), gives the container its own writable directories,
# plants the FAKE secrets the attacker will find, and becomes the vulnerable web app.
#
# Everything mounted here lives in a private mount namespace (unshare makes propagation
# private), so nothing on the host is touched and it all disappears with the container.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

# The container's own /var/log, /root and /tmp, on tmpfs: the attacker writes and
# truncates these, never the host's.
mount -t tmpfs -o size=8m,mode=0755 scarleteel-log /var/log
mount -t tmpfs -o size=8m,mode=0700 scarleteel-root /root
mount -t tmpfs -o size=8m,mode=1777 scarleteel-tmp /tmp
# The application code, where an image would put it, and the pod's own name files
# (the kubelet writes these for every pod; the host's must not show through).
mount --bind "$here/app" /srv
mount --bind "$here/etc/hosts" /etc/hosts
mount --bind "$here/etc/resolv.conf" /etc/resolv.conf
hostname web-frontend-7c9d5b8f6-xk2lp

# FAKE secrets, shaped like the real thing. Written with '>>' (the files are new on a
# fresh tmpfs): a '>' would open them with O_TRUNC, which log-clearing rules look for.
mkdir /root/.aws
printf '[default]\naws_access_key_id = AKIAFAKECASEFILE0002\naws_secret_access_key = fAkEsTaTiC/casefile/scarleteel/NOT+REAL+0002\nregion = us-east-1\n' >>/root/.aws/credentials
printf 'https://deploy-bot:ghp_FAKEcasefileSCARLETEELtokenNOTREAL0003@git.example.invalid\n' >>/root/.git-credentials
printf 'cd /srv\npython3 webapp.py\n' >>/root/.bash_history

# The web app becomes PID 1 with a container-like environment (no host variables).
cd /srv
exec env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOSTNAME=web-frontend-7c9d5b8f6-xk2lp \
    HOME=/root \
    APP_ENV=production \
    AWS_DEFAULT_REGION=us-east-1 \
    KUBERNETES_SERVICE_HOST=192.0.2.1 \
    KUBERNETES_SERVICE_PORT=443 \
    /usr/bin/python3 -B /srv/webapp.py
