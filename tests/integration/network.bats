#!/usr/bin/env bats
# Networks (issue 12): `isola network create|ls|inspect|rm|prune`, the default bridge of process containers
# (a veth on isola0 in a persistent network namespace per container), user networks with aardvark-dns,
# --network none|host|NAME, teardown on rm, stop and after a killed monitor or worker, leases of parallel runs.  VM
# containers are on the same networks (their guest's NIC mirrors the veth of their namespace: driver/vm_net.h), and a
# process container and a VM container on one network reach each other by name; VMs refuse --network host and
# container:ID both ways.
#
# Traffic: every test runs in a network namespace of its own making sure (scripts/run-tests.sh runs each bats file in
# `unshare --net` with lo up); setup_file refuses to run in the machine's own namespace.  Nothing is sent but between
# this namespace and its containers.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}
# Docker's default network (bridge) in every root, not the suite's none (helpers.bash: setup_root)
export ISOLA_TEST_DEFAULT_NETWORK=bridge

setup_file() {
  if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
    echo "network.bats makes bridges and firewall rules: run it in a network namespace of its own" \
      "(scripts/run-tests.sh does; or: unshare --net sh -c 'ip link set lo up; exec bats ...')" >&2
    return 1
  fi
  container_setup_file
}
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() {
  # a listener a test started to hold a port (not a container: container_teardown does not know it)
  [ -z "${LISTENER_PID:-}" ] || kill "$LISTENER_PID" 2>/dev/null || true
  container_teardown
}

# live_bridges: the bridge devices of the store's networks and the comments ("isola DEVICE") of their firewall
# rules, one a line: a network's bridge and rules are made once, by its first container, and stay until `network rm`;
# the default bridge's (isola0) for good, as Docker's docker0, whichever test's store made it in this namespace.
live_bridges() {
  { echo isola0; cat "$ISOLA_ROOT"/networks/*.json 2>/dev/null | jq -r '.IsolaBridge // empty'; } | sort -u
}

# net_leftovers: what a container on a network could leave in this namespace and the store: links but lo, firewall
# rules naming an address or made by isola, leases, network namespace files, attachments; bridges and rules of the
# networks that exist are not leftovers.  Empty when all is gone.
net_leftovers() {
  local live
  live=$(live_bridges)
  ip -o link show 2>/dev/null | awk -F': ' '$2 != "lo" { sub(/@.*/, "", $2); print $2 }' | grep -vxF -- "$live" |
    sed 's/^/link /'
  iptables-save 2>/dev/null | grep -E -- '-[sd] [0-9]+\.[0-9]+\.|--comment "?isola ' |
    grep -vF -- "$(sed 's/.*/"isola &"/' <<<"$live")" | sed 's/^/firewall /'
  find "$ISOLA_ROOT/networks/leases" -type f 2>/dev/null | sed 's/^/lease /'
  find "$ISOLA_ROOT/containers" -maxdepth 2 \( -name netns -o -name network.json \) 2>/dev/null | sed 's/^/file /'
  grep -F "$ISOLA_ROOT" /proc/self/mountinfo | awk '{ print "mount " $5 }'
  find "$ISOLA_ROOT/networks/dns" -type f ! -name aardvark.pid 2>/dev/null | sed 's/^/dns /'
  # aardvark-dns runs while a network has names (a stopped one may stay a zombie of whoever adopted it)
  local pid
  pid=$(cat "$ISOLA_ROOT/networks/dns/aardvark.pid" 2>/dev/null) || true
  [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != aardvark-dns ] ||
    [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "aardvark-dns $pid"
}

no_net_leftovers() { [ -z "$(net_leftovers)" ]; }

# A container's veth goes with its network namespace, which the kernel destroys in the background once unmounted:
# waited for, a few seconds at most.
assert_no_net_leftovers() {
  wait_until 10 no_net_leftovers >/dev/null || fail "left behind: $(net_leftovers)"
}

# monitor_of CONTAINER: the PID of its monitor (the parent of its first process).
monitor_of() {
  local pid
  pid=$(cfield "$1" '{{.State.Pid}}')
  awk '/^PPid:/ { print $2 }' "/proc/$pid/status"
}

# ---- network commands (mode-independent: process pass only) -------------------------------------------------------

@test "network ls: bridge, host and none exist without being created" {
  only_isolation process "the network commands do not depend on the isolation mode"
  run --separate-stderr isola network ls
  assert_status 0
  assert_output_matches '^NETWORK ID +NAME +DRIVER +SCOPE
[0-9a-f]{12} +bridge +bridge +local
[0-9a-f]{12} +host +host +local
[0-9a-f]{12} +none +null +local$'
  run --separate-stderr isola network inspect -f '{{.Name}} {{json .IPAM.Config}} {{json .Options}}' bridge
  assert_status 0
  assert_output_matches '^bridge \[\{"Subnet":"[0-9.]+/[0-9]+","Gateway":"[0-9.]+"\}\] .*"com.docker.network.bridge.name":"isola0"'
  # the same records on every call: the default is made once
  local a b
  a=$(isola network ls -q --no-trunc)
  b=$(isola network ls -q --no-trunc)
  assert_equal "$a" "$b"
}

@test "config.json's network.default: the network of a container that names none; a bad value is refused" {
  echo '{"network": {"default": "none"}}' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola create busybox true
  assert_status 0
  assert_equal "$(isola inspect -f '{{.HostConfig.NetworkMode}}' "$output")" none
  run --separate-stderr isola create --network bridge busybox true
  assert_status 0
  assert_equal "$(isola inspect -f '{{.HostConfig.NetworkMode}}' "$output")" bridge
  echo '{"network": {"default": "container:x"}}' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola create busybox true
  assert_status 1
  assert_stderr_matches 'network.default must name a network'
  echo '{"network": {"default": "no-such-net"}}' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola create busybox true
  assert_status 1
  assert_stderr_matches 'no-such-net'
  rm "$ISOLA_ROOT/config.json"
  run --separate-stderr isola create busybox true
  assert_status 0
  assert_equal "$(isola inspect -f '{{.HostConfig.NetworkMode}}' "$output")" bridge
}

@test "network create, ls (-q, --filter), inspect, rm" {
  only_isolation process "the network commands do not depend on the isolation mode"
  run --separate-stderr isola network create --subnet 10.77.0.0/24 --gateway 10.77.0.254 --ip-range 10.77.0.128/25 \
    --label team=a --label bare --internal n1
  assert_status 0
  [[ $output =~ ^[0-9a-f]{64}$ ]] || fail "create printed '$output'"
  local id=$output
  isola_ok network create n2
  run --separate-stderr isola network inspect -f '{{.Id}} {{.Driver}} {{.Internal}} {{json .IPAM.Config}} {{json .Labels}} {{json .Containers}}' n1
  assert_status 0
  assert_equal "$output" "$id bridge true [{\"Subnet\":\"10.77.0.0/24\",\"IPRange\":\"10.77.0.128/25\",\"Gateway\":\"10.77.0.254\"}] {\"team\":\"a\",\"bare\":\"\"} {}"
  # a subnet of Docker's pools that no other network (nor a route) has
  run --separate-stderr isola network inspect -f '{{json .IPAM.Config}}' n2 bridge
  assert_status 0
  assert_equal "$output" '[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]
[{"Subnet":"172.17.0.0/16","Gateway":"172.17.0.1"}]'
  run --separate-stderr isola network ls --format '{{.Name}}' --filter type=custom
  assert_equal "$output" "n1
n2"
  run --separate-stderr isola network ls -q --filter label=team=a
  assert_equal "$output" "${id:0:12}"
  run --separate-stderr isola network ls --format '{{.Name}}' --filter name=n --filter driver=bridge
  assert_equal "$output" "n1
n2"
  # the docker CLI's listing fields (strings) and table templates with their headers
  run --separate-stderr isola network ls --filter type=custom --format 'table {{.Name}}\t{{.Labels}}\t{{.Internal}}\t{{.IPv6}}'
  assert_status 0
  # (the docker CLI joins the labels in Go's map order: random)
  [[ $(tr -s ' ' <<<"$output") =~ ^"NAME LABELS INTERNAL IPV6"$'\n'"n1 "(bare=,team=a|team=a,bare=)" true false"$'\n'"n2 false false"$ ]] \
    || fail "table: $output"
  run --separate-stderr isola network ls --filter name=n1 --format '{{.CreatedAt}}'
  [[ $output =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9:]{8}(\.[0-9]+)?\ \+0000\ UTC$ ]] || fail "CreatedAt: $output"
  # by ID prefix too, as Docker
  run --separate-stderr isola network rm "${id:0:10}" n2
  assert_status 0
  assert_equal "$output" "${id:0:10}
n2"
  run --separate-stderr isola network ls --format '{{.Name}}'
  assert_equal "$output" "bridge
host
none"
}

@test "network create and rm refuse clashes, overlaps and malformed values, making nothing" {
  only_isolation process "the network commands do not depend on the isolation mode"
  isola_ok network create --subnet 10.78.0.0/16 a
  local before
  before=$(ls "$ISOLA_ROOT/networks")
  run --separate-stderr isola network create a
  assert_status 1
  assert_equal "$stderr" "Error: network with name a already exists"
  run --separate-stderr isola network create --subnet 10.78.5.0/24 b
  assert_status 1
  assert_equal "$stderr" "Error: Pool overlaps with other one on this address space"
  run --separate-stderr isola network create --subnet 10.79.0.0/33 b
  assert_status 1
  assert_equal "$stderr" "Error: invalid CIDR address: 10.79.0.0/33"
  run --separate-stderr isola network create --subnet 10.79.0.0/16 --gateway 10.80.0.1 b
  assert_status 1
  assert_equal "$stderr" "Error: no matching subnet for gateway 10.80.0.1"
  run --separate-stderr isola network create --gateway 10.80.0.1 b
  assert_status 1
  assert_equal "$stderr" "Error: --gateway requires --subnet"
  run --separate-stderr isola network create --driver macvlan b
  assert_status 1
  assert_output_contains ""
  [[ $stderr == *'plugin "macvlan" not found'* ]] || fail "stderr: $stderr"
  run --separate-stderr isola network create 'bad/name'
  assert_status 1
  # a route of this namespace: a subnet over it is refused
  ip link add isolatest0 type bridge
  ip addr add 10.81.0.1/24 dev isolatest0
  ip link set isolatest0 up
  run --separate-stderr isola network create --subnet 10.81.0.0/16 b
  ip link del isolatest0
  assert_status 1
  [[ $stderr == *"overlaps the host's route to 10.81.0.0/24 (dev isolatest0)"* ]] || fail "stderr: $stderr"
  assert_equal "$(ls "$ISOLA_ROOT/networks")" "$before"
  run --separate-stderr isola network rm bridge
  assert_status 1
  assert_equal "$stderr" "Error: bridge is a pre-defined network and cannot be removed"
  run --separate-stderr isola network rm nosuch
  assert_status 1
  assert_equal "$stderr" "Error: No such network: nosuch"
}

@test "network rm of a network in use is refused; prune removes only unused user networks" {
  isola_ok network create used
  isola_ok network create unused
  run_detached --network used busybox sleep 600
  run --separate-stderr isola network rm used
  assert_status 1
  [[ $stderr == "Error: error while removing network: network used id "*" has active endpoints" ]] || fail "stderr: $stderr"
  run --separate-stderr isola network inspect -f '{{json .Containers}}' used
  assert_status 0
  assert_equal "$(jq -r "to_entries[] | .key + \" \" + .value.IPv4Address" <<<"$output")" "$CID 172.18.0.2/16"
  run --separate-stderr isola network prune -f
  assert_status 0
  assert_equal "$output" "Deleted Networks:
unused"
  isola_ok rm -f "$CID"
  isola_ok network rm used
  assert_no_net_leftovers
}

@test "a network's bridge and firewall rules: made by its first container, kept, removed by network rm" {
  only_isolation process "made and removed by the network layer, whatever the mode"
  isola_ok network create --subnet 10.96.0.0/24 outer
  isola_ok network create --internal --subnet 10.97.0.0/24 inner
  local dev_outer dev_inner tag_outer tag_inner
  dev_outer=$(jq -r .IsolaBridge "$ISOLA_ROOT/networks/$(isola network inspect -f '{{.Id}}' outer).json")
  dev_inner=$(jq -r .IsolaBridge "$ISOLA_ROOT/networks/$(isola network inspect -f '{{.Id}}' inner).json")
  tag_outer="\"isola $dev_outer\""
  tag_inner="\"isola $dev_inner\""
  # nothing before a container needs it
  ! ip link show "$dev_outer" 2>/dev/null || fail "$dev_outer made by network create"
  isola_ok run --rm --network outer busybox true
  isola_ok run --rm --network inner busybox true
  # kept after the container: the bridge with the gateway, forwarding on, the rules
  run ip -o -4 addr show "$dev_outer"
  assert_output_contains "inet 10.96.0.1/24"
  assert_equal "$(cat /proc/sys/net/ipv4/ip_forward)" 1
  run sh -c "iptables-save | grep -F '$tag_outer'"
  assert_output_contains "-A POSTROUTING -s 10.96.0.0/24 ! -d 10.96.0.0/24"
  assert_output_contains "MASQUERADE"
  assert_output_contains "-A FORWARD -i $dev_outer"
  # --internal: no way out, so no masquerade, and forwarding to other devices dropped
  run sh -c "iptables-save | grep -F '$tag_inner'"
  [[ $output != *MASQUERADE* ]] || fail "an internal network masquerades: $output"
  assert_output_contains "-A FORWARD -i $dev_inner ! -o $dev_inner"
  assert_output_contains "-j DROP"
  # a second container finds them made: no rule twice
  isola_ok run --rm --network outer busybox true
  assert_equal "$(iptables-save | grep -cF -- "$tag_outer")" 3
  isola_ok network rm outer inner
  ! ip link show "$dev_outer" 2>/dev/null || fail "$dev_outer left"
  ! ip link show "$dev_inner" 2>/dev/null || fail "$dev_inner left"
  [ -z "$(iptables-save | grep -F -e "$tag_outer" -e "$tag_inner")" ] || fail "rules left: $(iptables-save | grep isola)"
  assert_no_net_leftovers
}

# ---- containers on networks ----------------------------------------------------------------------------------------

@test "the default bridge: an address, Docker's NetworkSettings and /etc/hosts, httpd reached from the host" {
  run_detached --name web busybox sh -c 'echo served > /www; exec httpd -f -p 80 -h /'
  local ip gw
  ip=$(cfield web '{{.NetworkSettings.IPAddress}}')
  gw=$(cfield web '{{.NetworkSettings.Gateway}}')
  [[ $ip == 172.17.0.* ]] || fail "IPAddress '$ip'"
  assert_equal "$gw" 172.17.0.1
  run --separate-stderr isola inspect -f '{{.HostConfig.NetworkMode}} {{.NetworkSettings.IPPrefixLen}} {{.NetworkSettings.Networks.bridge.IPAddress}} {{.NetworkSettings.MacAddress}}' web
  assert_output_matches "^bridge 16 $ip ([0-9a-f]{2}:){5}[0-9a-f]{2}$"
  local mac
  mac=$(cfield web '{{.NetworkSettings.MacAddress}}')
  run --separate-stderr isola exec web sh -c 'ip -o -4 addr show eth0; cat /sys/class/net/eth0/address; ip route; tail -1 /etc/hosts'
  assert_status 0
  assert_output_contains "inet $ip/16"
  assert_output_contains "$mac"
  assert_output_contains "default via 172.17.0.1 dev eth0"
  assert_output_contains "$ip	${CID:0:12}"
  wait_until 10 wget -q -O /dev/null "http://$ip/www"
  run wget -q -O - "http://$ip/www"
  assert_status 0
  assert_equal "$output" served
  isola_ok rm -f web
  assert_no_net_leftovers
}

@test "--mac-address: eth0 has it (a VM's guest too), inspect shows it; a malformed or multicast one is refused" {
  run_detached --name macbox --mac-address 92:D0:c6:0a:29:33 busybox sleep 600
  assert_equal "$(cfield macbox '{{.Config.MacAddress}}')" 92:D0:c6:0a:29:33
  assert_equal "$(cfield macbox '{{.NetworkSettings.MacAddress}} {{.NetworkSettings.Networks.bridge.MacAddress}}')" \
    "92:d0:c6:0a:29:33 92:d0:c6:0a:29:33"
  run --separate-stderr isola exec macbox cat /sys/class/net/eth0/address
  assert_status 0
  assert_equal "$output" 92:d0:c6:0a:29:33
  local bad
  for bad in zz 92:d0:c6:0a:29 01:00:5e:00:00:01; do
    run --separate-stderr isola run --rm --mac-address "$bad" busybox true
    assert_status 125
    assert_equal "$stderr" "Error: $bad is not a valid unicast mac address"
  done
  isola_ok rm -f macbox
  assert_no_net_leftovers
}

@test "--ip and --network-alias: a user network's address and names, inspect; taken, outside, on no network: refused" {
  isola_ok network create --subnet 10.98.0.0/24 ipnet
  run_detached --network ipnet --ip 10.98.0.50 --network-alias web --network-alias www --name ipbox busybox \
    sh -c 'echo aliased > /www; exec httpd -f -p 80 -h /'
  assert_equal "$(cfield ipbox '{{.NetworkSettings.Networks.ipnet.IPAddress}}')" 10.98.0.50
  assert_equal "$(cfield ipbox '{{json .NetworkSettings.Networks.ipnet.IPAMConfig}}')" '{"IPv4Address":"10.98.0.50"}'
  assert_equal "$(cfield ipbox '{{json .NetworkSettings.Networks.ipnet.Aliases}}')" '["web","www"]'
  run --separate-stderr isola exec ipbox ip -o -4 addr show eth0
  assert_output_contains "inet 10.98.0.50/24"
  # another container finds it by each alias
  # shellcheck disable=SC2016 # expanded in the container
  run --separate-stderr isola run --rm --network ipnet busybox sh -c 'for n in web www; do ok=
    for i in $(seq 50); do wget -q -O - "http://$n/www" && { ok=1; break; }; sleep 0.2; done
    [ -n "$ok" ] || exit 1; done'
  assert_status 0
  assert_equal "$output" "aliased
aliased"
  # taken, outside the subnet, malformed
  run --separate-stderr isola run --rm --network ipnet --ip 10.98.0.50 busybox true
  assert_status 125
  [[ $stderr == *"Address already in use: 10.98.0.50 on network ipnet"* ]] || fail "stderr: $stderr"
  run --separate-stderr isola run --rm --network ipnet --ip 10.97.0.5 busybox true
  assert_status 125
  [[ $stderr == *"no available IPv4 address 10.97.0.5 on network ipnet"* ]] || fail "stderr: $stderr"
  run --separate-stderr isola run --rm --network ipnet --ip 10.98.0.300 busybox true
  assert_status 125
  assert_equal "$stderr" "Error: invalid IPv4 address: 10.98.0.300"
  # on the default bridge as Docker 20.10 (an alias there answers nothing: no names on it); on no network, refused
  run --separate-stderr isola run --rm --ip 172.17.0.50 --network-alias x busybox ip -o -4 addr show eth0
  assert_status 0
  assert_output_contains "inet 172.17.0.50/16"
  run --separate-stderr isola run --rm --network none --ip 172.17.0.50 busybox true
  assert_status 125
  assert_equal "$stderr" "Error: user specified IP address is supported on user defined networks only"
  run --separate-stderr isola run --rm --network none --network-alias x busybox true
  assert_status 125
  assert_equal "$stderr" "Error: network-scoped alias is supported only for containers in user defined networks"
  isola_ok rm -f ipbox
  isola_ok network rm ipnet
  assert_no_net_leftovers
}

@test "--network none and host: loopback only, or this namespace's interfaces" {
  # none: lo up and nothing else up (a VM's NIC, eth0, stays down without a network)
  run --separate-stderr isola run --rm --network none busybox sh -c 'ip -o link show up | cut -d: -f2'
  assert_status 0
  assert_equal "$output" " lo"
  if [ "$TEST_ISOLATION" = process ]; then
    ip link add isolatest1 type bridge
    # (isola0, the default bridge, when an earlier test of this namespace made it)
    run --separate-stderr isola run --rm --network host busybox sh -c 'ls /sys/class/net | grep -vx isola0'
    ip link del isolatest1
    assert_status 0
    assert_equal "$output" "isolatest1
lo"
  fi
  run --separate-stderr isola run --rm --network nosuch busybox true
  assert_status 125
  assert_equal "$stderr" "Error: network nosuch not found"
  run --separate-stderr isola run --rm --network 'container:x' busybox true
  assert_status 125
  assert_equal "$stderr" "Error: No such container: x"
  assert_no_net_leftovers
}

@test "--network container:NAME shares a running container's network namespace" {
  only_isolation process "a VM cannot share a network namespace (the VM test below)"
  run_detached --name web busybox sh -c 'echo shared > /www; exec httpd -f -p 8080 -h /'
  local ip
  ip=$(cfield web '{{.NetworkSettings.IPAddress}}')
  run --separate-stderr isola run --rm --network container:web busybox sh -c \
    'ip -o -4 addr show eth0; for i in $(seq 50); do wget -q -O - http://127.0.0.1:8080/www && exit 0; sleep 0.2; done; exit 1'
  assert_status 0
  assert_output_contains "inet $ip/16"
  assert_output_contains shared
  run_detached --name lonely --network none busybox sleep 600
  run --separate-stderr isola run --rm --network container:lonely busybox ls /sys/class/net
  assert_status 0
  assert_equal "$output" lo
  isola_ok stop -t 0 lonely
  run --separate-stderr isola run --rm --network container:lonely busybox true
  assert_status 125
  [[ $stderr == "Error: failed to start container "*": cannot join network of a non running container: lonely" ]] ||
    fail "stderr: $stderr"
  isola_ok rm -f web lonely
  assert_no_net_leftovers
}

# dns_answers SERVER NAME: "yes" when the DNS server answers an A query for NAME with an address (one try).
dns_answers() {
  python3 - "$1" "$2" <<'PY'
import random, socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
tid = random.randint(0, 65535)
q = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(q, (server, 53))
d = s.recv(512)
ok = struct.unpack(">H", d[:2])[0] == tid and d[3] & 15 == 0 and struct.unpack(">H", d[6:8])[0] > 0
print("yes" if ok else "no (rcode %d)" % (d[3] & 15))
PY
}

@test "a user network: containers find each other by name (aardvark-dns), the default bridge does not" {
  isola_ok network create --subnet 10.90.0.0/24 appnet
  run_detached --network appnet --name srv busybox sh -c 'echo by-name > /www; exec httpd -f -p 80 -h /'
  assert_equal "$(cfield srv '{{.NetworkSettings.Networks.appnet.IPAddress}}')" 10.90.0.2
  # Docker leaves the top-level fields to the default bridge
  assert_equal "$(cfield srv '{{.NetworkSettings.IPAddress}}')" ""
  run --separate-stderr isola run --rm --network appnet busybox sh -c \
    'cat /etc/resolv.conf; for i in $(seq 50); do wget -q -O - http://srv/www && exit 0; sleep 0.2; done; exit 1'
  assert_status 0
  assert_output_contains "nameserver 10.90.0.1"
  assert_output_contains "by-name"
  # a name is answered once `run -d` returns, as Docker's DNS knows it before the container runs (aardvark-dns
  # reloads some time after its SIGHUP: the start waits for it); asked from here at once, five times
  local n
  for n in 1 2 3 4 5; do
    run_detached --network appnet --name "quick$n" busybox sleep 600
    run dns_answers 10.90.0.1 "quick$n"
    assert_equal "$output" "yes"
    isola_ok rm -f "quick$n"
  done
  run_detached --name plain busybox sleep 600
  run --separate-stderr isola exec plain sh -c 'nslookup plain 2>&1; wget -q -T 2 -O - http://srv/www'
  [ "$status" -ne 0 ] || fail "the default bridge resolved a name: $output"
  isola_ok rm -f srv plain
  isola_ok network rm appnet
  assert_no_net_leftovers
}

@test "stop and start: the network goes with the run and comes back" {
  run_detached --name web busybox sh -c 'echo again > /www; exec httpd -f -p 80 -h /'
  isola_ok stop -t 1 web
  assert_equal "$(cfield web '{{.NetworkSettings.IPAddress}}')" ""
  assert_no_net_leftovers
  isola_ok start web
  local ip
  ip=$(cfield web '{{.NetworkSettings.IPAddress}}')
  [[ $ip == 172.17.0.* ]] || fail "IPAddress after start '$ip'"
  wait_until 10 wget -q -O /dev/null "http://$ip/www"
  # one line names the container: this run's address
  run --separate-stderr isola exec web grep "	${CID:0:12}\$" /etc/hosts
  assert_equal "$output" "$ip	${CID:0:12}"
  isola_ok rm -f web
  assert_no_net_leftovers
}

# addresses_but_lo CONTAINER: the IPv4 addresses of its interfaces other than lo, one a line ("" on no network).
addresses_but_lo() {
  isola exec "$1" sh -c 'ip -4 -o addr show | grep -v " lo " | awk "{ print \$4 }"'
}

@test "network connect and disconnect of a stopped container: its next run is there; inspect, names, restart; one started on no network connected while it runs" {
  isola_ok network create --subnet 10.92.0.0/24 cn
  isola_ok create --name mover busybox sleep 600
  local cid=$output
  isola_ok network disconnect bridge mover
  assert_equal "$(cfield mover '{{json .NetworkSettings.Networks}}')" "{}"
  # on no network: loopback only (a VM's NICs are there, down), in a namespace of its own (Docker's sandbox), which
  # a network connected while it runs joins (dockerd 20.10 lets it: compat net-connect-none-running)
  isola_ok start mover
  assert_equal "$(addresses_but_lo mover)" ""
  [ -e "$ISOLA_ROOT/containers/$cid/netns" ] || fail "a disconnected container got no network namespace"
  isola_ok network connect cn mover
  assert_equal "$(addresses_but_lo mover)" "10.92.0.2/24"
  assert_equal "$(isola exec mover sh -c "ip route | grep ^default")" "default via 10.92.0.1 dev eth0 "
  isola_ok network disconnect cn mover
  assert_equal "$(addresses_but_lo mover)" ""
  isola_ok stop -t 1 mover
  isola_ok network connect --alias mv --ip 10.92.0.9 cn mover
  assert_equal "$(cfield mover '{{json .NetworkSettings.Networks.cn.Aliases}} {{json .NetworkSettings.Networks.cn.IPAMConfig}}')" \
    "[\"mv\",\"${cid:0:12}\"] {\"IPv4Address\":\"10.92.0.9\"}"
  isola_ok start mover
  assert_equal "$(addresses_but_lo mover)" "10.92.0.9/24"
  assert_equal "$(cfield mover '{{.NetworkSettings.Networks.cn.IPAddress}}')" 10.92.0.9
  assert_equal "$(isola network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}' cn)" "mover 10.92.0.9/24"
  # aardvark-dns answers its name and the alias
  run --separate-stderr isola run --rm --isolation process --network cn busybox sh -c \
    'for i in $(seq 50); do ping -c1 -W2 mv >/dev/null && ping -c1 -W2 mover >/dev/null && exit 0; sleep 0.2; done; exit 1'
  assert_status 0
  # a restart keeps the network it was connected to
  isola_ok restart -t 1 mover
  assert_equal "$(addresses_but_lo mover)" "10.92.0.9/24"
  isola_ok stop -t 1 mover
  isola_ok network disconnect cn mover
  assert_equal "$(cfield mover '{{json .NetworkSettings.Networks}}')" "{}"
  isola_ok network rm cn
  isola_ok rm -f mover
  assert_no_net_leftovers
}

# network_names CONTAINER: the networks inspect shows it on, sorted, on one line.
network_names() {
  isola inspect -f '{{json .NetworkSettings.Networks}}' "$1" | jq -r 'keys | join(" ")'
}

@test "network connect and disconnect refused with Docker's errors; a second network recorded" {
  only_isolation process "the records do not depend on the isolation mode"
  isola_ok network create --subnet 10.93.0.0/24 cm
  isola_ok create --name one busybox true
  isola_ok network connect cm one
  assert_equal "$(network_names one)" "bridge cm"
  isola_ok network disconnect cm one
  assert_equal "$(network_names one)" "bridge"
  run --separate-stderr isola network disconnect cm one
  assert_status 1
  [[ $stderr == "Error: container "*" is not connected to the network cm" ]] || fail "stderr: $stderr"
  run --separate-stderr isola network connect cm nosuch
  assert_status 1
  assert_equal "$stderr" "Error: No such container: nosuch"
  run --separate-stderr isola network connect --ip 10.93.0.300 cm one
  assert_status 1
  isola_ok create --name lonely --network none busybox true
  run --separate-stderr isola network connect cm lonely
  assert_status 1
  assert_equal "$stderr" "Error: container cannot be connected to multiple networks with one of the networks in private (none) mode"
  isola_ok create --name hosted --network host busybox true
  run --separate-stderr isola network connect cm hosted
  assert_equal "$stderr" "Error: container cannot be disconnected from host network or connected to host network"
  # connecting to the network it is on again changes its settings (Docker's)
  isola_ok network connect --alias again bridge one
  assert_equal "$(cfield one '{{json .NetworkSettings.Networks.bridge.Aliases}}')" '["again"]'
  isola_ok rm -f one lonely hosted
  isola_ok network rm cm
}

@test "20 concurrent renames and connects of one stopped container: every change is in its record" {
  only_isolation process "the records do not depend on the isolation mode"
  local i pids=() cid
  for i in $(seq 10); do isola_ok network create "cc$i"; done
  isola_ok create --name c0 busybox true
  cid=$output
  # each rewrites config.json whole: under one lock, none loses another's change (rename took the store's lock,
  # connect the networks' and read the record before it)
  for i in $(seq 10); do
    (isola rename "$cid" "c$i" >"$BATS_TEST_TMPDIR/r$i.out" 2>&1; echo $? >"$BATS_TEST_TMPDIR/r$i.rc") &
    pids+=($!)
    (isola network connect "cc$i" "$cid" >"$BATS_TEST_TMPDIR/n$i.out" 2>&1; echo $? >"$BATS_TEST_TMPDIR/n$i.rc") &
    pids+=($!)
  done
  wait "${pids[@]}"
  for i in $(seq 10); do
    assert_equal "$(cat "$BATS_TEST_TMPDIR/r$i.rc") $(cat "$BATS_TEST_TMPDIR/r$i.out")" "0 "
    assert_equal "$(cat "$BATS_TEST_TMPDIR/n$i.rc") $(cat "$BATS_TEST_TMPDIR/n$i.out")" "0 "
  done
  assert_equal "$(network_names "$cid")" "bridge $(printf 'cc%s\n' $(seq 10) | LC_ALL=C sort | paste -sd' ')"
  local name
  name=$(cfield "$cid" '{{.Name}}')
  [[ $name =~ ^/c([1-9]|10)$ ]] || fail "name: $name"
  assert_equal "$(cat "$ISOLA_ROOT/containers/$cid/name")" "${name#/}"
  assert_equal "$(isola ps -a --no-trunc --format '{{.ID}} {{.Names}}')" "$cid ${name#/}"
  # the names it had on the way are free again, its own is taken
  isola_ok create --name c0 busybox true
  run --separate-stderr isola create --name "${name#/}" busybox true
  assert_stderr_matches 'is already in use'
  isola_ok rm -f c0 "$cid"
  for i in $(seq 10); do isola_ok network rm "cc$i"; done
}

# interfaces_of CONTAINER: "NAME ADDRESS/PREFIX" of each interface but lo, one a line, sorted.
interfaces_of() {
  isola exec "$1" sh -c 'ip -4 -o addr show | grep -v " lo " | awk "{ print \$2, \$4 }" | sort'
}

# address_of CONTAINER NAME: the address NAME resolves to in the container (waits for aardvark-dns to learn it).
address_of() {
  # shellcheck disable=SC2016 # expanded in the container
  isola exec "$1" sh -c 'for i in $(seq 100); do ping -c1 -W2 "$0" 2>/dev/null | sed -n "s/^PING [^ ]* (\([0-9.]*\)).*/\1/p" | grep . && exit 0; sleep 0.2; done; exit 1' "$2"
}

# unresolved CONTAINER NAME: the name no longer resolves in the container.
unresolved() {
  isola exec "$1" ping -c1 -W2 "$2" 2>&1 | grep -q "bad address"
}

# leftovers_of ID: what a container's run could leave in this namespace and the store: its veths, leases, names.
leftovers_of() {
  ip -o link show 2>/dev/null | grep -F "veth${1:0:9}" | sed 's/^/link /'
  grep -rlx -- "$1" "$ISOLA_ROOT/networks/leases" 2>/dev/null | sed 's/^/lease /'
  grep -rl -- "^$1 " "$ISOLA_ROOT/networks/dns" 2>/dev/null | sed 's/^/dns /'
  find "$ISOLA_ROOT/containers/$1" -maxdepth 1 \( -name netns -o -name network.json \) 2>/dev/null | sed 's/^/file /'
}
no_leftovers_of() { [ -z "$(leftovers_of "$1")" ]; }

@test "network connect of a running process container: eth1 on the second network, names on both, inspect; disconnect; restart keeps both" {
  only_isolation process "three containers and restarts; a running VM container's changes: the VM test below"
  isola_ok network create --subnet 10.96.0.0/24 first
  isola_ok network create --subnet 10.97.0.0/24 second
  run_detached --network first --name multi busybox sleep 600
  local cid=$CID
  run_detached --network first --name onfirst busybox sleep 600
  run_detached --network second --name onsecond busybox sleep 600
  isola_ok network connect --alias two second multi
  assert_equal "$(interfaces_of multi)" "eth0 10.96.0.2/24
eth1 10.97.0.3/24"
  # the first network keeps the default route
  assert_equal "$(isola exec multi sh -c "ip route | grep ^default")" "default via 10.96.0.1 dev eth0 "
  # names on both networks, both ways; the alias on the second
  assert_equal "$(address_of multi onfirst)" 10.96.0.3
  assert_equal "$(address_of multi onsecond)" 10.97.0.2
  assert_equal "$(address_of onsecond multi)" 10.97.0.3
  assert_equal "$(address_of onsecond two)" 10.97.0.3
  assert_equal "$(address_of onfirst multi)" 10.96.0.2
  # and traffic over the second interface
  isola_ok exec onsecond ping -c1 -W5 10.97.0.3
  assert_equal "$(isola inspect -f '{{json .NetworkSettings.Networks}}' multi | jq -r 'to_entries[] | "\(.key) \(.value.IPAddress)/\(.value.IPPrefixLen) \(.value.Gateway) \(.value.MacAddress) \((.value.Aliases // []) | join(","))"')" \
    "first 10.96.0.2/24 10.96.0.1 02:42:0a:60:00:02 
second 10.97.0.3/24 10.97.0.1 02:42:0a:61:00:03 two,${cid:0:12}"
  assert_equal "$(isola network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}};{{end}}' second | tr ';' '\n' | sort | tr '\n' ';')" \
    ";multi 10.97.0.3/24;onsecond 10.97.0.2/24;"
  run --separate-stderr isola network connect second multi
  assert_status 1
  assert_equal "$stderr" "Error: endpoint with name multi already exists in network second"
  # in use by its second interface: network rm refused (onsecond stopped first, so only multi holds it)
  isola_ok stop -t 1 onsecond
  run --separate-stderr isola network rm second
  assert_status 1
  [[ $stderr == *"has active endpoints"* ]] || fail "stderr: $stderr"
  isola_ok start onsecond
  # a restart keeps both
  isola_ok restart -t 1 multi
  assert_equal "$(interfaces_of multi)" "eth0 10.96.0.2/24
eth1 10.97.0.3/24"
  assert_equal "$(address_of onsecond two)" 10.97.0.3
  # disconnect of the first network: its interface, address and names go; the second takes the default route
  isola_ok network disconnect first multi
  assert_equal "$(interfaces_of multi)" "eth1 10.97.0.3/24"
  assert_equal "$(isola exec multi sh -c "ip route | grep ^default")" "default via 10.97.0.1 dev eth1 "
  assert_equal "$(network_names multi)" "second"
  assert_equal "$(isola network inspect -f '{{range .Containers}}{{.Name}}{{end}}' first)" onfirst
  wait_until 30 unresolved onfirst multi
  assert_equal "$(address_of onsecond multi)" 10.97.0.3
  # connected again: the first free interface name
  isola_ok network connect first multi
  assert_equal "$(interfaces_of multi)" "eth0 10.96.0.2/24
eth1 10.97.0.3/24"
  assert_equal "$(address_of onfirst multi)" 10.96.0.2
  isola_ok rm -f multi
  wait_until 10 no_leftovers_of "$cid" || fail "left behind: $(leftovers_of "$cid")"
  wait_until 30 unresolved onsecond multi
  isola_ok rm -f onfirst onsecond
  isola_ok network rm first second
  assert_no_net_leftovers
}

# restarted_once CONTAINER: its restart policy has restarted it and it runs.
restarted_once() {
  [ "$(cfield "$1" '{{.RestartCount}} {{.State.Status}}')" = "1 running" ]
}

@test "a restart by the restart policy keeps a network connected while the container ran" {
  isola_ok network create --subnet 10.103.0.0/24 rp
  run_detached --restart always --name policy busybox sleep 600
  isola_ok network connect rp policy
  local pid
  pid=$(cfield policy '{{.State.Pid}}')
  kill_container_pid "$pid"
  wait_until 60 restarted_once policy || fail "not restarted: $(cfield policy '{{.RestartCount}} {{.State.Status}}')"
  assert_equal "$(interfaces_of policy | grep eth1)" "eth1 10.103.0.2/24"
  isola_ok rm -f policy
  isola_ok network rm rp
  assert_no_net_leftovers
}

@test "kill -9 of the monitor of a container on two networks: the first ps tears both down" {
  isola_ok network create --subnet 10.99.0.0/24 k1
  isola_ok network create --subnet 10.100.0.0/24 k2
  isola_ok create --network k1 --name two-nets busybox sleep 600
  local cid pid mon
  cid=$(cfield two-nets '{{.Id}}')
  CONTAINER_IDS+=("$cid")
  isola_ok network connect k2 two-nets
  isola_ok start two-nets
  assert_equal "$(ls "$ISOLA_ROOT/networks/dns" | grep -c '^k[12]$')" 2
  pid=$(cfield two-nets '{{.State.Pid}}')
  track_pid "$pid"
  mon=$(monitor_of two-nets)
  [ -n "$mon" ] || fail "no monitor"
  kill -KILL "$mon"
  kill_container_pid "$pid"
  [ -n "$(leftovers_of "$cid")" ] || fail "nothing to tear down: the test would prove nothing"
  isola_ok ps -a
  wait_until 10 no_leftovers_of "$cid" || fail "left behind: $(leftovers_of "$cid")"
  isola_ok rm -f two-nets
  isola_ok network rm k1 k2
  assert_no_net_leftovers
}

@test "POST /networks/ID/connect and /disconnect, and /networks/create with IPv6, through isola serve" {
  only_isolation process "the API calls the library's connect and disconnect, which the CLI tests cover in both modes"
  isola_ok network create --subnet 10.94.0.0/24 ca
  isola_ok create --name api busybox true
  local sock=$BATS_TEST_TMPDIR/api.sock
  "$ISOLA" serve -H "unix://$sock" >"$BATS_TEST_TMPDIR/serve.log" 2>&1 &
  LISTENER_PID=$!
  wait_until 30 curl -sf --unix-socket "$sock" http://isola/_ping
  api() { curl -s --unix-socket "$sock" -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' -H 'Content-Type: application/json' -X POST -d "$2" "http://isola/v1.41$1"; }
  assert_equal "$(api /networks/bridge/disconnect '{"Container": "api"}')" 200
  assert_equal "$(api /networks/ca/connect '{"Container": "api", "EndpointConfig": {"Aliases": ["a1"]}}')" 200
  assert_equal "$(cfield api '{{json .NetworkSettings.Networks.ca.Aliases}}')" "[\"a1\",\"$(cfield api '{{slice .Id 0 12}}')\"]"
  assert_equal "$(api /networks/bridge/disconnect '{"Container": "api"}')" 404
  assert_equal "$(api /networks/ca/connect '{"Container": "nosuch"}')" 404
  assert_equal "$(api /networks/ca/disconnect '{"Container": "api", "Force": true}')" 200
  assert_equal "$(cfield api '{{json .NetworkSettings.Networks}}')" "{}"
  # a running container: connected and disconnected at once
  run_detached --name apirun busybox sleep 600
  assert_equal "$(api /networks/ca/connect '{"Container": "apirun", "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.94.0.7"}}}')" 200
  assert_equal "$(isola exec apirun ip -o -4 addr show eth1 | awk '{ print $4 }')" 10.94.0.7/24
  assert_equal "$(network_names apirun)" "bridge ca"
  # stats counts each interface
  assert_equal "$(curl -s --unix-socket "$sock" 'http://isola/v1.41/containers/apirun/stats?stream=false' | jq -c '.networks | keys')" '["eth0","eth1"]'
  assert_equal "$(api /networks/ca/connect '{"Container": "apirun"}')" 403
  assert_equal "$(jq -r .message "$BATS_TEST_TMPDIR/body")" "endpoint with name apirun already exists in network ca"
  assert_equal "$(api /networks/ca/disconnect '{"Container": "apirun"}')" 200
  assert_equal "$(isola exec apirun sh -c 'ls /sys/class/net | sort | tr "\n" " "')" "eth0 lo "
  isola_ok rm -f apirun
  # POST /networks/create with EnableIPv6 and an IPv6 subnet beside the IPv4 one
  assert_equal "$(api /networks/create '{"Name": "api6", "EnableIPv6": true, "IPAM": {"Config": [{"Subnet": "10.98.0.0/24"}, {"Subnet": "fd00:98::/64"}]}}')" 201
  assert_equal "$(isola network inspect -f '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}' api6)" \
    "true 10.98.0.0/24 10.98.0.1 fd00:98::/64 fd00:98::1 "
  isola_ok network rm api6
  kill "$LISTENER_PID"
  wait "$LISTENER_PID" || true
  LISTENER_PID=
  isola_ok rm -f api
  isola_ok network rm ca
}

@test "--ipv6: an IPv6 subnet beside the IPv4 one; addresses, routes (a VM's guest too), inspect, AAAA names, from the host" {
  isola_ok network create --ipv6 --subnet fd00:95::/64 --subnet 10.95.0.0/24 six
  assert_equal "$(isola network inspect -f '{{.EnableIPv6}} {{json .IPAM.Config}}' six)" \
    'true [{"Subnet":"10.95.0.0/24","Gateway":"10.95.0.1"},{"Subnet":"fd00:95::/64","Gateway":"fd00:95::1"}]'
  run_detached --network six --name web6 busybox sh -c 'echo over-six > /www; exec httpd -f -p 80 -h /'
  assert_equal "$(cfield web6 '{{with .NetworkSettings.Networks.six}}{{.GlobalIPv6Address}} {{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}} {{.IPAddress}}{{end}}')" \
    "fd00:95::2 64 fd00:95::1 10.95.0.2"
  assert_equal "$(isola network inspect -f '{{range .Containers}}{{.IPv6Address}}{{end}}' six)" "fd00:95::2/64"
  # from this host, over the bridge's IPv6 address
  wait_until 30 wget -q -T 2 -O /dev/null 'http://[fd00:95::2]/www'
  run wget -q -T 5 -O - 'http://[fd00:95::2]/www'
  assert_equal "$output" over-six
  # a second container: its address and default route; the first's name answers AAAA (aardvark-dns)
  run --separate-stderr isola run --rm --network six busybox sh -c \
    'ip -6 -o addr show eth0 scope global | awk "{ print \$4 }"; ip -6 route show default | cut -d" " -f1-3;
     for i in $(seq 50); do ping -6 -c1 -W2 web6 >/dev/null && exit 0; sleep 0.2; done; exit 1'
  assert_status 0
  assert_equal "$output" "fd00:95::3/64
default via fd00:95::1"
  # refused: --ipv6 without an IPv6 subnet, an IPv6 subnet without --ipv6, an overlapping one; nothing made
  run --separate-stderr isola network create --ipv6 seven
  assert_status 1
  assert_equal "$stderr" "Error: --ipv6 needs an IPv6 --subnet (a unique local one such as fd00:1::/64): isola has no pool of IPv6 subnets"
  run --separate-stderr isola network create --subnet fd00:96::/64 seven
  assert_status 1
  run --separate-stderr isola network create --ipv6 --subnet fd00:95:0:0:1::/80 seven
  assert_status 1
  assert_equal "$stderr" "Error: Pool overlaps with other one on this address space"
  run --separate-stderr isola network ls -q --filter name=seven
  assert_equal "$output" ""
  isola_ok rm -f web6
  isola_ok network rm six
  assert_no_net_leftovers
}

@test "kill -9 of the monitor: rm -f tears the network down" {
  isola_ok network create --subnet 10.91.0.0/24 k9
  run_detached --network k9 --name victim busybox sleep 600
  local mon pid
  pid=$(cfield victim '{{.State.Pid}}')
  track_pid "$pid"
  mon=$(monitor_of victim)
  [ -n "$mon" ] || fail "no monitor"
  kill -KILL "$mon"
  kill_container_pid "$pid"
  [ -n "$(net_leftovers)" ] || fail "nothing to tear down: the test would prove nothing"
  isola_ok rm -f victim
  isola_ok network rm k9
  assert_no_net_leftovers
}

@test "20 parallel runs on one network get 20 distinct addresses, and leave nothing" {
  only_isolation process "the leases do not depend on the mode, and 20 VMs under TCG cost minutes"
  isola_ok network create --subnet 10.92.0.0/24 par
  local i pids=()
  for i in $(seq 20); do
    isola run -d --network par busybox sleep 600 >"$BATS_TEST_TMPDIR/id.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "a run failed: $(cat "$BATS_TEST_TMPDIR"/id.*)"; done
  local ids addrs
  ids=$(cat "$BATS_TEST_TMPDIR"/id.*)
  # shellcheck disable=SC2086
  addrs=$(isola inspect -f '{{.NetworkSettings.Networks.par.IPAddress}}' $ids | sort -u)
  assert_equal "$(grep -c '^10\.92\.0\.[0-9]*$' <<<"$addrs")" 20
  # what the containers see is what was recorded
  local first
  first=$(head -1 <<<"$ids")
  run --separate-stderr isola exec "$first" ip -o -4 addr show eth0
  assert_output_contains "inet $(cfield "$first" '{{.NetworkSettings.Networks.par.IPAddress}}')/24"
  # shellcheck disable=SC2086
  isola_ok rm -f $ids
  isola_ok network rm par
  assert_no_net_leftovers
}

# ---- published ports (network/ports.h) ------------------------------------------------------------------------------

# rules_of ID: the firewall rules tagged with the container's ID.
rules_of() { iptables-save | grep -F "isola:$1" || true; }

# port_bound PORT: something listens on TCP PORT in this namespace.
port_bound() { ss -Hltn "sport = :$1" | grep -q .; }
port_free() { ! port_bound "$1"; }

@test "-p: busybox httpd published on 127.0.0.1 and the bridge's address; port, ps, inspect; rm -f removes its rules" {
  run_detached --name web -p 18080:80 -p 127.0.0.1::81 busybox sh -c 'echo published > /www; exec httpd -f -p 80 -h /'
  local cid=$CID
  # from this host: its loopback (DNAT in OUTPUT, route_localnet + MASQUERADE) and the bridge's gateway address
  wait_until 60 wget -q -T 2 -O /dev/null http://127.0.0.1:18080/www
  run wget -q -T 5 -O - http://127.0.0.1:18080/www
  assert_status 0
  assert_equal "$output" published
  run wget -q -T 5 -O - http://172.17.0.1:18080/www
  assert_status 0
  assert_equal "$output" published
  # the free port chosen for 81 is a port, and held: nothing else can bind it
  local p81
  p81=$(isola port web 81)
  p81=${p81#127.0.0.1:}
  [[ $p81 =~ ^[0-9]+$ ]] && [ "$p81" -gt 0 ] || fail "HostPort of 81/tcp: '$p81'"
  run python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', $p81))"
  [ "$status" -ne 0 ] || fail "port $p81 was not held"
  run --separate-stderr isola port web
  assert_status 0
  assert_equal "$output" "80/tcp -> 0.0.0.0:18080
81/tcp -> 127.0.0.1:$p81"
  run --separate-stderr isola port web 80/tcp
  assert_equal "$output" "0.0.0.0:18080"
  run --separate-stderr isola port web 8080
  assert_status 1
  assert_equal "$stderr" "Error: No public port '8080/tcp' published for web"
  run --separate-stderr isola ps --format '{{.Names}} {{.Ports}}'
  assert_equal "$output" "web 0.0.0.0:18080->80/tcp, 127.0.0.1:$p81->81/tcp"
  assert_equal "$(cfield web '{{json .HostConfig.PortBindings}}')" '{"80/tcp":[{"HostIp":"","HostPort":"18080"}],"81/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}'
  assert_equal "$(cfield web '{{json .NetworkSettings.Ports}}')" "{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"18080\"}],\"81/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"$p81\"}]}"
  # a second container cannot have a port the first holds, and leaves nothing
  run --separate-stderr isola run --rm --name second -p 18080:80 busybox true
  assert_status 125
  [[ $stderr == *"Bind for 0.0.0.0:18080 failed: port is already allocated" ]] || fail "stderr: $stderr"
  [ -n "$(rules_of "$cid")" ] || fail "no rule tagged isola:$cid"
  isola_ok rm -f web
  assert_equal "$(rules_of "$cid")" ""
  assert_no_net_leftovers
  # never started: no ports
  isola_ok create --name later -p 18081:80 busybox true
  assert_equal "$(isola port later)" ""
  assert_equal "$(cfield later '{{json .NetworkSettings.Ports}}')" "{}"
}

@test "-p stays with the default route: the first network disconnected while the container runs, its ports forward to the next one's address" {
  isola_ok network create --subnet 10.106.0.0/24 heir
  run_detached --name movable -p 18083:80 -p 127.0.0.1::81 busybox sh -c 'echo moved > /www; exec httpd -f -p 80 -h /'
  local cid=$CID p81
  wait_until 60 wget -q -T 2 -O /dev/null http://127.0.0.1:18083/www
  p81=$(isola port movable 81)
  isola_ok network connect heir movable
  isola_ok network disconnect bridge movable
  # as dockerd 20.10 (compat net-publish-disconnect): port and inspect still show them, and they forward
  assert_equal "$(isola port movable)" "80/tcp -> 0.0.0.0:18083
81/tcp -> $p81"
  assert_equal "$(cfield movable '{{json .NetworkSettings.Ports}}')" "{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"18083\"}],\"81/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"${p81#127.0.0.1:}\"}]}"
  wait_until 60 wget -q -T 2 -O /dev/null http://127.0.0.1:18083/www
  run wget -q -T 5 -O - http://127.0.0.1:18083/www
  assert_status 0
  assert_equal "$output" moved
  [ -z "$(rules_of "$cid" | grep -F 172.17.)" ] || fail "rules towards the old address: $(rules_of "$cid")"
  rules_of "$cid" | grep -q -- "--to-destination 10.106.0.2:80" || fail "no rule towards the new address: $(rules_of "$cid")"
  isola_ok rm -f movable
  assert_equal "$(rules_of "$cid")" ""
  isola_ok network rm heir
  assert_no_net_leftovers
}

@test "-P publishes every exposed port (--expose, ranges) on a free port each; a host range gives its first free port" {
  run_detached --name allp -P --expose 90-91 --expose 53/udp -p 18090-18092:100 busybox sh -c 'echo all > /www; exec httpd -f -p 90 -h /'
  run --separate-stderr isola port allp
  assert_status 0
  assert_output_matches '^53/udp -> 0\.0\.0\.0:[0-9]+
90/tcp -> 0\.0\.0\.0:[0-9]+
91/tcp -> 0\.0\.0\.0:[0-9]+
100/tcp -> 0\.0\.0\.0:18090$'
  local p90
  p90=$(isola port allp 90)
  p90=${p90##*:}
  wait_until 60 wget -q -T 2 -O /dev/null "http://127.0.0.1:$p90/www"
  run wget -q -T 5 -O - "http://127.0.0.1:$p90/www"
  assert_equal "$output" all
  # the range's next free port for the next container
  run_detached --name allq -p 18090-18092:100 busybox sleep 600
  assert_equal "$(isola port allq 100)" "0.0.0.0:18091"
  isola_ok rm -f allp allq
  assert_no_net_leftovers
}

@test "a host port held by another program: run refused with a clear error, nothing left" {
  python3 -c 'import socket, time
s = socket.socket(); s.bind(("0.0.0.0", 18100)); s.listen(); time.sleep(600)' &
  LISTENER_PID=$!
  wait_until 30 port_bound 18100
  run --separate-stderr isola run -d --name blocked -p 18100:80 busybox sleep 600
  assert_status 125
  [[ $stderr == *"Bind for 0.0.0.0:18100 failed: port is already allocated" ]] || fail "stderr: $stderr"
  assert_equal "$(cfield blocked '{{.State.Status}}')" created
  assert_no_net_leftovers
  # the port free again: the same container starts
  kill "$LISTENER_PID"
  wait "$LISTENER_PID" || true
  LISTENER_PID=
  isola_ok start blocked
  assert_equal "$(isola port blocked 80)" "0.0.0.0:18100"
  isola_ok rm -f blocked
  assert_no_net_leftovers
}

@test "kill -9 of the monitor of a container with published ports: rm -f removes its rules" {
  run_detached --name pk -p 18110:80 -p 18111:81/udp busybox sleep 600
  local cid=$CID mon pid
  pid=$(cfield pk '{{.State.Pid}}')
  track_pid "$pid"
  mon=$(monitor_of pk)
  [ -n "$mon" ] || fail "no monitor"
  [ "$(rules_of "$cid" | wc -l)" -ge 8 ] || fail "rules: $(rules_of "$cid")"
  kill -KILL "$mon"
  kill_container_pid "$pid"
  [ -n "$(rules_of "$cid")" ] || fail "nothing to tear down: the test would prove nothing"
  isola_ok rm -f pk
  assert_equal "$(rules_of "$cid")" ""
  assert_no_net_leftovers
}

@test "kill -9 of the monitor: the first ps, port or inspect that notices removes its ports' rules and its network" {
  local cmd
  for cmd in ps port inspect; do
    run_detached --name pk -p 18112:80 busybox sleep 600
    local cid=$CID mon pid
    pid=$(cfield pk '{{.State.Pid}}')
    track_pid "$pid"
    mon=$(monitor_of pk)
    [ -n "$mon" ] || fail "no monitor"
    kill -KILL "$mon"
    kill_container_pid "$pid"
    # the port is no longer held (the monitor held it), but its rules would still send it to the container
    wait_until 30 port_free 18112
    [ -n "$(rules_of "$cid")" ] || fail "nothing to tear down: the test would prove nothing"
    case $cmd in
    ps) run --separate-stderr isola ps -a --format '{{.Names}}={{.Ports}}' ;;
    port) run --separate-stderr isola port pk ;;
    inspect) run --separate-stderr isola inspect -f '{{json .NetworkSettings.Ports}}' pk ;;
    esac
    assert_status 0
    case $cmd in
    ps) assert_equal "$output" "pk=" ;;
    port) assert_equal "$output" "" ;;
    inspect) assert_equal "$output" "{}" ;;
    esac
    assert_equal "$(rules_of "$cid")" ""
    assert_no_net_leftovers
    assert_equal "$(cfield pk '{{.State.Status}}')" exited
    # and it starts again with its port
    isola_ok start pk
    assert_equal "$(isola port pk 80)" "0.0.0.0:18112"
    isola_ok rm -f pk
    assert_no_net_leftovers
  done
}

@test "-p, --expose, --dns, --add-host: malformed values refused with Docker's messages, nothing made" {
  only_isolation process "flag syntax does not depend on the isolation mode"
  local spec msg
  while IFS='|' read -r spec msg; do
    run --separate-stderr isola create -p "$spec" busybox true
    assert_status 125
    assert_equal "$(head -1 <<<"$stderr")" "isola: $msg."
  done <<'SPECS'
abc|Invalid containerPort: abc
8080:abc|Invalid containerPort: abc
x:80|Invalid hostPort: x
1.2.3:80:80|Invalid ip address: 1.2.3
80/icmp|Invalid proto: icmp
8000-8001:80-82|Invalid ranges specified for container and host Ports: 80-82 and 8000-8001
70000|Invalid containerPort: 70000
8080:|No port specified: 8080:<empty>
SPECS
  run --separate-stderr isola create --expose 1:2 busybox true
  assert_status 125
  assert_equal "$(head -1 <<<"$stderr")" "isola: invalid port format for --expose: 1:2."
  run --separate-stderr isola create --dns nope busybox true
  assert_status 125
  assert_equal "$(head -1 <<<"$stderr")" 'isola: invalid argument "nope" for "--dns" flag: nope is not an ip address'
  run --separate-stderr isola create --add-host nocolon busybox true
  assert_status 125
  assert_equal "$(head -1 <<<"$stderr")" 'isola: invalid argument "nocolon" for "--add-host" flag: bad format for add-host: "nocolon"'
  # a container on another's network has no ports or names of its own (Docker's conflicts)
  run_detached --name owner --network none busybox sleep 600
  local flags
  while IFS='|' read -r flags msg; do
    # shellcheck disable=SC2086 # the flags are words
    run --separate-stderr isola create --network container:owner $flags busybox true
    assert_status 1
    assert_equal "$stderr" "Error: conflicting options: $msg"
  done <<'FLAGS'
-p 80|port publishing and the container type network mode
-P|port publishing and the container type network mode
--expose 80|port exposing and the container type network mode
--dns 192.0.2.1|dns and the network mode
--add-host a:192.0.2.1|custom host-to-IP mapping and the network mode
FLAGS
  assert_equal "$(isola ps -aq --no-trunc)" "$CID"
}

@test "--hostname, --domainname, --add-host, --dns, --dns-search, --dns-option in /etc/hosts, resolv.conf, hostname" {
  run --separate-stderr isola run --name names --hostname web.example.com --add-host db:192.0.2.5 \
    --add-host gw:host-gateway --dns 192.0.2.53 --dns 192.0.2.54 --dns-search a.example --dns-search b.example \
    --dns-option ndots:2 busybox sh -c 'cat /etc/hosts; echo --; cat /etc/resolv.conf; echo --; cat /etc/hostname; hostname'
  assert_status 0
  local ip
  ip=$(grep -o '^[0-9.]*	web.example.com web$' <<<"$output" | cut -f1)
  [[ $ip == 172.17.0.* ]] || fail "no address line: $output"
  assert_equal "$output" "127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
192.0.2.5	db
172.17.0.1	gw
$ip	web.example.com web
--
search a.example b.example
nameserver 192.0.2.53
nameserver 192.0.2.54
options ndots:2
--
web.example.com
web.example.com"
  assert_equal "$(cfield names '{{.HostConfig.Dns}} {{.HostConfig.DnsSearch}} {{.HostConfig.DnsOptions}} {{.HostConfig.ExtraHosts}}')" \
    "[192.0.2.53 192.0.2.54] [a.example b.example] [ndots:2] [db:192.0.2.5 gw:host-gateway]"
  # --domainname: the address's names; a user network keeps search and options around its name server
  isola_ok network create --subnet 10.96.0.0/24 named
  run --separate-stderr isola run --rm --network named --hostname h --domainname d.example --dns-search s.example \
    --dns-option ndots:3 busybox sh -c 'tail -1 /etc/hosts; cat /etc/resolv.conf'
  assert_status 0
  assert_equal "$output" "10.96.0.2	h.d.example h
search s.example
nameserver 10.96.0.1
options ndots:3"
  isola_ok rm -f names
  isola_ok network rm named
  assert_no_net_leftovers
}

# ---- VM containers --------------------------------------------------------------------------------------------------

@test "VM containers: the default bridge by default; --network host and container: refused both ways" {
  only_isolation vm "the VM side of the network"
  run --separate-stderr isola create busybox true
  assert_status 0
  assert_equal "$(cfield "$output" '{{.HostConfig.NetworkMode}}')" bridge
  run --separate-stderr isola run --rm --network host busybox true
  assert_status 125
  assert_equal "$stderr" "Error: --network host is not supported with VM isolation"
  run_detached --name vmc --network none busybox sleep 600
  run_detached --name pc --isolation process --network none busybox sleep 600
  # a VM joins no one's network: its NIC mirrors a namespace of its own
  for other in vmc pc; do
    run --separate-stderr isola run --rm --network "container:$other" busybox true
    assert_status 125
    assert_equal "$stderr" "Error: --network container:$other is not supported with VM isolation: the container has a kernel of its own, so it cannot share another container's network namespace"
  done
  # nor can a process container join a VM's network: it is in the guest
  run --separate-stderr isola run --rm --isolation process --network container:vmc busybox true
  assert_status 125
  [[ $stderr == *"cannot join the network of container vmc: it runs in a VM, whose network is its guest's" ]] || fail "stderr: $stderr"
  isola_ok rm -f vmc pc
  assert_no_net_leftovers
}

@test "kill -9 of the VM worker: the monitor tears the network down" {
  only_isolation vm "a process container's first process is killed in the monitor test above"
  isola_ok network create --subnet 10.94.0.0/24 kw
  run_detached --network kw --name victim busybox sleep 600
  local pid
  pid=$(cfield victim '{{.State.Pid}}')
  [ -n "$(net_leftovers)" ] || fail "nothing to tear down: the test would prove nothing"
  kill_container_pid "$pid"
  wait_until 60 no_net_leftovers
  isola_ok rm -f victim
  isola_ok network rm kw
  assert_no_net_leftovers
}

# ---- across the isolation modes -----------------------------------------------------------------------------------

@test "VM containers: on several networks (a NIC each), connected and disconnected stopped and running; a process container reaches one by name over its second network" {
  only_isolation vm "it starts one container in each mode, explicitly"
  isola_ok network create --subnet 10.101.0.0/24 front
  isola_ok network create --subnet 10.102.0.0/24 back
  isola_ok network create --subnet 10.103.0.0/24 third
  isola_ok network create --subnet 10.104.0.0/24 fourth
  isola_ok create --name vmback --isolation vm --network front busybox sh -c 'echo from-the-vm > /www; exec httpd -f -p 80 -h /'
  local cid
  cid=$(cfield vmback '{{.Id}}')
  # stopped: up to four networks (one NIC each in the guest), a fifth refused; one disconnected again
  isola_ok network connect --alias vmalias back vmback
  isola_ok network connect third vmback
  isola_ok network connect fourth vmback
  run --separate-stderr isola network connect bridge vmback
  assert_status 1
  assert_equal "$stderr" "Error: container vmback is on 4 networks already, the most a VM container can be on (its guest has 4 network interfaces, one fewer for each -v share beyond one; disconnect it from one first)"
  isola_ok network disconnect fourth vmback
  # each -v share beyond one takes a NIC's place (microvm's eight virtio-mmio transports)
  mkdir "$BATS_TEST_TMPDIR/s1" "$BATS_TEST_TMPDIR/s2"
  isola_ok create --name vmshares --isolation vm -v "$BATS_TEST_TMPDIR/s1:/s1" -v "$BATS_TEST_TMPDIR/s2:/s2" busybox true
  isola_ok network connect front vmshares
  isola_ok network connect back vmshares
  run --separate-stderr isola network connect third vmshares
  assert_status 1
  assert_equal "$stderr" "Error: container vmshares is on 3 networks already, the most a VM container can be on (its guest has 3 network interfaces, one fewer for each -v share beyond one; disconnect it from one first)"
  isola_ok rm vmshares
  isola_ok start vmback
  assert_equal "$(network_names vmback)" "back front third"
  assert_equal "$(interfaces_of vmback)" "eth0 10.101.0.2/24
eth1 10.102.0.2/24
eth2 10.103.0.2/24"
  assert_equal "$(isola exec vmback sh -c "ip route | grep ^default")" "default via 10.101.0.1 dev eth0 "
  # each guest interface has its network's MAC
  assert_equal "$(isola exec vmback cat /sys/class/net/eth1/address)" "$(cfield vmback '{{.NetworkSettings.Networks.back.MacAddress}}')"
  # running: connected to fourth (the spare NIC eth3; a fifth network refused), disconnected from third and from
  # front, whose default route moves to back (as a process container's)
  isola_ok network connect fourth vmback
  assert_equal "$(interfaces_of vmback)" "eth0 10.101.0.2/24
eth1 10.102.0.2/24
eth2 10.103.0.2/24
eth3 10.104.0.2/24"
  assert_equal "$(isola exec vmback cat /sys/class/net/eth3/address)" "$(cfield vmback '{{.NetworkSettings.Networks.fourth.MacAddress}}')"
  isola_ok exec vmback ping -c1 -W10 10.104.0.1
  run --separate-stderr isola network connect bridge vmback
  assert_status 1
  assert_equal "$stderr" "Error: container vmback is on 4 networks already, the most a VM container can be on (its guest has 4 network interfaces, one fewer for each -v share beyond one; disconnect it from one first)"
  isola_ok network disconnect third vmback
  isola_ok network disconnect front vmback
  assert_equal "$(interfaces_of vmback)" "eth1 10.102.0.2/24
eth3 10.104.0.2/24"
  assert_equal "$(isola exec vmback sh -c "ip route | grep ^default")" "default via 10.102.0.1 dev eth1 "
  assert_equal "$(network_names vmback)" "back fourth"
  # a process container on back only finds the VM there by name and alias and fetches from it over the VM's eth1
  run_detached --network back --name proc2 --isolation process busybox sleep 600
  assert_equal "$(address_of proc2 vmback)" 10.102.0.2
  # shellcheck disable=SC2016 # expanded in the container
  local fetch='for i in $(seq 100); do wget -q -O - "http://$0/www" && exit 0; sleep 0.2; done; exit 1'
  run --separate-stderr isola exec proc2 sh -c "$fetch" vmalias
  assert_status 0
  assert_output_contains from-the-vm
  # and the VM's guest finds it by name on back
  assert_equal "$(address_of vmback proc2)" "$(cfield proc2 '{{.NetworkSettings.Networks.back.IPAddress}}')"
  # a restart keeps the two, as eth0 and eth1 now
  isola_ok restart -t 1 vmback
  assert_equal "$(interfaces_of vmback)" "eth0 10.102.0.2/24
eth1 10.104.0.2/24"
  assert_equal "$(address_of proc2 vmalias)" 10.102.0.2
  # kill -9 of the VM worker: the monitor tears both networks down
  local pid
  pid=$(cfield vmback '{{.State.Pid}}')
  [ -n "$(leftovers_of "$cid")" ] || fail "nothing to tear down: the test would prove nothing"
  kill_container_pid "$pid"
  wait_until 60 no_leftovers_of "$cid" || fail "left behind: $(leftovers_of "$cid")"
  isola_ok rm -f vmback proc2
  isola_ok network rm front back third fourth
  assert_no_net_leftovers
}

@test "a process container and a VM container on one user network reach each other by name, both ways" {
  only_isolation vm "it starts one container in each mode, explicitly"
  isola_ok network create --subnet 10.95.0.0/24 mixed
  run_detached --network mixed --name vmweb --isolation vm busybox sh -c 'echo from-the-vm > /www; exec httpd -f -p 80 -h /'
  run_detached --network mixed --name procweb --isolation process busybox sh -c 'echo from-the-process > /www; exec httpd -f -p 80 -h /'
  # shellcheck disable=SC2016 # expanded in the container
  local fetch='cat /etc/resolv.conf; for i in $(seq 100); do wget -q -O - "http://$0/www" && exit 0; sleep 0.2; done; exit 1'
  run --separate-stderr isola exec procweb sh -c "$fetch" vmweb
  assert_status 0
  assert_output_contains "nameserver 10.95.0.1"
  assert_output_contains from-the-vm
  run --separate-stderr isola exec vmweb sh -c "$fetch" procweb
  assert_status 0
  assert_output_contains "nameserver 10.95.0.1"
  assert_output_contains from-the-process
  # the guest answers from the address and MAC the network gave its namespace
  run --separate-stderr isola exec vmweb sh -c 'ip -o -4 addr show eth0; cat /sys/class/net/eth0/address'
  assert_output_contains "inet $(cfield vmweb '{{.NetworkSettings.Networks.mixed.IPAddress}}')/24"
  assert_output_contains "$(cfield vmweb '{{.NetworkSettings.Networks.mixed.MacAddress}}')"
  isola_ok rm -f vmweb procweb
  isola_ok network rm mixed
  assert_no_net_leftovers
}
