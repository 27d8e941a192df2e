#!/usr/bin/env bats
# isola events: the store's event journal as Docker's events (container, image, volume), past ones with --since,
# live ones as they come until --until or ^C; filters and formats; the journal's rotation and torn records.  The
# container tests run in both isolation modes (VM_FILES).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}
# Times print in the local zone, as the docker CLI prints them: UTC here, whatever the machine's zone.
export TZ=UTC

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# past EVENTS-ARGS...: every event recorded so far (--since the epoch, --until now).
past() {
  isola events --since 0 --until "$(date +%s.%N)" "$@"
}

# actions [EVENTS-ARGS...]: "TYPE ACTION NAME" of each past event, a line each.
actions() {
  past --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}' "$@"
}

# codes EVENTS-ARGS...: "ACTION SIGNAL EXITCODE" of each past event, without what it does not have (Go's templates
# print "<no value>" for an attribute an event lacks).
codes() {
  past --format '{{.Action}} {{.Actor.Attributes.signal}} {{.Actor.Attributes.exitCode}}' "$@" | sed 's/ <no value>//g'
}

# events_fd_open PID: the events process PID follows the journal (it holds its inotify descriptor).
events_fd_open() {
  ls -l "/proc/$1/fd" 2>/dev/null | grep -q inotify
}

# ---- a container's life --------------------------------------------------------------------------------------------

@test "run, rename and rm: create, attach, start, die with its exit code, rename, destroy, in order" {
  run --separate-stderr isola run --name e1 --label team=blue busybox sh -c 'exit 3'
  assert_status 3
  local id
  id=$(past --filter type=container --format '{{.Actor.ID}}' | head -1)
  isola_ok rename e1 e2
  isola_ok rm e2
  run --separate-stderr actions --filter type=container
  assert_status 0
  assert_equal "$output" "container create e1
container attach e1
container start e1
container die e1
container rename e2
container destroy e2"
  run --separate-stderr past --filter event=die --format '{{.Actor.Attributes.exitCode}} {{.Actor.Attributes.image}} {{.Actor.Attributes.team}} {{.Actor.ID}}'
  assert_equal "$output" "3 busybox blue $id"
  run --separate-stderr past --filter event=rename --format '{{.Actor.Attributes.oldName}}'
  assert_equal "$output" /e1
}

@test "stop: kill with the stop signal, then SIGKILL after the timeout, die 137, stop; kill -s names its signal" {
  run_detached --name s1 busybox sleep 1000
  isola_ok stop -t 1 s1
  run --separate-stderr codes --filter container=s1
  assert_status 0
  assert_equal "$output" "create
start
kill 15
kill 9
die 137
stop"
}

@test "kill -s names its signal; the container's exit code follows" {
  run_detached --name k1 busybox sh -c 'trap "exit 7" USR1; echo ready; while :; do sleep 0.1; done'
  wait_for_log k1 ready
  isola_ok kill -s USR1 k1
  isola_ok wait k1
  run --separate-stderr codes --filter container=k1
  assert_equal "$output" "create
start
kill 10
die 7"
}

@test "pause and unpause are events; rm -f of a paused container thaws it first" {
  run_detached --name p1 busybox sleep 1000
  isola_ok pause p1
  isola_ok unpause p1
  isola_ok pause p1
  isola_ok rm -f p1
  run --separate-stderr codes --filter container=p1
  assert_equal "$output" "create
start
pause
unpause
pause
unpause
kill 9
die 137
destroy"
}

@test "rm -f of a running container: kill 9, die, destroy" {
  run_detached --name r1 busybox sleep 1000
  isola_ok rm -f r1
  run --separate-stderr codes --filter container=r1
  assert_equal "$output" "create
start
kill 9
die 137
destroy"
}

@test "run --rm: die, then destroy by the monitor" {
  run --separate-stderr isola run --rm --name rm1 busybox true
  assert_status 0
  run --separate-stderr actions --filter container=rm1
  assert_equal "$output" "container create rm1
container attach rm1
container start rm1
container die rm1
container destroy rm1"
}

@test "a container killed for exceeding its memory: oom, then die 137" {
  run_detached --name hog --memory 16m busybox tail /dev/zero
  wait_for_status hog exited
  run --separate-stderr codes --filter container=hog
  assert_equal "$(tail -2 <<<"$output")" "oom
die 137"
}

@test "exec: exec_create, exec_start and exec_die with its exit code, one execID" {
  run_detached --name x1 busybox sleep 1000
  run --separate-stderr isola exec x1 sh -c 'exit 5'
  assert_status 5
  run --separate-stderr past --filter container=x1 --filter event=exec_create --filter event=exec_start --filter event=exec_die --format '{{.Action}}|{{.Actor.Attributes.execID}}|{{.Actor.Attributes.exitCode}}'
  assert_status 0
  local lines
  mapfile -t lines <<<"$output"
  assert_equal "${#lines[@]}" 3
  assert_equal "${lines[0]%%|*}" "exec_create: sh -c exit 5"
  assert_equal "${lines[1]%%|*}" "exec_start: sh -c exit 5"
  assert_equal "${lines[2]%%|*}" "exec_die"
  local exec_id=${lines[0]#*|}
  exec_id=${exec_id%%|*}
  [[ $exec_id =~ ^[0-9a-f]{64}$ ]] || fail "execID '$exec_id'"
  assert_equal "${lines[2]}" "exec_die|$exec_id|5"
}

@test "exec: an exec still running when its container stops gets its exec_die, with 137 as dockerd's" {
  run_detached --name x2 busybox sleep 1000
  run --separate-stderr isola exec -d x2 sleep 2000
  assert_status 0
  # the exec has started (exec_start) before the stop
  has_event() { [ -n "$(past --filter container=x2 --filter event="$1" --format '{{.Action}}')" ]; }
  wait_until 20 has_event exec_start || fail "no exec_start: $(past --filter container=x2)"
  isola_ok stop -t 1 x2
  # a process container's exec session records it as its process dies, which may be just after stop returned
  wait_until 20 has_event exec_die || fail "no exec_die: $(past --filter container=x2)"
  run --separate-stderr past --filter container=x2 --filter event=exec_die --format '{{.Action}} {{.Actor.Attributes.exitCode}}'
  assert_status 0
  assert_equal "$output" "exec_die 137"
}

@test "volumes: create (also by a container that names it), mount at start, unmount after the exit, destroy" {
  isola_ok volume create vol1
  run --separate-stderr isola run --name v1 -v vol1:/data:ro busybox true
  assert_status 0
  local id
  id=$(cfield v1 '{{.Id}}')
  isola_ok rm v1
  isola_ok volume rm vol1
  run --separate-stderr past --filter type=volume --format '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}} {{.Actor.Attributes.destination}} {{index .Actor.Attributes "read/write"}}'
  # Docker tells of a create for each container that names the volume too
  assert_equal "$output" "create vol1 local <no value> <no value>
create vol1 local <no value> <no value>
mount vol1 local /data false
unmount vol1 local <no value> <no value>
destroy vol1 local <no value> <no value>"
  run --separate-stderr past --filter type=volume --filter event=unmount --format '{{.Actor.Attributes.container}}'
  assert_equal "$output" "$id"
}

# ---- following the journal ------------------------------------------------------------------------------------------

@test "events without --since follows the journal from now: Docker's line for each new event, until ^C" {
  isola_ok run --name before busybox true
  start_attached "$BATS_TEST_TMPDIR/ev" events
  wait_until 30 events_fd_open "$BG_PID"
  run --separate-stderr isola run --name live busybox true
  assert_status 0
  wait_until 30 file_contains "$BATS_TEST_TMPDIR/ev" " container die "
  kill -INT "$BG_PID"
  wait_bg 30
  run cat "$BATS_TEST_TMPDIR/ev"
  local id
  id=$(cfield live '{{.Id}}')
  local t='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{9}Z'
  assert_output_matches "^$t container create $id \(image=busybox, name=live\)$"
  assert_output_matches "^$t container start $id \(image=busybox, name=live\)$"
  assert_output_matches "^$t container die $id \(exitCode=0, image=busybox, name=live\)$"
  # nothing from before it began
  refute_output_contains "name=before"
  refute_output_contains "image load"
}

@test "--until alone: the past events up to then, and new ones until then" {
  isola_ok run --name old busybox true
  local start
  start=$(date +%s)
  run --separate-stderr isola events --until "$((start + 2))" --filter type=container --format '{{.Action}} {{.Actor.Attributes.name}}'
  assert_status 0
  assert_equal "$output" "create old
attach old
start old
die old"
  [ "$(date +%s)" -ge "$((start + 2))" ] || fail "returned before --until"
}

@test "--format '{{json .}}' is Docker's message: legacy status, id and from, then Type, Action, Actor, scope, time" {
  isola_ok run --name j1 busybox true
  run --separate-stderr past --filter event=start --format '{{json .}}'
  assert_status 0
  assert_jq '.status == "start" and .Type == "container" and .Action == "start" and .from == "busybox"'
  assert_jq '.id == .Actor.ID and .Actor.Attributes == {"image": "busybox", "name": "j1"} and .scope == "local"'
  assert_jq '(.timeNano / 1000000000 | floor) == .time and .time > 1700000000'
  assert_equal "$(jq -c 'keys_unsorted' <<<"$output")" '["status","id","from","Type","Action","Actor","scope","time","timeNano"]'
  run --separate-stderr past --filter type=image --format json
  assert_jq '.Type == "image" and .Action == "load" and (has("from") | not)'
}

# ---- filters, times ---------------------------------------------------------------------------------------------

@test "filters: container by name or ID prefix, image, event, label, type; keys AND, values OR" {
  only_isolation process "the filters read the journal, whatever the mode"
  # names that are no ID's prefix: container=fb matched a container whose random ID began with fb (Docker's filter
  # takes an ID prefix too)
  isola_ok run --name gx --label tier=web busybox true
  isola_ok run --name gy --label tier=db busybox true
  local ida
  ida=$(cfield gx '{{.Id}}')
  run --separate-stderr actions --filter container=gy --filter event=start
  assert_equal "$output" "container start gy"
  run --separate-stderr actions --filter "container=${ida:0:8}" --filter event=die
  assert_equal "$output" "container die gx"
  run --separate-stderr actions --filter label=tier=db --filter event=create
  assert_equal "$output" "container create gy"
  run --separate-stderr actions --filter label=tier --filter event=create
  assert_equal "$output" "container create gx
container create gy"
  run --separate-stderr actions --filter event=create --filter event=destroy --filter container=gx
  assert_equal "$output" "container create gx"
  run --separate-stderr actions --filter image=busybox --filter event=die
  assert_equal "$output" "container die gx
container die gy"
  run --separate-stderr actions --filter type=image
  assert_equal "$output" "image load $(image_id busybox)"
  run --separate-stderr isola events --filter nope=1
  assert_status 1
  assert_equal "$stderr" "Error: invalid filter 'nope'"
  run --separate-stderr isola events --filter nope
  assert_status 125
  assert_stderr_matches 'bad format of filter \(expected name=value\)'
}

@test "--since and --until: durations, RFC 3339 and Unix times; bad values fail" {
  only_isolation process "time parsing is the CLI's"
  isola_ok run --name t1 busybox true
  run --separate-stderr isola events --since 1h --until "$(date +%s.%N)" --filter event=die --format '{{.Action}}'
  assert_status 0
  assert_equal "$output" die
  run --separate-stderr isola events --since "$(date -d '-1 hour' +%Y-%m-%dT%H:%M:%S)" --until "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" --filter event=die --format '{{.Action}}'
  assert_status 0
  assert_equal "$output" die
  run --separate-stderr isola events --since "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" --until "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.%NZ)"
  assert_status 0
  assert_output_empty
  # whole Unix seconds: the next one, as the die of this second may come after the second began
  run --separate-stderr isola events --since "$(date -u -d '-1 hour' +%Y-%m-%d)" --until "$(($(date +%s) + 1))" --filter event=die --format '{{.Action}}'
  assert_equal "$output" die
  run --separate-stderr isola events --since yesterday
  assert_status 1
  assert_equal "$stderr" 'Error: failed to parse value as time or duration: "yesterday"'
  run --separate-stderr isola events --since 20 --until 10
  assert_status 1
  assert_stderr_matches 'cannot be after until time'
}

# ---- images -------------------------------------------------------------------------------------------------------

@test "image events: tag, untag, delete, save, import, with the image's ID and name" {
  only_isolation process "images are the same in both modes"
  local id
  id=$(image_id busybox)
  isola_ok tag busybox mybox:1
  isola_ok save -o "$BATS_TEST_TMPDIR/b.tar" mybox:1 busybox
  isola_ok rmi mybox:1
  mkdir "$BATS_TEST_TMPDIR/rootfs"
  echo hi >"$BATS_TEST_TMPDIR/rootfs/f"
  tar -C "$BATS_TEST_TMPDIR/rootfs" -cf "$BATS_TEST_TMPDIR/root.tar" .
  run --separate-stderr isola import "$BATS_TEST_TMPDIR/root.tar" imp:1
  assert_status 0
  local imp=$output
  isola_ok rmi imp:1
  run --separate-stderr past --filter type=image --format '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}'
  assert_equal "$output" "load $id $id
tag $id mybox:1
save $id $id
untag $id $id
tag $imp imp:1
import $imp $imp
untag $imp $imp
delete $imp $imp"
}

# ---- the journal --------------------------------------------------------------------------------------------------

@test "a torn record (a cut write) is skipped, and the next event is a line of its own" {
  only_isolation process "the journal is the same in both modes"
  isola_ok run --name before busybox true
  printf '{"status":"start","id":"abc' >>"$ISOLA_ROOT/events/journal"
  isola_ok run --name after busybox true
  run --separate-stderr actions --filter event=create
  assert_status 0
  assert_equal "$output" "container create before
container create after"
  grep -q '^{"status":"start","id":"abc$' "$ISOLA_ROOT/events/journal" || fail "the torn record did not end its line"
}

@test "the journal is rotated at 512 KiB: journal.1 keeps the previous events, and readers see both" {
  only_isolation process "the journal is the same in both modes"
  isola_ok run --name first busybox true
  # pad the journal with old events up to the limit, as a busy store would
  local line
  line=$(head -1 "$ISOLA_ROOT/events/journal")
  yes "$line" | head -2200 >>"$ISOLA_ROOT/events/journal"
  [ "$(stat -c %s "$ISOLA_ROOT/events/journal")" -ge 524288 ] || fail "padding too small"
  isola_ok run --name second busybox true
  [ -f "$ISOLA_ROOT/events/journal.1" ] || fail "no journal.1"
  [ "$(stat -c %s "$ISOLA_ROOT/events/journal")" -lt 4096 ] || fail "the journal was not rotated"
  run --separate-stderr actions --filter event=die
  assert_equal "$output" "container die first
container die second"
}

@test "a stream follows the journal across a rotation" {
  only_isolation process "the journal is the same in both modes"
  start_attached "$BATS_TEST_TMPDIR/ev" events --filter event=die --format '{{.Actor.Attributes.name}}'
  wait_until 30 events_fd_open "$BG_PID"
  isola_ok run --name one busybox true
  wait_until 30 file_contains "$BATS_TEST_TMPDIR/ev" one
  local line
  line=$(head -1 "$ISOLA_ROOT/events/journal")
  yes "$line" | head -2200 >>"$ISOLA_ROOT/events/journal"
  isola_ok run --name two busybox true
  wait_until 30 file_contains "$BATS_TEST_TMPDIR/ev" two
  kill -INT "$BG_PID"
  wait_bg 30
  assert_equal "$(cat "$BATS_TEST_TMPDIR/ev")" "one
two"
}
