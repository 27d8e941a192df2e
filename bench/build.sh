#!/bin/bash
# `isola build` of a five-step Dockerfile (COPY + 3 RUN + CMD) against `buildah bud` of the same (chroot isolation,
# vfs storage, --layers: an image per step, as Docker's classic builder and isola keep them; both --no-cache), the
# rebuild where every step is cached, and the same build with --isolation=vm; median wall times side by side and
# their ratios, with the machine's load.  The builds alternate, so that the load (shared, noisy) weighs on all alike.
# In a network namespace of its own (RUN steps use no network: --network none for isola, chroot's host network
# for buildah, which is this empty namespace).
#   bench/build.sh [RUNS] [VM_RUNS]     (default 9 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-9}
vm_runs=${2:-3}
isola=$(readlink -f build/isola)
image=$(readlink -f build/images/busybox.tar)
work=$(mktemp -d /tmp/isola-bench-build.XXXXXX)
export ISOLA_ROOT=$work/root
bah=(buildah --root "$work/bah-root" --runroot "$work/bah-run" --storage-driver vfs)
cleanup () {
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  if command -v buildah >/dev/null; then
    { "${bah[@]}" rm --all; "${bah[@]}" rmi --all --force; } >/dev/null 2>&1 || true
  fi
  grep -o "${work}[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ctx=$work/ctx
mkdir -p "$ctx"
head -c 65536 /dev/urandom >"$ctx/payload"
cat >"$ctx/Dockerfile" <<'EOF'
FROM busybox
COPY payload /app/payload
RUN md5sum /app/payload >/app/sum
RUN mkdir -p /app/out && cp /bin/busybox /app/out/bb && echo built >/app/out/note
RUN rm /app/out/bb && ls -l /app >/app/listing
CMD ["cat", "/app/listing"]
EOF
"$isola" load -q -i "$image" >/dev/null

# shellcheck source=bench/lib.sh
. bench/lib.sh
# once FILE CMD...: appends the wall time of CMD in ms to FILE.
once () {
  local out=$1 t0 t1
  shift
  t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000)) >>"$out"
}
ms () { median <"$1"; }

# warm up: page cache, the first cgroups, the VM template
"$isola" build -q --network none -t warm "$ctx" >/dev/null
have_buildah=0
if command -v buildah >/dev/null; then
  have_buildah=1
  "${bah[@]}" pull -q "docker-archive:$image" >/dev/null
  "${bah[@]}" tag localhost/busybox docker.io/library/busybox:latest
  "${bah[@]}" bud --isolation chroot --layers -q -t warm "$ctx" >/dev/null 2>&1
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  once "$work/isola" "$isola" build -q --no-cache --network none -t b "$ctx"
  once "$work/cached" "$isola" build -q --network none -t b "$ctx"
  [ "$have_buildah" = 0 ] || once "$work/buildah" "${bah[@]}" bud --isolation chroot --layers --no-cache -q -t b "$ctx"
done
"$isola" build -q --isolation vm --network none -t vmwarm "$ctx" >/dev/null # the template's first boot
for _ in $(seq "$vm_runs"); do
  once "$work/vm" "$isola" build -q --no-cache --isolation vm --network none -t bv "$ctx"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

iso=$(ms "$work/isola")
cached=$(ms "$work/cached")
vm=$(ms "$work/vm")
printf 'five-step build (COPY + 3 RUN + CMD), median wall ms of %d runs (%d with vm); load %s -> %s\n' \
  "$runs" "$vm_runs" "$load_before" "$load_after"
printf '  isola build --no-cache (process)     %6d ms\n' "$iso"
if [ "$have_buildah" = 1 ]; then
  bah_ms=$(ms "$work/buildah")
  printf '  buildah bud --layers --no-cache      %6d ms   isola/buildah = %s\n' "$bah_ms" \
    "$(awk -v a="$iso" -v b="$bah_ms" 'BEGIN { printf "%.2f", a / b }')"
else
  echo "  buildah: not installed (scripts/deps.sh)"
fi
printf '  isola build, every step cached       %6d ms\n' "$cached"
printf '  isola build --no-cache --isolation=vm %5d ms   vm/process = %s\n' "$vm" \
  "$(awk -v a="$vm" -v b="$iso" 'BEGIN { printf "%.1f", a / b }')"
