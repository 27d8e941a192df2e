# shellcheck shell=bash
# The server of a bats file that drives isola serve with Debian's docker 20.10 client (/usr/bin/docker): a private
# socket in each test's directory, started by setup and ended by teardown.
# shellcheck disable=SC2154 # BATS_TEST_TMPDIR is set by bats

ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-30}
DOCKER_BIN=/usr/bin/docker
PYTHON=${PYTHON:-python3}

serve_setup_file() {
  [ -x "$DOCKER_BIN" ] || skip "Debian's docker.io client is not installed ($DOCKER_BIN)"
  container_setup_file
}

serve_setup() {
  container_setup
  SOCK=$BATS_TEST_TMPDIR/docker.sock
  export DOCKER_HOST=unix://$SOCK
  # the client's own files (config.json) stay in the test's directory
  export DOCKER_CONFIG=$BATS_TEST_TMPDIR/docker-config
  SERVER_PID=
  start_server -H "unix://$SOCK"
}

serve_teardown() {
  stop_server
  container_teardown
}

# The bats hooks of a file that loads this one: the image once per file, a server per test.  A file that needs more
# defines its own after the load (serve_ops.bats: setup and teardown; the other clients' files: all four).
setup_file() { serve_setup_file; }
teardown_file() { container_teardown_file; }
setup() { serve_setup; }
teardown() { serve_teardown; }

# start_server ARGS...: isola serve in the background, until its socket answers _ping.
start_server() {
  "$ISOLA" serve "$@" >"$BATS_TEST_TMPDIR/serve.log" 2>&1 &
  SERVER_PID=$!
  local deadline
  deadline=$(($(now_ms) + $(deadline_s 30) * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://isola/_ping >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "isola serve ended: $(cat "$BATS_TEST_TMPDIR/serve.log")"
    sleep 0.05
  done
  fail "isola serve did not answer on $SOCK"
}

stop_server() {
  [ -n "${SERVER_PID:-}" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# docker ARGS...: the client, bounded (a VM's boot under TCG takes seconds).
docker() {
  local t=$ISOLA_TIMEOUT
  if [ "$TEST_ISOLATION" = vm ] && [ "$t" -lt 120 ]; then t=120; fi
  timeout "$t" "$DOCKER_BIN" "$@"
}

# api METHOD PATH [BODY]: curl over the socket; prints the body, then the status code on a line of its own.
api() {
  local data=()
  [ $# -lt 3 ] || data=(-H 'Content-Type: application/json' --data-binary "$3")
  curl -s --unix-socket "$SOCK" -X "$1" "${data[@]}" -w '\n%{http_code}' "http://isola$2"
}

# server_threads: how many threads the server has now.
server_threads() {
  ls "/proc/$SERVER_PID/task" | wc -l
}

# server_threads_at_most MAX: whether the server has at most MAX threads now.
server_threads_at_most() {
  [ "$(server_threads)" -le "$1" ]
}

# wait_server_threads MAX: until the server has at most MAX threads (its clients' threads ended), or fails.
wait_server_threads() {
  wait_until 15 server_threads_at_most "$1" ||
    fail "the server still has $(server_threads) threads (at most $1 expected)"
}
