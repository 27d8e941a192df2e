# Shared setup for the integration tests (plain bats 1.8, no bats-support/bats-assert).
#
# Every test gets a private store root (ISOLA_ROOT under /tmp, never /var/lib/isola); every file generates the
# fixtures it needs once, in setup_file, into its own temporary directory (FIXTURES).
#
#   ISOLA_BIN    the binary under test    (default: build/asan/isola)
#   ISOLA_IMAGE  the default image archive (default: build/images/busybox.tar, an OCI archive of busybox:latest)
#   ISOLA_TEST_ISOLATION  process (default) or vm: the isolation mode the container tests run with.  The lifecycle
#                files run in both modes (scripts/run-tests.sh); a test that only makes sense in one mode says so
#                with only_isolation.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
bats_require_minimum_version 1.5.0

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
ISOLA=${ISOLA_BIN:-$BATS_TEST_DIRNAME/../../build/asan/isola}
ISOLA_IMAGE=${ISOLA_IMAGE:-$REPO/build/images/busybox.tar}
MKFIXTURE=$REPO/tests/fixtures/mkfixture.py
ISOLA_TIMEOUT=${ISOLA_TIMEOUT:-120}

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export LC_ALL=C # sort order and messages are compared literally

TEST_ISOLATION=${ISOLA_TEST_ISOLATION:-process}
# The default isolation of every container the tests make without --isolation (driver.c).
if [ "$TEST_ISOLATION" != process ]; then
  export ISOLA_ISOLATION=$TEST_ISOLATION
fi

# The tests of one bats run share their VM templates (driver/vm_template.h), as the containers of one store do, instead of
# booting a template in every test's root; bats removes the directory at the end of the run.  vm.bats checks the
# default place, under the root.
export ISOLA_VM_TEMPLATE_DIR=${ISOLA_VM_TEMPLATE_DIR:-$BATS_RUN_TMPDIR/vm-templates}

# What HostConfig.Isolation and ps show for the containers of this run, and the other mode's name.
if [ "$TEST_ISOLATION" = process ]; then
  SHOWN_ISOLATION=process OTHER_ISOLATION=vm
else
  SHOWN_ISOLATION=hyperv OTHER_ISOLATION=process
fi
export SHOWN_ISOLATION OTHER_ISOLATION

# made DIR: notes a directory the tests made under /tmp (a root, the fixtures) in ISOLA_TEST_MADE when it is set:
# scripts/run-tests.sh looks there for leftovers of its own run only (roots, mounts and processes naming them, where
# DIR also stands for DIR.extra.*), not for those of another run or the user's.
made() {
  if [ -n "${ISOLA_TEST_MADE:-}" ] && [ -n "$1" ]; then echo "$1" >>"$ISOLA_TEST_MADE"; fi
}

# only_isolation MODE WHY: skips the test unless the suite runs with that isolation mode.
only_isolation() {
  [ "$TEST_ISOLATION" = "$1" ] || skip "$1 isolation only: $2"
}

# Runs the binary under test; a hang becomes exit 124 instead of a stuck suite.  With VM isolation no call gets less
# than 120 s: the first container of a VM layout boots its template, which on a loaded machine under TCG can take
# longer than the 30 s the container files give a call.
isola() {
  local t=$ISOLA_TIMEOUT
  if [ "$TEST_ISOLATION" = vm ] && [ "$t" -lt 120 ]; then t=120; fi
  timeout "$t" "$ISOLA" "$@"
}

# ---- per-file setup ------------------------------------------------------------------------------------------------

# common_setup_file KIND...: checks the binary exists and generates the named fixtures into $FIXTURES/KIND.tar.
common_setup_file() {
  if [ ! -x "$ISOLA" ]; then
    echo "isola binary not found at $ISOLA (run 'make asan' or set ISOLA_BIN)" >&2
    return 1
  fi
  # pyenv shims cost ~0.2 s a call: resolve the real interpreter once.
  PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
  export PYTHON
  FIXTURES=$(mktemp -d /tmp/isola-fixtures.XXXXXX)
  export FIXTURES
  made "$FIXTURES"
  local kind
  for kind in "$@"; do
    make_fixture "$kind" || return 1
  done
}

common_teardown_file() {
  if [[ ${FIXTURES:-} == /tmp/isola-fixtures.* ]]; then
    rm -rf "$FIXTURES"
  fi
}

make_fixture() {
  [ -e "$FIXTURES/$1.tar" ] && return 0
  "$PYTHON" "$MKFIXTURE" "$1" "$FIXTURES/$1.tar" || {
    echo "mkfixture.py $1 failed" >&2
    return 1
  }
}

# fx KIND: the path of a generated fixture.
fx() {
  echo "$FIXTURES/$1.tar"
}

require_busybox_image() {
  if [ ! -f "$ISOLA_IMAGE" ]; then
    fail "default image archive $ISOLA_IMAGE is missing (run 'make image' or set ISOLA_IMAGE)"
  fi
}

# ---- per-test store roots ------------------------------------------------------------------------------------------

# A root's containers have no network unless they ask for one ("network": {"default": "none"} in its config.json):
# a network namespace and a veth cost a few ms a container, and the suite starts thousands.
# The files that test networks (network.bats, the default-network test of isolation.bats) set
# ISOLA_TEST_DEFAULT_NETWORK=bridge to get Docker's default.
setup_root() {
  ISOLA_ROOT=$(mktemp -d /tmp/isola-test.XXXXXX)
  export ISOLA_ROOT
  made "$ISOLA_ROOT"
  if [ "${ISOLA_TEST_DEFAULT_NETWORK:-none}" != bridge ]; then
    echo '{"network": {"default": "none"}}' >"$ISOLA_ROOT/config.json"
  fi
}

# new_root: another private root (for --root tests, round trips, podman storage), named after $ISOLA_ROOT so that
# teardown_root finds it even though new_root runs in a $(...) subshell.
new_root() {
  mktemp -d "$ISOLA_ROOT.extra.XXXXXX"
}

teardown_root() {
  local r
  [ -n "${ISOLA_ROOT:-}" ] || return 0
  for r in "$ISOLA_ROOT".extra.* "$ISOLA_ROOT"; do
    cleanup_root "$r"
  done
}

# mounts_of DIR: mount points under DIR, plus any mount whose options name DIR (an image mounted outside its root),
# deepest first.
mounts_of() {
  awk -v r="$1" '
    function unescape(s) { gsub(/\\040/, " ", s); gsub(/\\011/, "\t", s); gsub(/\\134/, "\\", s); return s }
    { mp = unescape($5)
      if (mp == r || index(mp, r "/") == 1 || index($0, r "/") > 0) print mp }' /proc/self/mountinfo |
    awk -F/ '{ print NF "\t" $0 }' | sort -rn | cut -f2-
}

cleanup_root() {
  local r=$1 m left= _ table=
  [[ $r == /tmp/isola-test.* ]] && [ -d "$r" ] || return 0
  # Most tests leave nothing mounted: a look at the mount table with builtins only (no fork) skips the scan.
  read -r -d '' table </proc/self/mountinfo || true
  [[ $table == *"$r"* ]] && left=$(mounts_of "$r")
  for _ in 1 2 3 4 5; do
    [ -z "$left" ] && break
    while IFS= read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done <<<"$left"
    left=$(mounts_of "$r")
  done
  if [ -n "$left" ]; then
    echo "# could not unmount under $r; leaving it in place" >&3
    return 0
  fi
  rm -rf --one-file-system "$r"
}

# ---- store inspection ----------------------------------------------------------------------------------------------

# store_listing: the store's content, without tmp/ and the event journal (events/: a load of an image already there
# changes nothing but is an event, as in Docker).
store_listing() {
  find "$ISOLA_ROOT" -mindepth 1 \( -path "$ISOLA_ROOT/tmp" -prune \) -o \( -path "$ISOLA_ROOT/events" -prune \) \
    -o \( -path "$ISOLA_ROOT/cache" -prune \) -o -printf '%P %y %s\n' | sort
}

# assert_store_unchanged BEFORE: compares store_listing with an earlier one.
assert_store_unchanged() {
  local after
  after=$(store_listing)
  if [ "$1" != "$after" ]; then
    echo "store changed:"
    diff <(echo "$1") <(echo "$after") || true
    return 1
  fi
}

assert_tmp_clean() {
  local t=$ISOLA_ROOT/tmp
  if [ -d "$t" ] && [ -n "$(ls -A "$t")" ]; then
    echo "leftovers in $t:"
    find "$t" | head -50
    return 1
  fi
}

snapshot_count() {
  find "$ISOLA_ROOT/snapshots" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l
}

# blob_and_snapshot_files: everything left under blobs/sha256 and snapshots (empty when no image remains).
blob_and_snapshot_files() {
  find "$ISOLA_ROOT/blobs/sha256" "$ISOLA_ROOT/snapshots" -mindepth 1 2>/dev/null
}

# image_id REF: the full "sha256:…" ID of an image, via inspect.
image_id() {
  isola image inspect "$1" | jq -r '.[0].Id'
}

# image_tags: "repo:tag" of every tagged image, sorted (from `images`, so it also exercises the listing).
image_tags() {
  isola images | awk -F'   +' 'NR > 1 && $1 != "<none>" { print $1 ":" $2 }' | sort
}

# expected_id ARCHIVE: sha256 of the config of the first manifest of an (uncompressed) OCI layout archive.
expected_id() {
  local m
  m=$(tar -xOf "$1" index.json | jq -r '.manifests[0].digest | sub("^sha256:"; "")')
  tar -xOf "$1" "blobs/sha256/$m" | jq -r '.config.digest'
}

# expected_diff_ids ARCHIVE: the config's rootfs.diff_ids of an OCI layout archive, as a compact JSON array.
expected_diff_ids() {
  local c
  c=$(expected_id "$1")
  tar -xOf "$1" "blobs/sha256/${c#sha256:}" | jq -c '.rootfs.diff_ids'
}

# mount_image REF: `isola image mount` with checks; sets MNT.
mount_image() {
  run --separate-stderr isola image mount "$1"
  assert_status 0
  MNT=$output
  if [ -z "$MNT" ] || [ "$(printf '%s\n' "$MNT" | wc -l)" -ne 1 ]; then fail "expected one path, got: '$MNT'"; fi
  mountpoint -q "$MNT" || fail "$MNT is not a mount point"
}

# ---- assertions ----------------------------------------------------------------------------------------------------

fail() {
  echo "FAIL: $*"
  return 1
}

show_run() {
  echo "status: $status"
  echo "output: ${output:-}"
  if [ -n "${stderr+set}" ]; then echo "stderr: ${stderr}"; fi
}

assert_status() {
  if [ "$status" -ne "$1" ]; then
    echo "expected status $1"
    show_run
    return 1
  fi
}

# assert_status_in "1 125"
assert_status_in() {
  local s
  for s in $1; do [ "$status" -eq "$s" ] && return 0; done
  echo "expected status in {$1}"
  show_run
  return 1
}

assert_output_contains() {
  if [[ $output != *"$1"* ]]; then
    echo "expected output to contain: $1"
    show_run
    return 1
  fi
}

refute_output_contains() {
  if [[ $output == *"$1"* ]]; then
    echo "expected output not to contain: $1"
    show_run
    return 1
  fi
}

# assert_output_matches ERE (against the whole output, any line may match with ^…$ when using (^|$'\n'))
assert_output_matches() {
  if ! grep -Eq -- "$1" <<<"$output"; then
    echo "expected a line of output to match: $1"
    show_run
    return 1
  fi
}

assert_stderr_matches() {
  if ! grep -Eq -- "$1" <<<"$stderr"; then
    echo "expected a line of stderr to match: $1"
    show_run
    return 1
  fi
}

assert_output_empty() {
  if [ -n "$output" ]; then
    echo "expected empty output"
    show_run
    return 1
  fi
}

assert_equal() {
  if [ "$1" != "$2" ]; then
    echo "expected: $2"
    echo "actual:   $1"
    return 1
  fi
}

# isola_ok ARGS...: runs a command that must succeed (setup steps inside tests).
isola_ok() {
  run --separate-stderr isola "$@"
  if [ "$status" -ne 0 ]; then
    echo "setup command failed: isola $*"
    show_run
    return 1
  fi
}

load_fixture() {
  isola_ok load -q -i "$(fx "$1")"
}

# ---- containers ----------------------------------------------------------------------------------------------------
# Every container test runs in its own root with the busybox image loaded; container_teardown removes whatever the
# test started (containers, monitors, their processes) before the root itself, even when the test failed.
#
# A file of container tests loads the image once, in setup_file, into a seed root that no test uses
# (container_setup_file); each test's root starts as a copy of it.  A copy is independent of the seed: nothing a test
# does to its store (rmi, prune, a container's writes) reaches the seed, and container_teardown_file checks that.
# Copying the seed takes ~0.05 s, loading the image ~0.2 s (ASan build).  Hard links to the seed's blobs and snapshots
# (never written in place, STORE.md) would save ~0.01 s more a test here: not worth roots that share inodes.

# container_setup_file: the seed root (SEED_ROOT) with the default busybox image loaded.
container_setup_file() {
  if [ ! -f "$ISOLA_IMAGE" ]; then
    echo "default image archive $ISOLA_IMAGE is missing (run 'make image' or set ISOLA_IMAGE)" >&2
    return 1
  fi
  SEED_ROOT=$(mktemp -d /tmp/isola-test.XXXXXX)
  export SEED_ROOT
  made "$SEED_ROOT"
  if ! ISOLA_ROOT=$SEED_ROOT isola load -q -i "$ISOLA_IMAGE" >/dev/null; then
    echo "could not load $ISOLA_IMAGE into the seed root $SEED_ROOT" >&2
    return 1
  fi
  seed_listing >"$BATS_FILE_TMPDIR/seed-listing"
}

# seed_listing: every file of the seed root with its type, size, mode, owner and modification time.
seed_listing() {
  find "$SEED_ROOT" -mindepth 1 -printf '%P %y %s %m %u:%g %T@\n' | sort
}

container_teardown_file() {
  local ret=0 now
  if [[ ${SEED_ROOT:-} == /tmp/isola-test.* ]] && [ -d "$SEED_ROOT" ]; then
    now=$(seed_listing)
    if [ "$now" != "$(cat "$BATS_FILE_TMPDIR/seed-listing" 2>/dev/null)" ]; then
      echo "the seed root $SEED_ROOT changed during the file's tests:" >&2
      diff "$BATS_FILE_TMPDIR/seed-listing" <(echo "$now") >&2
      ret=1
    fi
    cleanup_root "$SEED_ROOT"
  fi
  return $ret
}

# container_setup: a private root with the default busybox image loaded (a copy of the seed root when the file has
# one).
container_setup() {
  setup_root
  CONTAINER_PIDS=()
  CONTAINER_IDS=()
  if [ -n "${SEED_ROOT:-}" ]; then
    cp -a "$SEED_ROOT/." "$ISOLA_ROOT/" || fail "could not copy the seed root $SEED_ROOT to $ISOLA_ROOT"
  else
    require_busybox_image
    isola_ok load -q -i "$ISOLA_IMAGE"
  fi
}

# track_pid PID: a container process that teardown must make sure is gone (e.g. one whose monitor the test killed).
track_pid() {
  CONTAINER_PIDS+=("$1")
}

# kill_container_pid PID: SIGKILL to PID, but only if it still runs in another PID namespace than ours (a container's
# first process; killing it ends its whole namespace) — never a recycled host PID.
kill_container_pid() {
  local p=$1 ours theirs
  [[ $p =~ ^[0-9]+$ ]] && [ "$p" -gt 1 ] || return 0
  ours=$(readlink /proc/self/ns/pid) || return 0
  theirs=$(readlink "/proc/$p/ns/pid" 2>/dev/null) || return 0
  [ "$theirs" != "$ours" ] || return 0
  kill -KILL "$p" 2>/dev/null || true
}

# procs_of_root: PIDs of the processes whose command line names $ISOLA_ROOT (monitors, CLIs of this test).
procs_of_root() {
  pgrep -f "$ISOLA_ROOT" 2>/dev/null || true
}

container_teardown() {
  count_starts
  if [ -n "${ISOLA_ROOT:-}" ] && [ -d "$ISOLA_ROOT" ]; then
    local ids id p i left
    ids=$(ISOLA_TIMEOUT=20 isola ps -aq --no-trunc 2>/dev/null) || ids=
    if [ -n "$ids" ]; then
      # one inspect for all of them: a line each (kill_container_pid ignores what is not a PID)
      # shellcheck disable=SC2086
      for p in $(ISOLA_TIMEOUT=20 isola inspect -f '{{.State.Pid}}' $ids 2>/dev/null); do CONTAINER_PIDS+=("$p"); done
      # shellcheck disable=SC2086
      ISOLA_TIMEOUT=30 isola rm -f $ids >/dev/null 2>&1 || true
    fi
    # one scan of the process table when nothing is left, as in most tests
    left=$(procs_of_root)
    [ -z "$left" ] || pkill -KILL -f "$ISOLA_ROOT" 2>/dev/null || true
    for p in "${CONTAINER_PIDS[@]}"; do kill_container_pid "$p"; done
    for ((i = 0; i < 200; i++)); do
      [ -z "$left" ] && break
      sleep 0.05
      left=$(procs_of_root)
    done
    if [ -n "$left" ]; then
      echo "# processes of $ISOLA_ROOT still running after teardown: $(tr '\n' ' ' <<<"$left")" >&3
    fi
    # cgroups the engine left behind (v2 isola/ID, v1 CONTROLLER/isola/ID); rmdir only removes empty ones
    for id in $ids "${CONTAINER_IDS[@]}"; do
      for p in $(container_cgroup_dirs "$id"); do
        rmdir "$p" 2>/dev/null || true
      done
    done
  fi
  teardown_root
}

# count_starts: with ISOLA_COUNT_STARTS=FILE, appends "TEST<tab>STARTS<tab>EXECS" to FILE: the containers the test
# started (start events, restarts included) and the execs it ran, in its roots (a container start is what a VM test
# pays for: ~1 s of CPU under TCG, an exec a fraction of it).
count_starts() {
  [ -n "${ISOLA_COUNT_STARTS:-}" ] && [ -n "${ISOLA_ROOT:-}" ] || return 0
  local j starts=0 execs=0
  for j in "$ISOLA_ROOT"/events/journal "$ISOLA_ROOT".extra.*/events/journal; do
    [ -f "$j" ] || continue
    starts=$((starts + $(grep -c '"Type":"container","Action":"start"' "$j")))
    execs=$((execs + $(grep -c '"Type":"container","Action":"exec_start' "$j")))
  done
  printf '%s\t%s\t%s\n' "$BATS_TEST_DESCRIPTION" "$starts" "$execs" >>"$ISOLA_COUNT_STARTS"
}

# container_cgroup_dirs ID: the container's cgroup directories that exist (v2 isola/ID, v1 CONTROLLER/isola/ID).
container_cgroup_dirs() {
  local d
  [[ $1 =~ ^[0-9a-f]{64}$ ]] || return 0
  for d in /sys/fs/cgroup/isola/"$1" /sys/fs/cgroup/*/isola/"$1"; do
    if [ -d "$d" ]; then echo "$d"; fi
  done
  return 0
}

# now_ms: milliseconds since the epoch.
now_ms() {
  echo $(($(date +%s%N) / 1000000))
}

# The deadlines of the waits below only bound how long a failing test takes: a wait ends as soon as its condition
# holds.  A loaded machine (a TCG VM boot, an ASan build, other test files at once) makes short deadlines fail tests
# that are right, so none is shorter than ISOLA_WAIT_FLOOR seconds (default 60).  Speed is the benchmarks' business.
WAIT_FLOOR=${ISOLA_WAIT_FLOOR:-60}

# deadline_s T: T seconds, or the floor when that is longer.
deadline_s() {
  if [ "$1" -gt "$WAIT_FLOOR" ]; then echo "$1"; else echo "$WAIT_FLOOR"; fi
}

# wait_until TIMEOUT_S COMMAND...: polls COMMAND (every 50 ms) until it succeeds; fails after TIMEOUT_S seconds.
wait_until() {
  local t deadline
  t=$(deadline_s "$1")
  shift
  deadline=$(($(now_ms) + t * 1000))
  until "$@"; do
    if [ "$(now_ms)" -ge "$deadline" ]; then
      echo "still false after ${t}s: $*"
      return 1
    fi
    sleep 0.05
  done
}

# wait_for_status CONTAINER STATUS [TIMEOUT_S]: polls `inspect -f '{{.State.Status}}'` until it is STATUS (default
# timeout 10 s).
wait_for_status() {
  local c=$1 want=$2 t deadline s
  t=$(deadline_s "${3:-10}")
  deadline=$(($(now_ms) + t * 1000))
  while :; do
    s=$(isola inspect -f '{{.State.Status}}' "$c" 2>/dev/null) || s="(inspect failed)"
    [ "$s" = "$want" ] && return 0
    if [ "$(now_ms)" -ge "$deadline" ]; then
      echo "container $c: status '$s' after ${t}s, expected '$want'"
      return 1
    fi
    sleep 0.05
  done
}

# run_detached ARGS...: `isola run -d ARGS...` that must succeed; sets CID to the printed ID.
# wait_for_log ID TEXT: waits (up to the floor) until the container's log has TEXT.
wait_for_log() {
  local deadline
  deadline=$(($(now_ms) + $(deadline_s 30) * 1000))
  until ISOLA_TIMEOUT=30 isola logs "$1" 2>/dev/null | grep -q -- "$2"; do
    [ "$(now_ms)" -lt "$deadline" ] || fail "container $1 never logged '$2'" || return 1
    sleep 0.2
  done
}

run_detached() {
  run --separate-stderr isola run -d "$@"
  if [ "$status" -ne 0 ]; then
    echo "setup command failed: isola run -d $*"
    show_run
    return 1
  fi
  CID=$output
  CONTAINER_IDS+=("$CID")
  if ! [[ $CID =~ ^[0-9a-f]{64}$ ]]; then
    echo "run -d did not print a 64-hex ID: '$CID'"
    return 1
  fi
}

# cfield CONTAINER TEMPLATE: one inspect field (via -f).
cfield() {
  isola inspect -f "$2" "$1"
}

# assert_jq FILTER: the jq filter is true of $output.
assert_jq() {
  if ! jq -e "$1" <<<"$output" >/dev/null 2>&1; then
    echo "jq filter false: $1"
    echo "output: $output"
    return 1
  fi
}

# host_mounts: the host's mount table, minus the roots and bats directories of other tests that may run concurrently
# (/tmp/isola-*; /tmp/bats-run-*, where netns.bats mounts its namespace files).
host_mounts() {
  awk -v r="$ISOLA_ROOT" -v b="${BATS_RUN_TMPDIR:-/nonexistent}" '
    index($0, r) > 0 || index($0, b) > 0 || (index($0, "/tmp/isola-") == 0 && index($0, "/tmp/bats-run-") == 0)' \
    /proc/self/mounts | sort
}

# assert_no_new_mounts BEFORE: compares host_mounts with an earlier one (new entries only).
assert_no_new_mounts() {
  local added
  added=$(comm -13 <(echo "$1") <(host_mounts))
  if [ -n "$added" ]; then
    echo "mounts left behind on the host:"
    echo "$added"
    return 1
  fi
}

# start_attached FILE ARGS...: starts `isola ARGS...` in the background (stdout+stderr to FILE) with SIGINT and
# SIGTERM at their defaults (a non-interactive shell ignores SIGINT in background jobs); sets BG_PID.
start_attached() {
  local f=$1
  shift
  # Emptied here, not by the job's redirection: that happens in the job, after we go on, and a test that waits for
  # a line in FILE would find the one a previous run left there (and signal a job that is still a shell).
  : >"$f"
  env --default-signal=INT,TERM "$ISOLA" "$@" >>"$f" 2>&1 3>&- &
  BG_PID=$!
}

# wait_bg TIMEOUT_S: waits for BG_PID to exit; sets BG_STATUS (124 when it was still running and got killed).
wait_bg() {
  local t deadline
  t=$(deadline_s "$1")
  deadline=$(($(now_ms) + t * 1000))
  while kill -0 "$BG_PID" 2>/dev/null && [ "$(pidstat_zombie "$BG_PID")" != Z ]; do
    if [ "$(now_ms)" -ge "$deadline" ]; then
      kill -KILL "$BG_PID" 2>/dev/null || true
      wait "$BG_PID" 2>/dev/null || true
      BG_STATUS=124
      return 0
    fi
    sleep 0.05
  done
  # shellcheck disable=SC2034 # read by the tests
  BG_STATUS=0
  wait "$BG_PID" || BG_STATUS=$?
}

# pidstat_zombie PID: the process state letter of PID (Z for a zombie).
pidstat_zombie() {
  awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null
}

# file_contains FILE TEXT: FILE exists and contains TEXT (for polling).
file_contains() {
  [ -f "$1" ] && grep -qF -- "$2" "$1"
}

# ps_column COLUMN [PS-ARGS...]: one column of the `isola ps` table, cut at the header's positions, one line per
# container, trailing blanks removed.
ps_column() {
  local col=$1
  shift
  isola ps "$@" | awk -v col="$col" '
    NR == 1 {
      s = index($0, col)
      if (!s) { print "no column " col " in: " $0 > "/dev/stderr"; exit 1 }
      rest = substr($0, s + length(col))
      e = match(rest, /[^ ]/) ? s + length(col) + RSTART - 1 : 0
      next
    }
    { v = e ? substr($0, s, e - s) : substr($0, s); sub(/ +$/, "", v); print v }'
}
