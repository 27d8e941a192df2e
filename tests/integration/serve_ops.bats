#!/usr/bin/env bats
# isola serve, driven by Debian's docker 20.10 client and by a scripted client of the hijacked endpoints
# (serve_hijack.py): stats and update, the detach keys of attach and exec, attach with logs=1, push, clients that
# leave in the middle of a stream, and 50 clients at once.  In VM_FILES: the containers are VMs in the VM pass.

# shellcheck disable=SC2154 # status, output and lines are set by bats' run
load helpers
load serve_helpers

setup() {
  serve_setup
  HIJACK=("$PYTHON" "$BATS_TEST_DIRNAME/serve_hijack.py" "$SOCK")
  STALL_PID=
}
teardown() {
  [ -z "${STALL_PID:-}" ] || { kill "$STALL_PID" 2>/dev/null; wait "$STALL_PID" 2>/dev/null; } || true
  [ -z "${REG_PID:-}" ] || { kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; } || true
  serve_teardown
}

# stats NAME QUERY JQ: a member of one sample of NAME's stats.
stats() {
  curl -s --max-time 60 --unix-socket "$SOCK" "http://isola/v1.41/containers/$1/stats?$2" | jq -r "$3"
}

@test "docker stats: Docker's sample (cpu, precpu, memory, pids, blkio, networks), streamed or one; docker update" {
  docker run -d --name st busybox sh -c 'while :; do :; done' >/dev/null
  run docker stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}' st
  assert_status 0
  assert_output_matches '^st [0-9.]+% [0-9.]+[KMG]?i?B / [0-9.]+[KMG]iB [0-9]+$'
  # stream=false: two readings a second apart, so that the CLI's CPU % has its delta; the loop keeps a CPU busy
  run stats st stream=false '[.cpu_stats.cpu_usage.total_usage > .precpu_stats.cpu_usage.total_usage,
    .cpu_stats.system_cpu_usage > .precpu_stats.system_cpu_usage, .cpu_stats.online_cpus > 0,
    .memory_stats.usage > 0, .memory_stats.limit > 0, .pids_stats.current >= 1,
    (.blkio_stats.io_service_bytes_recursive | length), (.networks | type), .name, (.id | length)] | @tsv'
  assert_equal "$output" "$(printf 'true\ttrue\ttrue\ttrue\ttrue\ttrue\t2\tobject\t/st\t64')"
  # one-shot: one reading, precpu empty
  run stats st 'stream=false&one-shot=true' '.precpu_stats.cpu_usage.total_usage'
  assert_equal "$output" 0
  # the stream: a sample a second
  run curl -s --max-time 3.5 --unix-socket "$SOCK" "http://isola/v1.41/containers/st/stats"
  [ "${#lines[@]}" -ge 2 ] || fail "samples: ${#lines[@]}: $output"
  # update: applied to the running container and recorded
  run docker update --memory 64m --memory-swap 128m --pids-limit 50 st
  assert_status 0
  run docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' st
  assert_equal "$output" "67108864 50"
  run stats st 'stream=false&one-shot=true' '[.memory_stats.limit, .pids_stats.limit] | @tsv'
  assert_equal "$output" "$(printf '67108864\t50')"
  run docker update --restart always st
  assert_status 1
  assert_output_contains "isola update does not support RestartPolicy"
  run docker update --memory 1k st
  assert_status 1
  # a container that does not run: Docker's empty sample, and the stream ends
  docker kill st >/dev/null
  docker wait st >/dev/null
  run stats st stream=true '[.read, .memory_stats.usage // 0] | @tsv'
  assert_equal "$output" "$(printf '0001-01-01T00:00:00Z\t0')"
  run docker stats --no-stream nosuch
  assert_status 1
}

@test "detach keys: attach's detachKeys and exec's DetachKeys end a terminal's session, and the container runs on" {
  docker run -dit --name dt busybox sh >/dev/null
  run "${HIJACK[@]}" "/v1.41/containers/dt/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x" \
    --send 'echo in-$((6*7))\n' --send '\x18' --pause 1 --timeout 20
  assert_status 0
  assert_output_contains "in-42"
  run docker inspect -f '{{.State.Status}}' dt
  assert_equal "$output" running
  # Docker's default keys, ctrl-p ctrl-q; a broken sequence is the container's input (cat -v, as sh's line editor
  # would take ctrl-p for itself)
  docker run -dit --name dc busybox cat -v >/dev/null
  run "${HIJACK[@]}" "/v1.41/containers/dc/attach?stream=1&stdin=1&stdout=1" \
    --send 'x\x10y\n' --send '\x10\x11' --pause 1 --timeout 20
  assert_status 0
  assert_output_contains 'x^Py'
  run docker inspect -f '{{.State.Status}}' dc
  assert_equal "$output" running
  # an exec's own keys: the command goes on without its client
  local id
  id=$(api POST /v1.41/containers/dt/exec \
    '{"Cmd": ["sh", "-c", "echo started; exec sleep 321"], "Tty": true, "AttachStdin": true, "AttachStdout": true, "DetachKeys": "ctrl-a,d"}' |
    head -1 | jq -r .Id)
  run "${HIJACK[@]}" "/v1.41/exec/$id/start" --body '{"Detach": false, "Tty": true}' --send '\x01d' --pause 2 \
    --timeout 20
  assert_status 0
  assert_output_contains started
  run docker exec dt ps
  assert_output_contains "sleep 321"
  # bad keys are refused, as dockerd refuses them
  run api POST '/v1.41/containers/dt/attach?stream=1&detachKeys=ctrl-' ''
  assert_equal "${lines[-1]}" 400
  assert_output_contains "Invalid detach keys (ctrl-) provided"
  run api POST /v1.41/containers/dt/exec '{"Cmd": ["true"], "DetachKeys": "nope"}'
  assert_equal "${lines[-1]}" 400
  assert_output_contains "Invalid escape keys (nope) provided"
  # without a terminal the keys are input like any other: cat gives them back and the session goes on
  docker run -di --name nt busybox cat >/dev/null
  run "${HIJACK[@]}" "/v1.41/containers/nt/attach?stream=1&stdin=1&stdout=1" --send 'a\x10\x11b\n' --frames \
    --timeout 5
  assert_status 3
  assert_equal "$(printf '%s' "$output" | od -An -c | tr -s ' ')" " a 020 021 b"
  docker rm -f dt dc nt >/dev/null
}

@test "attach with logs=1: the past output first; stream=0 gives only that" {
  docker run -d --name lg busybox sh -c 'echo past; echo err >&2; sleep 1000' >/dev/null
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(docker logs lg 2>&1 | wc -l)" -ge 2 ] && break
    sleep 0.1
  done
  run "${HIJACK[@]}" "/v1.41/containers/lg/attach?stream=0&logs=1&stdout=1" --frames --timeout 20
  assert_status 0
  assert_equal "$output" past
  run "${HIJACK[@]}" "/v1.41/containers/lg/attach?stream=0&logs=1&stdout=1&stderr=1" --frames --timeout 20
  assert_equal "$output" "past
err"
  # with stream=1 the session stays after the past
  run "${HIJACK[@]}" "/v1.41/containers/lg/attach?stream=1&logs=1&stdout=1" --frames --timeout 3
  assert_status 3
  assert_equal "$output" past
  docker rm -f lg >/dev/null
}

@test "clients that leave in the middle of events, logs -f, attach, stats and a pull leave server and container unharmed" {
  docker run -d --name bg busybox sh -c 'while :; do echo tick; sleep 0.2; done' >/dev/null
  local idle pids=() i
  idle=$(server_threads)
  # a registry that takes the connection and never answers: the pull hangs in it
  "$PYTHON" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' >"$BATS_TEST_TMPDIR/stall.port" &
  STALL_PID=$!
  for ((i = 0; i < 100; i++)); do
    [ -s "$BATS_TEST_TMPDIR/stall.port" ] && break
    sleep 0.05
  done
  "$DOCKER_BIN" pull "127.0.0.1:$(cat "$BATS_TEST_TMPDIR/stall.port")/stall/img:1" >/dev/null 2>&1 &
  pids+=($!)
  for i in 1 2; do
    "$DOCKER_BIN" events >/dev/null 2>&1 &
    pids+=($!)
    "$DOCKER_BIN" logs -f bg >/dev/null 2>&1 &
    pids+=($!)
    "$DOCKER_BIN" attach --no-stdin bg >/dev/null 2>&1 &
    pids+=($!)
    "$DOCKER_BIN" stats bg >/dev/null 2>&1 &
    pids+=($!)
  done
  for ((i = 0; i < 200; i++)); do
    [ "$(server_threads)" -ge $((idle + 9)) ] && break
    sleep 0.05
  done
  kill -KILL "${pids[@]}"
  wait "${pids[@]}" 2>/dev/null || true
  # the server serves on, the container runs on
  run docker version --format '{{.Server.APIVersion}}'
  assert_equal "$output" 1.41
  run docker inspect -f '{{.State.Status}}' bg
  assert_equal "$output" running
  run docker logs --tail 1 bg
  assert_equal "$output" tick
  # the pull's thread ends when its registry goes; every other thread of a client that left is gone by then
  kill "$STALL_PID"
  wait "$STALL_PID" 2>/dev/null || true
  STALL_PID=
  wait_server_threads "$idle"
  run docker rm -f bg
  assert_status 0
}

@test "50 clients at once (run, ps, logs, inspect) are all served" {
  docker run -d --name base busybox sh -c 'echo ready; sleep 1000' >/dev/null
  local i pids=() dir=$BATS_TEST_TMPDIR/clients failed=0
  mkdir -p "$dir"
  # the runs are process containers in either pass: fifty VMs at once would not fit this machine, and the server's
  # side of a run is the same for both modes
  for ((i = 0; i < 50; i++)); do
    case $((i % 5)) in
      0) timeout 300 "$DOCKER_BIN" run --rm --isolation=process busybox echo "run-$i" >"$dir/$i" 2>&1 & ;;
      1 | 2) timeout 300 "$DOCKER_BIN" ps -a --format '{{.Names}}' >"$dir/$i" 2>&1 & ;;
      3) timeout 300 "$DOCKER_BIN" logs base >"$dir/$i" 2>&1 & ;;
      4) timeout 300 "$DOCKER_BIN" inspect -f '{{.State.Status}}' base >"$dir/$i" 2>&1 & ;;
    esac
    pids+=($!)
  done
  for ((i = 0; i < 50; i++)); do
    wait "${pids[$i]}" || {
      echo "client $i failed: $(cat "$dir/$i")" >&2
      failed=$((failed + 1))
    }
  done
  [ "$failed" -eq 0 ] || fail "$failed of 50 clients failed"
  for ((i = 0; i < 50; i++)); do
    case $((i % 5)) in
      0) assert_equal "$(cat "$dir/$i")" "run-$i" ;;
      1 | 2) grep -qx base "$dir/$i" || fail "ps $i: $(cat "$dir/$i")" ;;
      3) assert_equal "$(cat "$dir/$i")" ready ;;
      4) assert_equal "$(cat "$dir/$i")" running ;;
    esac
  done
  run docker ps -a --format '{{.Names}}'
  assert_equal "$output" base
  docker rm -f base >/dev/null
}

@test "docker push through the registry client: Docker's progress, then the pushed image pulls back" {
  [ "$TEST_ISOLATION" = process ] || skip "push does not depend on the isolation mode (process pass)"
  command -v docker-registry >/dev/null || skip "docker-registry is not installed (scripts/deps.sh)"
  local port dir=$BATS_TEST_TMPDIR/registry
  port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir/data"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$dir/data" "$port" >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PID=$!
  wait_until 30 curl -s -o /dev/null "http://127.0.0.1:$port/v2/" || fail "the registry did not start: $(cat "$dir/log")"
  docker tag busybox "127.0.0.1:$port/t/bb:1"
  run docker push "127.0.0.1:$port/t/bb:1"
  assert_status 0
  assert_output_contains "The push refers to repository [127.0.0.1:$port/t/bb]"
  assert_output_contains ": Pushed"
  assert_output_matches "1: digest: sha256:[0-9a-f]{64} size: [0-9]+"
  run docker push "127.0.0.1:$port/t/bb:1"
  assert_output_contains "Layer already exists"
  run api POST "/v1.41/images/127.0.0.1:$port/t/bb/push?tag=1" ''
  assert_output_contains '"aux":{"Tag":"1","Digest":"sha256:'
  docker rmi "127.0.0.1:$port/t/bb:1" >/dev/null
  run docker pull "127.0.0.1:$port/t/bb:1"
  assert_status 0
  run docker push "127.0.0.1:$port/t/nosuch:1"
  assert_status 1
  assert_output_contains "An image does not exist locally with the tag: 127.0.0.1:$port/t/nosuch"
  # a registry that is not there: the error in the stream, and the CLI fails
  docker tag busybox 127.0.0.1:1/x:1
  run docker push 127.0.0.1:1/x:1
  assert_status 1
  assert_output_contains "127.0.0.1"
}
