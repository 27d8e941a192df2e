#!/usr/bin/env bats
# Chaos: a loop of run/exec/stop/rm/load… on a few containers while kill -9 hits random isola processes of this
# test's root (a CLI in the middle of its verb, a container's monitor, a VM worker); then `rm -f` of everything and
# one more command must leave nothing: no mounts, cgroups, processes, VM workers or store entries, and a store whose
# images still list, inspect and run.  Runs in both isolation modes (VM_FILES), about a minute each.
#
# The choices (verbs, containers, pauses, victims) come from bash's RANDOM seeded with ISOLA_CHAOS_SEED (default
# below), printed in the output: ISOLA_CHAOS_SEED=N replays the same choices (their timing differs from run to run).
# ISOLA_CHAOS_SECONDS sets the loop's length; ISOLA_CHAOS_JOURNAL=FILE keeps the log of what happened.  Only PIDs of
# this test's own root are killed, never by pattern: the CLIs it started (their PIDs) and the processes whose command
# line names its root (monitors, VM workers).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034 # read by the isola function
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}
CHAOS_SEED=${ISOLA_CHAOS_SEED:-20261206}
CHAOS_SECONDS=${ISOLA_CHAOS_SECONDS:-45}
# A CLI still running after this long is a hang (a VM's first start boots its template: minutes under TCG).
CHAOS_HANG_S=30
[ "$TEST_ISOLATION" = vm ] && CHAOS_HANG_S=150

setup_file() {
  container_setup_file || return 1
  common_setup_file multilayer-oci || return 1
  # the store a clean root has after loading both images: what must be left of blobs and snapshots at the end
  local ref
  ref=$(mktemp -d /tmp/isola-test.XXXXXX)
  made "$ref"
  cp -a "$SEED_ROOT/." "$ref/" &&
    ISOLA_ROOT=$ref "$ISOLA" load -q -i "$(fx multilayer-oci)" >/dev/null &&
    store_objects "$ref" >"$BATS_FILE_TMPDIR/objects"
  local ret=$?
  cleanup_root "$ref"
  return $ret
}
teardown_file() {
  common_teardown_file
  container_teardown_file
}
setup() { container_setup; }
teardown() {
  local p
  for p in "${!CLI_START[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  container_teardown
}

# store_objects ROOT: the blobs and snapshots of a root, one name a line.
store_objects() {
  (cd "$1" && find blobs/sha256 snapshots -mindepth 1 -maxdepth 1 | sort)
}

# ---- the processes of this root ------------------------------------------------------------------------------------

# root_procs: "PID KIND" of the processes whose command line names $ISOLA_ROOT, KIND being monitor, console (a VM's
# console copier), vm (a VM worker) or other; never this shell's own commands.
root_procs() {
  local f p a0 comm
  [[ ${ISOLA_ROOT:-} == /tmp/isola-test.?* ]] || return 0
  while IFS= read -r f; do
    p=${f#/proc/}
    p=${p%/cmdline}
    IFS= read -r -d '' a0 2>/dev/null <"$f" || [ -n "${a0:-}" ] || continue
    IFS= read -r comm 2>/dev/null <"/proc/$p/comm" || continue
    case "${a0##*/} $comm" in
      "isola-monitor isola-console") echo "$p console" ;; # a VM's console copier, a fork of its monitor
      isola-monitor*) echo "$p monitor" ;;
      *isola-vm*) echo "$p vm" ;;
      grep* | bash* | sh*) ;;
      *) echo "$p other" ;;
    esac
  done < <(grep -lsF -- "$ISOLA_ROOT" /proc/[0-9]*/cmdline)
}

# ---- the loop ------------------------------------------------------------------------------------------------------

declare -gA CLI_START=() CLI_DESC=() CLI_OUT=() CLI_KILLED=() SEEN_IDS=()
CLI_N=0
PROBLEMS=()
NAMES=(c0 c1 c2)

# log LINE: a line of the test's journal, with the time.
log() {
  echo "# ${EPOCHREALTIME} $*" >>"$BATS_TEST_TMPDIR/journal"
}

# gone PID: PID has ended (and been reaped).
gone() {
  [ ! -e "/proc/$1" ]
}

# alive PID: PID runs (is not a zombie), without forking.
alive() {
  local _p _c st
  read -r _p _c st _ 2>/dev/null <"/proc/$1/stat" && [ "$st" != Z ]
}

# cli_start ARGS...: `isola ARGS` in the background, its output in CLI_OUT[PID].
cli_start() {
  CLI_N=$((CLI_N + 1))
  env --default-signal=INT,TERM "$ISOLA" "$@" >"$BATS_TEST_TMPDIR/cli.$CLI_N" 2>&1 3>&- </dev/null &
  local p=$!
  CLI_OUT[$p]=$BATS_TEST_TMPDIR/cli.$CLI_N
  CLI_START[$p]=${EPOCHREALTIME/./}
  CLI_DESC[$p]="isola $*"
  log "start $p: isola $*"
}

# cli_reap: notes the CLIs that ended; one still running after CHAOS_HANG_S is a hang (killed, and a problem).
cli_reap() {
  local p st out
  for p in "${!CLI_START[@]}"; do
    if alive "$p"; then
      if [ $((${EPOCHREALTIME/./} - CLI_START[$p])) -gt $((CHAOS_HANG_S * 1000000)) ]; then
        PROBLEMS+=("hang: ${CLI_DESC[$p]} still running after ${CHAOS_HANG_S}s")
        kill -KILL "$p" 2>/dev/null
        CLI_KILLED[$p]=1
      fi
      continue
    fi
    st=0
    wait "$p" || st=$?
    out=
    IFS= read -r -d '' out <"${CLI_OUT[$p]}" || true
    log "end $p (${CLI_DESC[$p]}): $st${CLI_KILLED[$p]:+ (killed)} ${out:0:300}"
    if [[ $out =~ Sanitizer|runtime\ error:|Assertion|Segmentation|panic|BUG ]]; then
      PROBLEMS+=("crash report from ${CLI_DESC[$p]}: ${out:0:3000}")
    elif [ -z "${CLI_KILLED[$p]:-}" ] && [ "$st" -ge 128 ] && [ "$st" -ne 137 ] && [ "$st" -ne 143 ]; then
      # 137 and 143 are a container's SIGKILL and SIGTERM (run, start -a); anything else is the CLI's own death
      PROBLEMS+=("${CLI_DESC[$p]} ended with status $st: $out")
    fi
    rm -f "${CLI_OUT[$p]}"
    unset "CLI_START[$p]" "CLI_DESC[$p]" "CLI_OUT[$p]" "CLI_KILLED[$p]"
  done
}

# note_ids: the containers of the root (and those staged or being removed in tmp/), for the cgroup check.
note_ids() {
  local d
  for d in "$ISOLA_ROOT"/containers/* "$ISOLA_ROOT"/tmp/*; do
    d=${d##*/}
    d=${d##*[-.]}
    [[ $d =~ ^[0-9a-f]{64}$ ]] && SEEN_IDS[$d]=1
  done
  return 0
}

# chaos_op: starts one verb on a random container name.
chaos_op() {
  local n=${NAMES[RANDOM % ${#NAMES[@]}]}
  case $((RANDOM % 18)) in
    0 | 1 | 2) cli_start run -d --name "$n" busybox sleep 1000 ;;
    3) cli_start run --rm busybox sh -c 'echo hi; sleep 0.3' ;;
    4) cli_start run -d --rm --name "$n" busybox sh -c 'sleep 0.5' ;;
    5) cli_start run -d --restart always --name "$n" busybox sh -c 'sleep 1; exit 3' ;;
    6) cli_start create --name "$n" busybox sleep 1000 ;;
    7) cli_start start "$n" ;;
    8 | 9) cli_start exec "$n" sh -c 'echo x; sleep 0.3' ;;
    10) cli_start stop -t 1 "$n" ;;
    11) cli_start kill "$n" ;;
    12) cli_start rm -f "$n" ;;
    13) cli_start restart -t 1 "$n" ;;
    14) cli_start pause "$n" ;;
    15) cli_start unpause "$n" ;;
    16) cli_start load -q -i "$(fx multilayer-oci)" ;;
    17) cli_start rmi -f fixture/multi:oci ;;
  esac
}

# chaos_kill [PID]: kill -9 of PID (the CLI just started) when it still runs, else of a random process of this
# root: a running CLI, a monitor or a VM worker (a kind first, then one of its processes).
chaos_kill() {
  local p kind
  if [ -n "${1:-}" ] && alive "$1"; then
    p=$1 kind=cli
  else
    local -A of=()
    for p in "${!CLI_START[@]}"; do
      alive "$p" && of[cli]+=" $p"
    done
    while read -r p kind; do
      [ -n "$p" ] && [ "$kind" != other ] && of[$kind]+=" $p"
    done < <(root_procs)
    local kinds=("${!of[@]}") pids
    [ ${#kinds[@]} -gt 0 ] || return 0
    kind=${kinds[RANDOM % ${#kinds[@]}]}
    read -r -a pids <<<"${of[$kind]}"
    p=${pids[RANDOM % ${#pids[@]}]}
  fi
  log "kill -9 $p ($kind${CLI_DESC[$p]:+: ${CLI_DESC[$p]}})"
  [ "$kind" = cli ] && CLI_KILLED[$p]=1
  kill -KILL "$p" 2>/dev/null || true
}

# pause_ms MAX: sleeps a random time up to MAX ms.
pause_ms() {
  local ms=$((RANDOM % ($1 + 1)))
  [ "$ms" -ge 5 ] || return 0
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

# ---- what must be left ---------------------------------------------------------------------------------------------

leftovers() {
  local id d m
  m=$(mounts_of "$ISOLA_ROOT")
  [ -z "$m" ] || echo "mounts: $m"
  for id in "${!SEEN_IDS[@]}"; do
    d=$(container_cgroup_dirs "$id")
    [ -z "$d" ] || echo "cgroups: $d"
  done
  d=$(root_procs)
  [ -z "$d" ] || echo "processes: $d $(while read -r p _; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done <<<"$d")"
  d=$(ls -A "$ISOLA_ROOT/containers" 2>/dev/null)
  [ -z "$d" ] || echo "containers/: $d"
  d=$(ls -A "$ISOLA_ROOT/tmp" 2>/dev/null)
  [ -z "$d" ] || echo "tmp/: $d"
  d=$(ls -A "$ISOLA_ROOT/mounts" 2>/dev/null)
  [ -z "$d" ] || echo "mounts/: $d"
  d=$(ls -A "$ISOLA_ROOT/volumes" 2>/dev/null)
  [ -z "$d" ] || echo "volumes/: $d"
  return 0
}

@test "chaos: kill -9 of CLIs, monitors and VM workers during run/exec/stop/rm/load leaves nothing after rm -f" {
  RANDOM=$CHAOS_SEED
  echo "# chaos seed $CHAOS_SEED ($TEST_ISOLATION isolation, ${CHAOS_SECONDS}s; replay: ISOLA_CHAOS_SEED=$CHAOS_SEED)" >&3
  : >"$BATS_TEST_TMPDIR/journal"
  local end last ops=0 max_pause=600
  [ "$TEST_ISOLATION" = vm ] && max_pause=3000
  # microseconds from bash's clock: a loop that forks date costs ~30 ms a turn on a loaded machine
  end=$((${EPOCHREALTIME/./} + CHAOS_SECONDS * 1000000))
  while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
    cli_reap
    note_ids
    # up to three CLIs at once
    last=
    if [ ${#CLI_START[@]} -lt 3 ]; then
      chaos_op
      last=$!
      ops=$((ops + 1))
    fi
    case $((RANDOM % 10)) in
      0 | 1) # the verb just started, part way through
        pause_ms 60
        chaos_kill "$last"
        ;;
      2 | 3 | 4) # anything of the root: a CLI, a monitor, a VM worker
        pause_ms "$max_pause"
        chaos_kill
        ;;
      *) pause_ms "$max_pause" ;;
    esac
    note_ids
  done
  # the CLIs still running finish (or hang)
  while [ ${#CLI_START[@]} -gt 0 ]; do
    cli_reap
    note_ids
    [ ${#CLI_START[@]} -eq 0 ] || sleep 0.1
  done
  echo "# $ops verbs, $(grep -c ' kill -9 .*(cli' "$BATS_TEST_TMPDIR/journal") CLIs killed," \
    "$(grep -c ' kill -9 .*(monitor' "$BATS_TEST_TMPDIR/journal") monitors," \
    "$(grep -c ' kill -9 .*(vm' "$BATS_TEST_TMPDIR/journal") VM workers" >&3
  # ISOLA_CHAOS_JOURNAL=FILE keeps what happened (verbs, kills, exit codes)
  [ -z "${ISOLA_CHAOS_JOURNAL:-}" ] || cp "$BATS_TEST_TMPDIR/journal" "$ISOLA_CHAOS_JOURNAL"

  local ids
  ids=$(isola ps -aq --no-trunc)
  note_ids
  # shellcheck disable=SC2086
  [ -z "$ids" ] || run --separate-stderr isola rm -f $ids
  [ -z "$ids" ] || [ "$status" -eq 0 ] || PROBLEMS+=("rm -f failed: $status $output $stderr")
  # the next command: a container runs, and (holding the store's exclusive lock to create it) clears tmp/
  run --separate-stderr isola run --rm busybox echo ok
  [ "$status" -eq 0 ] && [ "$output" = ok ] || PROBLEMS+=("run after the chaos: $status '$output' $stderr")
  # the listings, with nothing left in them
  run --separate-stderr isola ps -aq
  [ "$status" -eq 0 ] && [ -z "$output" ] || PROBLEMS+=("ps -aq after rm -f: $status '$output' $stderr")
  local left
  left=$(leftovers)
  [ -z "$left" ] || PROBLEMS+=("left behind: $left")

  # the images: listed, inspected, and their blobs and snapshots those of a clean root with the same images
  run --separate-stderr isola images --format '{{.Repository}}:{{.Tag}}'
  [ "$status" -eq 0 ] || PROBLEMS+=("images: $status $stderr")
  local tags=$output
  [[ $tags == *busybox:latest* ]] || PROBLEMS+=("busybox is gone: $tags")
  run --separate-stderr isola image inspect busybox
  [ "$status" -eq 0 ] || PROBLEMS+=("image inspect busybox: $status $stderr")
  if [[ $tags != *fixture/multi:oci* ]]; then
    # rmi won, or its load was killed: loaded again, it must be whole
    run --separate-stderr isola load -q -i "$(fx multilayer-oci)"
    [ "$status" -eq 0 ] || PROBLEMS+=("load after the chaos: $status $stderr")
  fi
  run --separate-stderr isola image inspect fixture/multi:oci
  [ "$status" -eq 0 ] || PROBLEMS+=("image inspect fixture/multi:oci: $status $stderr")
  local objects
  objects=$(diff "$BATS_FILE_TMPDIR/objects" <(store_objects "$ISOLA_ROOT")) ||
    PROBLEMS+=("blobs and snapshots differ from a clean root's with the same images: $objects")
  run --separate-stderr isola image rm fixture/multi:oci
  [ "$status" -eq 0 ] || PROBLEMS+=("rmi fixture/multi:oci after the chaos: $status $stderr")

  if [ ${#PROBLEMS[@]} -gt 0 ]; then
    echo "chaos seed $CHAOS_SEED ($TEST_ISOLATION): replay with ISOLA_CHAOS_SEED=$CHAOS_SEED"
    printf 'PROBLEM: %s\n' "${PROBLEMS[@]}"
    echo "what happened:"
    cat "$BATS_TEST_TMPDIR/journal"
    return 1
  fi
}

# Found by the loop above: a container paused when its monitor was killed left its cgroup frozen (nothing thawed
# it), and the next run's processes froze as they joined it: `start` and then `rm -f` hung.
@test "kill -9 of a paused container's monitor: the container starts again, runs, and rm -f removes it" {
  run_detached --name frozen busybox sleep 1000
  local id=$CID pid mon
  pid=$(cfield frozen '{{.State.Pid}}')
  track_pid "$pid"
  isola_ok pause frozen
  mon=$(root_procs | awk '$2 == "monitor" { print $1 }')
  [ -n "$mon" ] && [ "$(wc -l <<<"$mon")" -eq 1 ] || fail "expected one monitor, got: '$mon'"
  kill -KILL "$mon"
  wait_until 10 gone "$mon"
  ISOLA_TIMEOUT=60 isola_ok start frozen
  run --separate-stderr isola exec frozen echo thawed
  assert_status 0
  assert_equal "$output" thawed
  ISOLA_TIMEOUT=60 isola_ok rm -f frozen
  [ -z "$(container_cgroup_dirs "$id")" ] || fail "cgroups left behind: $(container_cgroup_dirs "$id")"
  assert_equal "$(leftovers)" ""
}
