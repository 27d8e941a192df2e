#!/bin/bash
# What the default bridge costs: `isola run --rm busybox true` with --network none and on the default bridge
# (netavark setup + teardown), median wall time, and the CPU of netavark with its iptables children per run (measured
# through a wrapper: the monitor is detached, so the CLI's rusage does not hold it), in a network namespace of its own.
#   bench/network.sh [RUNS]     (default 11)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-11}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-net.XXXXXX)
export ISOLA_ROOT=$work/root
cleanup () {
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  grep -o "$work[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$isola" load -q -i build/images/busybox.tar >/dev/null
printf '#!/bin/sh\nexec /usr/bin/time -a -o %s/netavark.cpu -f "%%U %%S" /usr/lib/podman/netavark "$@"\n' "$work" \
  >"$work/netavark"
chmod +x "$work/netavark"
export ISOLA_NETAVARK=$work/netavark

median () { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# measure NETWORK: the median wall ms of $runs runs after 2 warm-ups.
measure () {
  local i t0 t1
  for i in 1 2; do "$isola" run --rm --network "$1" busybox true >/dev/null 2>&1; done
  rm -f "$work/netavark.cpu"
  for i in $(seq "$runs"); do
    t0=$(date +%s%N); "$isola" run --rm --network "$1" busybox true >/dev/null; t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
  done | median
}
none=$(measure none)
bridge=$(measure bridge)
# setup and teardown: two netavark calls a run
cpu=$(awk '{ s += ($1 + $2) * 1000 } END { printf "%.0f", s / (NR / 2) }' "$work/netavark.cpu")
load=$(cut -d' ' -f1 /proc/loadavg)
printf 'run --rm busybox true, median wall ms of %d runs (load %s)\n' "$runs" "$load"
printf '  --network none    %6s ms\n' "$none"
printf '  --network bridge  %6s ms   (+%s ms; issue 12 target: <= 15 ms over none)\n' "$bridge" "$((bridge - none))"
printf '  netavark setup + teardown: %s ms of CPU a run (with its iptables children)\n' "$cpu"
