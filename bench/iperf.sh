#!/bin/bash
# Throughput of a container's network (issue 12), iperf3 TCP, everything in a network namespace of its own:
#  - baseline: two bare network namespaces joined by a veth (this one and a second), no bridge, no firewall;
#  - host -> process container: this namespace to a container on the default bridge (veth on isola0, its rules);
#    issue 12's target: >= 90 % of the baseline; the same with --security-opt seccomp=unconfined, which tells the
#    network's share from the seccomp filter's (every recv of the server goes through it);
#  - host -> VM container: the same veth, then tc mirred to the tap and QEMU's virtio-net (TCG here: far lower);
#  - process -> VM and VM -> process: one container of each mode on the default bridge, the client in one of them.
# The baseline and the process container alternate, so that the machine's load weighs on both alike; each figure is
# the median of RUNS runs of SECONDS seconds (receiver's Gbit/s), with the CPU-seconds the client's and the
# server's iperf3 report.  The containers run the host's iperf3 (an image made here of it, its libraries and
# busybox).
#   bench/iperf.sh [RUNS] [SECONDS]     (default 3 and 5)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-3}
secs=${2:-5}
command -v iperf3 >/dev/null || { echo "bench/iperf.sh needs iperf3 (scripts/deps.sh installs it)" >&2; exit 1; }
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-iperf.XXXXXX)
export ISOLA_ROOT=$work/root
server=
cleanup () {
  # shellcheck disable=SC2046 # one ID a word
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  umount "$work/peer" 2>/dev/null || true
  grep -o "${work}[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# An image with the host's iperf3: the binary, the libraries ldd names, busybox for a shell.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/usr/bin" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp /usr/bin/iperf3 "$rootfs/usr/bin/"
for lib in $(ldd /usr/bin/iperf3 | grep -o '/[^ ]*'); do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
cp /bin/busybox "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/sh"
tar -C "$rootfs" -cf "$work/rootfs.tar" .
"$isola" import "$work/rootfs.tar" isola-bench/iperf3 >/dev/null

# gbits JSON: the receiver's Gbit/s and the CPU-seconds of both ends (their utilisation times the duration).
gbits () {
  python3 -c 'import json, sys
j = json.load(sys.stdin)
e = j["end"]
r = e["sum_received"]
c = e["cpu_utilization_percent"]
print("%.3f %.2f" % (r["bits_per_second"] / 1e9, (c["host_total"] + c["remote_total"]) / 100 * r["seconds"]))'
}
# client SERVER_IP [CMD...]: one run of iperf3's client towards SERVER_IP, from this namespace or through CMD.
client () {
  local ip=$1
  shift
  "$@" iperf3 -c "$ip" -t "$secs" -J | gbits
}
# wait_server CMD...: until an iperf3 server answers (a VM boots for seconds under TCG).
wait_server () {
  local _
  for _ in $(seq 120); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "no iperf3 server answered: $*" >&2
  exit 1
}
# shellcheck source=bench/lib.sh
. bench/lib.sh
# report LABEL FILE: "LABEL  median Gbit/s  median CPU-s" of FILE's "gbits cpu" lines.
report () {
  printf '  %-32s %7.3f Gbit/s   %5.2f CPU-s   (%s runs: %s Gbit/s)\n' "$1" "$(cut -d' ' -f1 "$2" | median)" \
    "$(cut -d' ' -f2 "$2" | median)" "$(wc -l <"$2")" "$(cut -d' ' -f1 "$2" | tr '\n' ' ' | sed 's/ $//')"
}

# The baseline's peer: a bare namespace, a veth to it.
touch "$work/peer"
unshare --net="$work/peer" true
ip link add ib0 type veth peer name eth0 netns "$work/peer"
ip addr add 10.234.0.1/24 dev ib0
ip link set ib0 up
nsenter --net="$work/peer" sh -c 'ip link set lo up; ip addr add 10.234.0.2/24 dev eth0; ip link set eth0 up'
nsenter --net="$work/peer" iperf3 -s -D --pidfile "$work/peer.pid" >/dev/null
wait_server iperf3 -c 10.234.0.2 -t 1
# the daemon writes its pid file once it runs: read after it answered
server=$(cat "$work/peer.pid")

ip_of () { "$isola" inspect -f '{{.NetworkSettings.IPAddress}}' "$1"; }
proc=$("$isola" run -d --name iperf-proc isola-bench/iperf3 iperf3 -s)
proc_ip=$(ip_of "$proc")
wait_server iperf3 -c "$proc_ip" -t 1
bare=$("$isola" run -d --name iperf-unconfined --security-opt seccomp=unconfined isola-bench/iperf3 iperf3 -s)
bare_ip=$(ip_of "$bare")
wait_server iperf3 -c "$bare_ip" -t 1

for _ in $(seq "$runs"); do
  client 10.234.0.2 >>"$work/base"
  client "$proc_ip" >>"$work/proc"
  client "$bare_ip" >>"$work/unconfined"
done
"$isola" rm -f "$bare" >/dev/null

vm=$("$isola" run -d --isolation=vm --name iperf-vm isola-bench/iperf3 iperf3 -s)
vm_ip=$(ip_of "$vm")
wait_server iperf3 -c "$vm_ip" -t 1
in_proc=("$isola" exec iperf-proc)
in_vm=("$isola" exec iperf-vm)
for _ in $(seq "$runs"); do
  client "$vm_ip" >>"$work/vm"
  client "$vm_ip" "${in_proc[@]}" >>"$work/proc2vm"
  client "$proc_ip" "${in_vm[@]}" >>"$work/vm2proc"
done

load=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'iperf3 TCP, %s s a run, median receiver Gbit/s of %s runs (load %s)\n' "$secs" "$runs" "$load"
report "two namespaces, one veth" "$work/base"
report "host -> process container" "$work/proc"
report "  the same, seccomp=unconfined" "$work/unconfined"
report "host -> VM container" "$work/vm"
report "process -> VM container" "$work/proc2vm"
report "VM -> process container" "$work/vm2proc"
b=$(cut -d' ' -f1 "$work/base" | median)
printf '  process / baseline  %.2f   (issue 12 target: >= 0.90)\n' "$(echo "$(cut -d' ' -f1 "$work/proc" | median) / $b" | bc -l)"
printf '  process (seccomp=unconfined) / baseline  %.2f\n' "$(echo "$(cut -d' ' -f1 "$work/unconfined" | median) / $b" | bc -l)"
printf '  VM / baseline       %.4f  (TCG)\n' "$(echo "$(cut -d' ' -f1 "$work/vm" | median) / $b" | bc -l)"
