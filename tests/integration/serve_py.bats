#!/usr/bin/env bats
# isola serve driven by docker-py (Debian's python3-docker, 5.0): containers (run, create/start, wait, logs, attach,
# stop, kill, remove), exec with its exit codes, images (load, list, tag, inspect, remove), volumes and user networks,
# through a server on a private socket.  The client asks for each container's isolation in HostConfig: nothing in the
# process pass, isolation='hyperv' in the VM pass (VM_FILES).  serve_py.py holds the client's side.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers
load serve_clients

ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

setup_file() {
  "$CLIENT_PYTHON" -c 'import docker' 2>/dev/null || skip "docker-py (python3-docker) is not installed"
  container_setup_file
}
teardown_file() { container_teardown_file; }

setup() {
  container_setup
  SOCK=$BATS_TEST_TMPDIR/docker.sock
  SERVER_PID=
  serve_start -H "unix://$SOCK"
}
teardown() {
  serve_stop
  container_teardown
}

# py PART [ARG...]: one part of serve_py.py, with this pass's isolation; fails with the client's traceback.
py() {
  local iso="" t=$ISOLA_TIMEOUT
  if [ "$TEST_ISOLATION" = vm ]; then iso=hyperv t=900; fi
  run timeout "$t" "$CLIENT_PYTHON" "$BATS_TEST_DIRNAME/serve_py.py" "$SOCK" "$iso" "$@"
  [ "$status" -eq 0 ] || fail "serve_py.py $* ended with $status: $output
$(serve_log)"
}

@test "docker-py: run with output and exit codes, create/start/wait/logs, stop, restart, kill, remove; seen by isola ps" {
  py containers
  # what the client made went through the same store as the CLI's, and is gone
  run isola ps -aq
  assert_output_empty
}

@test "docker-py: attach, exec_run (exit codes, demux, env, user, workdir, tty, missing command), exec inspect, top" {
  py exec
}

@test "docker-py: images load, list, get, tag, inspect, run from a tag, untag, remove" {
  py images "$ISOLA_IMAGE"
}

@test "docker-py: volumes create with labels, shared by two containers, in use refused, remove, prune" {
  py volumes
  run isola volume ls -q
  assert_output_empty
}

@test "docker-py: a user network, a container fetched by name from another, connect/disconnect, in use refused, remove" {
  if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
    skip "makes a bridge: run in a network namespace of its own (scripts/run-tests.sh does)"
  fi
  py networks
  run isola network ls --format '{{.Name}}'
  refute_output_contains py-net
}

@test "docker-py over TCP on 127.0.0.1 and the unix socket: output right after the headers is not lost (exec_run, run)" {
  local port iso="" t=$ISOLA_TIMEOUT
  port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  serve_stop
  serve_start -H "unix://$SOCK" -H "tcp://127.0.0.1:$port"
  if [ "$TEST_ISOLATION" = vm ]; then iso=hyperv t=900; fi
  # docker-py read the 101 and the first output together in 22 of 30 exec_run calls over TCP
  run timeout "$t" "$CLIENT_PYTHON" "$BATS_TEST_DIRNAME/serve_py.py" "tcp://127.0.0.1:$port" "$iso" whole_output
  [ "$status" -eq 0 ] || fail "over TCP: $output"
  py whole_output
}
