#!/usr/bin/env bats
# Container lifecycle: create, start, stop, kill, restart, wait, rm, rename, container prune, inspect; robustness
# when a monitor dies; parallel starts.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# containers should never take long: a hang fails after 30 s instead of 120 (read by the isola function)
# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# Each trapping container says "ready" once its trap is set: a signal that came before would find none (and PID 1
# ignores what it does not handle), which a slow start (a VM under TCG) makes likely.
TRAP_TERM_7='trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done'
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'

# proc_gone PID: PID no longer runs (gone, or a zombie waiting for its parent).
proc_gone() {
  [ ! -e "/proc/$1" ] || [ "$(pidstat_zombie "$1")" = Z ]
}

# ---- create, start, wait -------------------------------------------------------------------------------------------

@test "create prints the ID and leaves the container 'created'; start runs it and prints the argument back" {
  run --separate-stderr isola create --name c1 busybox sh -c 'exit 4'
  assert_status 0
  [[ $output =~ ^[0-9a-f]{64}$ ]] || fail "create printed '$output'"
  local id=$output
  assert_equal "$(cfield c1 '{{.State.Status}}')" created
  assert_equal "$(cfield c1 '{{.State.Running}}')" false
  assert_equal "$(cfield c1 '{{.State.Pid}}')" 0
  assert_equal "$(cfield c1 '{{.Id}}')" "$id"
  run --separate-stderr isola start c1
  assert_status 0
  assert_equal "$output" c1
  run --separate-stderr isola wait c1
  assert_status 0
  assert_equal "$output" 4
  assert_equal "$(cfield "$id" '{{.State.Status}}')" exited
  assert_equal "$(cfield "$id" '{{.State.ExitCode}}')" 4
  run --separate-stderr isola start "${id:0:12}"
  assert_status 0
  assert_equal "$output" "${id:0:12}"
}

@test "start -a attaches and returns the exit code" {
  isola_ok create --name c2 busybox sh -c 'echo hello; echo oops >&2; exit 6'
  run --separate-stderr isola start -a c2
  assert_status 6
  assert_equal "$output" hello
  assert_equal "$stderr" oops
}

@test "start of an unknown container fails with 1" {
  run --separate-stderr isola start no-such-container
  assert_status 1
  assert_stderr_matches 'No such container'
}

@test "wait blocks until the container exits and prints its exit code" {
  run_detached busybox sh -c 'sleep 0.5; exit 4'
  local t0
  t0=$(now_ms)
  run --separate-stderr isola wait "$CID"
  assert_status 0
  assert_equal "$output" 4
  [ $(($(now_ms) - t0)) -ge 250 ] || fail "wait returned after $(($(now_ms) - t0)) ms"
  # and at once for a container that has already exited
  run --separate-stderr isola wait "$CID"
  assert_status 0
  assert_equal "$output" 4
}

@test "wait of several containers prints each exit code in order" {
  run_detached busybox sh -c 'exit 2'
  local a=$CID
  run_detached busybox sh -c 'sleep 0.2; exit 3'
  run --separate-stderr isola wait "$a" "$CID"
  assert_status 0
  assert_equal "$output" "2
3"
}

# ---- stop, kill, restart -------------------------------------------------------------------------------------------

@test "stop sends SIGTERM: a container that traps it exits with its own code, quickly" {
  run_detached --name trapper busybox sh -c "$TRAP_TERM_7"
  wait_for_log trapper ready
  # quickly: with -t 600, a stop that waited for the timeout instead of the container's exit would be ended by the
  # isola wrapper's timeout
  run --separate-stderr isola stop -t 600 trapper
  assert_status 0
  assert_equal "$output" trapper
  assert_equal "$(cfield trapper '{{.State.Status}}')" exited
  assert_equal "$(cfield trapper '{{.State.ExitCode}}')" 7
}

@test "stop -t 1 of a PID 1 that ignores SIGTERM kills it after 1 s: ExitCode 137" {
  # --stop-timeout 600: a stop that ignored -t 1 would wait 600 s and be ended by the isola wrapper's timeout
  run_detached --stop-timeout 600 busybox sleep 1000
  local pid t0 dt
  pid=$(cfield "$CID" '{{.State.Pid}}')
  t0=$(now_ms)
  isola_ok stop -t 1 "$CID"
  dt=$(($(now_ms) - t0))
  [ "$dt" -ge 900 ] || fail "stop -t 1 took only $dt ms"
  assert_equal "$(cfield "$CID" '{{.State.Status}}')" exited
  assert_equal "$(cfield "$CID" '{{.State.ExitCode}}')" 137
  proc_gone "$pid" || fail "PID $pid still runs"
}

@test "stop of a container that is not running succeeds" {
  isola_ok create --name idle busybox true
  run --separate-stderr isola stop idle
  assert_status 0
  run_detached busybox true
  wait_for_status "$CID" exited
  run --separate-stderr isola stop "$CID"
  assert_status 0
}

@test "--stop-signal and --stop-timeout change what stop does" {
  run_detached --name usr1 --stop-signal USR1 busybox sh -c 'trap "exit 8" USR1; echo ready; while :; do sleep 0.1; done'
  wait_for_log usr1 ready
  assert_equal "$(cfield usr1 '{{.Config.StopSignal}}')" USR1
  isola_ok stop usr1
  assert_equal "$(cfield usr1 '{{.State.ExitCode}}')" 8

  run_detached --name st --stop-timeout 1 busybox sleep 1000
  assert_equal "$(cfield st '{{.Config.StopTimeout}}')" 1
  isola_ok stop st
  # waited for the 1 s, and not for the default 10 s: the time from the SIGTERM to the SIGKILL, as the stop's kill
  # events have it (not the stop's own time, which a loaded machine stretches with the start of the CLI and the end
  # of the container, a VM's above all)
  local kills grace
  kills=$(isola events --since 0 --until "$(date +%s.%N)" --filter container=st --filter event=kill \
    --format '{{.Actor.Attributes.signal}} {{.TimeNano}}')
  [ "$(cut -d' ' -f1 <<<"$kills" | tr '\n' ' ')" = "15 9 " ] || fail "the stop's kills: $kills"
  grace=$((($(sed -n 2p <<<"$kills" | cut -d' ' -f2) - $(sed -n 1p <<<"$kills" | cut -d' ' -f2)) / 1000000))
  [ "$grace" -ge 900 ] && [ "$grace" -lt 9500 ] || fail "SIGKILL came $grace ms after SIGTERM, not ~1 s"
  assert_equal "$(cfield st '{{.State.ExitCode}}')" 137
}

@test "kill sends SIGKILL by default: ExitCode 137" {
  run_detached --name killme busybox sleep 1000
  run --separate-stderr isola kill killme
  assert_status 0
  assert_equal "$output" killme
  wait_for_status killme exited
  assert_equal "$(cfield killme '{{.State.ExitCode}}')" 137
}

@test "kill -s SIG sends that signal" {
  run_detached --name killme busybox sh -c "$TRAP_TERM_7"
  wait_for_log killme ready
  isola_ok kill -s TERM killme
  wait_for_status killme exited
  assert_equal "$(cfield killme '{{.State.ExitCode}}')" 7
  run_detached --name k2 busybox sh -c 'trap "exit 11" HUP; echo ready; while :; do sleep 0.1; done'
  wait_for_log k2 ready
  isola_ok kill --signal SIGHUP k2
  wait_for_status k2 exited
  assert_equal "$(cfield k2 '{{.State.ExitCode}}')" 11
}

@test "kill of a stopped container fails with 1 'is not running'" {
  run_detached busybox true
  wait_for_status "$CID" exited
  run --separate-stderr isola kill "$CID"
  assert_status 1
  assert_stderr_matches 'is not running'
}

@test "restart stops a running container and starts it again" {
  run_detached --name again busybox sh -c "$TRAP_TERM_7"
  wait_for_log again ready
  local pid1 started1
  pid1=$(cfield again '{{.State.Pid}}')
  started1=$(cfield again '{{.State.StartedAt}}')
  run --separate-stderr isola restart -t 5 again
  assert_status 0
  assert_equal "$output" again
  assert_equal "$(cfield again '{{.State.Status}}')" running
  local pid2 started2
  pid2=$(cfield again '{{.State.Pid}}')
  started2=$(cfield again '{{.State.StartedAt}}')
  [ "$pid2" != "$pid1" ] || fail "same PID $pid1 after restart"
  [[ $started2 > $started1 ]] || fail "StartedAt $started2 is not after $started1"
  proc_gone "$pid1" || fail "the old process $pid1 still runs"
}

@test "restart of an exited container starts it" {
  run_detached --name again busybox sh -c 'echo ran; sleep 1000'
  isola_ok kill again
  wait_for_status again exited
  isola_ok restart again
  assert_equal "$(cfield again '{{.State.Status}}')" running
}

# ---- rm, rename, prune ---------------------------------------------------------------------------------------------

@test "rm of a running container without -f fails with 1 'container is running'; -f kills and removes it" {
  run_detached --name busy busybox sleep 1000
  local pid
  pid=$(cfield busy '{{.State.Pid}}')
  run --separate-stderr isola rm busy
  assert_status 1
  assert_stderr_matches 'container is running'
  assert_equal "$(cfield busy '{{.State.Status}}')" running
  run --separate-stderr isola rm -f busy
  assert_status 0
  assert_equal "$output" busy
  wait_until 5 proc_gone "$pid"
  run isola ps -aq
  assert_output_empty
  [ ! -e "$ISOLA_ROOT/containers/$CID" ] || fail "containers/$CID is still there"
}

@test "rm of a stopped container removes it and its directory" {
  local before
  before=$(host_mounts)
  run_detached busybox true
  wait_for_status "$CID" exited
  run --separate-stderr isola rm "${CID:0:12}"
  assert_status 0
  assert_equal "$output" "${CID:0:12}"
  [ ! -e "$ISOLA_ROOT/containers/$CID" ] || fail "containers/$CID is still there"
  assert_no_new_mounts "$before"
  run --separate-stderr isola rm "$CID"
  assert_status 1
  assert_stderr_matches 'No such container'
}

@test "rename OLD NEW renames; a taken name is refused with 1" {
  run_detached --name old busybox sleep 1000
  # "other" only needs to hold its name: a created container does
  isola_ok create --name other busybox true
  run --separate-stderr isola rename old new
  assert_status 0
  assert_equal "$(cfield new '{{.Name}}')" /new
  run --separate-stderr isola inspect old
  assert_status 1
  run --separate-stderr isola rename new other
  assert_status 1
  assert_stderr_matches 'other'
  assert_equal "$(cfield new '{{.Name}}')" /new
  assert_equal "$(ps_column NAMES)" new
}

@test "container prune -f removes stopped containers only" {
  run_detached --name running busybox sleep 1000
  run_detached --name exited1 busybox true
  run_detached --name exited2 busybox sh -c 'exit 3'
  wait_for_status exited1 exited
  wait_for_status exited2 exited
  local keep e1 e2
  keep=$(cfield running '{{.Id}}')
  e1=$(cfield exited1 '{{.Id}}')
  e2=$(cfield exited2 '{{.Id}}')
  run --separate-stderr isola container prune -f
  assert_status 0
  assert_output_contains "$e1"
  assert_output_contains "$e2"
  refute_output_contains "$keep"
  assert_equal "$(ps_column NAMES -a)" running
  assert_equal "$(cfield running '{{.State.Status}}')" running
}

# ---- inspect -------------------------------------------------------------------------------------------------------

@test "inspect of a running container has Docker's fields" {
  local d=$BATS_TEST_TMPDIR/vol
  mkdir -p "$d"
  run_detached --name insp -l role=test -e FOO=bar -v "$d:/data" busybox sleep 1000
  run --separate-stderr isola inspect insp
  assert_status 0
  assert_jq 'type == "array" and length == 1'
  assert_jq ".[0].Id == \"$CID\""
  assert_jq '.[0].Name == "/insp"'
  assert_jq '.[0].State.Status == "running" and .[0].State.Running == true'
  assert_jq '.[0].State.Pid > 1 and .[0].State.ExitCode == 0 and .[0].State.OOMKilled == false'
  assert_jq '.[0].State.FinishedAt | type == "string"'
  assert_jq ".[0].State.StartedAt | test(\"$RFC3339\")"
  assert_jq '.[0].Config.Cmd == ["sleep", "1000"]'
  assert_jq '.[0].Config.Image == "busybox"'
  assert_jq ".[0].Config.Hostname == \"${CID:0:12}\""
  assert_jq '.[0].Config.Labels == {"role": "test"}'
  assert_jq '.[0].Config.Env | index("FOO=bar") != null'
  assert_jq '.[0].Config.Env | map(select(startswith("PATH="))) | length == 1'
  assert_jq ".[0].HostConfig.Isolation == \"$SHOWN_ISOLATION\""
  assert_jq ".[0].HostConfig.Binds == [\"$d:/data\"]"
  assert_jq ".[0].Mounts | map(select(.Source == \"$d\" and .Destination == \"/data\" and .RW == true)) | length == 1"
  assert_jq '.[0].Path == "sleep" and .[0].Args == ["1000"]'
  assert_jq '.[0].Image | startswith("sha256:")'
  # Docker's whole shape (dockerd 20.10's keys): null, or dockerd's defaults, where isola has nothing to say
  assert_jq '.[0] | has("MountLabel") and has("ProcessLabel") and has("AppArmorProfile") and .ExecIDs == null'
  assert_jq '.[0].HostConfig | .Links == null and .Dns == [] and .ConsoleSize == [0, 0] and .Ulimits == []'
  assert_jq '.[0].HostConfig | (.MaskedPaths | index("/proc/kcore")) and has("KernelMemory") and has("CpuRealtimeRuntime")'
  assert_jq '.[0].NetworkSettings | has("SandboxKey") and .Ports == {} and has("SecondaryIPAddresses")'
  assert_jq '.[0].Config | has("Volumes") and has("OnBuild") and has("Entrypoint") and (has("Healthcheck") | not)'
  # --format runs over Docker's Go types: nil pointers, slices and maps print as Go prints them, structs as {…}
  assert_equal "$(cfield insp '{{.State.Health}} {{json .State.Health}} {{.HostConfig.Links}} {{json .HostConfig.Links}} {{.Config.ExposedPorts}} {{.HostConfig.LogConfig}} {{.HostConfig.RestartPolicy}}')" \
    "<nil> null [] null map[] {json-file map[]} {no 0}"
  run --separate-stderr isola inspect -f '{{.Nope}}' insp
  assert_status 1
  assert_equal "$stderr" 'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"'
  # State.Pid: the container's first process, or with VM isolation its VM worker (named after the container)
  local pid id
  pid=$(cfield insp '{{.State.Pid}}')
  id=$(cfield insp '{{.Id}}')
  if [ "$TEST_ISOLATION" = process ]; then
    assert_equal "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "sleep 1000 "
  else
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "^isola-vm .*$id" || fail "State.Pid $pid is not the VM worker"
  fi
}

@test "inspect after exit records ExitCode, FinishedAt and Pid 0" {
  run_detached busybox sh -c 'exit 3'
  wait_for_status "$CID" exited
  run --separate-stderr isola inspect "$CID"
  assert_status 0
  assert_jq '.[0].State.Status == "exited" and .[0].State.Running == false'
  assert_jq '.[0].State.ExitCode == 3 and .[0].State.Pid == 0'
  assert_jq ".[0].State.FinishedAt | test(\"$RFC3339\")"
  assert_jq '.[0].State.FinishedAt >= .[0].State.StartedAt'
  assert_equal "$(cfield "$CID" '{{.State.ExitCode}}')" 3
}

@test "inspect -f of a container, inspect of an image, and inspect of an unknown name (1)" {
  run_detached --name ff busybox sleep 1000
  run --separate-stderr isola inspect -f '{{.State.Pid}}' ff
  assert_status 0
  [[ $output =~ ^[0-9]+$ ]] && [ "$output" -gt 1 ] || fail "Pid '$output'"
  run --separate-stderr isola inspect -f '{{.Name}} {{.State.Status}}' ff
  assert_equal "$output" "/ff running"
  run --separate-stderr isola inspect busybox
  assert_status 0
  assert_jq '.[0].RepoTags == ["busybox:latest"]'
  run --separate-stderr isola inspect no-such-thing
  assert_status 1
  assert_stderr_matches 'no-such-thing'
}

# ---- robustness ----------------------------------------------------------------------------------------------------

@test "kill -9 of a container's monitor: the container dies too and is shown as exited with an error" {
  local before
  before=$(host_mounts)
  run_detached --name orphan busybox sleep 1000
  local pid mon
  pid=$(cfield orphan '{{.State.Pid}}')
  track_pid "$pid"
  # the monitor by name: a VM's console copier is a fork of it, with its command line
  mon=$(for p in $(pgrep -f "isola-monitor $ISOLA_ROOT"); do [ "$(cat "/proc/$p/comm")" != isola-monitor ] || echo "$p"; done)
  [ -n "$mon" ] && [ "$(wc -l <<<"$mon")" -eq 1 ] || fail "expected one monitor, got: '$mon'"
  kill -KILL "$mon"
  wait_until 5 proc_gone "$pid" || fail "the container's process $pid outlived its monitor"
  run --separate-stderr timeout 60 "$ISOLA" ps -a
  assert_status 0
  local st
  st=$(ISOLA_TIMEOUT=60 ps_column STATUS -a)
  [[ $st =~ ^Exited\ \([0-9]+\)\  ]] || fail "ps -a STATUS is '$st'"
  assert_equal "$(cfield orphan '{{.State.Status}}')" exited
  assert_equal "$(cfield orphan '{{.State.Running}}')" false
  [ -n "$(cfield orphan '{{.State.Error}}')" ] || fail "State.Error is empty"
  run --separate-stderr timeout 60 "$ISOLA" wait orphan
  assert_status 0
  run --separate-stderr isola rm orphan
  assert_status 0
  assert_no_new_mounts "$before"
  [ -z "$(container_cgroup_dirs "$CID")" ] || fail "cgroups left behind: $(container_cgroup_dirs "$CID")"
}

@test "detached containers that keep writing output keep running (their monitors survive)" {
  local i ids=()
  for i in 1 2 3 4 5 6 7 8; do
    run_detached busybox sh -c 'while :; do echo tick; sleep 0.2; done'
    ids+=("$CID")
  done
  sleep 1.2 # several writes each; a monitor that dies on output dies within this
  for i in "${ids[@]}"; do
    assert_equal "$(cfield "$i" '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}')" "running 0 "
  done
}

@test "five containers started in parallel with -d all run, with distinct IDs and names" {
  local i d=$BATS_TEST_TMPDIR
  for i in 1 2 3 4 5; do
    (
      "$ISOLA" run -d busybox sleep 1000 >"$d/out$i" 2>"$d/err$i"
      echo $? >"$d/rc$i"
    ) 3>&- &
  done
  wait
  for i in 1 2 3 4 5; do
    [ "$(cat "$d/rc$i")" = 0 ] || fail "run $i: exit $(cat "$d/rc$i"): $(cat "$d/err$i")"
    grep -Eqx '[0-9a-f]{64}' "$d/out$i" || fail "run $i printed '$(cat "$d/out$i")'"
  done
  assert_equal "$(cat "$d"/out? | sort -u | wc -l)" 5
  output=$(ps_column NAMES)
  assert_equal "$(wc -l <<<"$output")" 5
  assert_equal "$(sort -u <<<"$output" | wc -l)" 5
  for i in $(cat "$d"/out?); do
    assert_equal "$(cfield "$i" '{{.State.Status}}')" running
  done
}
