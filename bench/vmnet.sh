#!/bin/bash
# `--network ns:PATH` benchmark: what a VM container's network costs and carries.
#  - start: `isola run --rm --isolation=vm busybox true` with no network (the NIC has no peer) and with ns:PATH (the
#    tap, tc's redirections, the guest's eth0 configured by the agent), medians;
#  - throughput: a 10 MB file served by busybox httpd in the container, fetched with wget from the namespace's peer,
#    for a VM container and a process container (the same veth; under TCG the VM is far slower: shown as it is).
# Everything runs in namespaces of its own (the script re-executes itself under `unshare --net`).
#   bench/vmnet.sh [RUNS]     (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ISOLA_BENCH_NETNS:-}" ]; then
  ISOLA_BENCH_NETNS=1 exec unshare --net "$0" "$@"
fi
runs=${1:-7}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-vmnet.XXXXXX)
export ISOLA_ROOT=$work/root
cleanup () {
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ -z "${httpd:-}" ] || kill "$httpd" 2>/dev/null || true
  umount "$work/ctr" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh
time_ms () {
  local t0 t1 i
  "$@" >/dev/null 2>&1 || true
  for i in $(seq "$runs"); do
    t0=$(date +%s%N); "$@" >/dev/null 2>"$work/err" || { echo "failed: $* ($(cat "$work/err"))" >&2; exit 1; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | median | awk '{printf "%.1f", $1 / 1000}'
}

"$isola" load -q -i build/images/busybox.tar >/dev/null
# Our namespace is the test's side; ctr is the container's, joined by a veth.
ip link set lo up
touch "$work/ctr"
unshare --net="$work/ctr" true
ip link add v0 type veth peer name eth0 netns "$work/ctr"
ip addr add 10.233.0.1/24 dev v0
ip link set v0 up
nsenter --net="$work/ctr" sh -c 'ip link set lo up; ip addr add 10.233.0.2/24 dev eth0; ip link set eth0 up'

none=$(time_ms "$isola" run --rm --isolation=vm busybox true)
ns=$(time_ms "$isola" run --rm --isolation=vm --network "ns:$work/ctr" busybox true)
echo "VM start, run --rm busybox true: no network ${none} ms, ns:PATH ${ns} ms (median of $runs)"

# MB/s of a 10 MB fetch from a container of the given isolation (the best of three).
throughput () {
  local id t0 t1 best=0 i mbs
  id=$("$isola" run -d --isolation="$1" --network "ns:$work/ctr" busybox sh -c \
    'mkdir /www && head -c 10485760 /dev/zero >/www/f && exec httpd -f -p 80 -h /www')
  for i in $(seq 60); do timeout 5 busybox wget -q -O /dev/null http://10.233.0.2/nope 2>&1 | grep -q 404 && break; sleep 0.5; done
  for _ in 1 2 3; do
    t0=$(date +%s%N)
    busybox wget -q -O /dev/null http://10.233.0.2/f
    t1=$(date +%s%N)
    mbs=$(awk -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", 10 / (ns / 1e9)}')
    best=$(awk -v a="$best" -v b="$mbs" 'BEGIN {print (b > a ? b : a)}')
  done
  "$isola" rm -f "$id" >/dev/null
  echo "$best"
}
echo "10 MB wget host -> container: process $(throughput process) MB/s, VM $(throughput vm) MB/s (accelerator: $("$isola" info -f '{{.VMAccelerator}}' 2>/dev/null || echo ?))"
