# Shared by the tests of isola serve's other clients (serve_py.bats, serve_compose.bats, serve_tls.bats): a server
# on a private socket in the test's directory, stopped by teardown.
# shellcheck shell=bash

# Debian's interpreter and the client packages in its dist-packages (not a pyenv's python3).
# shellcheck disable=SC2034 # used by the files that load this one
CLIENT_PYTHON=/usr/bin/python3

# The server's start and stop are serve_helpers.bash's.
# shellcheck source=tests/integration/serve_helpers.bash
. "${BATS_TEST_DIRNAME}/serve_helpers.bash"
serve_start() { start_server "$@"; }
serve_stop() { stop_server; }

# serve_log: the server's messages, for a failing test's output.
serve_log() {
  echo "--- isola serve's messages:"
  cat "$BATS_TEST_TMPDIR/serve.log" 2>/dev/null
}
