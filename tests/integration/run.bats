#!/usr/bin/env bats
# isola run: attach, exit codes, -d, --rm, --name, start errors, and the options that shape the container
# (environment, working dir, user, hostname, entrypoint, volumes, tmpfs, labels); options not supported yet.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# containers should never take long: a hang fails after 30 s instead of 120 (read by the isola function)
# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# ---- attach and exit codes -----------------------------------------------------------------------------------------

@test "run attached returns the container's exit code" {
  run --separate-stderr isola run busybox sh -c 'exit 3'
  assert_status 3
  run --separate-stderr isola run busybox true
  assert_status 0
  run --separate-stderr isola run busybox false
  assert_status 1
}

@test "run attached copies the container's stdout to stdout and its stderr to stderr" {
  run --separate-stderr isola run busybox sh -c 'echo out1; echo err1 >&2; echo out2'
  assert_status 0
  assert_equal "$output" "out1
out2"
  assert_equal "$stderr" "err1"
}

@test "run attached without a trailing newline and with a lot of output loses nothing" {
  # one container: 20000 lines, then "abc" without a newline
  run --separate-stderr isola run busybox sh -c 'seq 1 20000; printf abc'
  assert_status 0
  assert_equal "$(printf '%s' "$output" | tail -c 4)" "
abc"
  assert_equal "$(head -n 20000 <<<"$output" | wc -l)" 20000
  assert_equal "$(head -n 20000 <<<"$output" | tail -1)" 20000
  assert_equal "$(wc -l <<<"$output")" 20001
}

# ---- big output and input: every byte, whatever the timing ------------------------------------------------------
# (VM isolation used to lose the output still in flight when the process exited, report 255, and cut stdin at 64 KiB.)

@test "run --rm with 14.9 MB of output (seq 1 2000000): every byte, in order, and exit 0" {
  local out=$BATS_TEST_TMPDIR/out code=0
  ISOLA_TIMEOUT=600 isola run --rm busybox seq 1 2000000 >"$out" || code=$?
  assert_equal "$code" 0
  assert_equal "$(stat -c %s "$out")" 14888896
  assert_equal "$(md5sum <"$out")" "$(seq 1 2000000 | md5sum)"
}

@test "run attached keeps the command's exit code after big output (seq 1 1000000; exit 7)" {
  run --separate-stderr bash -c 'timeout 600 "$1" run --rm busybox sh -c "seq 1 1000000; exit 7" | md5sum
    exit "${PIPESTATUS[0]}"' - "$ISOLA"
  assert_status 7
  assert_equal "$output" "$(seq 1 1000000 | md5sum)"
}

@test "run -i passes 10 MiB of stdin through cat unchanged, then its end; 200000 bytes to wc -c" {
  head -c 200000 /dev/urandom >"$BATS_TEST_TMPDIR/small"
  run --separate-stderr isola run --rm -i busybox wc -c <"$BATS_TEST_TMPDIR/small"
  assert_status 0
  assert_equal "$output" 200000
  head -c $((10 << 20)) /dev/urandom >"$BATS_TEST_TMPDIR/in"
  run --separate-stderr bash -c 'timeout 300 "$1" run --rm -i busybox sh -c "cat; echo end" <"$2" | md5sum
    exit "${PIPESTATUS[0]}"' - "$ISOLA" "$BATS_TEST_TMPDIR/in"
  assert_status 0
  assert_equal "$output" "$( (cat "$BATS_TEST_TMPDIR/in"; echo end) | md5sum)"
}

@test "run attached with a reader that falls behind: the container waits for it, nothing is lost" {
  head -c $((10 << 20)) /dev/urandom >"$BATS_TEST_TMPDIR/in"
  # the reader starts 2 s late: far more than the pipes and queues between it and the container hold is written
  run --separate-stderr bash -c 'timeout 300 "$1" run --rm -i busybox sh -c "cat; exit 4" <"$2" | (sleep 2; md5sum)
    exit "${PIPESTATUS[0]}"' - "$ISOLA" "$BATS_TEST_TMPDIR/in"
  assert_status 4
  assert_equal "$output" "$(md5sum <"$BATS_TEST_TMPDIR/in")"
}

@test "run of the image's default command (Cmd [\"sh\"]) with stdin closed exits 0" {
  run --separate-stderr isola run busybox </dev/null
  assert_status 0
}

@test "run attached forwards SIGTERM and SIGINT to the container" {
  local f=$BATS_TEST_TMPDIR/out
  start_attached "$f" run --name term busybox sh -c 'trap "exit 9" TERM; echo ready; while :; do sleep 0.1; done'
  wait_until 10 file_contains "$f" ready || { cat "$f"; return 1; }
  kill -TERM "$BG_PID"
  wait_bg 5
  cat "$f"
  assert_equal "$BG_STATUS" 9
  assert_equal "$(cfield term '{{.State.ExitCode}}')" 9

  start_attached "$f" run --name int busybox sh -c 'trap "exit 10" INT; echo ready; while :; do sleep 0.1; done'
  wait_until 10 file_contains "$f" ready || { cat "$f"; return 1; }
  kill -INT "$BG_PID"
  wait_bg 5
  cat "$f"
  assert_equal "$BG_STATUS" 10
}

@test "run attached of a container killed by a signal returns 128+N" {
  local f=$BATS_TEST_TMPDIR/out
  start_attached "$f" run --name victim busybox sh -c 'echo ready; while :; do sleep 0.1; done'
  wait_until 10 file_contains "$f" ready || { cat "$f"; return 1; }
  isola_ok kill victim
  wait_bg 5
  cat "$f"
  assert_equal "$BG_STATUS" 137
  assert_equal "$(cfield victim '{{.State.ExitCode}}')" 137
}

# ---- --pull ---------------------------------------------------------------------------------------------------------

@test "--pull missing (the default) and never use the local image; never with none is Docker's error" {
  run --separate-stderr isola run --rm --pull never busybox echo local
  assert_status 0
  assert_equal "$output" local
  run --separate-stderr isola run --rm --pull missing busybox echo local
  assert_equal "$output" local
  run --separate-stderr isola create --pull never nosuch:1
  assert_status 1
  assert_stderr_matches 'No such image: nosuch:1'
  run --separate-stderr isola run --pull=never nosuch
  assert_status 125
  assert_stderr_matches 'No such image: nosuch:latest'
}

# Pulls that work are pull.bats'; here a registry that is not there (a closed port of 127.0.0.1: no test reaches
# another address).
@test "--pull always pulls even an image that is here: a failed pull fails (run 125, create 1), creates nothing; a bad policy is refused" {
  isola_ok tag busybox 127.0.0.1:1/busybox:here
  run --separate-stderr isola run --rm --pull always 127.0.0.1:1/busybox:here true
  assert_status 125
  assert_stderr_matches 'Get "https?://127\.0\.0\.1:1/v2/"'
  run --separate-stderr isola create --pull always 127.0.0.1:1/busybox:here true
  assert_status 1
  run --separate-stderr isola run --pull sometimes busybox true
  assert_status 125
  assert_stderr_matches "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\""
  assert_equal "$(isola ps -aq)" ""
}

# ---- -d, --rm, --name ----------------------------------------------------------------------------------------------

@test "run -d prints the 64-hex ID at once and the container runs" {
  # "at once": a run -d that waited for its container (sleep 1000) would be ended by the isola wrapper's timeout
  run_detached busybox sleep 1000
  assert_equal "$(cfield "$CID" '{{.State.Status}}')" running
  assert_equal "$(cfield "$CID" '{{.State.Running}}')" true
  run --separate-stderr isola ps -q --no-trunc
  assert_status 0
  assert_equal "$output" "$CID"
}

@test "run --rm attached returns the exit code once the container is removed, files and all" {
  # 5000 files for its removal to take a while: docker's run --rm returns once it is over, not when it begins
  run --separate-stderr isola run --rm --name gone busybox sh -c 'mkdir /d && cd /d && seq 5000 | xargs touch; echo bye; exit 5'
  assert_status 5
  assert_equal "$output" bye
  run --separate-stderr isola ps -a -q
  assert_status 0
  assert_output_empty
  run --separate-stderr isola inspect gone
  assert_status 1
  [ -z "$(ls -A "$ISOLA_ROOT/containers" 2>/dev/null)" ] || fail "left in containers/: $(ls -A "$ISOLA_ROOT/containers")"
  [ -z "$(ls -A "$ISOLA_ROOT/tmp" 2>/dev/null)" ] || fail "still in tmp/: $(ls -A "$ISOLA_ROOT/tmp")"
}

@test "run -d --rm removes the container once it exits" {
  run_detached --rm busybox sh -c 'sleep 0.2'
  no_containers() { [ -z "$(isola ps -aq)" ]; }
  wait_until 60 no_containers
}

@test "run --name sets the name; a duplicate name is refused with 125 'is already in use'" {
  # the name is the create's (run's first half): no container needs to run for it
  isola_ok create --name web busybox sleep 1000
  CID=$output
  assert_equal "$(cfield web '{{.Name}}')" /web
  assert_equal "$(cfield web '{{.Id}}')" "$CID"
  run --separate-stderr isola run -d --name web busybox sleep 1000
  assert_status 125
  assert_stderr_matches 'is already in use'
  assert_equal "$(isola ps -aq | wc -l)" 1
}

@test "run without --name generates distinct names" {
  # the name is the create's (run's first half): no container needs to run for it
  isola_ok create busybox true
  local a=$output
  isola_ok create busybox true
  local na nb
  na=$(cfield "$a" '{{.Name}}')
  nb=$(cfield "$output" '{{.Name}}')
  [[ $na =~ ^/[a-z0-9_]+$ ]] || fail "odd generated name '$na'"
  [ "$na" != "$nb" ] || fail "two containers named $na"
}

# ---- start errors --------------------------------------------------------------------------------------------------

@test "run of an unknown image fails with 125 and creates nothing: 'No such image', or the failed pull's error" {
  run --separate-stderr isola run --pull never no/such:image true
  assert_status 125
  assert_stderr_matches 'No such image'
  run --separate-stderr isola run 127.0.0.1:1/no/such:image true
  assert_status 125
  assert_stderr_matches "^Unable to find image '127\.0\.0\.1:1/no/such:image' locally$"
  run isola ps -aq
  assert_output_empty
}

@test "run of a command that does not exist fails with 127 'executable file not found'" {
  run -127 --separate-stderr isola run busybox nosuchcmd
  assert_status 127
  assert_stderr_matches 'executable file not found'
  run -127 --separate-stderr isola run busybox /no/such/path
  assert_status 127
}

@test "run of a file that is not executable fails with 126 'permission denied'" {
  run --separate-stderr isola run busybox /etc/passwd
  assert_status 126
  assert_stderr_matches '[Pp]ermission denied'
}

@test "run with an unknown flag, or without an image, is a usage error (125)" {
  run --separate-stderr isola run --no-such-flag busybox true
  assert_status 125
  assert_stderr_matches 'no-such-flag'
  run --separate-stderr isola run
  assert_status 125
  run isola ps -aq
  assert_output_empty
}

@test "run refuses an env entry without a name, a stop timeout below -1 and numbers out of range (125), creating nothing" {
  run --separate-stderr isola run -e =x busybox true
  assert_status 125
  assert_stderr_matches 'invalid environment variable: =x'
  run --separate-stderr isola run --stop-timeout -99 busybox true
  assert_status 125
  assert_stderr_matches 'invalid stop timeout -99'
  run --separate-stderr isola run --pids-limit 99999999999999999999 busybox true
  assert_status 125
  assert_stderr_matches 'pids-limit.*value out of range'
  run --separate-stderr isola run --stop-timeout 99999999999 busybox true
  assert_status 125
  assert_stderr_matches 'stop-timeout.*value out of range'
  run isola ps -aq
  assert_output_empty
}

@test "run: the flags end at the image, the rest is the command; Docker's flag forms" {
  run --separate-stderr isola run --rm --tty=false -i=false busybox echo --pid host -d --rm
  assert_status 0
  assert_equal "$output" "--pid host -d --rm"
  run --separate-stderr isola create -q -m=64m -eFOO=bar -ti=false --name=forms --cpus=0.5 busybox
  assert_status 0
  CONTAINER_IDS+=("$output")
  assert_equal "$(cfield forms '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.Config.Tty}} {{.Config.OpenStdin}}')" \
    "67108864 500000000 true false"
  cfield forms '{{json .Config.Env}}' | grep -q '"FOO=bar"' || fail "-eFOO=bar is not in Config.Env"
}

@test "run --cidfile writes the ID and refuses a file that exists; --label-file and --label go to Config.Labels" {
  local cid=$BATS_TEST_TMPDIR/cid labels=$BATS_TEST_TMPDIR/labels
  printf 'a=1\n# a comment\n\nb\n' >"$labels"
  run --separate-stderr isola create --cidfile "$cid" --label-file "$labels" -l c=3 busybox
  assert_status 0
  CONTAINER_IDS+=("$output")
  assert_equal "$(cat "$cid")" "$output"
  assert_equal "$(cfield "$output" '{{json .Config.Labels}}')" '{"a":"1","b":"","c":"3"}'
  run --separate-stderr isola run --cidfile "$cid" busybox true
  assert_status 125
  assert_stderr_matches "container ID file found, make sure the other container isn't running or delete $cid"
  assert_equal "$(isola ps -aq | wc -l)" 1
}

@test "run --isolation=process and --isolation=default work; --isolation=bogus is 125" {
  run --separate-stderr isola run --rm --isolation=process busybox echo p
  assert_status 0
  assert_equal "$output" p
  run --separate-stderr isola run --rm --isolation default busybox echo d
  assert_status 0
  assert_equal "$output" d
  run_detached --isolation=process busybox true
  assert_equal "$(cfield "$CID" '{{.HostConfig.Isolation}}')" process
  run --separate-stderr isola run --isolation=bogus busybox true
  assert_status 125
  assert_stderr_matches 'bogus'
}

# ---- stdin and terminals (-i, -t) ---------------------------------------------------------------------------------

@test "run -i passes our stdin to the container" {
  run --separate-stderr bash -c 'echo hello | "$1" run --rm -i busybox cat' - "$ISOLA"
  assert_status 0
  assert_equal "$output" hello
  run --separate-stderr bash -c 'printf "echo \$\$\nexit 5\n" | "$1" run --rm --interactive busybox sh' - "$ISOLA"
  assert_status 5
  assert_equal "$output" 1
}

@test "run without -i gives the container an empty stdin (/dev/null)" {
  run --separate-stderr bash -c 'echo hello | "$1" run --rm busybox sh -c "cat; readlink /proc/self/fd/0"' - "$ISOLA"
  assert_status 0
  assert_equal "$output" /dev/null
}

@test "run -t gives the container a terminal; without -t it has none" {
  run --separate-stderr isola run --rm -t busybox sh -c 'tty; exit 3'
  assert_status 3
  [[ ${output%$'\r'} =~ ^/dev/pts/[0-9]+$ ]] || fail "tty printed '$output'"
  run --separate-stderr isola run --rm busybox tty
  assert_status 1
  assert_output_contains 'not a tty'
}

# in_terminal COMMAND...: runs COMMAND on a new pseudo-terminal, prints what it wrote there, exits with its code. (Not
# script(1): on end-of-file of its own stdin it types an EOF character, which -i would pass to the container.)
in_terminal() {
  timeout 20 python3 -c '
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))' "$@"
}

@test "run -it from a terminal: the container's terminal, its exit code" {
  run in_terminal "$ISOLA" run --rm -it busybox sh -c 'tty; exit 4'
  assert_status 4
  # exactly the container's output: no stray bytes (\r aside, a terminal's line ending)
  [[ ${output//$'\r'/} =~ ^/dev/pts/[0-9]+$ ]] || fail "output '$output' ($(od -c <<<"$output" | head -3))"
}

@test "--init: an init is PID 1, the command its child, exit codes and signals pass through" {
  run --separate-stderr isola run --rm --init busybox sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "; exit 6'
  assert_status 6
  assert_equal "$(head -1 <<<"$output")" 2
  assert_output_contains '/dev/init -- sh -c'
  # the init starts with every signal blocked (none sent early is lost); its command with none blocked
  run --separate-stderr isola run --rm --init busybox grep SigBlk /proc/self/status
  assert_status 0
  assert_equal "$output" "SigBlk:	0000000000000000"
  # PID 1 without --init ignores SIGTERM; with it, stop ends `sleep` with SIGTERM (143), not SIGKILL (137).  The
  # grace period is long: stop returns when the container ends, and a VM guest under TCG on a loaded machine took
  # more than 5 s to pass SIGTERM on (137 in a whole run at load 45).
  run_detached --init busybox sleep 1000
  run --separate-stderr isola stop -t 60 "$CID"
  assert_status 0
  assert_equal "$(cfield "$CID" '{{.State.ExitCode}}')" 143
  assert_equal "$(cfield "$CID" '{{.HostConfig.Init}}')" true
}

# ---- isolation names ---------------------------------------------------------------------------------------------

@test "--isolation names: vm and hyperv are VM isolation, process and default the default, others fail with 125" {
  run --separate-stderr isola create --isolation=hyperv busybox true
  assert_status 0
  run isola inspect --format '{{.HostConfig.Isolation}}' "$output"
  assert_equal "$output" "hyperv"
  run --separate-stderr isola create --isolation=vm busybox true
  assert_status 0
  run isola inspect --format '{{.HostConfig.Isolation}}' "$output"
  assert_equal "$output" "hyperv"
  run --separate-stderr isola create --isolation=process busybox true
  run isola inspect --format '{{.HostConfig.Isolation}}' "$output"
  assert_equal "$output" "process"
  run --separate-stderr isola run --isolation=kvm busybox true
  assert_status 125
  assert_stderr_matches 'invalid isolation "kvm"'
}

# ---- environment ---------------------------------------------------------------------------------------------------

@test "run -e NAME=VALUE, -e NAME (from our environment) and --env sets the environment" {
  FROM_HOST=host-value run --separate-stderr isola run --rm -e A=1 --env B='two words' -e FROM_HOST -e C=x=y \
    busybox sh -c 'echo "$A|$B|$FROM_HOST|$C"'
  assert_status 0
  assert_equal "$output" "1|two words|host-value|x=y"
}

@test "run -e NAME of a variable we do not have leaves it unset" {
  unset NOT_SET_ANYWHERE
  run --separate-stderr isola run --rm -e NOT_SET_ANYWHERE busybox sh -c 'echo "${NOT_SET_ANYWHERE-unset}"'
  assert_status 0
  assert_equal "$output" unset
}

@test "run --env-file reads NAME=VALUE lines, skipping comments and blanks" {
  local f=$BATS_TEST_TMPDIR/env
  printf '# a comment\nE1=one\n\nE2=with spaces\nE3=a=b\n' >"$f"
  run --separate-stderr isola run --rm --env-file "$f" busybox sh -c 'echo "$E1|$E2|$E3"'
  assert_status 0
  assert_equal "$output" "one|with spaces|a=b"
  run --separate-stderr isola run --rm --env-file /no/such/file busybox true
  assert_status 125
}

@test "the container's environment has the image's PATH, HOSTNAME and HOME" {
  run --separate-stderr isola run --rm busybox env
  assert_status 0
  assert_output_matches '^PATH=.*/bin'
  assert_output_matches '^HOSTNAME=[0-9a-f]{12}$'
  assert_output_matches '^HOME=/root$'
}

@test "-e overrides the image's PATH and is recorded in inspect .Config.Env" {
  isola_ok create -e PATH=/bin -e K=v busybox true
  CID=$output
  run --separate-stderr isola inspect "$CID"
  assert_status 0
  assert_jq '.[0].Config.Env | index("K=v") != null'
  assert_jq '.[0].Config.Env | index("PATH=/bin") != null'
  assert_jq '[.[0].Config.Env[] | select(startswith("PATH="))] | length == 1'
}

@test "the environment is in Docker's order: PATH, HOSTNAME, TERM with -t, then Config.Env (-e first)" {
  # Docker 20.10 prints PATH, HOSTNAME, TERM=xterm, A=1, HOME for `run -t -e A=1 busybox env`, and records
  # Config.Env as the request's entries followed by the image's
  run --separate-stderr isola run --rm -t -e A=1 busybox env
  assert_status 0
  assert_equal "$(tr -d '\r' <<<"$output" | cut -d= -f1 | tr '\n' ' ')" "PATH HOSTNAME TERM A HOME "
  assert_output_contains TERM=xterm
  run --separate-stderr isola run --rm -e A=1 busybox env
  assert_equal "$(cut -d= -f1 <<<"$output" | tr '\n' ' ')" "PATH HOSTNAME A HOME "
  isola_ok create -e A=1 busybox true
  assert_equal "$(cfield "$output" '{{json .Config.Env}}')" '["A=1","PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
}

# ---- working directory, user, hostname, entrypoint -----------------------------------------------------------------

@test "run -w sets the working directory, creating it if missing; a relative -w is refused" {
  run --separate-stderr isola run --rm -w /new/work/dir busybox pwd
  assert_status 0
  assert_equal "$output" /new/work/dir
  run --separate-stderr isola run --rm --workdir /etc busybox pwd
  assert_status 0
  assert_equal "$output" /etc
  run --separate-stderr isola run --rm -w relative/dir busybox pwd
  assert_status 125
}

@test "run without -w starts in /" {
  run --separate-stderr isola run --rm busybox pwd
  assert_status 0
  assert_equal "$output" /
}

@test "run -u takes a name from the image's /etc/passwd, a uid, or uid:gid" {
  run --separate-stderr isola run --rm busybox id -u
  assert_equal "$output" 0
  run --separate-stderr isola run --rm -u nobody busybox sh -c 'echo $(id -u) $(id -g)'
  assert_status 0
  assert_equal "$output" "65534 65534"
  run --separate-stderr isola run --rm -u 1000 busybox id -u
  assert_status 0
  assert_equal "$output" 1000
  run --separate-stderr isola run --rm --user 1000:1001 busybox sh -c 'echo $(id -u) $(id -g)'
  assert_status 0
  assert_equal "$output" "1000 1001"
}

@test "run -u of a user the image does not have fails" {
  run --separate-stderr isola run --rm -u no_such_user busybox true
  assert_status_in "125 126"
  assert_stderr_matches 'no_such_user'
}

@test "the default hostname is the first 12 characters of the ID, in hostname and /etc/hostname" {
  run_detached busybox sh -c 'hostname; cat /etc/hostname'
  wait_for_status "$CID" exited
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$output" "${CID:0:12}
${CID:0:12}"
  assert_equal "$(cfield "$CID" '{{.Config.Hostname}}')" "${CID:0:12}"
}

@test "run -h / --hostname sets the hostname" {
  run --separate-stderr isola run --rm -h myhost busybox sh -c 'hostname; cat /etc/hostname'
  assert_status 0
  assert_equal "$output" "myhost
myhost"
  run --separate-stderr isola run --rm --hostname other.example busybox hostname
  assert_equal "$output" other.example
  [ "$(hostname)" != myhost ] || fail "the host's hostname changed"
}

@test "run --entrypoint replaces the command's executable; the rest are its arguments" {
  run --separate-stderr isola run --rm --entrypoint echo busybox hello world
  assert_status 0
  assert_equal "$output" "hello world"
  isola_ok create --entrypoint /bin/echo busybox a b
  CID=$output
  assert_equal "$(cfield "$CID" '{{.Path}}')" /bin/echo
  run --separate-stderr isola inspect "$CID"
  assert_jq '.[0].Args == ["a", "b"]'
}

@test "inspect .Path and .Args split the command" {
  isola_ok create busybox sh -c 'exit 0'
  CID=$output
  run --separate-stderr isola inspect "$CID"
  assert_status 0
  assert_jq '.[0].Path == "sh"'
  assert_jq '.[0].Args == ["-c", "exit 0"]'
  assert_jq '.[0].Config.Cmd == ["sh", "-c", "exit 0"]'
}

# ---- volumes, tmpfs, labels ----------------------------------------------------------------------------------------

@test "run -v HOSTDIR:CTRDIR binds read-write: a file written inside shows on the host" {
  local d=$BATS_TEST_TMPDIR/vol
  mkdir -p "$d"
  echo from-host >"$d/in"
  run --separate-stderr isola run --rm -v "$d:/data" busybox sh -c 'cat /data/in; echo from-ctr > /data/out'
  assert_status 0
  assert_equal "$output" from-host
  assert_equal "$(cat "$d/out")" from-ctr
}

@test "run -v HOSTDIR:CTRDIR:ro refuses writes" {
  local d=$BATS_TEST_TMPDIR/vol
  mkdir -p "$d"
  echo keep >"$d/in"
  run --separate-stderr isola run --rm -v "$d:/data:ro" busybox sh -c 'cat /data/in; echo x > /data/out'
  assert_status_in "1 2"
  assert_output_contains keep
  [ ! -e "$d/out" ] || fail "a write went through a read-only bind"
}

@test "run -v of a missing host directory fails with 125" {
  run --separate-stderr isola run --rm -v "$BATS_TEST_TMPDIR/missing:/data" busybox true
  assert_status 125
  assert_stderr_matches 'missing'
}

@test "binds are recorded in inspect .HostConfig.Binds and .Mounts" {
  local d=$BATS_TEST_TMPDIR/vol
  mkdir -p "$d"
  isola_ok create -v "$d:/data:ro" busybox true
  CID=$output
  run --separate-stderr isola inspect "$CID"
  assert_status 0
  assert_jq ".[0].HostConfig.Binds == [\"$d:/data:ro\"]"
  assert_jq ".[0].Mounts | map(select(.Source == \"$d\" and .Destination == \"/data\" and .RW == false)) | length == 1"
}

@test "run --tmpfs PATH mounts a writable tmpfs there" {
  run --separate-stderr isola run --rm --tmpfs /scratch busybox sh -c 'grep " /scratch " /proc/mounts; echo x > /scratch/f && cat /scratch/f'
  assert_status 0
  assert_output_matches '^tmpfs /scratch tmpfs '
  assert_output_matches '^x$'
}

@test "run -l / --label sets labels in inspect .Config.Labels" {
  isola_ok create -l a=1 --label b=two busybox true
  CID=$output
  run --separate-stderr isola inspect "$CID"
  assert_status 0
  assert_jq '.[0].Config.Labels == {"a": "1", "b": "two"}'
}

# ---- the image is in use -------------------------------------------------------------------------------------------

@test "rmi of an image a container uses fails with 1 'being used'; after rm it succeeds" {
  # a created container uses its image as much as an exited one
  isola_ok create busybox true
  CID=$output
  run --separate-stderr isola rmi busybox
  assert_status 1
  assert_stderr_matches 'being used'
  run isola images -q
  [ -n "$output" ] || fail "the image was removed"
  isola_ok rm "$CID"
  run --separate-stderr isola rmi busybox
  assert_status 0
}

# ---- what the container looks like from inside: Docker's ---------------------------------------------------------

# pid1_ids PS_OUTPUT: "PID PGID SID" of PID 1 in `ps -o pid,pgid,sid` output.
pid1_ids() {
  awk '$1 == 1 { print $1, $2, $3 }' <<<"${1//$'\r'/}"
}

@test "the container's first process leads its own session and process group, with or without -t" {
  run --separate-stderr isola run --rm busybox ps -o pid,pgid,sid
  assert_status 0
  assert_equal "$(pid1_ids "$output")" "1 1 1"
  run --separate-stderr isola run --rm -t busybox ps -o pid,pgid,sid,tty
  assert_status 0
  assert_equal "$(pid1_ids "$output")" "1 1 1"
  # with -t the terminal stays its controlling terminal
  assert_output_matches '^ +1 +1 +1 +136,[0-9]+'
}

@test "kill -TERM 0 in the container reaches its own processes only, never its monitor" {
  # PID 1 ignores a signal it has no handler for, so sh survives, the background sleep dies, and wait returns 0.
  run --separate-stderr isola run --name killzero busybox sh -c 'sleep 30 & sleep 1; kill -TERM 0; echo after; wait'
  assert_status 0
  assert_equal "$output" after
  run --separate-stderr isola logs killzero
  assert_equal "$output" after
  assert_equal "$(cfield killzero '{{.State.Status}} {{.State.ExitCode}}')" "exited 0"
  isola_ok rm killzero
}

@test "/etc/hosts names the container's hostname: hostname -f and -i resolve it, with -h too" {
  # without an address of its own (--network none; on a network it is that address: network.bats)
  run_detached --network none busybox sh -c 'hostname -f; hostname -i; grep -c localhost /etc/hosts'
  wait_for_status "$CID" exited
  run --separate-stderr isola logs "$CID"
  assert_equal "$output" "${CID:0:12}
127.0.1.1
2"
  run --separate-stderr isola run --rm --network none -h web.example busybox sh -c 'hostname -f; hostname -i'
  assert_status 0
  assert_equal "$output" "web.example
127.0.1.1"
}

@test "a file the user mounts on /etc/hosts, /etc/hostname or /etc/resolv.conf wins over the container's own" {
  only_isolation process "VM isolation shares directories, not files"
  local dir=$BATS_TEST_TMPDIR/etc
  mkdir -p "$dir"
  echo "192.0.2.7 mine" >"$dir/hosts"
  echo "nameserver 192.0.2.53" >"$dir/resolv"
  run --separate-stderr isola run --rm -v "$dir/hosts:/etc/hosts:ro" -v "$dir/resolv:/etc/resolv.conf" busybox \
    sh -c 'cat /etc/hosts /etc/resolv.conf'
  assert_status 0
  assert_equal "$output" "192.0.2.7 mine
nameserver 192.0.2.53"
}

@test "without --ulimit the container has the host's limits (as Docker's have the daemon's), in either mode" {
  local expected
  expected=$(ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu; ulimit -Ss; ulimit -Sc)
  # the first process prints its limits, then stays for the exec
  run_detached busybox sh -c 'ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu; ulimit -Ss; ulimit -Sc; echo end; exec sleep 1000'
  wait_for_log "$CID" end
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$output" "$expected
end"
  run --separate-stderr isola exec "$CID" sh -c 'ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu; ulimit -Ss; ulimit -Sc'
  assert_status 0
  assert_equal "$output" "$expected"
  # --ulimit still wins, and leaves the others as they were
  run --separate-stderr isola run --rm --ulimit nofile=100:200 busybox sh -c 'ulimit -Sn; ulimit -Hn; ulimit -Su'
  assert_status 0
  assert_equal "$output" "100
200
$(ulimit -Su)"
}

# cgroup_memory_limit_cmd: prints where the container reads its memory limit, in either cgroup version.
cgroup_memory_limit_cmd='for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
  [ -e $f ] && echo $f; done'

@test "the container sees its own cgroup at /sys/fs/cgroup, read-only: -m 64m reads 67108864" {
  run --separate-stderr isola run --rm -m 64m busybox sh -c "
    f=\$($cgroup_memory_limit_cmd); cat \$f
    echo 1 >\$f && echo written; mkdir /sys/fs/cgroup/x && echo made
    grep -qE ' /sys/fs/cgroup(/[^ ]*)? ro,' /proc/self/mountinfo && echo read-only
    # its own: the cgroup namespace is private, so its cgroup is the root of what it sees (grep finds no other line)
    grep -v '^[0-9]*:[^:]*:/\$' /proc/self/cgroup; echo grep-status \$?"
  assert_status 0
  assert_equal "$output" "67108864
read-only
grep-status 1"
  assert_stderr_matches 'Read-only file system'
}

# ---- bytes that are not UTF-8 (issue 11) ----------------------------------------------------------------------------

@test "arguments and environment values that are not UTF-8 reach the process byte for byte, also on a second start" {
  local arg
  arg=$(printf 'a\377\376b\300')
  run --separate-stderr isola run --name nu -e "V=$(printf '\377\376')" busybox \
    sh -c 'printf "%s|%s" "$1" "$V" | od -An -tx1 | tr -d " \n"' x "$arg"
  assert_status 0
  assert_equal "$output" 61fffe62c07cfffe
  # the record keeps the bytes: a second start gets them too
  run --separate-stderr isola start -a nu
  assert_status 0
  assert_equal "$output" 61fffe62c07cfffe
  # inspect shows them as Docker does, each byte that is not UTF-8 as U+FFFD
  run --separate-stderr isola inspect nu
  assert_status 0
  assert_jq '.[0].Args[3] == "a\ufffd\ufffdb\ufffd"'
  assert_jq '.[0].Config.Cmd[4] == "a\ufffd\ufffdb\ufffd"'
  assert_jq '.[0].Config.Env | index(["V=\ufffd\ufffd"]) != null'
}
