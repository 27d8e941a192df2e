#!/bin/bash
# OCI runtime start-up: `isola-runtime run` of a prepared busybox bundle against `crun run` and `runc run` of the same
# bundle, and podman with each runtime (`podman --runtime X run --rm --network none busybox true`).  Medians and
# ratios, in one run.  Issue 15's targets: isola-runtime <= 1.0x crun; through podman within 10% of crun.
#   bench/runtime.sh [RUNS]     (default 21)
# crun 1.8 refuses this hybrid cgroup host unless /sys/fs/cgroup/unified is unmounted in a private mount namespace
# (../shared/MEASURED.md): it runs inside `unshare -m`, whose own cost is measured and shown apart; podman with crun is
# not measured where crun refuses the host.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-21}
work=$(mktemp -d /tmp/isola-bench-runtime.XXXXXX)
export ISOLA_RUNTIME_ROOT=$work/state
# podman runs some verbs with neither --runtime-flag nor our environment: a link whose isola-runtime.json names the
# state root keeps its containers out of the machine's /run/isola-runtime (docs/RUNTIME.md).
mkdir -p "$work/bin"
ln -s "$(readlink -f build/isola-runtime)" "$work/bin/isola-runtime"
echo "{\"root\": \"$ISOLA_RUNTIME_ROOT\"}" >"$work/bin/isola-runtime.json"
rt=$work/bin/isola-runtime
pod=()
cleanup () {
  if [ ${#pod[@]} -gt 0 ]; then "${pod[@]}" rm -af -t 0 >/dev/null 2>&1 || true; fi
  # podman may mount its storage again while it removes (rm -af): unmount until nothing of $work is left
  local i
  for i in 1 2 3; do
    grep -o " $work[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    grep -q " $work" /proc/self/mountinfo || break
  done
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh
time_ms () {
  local t0 t1 i
  for i in 1 2; do "$@" >/dev/null 2>&1 || true; done
  for i in $(seq "$runs"); do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | median | awk '{printf "%.2f", $1 / 1000}'
}
# cpu_ms CMD...: the mean CPU time (user + system, ms) of a run of CMD and every process it waited for (bash's
# `times` of a subshell: its children's), which the load does not inflate as it does wall time.
cpu_ms () {
  local i
  (
    for i in $(seq "$runs"); do "$@" >/dev/null 2>&1 || true; done
    times
  ) | tail -1 | awk -v n="$runs" '{
      split($1, u, /[ms]/); split($2, s, /[ms]/)
      printf "%.1f", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * 1000 / n }'
}
ratio () { echo "scale=2; $1 / $2" | bc; }

bundle=$work/bundle
tests/integration/runtime_bundle.sh build/images/busybox.tar "$bundle"
(cd "$bundle" && "$rt" spec)
jq '.process.terminal = false | .process.args = ["true"] | .root.readonly = false' "$bundle/config.json" \
  >"$bundle/config.json.new" && mv "$bundle/config.json.new" "$bundle/config.json"

declare -A result
n=0
rt_once () { n=$((n + 1)); "$rt" run -b "$bundle" "bench-rt-$$-$n"; }
result[isola-runtime]=$(time_ms rt_once)
declare -A cpu
cpu[isola-runtime]=$(cpu_ms rt_once)
crun_once () { n=$((n + 1)); unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; crun --root '$work/crun' run -b '$bundle' bench-crun-$$-$n"; }
wrapper_once () { unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; true"; }
if command -v crun >/dev/null; then
  result[crun]=$(time_ms crun_once)
  wrapper=$(time_ms wrapper_once)
  result[crun-bare]=$(echo "${result[crun]} - $wrapper" | bc)
  cpu[crun]=$(cpu_ms crun_once)
  cpu_wrapper=$(cpu_ms wrapper_once)
  cpu[crun-bare]=$(echo "${cpu[crun]} - $cpu_wrapper" | bc)
fi
runc_once () { n=$((n + 1)); runc --root "$work/runc" run -b "$bundle" "bench-runc-$$-$n"; }
if command -v runc >/dev/null; then
  result[runc]=$(time_ms runc_once)
  cpu[runc]=$(cpu_ms runc_once)
fi

if command -v podman >/dev/null; then
  conf=$work/containers.conf
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$conf"
  pod=(env CONTAINERS_CONF="$conf" podman --root "$work/podroot" --runroot "$work/podrun" --tmpdir "$work/podtmp"
    --cgroup-manager cgroupfs --events-backend file)
  "${pod[@]}" load -q -i build/images/busybox.tar >/dev/null 2>&1
  result[podman+isola-runtime]=$(time_ms "${pod[@]}" --runtime "$rt" run --rm --network none busybox true)
  result[podman+runc]=$(time_ms "${pod[@]}" --runtime runc run --rm --network none busybox true)
  if "${pod[@]}" --runtime crun run --rm --network none busybox true >/dev/null 2>&1; then
    result[podman+crun]=$(time_ms "${pod[@]}" --runtime crun run --rm --network none busybox true)
  fi
fi

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %10s %12s %12s %12s\n' "run of a busybox bundle, true ($runs runs)" "median ms" "wall ratio" "CPU ms/run" "CPU ratio"
for k in isola-runtime crun crun-bare runc; do
  [ -n "${result[$k]:-}" ] || continue
  printf '%-40s %10s %12s %12s %12s\n' "$k" "${result[$k]}" "$(ratio "${result[isola-runtime]}" "${result[$k]}")" \
    "${cpu[$k]:-}" "$([ -n "${cpu[$k]:-}" ] && ratio "${cpu[isola-runtime]}" "${cpu[$k]}")"
done
echo "(ratios: isola-runtime / it)"
[ -n "${result[crun-bare]:-}" ] && echo "(crun-bare: crun without its unshare -m wrapper, whose cost is measured apart)"
if [ -n "${result[podman+isola-runtime]:-}" ]; then
  printf '%-40s %10s %18s\n' "podman run --rm busybox true" "median ms" "with isola-runtime / it"
  for k in podman+isola-runtime podman+crun podman+runc; do
    [ -n "${result[$k]:-}" ] || { [ "$k" = podman+crun ] && echo "podman+crun: crun refuses this host's hybrid cgroups"; continue; }
    printf '%-40s %10s %18s\n' "$k" "${result[$k]}" "$(ratio "${result[podman+isola-runtime]}" "${result[$k]}")"
  done
fi
echo "targets: isola-runtime <= 1.0x crun; podman with isola-runtime within 10% of podman with crun"
