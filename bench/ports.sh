#!/bin/bash
# What publishing a port costs (network/ports.h): `isola run --rm busybox true` on the default bridge without and
# with -p (host port reserved, iptables-restore of the rules at start, iptables-save + restore at the end), median
# wall time; and the throughput of a busybox httpd's 256 MiB file fetched with curl from this host: directly from
# the container's address, through the published port on the bridge's address (DNAT) and on 127.0.0.1 (DNAT +
# route_localnet + MASQUERADE, where Docker has its userland proxy).  In a network namespace of its own.
#   bench/ports.sh [RUNS] [ISOLATION]     (default 7, process)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-7}
isolation=${2:-process}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-ports.XXXXXX)
export ISOLA_ROOT=$work/root
cleanup() {
  # shellcheck disable=SC2046
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  grep -o "$work[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$isola" load -q -i build/images/busybox.tar >/dev/null

# shellcheck source=bench/lib.sh
. bench/lib.sh
# measure ARGS...: the median wall ms of $runs runs of `run --rm ARGS busybox true` after a warm-up.
measure() {
  local i t0 t1
  "$isola" run --rm --isolation "$isolation" "$@" busybox true >/dev/null
  for i in $(seq "$runs"); do
    t0=$(date +%s%N)
    "$isola" run --rm --isolation "$isolation" "$@" busybox true >/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
  done | median
}
plain=$(measure)
one=$(measure -p 18080:80)
four=$(measure -p 18080:80 -p 18081:81 -p 18082:82 -p 18083:83)
printf 'run --rm busybox true on the default bridge (%s), median wall ms of %d runs (load %s)\n' "$isolation" "$runs" \
  "$(cut -d' ' -f1 /proc/loadavg)"
printf '  no -p        %6s ms\n' "$plain"
printf '  -p x1        %6s ms  (+%s)\n' "$one" "$((one - plain))"
printf '  -p x4        %6s ms  (+%s)\n' "$four" "$((four - plain))"

"$isola" run -d --name web --isolation "$isolation" -p 18090:80 busybox sh -c \
  'mkdir /w && dd if=/dev/zero of=/w/big bs=1M count=256 2>/dev/null && exec httpd -f -p 80 -h /w' >/dev/null
ip=$("$isola" inspect -f '{{.NetworkSettings.IPAddress}}' web)
gw=$("$isola" inspect -f '{{.NetworkSettings.Gateway}}' web)
for _ in $(seq 600); do curl -sf -o /dev/null -r 0-0 "http://$ip/big" && break; sleep 0.1; done
# rate URL: the best MB/s of 3 fetches of the whole file
rate() {
  for _ in 1 2 3; do curl -sf -o /dev/null -w '%{speed_download}\n' "$1"; done |
    awk '{ if ($1 > m) m = $1 } END { printf "%.0f", m / 1e6 }'
}
printf 'httpd, 256 MiB with curl, best of 3 (MB/s):\n'
printf '  container address  %6s\n' "$(rate "http://$ip/big")"
printf '  gateway:published  %6s\n' "$(rate "http://$gw:18090/big")"
printf '  127.0.0.1:published %5s\n' "$(rate "http://127.0.0.1:18090/big")"
