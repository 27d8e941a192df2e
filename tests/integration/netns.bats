#!/usr/bin/env bats
# `--network ns:PATH` (podman's form): a container joins a network namespace that someone else set up (a veth `eth0`
# with its address, MAC and routes), in both modes.  A process container's processes join it; a VM container's guest
# gets a copy of its interface (driver/vm_net.h: a tap joined to eth0 by tc mirred, behind the VM's virtio-net NIC).
#
# Every test makes its own two namespaces with `unshare --net` (bind-mounted nsfs files under its temporary
# directory): `test`, the test's side, and `ctr`, the container's, joined by a veth pair on 10.231.0.0/24 (v0 .1 in
# test, eth0 .2 in ctr).  All traffic stays between the two; nothing touches the machine's own interfaces.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() {
  container_setup
  NS=$BATS_TEST_TMPDIR/netns
  BG_PIDS=()
}
teardown() {
  local p
  for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  container_teardown
  for p in "$NS/test" "$NS/ctr"; do umount "$p" 2>/dev/null || true; done
}

# in_test CMD...: CMD in the test's namespace.
in_test() { nsenter --net="$NS/test" "$@"; }
# in_ctr CMD...: CMD in the container's namespace, from the host's side.
in_ctr() { nsenter --net="$NS/ctr" "$@"; }

# make_netns [MTU]: the two namespaces and their veth (MTU 1500 unless given).
make_netns() {
  local mtu=${1:-1500}
  mkdir -p "$NS"
  touch "$NS/test" "$NS/ctr"
  unshare --net="$NS/test" true || fail "unshare --net=$NS/test"
  unshare --net="$NS/ctr" true || fail "unshare --net=$NS/ctr"
  in_test ip link set lo up
  in_test ip link add v0 mtu "$mtu" type veth peer name eth0 mtu "$mtu" netns "$NS/ctr" || fail "veth"
  in_test ip addr add 10.231.0.1/24 dev v0
  in_test ip link set v0 up
  in_ctr ip link set lo up
  in_ctr ip addr add 10.231.0.2/24 dev eth0
  in_ctr ip link set eth0 up
  in_ctr ip route add default via 10.231.0.1
  # a route through the gateway besides the default one, which the guest must get too
  in_ctr ip route add 10.232.0.0/16 via 10.231.0.1
}

# fetch URL: wget from the test's namespace, retried while the container's server comes up.
fetch() {
  local i
  for ((i = 0; i < 60; i++)); do
    if in_test timeout 5 busybox wget -q -O - "$1" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  return 1
}

# the tap and the ingress qdiscs a VM's network left in the container's namespace (empty: none)
net_leftovers() {
  in_ctr ip -o link show "$1" 2>/dev/null | grep -o 'tap0_isola' || true
  in_ctr tc qdisc show dev eth0 ingress 2>/dev/null
}
# (for wait_until, which must run the check each time: a "$(…)" in its arguments is expanded once, before it starts)
no_net_leftovers() { [ -z "$(net_leftovers "$1")" ]; }
no_tap() { ! in_ctr ip -o link show tap0_isola >/dev/null 2>&1; }

@test "ns:PATH: a container serves a page (busybox httpd) that the namespace's peer fetches with wget" {
  make_netns
  run_detached --name web --network "ns:$NS/ctr" busybox sh -c \
    'mkdir /www && echo "served by $(hostname)" >/www/index.html && exec httpd -f -p 80 -h /www'
  run fetch http://10.231.0.2/index.html
  assert_status 0
  assert_equal "$output" "served by $(cfield web '{{.Config.Hostname}}')"
  # inspect shows the mode as podman does, and no network of isola's
  assert_equal "$(cfield web '{{.HostConfig.NetworkMode}}')" "ns:$NS/ctr"
  assert_equal "$(cfield web '{{json .NetworkSettings.Networks}}')" "{}"
}

@test "ns:PATH: a container fetches a page from an httpd of the namespace's peer" {
  make_netns
  mkdir -p "$BATS_TEST_TMPDIR/www"
  head -c 300000 /dev/urandom | base64 >"$BATS_TEST_TMPDIR/www/data.txt"
  # (nsenter execs the server: $! is its PID; fd 3 closed, or bats would wait for it)
  nsenter --net="$NS/test" busybox httpd -f -p 8080 -h "$BATS_TEST_TMPDIR/www" 3>&- &
  BG_PIDS+=($!)
  run --separate-stderr isola run --rm --network "ns:$NS/ctr" busybox sh -c \
    'for i in $(seq 60); do timeout 5 wget -q -O /tmp/d http://10.231.0.1:8080/data.txt && break; sleep 0.5; done; md5sum </tmp/d'
  assert_status 0
  assert_equal "${output%% *}" "$(md5sum <"$BATS_TEST_TMPDIR/www/data.txt" | cut -d' ' -f1)"
}

@test "ns:PATH: the container sees the namespace's interface: its MAC, MTU, address and routes" {
  make_netns 1400
  local mac
  # (not from /sys/class/net: our sysfs shows the host's interfaces)
  mac=$(in_ctr ip -o link show dev eth0 | sed -n 's|.*link/ether \([0-9a-f:]*\) .*|\1|p')
  [ -n "$mac" ] || fail "no MAC for eth0"
  run --separate-stderr isola run --rm --network "ns:$NS/ctr" busybox sh -c \
    'cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu; ip -4 -o addr show dev eth0 | awk "{print \$4}"; ip route | sort'
  assert_status 0
  assert_equal "$output" "$mac
1400
10.231.0.2/24
10.231.0.0/24 dev eth0 scope link  src 10.231.0.2 
10.232.0.0/16 via 10.231.0.1 dev eth0 
default via 10.231.0.1 dev eth0 "
}

@test "ns:PATH must name a network namespace: missing, relative, a plain file, another kind of namespace" {
  make_netns
  local p
  for p in "$NS/missing" "relative/path" "$NS" /proc/self/ns/uts; do
    run --separate-stderr isola create --network "ns:$p" busybox true
    assert_status 1
    [[ $stderr == *"ns:$p"* ]] || fail "the error does not name ns:$p: $stderr"
  done
  run --separate-stderr isola create --network "ns:$NS/test" busybox true
  assert_status 0
  assert_equal "$(isola ps -aq | wc -l)" 1
}

@test "ns:PATH in a VM: stop, rm -f, and kill -9 of the worker or the monitor leave no tap or qdisc; a restart gets the network back" {
  only_isolation vm "the host side of a VM's network"
  make_netns
  run_detached --name web --network "ns:$NS/ctr" busybox sh -c \
    'mkdir -p /www && echo up >/www/index.html && exec httpd -f -p 80 -h /www'
  run fetch http://10.231.0.2/index.html
  assert_equal "$output" up
  [ -n "$(net_leftovers tap0_isola)" ] || fail "no tap or qdisc while the VM runs"
  isola_ok stop -t 1 web
  assert_equal "$(net_leftovers tap0_isola)" ""

  # kill -9 of the worker: the container exits, its monitor cleans up
  isola_ok start web
  run fetch http://10.231.0.2/index.html
  assert_equal "$output" up
  kill -KILL "$(cfield web '{{.State.Pid}}')"
  wait_for_status web exited 30
  wait_until 10 no_net_leftovers tap0_isola

  # kill -9 of the monitor: the VM dies with it; the qdiscs stay until rm -f (or the next start replaces them)
  isola_ok start web
  run fetch http://10.231.0.2/index.html
  assert_equal "$output" up
  local mon
  mon=$(for p in $(pgrep -f "isola-monitor $ISOLA_ROOT"); do [ "$(cat "/proc/$p/comm")" != isola-monitor ] || echo "$p"; done)
  [ -n "$mon" ] || fail "no monitor"
  kill -KILL "$mon"
  wait_until 10 no_tap
  isola_ok start web
  run fetch http://10.231.0.2/index.html
  assert_equal "$output" up
  kill -KILL "$(pgrep -f "isola-monitor $ISOLA_ROOT" | head -1)"
  isola_ok rm -f web
  assert_equal "$(net_leftovers tap0_isola)" ""
}

@test "a VM without a network has its NICs down, and only lo up" {
  only_isolation vm "the NICs every VM has"
  run --separate-stderr isola run --rm busybox sh -c 'ls /sys/class/net | tr "\n" " "; cat /sys/class/net/eth*/operstate | sort -u; ip -4 addr | grep -c "inet .*eth"'
  assert_status 1
  assert_equal "$output" "eth0 eth1 eth2 eth3 lo down
0"
}

@test "a VM mirrors up to four interfaces: a namespace with five besides lo is refused at start, with nothing left behind" {
  only_isolation vm "the NICs of a VM"
  make_netns
  in_ctr ip link add eth1 type veth peer name eth2
  in_ctr ip link add eth3 type veth peer name eth4
  run --separate-stderr isola run --rm --network "ns:$NS/ctr" busybox true
  assert_status 125
  [[ $stderr == *"a VM container has 4 network interfaces (one fewer for each -v share beyond one), and its network namespace has 5 besides lo"* ]] || fail "unexpected error: $stderr"
  assert_equal "$(net_leftovers tap0_isola)" ""
  assert_equal "$(in_ctr ip -o link show | grep -c _isola)" 0
}
