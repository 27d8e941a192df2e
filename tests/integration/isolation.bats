#!/usr/bin/env bats
# What a process container sees: its own PID, mount, UTS and network namespaces, a minimal /dev, its own root
# filesystem (an overlay whose upper dir keeps its writes), capabilities, no-new-privileges, read-only roots,
# resource limits; and what the host sees afterwards (no mounts left behind).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# containers should never take long: a hang fails after 30 s instead of 120 (read by the isola function)
# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# Docker's default capability set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
# NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
DEFAULT_CAPS=00000000a80425fb

# cap_eff ARGS...: CapEff of the container's first process, run with `isola run --rm ARGS... busybox`.
cap_eff() {
  isola run --rm "$@" busybox sh -c 'grep ^CapEff: /proc/self/status' | awk '{ print $2 }'
}

# hexcaps N: a capability mask as /proc/PID/status prints it.
hexcaps() {
  printf '%016x' "$1"
}

# ---- namespaces ----------------------------------------------------------------------------------------------------

@test "the command is PID 1" {
  run --separate-stderr isola run --rm busybox sh -c 'echo $$'
  assert_status 0
  assert_equal "$output" 1
}

@test "ps inside shows only the container's processes" {
  run --separate-stderr isola run --rm busybox sh -c 'sleep 100 & until ps -o comm | grep -qx sleep; do :; done; ps -o pid,comm; true'
  assert_status 0
  # header, sh (1), sleep, ps — nothing of the host (the trailing `true` keeps sh from exec'ing ps).  The wait is for
  # the name ps shows, not pidof's match: busybox re-execs its applets through /proc/self/exe and renames the process
  # only afterwards, so under load ps could catch it as "exe".
  assert_equal "$(wc -l <<<"$output")" 4
  assert_output_matches '^ *1 +sh$'
  assert_output_matches ' sleep$'
  assert_output_matches ' ps$'
}

@test "the container's processes live in their own PID, mount, UTS, IPC and network namespaces" {
  only_isolation process "the host sees a process container's processes (vm.bats: the host sees none)"
  run_detached busybox sleep 1000
  local pid ns
  pid=$(cfield "$CID" '{{.State.Pid}}')
  [ "$pid" -gt 1 ] || fail "State.Pid is '$pid'"
  for ns in pid mnt uts ipc net; do
    [ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] || fail "shares the host's $ns namespace"
  done
}

@test "the host's root is not visible" {
  local marker=$BATS_TEST_TMPDIR/host-marker-$$
  echo host >"$marker"
  run --separate-stderr isola run --rm busybox sh -c "test -e '$marker' && echo visible; ls /; test -e /work && echo work; true"
  assert_status 0
  refute_output_contains visible
  refute_output_contains work
  assert_output_matches '^bin$'
  assert_output_matches '^etc$'
}

@test "/proc, /dev/null, /dev/zero, /dev/pts and /dev/shm exist" {
  run --separate-stderr isola run --rm busybox sh -c '
    test -r /proc/self/status && echo proc
    test -c /dev/null && echo null
    test -c /dev/zero && echo zero
    test -d /dev/pts && echo pts
    test -d /dev/shm && echo shm
    echo x > /dev/null && echo null-writable
    head -c 3 /dev/zero | wc -c
    grep -q " /proc proc " /proc/mounts && echo proc-mounted
    grep -q " /dev/pts devpts " /proc/mounts && echo devpts-mounted
    grep -q " /dev/shm tmpfs " /proc/mounts && echo shm-mounted
    echo s > /dev/shm/f && echo shm-writable'
  assert_status 0
  assert_equal "$output" "proc
null
zero
pts
shm
null-writable
3
proc-mounted
devpts-mounted
shm-mounted
shm-writable"
}

@test "the host's devices are not in the container's /dev" {
  run --separate-stderr isola run --rm busybox sh -c 'ls /dev'
  assert_status 0
  refute_output_contains sda
  refute_output_contains vda
  refute_output_contains kvm
  refute_output_contains mem
}

# NET_SCRIPT: the container prints its interfaces (from /proc/net/dev), then lo's flags line, then the interfaces
# that are up besides lo.
NET_SCRIPT='awk -F: "NR > 2 { gsub(/ /, \"\", \$1); print \$1 }" /proc/net/dev | sort; ip link show lo | head -1; ip -o link show up | grep -v " lo:" || true'

# VM_NICS: the interfaces a VM's guest has besides lo whatever its networks (four NICs: driver/vm_launch.h), down
# but for those of its networks.
VM_NICS="eth0 eth1 eth2 eth3"

# assert_only_lo: NET_SCRIPT's output for a container with no network: only lo, up.  A VM also has its NICs, which
# stay down without a network.
assert_only_lo() {
  local ifs
  ifs=$(grep -v ':' <<<"$output" | tr '\n' ' ')
  if [ "$TEST_ISOLATION" = vm ]; then
    assert_equal "$ifs" "$VM_NICS lo "
  else
    assert_equal "$ifs" "lo "
  fi
  assert_output_matches 'lo: <[^>]*UP'
  assert_equal "$(grep -c ': <' <<<"$output")" 1
}

@test "the default network is a private namespace with lo up, and eth0 on the default bridge" {
  rm -f "$ISOLA_ROOT/config.json" # Docker's default network, not the suite's (helpers.bash: setup_root)
  run --separate-stderr isola run --rm busybox sh -c "$NET_SCRIPT"
  assert_status 0
  # Docker's default, the bridge: lo and eth0, both up (a process container's eth0 is a veth, eth0@ifN; a VM's is
  # its first NIC, mirroring the veth in its namespace on the host; its spare NICs are there, down)
  if [ "$TEST_ISOLATION" = vm ]; then
    assert_equal "$(grep -v ':' <<<"$output" | tr '\n' ' ')" "$VM_NICS lo "
  else
    assert_equal "$(grep -v ':' <<<"$output" | tr '\n' ' ')" "eth0 lo "
  fi
  assert_output_matches 'lo: <[^>]*UP'
  assert_output_matches 'eth0(@[^:]*)?: <[^>]*UP'
  assert_equal "$(grep -c ': <' <<<"$output")" 2
}

@test "ping localhost works in the default network" {
  run --separate-stderr isola run --rm busybox ping -c 1 -W 2 127.0.0.1
  assert_status 0
  assert_output_contains '1 packets received'
}

@test "--network none has only lo, which is up" {
  run --separate-stderr isola run --rm --network none busybox sh -c "$NET_SCRIPT"
  assert_status 0
  assert_only_lo
}

@test "--network host sees the host's interfaces" {
  only_isolation process "a VM has its own network stack (vm.bats: --network host is refused)"
  local host_ifs
  # this shell's network namespace (/sys/class/net shows the one sysfs was mounted in)
  host_ifs=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/self/net/dev | sort)
  run --separate-stderr isola run --rm --network host busybox sh -c 'cat /proc/net/dev'
  assert_status 0
  local ctr_ifs
  ctr_ifs=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' <<<"$output" | sort)
  assert_equal "$ctr_ifs" "$host_ifs"
  run_detached --network host busybox sleep 1000
  assert_equal "$(readlink "/proc/$(cfield "$CID" '{{.State.Pid}}')/ns/net")" "$(readlink /proc/self/ns/net)"
}

@test "--network with an unknown mode fails with 125" {
  run --separate-stderr isola run --rm --network no-such-net busybox true
  assert_status 125
}

# ---- root filesystem -----------------------------------------------------------------------------------------------

@test "files written in the container land in its upper dir and persist across stop and start" {
  only_isolation process "a VM's writes land in its disk (vm.bats: they persist across stop and start)"
  run_detached --name keep busybox sh -c 'echo run >> /runs; trap "exit 0" TERM; echo ready; while :; do sleep 0.1; done'
  wait_for_log keep ready
  wait_until 10 test -f "$ISOLA_ROOT/containers/$CID/upper/runs"
  isola_ok stop -t 5 keep
  assert_equal "$(cat "$ISOLA_ROOT/containers/$CID/upper/runs")" run
  isola_ok start keep
  wait_for_status keep running
  isola_ok stop -t 5 keep
  assert_equal "$(cat "$ISOLA_ROOT/containers/$CID/upper/runs")" "run
run"
}

@test "writes do not reach the image: a new container starts from the image again" {
  run --separate-stderr isola run --rm busybox sh -c 'echo changed > /etc/motd-test; rm /bin/ls; echo ok'
  assert_status 0
  run --separate-stderr isola run --rm busybox sh -c 'test -e /etc/motd-test && echo leaked; test -e /bin/ls && echo ls-present'
  assert_status 0
  assert_equal "$output" ls-present
}

@test "the host's mount table has no new entries after the container exits or is removed" {
  local before
  before=$(host_mounts)
  run --separate-stderr isola run --name mnt -v "$BATS_TEST_TMPDIR:/data" --tmpfs /scratch busybox echo ok
  assert_status 0
  assert_no_new_mounts "$before"
  run_detached busybox sleep 1000
  isola_ok kill "$CID"
  wait_for_status "$CID" exited
  assert_no_new_mounts "$before"
  isola_ok rm mnt "$CID"
  assert_no_new_mounts "$before"
}

@test "--read-only: writes to / and /tmp fail; --tmpfs /tmp makes /tmp writable" {
  run --separate-stderr isola run --rm --read-only busybox sh -c 'touch /x 2>/dev/null && echo root-writable; touch /tmp/x 2>/dev/null && echo tmp-writable; echo finished'
  assert_status 0
  assert_equal "$output" finished
  run --separate-stderr isola run --rm --read-only --tmpfs /tmp busybox sh -c 'touch /x 2>/dev/null && echo root-writable; touch /tmp/x && echo tmp-writable'
  assert_status 0
  assert_equal "$output" tmp-writable
}

# ---- privileges ----------------------------------------------------------------------------------------------------

@test "the default capabilities are Docker's set" {
  run --separate-stderr isola run --rm busybox sh -c 'grep -E "^Cap(Eff|Prm|Bnd):" /proc/self/status'
  assert_status 0
  assert_output_matches "^CapEff:[[:space:]]+$DEFAULT_CAPS\$"
  assert_output_matches "^CapPrm:[[:space:]]+$DEFAULT_CAPS\$"
  assert_output_matches "^CapBnd:[[:space:]]+$DEFAULT_CAPS\$"
}

@test "--cap-drop CHOWN removes it: chown fails" {
  run --separate-stderr isola run --rm busybox sh -c 'touch /tmp/x && chown 1 /tmp/x && echo chowned'
  assert_status 0
  assert_equal "$output" chowned
  # one container shows both: its CapEff, then the chown that fails
  run --separate-stderr isola run --rm --cap-drop CHOWN busybox sh -c 'grep ^CapEff: /proc/self/status
    touch /tmp/x && chown 1 /tmp/x && echo chowned'
  assert_status 1
  refute_output_contains chowned
  assert_equal "$(awk '/^CapEff:/ { print $2 }' <<<"$output")" "$(hexcaps $((0xa80425fb & ~1)))"
  assert_equal "$(cap_eff --cap-drop cap_chown)" "$(hexcaps $((0xa80425fb & ~1)))"
}

@test "--cap-add adds a capability; --cap-drop ALL leaves none" {
  # SYS_ADMIN is bit 21, NET_ADMIN bit 12
  assert_equal "$(cap_eff --cap-add SYS_ADMIN --cap-add NET_ADMIN)" "$(hexcaps $((0xa80425fb | 1 << 21 | 1 << 12)))"
  assert_equal "$(cap_eff --cap-drop ALL)" 0000000000000000
  assert_equal "$(cap_eff --cap-drop ALL --cap-add KILL)" "$(hexcaps $((1 << 5)))"
}

@test "--cap-add of an unknown capability fails with 125" {
  run --separate-stderr isola run --rm --cap-add NO_SUCH_CAP busybox true
  assert_status 125
  assert_stderr_matches 'NO_SUCH_CAP'
}

@test "--privileged gives every capability of the host's bounding set" {
  run --separate-stderr isola run --rm --privileged busybox sh -c 'grep -E "^Cap(Eff|Bnd):" /proc/self/status'
  assert_status 0
  local eff bnd
  eff=$(awk '/^CapEff:/ { print $2 }' <<<"$output")
  bnd=$(awk '/^CapBnd:/ { print $2 }' <<<"$output")
  assert_equal "$eff" "$bnd"
  # a VM's guest kernel has every capability to give; a process container gets what the host's bounding set allows
  if [ "$TEST_ISOLATION" = process ]; then
    assert_equal "$bnd" "$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)"
  else
    assert_equal "$bnd" "$(printf '%016x' $(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1)))"
  fi
}

@test "--security-opt no-new-privileges sets NoNewPrivs" {
  run --separate-stderr isola run --rm busybox sh -c 'grep ^NoNewPrivs: /proc/self/status'
  assert_status 0
  assert_output_matches '^NoNewPrivs:[[:space:]]+0$'
  run --separate-stderr isola run --rm --security-opt no-new-privileges busybox sh -c 'grep ^NoNewPrivs: /proc/self/status'
  assert_status 0
  assert_output_matches '^NoNewPrivs:[[:space:]]+1$'
}

@test "a non-root user has no effective capabilities" {
  run --separate-stderr isola run --rm -u 1000 busybox sh -c 'grep ^CapEff: /proc/self/status'
  assert_status 0
  assert_output_matches '^CapEff:[[:space:]]+0000000000000000$'
}

# ---- limits --------------------------------------------------------------------------------------------------------

@test "--ulimit nofile=1024:2048 sets the soft and hard limits" {
  run --separate-stderr isola run --rm --ulimit nofile=1024:2048 busybox sh -c 'ulimit -n; ulimit -Hn'
  assert_status 0
  assert_equal "$output" "1024
2048"
}

@test "--ulimit with a bad value fails with 125" {
  run --separate-stderr isola run --rm --ulimit nofile=abc busybox true
  assert_status 125
  run --separate-stderr isola run --rm --ulimit nosuchlimit=1:2 busybox true
  assert_status 125
}

# cgroup_file PID CONTROLLER V1-FILE V2-FILE: the path of a limit file of PID's cgroup (v1: that controller's
# hierarchy; v2: the unified one).
cgroup_file() {
  local pid=$1 ctl=$2 rel
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    rel=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    echo "/sys/fs/cgroup$rel/$4"
  else
    rel=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
      "/proc/$pid/cgroup")
    echo "/sys/fs/cgroup/$ctl$rel/$3"
  fi
}

@test "--memory, --cpus and --pids-limit set the container's cgroup limits and are in inspect .HostConfig" {
  only_isolation process "the host's cgroups (vm.bats: the guest's)"
  run_detached --memory 64m --cpus 0.5 --pids-limit 10 busybox sleep 1000
  local pid f
  pid=$(cfield "$CID" '{{.State.Pid}}')
  cat "/proc/$pid/cgroup"
  f=$(cgroup_file "$pid" memory memory.limit_in_bytes memory.max)
  assert_equal "$(cat "$f")" 67108864
  f=$(cgroup_file "$pid" pids pids.max pids.max)
  assert_equal "$(cat "$f")" 10
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    assert_equal "$(cat "$(cgroup_file "$pid" cpu - cpu.max)")" "50000 100000"
  else
    assert_equal "$(cat "$(cgroup_file "$pid" cpu cpu.cfs_quota_us -)")" 50000
    assert_equal "$(cat "$(cgroup_file "$pid" cpu cpu.cfs_period_us -)")" 100000
  fi
  run --separate-stderr isola inspect "$CID"
  assert_jq '.[0].HostConfig.Memory == 67108864'
  assert_jq '.[0].HostConfig.NanoCpus == 500000000'
  assert_jq '.[0].HostConfig.PidsLimit == 10'
}

@test "the container's cgroups are removed when it exits" {
  only_isolation process "the host's cgroups; a VM's die with it"
  run_detached --memory 64m --pids-limit 50 busybox sleep 1000
  [ -n "$(container_cgroup_dirs "$CID")" ] || fail "no cgroup directory for $CID"
  isola_ok kill "$CID"
  wait_for_status "$CID" exited
  no_cgroups() { [ -z "$(container_cgroup_dirs "$CID")" ]; }
  wait_until 5 no_cgroups || { container_cgroup_dirs "$CID"; return 1; }
}

@test "--memory: a container that exceeds it is OOM-killed: 137 and State.OOMKilled" {
  run_detached --name hog --memory 16m busybox tail /dev/zero
  wait_for_status hog exited
  assert_equal "$(cfield hog '{{.State.ExitCode}}')" 137
  assert_equal "$(cfield hog '{{.State.OOMKilled}}')" true
  run --separate-stderr isola run --memory 16m busybox sh -c 'echo start; exec tail /dev/zero'
  assert_status 137
}

@test "--pids-limit: forks beyond the limit fail" {
  local script='for i in $(seq 1 20); do sleep 1 & done; echo forked-all'
  run --separate-stderr isola run --rm --pids-limit 10 busybox sh -c "$script"
  [ "$status" -ne 0 ] || fail "20 forks succeeded under --pids-limit 10"
  refute_output_contains forked-all
  assert_stderr_matches 'fork'
  run --separate-stderr isola run --rm --pids-limit 40 busybox sh -c "$script"
  assert_status 0
  assert_output_contains forked-all
}

@test "bad --memory, --cpus and --pids-limit values fail with 125" {
  local opts
  for opts in "--memory abc" "--memory 1m" "--cpus abc" "--cpus -1" "--pids-limit abc"; do
    # shellcheck disable=SC2086
    run --separate-stderr isola run --rm $opts busybox true
    echo "# run $opts"
    assert_status 125
  done
  run isola ps -aq
  assert_output_empty
}
