#!/usr/bin/env bats
# isola ps (columns, STATUS wording, -a/-q/--no-trunc, filters) and isola top (host PIDs of a container's
# processes), with the headline scenario: `run -d busybox ping localhost`, `top` lists ping, the host's `ps` finds it.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# containers should never take long: a hang fails after 30 s instead of 120 (read by the isola function)
# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}

# The tests that only read three containers (ps's listing, columns, STATUS wording, filters) share one set: "up"
# running, "ended" exited with 3, "fresh" created, newest last, made once in setup_file in a root of their own
# (THREE_ROOT) instead of in every test's root: two container starts for the file instead of two a test (a start is
# what a VM test pays for).  Each test keeps its own root too: three_containers points the test at the shared one and
# teardown points it back at its own, which container_teardown cleans as always; teardown_file removes the three.
setup_file() {
  container_setup_file || return 1
  THREE_ROOT=$(mktemp -d /tmp/isola-test.XXXXXX)
  export THREE_ROOT
  made "$THREE_ROOT"
  cp -a "$SEED_ROOT/." "$THREE_ROOT/" || return 1
  UP=$(ISOLA_ROOT=$THREE_ROOT isola run -d --name up -l tier=web busybox sleep 1000) || return 1
  DONE=$(ISOLA_ROOT=$THREE_ROOT isola run -d --name ended -l tier=db busybox sh -c 'exit 3') || return 1
  ISOLA_ROOT=$THREE_ROOT wait_for_status ended exited >&2 || return 1
  FRESH=$(ISOLA_ROOT=$THREE_ROOT isola create --name fresh busybox true) || return 1
  export UP DONE FRESH
}
teardown_file() {
  if [[ ${THREE_ROOT:-} == /tmp/isola-test.* ]]; then
    CONTAINER_PIDS=() CONTAINER_IDS=()
    ISOLA_ROOT=$THREE_ROOT BATS_TEST_DESCRIPTION="ps.bats setup_file (three containers)" count_starts
    ISOLA_ROOT=$THREE_ROOT container_teardown
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

HEADER_COLUMNS='CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|PORTS|NAMES|ISOLATION'
AGE='(Less than a second|1 second|[0-9]+ seconds|About a minute|[0-9]+ minutes)'

# three_containers: the test's isola commands look at the three containers of setup_file from now on.
three_containers() {
  local id
  for id in "$UP" "$DONE" "$FRESH"; do
    [[ $id =~ ^[0-9a-f]{64}$ ]] || fail "setup_file's run -d or create printed '$id', not a 64-hex ID" || return 1
  done
  ISOLA_ROOT=$THREE_ROOT
}

@test "ps with no containers prints only the header, with Docker's columns plus ISOLATION" {
  run --separate-stderr isola ps
  assert_status 0
  assert_equal "$(wc -l <<<"$output")" 1
  assert_equal "$(sed -E 's/ {2,}/|/g; s/ +$//' <<<"$output")" "$HEADER_COLUMNS"
  run --separate-stderr isola ps -a
  assert_status 0
  assert_equal "$(wc -l <<<"$output")" 1
  run --separate-stderr isola ps -q
  assert_status 0
  assert_output_empty
}

@test "ps lists running containers only; -a lists all, newest first" {
  three_containers
  run --separate-stderr isola ps -q
  assert_status 0
  assert_equal "$output" "${UP:0:12}"
  run --separate-stderr isola ps -aq
  assert_status 0
  assert_equal "$output" "${FRESH:0:12}
${DONE:0:12}
${UP:0:12}"
  run --separate-stderr isola ps -a -q --no-trunc
  assert_status 0
  assert_equal "$output" "$FRESH
$DONE
$UP"
}

@test "ps columns: ID, IMAGE, quoted COMMAND, CREATED, STATUS, NAMES, ISOLATION" {
  three_containers
  assert_equal "$(ps_column 'CONTAINER ID')" "${UP:0:12}"
  assert_equal "$(ps_column 'CONTAINER ID' --no-trunc)" "$UP"
  assert_equal "$(ps_column IMAGE)" busybox
  assert_equal "$(ps_column COMMAND)" '"sleep 1000"'
  assert_equal "$(ps_column NAMES -a)" "fresh
ended
up"
  assert_equal "$(ps_column ISOLATION -a | sort -u)" "$SHOWN_ISOLATION"
  assert_equal "$(ps_column PORTS -a | sort -u)" ""
  local c
  while IFS= read -r c; do
    [[ $c =~ ^$AGE\ ago$ ]] || fail "CREATED '$c'"
  done < <(ps_column CREATED -a)
}

@test "ps STATUS reads 'Up …', 'Exited (N) … ago' and 'Created'" {
  three_containers
  local st
  st=$(ps_column STATUS -a)
  echo "$st"
  [[ $(sed -n 1p <<<"$st") == Created ]] || fail "created: '$(sed -n 1p <<<"$st")'"
  [[ $(sed -n 2p <<<"$st") =~ ^Exited\ \(3\)\ $AGE\ ago$ ]] || fail "exited: '$(sed -n 2p <<<"$st")'"
  [[ $(sed -n 3p <<<"$st") =~ ^Up\ $AGE$ ]] || fail "running: '$(sed -n 3p <<<"$st")'"
}

@test "ps shows 'Up N seconds' once a second has passed" {
  run_detached busybox sleep 1000
  sleep 1.1
  [[ $(ps_column STATUS) =~ ^Up\ ([0-9]+\ seconds?)$ ]] || fail "STATUS '$(ps_column STATUS)'"
}

@test "ps COMMAND is truncated unless --no-trunc" {
  run_detached busybox sh -c 'echo a long command line that is longer than twenty characters; sleep 1000'
  local c
  c=$(ps_column COMMAND)
  [ "${#c}" -le 26 ] || fail "COMMAND not truncated: $c" # 20 characters, quotes and an ellipsis
  [[ $c == \"sh\ -c* ]] || fail "COMMAND '$c'"
  c=$(ps_column COMMAND --no-trunc)
  [[ $c == \"sh\ -c*"twenty characters; sleep 1000"* ]] || fail "--no-trunc COMMAND '$c'"
}

@test "ps --filter status=running|exited|created" {
  three_containers
  run --separate-stderr isola ps -aq --no-trunc --filter status=running
  assert_status 0
  assert_equal "$output" "$UP"
  run --separate-stderr isola ps -aq --no-trunc --filter status=exited
  assert_status 0
  assert_equal "$output" "$DONE"
  run --separate-stderr isola ps -aq --no-trunc --filter status=created
  assert_status 0
  assert_equal "$output" "$FRESH"
  # without -a a status filter still applies to every container, as in Docker
  run --separate-stderr isola ps -q --no-trunc --filter status=exited
  assert_status 0
  assert_equal "$output" "$DONE"
}

@test "ps --filter name=, label=, isolation=process" {
  three_containers
  run --separate-stderr isola ps -aq --no-trunc --filter name=ended
  assert_status 0
  assert_equal "$output" "$DONE"
  run --separate-stderr isola ps -aq --no-trunc -f label=tier=web
  assert_status 0
  assert_equal "$output" "$UP"
  run --separate-stderr isola ps -aq --no-trunc --filter label=tier
  assert_status 0
  assert_equal "$output" "$DONE
$UP"
  run --separate-stderr isola ps -aq --no-trunc --filter isolation="$SHOWN_ISOLATION"
  assert_status 0
  assert_equal "$(wc -l <<<"$output")" 3
  run --separate-stderr isola ps -aq --filter isolation="$OTHER_ISOLATION"
  assert_status 0
  assert_output_empty
  run --separate-stderr isola ps -aq --no-trunc --filter status=exited --filter label=tier=db
  assert_status 0
  assert_equal "$output" "$DONE"
}

@test "ps --filter with an unknown key fails" {
  run --separate-stderr isola ps --filter nosuchkey=1
  assert_status_in "1 125"
  assert_stderr_matches 'nosuchkey'
}

# ---- top -----------------------------------------------------------------------------------------------------------

# top_pid_of COMMAND-PREFIX: the PID column of the top row whose CMD starts with it ($output holds top's output).
top_pid_of() {
  awk -v c="$1" 'NR > 1 { cmd = $8; for (i = 9; i <= NF; i++) cmd = cmd " " $i; if (index(cmd, c) == 1) { print $2; exit } }' <<<"$output"
}

@test "headline: run -d busybox ping localhost; top lists ping with its host PID; the host's ps finds it" {
  only_isolation process "a VM's processes are not the host's (vm.bats has the VM half of the headline)"
  run_detached busybox ping localhost
  run --separate-stderr isola top "$CID"
  assert_status 0
  assert_equal "$(head -1 <<<"$output" | awk '{ $1 = $1; print }')" "UID PID PPID C STIME TTY TIME CMD"
  assert_output_contains 'ping localhost'
  local pid
  pid=$(top_pid_of 'ping localhost')
  [[ $pid =~ ^[0-9]+$ ]] || fail "no PID for ping in: $output"
  assert_equal "$pid" "$(cfield "$CID" '{{.State.Pid}}')"
  assert_equal "$(ps -p "$pid" -o comm=)" ping
  ps -C ping -o pid= | grep -qw "$pid" || fail "ps -C ping does not list $pid: $(ps -C ping -o pid,args)"
  # and ping does reach lo
  check_ping() { isola logs "$CID" 2>&1 | grep -q 'bytes from 127.0.0.1'; }
  wait_until 5 check_ping || { isola logs "$CID"; return 1; }
}

@test "top of sleep 1000 shows a host PID; child processes are listed with their parent" {
  only_isolation process "a VM's processes are not the host's"
  run_detached busybox sh -c 'sleep 1000 & wait'
  wait_until 5 pgrep -P "$(cfield "$CID" '{{.State.Pid}}')" sleep
  run --separate-stderr isola top "$CID"
  assert_status 0
  assert_equal "$(wc -l <<<"$output")" 3
  local sh_pid sleep_pid
  sh_pid=$(top_pid_of 'sh -c')
  sleep_pid=$(top_pid_of 'sleep 1000')
  assert_equal "$sh_pid" "$(cfield "$CID" '{{.State.Pid}}')"
  assert_equal "$(ps -p "$sleep_pid" -o comm=)" sleep
  assert_equal "$(ps -p "$sleep_pid" -o ppid= | tr -d ' ')" "$sh_pid"
  assert_equal "$(awk -v p="$sleep_pid" '$2 == p { print $3 }' <<<"$output")" "$sh_pid"
  assert_equal "$(awk -v p="$sleep_pid" '$2 == p { print $1 }' <<<"$output")" root
}

@test "top of a container that is not running fails with 1" {
  run_detached busybox true
  wait_for_status "$CID" exited
  run --separate-stderr isola top "$CID"
  assert_status 1
  assert_stderr_matches 'is not running'
  run --separate-stderr isola top no-such-container
  assert_status 1
}

@test "ps --format: a Go template, 'table' with Docker's headers, and json" {
  isola_ok create --name fmt -l a=b busybox true
  CONTAINER_IDS+=("$output")
  local id=${output:0:12}
  run --separate-stderr isola ps -a --format '{{.ID}} {{.Names}} {{.Image}} {{.State}} {{.Labels}}'
  assert_status 0
  assert_equal "$output" "$id fmt busybox created a=b"
  run --separate-stderr isola ps -a --format 'table {{.ID}}\t{{.Names}}\t{{.Ports}}\t{{.Status}}'
  assert_status 0
  assert_equal "$(head -1 <<<"$output")" "CONTAINER ID   NAMES     PORTS     STATUS"
  assert_equal "$(tail -1 <<<"$output")" "$id   fmt                 Created"
  run --separate-stderr isola ps -a --format json
  assert_jq ".ID == \"$id\" and .Names == \"fmt\" and .Command == \"\\\"true\\\"\" and .Isolation == \"$SHOWN_ISOLATION\""
  assert_jq 'keys_unsorted == keys' # Docker's order: by name
  run --separate-stderr isola ps -a --format '{{json .}}'
  assert_jq "keys_unsorted == keys and .ID == \"$id\""
  run --separate-stderr isola ps -a --format table
  assert_output_matches '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES +ISOLATION$'
  run --separate-stderr isola ps -a -q --format '{{.Names}}'
  assert_equal "$output" "$id"
}

@test "COMMAND quotes control characters and code points that are not printable as Go's strconv.Quote (Docker's)" {
  # tab, ESC, C1's CSI (U+009B), a zero-width space (U+200B), a byte that is not UTF-8, a quote and a backslash
  isola_ok create --name pq busybox echo "$(printf 'a\tb\033[1mc\302\233d\342\200\213e\377f"g\\h')"
  run --separate-stderr isola ps -a --no-trunc --format '{{.Command}}'
  assert_status 0
  assert_equal "$output" "\"echo a\\tb\\x1b[1mc\\u009bd\\u200be$(printf '\357\277\275')f\\\"g\\\\h\""
  run --separate-stderr isola ps -a
  assert_status 0
  assert_output_contains "\"echo a\\tb\\x1b[1mc\\u009bd\\u200be$(printf '\357\277\275')f…\""
  # nothing raw reaches the terminal
  if printf '%s' "$output" | LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')"; then fail "raw control bytes in ps"; fi
}
