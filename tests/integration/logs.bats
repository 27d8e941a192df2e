#!/usr/bin/env bats
# isola logs: the recorded stdout and stderr of a container, --tail, -t timestamps, -f following until exit.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# containers should never take long: a hang fails after 30 s instead of 120 (read by the isola function)
# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})'

# exited_container SCRIPT: a detached container running `sh -c SCRIPT`, waited for (it must exit 0 on its own);
# sets CID.
exited_container() {
  run_detached busybox sh -c "$1"
  wait_for_status "$CID" exited
  local how
  how=$(cfield "$CID" '{{.State.ExitCode}} {{.State.Error}}')
  [ "$how" = "0 " ] || fail "the container did not exit normally: ExitCode and Error: $how"
}

@test "logs prints stdout to stdout and stderr to stderr" {
  exited_container 'echo out1; echo err1 >&2; echo out2; echo err2 >&2'
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$output" "out1
out2"
  assert_equal "$stderr" "err1
err2"
}

@test "logs keeps the order in which the lines were written across both streams" {
  exited_container 'echo 1; sleep 0.05; echo 2 >&2; sleep 0.05; echo 3; sleep 0.05; echo 4 >&2'
  run isola logs "$CID"
  assert_status 0
  assert_equal "$output" "1
2
3
4"
}

@test "logs of a running container shows what it has written so far" {
  run_detached busybox sh -c 'echo early; sleep 1000'
  has_early() { isola logs "$CID" | grep -qx early; }
  wait_until 5 has_early
  assert_equal "$(cfield "$CID" '{{.State.Status}}')" running
}

@test "logs of a container that wrote nothing is empty; of an unknown container fails with 1" {
  exited_container 'true'
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_output_empty
  assert_equal "$stderr" ""
  run --separate-stderr isola logs no-such-container
  assert_status 1
  assert_stderr_matches 'No such container'
}

@test "logs keeps a last line without newline, empty lines, and a lot of output" {
  # one container: a line, an empty line, 20000 lines, and a last line without newline
  exited_container 'echo first; echo; seq 1 20000; printf "no newline"'
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$(head -3 <<<"$output")" "first

1"
  assert_equal "$(printf '%s' "$output" | tail -c 17)" "
20000
no newline"
  assert_equal "$(sed -n '3,20002p' <<<"$output")" "$(seq 1 20000)"
  assert_equal "$(wc -l <<<"$output")" 20003
}

@test "run -d of big output: wait gives the exit code, logs every byte in order" {
  run_detached busybox sh -c 'seq 1 300000; exit 3'
  ISOLA_TIMEOUT=600 run --separate-stderr isola wait "$CID"
  assert_status 0
  assert_equal "$output" 3
  run --separate-stderr bash -c '"$1" logs "$2" | md5sum; exit "${PIPESTATUS[0]}"' - "$ISOLA" "$CID"
  assert_status 0
  assert_equal "$output" "$(seq 1 300000 | md5sum)"
}

@test "logs --tail N prints the last N lines" {
  exited_container 'seq 1 10'
  run --separate-stderr isola logs --tail 3 "$CID"
  assert_status 0
  assert_equal "$output" "8
9
10"
  run --separate-stderr isola logs --tail 0 "$CID"
  assert_status 0
  assert_output_empty
  run --separate-stderr isola logs "$CID" --tail 1 # flags may follow the container, as with docker
  assert_status 0
  assert_equal "$output" 10
  run --separate-stderr isola logs -n2 "$CID" -t=false
  assert_status 0
  assert_equal "$output" "9
10"
  run --separate-stderr isola logs -n 100 "$CID"
  assert_status 0
  assert_equal "$(wc -l <<<"$output")" 10
  run --separate-stderr isola logs --tail all "$CID"
  assert_status 0
  assert_equal "$(wc -l <<<"$output")" 10
}

@test "logs -t prefixes each line with an RFC 3339 timestamp" {
  local before
  before=$(date -u +%Y-%m-%dT%H:%M)
  exited_container 'echo a; echo b >&2'
  run --separate-stderr isola logs -t "$CID"
  assert_status 0
  [[ $output =~ ^$TS\ a$ ]] || fail "stdout line: '$output'"
  [[ $stderr =~ ^$TS\ b$ ]] || fail "stderr line: '$stderr'"
  # the timestamps are recent (UTC, to the minute; allow the minute to have turned)
  local when=${output:0:16} after
  after=$(date -u +%Y-%m-%dT%H:%M)
  [[ $when == "$before" || $when == "$after" ]] || fail "timestamp $when is not between $before and $after"
}

@test "logs -f follows the output until the container exits, then returns" {
  run_detached busybox sh -c 'echo a; sleep 0.5; echo b; sleep 0.5; echo c'
  local t0 dt
  t0=$(now_ms)
  run --separate-stderr timeout 120 "$ISOLA" logs -f "$CID"
  dt=$(($(now_ms) - t0))
  assert_status 0
  assert_equal "$output" "a
b
c"
  [ "$dt" -ge 500 ] || fail "logs -f returned after $dt ms, before the container exited"
  assert_equal "$(cfield "$CID" '{{.State.Status}}')" exited
}

@test "logs -f of an exited container prints everything and returns at once" {
  exited_container 'echo finished'
  run --separate-stderr timeout 120 "$ISOLA" logs -f "$CID"
  assert_status 0
  assert_equal "$output" finished
}

@test "logs -f --tail 1 starts from the last line and follows" {
  # c comes once logs -f has printed b (the container waits for /go), however slow the host is
  run_detached busybox sh -c 'echo a; echo b; until [ -e /go ]; do sleep 0.05; done; echo c'
  has_b() { isola logs "$CID" | grep -qx b; }
  wait_until 5 has_b
  local f=$BATS_TEST_TMPDIR/follow
  start_attached "$f" logs -f --tail 1 "$CID"
  wait_until 10 file_contains "$f" b || { cat "$f"; return 1; }
  # -d: the container ends as soon as /go exists, and its end kills whatever still runs in it, this touch too when
  # it has not exited yet (exit 137 under load); only the file matters here
  isola_ok exec -d "$CID" touch /go
  wait_bg 10
  assert_equal "$BG_STATUS" 0
  assert_equal "$(cat "$f")" "b
c"
}

@test "logs of an attached run holds the same output" {
  run --separate-stderr isola run --name att busybox sh -c 'echo o; echo e >&2'
  assert_status 0
  run --separate-stderr isola logs att
  assert_status 0
  assert_equal "$output" o
  assert_equal "$stderr" e
}

@test "logs survive a restart: the new run's output is appended" {
  exited_container 'echo run'
  isola_ok start "$CID"
  run --separate-stderr isola wait "$CID"
  assert_status 0
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$output" "run
run"
}

# The output of big_output: ~50 MB on stdout, the same seconds as ~2 MB on stderr, in lines of every kind: many
# short ones, a line of 300000 bytes (longer than the monitor's reads and the log's 16 KiB records), and an end
# without a newline.  Busybox in the container and coreutils on the host make the same bytes.
BIG_OUTPUT='yes "the quick brown fox 0123456789" | head -c 1048575 >"$D/b"
seq 1 300000 >&2 &
set --; i=0; while [ $i -lt 48 ]; do set -- "$@" "$D/b"; i=$((i + 1)); done
cat "$@"
head -c 300000 /dev/zero | tr "\0" x
echo
seq 1 100000
head -c 100000 /dev/zero | tr "\0" y
wait'

# big_output_sums: the md5 sums of big_output's stdout and stderr, made on the host.
big_output_sums() {
  D=$BATS_TEST_TMPDIR sh -c "$BIG_OUTPUT" >"$BATS_TEST_TMPDIR/want.out" 2>"$BATS_TEST_TMPDIR/want.err"
  rm -f "$BATS_TEST_TMPDIR/b"
  WANT_OUT=$(md5sum <"$BATS_TEST_TMPDIR/want.out")
  WANT_ERR=$(md5sum <"$BATS_TEST_TMPDIR/want.err")
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/want.out")" -gt 50000000 ] || fail "the expected output is too small"
  rm -f "$BATS_TEST_TMPDIR/want.out" "$BATS_TEST_TMPDIR/want.err"
}

@test "50 MB of output reach run and logs byte for byte, stdout and stderr apart" {
  big_output_sums
  local out=$BATS_TEST_TMPDIR/out err=$BATS_TEST_TMPDIR/err
  ISOLA_TIMEOUT=120 isola run --name big busybox sh -c "D=/tmp; $BIG_OUTPUT" >"$out" 2>"$err" \
    || fail "run failed with $?: $(tail -c 300 "$err")"
  assert_equal "$(md5sum <"$out")" "$WANT_OUT"
  assert_equal "$(md5sum <"$err")" "$WANT_ERR"
  ISOLA_TIMEOUT=120 isola logs big >"$out" 2>"$err" || fail "logs failed with $?"
  assert_equal "$(md5sum <"$out")" "$WANT_OUT"
  assert_equal "$(md5sum <"$err")" "$WANT_ERR"
}

# What the monitor's writer makes of output, record by record, as Docker's json-file: a line longer than 16 KiB in
# 16384-byte pieces of which only the last ends in \n; control characters, quotes, backslash and <&> escaped;
# an invalid UTF-8 byte as \ufffd; a last line without newline as a record of its own.
@test "ctr.log holds Docker's json-file records: long lines in 16 KiB pieces, escapes, invalid UTF-8, a last partial line" {
  exited_container 'head -c 40000 /dev/zero | tr "\0" a; echo; printf "\001\037\042\134<&>\011\015\n"; printf "bad\377x\n"; printf end'
  local re='^\{"log":"(.*)","stream":"stdout","time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z"\}$'
  local -a logs=()
  local line
  while IFS= read -r line; do
    [[ $line =~ $re ]] || fail "not a json-file record: ${line:0:200}"
    logs+=("${BASH_REMATCH[1]}")
  done <"$ISOLA_ROOT/containers/$CID/ctr.log"
  assert_equal "${#logs[@]}" 6
  local a16
  a16=$(head -c 16384 /dev/zero | tr '\0' a)
  assert_equal "${logs[0]}" "$a16"
  assert_equal "${logs[1]}" "$a16"
  assert_equal "${logs[2]}" "$(head -c 7232 /dev/zero | tr '\0' a)\\n"
  assert_equal "${logs[3]}" '\u0001\u001f\"\\\u003c\u0026\u003e\u0009\r\n'
  assert_equal "${logs[4]}" 'bad\ufffdx\n'
  assert_equal "${logs[5]}" end
  # logs gives the bytes back, the invalid one as U+FFFD
  isola logs "$CID" >"$BATS_TEST_TMPDIR/got" || fail "logs failed"
  { head -c 40000 /dev/zero | tr '\0' a; echo; printf '\001\037\042\134<&>\011\015\nbad\357\277\275x\nend'; } >"$BATS_TEST_TMPDIR/want"
  cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want" || fail "logs printed other bytes"
}

@test "logs --tail N of a long log starts N lines before its end" {
  exited_container 'seq 1 100000'
  run --separate-stderr isola logs --tail 30000 "$CID"
  assert_status 0
  assert_equal "$(md5sum <<<"$output")" "$(seq 70001 100000 | md5sum)"
  run --separate-stderr isola logs --tail 30000 -t "$CID"
  [[ ${lines[0]} =~ ^$TS\ 70001$ ]] || fail "first line: ${lines[0]}"
}

@test "logs skips a torn last record, and new records after it are whole" {
  exited_container 'echo one; echo two'
  local log=$ISOLA_ROOT/containers/$CID/ctr.log
  # a monitor killed in the middle of writing "two"
  truncate -s -20 "$log"
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$output" one
  run --separate-stderr isola logs --tail 1 "$CID"
  assert_equal "$output" one
  isola_ok start "$CID"
  run --separate-stderr timeout 30 "$ISOLA" wait "$CID"
  assert_status 0
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$output" "one
one
two"
}

# ---- --until, and --since to the nanosecond --------------------------------------------------------------------------

@test "logs --until and --since take Docker's times and compare them to the nanosecond" {
  exited_container 'echo a; sleep 1.2; echo b; sleep 1.2; echo c'
  local ta tb
  ta=$(isola logs -t "$CID" | sed -n 1p | cut -d' ' -f1)
  tb=$(isola logs -t "$CID" | sed -n 2p | cut -d' ' -f1)
  [[ $ta =~ ^$TS$ ]] || fail "no timestamp: $ta"
  run isola logs --until "$ta" "$CID"
  assert_status 0
  assert_equal "$output" a
  run isola logs --since "$tb" --until "$tb" "$CID"
  assert_equal "$output" b
  run isola logs --since "$tb" "$CID"
  assert_equal "$output" "b
c"
  run isola logs --until 2000-01-01T00:00:00Z "$CID"
  assert_output_empty
  run isola logs --until 2100-01-01 "$CID"
  assert_equal "$(echo $output)" "a b c"
  # a duration is counted back from now; a negative one is in the future; Unix seconds with a fraction
  run isola logs --until 1h "$CID"
  assert_output_empty
  run isola logs --until=-1h "$CID"
  assert_equal "$(echo $output)" "a b c"
  run isola logs --until 1.5 "$CID"
  assert_output_empty
  run isola logs --since "$(($(date +%s) + 3600)).25" "$CID"
  assert_output_empty
  run --separate-stderr isola logs --until yesterday "$CID"
  assert_status 1
  assert_stderr_matches 'invalid value for "until": failed to parse value as time or duration: "yesterday"'
  run --separate-stderr isola logs --since 2024-13-01 "$CID"
  assert_status 1
  assert_stderr_matches 'invalid value for "since"'
}

@test "logs -f --until stops following once that time has passed" {
  run_detached busybox sh -c 'echo first; sleep 1000'
  wait_for_log "$CID" first
  # "2s" is whole seconds before now (as Docker's): up to 3 s before now
  sleep 3.5
  run isola logs -f --until 2s "$CID"
  assert_status 0
  assert_equal "$output" first
  local until=$(($(date +%s) + 2))
  run isola logs -f --until "$until" "$CID"
  assert_status 0
  assert_equal "$output" first
}

# ---- --log-driver and --log-opt ------------------------------------------------------------------------------------

@test "LogConfig: json-file by default, --log-opt in its Config, as Docker's inspect" {
  isola_ok create --name plain busybox true
  assert_equal "$(cfield plain '{{json .HostConfig.LogConfig}}')" '{"Type":"json-file","Config":{}}'
  isola_ok create --name opts --log-driver json-file --log-opt max-size=10k --log-opt max-file=3 busybox true
  assert_equal "$(cfield opts '{{json .HostConfig.LogConfig}}')" '{"Type":"json-file","Config":{"max-file":"3","max-size":"10k"}}'
  isola_ok create --name none --log-driver none busybox true
  assert_equal "$(cfield none '{{.HostConfig.LogConfig.Type}}')" none
}

@test "--log-driver none: run still relays the output, nothing is written, logs fails as Docker's" {
  run --separate-stderr isola run --name quiet --log-driver none busybox sh -c 'echo out; echo err >&2'
  assert_status 0
  assert_equal "$output" out
  assert_equal "$stderr" err
  local id
  id=$(cfield quiet '{{.Id}}')
  [ ! -e "$ISOLA_ROOT/containers/$id/ctr.log" ] || fail "ctr.log was written"
  run --separate-stderr isola logs quiet
  assert_status 1
  assert_stderr_matches 'configured logging driver does not support reading'
  run_detached --log-driver none busybox sh -c 'echo bg; sleep 1000'
  run --separate-stderr isola logs -f "$CID"
  assert_status 1
}

@test "--log-driver and --log-opt refuse what isola or Docker does not have" {
  run --separate-stderr isola run --log-driver nosuch busybox true
  assert_status 125
  assert_stderr_matches "logger: no log driver named 'nosuch' is registered"
  run --separate-stderr isola run --log-driver syslog busybox true
  assert_status 125
  assert_stderr_matches "log driver 'syslog' is not supported yet: use json-file or none"
  run --separate-stderr isola create --log-opt color=red busybox true
  assert_status 1
  assert_stderr_matches "unknown log opt 'color' for json-file log driver"
  run --separate-stderr isola create --log-opt max-file=0 busybox true
  assert_stderr_matches "max-file cannot be less than 1"
  run --separate-stderr isola create --log-opt max-size=lots busybox true
  assert_stderr_matches "invalid size: 'lots'"
  run --separate-stderr isola create --log-opt compress=true --log-opt max-size=1k --log-opt max-file=2 busybox true
  assert_stderr_matches "compress=true is not supported yet"
  run --separate-stderr isola create --log-driver none --log-opt max-size=1k busybox true
  assert_status 125
  assert_stderr_matches "invalid logging opts for driver none"
  assert_equal "$(isola ps -aq)" ""
}

# log_files ID: the container's log files, oldest first, and their sizes
log_files() {
  local d=$ISOLA_ROOT/containers/$1 i
  for ((i = 100; i >= 1; i--)); do
    if [ -f "$d/ctr.log.$i" ]; then echo "ctr.log.$i $(stat -c %s "$d/ctr.log.$i")"; fi
  done
  echo "ctr.log $(stat -c %s "$d/ctr.log")"
}

@test "--log-opt max-size rotates ctr.log into ctr.log.1 …: logs reads them in order, no line lost or doubled" {
  run_detached --log-opt max-size=2k --log-opt max-file=100 busybox sh -c 'seq 1 1500; seq 1501 1550 >&2'
  wait_for_status "$CID" exited 60
  run log_files "$CID"
  echo "$output"
  [ "${#lines[@]}" -gt 20 ] || fail "expected many files"
  # each file ends with the record that took it to 2 kB (a record is < 100 bytes here)
  local f size
  while read -r f size; do
    [ "$size" -lt 2100 ] || fail "$f has $size bytes"
  done <<<"$output"
  run --separate-stderr isola logs "$CID"
  assert_status 0
  assert_equal "$output" "$(seq 1 1500)"
  assert_equal "$stderr" "$(seq 1501 1550)"
  run isola logs --tail 250 "$CID"
  assert_equal "$output" "$(seq 1301 1550)"
  run isola logs -f "$CID"
  assert_equal "$output" "$(seq 1 1550)"
}

@test "--log-opt max-file keeps that many files: the oldest lines go, the others stay whole and in order" {
  run_detached --log-opt max-size=1k --log-opt max-file=3 busybox seq 1 2000
  wait_for_status "$CID" exited 60
  run log_files "$CID"
  assert_equal "$(echo "$output" | cut -d' ' -f1 | tr '\n' ' ')" "ctr.log.2 ctr.log.1 ctr.log "
  run isola logs "$CID"
  assert_status 0
  local first=${lines[0]}
  [ "$first" -gt 1000 ] || fail "old lines kept: $first"
  assert_equal "$output" "$(seq "$first" 2000)"
}

@test "logs -f follows the log across rotations, each line once" {
  run_detached --log-opt max-size=1k --log-opt max-file=50 busybox sh -c 'i=1; while [ $i -le 400 ]; do echo "line $i"; i=$((i+1)); [ $((i % 20)) = 0 ] && sleep 0.1; done'
  run isola logs -f "$CID"
  assert_status 0
  assert_equal "$output" "$(seq -f 'line %g' 1 400)"
  [ -f "$ISOLA_ROOT/containers/$CID/ctr.log.5" ] || fail "the log was not rotated"
}
