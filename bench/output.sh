#!/bin/bash
# Container output benchmark: how fast a container's output reaches the attached client and the log, and how fast
# `logs` prints a big log.  Side by side, in the same minutes: isola in process and VM isolation, podman (with runc,
# and no network, ../shared/MEASURED.md) and runc running a bundle of the same root filesystem with its stdout
# straight to /dev/null (no relay and no log: the floor).  Prints medians in MB/s and seconds, and ratios.
#   bench/output.sh [RUNS] [MB]     (default 5 runs, 100 MB; VM isolation gets a tenth of MB under TCG)
# Targets: >= 200 MB/s in process isolation, >= 50 MB/s in VM isolation, `logs` of a 100 MB log in <= 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
# Containers get the default bridge (isola0 and its firewall rules): in a network namespace of our own (lo up),
# never the machine's.
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-5}
mb=${2:-100}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-output.XXXXXX)
export ISOLA_ROOT=$work/root
pod=()
cleanup () {
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  if [ ${#pod[@]} -gt 0 ]; then "${pod[@]}" rm -a -f >/dev/null 2>&1 || true; "${pod[@]}" rmi -a -f >/dev/null 2>&1 || true; fi
  grep -o "$work[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh
# Runs "$@" $runs times (after one warm-up) and prints the median wall time in seconds; stdout goes to /dev/null.
time_s () {
  local t0 t1 i
  "$@" >/dev/null 2>&1 || true
  for i in $(seq "$runs"); do
    t0=$(date +%s%N); "$@" >/dev/null 2>"$work/err" || { echo "failed: $* $(tail -c 300 "$work/err")" >&2; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | median | awk '{printf "%.3f", $1 / 1000000}'
}
mbps () { echo "scale=1; $1 / $2" | bc; }

# The producer: MB MiB of 31-byte lines, a 1 MiB block written MB times (busybox's own `yes` is too slow to be the
# thing measured).
producer () {
  echo "yes 'the quick brown fox 0123456789' | head -c 1048576 >/tmp/b; set --; i=0;"\
    "while [ \$i -lt $1 ]; do set -- \"\$@\" /tmp/b; i=\$((i + 1)); done; cat \"\$@\""
}
bytes=$((mb * 1048576 / 1000000))   # MB (10^6) moved, for MB/s
vm_mb=$(((mb + 9) / 10))
vm_bytes=$((vm_mb * 1048576 / 1000000))

"$isola" load -q -i build/images/busybox.tar >/dev/null

declare -A secs rate
secs[isola]=$(time_s "$isola" run --rm busybox sh -c "$(producer "$mb")")
rate[isola]=$(mbps "$bytes" "${secs[isola]}")
secs[seq]=$(time_s "$isola" run --rm busybox seq 1 2000000)
start=$(time_s "$isola" run --rm busybox true)
have_vm=
if [ -f build/vm/vmlinuz ] && [ -f build/vm/initramfs.img ]; then
  have_vm=1
  "$isola" run --rm --isolation=vm busybox true >/dev/null 2>&1 || true # makes the VM template
  secs[vm]=$(time_s "$isola" run --rm --isolation=vm busybox sh -c "$(producer "$vm_mb")")
  vm_start=$(time_s "$isola" run --rm --isolation=vm busybox true)
  rate[vm]=$(mbps "$vm_bytes" "${secs[vm]}")
  # Without the VM's start-up (restored from its template), which is not output.
  rate[vm_net]=$(awk -v b="$vm_bytes" -v t="${secs[vm]}" -v s="$vm_start" 'BEGIN {print (t > s ? sprintf("%.1f", b / (t - s)) : "-")}')
fi

# runc: the same root filesystem as a bundle, the producer's stdout inherited (/dev/null).
if command -v runc >/dev/null; then
  bundle=$work/bundle
  mkdir -p "$bundle/rootfs"
  mnt=$("$isola" image mount busybox)
  cp -a "$mnt"/. "$bundle/rootfs"/
  "$isola" image unmount busybox >/dev/null
  (cd "$bundle" && runc spec)
  jq --arg p "$(producer "$mb")" '.process.terminal = false | .process.args = ["sh", "-c", $p] | .root.readonly = false' \
    "$bundle/config.json" >"$bundle/config.json.new" && mv "$bundle/config.json.new" "$bundle/config.json"
  n=0
  runc_once () { n=$((n + 1)); runc run -b "$bundle" "bench-output-$$-$n"; }
  secs[runc]=$(time_s runc_once)
  rate[runc]=$(mbps "$bytes" "${secs[runc]}")
fi

if command -v podman >/dev/null; then
  printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n' >"$work/containers.conf"
  pod=(env CONTAINERS_CONF="$work/containers.conf" podman --root "$work/podroot" --runroot "$work/podrun"
    --storage-driver overlay)
  "${pod[@]}" load -q -i build/images/busybox.tar >/dev/null 2>&1
  podrun=("${pod[@]}" run --rm --network none --runtime runc --log-driver k8s-file busybox)
  secs[podman]=$(time_s "${podrun[@]}" sh -c "$(producer "$mb")")
  rate[podman]=$(mbps "$bytes" "${secs[podman]}")
  secs[podman_seq]=$(time_s "${podrun[@]}" seq 1 2000000)
else
  echo "podman is not installed: no podman column"
fi

# logs: a container whose ctr.log is over 100 MB (31-byte lines are ~100-byte records).
log_mb=$((mb * 35 / 100 > 35 ? mb * 35 / 100 : 35))
"$isola" run --name biglog busybox sh -c "$(producer "$log_mb")" >/dev/null
logsize=$(stat -c %s "$ISOLA_ROOT/containers/$("$isola" inspect -f '{{.Id}}' biglog)/ctr.log")
secs[logs]=$(time_s "$isola" logs biglog)
secs[logs_tail]=$(time_s "$isola" logs --tail 10 biglog)
if [ ${#pod[@]} -gt 0 ]; then
  "${pod[@]}" run --name biglog --network none --runtime runc --log-driver k8s-file busybox sh -c "$(producer "$log_mb")" >/dev/null 2>&1
  secs[podman_logs]=$(time_s "${pod[@]}" logs biglog)
fi

echo "output of run --rm ($runs runs, medians; MB = 10^6 bytes)"
printf '%-44s %9s %9s %12s\n' "" "seconds" "MB/s" "isola / it"
row () { printf '%-44s %9s %9s %12s\n' "$1" "$2" "$3" "$4"; }
row "isola, process ($mb MiB of 31-byte lines)" "${secs[isola]}" "${rate[isola]}" ""
[ -n "${rate[podman]:-}" ] && row "podman --runtime runc" "${secs[podman]}" "${rate[podman]}" \
  "$(echo "scale=2; ${rate[isola]} / ${rate[podman]}" | bc)"
[ -n "${rate[runc]:-}" ] && row "runc, stdout to /dev/null (no relay, no log)" "${secs[runc]}" "${rate[runc]}" \
  "$(echo "scale=2; ${rate[isola]} / ${rate[runc]}" | bc)"
row "isola, process: run --rm busybox true" "$start" "" ""
if [ -n "$have_vm" ]; then
  row "isola, vm ($vm_mb MiB)" "${secs[vm]}" "${rate[vm]}" ""
  row "isola, vm, less its start-up (${vm_start} s)" "" "${rate[vm_net]}" ""
fi
echo
printf '%-44s %9s %12s\n' "seq 1 2000000 (14.9 MB, 2M lines)" "seconds" "it / isola"
printf '%-44s %9s %12s\n' "isola, process" "${secs[seq]}" ""
[ -n "${secs[podman_seq]:-}" ] && printf '%-44s %9s %12s\n' "podman --runtime runc" "${secs[podman_seq]}" \
  "$(echo "scale=2; ${secs[podman_seq]} / ${secs[seq]}" | bc)"
echo
printf '%-44s %9s %12s\n' "logs of a $((logsize / 1000000)) MB ctr.log" "seconds" "it / isola"
printf '%-44s %9s %12s\n' "isola logs" "${secs[logs]}" ""
printf '%-44s %9s %12s\n' "isola logs --tail 10" "${secs[logs_tail]}" ""
[ -n "${secs[podman_logs]:-}" ] && printf '%-44s %9s %12s\n' "podman logs (the same output)" "${secs[podman_logs]}" \
  "$(echo "scale=2; ${secs[podman_logs]} / ${secs[logs]}" | bc)"
echo "targets: process >= 200 MB/s, vm >= 50 MB/s, logs of 100 MB <= 1 s"
