#!/usr/bin/env bats
# The attach session of run, start -a and attach: run -a (which streams), --sig-proxy (which signals reach the
# container), --detach-keys and ROOT/config.json's "detachKeys" (which keys detach).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# containers should never take long: a hang fails after 30 s instead of 120 (read by the isola function)
# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# A container that says "ready" once its traps are set, then says which signal it got, and goes on.
TRAPPER='for s in USR1 TERM INT HUP; do trap "echo got $s" $s; done; echo ready; while :; do sleep 0.1; done'

# client_terminal_raw PID: whether the isola client that script(1) (a child of PID, timeout) started has put its
# terminal raw: from then on it reads each key as typed, a detach sequence too (the pty is cooked before, and ^Q in
# it is flow control, which the pty would take for itself).
client_terminal_raw() {
  local script client pts
  script=$(pgrep -P "$1" -x script) || return 1
  client=$(pgrep -P "$script" | head -1) || return 1
  pts=$(readlink "/proc/$client/fd/0") || return 1
  [[ $pts == /dev/pts/* ]] && stty -F "$pts" -a 2>/dev/null | grep -qw -- -icanon
}

# keys_to_terminal WHEN INPUT COMMAND...: runs the isola COMMAND in a terminal (script(1)) and types INPUT (printf's
# escapes) into it once the client has put that terminal raw, then waits until the command ends (at most 90 s), with
# its status and output in $status and $output.  WHEN is "now", or prompt:NAME to wait also until the line editor of
# container NAME's sh has set the container's own terminal raw: it is cooked before, and the typed line would not be
# what the test meant (a loaded machine starts sh after any fixed delay).
keys_to_terminal() {
  local when=$1 input=$2 in=$BATS_TEST_TMPDIR/keys.in out=$BATS_TEST_TMPDIR/keys.out fd pid
  shift 2
  local cmd="exec '$ISOLA'" a
  for a in "$@"; do cmd+=" '$a'"; done
  rm -f "$in"
  mkfifo "$in"
  # open both ways: the terminal's input stays open (no EOF for script) until the command has ended
  exec {fd}<>"$in"
  timeout 90 script -qec "$cmd" /dev/null <"$in" >"$out" 2>&1 3>&- &
  pid=$!
  if [[ $when == prompt:* ]]; then
    # (not its prompt in the log: the log has whole lines only)
    container_terminal_raw() { isola exec "$1" stty -F /proc/1/fd/0 -a 2>/dev/null | grep -qw -- -icanon; }
    wait_until 60 container_terminal_raw "${when#prompt:}" || fail "${when#prompt:}'s sh never set its terminal raw"
  fi
  wait_until 60 client_terminal_raw "$pid" || fail "the client never put its terminal raw: $(cat "$out")"
  # shellcheck disable=SC2059 # the input is a printf format on purpose
  printf "$input" >&"$fd"
  status=0
  wait "$pid" || status=$?
  exec {fd}>&-
  output=$(cat "$out")
}

# ---- run -a --------------------------------------------------------------------------------------------------------

@test "run -a STDOUT attaches stdout only, -a stderr stderr only, and run still returns the exit code" {
  run --separate-stderr isola run -a STDOUT busybox sh -c 'echo out; echo err >&2; exit 3'
  assert_status 3
  assert_equal "$output" out
  assert_equal "$stderr" ""
  run --separate-stderr isola run -a stderr busybox sh -c 'echo out; echo err >&2; exit 4'
  assert_status 4
  assert_equal "$output" ""
  assert_equal "$stderr" err
  run --separate-stderr isola run -a stdout --attach stderr busybox sh -c 'echo out; echo err >&2'
  assert_status 0
  assert_equal "$output" out
  assert_equal "$stderr" err
}

@test "run -a stdin alone prints the ID and relays stdin; the log has what was not attached" {
  run --separate-stderr isola run -i -a stdin busybox sh -c 'cat; exit 5' <<<"typed"
  assert_status 0
  [[ $output =~ ^[0-9a-f]{64}$ ]] || fail "not an ID: $output"
  local id=$output
  wait_for_status "$id" exited
  assert_equal "$(cfield "$id" '{{.State.ExitCode}}')" 5
  assert_equal "$(isola logs "$id")" typed
}

@test "run -a records Config.AttachStdin/Stdout/Stderr as Docker does; -d attaches nothing" {
  isola_ok create --name ee -a stderr busybox true
  assert_equal "$(cfield ee '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}')" "false false true"
  isola_ok create --name ii -i busybox true
  assert_equal "$(cfield ii '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}')" "true true true"
  run_detached --name dd busybox true
  assert_equal "$(cfield dd '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}')" "false false false"
}

@test "run -a refuses an unknown stream and -a with -d, as Docker" {
  run --separate-stderr isola run -a stdio busybox true
  assert_status 125
  assert_stderr_matches 'invalid argument "stdio" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR'
  run --separate-stderr isola run -d -a stdout busybox true
  assert_status 1
  assert_stderr_matches 'Conflicting options: -a and -d'
  assert_equal "$(isola ps -aq)" ""
}

# ---- --sig-proxy ---------------------------------------------------------------------------------------------------

@test "run forwards the signals it gets to the container; --sig-proxy=false does not" {
  local f=$BATS_TEST_TMPDIR/out
  start_attached "$f" run --name proxied busybox sh -c "$TRAPPER"
  wait_until 10 file_contains "$f" ready || { cat "$f"; return 1; }
  kill -USR1 "$BG_PID"
  kill -HUP "$BG_PID"
  # Both: a shell with both pending runs their traps in signal order (HUP's first), not in the order they came.
  wait_until 10 file_contains "$f" "got HUP" || { cat "$f"; return 1; }
  wait_until 10 file_contains "$f" "got USR1" || { cat "$f"; fail "USR1 was not forwarded"; }
  kill -KILL "$BG_PID"
  wait_bg 5

  start_attached "$f" run --name kept --sig-proxy=false busybox sh -c "$TRAPPER"
  wait_until 10 file_contains "$f" ready || { cat "$f"; return 1; }
  kill -TERM "$BG_PID"
  wait_bg 5
  assert_equal "$BG_STATUS" 143
  sleep 0.5
  assert_equal "$(cfield kept '{{.State.Status}}')" running
  run isola logs kept
  refute_output_contains "got"
}

@test "run -t forwards signals too (Docker's run does); attach and start -a to a terminal do not" {
  local f=$BATS_TEST_TMPDIR/out
  start_attached "$f" run -t --name tty busybox sh -c "$TRAPPER"
  wait_until 10 file_contains "$f" ready || { cat "$f"; return 1; }
  kill -USR1 "$BG_PID"
  wait_until 10 file_contains "$f" "got USR1" || { cat "$f"; return 1; }
  kill -KILL "$BG_PID"
  wait_bg 5
  # the container still runs: attach to it and send the attach client a TERM, which ends the client alone
  start_attached "$f" attach tty
  sleep 1
  kill -TERM "$BG_PID"
  wait_bg 5
  assert_equal "$BG_STATUS" 143
  assert_equal "$(cfield tty '{{.State.Status}}')" running
  run isola logs tty
  refute_output_contains "got TERM"
}

@test "run -t without -i leaves our terminal as it is: ^C is our SIGINT, forwarded to the container (as docker)" {
  local f=$BATS_TEST_TMPDIR/out in=$BATS_TEST_TMPDIR/in fd pid
  mkfifo "$in"
  exec {fd}<>"$in"
  # exec: script(1) starts the command through $SHELL, and a dash left waiting in the terminal's foreground group
  # would die of the same ^C (bash execs a lone command itself, dash does not)
  timeout 60 script -qec "exec '$ISOLA' run -t --name ct busybox sh -c 'trap \"echo got INT; exit 7\" INT; echo ready; while :; do sleep 0.1; done'" /dev/null <"$in" >"$f" 2>&1 &
  pid=$!
  wait_until 30 file_contains "$f" ready || { cat "$f"; return 1; }
  printf '\003' >&"$fd"
  local rc=0
  wait "$pid" || rc=$?
  exec {fd}>&-
  cat "$f"
  assert_equal "$rc" 7
  grep -q "got INT" "$f" || fail "the container did not get SIGINT"
}

@test "attach --sig-proxy=false leaves the container alone; attach forwards by default" {
  run_detached --name at busybox sh -c "$TRAPPER"
  wait_for_log at ready
  local f=$BATS_TEST_TMPDIR/out
  start_attached "$f" attach --sig-proxy=false at
  sleep 1
  kill -TERM "$BG_PID"
  wait_bg 5
  assert_equal "$BG_STATUS" 143
  start_attached "$f" attach at
  # the client forwards signals once it relays the output (a signal before that ends it, as its default)
  probe_relayed() { isola exec at sh -c 'echo probe >/proc/1/fd/1' && file_contains "$f" probe; }
  wait_until 30 probe_relayed || fail "the attach client relays nothing: $(cat "$f")"
  kill -INT "$BG_PID"
  wait_for_log at "got INT"
  kill -KILL "$BG_PID"
  wait_bg 5
  run isola logs at
  refute_output_contains "got TERM"
}

# ---- --detach-keys -------------------------------------------------------------------------------------------------

@test "run -it --detach-keys: the sequence detaches and is not passed on; a partial one is passed on" {
  # ^A y is not the sequence: both keys reach cat (-v shows ^A); ^A x detaches
  keys_to_terminal now 'a\001yb\n\001x' run -it --name dk --detach-keys ctrl-a,x busybox cat -v
  assert_status 0
  assert_equal "$(cfield dk '{{.State.Status}}')" running
  wait_for_log dk 'a^Ayb'
  run isola logs dk
  refute_output_contains '^Ax'
}

@test "detach keys: Ctrl-P Ctrl-Q by default, else config.json's detachKeys; start -a and attach take --detach-keys" {
  echo '{"detachKeys": "ctrl-e,e"}' >"$ISOLA_ROOT/config.json"
  keys_to_terminal prompt:cfg 'echo one\n\020\021echo two\n\005e' run -it --name cfg busybox sh
  assert_status 0
  assert_equal "$(cfield cfg '{{.State.Status}}')" running
  # Ctrl-P Ctrl-Q is not the sequence here: it went to the shell, which went on to run the second echo
  wait_for_log cfg two
  rm "$ISOLA_ROOT/config.json"
  keys_to_terminal now 'echo three\n\020\021' attach cfg
  assert_status 0
  wait_for_log cfg three
  keys_to_terminal now 'echo four\n\001\001' attach --detach-keys ctrl-a,ctrl-a cfg
  assert_status 0
  wait_for_log cfg four
  isola_ok create -it --name st busybox sh
  # typed at st's prompt: busybox sh may lose what is typed before its line editor starts (type-ahead with an
  # at-once detach: 3 of 10 lost with sh, 0 of 10 with cat in its place)
  keys_to_terminal prompt:st 'echo five\n_' start -ai --detach-keys _ st
  assert_status 0
  wait_for_log st five
  assert_equal "$(cfield st '{{.State.Status}}')" running
}

@test "--detach-keys refuses keys Docker does not know" {
  run --separate-stderr isola run --detach-keys ctrl-foo busybox true
  assert_status 1
  assert_stderr_matches 'Invalid detach keys \(ctrl-foo\) provided'
  assert_equal "$(isola ps -aq)" ""
  run_detached --name xx busybox sleep 1000
  run --separate-stderr isola attach --detach-keys a,,b xx
  assert_status 1
  assert_stderr_matches 'Invalid detach keys'
}

# ---- many clients ---------------------------------------------------------------------------------------------------

# ticks_in DIR N: how many of DIR/0 .. DIR/N-1 hold a tick.
ticks_in() {
  local i n=0
  for ((i = 0; i < $2; i++)); do grep -qx tick "$1/$i" 2>/dev/null && n=$((n + 1)); done
  echo "$n"
}

@test "a monitor serves as many attach clients as its descriptors allow, and tells the one beyond why it is refused" {
  [ "$TEST_ISOLATION" = process ] || skip "the monitor's clients do not depend on the isolation mode (process pass)"
  # a monitor with 40 descriptors serves 20 clients (half; with more than 128, all but 64)
  local id i dir=$BATS_TEST_TMPDIR/clients pids=()
  id=$(bash -c "ulimit -n 40 && exec '$ISOLA' run -d busybox sh -c 'while :; do echo tick; sleep 0.5; done'")
  mkdir -p "$dir"
  for ((i = 0; i < 20; i++)); do
    "$ISOLA" attach --no-stdin --sig-proxy=false "$id" >"$dir/$i" 2>&1 &
    pids+=($!)
  done
  wait_until 120 eval '[ "$(ticks_in "$dir" 20)" -eq 20 ]' || { kill -KILL "${pids[@]}"; fail "not every client got output: $(head -n 2 "$dir"/*)"; }
  # the 21st: the reason, and attach fails as on any other error of its connection (1)
  run timeout -s KILL 60 "$ISOLA" attach --no-stdin --sig-proxy=false "$id"
  kill -KILL "${pids[@]}"
  wait "${pids[@]}" 2>/dev/null || true
  assert_status 1
  assert_output_contains "serves 20 clients at most (RLIMIT_NOFILE)"
  isola_ok rm -f "$id"
}
