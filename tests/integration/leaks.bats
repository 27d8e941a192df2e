#!/usr/bin/env bats
# Leaks: the ASan+UBSan CLI and monitor, with LeakSanitizer on, through a container's whole life in both isolation
# modes and through the image and volume verbs.  The other bats files run without the leak check (it costs ~0.1 s
# at every exit of every CLI call, a third of the process pass); the unit tests keep it on everywhere.  The
# monitor's reports go to ISOLA_MONITOR_LOG: without it they would go to /dev/null.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}
# Always the ASan build, whatever the suite drives otherwise.
ISOLA=$REPO/build/asan/isola

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() {
  [ -x "$ISOLA" ] || fail "the ASan build is missing: $ISOLA (make asan)"
  container_setup
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
  export ISOLA_MONITOR_LOG=$BATS_TEST_TMPDIR/monitor.log
}
teardown() { container_teardown; }

SANITIZER_RE='(Leak|Address|UndefinedBehavior)Sanitizer|runtime error:'

# clean ARGS...: runs isola ARGS, which must succeed without a sanitizer report.
clean() {
  run --separate-stderr isola "$@"
  if [ "$status" -ne 0 ] || [[ $stderr =~ $SANITIZER_RE ]]; then
    echo "isola $* (exit $status):"
    show_run
    return 1
  fi
}

# clean_stdin INPUT ARGS...: clean, with the file INPUT as stdin.
clean_stdin() {
  local input=$1
  shift
  run --separate-stderr isola "$@" <"$input"
  if [ "$status" -ne 0 ] || [[ $stderr =~ $SANITIZER_RE ]]; then
    echo "isola $* <$input (exit $status):"
    show_run
    return 1
  fi
}

# monitors_clean: every monitor of this test has exited, and none reported anything.
monitors_clean() {
  [ -e "$ISOLA_MONITOR_LOG" ] || fail "no monitor ran with ISOLA_MONITOR_LOG=$ISOLA_MONITOR_LOG"
  local i
  for i in $(seq 1 100); do
    [ -z "$(procs_of_root)" ] && break
    sleep 0.1
  done
  if grep -qE "$SANITIZER_RE" "$ISOLA_MONITOR_LOG"; then
    echo "the monitor reported:"
    cat "$ISOLA_MONITOR_LOG"
    return 1
  fi
}

# container_life MODE: a container's life, every verb that talks to its monitor.
container_life() {
  local mode=$1
  head -c 1048576 /dev/urandom >"$BATS_TEST_TMPDIR/in"
  clean run -d -i --isolation="$mode" --name life busybox sh -c 'seq 1 20000; cat >/dev/null; echo done'
  CONTAINER_IDS+=("$output")
  clean logs --tail 3 life
  clean exec life echo from-exec
  [ "$output" = from-exec ] || fail "exec printed '$output'"
  clean_stdin "$BATS_TEST_TMPDIR/in" exec -i life wc -c
  [ "${output// /}" = 1048576 ] || fail "exec -i counted '$output'"
  clean top life
  clean inspect life
  clean ps -a --format '{{json .}}'
  clean stop -t 5 life
  clean start life
  clean restart -t 5 life
  clean kill life
  clean wait life
  clean logs life
  clean rm -f life
  clean_stdin "$BATS_TEST_TMPDIR/in" run --rm -i --isolation="$mode" busybox md5sum
  [ "${output%% *}" = "$(md5sum <"$BATS_TEST_TMPDIR/in" | cut -d' ' -f1)" ] || fail "run -i md5sum: '$output'"
  clean run --rm --isolation="$mode" busybox seq 1 100000
  [ "${#lines[@]}" = 100000 ] || fail "run printed ${#lines[@]} lines"
  monitors_clean
}

@test "leaks: a process container's life, through every verb that talks to its monitor" {
  only_isolation process "the VM pass runs the VM container's life"
  container_life process
}

@test "leaks: a VM container's life, through every verb that talks to its monitor" {
  only_isolation vm "the process pass runs the process container's life"
  container_life vm
}

@test "leaks: the image and volume verbs" {
  clean images
  clean tag busybox leak:1
  clean image inspect leak:1
  clean images --format '{{json .}}'
  clean save -o "$BATS_TEST_TMPDIR/img.tar" leak:1
  clean rmi leak:1
  clean load -i "$BATS_TEST_TMPDIR/img.tar"
  clean volume create v1
  clean run --rm -v v1:/data busybox sh -c 'echo hi > /data/f'
  clean volume inspect v1
  clean volume ls
  clean volume rm v1
  clean image prune -f
}

@test "leaks: the network verbs, and their refusals" {
  only_isolation process "network records are the same in both modes"
  [ "$(readlink /proc/self/ns/net)" != "$(readlink /proc/1/ns/net)" ] ||
    skip "needs a network namespace of its own (scripts/run-tests.sh makes one)"
  clean network create --subnet 10.83.0.0/24 leaknet
  clean network ls
  clean network inspect leaknet
  # a refusal's message is built from the route it found: that string leaked once (compat, LeakSanitizer)
  ip link add isolaleak0 type bridge
  ip addr add 10.84.0.1/24 dev isolaleak0
  ip link set isolaleak0 up
  run --separate-stderr isola network create --subnet 10.84.0.0/16 leaknet2
  ip link del isolaleak0
  [ "$status" -eq 1 ] && [[ $stderr == *"overlaps the host's route to 10.84.0.0/24"* ]] || fail "stderr: $stderr"
  [[ ! $stderr =~ $SANITIZER_RE ]] || fail "stderr: $stderr"
  run --separate-stderr isola network create --subnet 10.83.0.0/16 leaknet3
  [ "$status" -eq 1 ] && [[ ! $stderr =~ $SANITIZER_RE ]] || fail "stderr: $stderr"
  clean network rm leaknet
}
