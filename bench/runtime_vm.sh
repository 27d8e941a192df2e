#!/bin/bash
# isola-runtime with VM isolation (docs/RUNTIME.md): what the bundle's rootfs costs at create (it becomes an erofs
# disk: milliseconds per MB, from a busybox rootfs and the same with DATA_MB more of files), and `run` of a busybox
# bundle's `true` in a VM against the same with process isolation.  Wall-time medians and CPU-seconds of the
# runtime's processes this shell waits for (not the VM's monitor and worker, which the waiter's caller would reap),
# with the load average, in one run.
#   bench/runtime_vm.sh [RUNS] [DATA_MB]     (defaults 5 and 256)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-5}
data_mb=${2:-256}
rt=$(readlink -f build/isola-runtime)
work=$(mktemp -d /tmp/isola-bench-rtvm.XXXXXX)
export ISOLA_RUNTIME_ROOT=$work/state
cleanup() {
  local id
  for id in "$ISOLA_RUNTIME_ROOT"/*; do
    if [ -e "$id" ]; then "$rt" delete --force "${id##*/}" >/dev/null 2>&1 || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$ISOLA_RUNTIME_ROOT/.vm-store"
echo '{"vm": {"cpus": 1}}' >"$ISOLA_RUNTIME_ROOT/.vm-store/config.json"

# bundle DIR ISOLATION ARGS...: a busybox bundle running ARGS
bundle() {
  local dir=$1 mode=$2
  shift 2
  [ -d "$dir/rootfs" ] || tests/integration/runtime_bundle.sh build/images/busybox.tar "$dir" >/dev/null
  (cd "$dir" && rm -f config.json && "$rt" spec)
  local a
  a=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  jq ".process.terminal = false | .root.readonly = false | .process.args = $a
      | .annotations = {\"io.isola.isolation\": \"$mode\"}" "$dir/config.json" >"$dir/c" && mv "$dir/c" "$dir/config.json"
}

# shellcheck source=bench/lib.sh
. bench/lib.sh
cpu_s() { awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat; } # clock ticks of ours and our waited-for children
ticks=$(getconf CLK_TCK)

# measure NAME CMD...: median wall ms and CPU-s per run of CMD (each run followed by `delete` of id m)
measure() {
  local name=$1 t0 t1 c0 c1 _
  shift
  c0=$(cpu_s)
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >>"$work/$name.ms"
    "$rt" delete --force m >/dev/null 2>&1 || true
  done
  c1=$(cpu_s)
  printf '%-44s %8s ms %8.2f CPU-s\n' "$name" "$(median <"$work/$name.ms")" \
    "$(echo "($c1 - $c0) / $ticks / $runs" | bc -l)"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $runs runs each"
bundle "$work/small" vm true
bundle "$work/big" vm true
mkdir -p "$work/big/rootfs/data"
# DATA_MB of real files (a library directory's), copied until the size is reached
for f in /usr/lib/x86_64-linux-gnu/*; do
  [ "$(du -sm "$work/big/rootfs/data" | cut -f1)" -ge "$data_mb" ] && break
  cp -a "$f" "$work/big/rootfs/data/" 2>/dev/null || true
done
small_mb=$(du -sm "$work/small/rootfs" | cut -f1)
big_mb=$(du -sm "$work/big/rootfs" | cut -f1)
measure "create, vm, busybox rootfs (${small_mb} MB)" "$rt" create --bundle "$work/small" m
measure "create, vm, rootfs of ${big_mb} MB" "$rt" create --bundle "$work/big" m
s=$(median <"$work/create, vm, busybox rootfs (${small_mb} MB).ms")
b=$(median <"$work/create, vm, rootfs of ${big_mb} MB.ms")
echo "rootfs copy: $(echo "scale=2; ($b - $s) / ($big_mb - $small_mb)" | bc) ms per MB"
bundle "$work/small" process true
measure "run true, process" "$rt" run --bundle "$work/small" m
bundle "$work/small" vm true
"$rt" run --bundle "$work/small" m >/dev/null 2>&1 || true # the first start makes the VM template
"$rt" delete --force m >/dev/null 2>&1 || true
measure "run true, vm (template restored)" "$rt" run --bundle "$work/small" m
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
