#!/usr/bin/env bats
# isola exec: a command joins a running process container (its PID, mount, UTS, IPC, network and cgroup namespaces
# and its cgroups) as the container's user with its environment, capabilities and limits; Docker's flags and exit
# codes; stdin with -i, a terminal of the container's with -t, background commands with -d.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

# The tests whose exec'd commands leave nothing behind in the container (they read, or write only to their own
# stdout) share one sleeper, started once in setup_file in a root of its own (SLEEPER_ROOT): a container start is
# what a VM test pays for (~1 s of CPU under TCG).  The tests that change the container (files, background or
# killed commands, terminals held open) or need its flags start their own.  Each test keeps its own root, which
# teardown cleans as always; teardown_file removes the sleeper.
setup_file() {
  container_setup_file || return 1
  SLEEPER_ROOT=$(mktemp -d /tmp/isola-test.XXXXXX)
  export SLEEPER_ROOT
  made "$SLEEPER_ROOT"
  cp -a "$SEED_ROOT/." "$SLEEPER_ROOT/" || return 1
  SLEEPER=$(ISOLA_ROOT=$SLEEPER_ROOT isola run -d busybox sleep 1000000) || return 1
  export SLEEPER
}
teardown_file() {
  if [[ ${SLEEPER_ROOT:-} == /tmp/isola-test.* ]]; then
    CONTAINER_PIDS=() CONTAINER_IDS=()
    ISOLA_ROOT=$SLEEPER_ROOT BATS_TEST_DESCRIPTION="exec.bats setup_file (the shared sleeper)" count_starts
    ISOLA_ROOT=$SLEEPER_ROOT container_teardown
  fi
  container_teardown_file
}
setup() {
  container_setup
  OWN_ROOT=$ISOLA_ROOT
}
teardown() {
  ISOLA_ROOT=$OWN_ROOT
  container_teardown
}

# start_sleeper [RUN-ARGS...]: a running busybox container of the test's own that sleeps; sets CID.
start_sleeper() {
  ISOLA_ROOT=$OWN_ROOT
  run_detached "$@" busybox sleep 1000
}

# shared_sleeper: the test's isola commands go to setup_file's sleeper (busybox sleep 1000000, no flags: the file can
# take longer than 1000 s on a loaded machine); sets CID.
shared_sleeper() {
  [[ $SLEEPER =~ ^[0-9a-f]{64}$ ]] || fail "setup_file's run -d printed '$SLEEPER', not a 64-hex ID" || return 1
  ISOLA_ROOT=$SLEEPER_ROOT
  CID=$SLEEPER
  assert_equal "$(cfield "$CID" '{{.State.Status}}')" running
}

# unique_sleep: a sleep duration no other process on the host uses, to find an exec'd process with pgrep.
unique_sleep() {
  echo "$((900000 + RANDOM * 10 + $$ % 10))"
}

# host_pid_of PATTERN: the host PID of the one process whose command line is exactly PATTERN.
host_pid_of() {
  pgrep -xf "$1"
}

# in_top CMD: whether `isola top` lists CMD in the container (either isolation mode).
in_top() {
  isola top "$CID" | grep -q -- "$1\$"
}

# in_terminal KEYS ARGS...: runs `isola ARGS...` in a terminal (script(1)), waits until it has printed "ready",
# types KEYS (printf's escapes) and waits for it to end; sets status, and output (what the terminal showed).
in_terminal() {
  local keys=$1 f=$BATS_TEST_TMPDIR/term in=$BATS_TEST_TMPDIR/keys fd pid cmd="exec '$ISOLA'" a
  shift
  for a in "$@"; do cmd+=" '$a'"; done
  rm -f "$f" "$in"
  mkfifo "$in"
  exec {fd}<>"$in"
  # exec: script(1) starts the command through $SHELL, and a dash would stay in between
  timeout 60 script -qec "$cmd" /dev/null <"$in" >"$f" 2>&1 &
  pid=$!
  wait_until 30 file_contains "$f" ready || { exec {fd}>&-; cat "$f"; return 1; }
  # shellcheck disable=SC2059 # the keys are a printf format on purpose
  printf "$keys" >&"$fd"
  status=0
  wait "$pid" || status=$?
  exec {fd}>&-
  output=$(tr -d '\r' <"$f")
}

# counter_above N: the detached loop's counter (/tmp/n in the container) is above N.
counter_above() {
  local n
  n=$(isola exec "$CID" cat /tmp/n 2>/dev/null) && [ "${n:-0}" -gt "$1" ] 2>/dev/null
}

# isola_lines FILE: the lines of a /proc/PID/cgroup file that name the container's cgroups.
isola_lines() {
  grep /isola/ "$1" | sort
}

# ---- running commands ----------------------------------------------------------------------------------------------

@test "exec runs a command in the container and prints its output" {
  shared_sleeper
  run --separate-stderr isola exec "$CID" echo hi
  assert_status 0
  assert_equal "$output" hi
  run --separate-stderr isola container exec "${CID:0:12}" echo via-prefix
  assert_status 0
  assert_equal "$output" via-prefix
}

@test "exec: the flags end at the container; what follows is the command's" {
  shared_sleeper
  run --separate-stderr isola exec -eA=1 -u=0 "$CID" sh -c 'echo "$A $(id -u) $*"' sh --tty -d --pid
  assert_status 0
  assert_equal "$output" "1 0 --tty -d --pid"
  run --separate-stderr isola exec --tty=false --interactive=false "$CID" echo --help
  assert_status 0
  assert_equal "$output" --help
}

@test "exec returns the command's exit code, 128+N for a signal" {
  shared_sleeper
  run -5 --separate-stderr isola exec "$CID" sh -c 'exit 5'
  assert_status 5
  run -143 --separate-stderr isola exec "$CID" sh -c 'kill -TERM $$'
  assert_status 143
}

@test "exec of a missing command fails with 127, of a non-executable file with 126" {
  shared_sleeper
  run -127 --separate-stderr isola exec "$CID" nosuch
  assert_status 127
  assert_stderr_matches 'exec: "nosuch": executable file not found in \$PATH'
  run -126 --separate-stderr isola exec "$CID" /etc/passwd
  assert_status 126
  assert_stderr_matches 'permission denied'
}

@test "exec into a stopped or never started container fails with 1" {
  run_detached busybox true
  wait_for_status "$CID" exited
  run -1 --separate-stderr isola exec "$CID" echo hi
  assert_status 1
  assert_stderr_matches "^Error: container $CID is not running$"
  run --separate-stderr isola create busybox sleep 1000
  assert_status 0
  local created=$output
  run -1 --separate-stderr isola exec "$created" echo hi
  assert_status 1
  assert_stderr_matches "is not running"
  run -1 --separate-stderr isola exec nosuchcontainer echo hi
  assert_status 1
  assert_stderr_matches "No such container: nosuchcontainer"
}

@test "exec needs a container and a command" {
  shared_sleeper
  run -125 --separate-stderr isola exec "$CID"
  assert_status 125
  assert_stderr_matches 'requires at least 2 arguments'
  run -125 --separate-stderr isola exec -w relative "$CID" pwd
  assert_status 125
}

# ---- environment, user, working directory --------------------------------------------------------------------------

@test "exec -e, --env-file and -e NAME set variables over the container's environment" {
  start_sleeper -e FROM_RUN=run -e OVERRIDDEN=run
  run --separate-stderr isola exec -e A=1 "$CID" sh -c 'echo $A'
  assert_status 0
  assert_equal "$output" 1
  local envfile=$BATS_TEST_TMPDIR/env
  printf '# comment\n\nFILE_VAR=from file\n' >"$envfile"
  export FROM_CLI=cli
  run --separate-stderr isola exec --env-file "$envfile" -e FROM_CLI -e UNSET_IN_CLI -e OVERRIDDEN=exec "$CID" env
  assert_status 0
  assert_output_matches '^FROM_RUN=run$'
  assert_output_matches '^OVERRIDDEN=exec$'
  assert_output_matches '^FILE_VAR=from file$'
  assert_output_matches '^FROM_CLI=cli$'
  assert_output_matches '^PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin$'
  assert_output_matches '^HOME=/root$'
  assert_output_matches "^HOSTNAME=$(cfield "$CID" '{{.Config.Hostname}}')$"
  refute_output_contains OVERRIDDEN=run
  refute_output_contains UNSET_IN_CLI
}

@test "exec -u picks the user, the container's user by default, with HOME from its passwd" {
  shared_sleeper
  run --separate-stderr isola exec -u nobody "$CID" id -u
  assert_status 0
  assert_equal "$output" 65534
  run --separate-stderr isola exec -u nobody "$CID" sh -c 'echo $HOME'
  assert_equal "$output" /home
  run --separate-stderr isola exec -u 33:33 "$CID" id
  assert_output_contains 'uid=33(www-data) gid=33(www-data)'
  run -126 --separate-stderr isola exec -u nosuchuser "$CID" id
  assert_status 126
  assert_stderr_matches 'unable to find user nosuchuser'

  start_sleeper -u nobody
  run --separate-stderr isola exec "$CID" id -u
  assert_equal "$output" 65534
  run --separate-stderr isola exec -u root "$CID" id -u
  assert_equal "$output" 0
}

@test "exec -w sets the working directory, the container's by default; a missing one fails with 126" {
  shared_sleeper
  run --separate-stderr isola exec -w /tmp "$CID" pwd
  assert_status 0
  assert_equal "$output" /tmp
  run --separate-stderr isola exec "$CID" pwd
  assert_equal "$output" /
  run -126 --separate-stderr isola exec -w /no/such/dir "$CID" pwd
  assert_status 126
  assert_stderr_matches 'chdir to cwd'

  start_sleeper -w /var
  run --separate-stderr isola exec "$CID" pwd
  assert_equal "$output" /var
}

# ---- namespaces, cgroups, privileges -------------------------------------------------------------------------------

@test "the exec'd process is in the container's PID namespace" {
  shared_sleeper
  run --separate-stderr isola exec "$CID" ps -o pid,comm
  assert_status 0
  assert_output_matches '^ *1 +sleep$'
  assert_output_matches ' ps$'
  # nothing of the host: header, sleep, ps
  assert_equal "$(wc -l <<<"$output")" 3
}

@test "the exec'd process sees the container's files, and its writes stay in the container" {
  start_sleeper
  local marker=exec-marker-$$-$RANDOM
  run --separate-stderr isola exec "$CID" sh -c "echo inside >/tmp/$marker"
  assert_status 0
  run --separate-stderr isola exec "$CID" cat "/tmp/$marker"
  assert_status 0
  assert_equal "$output" inside
  [ ! -e "/tmp/$marker" ] || fail "the exec wrote to the host's /tmp"
  run --separate-stderr isola exec "$CID" sh -c 'test -e /work && echo host-visible; ls /'
  refute_output_contains host-visible
  assert_output_matches '^bin$'
}

@test "the exec'd process shares the container's namespaces and cgroups (seen from the host)" {
  only_isolation process "the host sees a process container's processes"
  start_sleeper --memory 64m --pids-limit 50
  local secs pid init ns
  secs=$(unique_sleep)
  run --separate-stderr isola exec -d "$CID" sleep "$secs"
  assert_status 0
  wait_until 10 host_pid_of "sleep $secs"
  pid=$(host_pid_of "sleep $secs")
  init=$(cfield "$CID" '{{.State.Pid}}')
  for ns in pid mnt uts ipc net cgroup; do
    assert_equal "$(readlink "/proc/$pid/ns/$ns")" "$(readlink "/proc/$init/ns/$ns")"
  done
  [ -n "$(isola_lines "/proc/$init/cgroup")" ] || fail "the container's init is in no isola cgroup"
  assert_equal "$(isola_lines "/proc/$pid/cgroup")" "$(isola_lines "/proc/$init/cgroup")"
  # inside, the cgroup namespace is rooted at the container's cgroup, as for its first process
  run --separate-stderr isola exec "$CID" cat /proc/self/cgroup
  refute_output_contains isola
}

@test "the exec'd process has the container's capabilities, all with --privileged" {
  start_sleeper --cap-drop CHOWN
  local first all
  first=$(isola exec "$CID" grep ^CapEff: /proc/1/status)
  all=$(isola run --rm --privileged busybox grep ^CapEff: /proc/self/status)
  run --separate-stderr isola exec "$CID" sh -c 'grep ^CapEff: /proc/self/status'
  assert_status 0
  assert_equal "$output" "$first"
  run --separate-stderr isola exec --privileged "$CID" sh -c 'grep ^CapEff: /proc/self/status'
  assert_equal "$output" "$all"
  run --separate-stderr isola exec -u nobody "$CID" sh -c 'grep ^CapEff: /proc/self/status'
  assert_output_matches '^CapEff:[[:space:]]+0+$'
}

@test "the exec'd process gets the container's seccomp filter" {
  shared_sleeper
  run --separate-stderr isola exec "$CID" grep ^Seccomp: /proc/self/status
  assert_status 0
  assert_output_matches '^Seccomp:[[:space:]]+2$'
  start_sleeper --security-opt seccomp=unconfined
  run --separate-stderr isola exec "$CID" grep ^Seccomp: /proc/self/status
  assert_output_matches '^Seccomp:[[:space:]]+0$'
}

@test "the exec'd process gets the container's no-new-privileges and ulimits" {
  start_sleeper --security-opt no-new-privileges --ulimit nofile=100:200
  run --separate-stderr isola exec "$CID" sh -c 'grep ^NoNewPrivs: /proc/self/status; ulimit -n; ulimit -Hn'
  assert_status 0
  assert_output_matches '^NoNewPrivs:[[:space:]]+1$'
  assert_output_matches '^100$'
  assert_output_matches '^200$'
}

@test "the exec'd process dies with the CLI" {
  start_sleeper
  local secs
  secs=$(unique_sleep)
  start_attached "$BATS_TEST_TMPDIR/out" exec "$CID" sleep "$secs"
  wait_until 20 in_top "sleep $secs"
  kill -KILL "$BG_PID"
  wait_bg 10
  not_in_top() { ! in_top "$1"; }
  wait_until 10 not_in_top "sleep $secs"
}

# ---- stdio: -d, -i, -t ---------------------------------------------------------------------------------------------

# exec_died CONTAINER START_ACTION [CODE]: the exec whose exec_start action was START_ACTION... has an exec_die (with
# exitCode CODE).
exec_died() {
  local events id
  events=$(isola events --since 5m --until 0s --filter "container=$1" \
    --format '{{.Action}}|{{.Actor.Attributes.execID}}|{{.Actor.Attributes.exitCode}}')
  id=$(awk -F'|' -v a="$2" 'index($1, a) == 1 { print $2 }' <<<"$events" | tail -1)
  [ -n "$id" ] && grep -qx "exec_die|$id|${3:-[0-9]*}" <<<"$events"
}

@test "exec -d returns at once and the command runs in the background" {
  start_sleeper
  # The command ends only when the test says so: an exec -d that waited for it would time out (124).
  run --separate-stderr timeout 30 "$ISOLA" exec -d "$CID" sh -c 'until [ -e /tmp/go ]; do sleep 0.1; done; touch /tmp/x'
  assert_status 0
  assert_output_empty
  run isola exec "$CID" test -e /tmp/x
  assert_status 1
  # its end is recorded as dockerd records it: exec_die with the exit code, once the command ends
  if exec_died "$CID" 'exec_start: sh -c until'; then fail "exec_die while it runs"; fi
  isola_ok exec "$CID" touch /tmp/go
  wait_until 10 isola exec "$CID" test -e /tmp/x
  wait_until 10 exec_died "$CID" 'exec_start: sh -c until' 0 || fail "no exec_die: $(isola events --since 5m --until 0s)"
  run -127 --separate-stderr isola exec -d "$CID" nosuch
  assert_status 127
}

@test "70 detached execs still running leave room for more execs (the VM agent's table grows)" {
  start_sleeper
  local i
  for i in $(seq 70); do
    run --separate-stderr isola exec -d "$CID" sleep 1000
    assert_status 0
  done
  run --separate-stderr isola exec "$CID" sh -c 'echo ok; ps -o comm | grep -c "^sleep"'
  assert_status 0
  assert_equal "$output" "ok
71"
}

@test "an exec's output is its command's only, while the container writes its own (30 execs)" {
  # The monitor learns what a connection is for from its first frame; the container's output that came before that
  # went to the exec's client too, which printed it or failed on it ("unexpected message 5"): ~half of these did.
  ISOLA_ROOT=$OWN_ROOT
  run_detached busybox sh -c 'while :; do echo main; usleep 2000; done'
  local i
  for i in $(seq 30); do
    run --separate-stderr isola exec "$CID" echo from-exec
    assert_status 0
    assert_equal "$output" from-exec
    assert_equal "$stderr" ""
  done
  # an attached client still gets the container's output
  run bash -c "timeout 60 '$ISOLA' attach --no-stdin --sig-proxy=false $CID | head -n 1"
  assert_equal "$output" main
}

@test "exec -i passes stdin; without -i the command reads /dev/null" {
  shared_sleeper
  run --separate-stderr bash -c "echo data | '$ISOLA' exec -i '$CID' cat"
  assert_status 0
  assert_equal "$output" data
  run --separate-stderr bash -c "echo data | '$ISOLA' exec '$CID' cat"
  assert_status 0
  assert_output_empty
}

@test "exec -i passes 10 MiB of stdin unchanged, to a fast and a slow reader; big output keeps the exit code" {
  shared_sleeper
  head -c $((10 << 20)) /dev/urandom >"$BATS_TEST_TMPDIR/in"
  local sum
  sum=$(md5sum <"$BATS_TEST_TMPDIR/in")
  run --separate-stderr bash -c 'timeout 300 "$1" exec -i "$2" cat <"$3" | md5sum; exit "${PIPESTATUS[0]}"' \
    - "$ISOLA" "$CID" "$BATS_TEST_TMPDIR/in"
  assert_status 0
  assert_equal "$output" "$sum"
  run --separate-stderr bash -c 'timeout 300 "$1" exec -i "$2" sh -c "cat; exit 6" <"$3" | (sleep 2; md5sum)
    exit "${PIPESTATUS[0]}"' - "$ISOLA" "$CID" "$BATS_TEST_TMPDIR/in"
  assert_status 6
  assert_equal "$output" "$sum"
  run --separate-stderr bash -c 'timeout 300 "$1" exec "$2" sh -c "seq 1 300000; exit 5" | md5sum
    exit "${PIPESTATUS[0]}"' - "$ISOLA" "$CID"
  assert_status 5
  assert_equal "$output" "$(seq 1 300000 | md5sum)"
}

@test "exec -t gives the command a terminal of the container's" {
  start_sleeper
  run timeout 20 script -qec "$ISOLA exec -t $CID tty" /dev/null </dev/null
  assert_status 0
  assert_equal "$(tr -d '\r' <<<"$output")" /dev/pts/0
  run timeout 20 script -qec "$ISOLA exec -t $CID sh -c 'echo \$TERM; exit 3'" /dev/null </dev/null
  assert_status 3
  assert_equal "$(tr -d '\r' <<<"$output")" xterm
  # without -t, no terminal
  run --separate-stderr timeout 20 script -qec "$ISOLA exec $CID tty" /dev/null </dev/null
  assert_output_contains 'not a tty'
  # a command that fails before its terminal exists, or after, ends the relay too
  run -126 timeout 20 script -qec "$ISOLA exec -t -u nosuchuser $CID true" /dev/null </dev/null
  assert_status 126
  assert_output_contains 'unable to find user nosuchuser'
  run -127 timeout 20 script -qec "$ISOLA exec -t $CID nosuch" /dev/null </dev/null
  assert_status 127
}

@test "exec -t gives the terminal our window size" {
  shared_sleeper
  run timeout 20 script -qec "stty rows 40 cols 100; $ISOLA exec -t $CID stty size" /dev/null </dev/null
  assert_status 0
  assert_equal "$(tr -d '\r' <<<"$output")" "40 100"
}

@test "exec -it relays our keys to the command's terminal" {
  shared_sleeper
  run bash -c "(sleep 1; printf 'echo hel\"\"lo\\n'; sleep 1; printf 'exit 4\\n'; sleep 1) |
    timeout 20 script -qec \"'$ISOLA' exec -it $CID sh\" /dev/null"
  assert_status 4
  assert_output_contains hello
}

# ---- detaching ------------------------------------------------------------------------------------------------------

# A loop that writes far more than a terminal holds (200 kB by line 2000) and counts its lines in /tmp/n.
# shellcheck disable=SC2016 # it runs in the container
LOOP='echo ready; i=0; while :; do echo "$i ...................................................................................................."; i=$((i + 1)); echo $i >/tmp/n; done'

@test "exec -it: the detach keys leave the command running and its output read, with docker's message and exit 1" {
  start_sleeper
  in_terminal 'a\001yb\001x' exec -it --detach-keys ctrl-a,x "$CID" sh -c "$LOOP"
  assert_status 1
  assert_output_contains "read escape sequence"
  # the client is gone, the command is not: it is in top, and what it writes is still taken (it would stop at the
  # terminal's buffer otherwise, a few thousand lines before 5000)
  wait_until 60 counter_above 5000
  isola top "$CID" | grep -q 'while :' || fail "the command is not in top: $(isola top "$CID")"
  # events: docker's exec_detach for that exec; its exec_die once it ends (SIGKILL: 137).  (--until -1s: the next
  # second's start; 0s is this second's, as Docker's, and misses what happened in it when the test runs fast)
  run --separate-stderr isola events --since 5m --until -1s --filter "container=$CID" \
    --format '{{.Action}} {{.Actor.Attributes.execID}}'
  local id
  id=$(awk '$1 == "exec_detach" { print $2 }' <<<"$output")
  [ -n "$id" ] || fail "no exec_detach: $output"
  refute_output_contains "exec_die $id"
  # (the pattern, split by a quote, does not match this command's own line)
  isola_ok exec "$CID" sh -c 'for d in /proc/[0-9]*; do case "$(tr "\0" " " <$d/cmdline)" in *"i=0; whil"e*) kill -9 ${d#/proc/} ;; esac; done'
  wait_until 20 exec_died "$CID" 'exec_start: sh -c echo ready' 137 \
    || fail "no exec_die: $(isola events --since 5m --until 0s --filter "container=$CID")"
}

@test "exec -it: Ctrl-P Ctrl-Q by default, else config.json's detachKeys, else --detach-keys; bad keys are refused" {
  start_sleeper
  in_terminal '\020\021' exec -it "$CID" sh -c 'echo ready; exec sleep 1001'
  assert_status 1
  assert_output_contains "read escape sequence"
  wait_until 20 in_top "sleep 1001"
  echo '{"detachKeys": "ctrl-e,e"}' >"$ISOLA_ROOT/config.json"
  # Ctrl-P Ctrl-Q is no sequence now: the command gets them, and what follows
  in_terminal '\020\021x\n\005e' exec -it "$CID" sh -c 'echo ready; exec cat >/tmp/t'
  assert_status 1
  wait_until 20 isola exec "$CID" grep -q x /tmp/t
  in_terminal '\005e_' exec -it --detach-keys _ "$CID" sh -c 'echo ready; exec sleep 1002'
  assert_status 1
  wait_until 20 in_top "sleep 1002"
  rm "$ISOLA_ROOT/config.json"
  run --separate-stderr isola exec --detach-keys ctrl-foo "$CID" true
  assert_status 1
  assert_stderr_matches 'Invalid detach keys \(ctrl-foo\) provided'
}

@test "exec -it with a stdin that is not a terminal fails as docker does" {
  shared_sleeper
  run -1 --separate-stderr isola exec -it "$CID" true </dev/null
  assert_status 1
  assert_stderr_matches '^the input device is not a TTY$'
}

@test "an exec whose reader falls behind holds up no other exec nor top, and a slow reader gets all its output" {
  start_sleeper
  # a reader that never reads (for 150 s, or until the test ends it): the exec's output backs up; its own process
  # group, to end it whole.  The others are given a minute, less than the stuck reader lasts, not a few seconds.
  setsid bash -c "'$ISOLA' exec $CID yes | sleep 150" 3>&- &
  local stuck=$!
  # its yes runs (and has filled the pipe within moments); a fixed 2 s was not always enough for a loaded VM pass
  yes_runs() { timeout 60 "$ISOLA" top "$CID" | grep -q yes; }
  wait_until 60 yes_runs || fail "the stuck exec's yes never ran"
  run timeout 60 "$ISOLA" exec "$CID" echo hi
  assert_status 0
  assert_equal "$output" "hi"
  run timeout 60 "$ISOLA" top "$CID"
  assert_status 0
  assert_output_contains yes
  kill -TERM -- "-$stuck" 2>/dev/null || true
  wait "$stuck" || true
  run bash -c "'$ISOLA' exec $CID seq 1 200000 | (sleep 2; md5sum)"
  assert_equal "$output" "$(seq 1 200000 | md5sum)"
}

@test "an exec'd process leads its own session; its kill 0 reaches only itself, as with docker exec" {
  start_sleeper
  run --separate-stderr isola exec "$CID" sh -c 'echo "$(cut -d" " -f6 /proc/$$/stat) $$"'
  assert_status 0
  read -r sid pid <<<"$output"
  assert_equal "$sid" "$pid"
  run -143 --separate-stderr isola exec "$CID" sh -c 'kill -TERM 0; echo not reached'
  assert_status 143
  run --separate-stderr isola exec -t "$CID" sh -c 'echo "$(cut -d" " -f6 /proc/$$/stat) $$"'
  assert_status 0
  read -r sid pid <<<"${output//$'\r'/}"
  assert_equal "$sid" "$pid"
  assert_equal "$(cfield "$CID" '{{.State.Status}}')" running
}

@test "exec passes arguments and -e values that are not UTF-8 byte for byte" {
  run_detached --name xu busybox sleep 1000
  run --separate-stderr isola exec -e "V=$(printf '\001\377')" xu \
    sh -c 'printf "%s|%s" "$1" "$V" | od -An -tx1 | tr -d " \n"' x "$(printf '\376x\351')"
  assert_status 0
  assert_equal "$output" fe78e97c01ff
}
