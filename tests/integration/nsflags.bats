#!/usr/bin/env bats
# run/create's namespace and kernel flags as Docker has them (--ipc, --pid, --uts, --userns, --cgroupns, --sysctl,
# --device, --group-add, --shm-size, --volumes-from), shown by inspect where Docker shows them; what VM isolation
# refuses (sharing the host's or another container's namespace, host devices); and the small things of Docker's
# that containers have (/etc/mtab, no /dev/core).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# ---- defaults in inspect -------------------------------------------------------------------------------------------

@test "inspect shows Docker's defaults: IpcMode private, ShmSize 64m, empty PidMode/UTSMode/UsernsMode, Devices []" {
  isola_ok create --name ctr busybox true
  run --separate-stderr isola inspect -f '{{.HostConfig.IpcMode}}|{{.HostConfig.ShmSize}}|{{.HostConfig.PidMode}}|{{.HostConfig.UTSMode}}|{{.HostConfig.UsernsMode}}|{{.HostConfig.CgroupnsMode}}|{{json .HostConfig.Devices}}' ctr
  assert_status 0
  assert_equal "$output" "private|67108864||||private|[]"
}

# ---- /dev/shm ------------------------------------------------------------------------------------------------------

@test "--shm-size sets the size of /dev/shm (64m by default) and is HostConfig.ShmSize" {
  run --separate-stderr isola run --rm busybox sh -c "df -k /dev/shm | awk 'NR == 2 { print \$2 }'"
  assert_status 0
  assert_equal "$output" 65536
  run --separate-stderr isola run --name ctr --shm-size 32m busybox sh -c "df -k /dev/shm | awk 'NR == 2 { print \$2 }'"
  assert_status 0
  assert_equal "$output" 32768
  assert_equal "$(cfield ctr '{{.HostConfig.ShmSize}}')" 33554432
  run --separate-stderr isola run --rm --shm-size nope busybox true
  assert_status 125
}

@test "--ipc none has no /dev/shm; private and shareable have one; inspect shows IpcMode; a bad mode is refused" {
  run --separate-stderr isola run --name nn --ipc none busybox sh -c 'grep -c " /dev/shm " /proc/mounts; true'
  assert_status 0
  assert_equal "$output" 0
  assert_equal "$(cfield nn '{{.HostConfig.IpcMode}}')" none
  for mode in private shareable; do
    run --separate-stderr isola run --rm --ipc "$mode" busybox sh -c 'grep -c " /dev/shm tmpfs " /proc/mounts'
    assert_status 0
    assert_equal "$output" 1
  done
  run --separate-stderr isola run --rm --ipc bogus busybox true
  assert_status 125
  assert_stderr_matches 'invalid IPC mode: bogus'
}

# ---- sysctls -------------------------------------------------------------------------------------------------------

@test "--sysctl sets namespaced keys in the container (kernel.shmmax, net.ipv4.ip_forward) and is HostConfig.Sysctls" {
  run --separate-stderr isola run --name ctr --sysctl kernel.shmmax=123456789 --sysctl net.ipv4.ip_forward=1 busybox \
    sh -c 'cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward'
  assert_status 0
  assert_equal "$output" "123456789
1"
  assert_equal "$(cfield ctr '{{json .HostConfig.Sysctls}}')" '{"kernel.shmmax":"123456789","net.ipv4.ip_forward":"1"}'
}

@test "--sysctl refuses keys that are not namespaced, and net.* with the host's network" {
  run --separate-stderr isola run --rm --sysctl kernel.hostname=x busybox true
  assert_status 125
  assert_stderr_matches "sysctl 'kernel.hostname=x' is not whitelisted"
  run --separate-stderr isola run --rm --sysctl vm.swappiness=1 busybox true
  assert_status 125
  run --separate-stderr isola run --rm --sysctl noequals busybox true
  assert_status 125
  run --separate-stderr isola run --rm --network host --sysctl net.ipv4.ip_forward=1 busybox true
  assert_status 125
  assert_stderr_matches 'not allowed in host network namespace'
  run --separate-stderr isola run --rm --ipc host --sysctl kernel.shmmax=1 busybox true
  assert_status 125
  assert_stderr_matches 'kernel.shmmax'
  [ -z "$(isola ps -aq)" ] || fail "a refused container was made"
}

# ---- groups --------------------------------------------------------------------------------------------------------

@test "--group-add adds groups by GID and by name (the container's /etc/group), for exec too" {
  # one container: its first process prints its groups, then an exec prints its own (www-data is GID 33 by name)
  run_detached --group-add www-data --group-add mail --group-add 4242 busybox sh -c 'id -G; echo end; exec sleep 1000'
  wait_for_log "$CID" end
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$output" "0 8 10 33 4242
end"
  run --separate-stderr isola exec "$CID" id -G
  assert_status 0
  assert_equal "$output" "0 8 10 33 4242"
  assert_equal "$(cfield "$CID" '{{json .HostConfig.GroupAdd}}')" '["www-data","mail","4242"]'
  run --separate-stderr isola run --rm --group-add nosuchgroup busybox true
  assert_status_in "125"
  assert_stderr_matches 'nosuchgroup'
}

# ---- volumes from another container --------------------------------------------------------------------------------

@test "--volumes-from mounts another container's volumes and binds, :ro read-only; inspect shows VolumesFrom" {
  local dir=$BATS_TEST_TMPDIR/bind
  mkdir -p "$dir"
  echo from-bind >"$dir/f"
  isola_ok run --name src -v data:/data -v "$dir:/bind" busybox sh -c 'echo from-volume > /data/f'
  run --separate-stderr isola run --name dst --volumes-from src busybox sh -c 'cat /data/f /bind/f; echo more >> /data/f'
  assert_status 0
  assert_equal "$output" "from-volume
from-bind"
  assert_equal "$(cfield dst '{{json .HostConfig.VolumesFrom}}')" '["src"]'
  run --separate-stderr isola run --rm --volumes-from src:ro busybox sh -c 'cat /data/f; echo x > /data/g'
  [ "$status" -ne 0 ] || fail "a write to a :ro volume succeeded"
  assert_output_contains "more"
  run --separate-stderr isola run --rm --volumes-from nosuch busybox true
  assert_status 125
  assert_stderr_matches 'No such container: nosuch'
  run --separate-stderr isola run --rm --volumes-from src:xx busybox true
  assert_status 125
}

@test "--volumes-from: the request's own mount on the same destination wins" {
  isola_ok create --name src -v one:/data busybox true
  run --separate-stderr isola run --rm -v two:/data --volumes-from src busybox sh -c 'echo x > /data/mark'
  assert_status 0
  assert_equal "$(isola volume inspect -f '{{.Mountpoint}}' two)/mark" "$(ls "$(isola volume inspect -f '{{.Mountpoint}}' two)"/mark)"
  [ ! -e "$(isola volume inspect -f '{{.Mountpoint}}' one)/mark" ] || fail "the other container's volume got the write"
}

# ---- namespaces: what a VM refuses ---------------------------------------------------------------------------------

@test "VM isolation refuses the host's or another container's namespaces and host devices, with exit 125" {
  only_isolation vm "a VM's kernel is its own"
  # the container to join exists (one that does not is refused first, as dockerd does at create)
  local x
  x=$(isola create --name xx busybox true) || fail "create xx"
  for opts in "--pid host" "--ipc host" "--uts host" "--pid container:xx" "--ipc container:xx" "--device /dev/null"; do
    # shellcheck disable=SC2086
    run --separate-stderr isola run --rm $opts busybox true
    assert_status 125
    assert_stderr_matches 'not supported with VM isolation'
  done
  [ "$(isola ps -aq --no-trunc)" = "$x" ] || fail "a refused container was made"
}

@test "--userns host and --cgroupns are accepted; --userns private and bad modes are refused" {
  run --separate-stderr isola run --rm --userns host --cgroupns private busybox true
  assert_status 0
  run --separate-stderr isola run --name ctr --cgroupns host busybox true
  assert_status 0
  assert_equal "$(cfield ctr '{{.HostConfig.CgroupnsMode}}')" host
  for opts in "--userns private" "--userns bogus" "--cgroupns bogus" "--pid bogus" "--uts bogus"; do
    # shellcheck disable=SC2086
    run --separate-stderr isola run --rm $opts busybox true
    assert_status 125
  done
}

# ---- namespaces: process isolation ---------------------------------------------------------------------------------

@test "--pid host: the container sees the host's processes, and exec works in it" {
  only_isolation process "a VM cannot share the host's PID namespace"
  run_detached --pid host busybox sleep 1000
  run --separate-stderr isola exec "$CID" sh -c 'readlink /proc/self/ns/pid; ls /proc | grep -c "^[0-9]"'
  assert_status 0
  assert_equal "$(head -1 <<<"$output")" "$(readlink /proc/self/ns/pid)"
  [ "$(tail -1 <<<"$output")" -gt 10 ] || fail "the container sees only $(tail -1 <<<"$output") processes"
  assert_equal "$(cfield "$CID" '{{.HostConfig.PidMode}}')" host
  # top lists the container's processes (its cgroup's), not the host's
  run --separate-stderr isola top "$CID"
  assert_status 0
  assert_equal "$(wc -l <<<"$output")" 2
  assert_output_contains "sleep 1000"
}

@test "--pid container:NAME shares a running container's PID namespace; a stopped one is refused" {
  only_isolation process "a VM cannot share another VM's PID namespace"
  run_detached --name first busybox sleep 1000
  run --separate-stderr isola run --rm --pid container:first busybox sh -c 'cat /proc/1/cmdline | tr "\0" " "'
  assert_status 0
  assert_equal "$output" "sleep 1000 "
  isola_ok create --name stopped busybox true
  run --separate-stderr isola run --rm --pid container:stopped busybox true
  assert_status 125
  assert_stderr_matches 'cannot join PID of a non running container: stopped'
  run --separate-stderr isola run --rm --pid container:nosuch busybox true
  assert_status 125
  assert_stderr_matches 'nosuch'
}

@test "--ipc container:NAME joins a shareable container's IPC namespace and /dev/shm; a private one is refused" {
  only_isolation process "a VM cannot share another VM's IPC namespace"
  run_detached --name donor --ipc shareable busybox sh -c 'echo shared > /dev/shm/f; sleep 1000'
  wait_until 30 bash -c "'$ISOLA' exec donor test -e /dev/shm/f"
  local theirs
  theirs=$(isola exec donor readlink /proc/self/ns/ipc)
  run --separate-stderr isola run --rm --ipc container:donor busybox sh -c 'readlink /proc/self/ns/ipc; cat /dev/shm/f'
  assert_status 0
  assert_equal "$output" "$theirs
shared"
  run_detached --name private busybox sleep 1000
  run --separate-stderr isola run --rm --ipc container:private busybox true
  assert_status 125
  assert_stderr_matches 'non-shareable IPC'
}

@test "--ipc host and --uts host share the host's namespaces" {
  only_isolation process "a VM cannot share the host's namespaces"
  run --separate-stderr isola run --rm --ipc host --uts host busybox sh -c \
    'readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname'
  assert_status 0
  assert_equal "$output" "$(readlink /proc/self/ns/ipc)
$(readlink /proc/self/ns/uts)
$(hostname)"
}

@test "--cgroupns host: the container sees its cgroup's path from the host's root" {
  only_isolation process "a VM's guest has its own cgroup root"
  run --separate-stderr isola run --rm --cgroupns host busybox cat /proc/self/cgroup
  assert_status 0
  assert_output_contains "isola/"
  run --separate-stderr isola run --rm busybox cat /proc/self/cgroup
  assert_status 0
  refute_output_contains "isola/"
}

@test "--device makes the host's node in the container, with a path of its own" {
  only_isolation process "a VM's guest has no host devices"
  run --separate-stderr isola run --name ctr --device /dev/null:/dev/mynull --device /dev/zero busybox sh -c \
    'stat -c "%t %T %F" /dev/mynull /dev/zero; echo x > /dev/mynull && head -c 3 /dev/zero | od -An -tx1'
  assert_status 0
  assert_equal "$output" "1 3 character special file
1 5 character special file
 00 00 00"
  assert_equal "$(cfield ctr '{{json .HostConfig.Devices}}')" \
    '[{"PathOnHost":"/dev/null","PathInContainer":"/dev/mynull","CgroupPermissions":"rwm"},{"PathOnHost":"/dev/zero","PathInContainer":"/dev/zero","CgroupPermissions":"rwm"}]'
  # Docker's CLI exits with 127 here: its message says "no such file or directory"
  run -127 --separate-stderr isola run --rm --device /dev/nosuch busybox true
  assert_stderr_matches 'error gathering device information while adding custom device "/dev/nosuch"'
  run --separate-stderr isola run --rm --device /dev/null:relative busybox true
  assert_status 125
  assert_stderr_matches 'relative is not an absolute path'
}

# ---- Docker's small things -----------------------------------------------------------------------------------------

@test "/etc/mtab is a link to /proc/mounts, and /dev has no core link, as in Docker's containers" {
  run --separate-stderr isola run --rm busybox sh -c 'readlink /etc/mtab; test -e /dev/core || test -L /dev/core || echo no-core'
  assert_status 0
  assert_equal "$output" "/proc/mounts
no-core"
}

@test "ps quotes COMMAND as Docker: arguments with a space in single quotes, then the whole as a Go string" {
  only_isolation process "the listing does not depend on the isolation mode"
  isola_ok create --name ctr busybox sh -c 'exit 4'
  run --separate-stderr isola ps -a --format '{{.Command}}'
  assert_status 0
  assert_equal "$output" "\"sh -c 'exit 4'\""
  isola_ok rm ctr
  isola_ok create --name ctr busybox echo 'say "hi"' 'a\b'
  run --separate-stderr isola ps -a --no-trunc --format '{{.Command}}'
  assert_equal "$output" "\"echo 'say \\\"hi\\\"' a\\\\b\""
}

@test "inspect of a name that is nothing says 'No such object', as Docker" {
  only_isolation process "inspect does not depend on the isolation mode"
  run --separate-stderr isola inspect nosuchthing
  assert_status 1
  assert_equal "$output" "[]"
  assert_stderr_matches '^Error: No such object: nosuchthing$'
}
