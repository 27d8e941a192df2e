#!/bin/bash
# Container start-up benchmark: `isola run --rm busybox true` side by side with crun and runc running a prepared
# OCI bundle of the same root filesystem, and `podman run --rm` of the same image.  Prints medians and ratios.
#   bench/run.sh [RUNS]     (default 21)
# crun 1.8 refuses this kind of hybrid cgroup host unless /sys/fs/cgroup/unified is unmounted in a private mount
# namespace (../shared/MEASURED.md), so it runs inside `unshare -m`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Containers get the default bridge (isola0 and its firewall rules): in a network namespace of our own (lo up),
# never the machine's.
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-21}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-run.XXXXXX)
export ISOLA_ROOT=$work/root
cleanup () {
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  grep -o "$work[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh
# Runs "$@" $runs times (after 2 warm-ups) and prints the median wall time in ms.
time_ms () {
  local t0 t1 i
  for i in 1 2; do "$@" >/dev/null 2>&1 || true; done
  for i in $(seq "$runs"); do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | median | awk '{printf "%.2f", $1 / 1000}'
}

"$isola" load -q -i build/images/busybox.tar >/dev/null

# The same root filesystem as an OCI bundle for crun and runc.
bundle=$work/bundle
mkdir -p "$bundle/rootfs"
mnt=$("$isola" image mount busybox)
cp -a "$mnt"/. "$bundle/rootfs"/
"$isola" image unmount busybox >/dev/null
(cd "$bundle" && crun spec >/dev/null 2>&1 || runc spec)
jq '.process.terminal = false | .process.args = ["true"] | .root.readonly = false' "$bundle/config.json" \
  >"$bundle/config.json.new" && mv "$bundle/config.json.new" "$bundle/config.json"

declare -A result
# --network none as crun, runc and podman here: the default bridge's cost is bench/network.sh's
result[isola]=$(time_ms "$isola" run --rm --network none busybox true)
n=0
crun_once () { n=$((n + 1)); unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; crun run -b '$bundle' bench-crun-$$-$n"; }
command -v crun >/dev/null && result[crun]=$(time_ms crun_once)
# What the private mount namespace around crun costs by itself, to tell crun's own time.
wrapper_once () { unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; true"; }
wrapper=$(time_ms wrapper_once)
runc_once () { n=$((n + 1)); runc run -b "$bundle" "bench-runc-$$-$n"; }
command -v runc >/dev/null && result[runc]=$(time_ms runc_once)
if command -v podman >/dev/null; then
  conf=$work/containers.conf
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$conf"
  pod=(env CONTAINERS_CONF="$conf" podman --root "$work/podroot" --runroot "$work/podrun" --storage-driver overlay)
  "${pod[@]}" load -q -i build/images/busybox.tar >/dev/null 2>&1
  result[podman]=$(time_ms "${pod[@]}" run --rm --network none busybox true)
  "${pod[@]}" rmi -a -f >/dev/null 2>&1 || true
fi

printf '%-34s %10s %12s\n' "run --rm busybox true ($runs runs)" "median ms" "isola / it"
for k in isola crun runc podman; do
  [ -n "${result[$k]:-}" ] || continue
  printf '%-34s %10s %12s\n' "$k" "${result[$k]}" "$(echo "scale=2; ${result[isola]} / ${result[$k]}" | bc)"
done
if [ -n "${result[crun]:-}" ]; then
  net=$(echo "${result[crun]} - $wrapper" | bc)
  printf '%-34s %10s %12s\n' "crun without its unshare wrapper" "$net" "$(echo "scale=2; ${result[isola]} / $net" | bc)"
fi
echo "targets: isola <= 1.5x crun; podman / isola >= 10"
