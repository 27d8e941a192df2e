#!/usr/bin/env bats
# Restart policies (--restart): Docker's checks, the monitor's restarts with back-off, RestartCount and the
# "restarting" state, manual stops, `wait` and `restart` with a policy, and `start --all` (what a boot runs).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# restarts_of C: its RestartCount.
restarts_of() {
  cfield "$1" '{{.RestartCount}}'
}

# restarted_at_least C N: it has been restarted N times or more.
restarted_at_least() {
  local n
  n=$(restarts_of "$1") && [ "$n" -ge "$2" ]
}

# monitor_of ID: the PID of the container's monitor.
monitor_of() {
  local p
  for p in $(pgrep -f "isola-monitor $ISOLA_ROOT $1"); do
    # not a VM's console copier, a fork of the monitor with its command line
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" != isola-monitor ] || echo "$p"
  done | head -n1
}

@test "--restart is checked as Docker checks it, and inspect shows HostConfig.RestartPolicy" {
  run --separate-stderr isola create --restart bogus busybox true
  assert_status 1
  assert_stderr_matches "invalid restart policy 'bogus'"
  run --separate-stderr isola create --restart always:3 busybox true
  assert_status 1
  assert_stderr_matches "maximum retry count cannot be used with restart policy 'always'"
  run --separate-stderr isola create --restart on-failure:x busybox true
  assert_status 125
  assert_stderr_matches "maximum retry count must be an integer"
  run --separate-stderr isola create --restart on-failure:-1 busybox true
  assert_status 1
  assert_stderr_matches "maximum retry count cannot be negative"
  run --separate-stderr isola run --rm --restart always busybox true
  assert_status 125
  assert_stderr_matches "Conflicting options: --restart and --rm"
  run --separate-stderr isola ps -aq
  assert_output_empty
  isola_ok create --name r1 --restart on-failure:2 busybox true
  isola_ok create --name r2 busybox true
  assert_equal "$(cfield r1 '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}')" \
    "on-failure 2"
  assert_equal "$(cfield r2 '{{.HostConfig.RestartPolicy.Name}} {{.RestartCount}}')" "no 0"
}

@test "on-failure:N restarts a failing container N times, logs append, and it ends exited with RestartCount N" {
  run_detached --name of --restart on-failure:2 busybox sh -c 'echo run; exit 3'
  wait_until 60 restarted_at_least of 2
  wait_for_status of exited 60
  assert_equal "$(cfield of '{{.RestartCount}} {{.State.ExitCode}} {{.State.Restarting}}')" "2 3 false"
  run --separate-stderr isola logs of
  assert_status 0
  assert_equal "$output" $'run\nrun\nrun'
  # a success is not a failure: no restart
  run_detached --name ok --restart on-failure busybox true
  wait_for_status ok exited
  sleep 0.5
  assert_equal "$(cfield ok '{{.RestartCount}} {{.State.Status}}')" "0 exited"
}

@test "always: restarts with Docker's back-off; ps and inspect show it restarting; stop ends it for good" {
  # Back-off: 100, 200, 400, 800, 1600 ms...: after 4 restarts it waits 1.6 s, long enough to be seen restarting.
  run_detached --name al --restart always busybox sh -c 'exit 3'
  wait_until 90 restarted_at_least al 4
  # Each view is looked at until it shows a wait between runs: the container runs again between them (for seconds
  # in a VM), and a loaded machine may spend a whole 1.6 s wait on one CLI call.
  seen_restarting() {
    [ "$(cfield al '{{.State.Running}} {{.State.Restarting}} {{.State.Pid}} {{.State.ExitCode}}')" = "true true 0 3" ]
  }
  wait_until 60 seen_restarting || fail "never restarting: $(isola inspect -f '{{json .State}}' al)"
  ps_restarting() { isola ps --format '{{.Names}} {{.Status}}' | grep -qE '^al Restarting \(3\) .* ago$'; }
  wait_until 60 ps_restarting || fail "ps: $(isola ps --format '{{.Names}} {{.Status}}')"
  # (attach in a run in between attaches, and ends with the run's exit)
  attach_refused() {
    run --separate-stderr isola attach al
    [[ $status =~ ^(1|125)$ ]] && [[ $stderr == *"is restarting, wait until the container is running"* ]]
  }
  wait_until 60 attach_refused || fail "attach: $status, $stderr"
  run --separate-stderr isola stop al
  assert_status 0
  assert_equal "$(cfield al '{{.State.Status}} {{.State.Running}} {{.State.Restarting}}')" "exited false false"
  local n
  n=$(restarts_of al)
  sleep 2
  assert_equal "$(cfield al '{{.State.Status}}')" exited
  assert_equal "$(restarts_of al)" "$n"
}

@test "a manual stop or kill of a running container with a policy does not restart it" {
  run_detached --name s1 --restart always busybox sh -c 'echo up; exec sleep 1000'
  run_detached --name k1 --restart unless-stopped busybox sh -c 'echo up; exec sleep 1000'
  wait_for_log s1 up
  wait_for_log k1 up
  isola_ok stop -t 1 s1
  isola_ok kill k1
  wait_for_status k1 exited
  sleep 1
  assert_equal "$(cfield s1 '{{.State.Status}} {{.RestartCount}}')" "exited 0"
  assert_equal "$(cfield k1 '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}')" "exited 0 137"
}

@test "a container killed from inside restarts (not a manual stop), and keeps its files" {
  # The first run leaves a mark and fails; the second finds it and stays up.
  run_detached --name fl --restart on-failure busybox sh -c \
    'if [ -e /mark ]; then echo again; exec sleep 1000; fi; touch /mark; echo first; exit 1'
  wait_for_log fl again
  wait_for_status fl running
  assert_equal "$(restarts_of fl)" 1
  run --separate-stderr isola logs fl
  assert_equal "$output" $'first\nagain'
  # restart is a stop and a start by the user: the count starts over
  isola_ok restart -t 1 fl
  wait_for_status fl running
  assert_equal "$(restarts_of fl)" 0
}

@test "wait returns at the next exit, also one after which the container restarts, as docker wait does" {
  run_detached --name wt --restart always busybox sh -c 'sleep 1; exit 5'
  run --separate-stderr isola wait wt
  assert_status 0
  assert_equal "$output" 5
  # it is still running (or about to run again), not stopped
  run cfield wt '{{.State.Running}}'
  assert_equal "$output" true
  # a manual stop while wait waits: wait returns with the stop's exit code
  isola wait wt >"$BATS_TEST_TMPDIR/wait.out" &
  local waiter=$!
  sleep 0.5
  isola_ok stop -t 0 wt
  wait "$waiter"
  [[ $(cat "$BATS_TEST_TMPDIR/wait.out") =~ ^(5|137)$ ]] || fail "wait printed '$(cat "$BATS_TEST_TMPDIR/wait.out")'"
  assert_equal "$(cfield wt '{{.State.Status}}')" exited
}

@test "start --all starts what a boot would: always, and unless-stopped unless a user stopped it" {
  run_detached --name a-stopped --restart always busybox sleep 1000
  run_detached --name u-stopped --restart unless-stopped busybox sleep 1000
  run_detached --name u-crashed --restart unless-stopped busybox sleep 1000
  isola_ok create --name n-created busybox sleep 1000
  run_detached --name f-exited --restart on-failure busybox true
  isola_ok stop -t 0 a-stopped u-stopped
  # the host went down under u-crashed: its monitor and its processes are gone, its record says running
  local pid mon
  pid=$(cfield u-crashed '{{.State.Pid}}')
  mon=$(monitor_of "$(cfield u-crashed '{{.Id}}')")
  [ -n "$mon" ] || fail "no monitor found for u-crashed"
  kill -9 "$mon"
  kill_container_pid "$pid"
  wait_for_status f-exited exited
  run --separate-stderr isola start --all
  assert_status 0
  assert_equal "$(sort <<<"$output")" $'a-stopped\nu-crashed'
  assert_equal "$(cfield a-stopped '{{.State.Status}}')" running
  assert_equal "$(cfield u-crashed '{{.State.Status}}')" running
  assert_equal "$(cfield u-stopped '{{.State.Status}}')" exited
  assert_equal "$(cfield n-created '{{.State.Status}}')" created
  assert_equal "$(cfield f-exited '{{.State.Status}}')" exited
  # a second boot starts nothing more: what runs is running
  run --separate-stderr isola start --all
  assert_status 0
  assert_output_empty
  run --separate-stderr isola start --all a-stopped
  assert_status 125
}

@test "contrib/isola-restart.service runs start --all" {
  local unit="$BATS_TEST_DIRNAME/../../contrib/isola-restart.service"
  [ -f "$unit" ] || fail "no $unit"
  grep -q '^ExecStart=/usr/local/bin/isola start --all$' "$unit" || fail "the unit does not run start --all"
  grep -q '^Type=oneshot$' "$unit" || fail "the unit is not a oneshot"
  grep -q '^WantedBy=multi-user.target$' "$unit" || fail "the unit is not wanted at boot"
}
