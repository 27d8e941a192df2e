#!/usr/bin/env bats
# Resource limits and their verbs, in both isolation modes: --memory-swap, --memory-reservation, --cpu-shares,
# --cpuset-cpus, --cpuset-mems and --oom-kill-disable on run/create; update; pause and unpause; stats.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# What the container reads of its own cgroup at /sys/fs/cgroup, one value a line: memory limit, memory+swap (v1) or
# swap alone (v2: memory.swap.max), reservation, CPU weight (v1 cpu.shares, v2 cpu.weight), cpuset, and on v1
# whether the OOM killer is disabled; "no FILE" for a file the cgroup has not.  A process container on this
# (v1/hybrid) host sees runc's v1 layout, a VM's guest is v2, without swap (isola's guest kernel has none: there is
# no memory.swap.max to set).
READ_LIMITS='cd /sys/fs/cgroup
show() { for f; do cat "$f" 2>/dev/null || echo "no $f"; done; }
if [ -e memory.max ]; then show memory.max memory.swap.max memory.low cpu.weight cpuset.cpus
else show memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes memory/memory.soft_limit_in_bytes \
  cpu/cpu.shares cpuset/cpuset.cpus; sed -n "s/^oom_kill_disable //p" memory/memory.oom_control; fi'

# The cgroup layout the container sees: v2 when it has memory.max.
cgroup_v2_inside() {
  [ "$TEST_ISOLATION" = vm ] || [ -e /sys/fs/cgroup/cgroup.controllers ]
}

# ---- run/create flags ------------------------------------------------------------------------------------------

@test "the new limits are HostConfig fields, as Docker records them" {
  isola_ok create --name c1 -m 64m --memory-swap 128m --memory-reservation 32m -c 512 --cpuset-cpus 0 \
    --cpuset-mems 0 --oom-kill-disable busybox true
  run --separate-stderr isola inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.CpusetMems}} {{.HostConfig.OomKillDisable}}' c1
  assert_status 0
  assert_equal "$output" "67108864 134217728 33554432 512 0 0 true"
  # Docker's defaults: swap as much again as memory; -1 is unlimited swap
  isola_ok create --name c2 -m 64m busybox true
  assert_equal "$(cfield c2 '{{.HostConfig.MemorySwap}}')" 134217728
  isola_ok create --name c3 -m 64m --memory-swap -1 busybox true
  assert_equal "$(cfield c3 '{{.HostConfig.MemorySwap}}')" -1
}

@test "Docker's checks of memory, swap, reservation and cpusets, before anything is made" {
  local before
  before=$(store_listing)
  run --separate-stderr isola run --rm --memory-swap 128m busybox true
  assert_status 125
  assert_stderr_matches "You should always set the Memory limit when using Memoryswap limit"
  run --separate-stderr isola run --rm -m 64m --memory-swap 32m busybox true
  assert_status 125
  assert_stderr_matches "Minimum memoryswap limit should be larger than memory limit"
  run --separate-stderr isola run --rm -m 64m --memory-reservation 128m busybox true
  assert_status 125
  assert_stderr_matches "Minimum memory limit can not be less than memory reservation limit"
  run --separate-stderr isola run --rm --memory-reservation 1m busybox true
  assert_status 125
  assert_stderr_matches "Minimum memory reservation allowed is 6MB"
  run --separate-stderr isola run --rm --cpuset-cpus 1-x busybox true
  assert_status 125
  assert_stderr_matches "Invalid value 1-x for cpuset cpus"
  run --separate-stderr isola run --rm --cpuset-cpus 1000 busybox true
  assert_status 125
  assert_stderr_matches "Requested CPUs are not available - requested 1000, available: "
  run --separate-stderr isola run --rm --memory-swap 12q busybox true
  assert_status 125
  assert_stderr_matches 'invalid argument "12q" for "--memory-swap" flag'
  assert_store_unchanged "$before"
}

@test "swap, reservation, CPU shares, cpuset and the OOM switch reach the container's cgroup" {
  run --separate-stderr isola run --rm -m 64m --memory-swap 128m --memory-reservation 32m --cpu-shares 512 \
    --cpuset-cpus 0 --oom-kill-disable busybox sh -c "$READ_LIMITS"
  assert_status 0
  if [ "$TEST_ISOLATION" = vm ]; then
    assert_equal "$output" "$(printf '%s\n' 67108864 'no memory.swap.max' 33554432 20 0)"
  elif cgroup_v2_inside; then
    # v2, as runc and crun convert: swap alone, memory.low, cpu.weight = 1 + (512 - 2) * 9999 / 262142
    assert_equal "$output" "$(printf '%s\n' 67108864 67108864 33554432 20 0)"
  else
    assert_equal "$output" "$(printf '%s\n' 67108864 134217728 33554432 512 0 1)"
  fi
}

@test "--memory-swap -1 is unlimited swap" {
  only_isolation process "a VM's guest has no swap"
  run --separate-stderr isola run --rm -m 64m --memory-swap -1 busybox sh -c \
    'cat /sys/fs/cgroup/memory.swap.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'
  assert_status 0
  if cgroup_v2_inside; then assert_equal "$output" max; else assert_equal "$output" 9223372036854771712; fi
}

@test "a cpuset the container's CPUs do not have is refused" {
  local n
  # a VM's guest has --cpus vCPUs (rounded up): the cpuset is of those, and the agent refuses what it has not
  if [ "$TEST_ISOLATION" = vm ]; then
    run --separate-stderr isola run --rm --cpus 1 --cpuset-cpus 1 busybox true
    assert_status 125
    assert_stderr_matches "Requested CPUs are not available - requested 1, available: 0"
  else
    n=$(nproc)
    run --separate-stderr isola run --rm --cpuset-cpus "$n" busybox true
    assert_status 125
    assert_stderr_matches "Requested CPUs are not available - requested $n"
  fi
}

# ---- update --------------------------------------------------------------------------------------------------------

# limit_inside CONTAINER: the memory limit the running container's cgroup has, read inside it.
limit_inside() {
  isola exec "$1" sh -c 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'
}

@test "update changes a running container's limits at once and records them" {
  run_detached --name u1 -m 32m busybox sleep 1000
  run --separate-stderr limit_inside u1
  assert_equal "$output" 33554432
  run --separate-stderr isola update --memory 64m --memory-swap 128m --cpu-shares 256 --pids-limit 50 --cpus 0.5 u1
  assert_status 0
  assert_equal "$output" u1
  run --separate-stderr limit_inside u1
  assert_equal "$output" 67108864
  run --separate-stderr isola inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}' u1
  assert_equal "$output" "67108864 134217728 256 50 500000000"
}

@test "update gives a container started without limits its first ones (a pids limit)" {
  run_detached --name u2 busybox sleep 1000
  isola_ok update --pids-limit 4 u2
  # the sleep, the exec's sh and its children: no more than 4 together
  run isola exec u2 sh -c 'for i in 1 2 3 4 5 6; do sleep 30 & done; echo spawned'
  assert_output_matches "can't fork|Resource temporarily unavailable"
  isola_ok update --pids-limit -1 u2
  run --separate-stderr isola exec u2 sh -c 'for i in 1 2 3 4 5 6; do sleep 1 & done; wait; echo spawned'
  assert_status 0
  assert_equal "$output" spawned
}

@test "update of a stopped container is recorded for its next start" {
  isola_ok create --name u3 busybox sh -c "$READ_LIMITS"
  isola_ok update -m 48m --memory-swap 96m --memory-reservation 24m u3
  run --separate-stderr isola start -a u3
  assert_status 0
  if [ "$TEST_ISOLATION" = vm ]; then
    assert_equal "$(head -3 <<<"$output")" "$(printf '%s\n' 50331648 'no memory.swap.max' 25165824)"
  elif cgroup_v2_inside; then
    assert_equal "$(head -3 <<<"$output")" "$(printf '%s\n' 50331648 50331648 25165824)"
  else
    assert_equal "$(head -3 <<<"$output")" "$(printf '%s\n' 50331648 100663296 25165824)"
  fi
}

@test "update refuses what Docker refuses, and changes nothing then" {
  run_detached --name u4 -m 32m busybox sleep 1000
  run --separate-stderr isola update --memory 128m u4
  assert_status 1
  assert_stderr_matches "Cannot update container [0-9a-f]{64}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
  run --separate-stderr isola update --memory 64m --memory-swap 32m u4
  assert_status 1
  assert_stderr_matches "Minimum memoryswap limit should be larger than memory limit"
  assert_equal "$(cfield u4 '{{.HostConfig.Memory}}')" 33554432
  run --separate-stderr limit_inside u4
  assert_equal "$output" 33554432
  run --separate-stderr isola update u4
  assert_status 1
  assert_stderr_matches "you must provide one or more flags"
  run --separate-stderr isola update --memory 64m nosuch
  assert_status 1
  assert_stderr_matches "No such container: nosuch"
}

@test "update of a VM container's memory beyond its VM's is refused with the way out" {
  only_isolation vm "the VM's size is fixed while it runs"
  run_detached --name u5 -m 64m busybox sleep 1000
  run --separate-stderr isola update --memory 1g --memory-swap 2g u5
  assert_status 1
  assert_stderr_matches "above the VM's memory .*stop the container, update it and start it again"
  assert_equal "$(cfield u5 '{{.HostConfig.Memory}}')" 67108864
}

# ---- pause, unpause ------------------------------------------------------------------------------------------------

# log_lines CONTAINER: how many lines the container has logged.
log_lines() {
  isola logs "$1" 2>/dev/null | wc -l
}

# logged_more CONTAINER N: whether the container has logged more than N lines (counted at each call of wait_until).
logged_more() {
  [ "$(log_lines "$1")" -gt "$2" ]
}

@test "pause stops every process, unpause resumes them; inspect and ps say so" {
  run_detached --name p1 busybox sh -c 'while :; do echo tick; sleep 0.1; done'
  wait_for_log p1 tick
  run --separate-stderr isola pause p1
  assert_status 0
  assert_equal "$output" p1
  assert_equal "$(cfield p1 '{{.State.Status}} {{.State.Paused}} {{.State.Running}}')" "paused true true"
  run ps_column STATUS --filter name=p1
  assert_output_matches '^Up .* \(Paused\)$'
  local n1 n2
  n1=$(log_lines p1)
  sleep 1
  n2=$(log_lines p1)
  assert_equal "$n2" "$n1"
  isola_ok unpause p1
  assert_equal "$(cfield p1 '{{.State.Status}} {{.State.Paused}}')" "running false"
  wait_until 30 logged_more p1 "$n2"
}

@test "pause and unpause refuse what Docker refuses" {
  isola_ok create --name p2 busybox sleep 100
  run --separate-stderr isola pause p2
  assert_status 1
  assert_stderr_matches "Container [0-9a-f]{64} is not running"
  isola_ok start p2
  run --separate-stderr isola unpause p2
  assert_status 1
  assert_stderr_matches "Container [0-9a-f]{64} is not paused"
  isola_ok pause p2
  run --separate-stderr isola pause p2
  assert_status 1
  assert_stderr_matches "Container [0-9a-f]{64} is already paused"
  run --separate-stderr isola exec p2 true
  assert_status 1
  assert_stderr_matches "Container p2 is paused, unpause the container before exec"
  run --separate-stderr isola attach p2
  assert_status 1
  assert_stderr_matches "You cannot attach to a paused container, unpause it first"
}

@test "stop, kill and rm -f of a paused container work: it is thawed first" {
  run_detached --name p3 busybox sleep 1000
  isola_ok pause p3
  run --separate-stderr isola stop -t 1 p3
  assert_status 0
  assert_equal "$(cfield p3 '{{.State.Status}} {{.State.Paused}}')" "exited false"
  isola_ok start p3
  isola_ok pause p3
  isola_ok kill p3
  wait_for_status p3 exited
  assert_equal "$(cfield p3 '{{.State.Paused}}')" false
  isola_ok start p3
  isola_ok pause p3
  isola_ok rm -f p3
  run --separate-stderr isola inspect p3
  assert_status 1
}

# ---- stats ---------------------------------------------------------------------------------------------------------

@test "stats --no-stream: Docker's columns, the container's memory limit, its processes" {
  run_detached --name s1 -m 64m busybox sleep 1000
  run --separate-stderr isola stats --no-stream s1
  assert_status 0
  assert_output_matches '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$'
  assert_output_matches "^${CID:0:12} +s1 +[0-9]+\.[0-9]{2}% +[0-9.]+([KMG]i)?B / 64MiB +[0-9]+\.[0-9]{2}% +0B / 0B +[0-9.]+[kMG]?B / [0-9.]+[kMG]?B +[1-9][0-9]*$"
  run --separate-stderr isola stats --no-stream --no-trunc --format '{{json .}}' s1
  assert_status 0
  assert_jq '.ID == "'"$CID"'" and .Name == "s1" and .Container == "s1" and .NetIO == "0B / 0B"'
  assert_jq '(.MemUsage | endswith(" / 64MiB")) and (.CPUPerc | test("^[0-9]+\\.[0-9]{2}%$")) and (.PIDs | tonumber >= 1)'
  assert_jq 'keys == ["BlockIO","CPUPerc","Container","ID","MemPerc","MemUsage","Name","NetIO","PIDs"]'
}

@test "stats counts the CPU a busy container uses" {
  run_detached --name s2 busybox sh -c 'while :; do :; done'
  run --separate-stderr isola stats --no-stream --format '{{.CPUPerc}}' s2
  assert_status 0
  # a spinning shell uses most of a CPU, even on a loaded machine
  [[ $output =~ ^([0-9]+)\.[0-9]{2}%$ ]] || fail "CPU % '$output'"
  [ "${BASH_REMATCH[1]}" -ge 10 ] || fail "a busy loop used only $output"
}

@test "stats lists the running containers, --all the stopped ones too, and redraws live" {
  run_detached --name s3 busybox sleep 1000
  isola_ok create --name s4 busybox true
  run --separate-stderr isola stats --no-stream --format '{{.Name}} {{.PIDs}}'
  assert_status 0
  assert_equal "$output" "s3 1"
  run --separate-stderr isola stats --no-stream -a --format '{{.Name}} {{.MemUsage}}'
  assert_status 0
  assert_equal "$(sort <<<"$output" | sed -n 2p)" "s4 0B / 0B"
  # live: the screen is cleared and the table drawn again every second, until interrupted
  # (watched until the second table, not for a fixed time: a loaded host may take seconds for the first)
  local f=$BATS_TEST_TMPDIR/stats
  start_attached "$f" stats s3
  redrawn() { [ "$(grep -c 'CONTAINER ID' "$f")" -ge 2 ]; }
  wait_until 30 redrawn || fail "no redraw in: $(cat "$f")"
  kill "$BG_PID"
  wait_bg 30
  grep -qF $'\033[2J\033[H' "$f" || fail "the screen is not cleared: $(cat -v "$f")"
}

@test "stats of an unknown container fails as Docker's" {
  run --separate-stderr isola stats --no-stream nosuch
  assert_status 1
  assert_stderr_matches "No such container: nosuch"
}
