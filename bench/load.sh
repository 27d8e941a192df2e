#!/bin/bash
# Image store benchmark: load time of a multi-layer image and snapshot reuse, side by side with podman load
# (overlay storage in a private root) when podman is installed.
#   bench/load.sh [RUNS]      (default 5 runs; prints medians and ratios)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench.XXXXXX)
cleanup () {
  grep -o "$work[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

layers=5 mb=8
python3 bench/mkimage.py "$work/a.tar" bench/a:latest $layers $mb a $((layers - 1))
python3 bench/mkimage.py "$work/b.tar" bench/b:latest $layers $mb b $((layers - 1))
echo "image: $layers layers x ${mb} MB of files, gzip; archive $(du -h "$work/a.tar" | cut -f1)"

now () { date +%s.%N; }
# shellcheck source=bench/lib.sh
. bench/lib.sh
snapcount () { find "$1/snapshots" -mindepth 1 -maxdepth 1 -type d | wc -l; }

cold=() warm=() podman_cold=()
for i in $(seq "$runs"); do
  root=$work/root$i
  sync; t0=$(now); "$isola" --root "$root" load -i "$work/a.tar" >/dev/null; t1=$(now)
  cold+=("$(echo "$t1 - $t0" | bc)")
  before=$(snapcount "$root")
  t0=$(now); "$isola" --root "$root" load -i "$work/b.tar" >/dev/null; t1=$(now)
  warm+=("$(echo "$t1 - $t0" | bc)")
  after=$(snapcount "$root")
  rm -rf "$root"
  if command -v podman >/dev/null; then
    p=$work/podman$i
    t0=$(now)
    podman --root "$p/root" --runroot "$p/run" --storage-driver overlay load -q -i "$work/a.tar" >/dev/null 2>&1
    t1=$(now)
    podman_cold+=("$(echo "$t1 - $t0" | bc)")
    podman --root "$p/root" --runroot "$p/run" --storage-driver overlay rmi -a -f >/dev/null 2>&1 || true
    cleanup_p=$p; grep -o "$cleanup_p[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$p"
  fi
done

m_cold=$(printf '%s\n' "${cold[@]}" | median)
m_warm=$(printf '%s\n' "${warm[@]}" | median)
printf '%-44s %8.3f s\n' "isola load (cold store)" "$m_cold"
printf '%-44s %8.3f s   (%d of %d snapshots new, %d reused)\n' "isola load of a 2nd image sharing $((layers - 1)) layers" \
  "$m_warm" $((after - before)) $layers $((layers - (after - before)))
printf '%-44s %8.2f x\n' "shared-base load / cold load" "$(echo "$m_warm / $m_cold" | bc -l)"
if [ ${#podman_cold[@]} -gt 0 ]; then
  m_p=$(printf '%s\n' "${podman_cold[@]}" | median)
  printf '%-44s %8.3f s\n' "podman load (overlay, cold store)" "$m_p"
  printf '%-44s %8.2f x\n' "isola / podman" "$(echo "$m_cold / $m_p" | bc -l)"
fi
