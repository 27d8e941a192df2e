#!/usr/bin/env bats
# Damaged container records (issue 11): a config.json, state.json or name record that is empty, truncated, not JSON,
# of the wrong JSON type or missing fields.  Such a container shows in `ps -a` as Docker's "Dead", keeps its name,
# refuses to start, and `rm` (`rm -f` while its monitor runs) removes it with its monitor and processes.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034 # read by the isola function
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

VARIANTS="empty truncated garbage array string null object missing-field wrong-type"

# damage FILE DIR VARIANT: replaces DIR/FILE (config.json or state.json) with a damaged copy.
damage() {
  local f=$2/$1 orig
  orig=$(cat "$f")
  case $3 in
    empty) : >"$f" ;;
    truncated) printf '%s' "${orig:0:$((${#orig} / 2))}" >"$f" ;;
    garbage) printf '\000\377 not json at all\n' >"$f" ;;
    array) echo '[]' >"$f" ;;
    string) echo '"x"' >"$f" ;;
    null) echo null >"$f" ;;
    object) echo '{}' >"$f" ;;
    missing-field)
      if [ "$1" = config.json ]; then jq -c 'del(.Name)' <<<"$orig" >"$f"; else jq -c 'del(.Status)' <<<"$orig" >"$f"; fi
      ;;
    wrong-type)
      if [ "$1" = config.json ]; then jq -c '.Args = 5' <<<"$orig" >"$f"; else jq -c '.Running = "yes"' <<<"$orig" >"$f"; fi
      ;;
    *) fail "unknown variant $3" ;;
  esac
}

# assert_dead NAME ID: ps -a lists the container as Dead under its name, inspect says why, start refuses it, and
# its name cannot be taken.
assert_dead() {
  local name=$1 id=$2
  run --separate-stderr isola ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.Status}} {{.State}}'
  assert_status 0
  assert_output_contains "$id $name Dead dead"
  run --separate-stderr isola inspect -f '{{.State.Status}} {{.State.Dead}} {{.State.Error}}' "$id"
  assert_status 0
  assert_output_matches "^dead true the container's record is damaged: "
  run --separate-stderr isola start "$name"
  assert_status 1
  assert_stderr_matches "its record is damaged .*: remove it with .isola rm -f"
  run --separate-stderr isola create --name "$name" busybox true
  assert_status 1
  assert_stderr_matches "is already in use by container \"$id\""
}

@test "a stopped container with a damaged config.json or state.json shows as Dead, keeps its name, and rm removes it" {
  local file v id names=() ids=() n
  for file in config.json state.json; do
    for v in $VARIANTS; do
      isola_ok create --name "s-$file-$v" busybox true
      damage "$file" "$ISOLA_ROOT/containers/$output" "$v"
      names+=("s-$file-$v")
      ids+=("$output")
    done
  done
  run --separate-stderr isola ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.Status}} {{.State}}'
  assert_status 0
  for n in "${!names[@]}"; do
    assert_output_contains "${ids[n]} ${names[n]} Dead dead"
  done
  run --separate-stderr isola inspect -f '{{.State.Status}} {{.State.Dead}} {{.State.Error}}' "${ids[@]}"
  assert_status 0
  assert_equal "$(grep -c "^dead true the container's record is damaged: " <<<"$output")" "${#ids[@]}"
  run --separate-stderr isola start "${names[@]}"
  assert_status 1
  assert_equal "$(grep -c "its record is damaged .*: remove it with .isola rm -f" <<<"$stderr")" "${#ids[@]}"
  for n in "${!names[@]}"; do
    run --separate-stderr isola create --name "${names[n]}" busybox true
    assert_status 1
    assert_stderr_matches "is already in use by container \"${ids[n]}\""
  done
  run --separate-stderr isola rm "${names[@]}"
  assert_status 0
  for id in "${ids[@]}"; do
    [ ! -e "$ISOLA_ROOT/containers/$id" ] || fail "$ISOLA_ROOT/containers/$id is still there"
  done
  run --separate-stderr isola ps -aq
  assert_output_empty
  isola_ok create --name "${names[0]}" busybox true
}

# monitor_of ID: the PID of the container's monitor, from its state.json (before it is damaged).
monitor_of() {
  jq -r .MonitorPid "$ISOLA_ROOT/containers/$1/state.json"
}

# One running container per file goes through every variant (the file put back after each), and rm -f ends it with
# the last one: a VM start per variant would cost minutes under TCG.
@test "a running container with a damaged record is Dead, its name stays taken, and rm -f ends its monitor and processes" {
  local file v id mon kids pid p dir last
  for file in config.json state.json; do
    run_detached --name "r-$file" busybox sleep 1000
    id=$CID
    dir=$ISOLA_ROOT/containers/$id
    mon=$(monitor_of "$id")
    pid=$(cfield "$id" '{{.State.Pid}}')
    track_pid "$pid"
    # the monitor's children: a process container's first process, a VM's QEMU
    kids=$(pgrep -P "$mon" | tr '\n' ' ')
    [ -n "$kids" ] || fail "the monitor $mon has no child"
    cp "$dir/$file" "$BATS_TEST_TMPDIR/$file"
    for v in $VARIANTS; do
      echo "# $file $v"
      damage "$file" "$dir" "$v"
      assert_dead "r-$file" "$id"
      kill -0 "$mon" || fail "the monitor died of the damage"
      run --separate-stderr isola rm "r-$file"
      assert_status 1
      assert_stderr_matches "its monitor still runs: force remove"
      last=$v
      [ "$v" = "${VARIANTS##* }" ] || cp "$BATS_TEST_TMPDIR/$file" "$dir/$file"
    done
    echo "# rm -f with $file $last"
    run --separate-stderr isola rm -f "r-$file"
    assert_status 0
    assert_equal "$output" "r-$file"
    for p in $mon $kids; do
      wait_until 10 eval "[ ! -e /proc/$p ] || [ \"\$(pidstat_zombie $p)\" = Z ]"
    done
    if [ "$TEST_ISOLATION" = process ]; then
      wait_until 10 eval "[ ! -e /proc/$pid ]"
    fi
    [ ! -e "$dir" ] || fail "$dir is still there"
    [ -z "$(container_cgroup_dirs "$id")" ] || fail "cgroups left: $(container_cgroup_dirs "$id")"
    isola_ok create --name "r-$file" busybox true
  done
}

@test "stop and kill reach a running container whose record is damaged, through its monitor" {
  run_detached --name k1 busybox sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done'
  local id=$CID mon
  wait_for_log "$id" ready
  mon=$(monitor_of "$id")
  damage state.json "$ISOLA_ROOT/containers/$id" garbage
  run --separate-stderr isola stop -t 30 k1
  assert_status 0
  wait_until 10 eval "[ ! -e /proc/$mon ] || [ \"\$(pidstat_zombie $mon)\" = Z ]"
  # the monitor recorded the exit from the config it holds: the record is whole again
  assert_equal "$(cfield k1 '{{.State.Status}} {{.State.ExitCode}}')" "exited 7"

  run_detached --name k2 busybox sleep 1000
  id=$CID
  mon=$(monitor_of "$id")
  damage config.json "$ISOLA_ROOT/containers/$id" garbage
  run --separate-stderr isola kill k2
  assert_status 0
  wait_until 10 eval "[ ! -e /proc/$mon ] || [ \"\$(pidstat_zombie $mon)\" = Z ]"
  run --separate-stderr isola kill k2
  assert_status 1
  assert_stderr_matches "is not running"
  isola_ok rm k2
}

@test "the name record: damaged alone it changes nothing; with config.json damaged it keeps the name" {
  local v id
  for v in empty garbage missing other; do
    isola_ok create --name "n-$v" busybox sh -c 'exit 3'
    id=$output
    case $v in
      empty) : >"$ISOLA_ROOT/containers/$id/name" ;;
      garbage) printf '/\000\377!' >"$ISOLA_ROOT/containers/$id/name" ;;
      missing) rm "$ISOLA_ROOT/containers/$id/name" ;;
      other) printf 'n-held' >"$ISOLA_ROOT/containers/$id/name" ;; # a rename cut short: both names are held
    esac
    run --separate-stderr isola start -a "n-$v"
    assert_status 3
    run --separate-stderr isola create --name "n-$v" busybox true
    assert_status 1
    if [ "$v" = other ]; then
      run --separate-stderr isola create --name n-held busybox true
      assert_status 1
    fi
    isola_ok rm "n-$v"
  done
  # config.json damaged: the name record keeps the name
  isola_ok create --name n-kept busybox true
  id=$output
  damage config.json "$ISOLA_ROOT/containers/$id" object
  assert_dead n-kept "$id"
  # both damaged: the container is still listed and removable by its ID
  : >"$ISOLA_ROOT/containers/$id/name"
  run --separate-stderr isola ps -aq --no-trunc
  assert_output_contains "$id"
  isola_ok rm "${id:0:12}"
}

@test "a record renamed: the name record follows" {
  isola_ok create --name old busybox true
  local id=$output
  isola_ok rename old new
  assert_equal "$(cat "$ISOLA_ROOT/containers/$id/name")" new
  damage config.json "$ISOLA_ROOT/containers/$id" garbage
  assert_dead new "$id"
  isola_ok create --name old busybox true
}

@test "rm -f of a damaged running container whose monitor does not answer kills the monitor" {
  run_detached --name w1 busybox sleep 1000
  local id=$CID mon kids p
  mon=$(monitor_of "$id")
  kids=$(pgrep -P "$mon" | tr '\n' ' ')
  damage state.json "$ISOLA_ROOT/containers/$id" garbage
  kill -STOP "$mon"
  run --separate-stderr isola rm -f w1
  assert_status 0
  for p in $mon $kids; do
    wait_until 10 eval "[ ! -e /proc/$p ] || [ \"\$(pidstat_zombie $p)\" = Z ]"
  done
  [ ! -e "$ISOLA_ROOT/containers/$id" ] || fail "the container's directory is still there"
  [ -z "$(container_cgroup_dirs "$id")" ] || fail "cgroups left: $(container_cgroup_dirs "$id")"
}
