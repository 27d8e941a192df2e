#!/usr/bin/env bats
# A container whose monitor no longer does its job: stopped (SIGSTOP) or stuck without answering its socket (frozen
# in a cgroup of the test's own).  Docker's `rm -f` and `kill` end such a container whatever its shim does; so do
# isola's `rm -f`, `stop` and `kill`: a bounded wait, then the monitor is killed (found by the running lock it holds,
# through a pidfd), its processes and cgroups with it, and the exit recorded (137).  Both isolation modes (VM_FILES).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# A hang becomes a failure (124): before the fix each of these verbs waited for ever.
# shellcheck disable=SC2034 # read by the isola function
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() {
  FROZEN_CG=
  container_setup
}
teardown() {
  local p
  # a monitor still stopped or frozen must be able to die in teardown
  for p in ${STOPPED_PIDS:-}; do kill -CONT "$p" 2>/dev/null || true; done
  if [ -n "$FROZEN_CG" ] && [ -d "$FROZEN_CG" ]; then
    echo 0 >"$FROZEN_CG/cgroup.freeze" 2>/dev/null || true
    while read -r p; do echo "$p" >"$(dirname "$FROZEN_CG")/cgroup.procs" 2>/dev/null || true; done <"$FROZEN_CG/cgroup.procs"
  fi
  container_teardown
  [ -z "$FROZEN_CG" ] || rmdir "$FROZEN_CG" 2>/dev/null || true
}

# monitor_of ID: the PID of the container's monitor (its recorded MonitorPid).
monitor_of() {
  jq -r .MonitorPid "$ISOLA_ROOT/containers/$1/state.json"
}

# gone PID: the process no longer runs (a zombie waiting for init counts as gone).
gone() {
  [ ! -e "/proc/$1" ] || [ "$(pidstat_zombie "$1")" = Z ]
}

# start_wedgeable NAME: a running container; sets CID, MON (its monitor) and KIDS (the monitor's children: the
# container's first process, or a VM's worker and console copier).
start_wedgeable() {
  run_detached --name "$1" busybox sleep 1000
  MON=$(monitor_of "$CID")
  [[ $MON =~ ^[0-9]+$ ]] && [ "$MON" -gt 1 ] || fail "no monitor PID for $CID: '$MON'"
  KIDS=$(pgrep -P "$MON" | tr '\n' ' ')
  [ -n "$KIDS" ] || fail "the monitor $MON has no children"
  local p
  for p in $KIDS; do track_pid "$p"; done
}

# stop_monitor: SIGSTOP to the monitor, once the kernel shows it stopped.
stop_monitor() {
  STOPPED_PIDS="${STOPPED_PIDS:-} $MON"
  kill -STOP "$MON"
  wait_until 10 eval "[ \"\$(pidstat_zombie $MON)\" = T ]"
}

# assert_ended: the monitor and its children are gone, and so are the container's cgroups and mounts.
assert_ended() {
  local p
  for p in $MON $KIDS; do
    wait_until 10 gone "$p" || fail "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)) still runs"
  done
  [ -z "$(container_cgroup_dirs "$CID")" ] || fail "cgroups left: $(container_cgroup_dirs "$CID")"
  [ -z "$(mounts_of "$ISOLA_ROOT")" ] || fail "mounts left: $(mounts_of "$ISOLA_ROOT")"
}

# assert_nothing_left: assert_ended, and no record, process or temporary entry of the root either.
assert_nothing_left() {
  assert_ended
  [ ! -e "$ISOLA_ROOT/containers/$CID" ] || fail "the container's directory is still there"
  run --separate-stderr isola ps -aq
  assert_status 0
  assert_output_empty
  [ -z "$(procs_of_root)" ] || fail "processes of the root left: $(procs_of_root)"
  [ -z "$(ls -A "$ISOLA_ROOT/tmp")" ] || fail "tmp/ not empty: $(ls -A "$ISOLA_ROOT/tmp")"
}

# assert_exited_137: the container is recorded as ended by SIGKILL, with the reason.
assert_exited_137() {
  run --separate-stderr isola inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}' "$CID"
  assert_status 0
  assert_output_matches "^exited 137 the container's monitor did not answer and was killed$"
}

@test "rm -f of a running container whose monitor is stopped (SIGSTOP) kills it and leaves nothing" {
  start_wedgeable w-rm
  stop_monitor
  local t0
  t0=$(now_ms)
  run --separate-stderr isola rm -f w-rm
  echo "# rm -f of a stopped monitor's container: $(($(now_ms) - t0)) ms" >&3
  assert_status 0
  assert_equal "$output" w-rm
  assert_nothing_left
  # the name is free again
  run_detached --name w-rm busybox true
}

@test "stop of a running container whose monitor is stopped ends it: exit 137, nothing left running" {
  start_wedgeable w-stop
  stop_monitor
  run --separate-stderr isola stop -t 1 w-stop
  assert_status 0
  assert_equal "$output" w-stop
  assert_ended
  assert_exited_137
  isola_ok rm w-stop
  assert_nothing_left
}

@test "kill of a running container whose monitor is stopped ends it: exit 137; other signals fail clearly in a VM" {
  start_wedgeable w-kill
  stop_monitor
  if [ "$TEST_ISOLATION" = vm ]; then
    # only the monitor reaches a VM's processes: a signal it cannot pass on is an error, not a hang
    run --separate-stderr isola kill -s USR1 w-kill
    assert_status 1
    assert_stderr_matches "the monitor of container ${CID:0:12} does not answer"
  fi
  run --separate-stderr isola kill w-kill
  assert_status 0
  assert_ended
  assert_exited_137
  isola_ok rm w-kill
  assert_nothing_left
}

# frozen_v2_cgroup: a cgroup v2 of the test's own (the unified hierarchy of a hybrid host, or the v2 root), in
# FROZEN_CG; skips where there is none.
frozen_v2_cgroup() {
  local root
  for root in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [ -e "$root/cgroup.controllers" ] && break
    root=
  done
  [ -n "$root" ] || skip "no cgroup v2 hierarchy to freeze a monitor in"
  FROZEN_CG=$root/isola-test-wedged-$$-$BATS_TEST_NUMBER
  mkdir "$FROZEN_CG"
  [ -e "$FROZEN_CG/cgroup.freeze" ] || skip "no cgroup.freeze (kernel before 5.2)"
}

@test "rm -f of a container whose monitor is stuck (frozen, not answering its socket) kills it after a bounded wait" {
  frozen_v2_cgroup
  start_wedgeable w-stuck
  echo "$MON" >"$FROZEN_CG/cgroup.procs"
  echo 1 >"$FROZEN_CG/cgroup.freeze"
  wait_until 10 grep -qx 'frozen 1' "$FROZEN_CG/cgroup.events"
  local t0
  t0=$(now_ms)
  run --separate-stderr isola rm -f w-stuck
  echo "# rm -f of a frozen monitor's container: $(($(now_ms) - t0)) ms" >&3
  assert_status 0
  assert_nothing_left
}
