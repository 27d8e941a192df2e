#!/bin/bash
# Pull benchmark: a 5 x 8 MB layer image from Debian's docker-registry on 127.0.0.1 (a temp storage dir, a free
# port), isola pull into a fresh root against `podman pull` into a fresh podman root (--root/--runroot temp dirs);
# then the re-pull of the image isola has: one manifest request, nothing published (issue 13's target: <= 50 ms),
# measured 5 times a run, with its CPU time (user+sys of isola and isola-registry); the cold pulls with their CPU
# time too (user+sys of the command and all it waited for), the steadier figure on a loaded machine.
#   bench/pull.sh [RUNS]      (default 5 runs; prints medians and the ratio)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-pull.XXXXXX)
regpid=
cleanup () {
  [ -z "$regpid" ] || { kill "$regpid" 2>/dev/null; wait "$regpid" 2>/dev/null || true; }
  grep -o "$work[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<CFG
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
CFG
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done

layers=5 mb=8
python3 bench/mkimage.py "$work/a.tar" bench/a:latest $layers $mb a $((layers - 1))
ref=127.0.0.1:$port/bench/a:latest
skopeo copy -q --dest-tls-verify=false oci-archive:"$work/a.tar" "docker://$ref"
echo "image: $layers layers x ${mb} MB of files, gzip, in docker-registry at 127.0.0.1:$port; load: $(cut -d' ' -f1-3 /proc/loadavg)"

now () { date +%s.%N; }
# shellcheck source=bench/lib.sh
. bench/lib.sh

# user+sys of a command and all it waited for (bash's times, in the subshell that ran it)
cpu_of_times () {
  tail -1 | awk 'function s(x, a) { split(x, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] } { print s($1) + s($2) }'
}

cold=() cold_cpu=() again=() again_cpu=() podman_cold=() podman_cpu=()
for i in $(seq "$runs"); do
  root=$work/root$i
  sync; t0=$(now); cpu=$( ("$isola" --root "$root" pull -q "$ref" >/dev/null; times) | cpu_of_times); t1=$(now)
  cold+=("$(echo "$t1 - $t0" | bc)") cold_cpu+=("$cpu")
  for _ in 1 2 3 4 5; do
    t0=$(now); "$isola" --root "$root" pull -q "$ref" >/dev/null; t1=$(now)
    again+=("$(echo "$t1 - $t0" | bc)")
  done
  # CPU time of 10 more (bash's times: user and sys of the children, finer than time(1)'s 10 ms)
  again_cpu+=("$( (for _ in $(seq 10); do "$isola" --root "$root" pull -q "$ref" >/dev/null; done; times) | tail -1 |
    awk 'function s(x, a) { split(x, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] } { print (s($1) + s($2)) / 10 }')")
  rm -rf "$root"
  if command -v podman >/dev/null; then
    p=$work/podman$i
    sync; t0=$(now)
    cpu=$( (podman --root "$p/root" --runroot "$p/run" --storage-driver overlay pull -q --tls-verify=false "$ref" \
      >/dev/null 2>&1; times) | cpu_of_times)
    t1=$(now)
    podman_cold+=("$(echo "$t1 - $t0" | bc)") podman_cpu+=("$cpu")
    podman --root "$p/root" --runroot "$p/run" --storage-driver overlay rmi -a -f >/dev/null 2>&1 || true
    grep -o "$p[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$p"
  fi
done

m_cold=$(printf '%s\n' "${cold[@]}" | median)
m_again=$(printf '%s\n' "${again[@]}" | median)
printf '%-44s %8.3f s (CPU %.3f s)\n' "isola pull (fresh root)" "$m_cold" "$(printf '%s\n' "${cold_cpu[@]}" | median)"
printf '%-44s %8.3f s (CPU %.3f s; target <= 0.050 s)\n' "isola pull of the image it has (up to date)" "$m_again" \
  "$(printf '%s\n' "${again_cpu[@]}" | median)"
if [ ${#podman_cold[@]} -gt 0 ]; then
  m_p=$(printf '%s\n' "${podman_cold[@]}" | median)
  printf '%-44s %8.3f s (CPU %.3f s)\n' "podman pull (overlay, fresh root)" "$m_p" \
    "$(printf '%s\n' "${podman_cpu[@]}" | median)"
  printf '%-44s %8.2f x\n' "isola / podman" "$(echo "$m_cold / $m_p" | bc -l)"
fi
