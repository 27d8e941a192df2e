#!/bin/bash
# What the default bridge costs: `isola run --rm busybox true` (process containers) with --network none and on the
# default bridge (a veth made over netlink on isola0, which the first run made with its firewall rules), and podman's
# `run --rm` of the same image on its default bridge (netavark), median wall time, in a network namespace of its own.
# The none and bridge runs alternate, so that the machine's load (shared, noisy) weighs on both alike.
#   bench/network.sh [RUNS]     (default 21)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-21}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-net.XXXXXX)
export ISOLA_ROOT=$work/root
pod=()
cleanup () {
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ ${#pod[@]} -eq 0 ] || { "${pod[@]}" rm -a -f; "${pod[@]}" rmi -a -f; } >/dev/null 2>&1 || true
  grep -o "$work[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$isola" load -q -i build/images/busybox.tar >/dev/null

# shellcheck source=bench/lib.sh
. bench/lib.sh
# once FILE CMD...: appends the wall time of CMD in tenths of ms to FILE.
once () {
  local out=$1 t0 t1
  shift
  t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
  echo $(((t1 - t0) / 100000)) >>"$out"
}
ms () { median <"$1" | awk '{printf "%.1f", $1 / 10}'; }

for i in 1 2; do
  "$isola" run --rm --network none busybox true >/dev/null
  "$isola" run --rm --network bridge busybox true >/dev/null # the first one makes isola0 and its rules
done
for i in $(seq "$runs"); do
  once "$work/none" "$isola" run --rm --network none busybox true
  ISOLA_TRACE=$work/trace.$i once "$work/bridge" "$isola" run --rm --network bridge busybox true
done
none=$(ms "$work/none")
bridge=$(ms "$work/bridge")
# The bridge's own share, from the monitor's trace marks (base/util.h: trace_mark), less noisy than the difference
# of two medians on a loaded machine: attaching (lock, lease, namespace, veth) and detaching.
phase () {
  local from=$1 to=$2 f
  for f in "$work"/trace.*; do
    awk -v from="$from" -v to="$to" '$0 ~ from "$" { t0 = $1 } $0 ~ to "$" && t0 { printf "%d\n", ($1 - t0) * 1e4; exit }' "$f"
  done >"$work/phase"
  ms "$work/phase"
}
attach=$(phase "monitor: starting the container" "monitor: network attached")
detach=$(phase "network: detach" "network: detached")

podman=""
if command -v podman >/dev/null; then
  conf=$work/containers.conf
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$conf"
  # runc: podman's crun refuses this kind of hybrid cgroup host (../shared/MEASURED.md)
  pod=(env CONTAINERS_CONF="$conf" podman --root "$work/podroot" --runroot "$work/podrun" --storage-driver overlay
    --runtime runc)
  if "${pod[@]}" load -q -i build/images/busybox.tar >/dev/null 2>&1 \
    && "${pod[@]}" run --rm busybox true >/dev/null 2>&1; then
    "${pod[@]}" run --rm busybox true >/dev/null 2>&1
    # a few seconds each: at most 7 runs
    for i in $(seq "$((runs < 7 ? runs : 7))"); do once "$work/podman" "${pod[@]}" run --rm busybox true; done
    podman=$(ms "$work/podman")
  fi
fi

load=$(cut -d' ' -f1 /proc/loadavg)
printf 'run --rm busybox true, median wall ms of %d runs each (podman: at most 7; load %s)\n' "$runs" "$load"
printf '  isola --network none    %7s ms\n' "$none"
printf '  isola --network bridge  %7s ms   (+%s ms; issue 12 target: <= 15 ms over none)\n' "$bridge" \
  "$(echo "$bridge - $none" | bc)"
printf '  of which in the monitor: attach %s ms, detach %s ms (medians)\n' "$attach" "$detach"
if [ -n "$podman" ]; then
  printf '  podman (bridge)         %7s ms   (isola / podman: %s; target <= 0.25)\n' "$podman" \
    "$(echo "scale=3; $bridge / $podman" | bc)"
else
  echo "  podman: not run (not installed, or it cannot run here)"
fi
