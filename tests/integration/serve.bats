#!/usr/bin/env bats
# isola serve: the Docker Engine API, driven by the real docker CLI (Debian's docker.io 20.10 client,
# /usr/bin/docker; dockerd is never started) against a server on a private socket of each test's root: version
# negotiation, Docker's errors, the seed's commands (run -it --isolation=hyperv sh through a terminal, run -d ping
# with top and logs), exec, ps/inspect/stop/rm, and the same store as the CLI's.  In VM_FILES: the containers the
# server makes without --isolation are VMs in the VM pass (it inherits ISOLA_ISOLATION, as the CLI does).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers
load serve_helpers

# ---- the server ----------------------------------------------------------------------------------------------------

@test "docker version and info: API 1.41 down to 1.24, isola's isolation modes; too old or too new a version is refused" {
  run docker version --format '{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}'
  assert_status 0
  assert_equal "$output" "1.41 1.24 linux"
  run docker info --format '{{.Isolation}} {{.OSType}} {{.Containers}}'
  assert_status 0
  assert_equal "$output" "$( [ "$TEST_ISOLATION" = vm ] && echo hyperv || echo process) linux 0"
  run curl -sI --unix-socket "$SOCK" http://isola/_ping
  assert_output_contains "Api-Version: 1.41"
  assert_output_contains "Ostype: linux"
  run api GET /v1.23/version
  assert_equal "${lines[1]}" 400
  assert_output_contains "client version 1.23 is too old. Minimum supported API version is 1.24"
  run api GET /v1.42/info
  assert_equal "${lines[1]}" 400
  assert_output_contains "Maximum supported API version is 1.41"
  # the docker CLI pinned to an old API
  DOCKER_API_VERSION=1.12 run docker ps
  assert_status 1
  assert_output_contains "is too old"
}

@test "bad requests: unknown endpoints, malformed JSON, bodies too large, unknown containers get Docker's statuses and messages" {
  run api GET /v1.41/no/such/thing
  assert_equal "${lines[0]}" '{"message":"page not found"}'
  assert_equal "${lines[1]}" 404
  run api POST /v1.41/containers/create '{"Image": "busybox", "Cmd": ['
  assert_equal "${lines[1]}" 400
  assert_output_contains '"message":"invalid JSON'
  run api POST /v1.41/containers/create '{"Image": "busybox", "Tty": "yes"}'
  assert_equal "${lines[1]}" 400
  head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big"
  run curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' --data-binary "@$BATS_TEST_TMPDIR/big" \
    -w '\n%{http_code}' http://isola/v1.41/containers/create
  assert_equal "${lines[1]}" 413
  run api POST /v1.41/containers/nosuch/start
  assert_equal "${lines[0]}" '{"message":"No such container: nosuch"}'
  assert_equal "${lines[1]}" 404
  # nothing was made, and the server still serves
  run isola ps -aq
  assert_output_empty
  run docker ps -a --format '{{.ID}}'
  assert_status 0
  assert_output_empty
}

@test "create of a missing image: 404 No such image, so that the docker CLI would pull" {
  run api POST '/v1.41/containers/create?name=x' '{"Image": "nosuch:1.0"}'
  assert_equal "${lines[1]}" 404
  assert_output_contains '"message":"No such image: nosuch:1.0"'
  run isola ps -aq
  assert_output_empty
}

@test "serve listens on loopback TCP, refuses other TCP addresses (no TLS) and TLS flags; system service is the same server" {
  local port=$((20000 + RANDOM % 20000))
  stop_server
  run isola serve -H tcp://0.0.0.0:$port
  assert_status 125
  assert_output_contains "not a loopback address"
  run isola serve --tlsverify -H "unix://$SOCK"
  assert_status 125
  assert_output_contains "--tlsverify needs --tlscacert, --tlscert and --tlskey"
  "$ISOLA" system service "unix://$SOCK" >"$BATS_TEST_TMPDIR/serve.log" 2>&1 &
  SERVER_PID=$!
  wait_until 10 curl -sf -o /dev/null --unix-socket "$SOCK" http://isola/_ping || fail "no answer on $SOCK"
  run docker version --format '{{.Server.APIVersion}}'
  assert_equal "$output" 1.41
  [ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK"), not 660"
  stop_server
  [ ! -e "$SOCK" ] || fail "the socket was left behind"
  "$ISOLA" serve -H "tcp://127.0.0.1:$port" >"$BATS_TEST_TMPDIR/serve.log" 2>&1 &
  SERVER_PID=$!
  wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$port/_ping" || fail "no answer on port $port"
  run docker -H "tcp://127.0.0.1:$port" version --format '{{.Server.APIVersion}}'
  assert_status 0
  assert_equal "$output" 1.41
}

@test "socket activation: isola serve without -H serves the sockets systemd passes (LISTEN_FDS), as isola.service does" {
  command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate is not installed"
  stop_server
  # it listens, and starts the server (LISTEN_PID its PID, which isola serve keeps by executing isola-serve)
  # the environment the server needs (systemd-socket-activate passes none): the test's root, its isolation
  systemd-socket-activate -E ISOLA_ROOT -E ISOLA_ISOLATION -E ASAN_OPTIONS -E UBSAN_OPTIONS -l "$SOCK" "$ISOLA" serve >"$BATS_TEST_TMPDIR/serve.log" 2>&1 &
  SERVER_PID=$!
  wait_until 10 test -S "$SOCK" || fail "systemd-socket-activate made no $SOCK"
  run docker version --format '{{.Server.APIVersion}}'
  assert_status 0
  assert_equal "$output" 1.41
  run docker run --rm busybox echo activated
  assert_equal "$output" activated
}

# ---- containers ----------------------------------------------------------------------------------------------------

@test "HostConfig.Isolation: process, hyperv, vm and default (the store's) as the CLI records them; a bad one is refused" {
  local iso
  for iso in process hyperv vm default; do
    run docker create --isolation=$iso --name "c-$iso" busybox true
    assert_status 0
    run docker inspect -f '{{.HostConfig.Isolation}}' "c-$iso"
    assert_equal "$output" "$(isola inspect -f '{{.HostConfig.Isolation}}' "c-$iso")"
  done
  assert_equal "$(docker inspect -f '{{.HostConfig.Isolation}}' c-vm c-hyperv c-process c-default | tr '\n' ' ')" \
    "hyperv hyperv process $SHOWN_ISOLATION "
  # (docker create exits 1 on a daemon's error, run 125)
  run docker create --isolation=bogus busybox true
  assert_status 1
  assert_output_contains 'invalid isolation "bogus"'
}

@test "docker run --rm: output on stdout and stderr, the exit code, nothing left; a missing command is 127" {
  run --separate-stderr docker run --rm busybox sh -c 'echo out; echo err >&2; exit 3'
  assert_status 3
  assert_equal "$output" out
  assert_equal "$stderr" err
  run isola ps -aq
  assert_output_empty
  run docker run --rm busybox echo hi
  assert_status 0
  assert_equal "$output" hi
  # big output through the 8-byte frames, whole
  run docker run --rm busybox sh -c 'seq 1 200000'
  assert_status 0
  assert_equal "${#lines[@]}" 200000
  assert_equal "${lines[199999]}" 200000
  run -127 docker run --name nf busybox nosuchcmd
  assert_status 127
  assert_output_contains "executable file not found"
}

@test "docker run -d ping, top, logs, ps and inspect; the CLI sees it and the server sees the CLI's; stop and rm" {
  run docker run -d --name pinger busybox ping localhost
  assert_status 0
  local id=$output
  [[ $id =~ ^[0-9a-f]{64}$ ]] || fail "not an ID: $id"
  run docker top pinger
  assert_status 0
  assert_output_matches "UID +PID +PPID +C +STIME +TTY +TIME +CMD"
  assert_output_contains "ping localhost"
  # the log fills as ping runs
  pinged_twice() { [ "$(docker logs pinger 2>/dev/null | grep -c 'bytes from')" -ge 2 ]; }
  wait_until 20 pinged_twice || fail "pinger's log: $(docker logs pinger 2>&1)"
  run docker logs --tail 1 pinger
  assert_equal "${#lines[@]}" 1
  assert_output_matches "^64 bytes from 127.0.0.1"
  run docker logs --timestamps --tail 1 pinger
  assert_output_matches "^20[0-9-]+T[0-9:.]+Z 64 bytes from"
  run docker ps --format '{{.Names}} {{.Command}} {{.Status}}'
  assert_output_matches '^pinger "ping localhost" Up '
  run docker inspect -f '{{.Id}} {{.State.Status}} {{.HostConfig.Isolation}}' pinger
  assert_equal "$output" "$id running $SHOWN_ISOLATION"
  # the CLI and the server share the store
  run isola ps --format '{{.Names}} {{.Status}}'
  assert_output_matches "^pinger Up "
  isola_ok run -d --name fromcli busybox sleep 1000
  run docker ps --format '{{.Names}}'
  assert_output_contains fromcli
  run docker stop -t 1 pinger fromcli
  assert_status 0
  run docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' pinger
  assert_equal "$output" "exited 137"
  run docker ps -a --filter status=exited --format '{{.Names}}'
  assert_equal "$(sort <<<"$output" | tr '\n' ' ')" "fromcli pinger "
  run docker rm pinger fromcli
  assert_status 0
  run isola ps -aq
  assert_output_empty
  run docker rm pinger
  assert_status 1
  assert_output_contains "No such container: pinger"
}

@test "docker run -it --isolation=$SHOWN_ISOLATION busybox sh through a terminal: the typed line runs in the container's terminal" {
  run bash -c "(sleep 2; printf 'tty; uname -r; exit 6\n'; sleep 3) | timeout 120 script -qec \"$DOCKER_BIN run -it --rm --isolation=$SHOWN_ISOLATION busybox sh\" /dev/null"
  assert_status 6
  assert_output_contains "/dev/pts/0"
  if [ "$SHOWN_ISOLATION" = hyperv ]; then
    # the guest's kernel, not the host's
    refute_output_contains "$(uname -r)"
  else
    assert_output_contains "$(uname -r)"
  fi
  run isola ps -aq
  assert_output_empty
}

@test "docker exec: exit codes, stdin, a terminal, -d, a missing command; docker wait and restart" {
  isola_ok run -d --name ex busybox sleep 1000
  run --separate-stderr docker exec ex sh -c 'echo in-exec; echo e2 >&2; exit 3'
  assert_status 3
  assert_equal "$output" in-exec
  assert_equal "$stderr" e2
  run docker exec -i ex sh -c 'cat; echo done' <<<"typed"
  assert_status 0
  assert_equal "$output" "typed
done"
  run bash -c "(sleep 1; printf 'tty; exit 9\n'; sleep 2) | timeout 60 script -qec \"$DOCKER_BIN exec -it ex sh\" /dev/null"
  assert_status 9
  assert_output_contains /dev/pts/
  run docker exec -d ex sh -c 'echo detached >/tmp/mark'
  assert_status 0
  wait_until 10 docker exec ex test -e /tmp/mark || fail "the detached exec wrote no /tmp/mark"
  run docker exec ex cat /tmp/mark
  assert_equal "$output" detached
  run -127 docker exec ex nosuchcmd
  assert_status 127
  run docker exec ex /etc/passwd
  assert_status 126
  # wait gives the exit's code (stop's SIGKILL: sleep, PID 1, has no handler for SIGTERM); restart runs it again
  docker stop -t 1 ex >/dev/null &
  run docker wait ex
  assert_equal "$output" 137
  run docker restart -t 1 ex
  assert_status 0
  run docker inspect -f '{{.State.Status}}' ex
  assert_equal "$output" running
  run docker kill ex
  assert_status 0
  run docker wait ex
  assert_equal "$output" 137
}

@test "a client that leaves in the middle of logs -f, attach or wait leaves the server and the container unharmed" {
  isola_ok run -d --name bg busybox sh -c 'while :; do echo tick; sleep 0.2; done'
  # (run -d returns once the container started, not once its first line is in the log)
  wait_for_log bg tick
  local pids=() i
  for i in 1 2 3; do
    "$DOCKER_BIN" logs -f bg >/dev/null 2>&1 &
    pids+=($!)
    "$DOCKER_BIN" attach --no-stdin bg >/dev/null 2>&1 &
    pids+=($!)
    "$DOCKER_BIN" wait bg >/dev/null 2>&1 &
    pids+=($!)
  done
  # they are connected once the server has their threads
  for ((i = 0; i < 200; i++)); do
    [ "$(ls "/proc/$SERVER_PID/task" | wc -l)" -ge 10 ] && break
    sleep 0.05
  done
  kill -KILL "${pids[@]}"
  wait "${pids[@]}" 2>/dev/null || true
  run docker inspect -f '{{.State.Status}}' bg
  assert_equal "$output" running
  run docker logs --tail 1 bg
  assert_equal "$output" tick
  # the threads of the clients that left end (the follower and the waiters notice within a second)
  wait_server_threads 4
  run docker rm -f bg
  assert_status 0
}

@test "docker logs of a finished container: stdout and stderr apart, --tail, --since; rename, pause and unpause" {
  isola_ok run --name lg busybox sh -c 'for i in 1 2 3; do echo out$i; echo err$i >&2; done'
  run --separate-stderr docker logs lg
  assert_equal "$output" "out1
out2
out3"
  assert_equal "$stderr" "err1
err2
err3"
  # the order of stdout's and stderr's records is the monitor's: the server's tail is the CLI's
  run --separate-stderr docker logs --tail 2 lg
  local tail_out=$output tail_err=$stderr
  run --separate-stderr isola logs --tail 2 lg
  assert_equal "$tail_out" "$output"
  assert_equal "$tail_err" "$stderr"
  assert_equal "$(printf '%s\n%s\n' "$tail_out" "$tail_err" | grep -c .)" 2
  run docker logs --since 2000-01-01T00:00:00Z lg
  assert_equal "${#lines[@]}" 6
  run docker logs --until 2000-01-01T00:00:00Z lg
  assert_output_empty
  run docker rename lg lg2
  assert_status 0
  run isola ps -a --format '{{.Names}}'
  assert_equal "$output" lg2
  isola_ok run -d --name pz busybox sleep 1000
  run docker pause pz
  assert_status 0
  run docker ps --format '{{.Names}} {{.Status}}'
  assert_output_matches "^pz Up .* \(Paused\)$"
  run docker unpause pz
  assert_status 0
  run docker inspect -f '{{.State.Status}}' pz
  assert_equal "$output" running
}

# ---- images, volumes, networks, events -----------------------------------------------------------------------------

@test "docker images, tag, inspect, save, rmi and load; a pull from a registry that is not there fails clearly" {
  run docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
  assert_equal "$output" "busybox:latest $(isola images -q busybox)"
  run docker tag busybox my/bb:1
  assert_status 0
  run isola images --format '{{.Repository}}:{{.Tag}}'
  assert_output_contains my/bb:1
  run docker inspect -f '{{.Id}} {{index .RepoTags 0}}' my/bb:1
  assert_equal "$output" "$(isola inspect -f '{{.Id}} {{index .RepoTags 0}}' my/bb:1)"
  run docker save -o "$BATS_TEST_TMPDIR/saved.tar" my/bb:1
  assert_status 0
  tar -tf "$BATS_TEST_TMPDIR/saved.tar" | grep -q manifest.json || fail "no manifest.json in the saved archive"
  run docker rmi my/bb:1 busybox
  assert_status 0
  assert_output_contains "Untagged: my/bb:1"
  assert_output_contains "Deleted: sha256:"
  run isola images -q
  assert_output_empty
  run docker load -i "$BATS_TEST_TMPDIR/saved.tar"
  assert_status 0
  assert_equal "$output" "Loaded image: my/bb:1"
  run docker run --rm my/bb:1 echo loaded
  assert_equal "$output" loaded
  run docker rmi nosuch:1
  assert_status 1
  assert_output_contains "No such image: nosuch:1"
  # pulls go through isola's registry client (a closed port of this machine: nothing is sent elsewhere)
  run docker pull 127.0.0.1:1/nosuch:1.0
  assert_status 1
  assert_output_contains "127.0.0.1:1"
  # docker run of a missing image: create's 404, then the pull's error
  run docker run --rm 127.0.0.1:1/nosuch:2
  assert_status 125
  assert_output_contains "Unable to find image '127.0.0.1:1/nosuch:2' locally"
}

@test "docker volume and network create, ls, inspect, rm; docker events streams what happens, filtered" {
  run docker volume create v1
  assert_equal "$output" v1
  run docker volume ls -q
  assert_equal "$output" v1
  run docker volume inspect -f '{{.Name}} {{.Driver}}' v1
  assert_equal "$output" "v1 local"
  run isola volume ls -q
  assert_equal "$output" v1
  run docker volume rm v1 nosuch
  assert_status 1
  assert_output_contains "nosuch"
  run isola volume ls -q
  assert_output_empty
  run docker network create n1
  assert_status 0
  run docker network inspect -f '{{.Name}} {{.Driver}}' n1
  assert_equal "$output" "n1 bridge"
  run docker network ls --format '{{.Name}}'
  assert_output_contains n1
  run docker network rm n1
  assert_status 0
  run isola network ls --format '{{.Name}}'
  refute_output_contains n1
  # events: what the volume commands did, replayed with --since, filtered by type and action.  The docker CLI sends
  # --until in whole seconds (now, truncated): the events must be in an earlier second than that
  sleep 1.1
  run docker events --since 10m --until 0s --filter type=volume --format '{{.Action}} {{.Actor.ID}}'
  assert_equal "$output" "create v1
destroy v1"
  run docker events --since 10m --until 0s --filter type=volume --filter event=destroy --format '{{.Action}}'
  assert_equal "$output" destroy
}

@test "docker events follows: a container's life as it happens" {
  # --since: whatever came before the follower was connected is replayed, then it follows
  "$DOCKER_BIN" events --since "$(date +%s)" --filter type=container --format '{{.Action}} {{.Actor.Attributes.name}}' \
    >"$BATS_TEST_TMPDIR/events" 2>&1 &
  local pid=$!
  run docker run --rm --name evt busybox true
  assert_status 0
  wait_until 10 file_contains "$BATS_TEST_TMPDIR/events" "destroy evt" || true
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  assert_equal "$(cat "$BATS_TEST_TMPDIR/events")" "create evt
attach evt
start evt
die evt
destroy evt"
}
