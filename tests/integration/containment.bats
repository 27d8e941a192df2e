#!/usr/bin/env bats
# What a hostile container must not be able to do to the host through what isola gives it (issue 11): own or setuid
# files through a VM's -v share (the guest's root is not the host's), open device nodes it makes itself, fill the
# disk through a VM's serial console.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# ---- a VM's -v share -------------------------------------------------------------------------------------------------

# The attack: root in the guest makes a setuid root file, a setuid file of another user, device nodes and a symlink in
# the shared directory, and changes an existing host file's owner and mode.  It prints what the guest sees.
# shellcheck disable=SC2016 # the script runs in the container
SHARE_ATTACK='
cd /s
echo "#!/bin/sh" >suid && chown 0:0 suid && chmod 6755 suid
echo x >other && chown 4242:4343 other && chmod 4755 other
mknod null c 1 3 && mknod disk b 254 0
ln -s /etc/shadow link
chown 0:0 old && chmod 6777 old
for f in suid other null disk link old; do stat -c "%n %u:%g %a %F" "$f"; done
touch /tmp/done
exec sleep 1000'

@test "hostile share: guest root cannot make a setuid file, a device node or another user's file on the host" {
  only_isolation vm "a process container's root is the host's root (as in Docker); the VM is the boundary"
  local d=$BATS_TEST_TMPDIR/share
  mkdir -p "$d"
  echo host >"$d/old"
  chown 1234:1234 "$d/old"
  chmod 0640 "$d/old"
  run_detached -v "$d:/s" busybox sh -c "$SHARE_ATTACK"
  local i
  for i in $(seq 1 300); do
    isola exec "$CID" test -e /tmp/done 2>/dev/null && break
    sleep 0.2
  done
  # the user the VM's worker (QEMU) runs as: what it creates on the host belongs to it
  local worker
  worker=$(stat -c %u "/proc/$(cfield "$CID" '{{.State.Pid}}')")
  run --separate-stderr isola logs "$CID"
  # the guest sees what it asked for ...
  assert_output_contains "suid 0:0 6755 regular file"
  assert_output_contains "other 4242:4343 4755 regular file"
  assert_output_contains "null 0:0 644 character special file"
  assert_output_contains "disk 0:0 644 block special file"
  assert_output_contains "link 0:0 777 symbolic link"
  assert_output_contains "old 0:0 6777 regular file"
  # ... and the host has plain files of the worker's user, without setuid or setgid bits, and no device or symlink
  for f in suid other null disk link; do
    [ -f "$d/$f" ] && [ ! -L "$d/$f" ] || fail "$f is not a regular file on the host: $(stat -c '%F' "$d/$f")"
    [ "$(stat -c %u "$d/$f")" = "$worker" ] || fail "$f belongs to $(stat -c %u:%g "$d/$f"), not the worker ($worker)"
    [ $((0$(stat -c %a "$d/$f") & 07022)) -eq 0 ] || fail "$f has mode $(stat -c %a "$d/$f") on the host"
  done
  # the host's own file keeps its owner and mode
  assert_equal "$(stat -c '%u:%g %a' "$d/old")" "1234:1234 640"
  assert_equal "$(cat "$d/old")" host
}

@test "hostile share: a VM container sees the host's files with their owners and modes, and its own files work" {
  local d=$BATS_TEST_TMPDIR/share
  mkdir -p "$d/sub"
  echo data >"$d/f"
  chown 1234:2345 "$d/f"
  chmod 0604 "$d/f"
  ln -s f "$d/l"
  run --separate-stderr isola run --rm -v "$d:/s" busybox sh -c '
    stat -c "%n %u:%g %a %F" /s/f /s/l; readlink /s/l; cat /s/f /s/l
    echo new >/s/sub/n && chmod 600 /s/sub/n && chown 7:7 /s/sub/n && stat -c "%n %u:%g %a" /s/sub/n && cat /s/sub/n
    ln -s n /s/sub/nl && cat /s/sub/nl && rm /s/sub/nl'
  assert_status 0
  assert_output_contains "/s/f 1234:2345 604 regular file"
  assert_output_contains "/s/l 0:0 777 symbolic link"
  assert_output_contains "/s/sub/n 7:7 600"
  # QEMU's mapped-xattr reads a symlink's target from the file's content, so a symlink the host made shows as one
  # in the guest but cannot be followed there (README, "Files in VM containers"): the file reads, the link does not
  local readable=2
  [ "$TEST_ISOLATION" != vm ] || readable=1
  [ "$(grep -c '^data$' <<<"$output")" -eq "$readable" ] || fail "the host's file and symlink read: $output"
  [ "$(grep -c '^new$' <<<"$output")" -eq 2 ] || fail "the container's file and symlink read: $output"
  assert_equal "$(cat "$d/sub/n")" new
  [ ! -e "$d/sub/nl" ] || fail "the removed symlink is still on the host"
}

# ---- device nodes ----------------------------------------------------------------------------------------------------

@test "hostile devices: a container can mknod but not open a console, a disk or a device it was not given" {
  # 4:64 is ttyS0 (the host's serial port, or a VM's console), 10:237 loop-control, 254:0 a virtio disk
  # (opened, never read: a serial port that could be opened would wait for input)
  run --separate-stderr isola run --rm busybox timeout 20 sh -c '
    mknod /tmp/ttyS0 c 4 64 && mknod /tmp/lc c 10 237 && mknod /tmp/vda b 254 0 && echo made
    for n in ttyS0 lc vda; do (: >"/tmp/$n") 2>&1; (exec 3<"/tmp/$n") 2>&1; done; true'
  assert_output_contains made
  for n in ttyS0 lc vda; do
    assert_output_contains "can't create /tmp/$n: Operation not permitted"
    assert_output_contains "can't open /tmp/$n: Operation not permitted"
  done
}

@test "hostile devices: /dev/null, zero, full, random, urandom, ptmx and a terminal still work" {
  run --separate-stderr isola run --rm busybox sh -c '
    echo x >/dev/null && head -c4 /dev/zero | wc -c && head -c4 /dev/urandom | wc -c && head -c4 /dev/random | wc -c
    (echo x >/dev/full) 2>&1; test -c /dev/ptmx && echo ptmx'
  assert_status 0
  assert_equal "$(grep -c '^4$' <<<"$output")" 3
  assert_output_contains "No space left on device"
  assert_output_contains ptmx
  run timeout 120 script -qec "$ISOLA run --rm -t busybox sh -c 'echo hi >/dev/tty && tty && echo tty-ok'" /dev/null
  assert_output_contains tty-ok
  assert_output_contains /dev/pts/
}

@test "hostile devices: --device nodes can be opened as their permissions say, --privileged opens anything" {
  only_isolation process "a VM container has no host devices"
  [ -c /dev/loop-control ] || skip "no /dev/loop-control on this host"
  run --separate-stderr isola run --rm --device /dev/loop-control:/dev/lc:r busybox sh -c \
    '(head -c0 /dev/lc && echo read-ok) 2>&1; (echo >/dev/lc) 2>&1; true'
  assert_output_contains read-ok
  assert_output_contains "can't create /dev/lc: Operation not permitted"
  run --separate-stderr isola run --rm --privileged busybox sh -c \
    'mknod /tmp/lc c 10 237 && (head -c0 /tmp/lc && echo read-ok) 2>&1'
  assert_output_contains read-ok
}

# ---- a pure cgroup v1 host ---------------------------------------------------------------------------------------

# require_hybrid_or_v1: skips on a cgroup v2 host (no v1 hierarchies to fall back to) or one without the v1 devices
# controller.
require_hybrid_or_v1() {
  [ ! -e /sys/fs/cgroup/cgroup.controllers ] || skip "a cgroup v2 host has no v1 hierarchies"
  [ -e /sys/fs/cgroup/devices/devices.allow ] || skip "no v1 devices controller"
}

# isola_v1 ARGS...: the CLI in a mount namespace of its own in which the host has no cgroup v2 hierarchy at all (a
# hybrid host's unified one unmounted, as bench/run.sh does for crun): what isola sees on a pure cgroup v1 host.  The
# monitors it starts stay in that namespace.
isola_v1() {
  unshare -m sh -c '
    if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then umount /sys/fs/cgroup/unified || exit 99; fi
    exec "$@"' sh timeout "$ISOLA_TIMEOUT" "$ISOLA" "$@"
}

# The attack of the tests above, run, exec'd and with --device, where only the v1 devices controller can refuse it.
@test "hostile devices on a pure cgroup v1 host: mknod'd kmsg, console and disk cannot be opened, --device can" {
  only_isolation process "a VM's guest has a cgroup v2 of its own; the host's v1 case of a VM is the next test"
  require_hybrid_or_v1
  # 1:11 kmsg, 5:1 console, 8:0 a SCSI disk, 254:0 a virtio disk (opened, never read)
  # shellcheck disable=SC2016 # the script runs in the container
  local attack='
    mknod /tmp/kmsg c 1 11 && mknod /tmp/console c 5 1 && mknod /tmp/sda b 8 0 && mknod /tmp/vda b 254 0 && echo made
    for n in kmsg console sda vda; do (: >"/tmp/$n") 2>&1; (exec 3<"/tmp/$n") 2>&1; done
    echo x >/dev/null && head -c4 /dev/zero | wc -c'
  run --separate-stderr isola_v1 run --rm busybox timeout 20 sh -c "$attack"
  assert_status 0
  assert_output_contains made
  for n in kmsg console sda vda; do
    assert_output_contains "can't create /tmp/$n: Operation not permitted"
    assert_output_contains "can't open /tmp/$n: Operation not permitted"
  done
  assert_output_contains 4
  # the same for a process exec'd into a running container: it joins the container's devices cgroup
  run --separate-stderr isola_v1 run -d --name v1dev busybox sleep 1000
  assert_status 0
  local id=$output
  [ -e "/sys/fs/cgroup/devices/isola/$id/devices.list" ] || fail "no v1 devices cgroup for $id"
  run --separate-stderr isola_v1 exec v1dev timeout 20 sh -c "$attack"
  assert_output_contains made
  assert_output_contains "can't open /tmp/kmsg: Operation not permitted"
  assert_output_contains "can't open /tmp/sda: Operation not permitted"
  isola_ok rm -f v1dev
  [ -z "$(container_cgroup_dirs "$id")" ] || fail "cgroups left: $(container_cgroup_dirs "$id")"
  # --device: as its permissions say; --privileged: anything
  if [ -c /dev/loop-control ]; then
    run --separate-stderr isola_v1 run --rm --device /dev/loop-control:/dev/lc:r busybox sh -c \
      '(head -c0 /dev/lc && echo read-ok) 2>&1; (echo >/dev/lc) 2>&1; true'
    assert_output_contains read-ok
    assert_output_contains "can't create /dev/lc: Operation not permitted"
  fi
  run --separate-stderr isola_v1 run --rm --privileged busybox sh -c \
    'mknod /tmp/lc c 10 237 && (head -c0 /tmp/lc && echo read-ok) 2>&1'
  assert_output_contains read-ok
}

@test "a pure cgroup v1 host: the container (a VM's worker) is in its v1 cgroups, its limits hold, rm -f removes them" {
  require_hybrid_or_v1
  run --separate-stderr isola_v1 run -d --name v1cg -m 300m busybox sleep 1000
  assert_status 0
  local id=$output c pid
  pid=$(cfield v1cg '{{.State.Pid}}')
  track_pid "$pid"
  for c in pids freezer devices memory cpuacct; do
    [ -d "/sys/fs/cgroup/$c" ] || continue
    [ -d "/sys/fs/cgroup/$c/isola/$id" ] || fail "not in a v1 $c cgroup: $(container_cgroup_dirs "$id")"
  done
  [ ! -e "/sys/fs/cgroup/unified/isola/$id" ] || fail "a cgroup v2 was made where there is none"
  # what runs the container (its first process; a VM's worker) is in them
  local procs
  procs=$(cat "/sys/fs/cgroup/pids/isola/$id/cgroup.procs")
  [ -n "$procs" ] || fail "nothing in the container's pids cgroup"
  assert_equal "$(cat "/sys/fs/cgroup/devices/isola/$id/cgroup.procs")" "$procs"
  [ "$(cat "/sys/fs/cgroup/memory/isola/$id/memory.limit_in_bytes")" -ge $((300 << 20)) ] ||
    fail "memory limit: $(cat "/sys/fs/cgroup/memory/isola/$id/memory.limit_in_bytes")"
  run --separate-stderr isola_v1 exec v1cg echo in
  assert_status 0
  assert_equal "$output" in
  # the v1 freezer pauses a process container (inside the namespace: outside it isola would look for the v2 one);
  # QMP a VM
  run --separate-stderr isola_v1 pause v1cg
  assert_status 0
  [ "$TEST_ISOLATION" = vm ] || assert_equal "$(cat "/sys/fs/cgroup/freezer/isola/$id/freezer.state")" FROZEN
  run --separate-stderr isola_v1 unpause v1cg
  assert_status 0
  isola_ok rm -f v1cg
  [ -z "$(container_cgroup_dirs "$id")" ] || fail "cgroups left: $(container_cgroup_dirs "$id")"
}

# ---- a VM's console --------------------------------------------------------------------------------------------------

@test "hostile console: 1.5 MB written to a VM's serial console leave at most 1 MiB in a private console.log" {
  only_isolation vm "a process container has no console log"
  # --privileged: the device rules would refuse the node (test above); the log's bound must hold without them.
  # 1.5 MB: TCG emulates the serial port at ~15-50 KB/s on a loaded host (5 MiB go through the copier in
  # test_vmconsole)
  run_detached --privileged busybox sh -c \
    'mknod /tmp/ttyS0 c 4 64 && head -c 1500000 /dev/zero | tr "\0" x >/tmp/ttyS0; echo wrote $?; exec sleep 1000'
  local log=$ISOLA_ROOT/containers/$CID/console.log i
  for i in $(seq 1 600); do
    isola logs "$CID" 2>/dev/null | grep -q wrote && break
    sleep 0.5
  done
  run isola logs "$CID"
  assert_output_contains "wrote 0"
  [ -f "$log" ] || fail "no console.log"
  assert_equal "$(stat -c %a "$log")" 600
  local size
  size=$(stat -c %s "$log")
  [ "$size" -le 1048576 ] || fail "console.log holds $size bytes"
  [ "$size" -ge 100000 ] || fail "console.log holds only $size bytes: the flood did not reach it"
  # the latest part is kept
  [ "$(tail -c 100 "$log" | tr -d x | wc -c)" -eq 0 ] || fail "the log does not end with the flood"
  # without --privileged the node cannot even be opened
  run --separate-stderr isola run --rm busybox sh -c 'mknod /tmp/ttyS0 c 4 64 && echo x >/tmp/ttyS0'
  assert_status 1
  assert_stderr_matches "can't create /tmp/ttyS0: Operation not permitted"
}
