# Shared by the tests of isola serve's other clients (serve_py.bats, serve_compose.bats, serve_tls.bats): a server
# on a private socket in the test's directory, stopped by teardown.
# shellcheck shell=bash

# Debian's interpreter and the client packages in its dist-packages (not a pyenv's python3).
# shellcheck disable=SC2034 # used by the files that load this one
CLIENT_PYTHON=/usr/bin/python3

# serve_start ARGS...: isola serve in the background, until $SOCK answers _ping.
serve_start() {
  "$ISOLA" serve "$@" >"$BATS_TEST_TMPDIR/serve.log" 2>&1 &
  SERVER_PID=$!
  local i
  for ((i = 0; i < 600; i++)); do
    [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://isola/_ping >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "isola serve ended: $(cat "$BATS_TEST_TMPDIR/serve.log")"
    sleep 0.05
  done
  fail "isola serve did not answer on $SOCK"
}

serve_stop() {
  [ -n "${SERVER_PID:-}" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# serve_log: the server's messages, for a failing test's output.
serve_log() {
  echo "--- isola serve's messages:"
  cat "$BATS_TEST_TMPDIR/serve.log" 2>/dev/null
}
