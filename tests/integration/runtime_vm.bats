#!/usr/bin/env bats
# isola-runtime with VM isolation (io.isola.isolation=vm, or the binary called as isola-runtime-vm; docs/RUNTIME.md):
# the bundle's rootfs as the guest's root, the --pid-file process exiting with the container's status, kill, exec
# through the agent (with a terminal), the pod's network namespace joined by the VM, and delete leaving nothing; then
# podman 4.3, containerd 1.6 and dockerd 20.10 driving it.  Few VMs: each start costs ~1 CPU-second under TCG (one
# template per file, shared by the tests' stores).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers
load runtime_helpers

setup_file() {
  rt_setup_file
  mkdir -p "$ROOTFS_BASE/templates"
}
teardown_file() { rt_teardown_file; }

setup() {
  rt_setup
  edit_config '.annotations = {"io.isola.isolation": "vm"}'
  vm_store_config "$ISOLA_RUNTIME_ROOT"
}

# A VM's start (a template restore, or a boot of the template first) takes seconds of TCG on a loaded machine.
rt() {
  timeout 300 "$RT" "$@"
}

teardown() {
  rt_teardown
  local n
  for n in ${NETNS_MADE:-}; do ip netns del "$n" 2>/dev/null || true; done
  # nothing of the test's VMs is left: no worker, no tap, no mount
  local left
  left=$(grep -l -- "$T/" /proc/[0-9]*/cmdline 2>/dev/null || true)
  [ -z "$left" ] || echo "processes left: $left" >&2
}

# vm_store_config ROOT: the VM store under a runtime root (ROOT/.vm-store) takes isola's config.json: one vCPU per
# guest and the file's template directory.
vm_store_config() {
  mkdir -p "$1/.vm-store"
  echo "{\"vm\": {\"cpus\": 1, \"template_dir\": \"$ROOTFS_BASE/templates\"}}" >"$1/.vm-store/config.json"
}

# workers_of DIR: the VM workers (QEMU) whose command line names a container of the store under DIR.
workers_of() {
  local p c
  for p in $(pgrep -f '^isola-vm' || true); do
    for c in "$1"/containers/*; do
      [ -e "$c" ] && grep -q "${c##*/}" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
    done
  done
  true
}

# worker_cgroup_is DIR PATH [CONTROLLER...]: the VM worker of the store under DIR is in the cgroup PATH in the v2
# hierarchy (a hybrid host's unified one) and in each v1 CONTROLLER's where the host has that hierarchy.
worker_cgroup_is() {
  local dir=$1 path=$2 w got c
  shift 2
  w=$(workers_of "$dir")
  [ -n "$w" ] && [ "$(echo "$w" | wc -l)" = 1 ] || fail "not one worker: '$w'"
  got=$(cut -d: -f2- "/proc/$w/cgroup")
  if [ -d /sys/fs/cgroup/unified ] || [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "$got" | grep -qx ":$path" || fail "the worker is not in $path (v2): $got"
  fi
  for c in "$@"; do
    if [ -d "/sys/fs/cgroup/$c" ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
      echo "$got" | grep -Eqx "([a-z_]+,)*$c(,[a-z_]+)*:$path" || fail "the worker is not in $path ($c): $got"
    fi
  done
}

# cgroup_file PATH FILE_V1 FILE_V2 CONTROLLER: a file of the cgroup PATH, v1's CONTROLLER hierarchy's or v2's.
cgroup_file() {
  cat "/sys/fs/cgroup/$4/$1/$2" 2>/dev/null || cat "/sys/fs/cgroup/$1/$3"
}

# no_cgroup PATH: the cgroup PATH is in no hierarchy.
no_cgroup() {
  local h
  for h in /sys/fs/cgroup/unified /sys/fs/cgroup /sys/fs/cgroup/*/; do
    [ ! -d "$h/$1" ] || fail "the cgroup $1 is left in $h"
  done
}

# no_workers DIR: no VM worker of the store under DIR runs.
no_workers() {
  [ -z "$(workers_of "$1")" ]
}

# assert_vm_store_empty DIR: no container, image, disk or worker is left in the runtime root's VM store.
assert_vm_store_empty() {
  local s=$1/.vm-store
  assert_equal "$(ls "$s/containers" 2>/dev/null)" ""
  assert_equal "$(ls "$s/images" 2>/dev/null)" ""
  assert_equal "$(find "$s" -name '*.ext4' -o -name '*.erofs' 2>/dev/null)" ""
  assert_equal "$(grep -c " $s" /proc/self/mountinfo)" 0
}

# host_sees ARG: a process on the host whose command line is exactly `sleep ARG`.
host_sees() {
  local p
  for p in $(pgrep -x sleep || true); do
    [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep $1 " ] && return 0
  done
  return 1
}

@test "runtime vm: run gives the container's output and exit code from its own kernel; nothing is left" {
  args sh -c 'uname -r; echo err >&2; exit 3'
  run --separate-stderr rt run --bundle "$B" v1
  assert_status 3
  [ "$output" != "$(uname -r)" ] || fail "the guest's kernel is the host's: $output"
  [[ $output == 6.1.* ]] || fail "unexpected guest kernel: $output"
  assert_equal "$stderr" err
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
}

@test "runtime vm: a user namespace (its own, or joined by path) is refused with a clear message, nothing left" {
  edit_config '.linux.namespaces += [{"type": "user"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
  run rt create --bundle "$B" vu1 </dev/null
  assert_status 1
  assert_output_contains "io.isola.isolation=vm: user namespaces are not supported: the VM already separates"
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
  # a pod's user namespace, joined by path (hostUsers: false), too
  userns_holder
  edit_config "del(.linux.uidMappings, .linux.gidMappings) | .linux.namespaces |= map(select(.type != \"user\"))
    | .linux.namespaces += [{\"type\": \"user\", \"path\": \"/proc/$USERNS_PID/ns/user\"}]"
  run rt create --bundle "$B" vu2 </dev/null
  assert_status 1
  assert_output_contains "io.isola.isolation=vm: a user namespace joined by path (a pod's, hostUsers: false) is not supported"
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
}

@test "runtime vm: a file mount too big to pass by content is refused at create, nothing left" {
  head -c 300000 /dev/zero >"$T/big"
  edit_config ".mounts += [{\"destination\": \"/big\", \"type\": \"bind\", \"source\": \"$T/big\", \"options\": [\"rbind\"]}]"
  run rt create --bundle "$B" --pid-file "$T/pid" vb1 </dev/null
  assert_status 1
  assert_output_contains "the file mounted on /big is too big: a VM gets file mounts by content, up to 256 KiB each"
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
}

@test "runtime vm: create, start, state, ps, pause, resume, update, events, exec, kill, delete; the host sees only the worker" {
  args sh -c 'echo started; echo $$ >/pid1; hostname; exec sleep 7171'
  # the file the caller binds on /etc/resolv.conf (a pod's DNS) is the guest's
  echo "nameserver 10.9.8.7" >"$T/resolv"
  edit_config ".hostname = \"vmbox\" | .mounts += [{\"destination\": \"/etc/resolv.conf\", \"type\": \"bind\",
    \"source\": \"$T/resolv\", \"options\": [\"rbind\", \"ro\"]}]"
  # the VM worker goes into the spec's cgroupsPath (absolute: from each hierarchy's root), with its limits: the
  # CPU quota as given, the pids limit plus QEMU's own threads (the guest's processes get the limit itself)
  u=$(basename "$T" | tr -cd 'a-zA-Z0-9')
  made_cgroup "$u"
  edit_config ".linux.cgroupsPath = \"/$u/pod/v2\" | .linux.resources.pids = {\"limit\": 40}
    | .linux.resources.cpu = {\"quota\": 50000, \"period\": 100000}"
  create_bg v2 --pid-file "$T/pid"
  pid=$(cat "$T/pid")
  assert_equal "$(state_field v2 status)" created
  assert_equal "$(state_field v2 pid)" "$pid"
  alive "$pid" || fail "the --pid-file process is gone after create"
  rt start v2
  assert_equal "$(state_field v2 status)" running
  wait_until 60 grep -q vmbox "$T/out"
  assert_equal "$(head -1 "$T/out")" started
  # the container's process is the guest's: the host sees its worker, not its sleep
  ! host_sees 7171 || fail "the host sees the container's sleep"
  assert_equal "$(workers_of "$ISOLA_RUNTIME_ROOT/.vm-store" | wc -l)" 1
  worker_cgroup_is "$ISOLA_RUNTIME_ROOT/.vm-store" "/$u/pod/v2" pids cpu
  assert_equal "$(cgroup_file "$u/pod/v2" pids.max pids.max pids)" 168
  assert_equal "$(cgroup_file "$u/pod/v2" cpu.cfs_quota_us cpu.max cpu | cut -d' ' -f1)" 50000
  assert_equal "$(rt exec v2 cat /sys/fs/cgroup/pids.max)" 40
  [ -z "$(ls -d /sys/fs/cgroup/*/isola/runtime-v2 /sys/fs/cgroup/unified/isola/runtime-v2 2>/dev/null)" ] || fail "made under isola/ too"
  # of the container's processes the host has the --pid-file one
  assert_equal "$(rt ps --format json v2)" "[$pid]"
  # pause stops the VM (its vCPUs, through QMP), resume runs it again
  rt pause v2
  assert_equal "$(state_field v2 status)" paused
  run rt pause v2
  assert_status 1
  rt resume v2
  assert_equal "$(state_field v2 status)" running
  # update and events --stats reach the guest's cgroup of the container
  rt update --memory 104857600 --pids-limit 50 v2
  assert_equal "$(rt events --stats v2 | jq -r .data.memory.usage.limit)" 104857600
  assert_equal "$(rt exec v2 cat /sys/fs/cgroup/pids.max)" 50
  # exec runs in the guest, with its status, the container's root (the bundle's) and its writes kept from the bundle
  run --separate-stderr rt exec v2 sh -c 'cat /pid1; ls /bin/busybox; cat /etc/resolv.conf; echo e >&2; exit 5'
  assert_status 5
  assert_equal "$output" "$(printf '1\n/bin/busybox\nnameserver 10.9.8.7')"
  assert_equal "$stderr" e
  [ ! -e "$B/rootfs/pid1" ] || fail "the guest's write reached the bundle directory"
  # exec -d: the pid file's process relays it and exits with it
  rt exec -d --pid-file "$T/epid" v2 sh -c 'sleep 1; exit 7'
  epid=$(cat "$T/epid")
  [ -n "$epid" ] && wait_until 60 sh -c "! kill -0 $epid 2>/dev/null || grep -q '^[0-9]* (.*) Z ' /proc/$epid/stat"
  run -127 rt exec v2 nosuchcommand
  assert_status 127
  # kill reaches the guest's process; the --pid-file process exits with its status
  rt kill v2 KILL
  wait_until 60 sh -c "! grep -q '^[0-9]* (.*) [RSD] ' /proc/$pid/stat 2>/dev/null"
  assert_equal "$(state_field v2 status)" stopped
  assert_equal "$(state_field v2 pid)" 0
  run rt kill v2
  assert_status 1
  assert_output_contains "container not running"
  rt delete v2
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
  no_cgroup "$u/pod/v2"
}

@test "runtime vm: a SIGKILLed --pid-file process takes its VM with it; state says stopped" {
  args sh -c 'echo started; exec sleep 7272'
  # a relative cgroupsPath is below the runtime's parent, isola/
  u=$(basename "$T" | tr -cd 'a-zA-Z0-9')
  made_cgroup "isola/$u"
  edit_config ".linux.cgroupsPath = \"$u/v9\""
  create_bg v9 --pid-file "$T/pid"
  pid=$(cat "$T/pid")
  rt start v9
  wait_until 60 grep -q started "$T/out"
  assert_equal "$(workers_of "$ISOLA_RUNTIME_ROOT/.vm-store" | wc -l)" 1
  worker_cgroup_is "$ISOLA_RUNTIME_ROOT/.vm-store" "/isola/$u/v9"
  # what a shim does to a container's init: the VM must go as a runc container goes with its init
  kill -9 "$pid"
  wait_until 120 sh -c "[ \"\$('$RT' state v9 | jq -r .status)\" = stopped ]"
  wait_until 120 no_workers "$ISOLA_RUNTIME_ROOT/.vm-store"
  assert_equal "$(state_field v9 pid)" 0
  rt delete v9
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
  no_cgroup "isola/$u/v9"
}

@test "runtime vm: the pod's network namespace (by path) is the VM's: its address, MAC and routes" {
  # the pod's namespace as CNI leaves it (eth0, its address, MAC and default route), its veth's peer in a second
  # namespace of the test's: nothing touches the host's network
  ns=isola-rtvm-$$ peer=isola-rtvm-peer-$$
  ip netns add "$ns"
  ip netns add "$peer"
  NETNS_MADE="$ns $peer"
  ip -n "$peer" link add veth0 type veth peer name eth0 netns "$ns"
  ip -n "$ns" link set eth0 address 02:42:0a:58:00:07
  ip -n "$ns" addr add 10.88.7.2/24 dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" route add default via 10.88.7.1
  ip -n "$peer" addr add 10.88.7.1/24 dev veth0
  ip -n "$peer" link set veth0 up
  edit_config ".linux.namespaces |= map(if .type == \"network\" then .path = \"/var/run/netns/$ns\" else . end)"
  args sh -c 'ip -o -4 addr show eth0; cat /sys/class/net/eth0/address; ip route; exec sleep 7272'
  create_bg v3
  rt start v3
  wait_until 60 grep -q default "$T/out"
  run cat "$T/out"
  assert_output_contains "10.88.7.2/24"
  assert_output_contains "02:42:0a:58:00:07"
  assert_output_matches "default via 10.88.7.1"
  # the pod's address answers from the guest
  wait_until 60 ip netns exec "$peer" busybox ping -c 1 -W 2 10.88.7.2
  rt delete --force v3
  # the tap and its redirections went with the VM
  run ip -n "$ns" -o link
  refute_output_contains tap0_isola
  run tc -n "$ns" qdisc show dev eth0
  refute_output_contains ingress
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
}

@test "runtime vm: isola-runtime-vm defaults to VM isolation; the annotation still chooses" {
  ln -s "$RT" "$T/isola-runtime-vm"
  edit_config '.annotations = {"io.isola.isolation": "process"}'
  args uname -r
  run "$T/isola-runtime-vm" run --bundle "$B" w1
  assert_status 0
  assert_equal "$output" "$(uname -r)"
  # a pod's sandbox (pause) container holds the pod's namespaces as a process; the pod's containers get the VMs
  edit_config '.annotations = {"io.kubernetes.cri.container-type": "sandbox"}'
  run "$T/isola-runtime-vm" run --bundle "$B" w0
  assert_status 0
  assert_equal "$output" "$(uname -r)"
  edit_config '.annotations = {}'
  args sh -c 'uname -r; exit 2'
  run "$T/isola-runtime-vm" run --bundle "$B" w2
  assert_status 2
  [ "$output" != "$(uname -r)" ] || fail "isola-runtime-vm ran the bundle without a VM"
  # without a network namespace of its own the VM is refused (its kernel cannot share the host's)
  edit_config '.linux.namespaces |= map(select(.type != "network"))'
  run "$T/isola-runtime-vm" run --bundle "$B" w3
  assert_status 1
  assert_output_contains "network namespace of its own"
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
}

@test "runtime vm podman: run --rm with a volume and file binds, run -d, exec (with a terminal), logs, pause, stop, rm" {
  podman_setup
  A=(--annotation io.isola.isolation=vm --network none)
  # a volume (a directory bind) reaches the guest (a 9p share); file binds by content: podman's /etc/hosts (with
  # its --add-host line) and /run/.containerenv (empty but there), and a -v of a file, whose guest writes stay in
  # the guest
  mkdir -p "$T/vol"
  echo volume-data >"$T/vol/f"
  echo file-data >"$T/note"
  # a file under the volume (a pod's subPath file in a volume) is there too; its mount point is made in the host's
  # directory as runc and a process container make it (empty, root's), not by the guest through 9p
  run --separate-stderr timeout 180 "${P[@]}" run --rm "${A[@]}" -v "$T/vol:/data" -v "$T/note:/etc/note" \
    -v "$T/note:/data/sub/note:ro" --add-host vmhost.example:10.1.2.3 busybox \
    sh -c 'cat /data/f; echo hi from a vm; cat /etc/note; echo changed >>/etc/note; grep vmhost.example /etc/hosts; test -f /run/.containerenv && echo containerenv; cat /data/sub/note; exit 4'
  assert_status 4
  assert_equal "${lines[0]}" volume-data
  assert_equal "${lines[1]}" "hi from a vm"
  assert_equal "${lines[2]}" file-data
  [[ ${lines[3]} == 10.1.2.3*vmhost.example* ]] || fail "podman's /etc/hosts is not the guest's: $output"
  assert_equal "${lines[4]}" containerenv
  assert_equal "${lines[5]}" file-data
  assert_equal "$(cat "$T/note")" file-data
  assert_equal "$(stat -c '%u:%g %s' "$T/vol/sub/note")" "0:0 0"
  # with --cgroup-manager systemd (podman passes --systemd-cgroup and machine.slice:libpod:ID) the VM worker is in
  # the scope, whose memory limit is the guest's RAM (the limit plus 64 MiB) plus QEMU's own (512 MiB under TCG)
  made_cgroup_if_new machine.slice
  run --separate-stderr timeout 180 "${P[@]}" --cgroup-manager systemd run -d --name s1 --memory 256m "${A[@]}" busybox sh -c 'echo logged; exec sleep 7373'
  assert_status 0
  id=$output
  ! host_sees 7373 || fail "the host sees the container's sleep"
  worker_cgroup_is "$ISOLA_RUNTIME_ROOT/.vm-store" "/machine.slice/libpod-$id.scope" memory
  assert_equal "$(cgroup_file "machine.slice/libpod-$id.scope" memory.limit_in_bytes memory.max memory)" $(((256 + 64 + 512) << 20))
  # (podman warns on stderr that conmon cannot join a systemd cgroup: no systemd runs here)
  run --separate-stderr timeout 120 "${P[@]}" exec s1 sh -c 'echo in-exec; exit 6'
  assert_status 6
  assert_equal "$output" in-exec
  run --separate-stderr timeout 120 "${P[@]}" exec -t s1 sh -c 'tty; exit 2'
  assert_status 2
  assert_output_matches '^/dev/pts/[0-9]+'
  wait_until 30 sh -c "timeout 30 $(printf '%q ' "${P[@]}") logs s1 | grep -q logged"
  timeout 120 "${P[@]}" pause s1
  assert_equal "$(timeout 60 "${P[@]}" inspect -f '{{.State.Status}}' s1)" paused
  timeout 120 "${P[@]}" unpause s1
  timeout 120 "${P[@]}" stop -t 0 s1
  assert_equal "$(timeout 60 "${P[@]}" inspect -f '{{.State.Status}}' s1)" exited
  timeout 120 "${P[@]}" rm s1
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT" 2>/dev/null)" ""
  assert_vm_store_empty "$ISOLA_RUNTIME_ROOT"
  no_cgroup "machine.slice/libpod-$id.scope"
  [ -n "$id" ]
}

@test "runtime vm containerd: ctr run with isola-runtime-vm, task exec, pause, resume, kill, delete" {
  containerd_setup
  ln -s "$RT" "$T/cd/isola-runtime-vm"
  vm_store_config "$T/cd/rt/default"
  V=(--runc-binary "$T/cd/isola-runtime-vm" --runc-root "$T/cd/rt")
  run --separate-stderr timeout 180 "${CTR[@]}" run --rm "${V[@]}" docker.io/library/busybox:latest t1 sh -c 'uname -r; exit 3'
  assert_status 3
  [ "$output" != "$(uname -r)" ] || fail "ctr's container did not run in a VM"
  timeout 180 "${CTR[@]}" run -d "${V[@]}" docker.io/library/busybox:latest t2 sleep 7474
  ! host_sees 7474 || fail "the host sees the container's sleep"
  # containerd's cgroupsPath, /NAMESPACE/ID, is the VM worker's cgroup
  worker_cgroup_is "$T/cd/rt/default/.vm-store" /default/t2
  run timeout 60 "${CTR[@]}" task exec --exec-id e1 t2 sh -c 'echo exec-out; exit 4'
  assert_status 4
  assert_equal "$output" exec-out
  pid=$(timeout 60 "${CTR[@]}" task ls | awk '$1 == "t2" {print $2}')
  assert_equal "$(rt --root "$T/cd/rt/default" state t2 | jq -r .pid)" "$pid"
  timeout 60 "${CTR[@]}" task pause t2
  run timeout 60 "${CTR[@]}" task ls
  assert_output_matches "t2 +$pid +PAUSED"
  timeout 60 "${CTR[@]}" task resume t2
  timeout 60 "${CTR[@]}" task kill -s KILL t2
  wait_until 60 sh -c "timeout 30 ctr --address '$T/cd/c.sock' task ls | grep -q 't2 .*STOPPED'"
  timeout 60 "${CTR[@]}" task delete t2
  timeout 60 "${CTR[@]}" containers delete t2
  assert_equal "$(ls "$T/cd/rt/default")" ""
  assert_vm_store_empty "$T/cd/rt/default"
  no_cgroup default/t2
  containerd_teardown
}

@test "runtime vm dockerd: docker run --runtime isola-vm (output, exit code), exec, stop, rm" {
  dockerd_setup
  vm_store_config "$T/dk/exec/runtime-isola-vm/moby"
  run --separate-stderr timeout 180 docker run --rm --runtime isola-vm --network none busybox sh -c 'uname -r; exit 5'
  assert_status 5
  [ "$output" != "$(uname -r)" ] || fail "docker's container did not run in a VM"
  timeout 180 docker run -d --name d1 --runtime isola-vm --network none busybox sleep 7575
  ! host_sees 7575 || fail "the host sees the container's sleep"
  run timeout 60 docker exec d1 sh -c 'echo in-exec; exit 6'
  assert_status 6
  assert_equal "$output" in-exec
  timeout 60 docker stop -t 0 d1
  assert_equal "$(timeout 60 docker inspect -f '{{.State.ExitCode}}' d1)" 137
  timeout 60 docker rm d1
  assert_vm_store_empty "$T/dk/exec/runtime-isola-vm/moby"
  dockerd_teardown
}
