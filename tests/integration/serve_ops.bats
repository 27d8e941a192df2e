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
  CLIENT_PIDS=()
}
teardown() {
  [ "${#CLIENT_PIDS[@]}" -eq 0 ] || { kill -KILL "${CLIENT_PIDS[@]}" 2>/dev/null; wait "${CLIENT_PIDS[@]}" 2>/dev/null; } || true
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
  # the CPU time split into user and kernel mode (the busy loop is in user mode); per CPU where the cgroup counts so:
  # v1's cpuacct on a host without a v2 hierarchy (read after the total, so the sum is no less, and more by what ran
  # meanwhile); not v2 (dockerd leaves percpu_usage out there too).  A VM's are its worker's on the host.
  run stats st stream=false '.cpu_stats.cpu_usage | [.usage_in_usermode > 0, (.usage_in_kernelmode | type),
    .usage_in_usermode + .usage_in_kernelmode > 0] | @tsv'
  assert_equal "$output" "$(printf 'true\tnumber\ttrue')"
  if [ -d /sys/fs/cgroup/cpuacct ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] &&
    [ ! -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    run stats st 'stream=false&one-shot=true' '.cpu_stats.cpu_usage | [(.percpu_usage | length) > 0,
      (.percpu_usage | add) >= .total_usage, (.percpu_usage | add) < .total_usage + 10000000000] | @tsv'
    assert_equal "$output" "$(printf 'true\ttrue\ttrue')"
  else
    run stats st 'stream=false&one-shot=true' '.cpu_stats.cpu_usage | has("percpu_usage")'
    assert_equal "$output" false
  fi
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
    --send 'echo in-$((6*7))\n' --await in-42 --send '\x18' --timeout 60
  assert_status 0
  assert_output_contains "in-42"
  run docker inspect -f '{{.State.Status}}' dt
  assert_equal "$output" running
  # Docker's default keys, ctrl-p ctrl-q; a broken sequence is the container's input (cat -v, as sh's line editor
  # would take ctrl-p for itself)
  docker run -dit --name dc busybox cat -v >/dev/null
  run "${HIJACK[@]}" "/v1.41/containers/dc/attach?stream=1&stdin=1&stdout=1" \
    --send 'x\x10y\n' --await 'x^Py' --send '\x10\x11' --timeout 60
  assert_status 0
  assert_output_contains 'x^Py'
  run docker inspect -f '{{.State.Status}}' dc
  assert_equal "$output" running
  # an exec's own keys: the command goes on without its client
  local id
  id=$(api POST /v1.41/containers/dt/exec \
    '{"Cmd": ["sh", "-c", "echo started; exec sleep 321"], "Tty": true, "AttachStdin": true, "AttachStdout": true, "DetachKeys": "ctrl-a,d"}' |
    head -1 | jq -r .Id)
  run "${HIJACK[@]}" "/v1.41/exec/$id/start" --body '{"Detach": false, "Tty": true}' --await started --send '\x01d' \
    --timeout 60
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
    --until b --timeout 60
  assert_status 3
  assert_equal "$(printf '%s' "$output" | od -An -c | tr -s ' ')" " a 020 021 b"
  docker rm -f dt dc nt >/dev/null
}

@test "attach with logs=1: the past output first; stream=0 gives only that" {
  docker run -d --name lg busybox sh -c 'echo past; echo err >&2; sleep 1000' >/dev/null
  logged_both() { [ "$(docker logs lg 2>&1 | wc -l)" -ge 2 ]; }
  wait_until 10 logged_both || fail "lg's log: $(docker logs lg 2>&1)"
  run "${HIJACK[@]}" "/v1.41/containers/lg/attach?stream=0&logs=1&stdout=1" --frames --timeout 20
  assert_status 0
  assert_equal "$output" past
  run "${HIJACK[@]}" "/v1.41/containers/lg/attach?stream=0&logs=1&stdout=1&stderr=1" --frames --timeout 20
  assert_equal "$output" "past
err"
  # with stream=1 the session stays after the past
  run "${HIJACK[@]}" "/v1.41/containers/lg/attach?stream=1&logs=1&stdout=1" --frames --until past --timeout 60
  assert_status 3
  assert_equal "$output" past
  docker rm -f lg >/dev/null
}

# threads_above N: whether the server has more than N threads.
threads_above() { [ "$(server_threads)" -gt "$1" ]; }
not() { ! "$@"; }

# start_stall: a registry on 127.0.0.1 that takes connections and never answers; its port in STALL_PORT.
start_stall() {
  "$PYTHON" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' >"$BATS_TEST_TMPDIR/stall.port" &
  STALL_PID=$!
  wait_until 30 test -s "$BATS_TEST_TMPDIR/stall.port" || fail "the stalling registry did not start"
  STALL_PORT=$(cat "$BATS_TEST_TMPDIR/stall.port")
}

@test "a pull from a registry that never answers: 50 other clients are served meanwhile, the client's leaving ends it, it times out" {
  [ "$TEST_ISOLATION" = process ] || skip "pulling does not depend on the isolation mode (process pass)"
  start_stall
  # a registry timeout longer than the test: only the client's leaving can end the pull
  stop_server
  ISOLA_REGISTRY_TIMEOUT=3600 start_server -H "unix://$SOCK"
  local idle pull i pids=() failed=0
  idle=$(server_threads)
  "$DOCKER_BIN" pull "127.0.0.1:$STALL_PORT/stall/img:1" >"$BATS_TEST_TMPDIR/pull.out" 2>&1 &
  pull=$!
  wait_until 60 threads_above "$idle" || fail "the pull did not reach the server"
  for ((i = 0; i < 25; i++)); do
    docker version --format '{{.Server.APIVersion}}' >/dev/null &
    pids+=($!)
    docker ps -a >/dev/null &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  [ "$failed" -eq 0 ] || fail "$failed of 50 clients failed while the pull hung"
  kill -0 "$pull" || fail "the pull ended by itself: $(cat "$BATS_TEST_TMPDIR/pull.out")"
  # the client leaves: its pull ends with it, the registry still stalling
  kill -KILL "$pull"
  wait "$pull" 2>/dev/null || true
  wait_until 60 not threads_above "$idle" || fail "the pull's thread is still there: $(server_threads) threads"
  # the registry's timeout (ISOLA_REGISTRY_TIMEOUT, 30 s by default): the pull fails with isola pull's message
  stop_server
  ISOLA_REGISTRY_TIMEOUT=2 start_server -H "unix://$SOCK"
  run docker pull "127.0.0.1:$STALL_PORT/stall/img:1"
  assert_status 1
  assert_output_contains "Error response from daemon:"
  assert_output_contains "127.0.0.1:$STALL_PORT"
  assert_output_contains "Operation too slow"
}

# start_upload_stall: a registry on 127.0.0.1 that answers a push until its blob upload (HEAD: no blob, POST: an
# upload's Location), then takes the PUT or PATCH and never answers it, having noted it in upload.seen; its port in
# STALL_PORT.
start_upload_stall() {
  "$PYTHON" -c '
import http.server, sys, time
seen = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self): self.reply(200 if self.path == "/v2/" else 404)
    def do_HEAD(self): self.reply(404)
    def do_POST(self): self.reply(202, [("Location", "/v2/stall/bb/blobs/uploads/u1"), ("Docker-Upload-UUID", "u1")])
    def do_PUT(self):
        open(seen, "a").write(self.command + "\n")
        time.sleep(3600)
    do_PATCH = do_PUT
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
s.serve_forever()
' "$BATS_TEST_TMPDIR/upload.seen" >"$BATS_TEST_TMPDIR/stall.port" &
  STALL_PID=$!
  wait_until 30 test -s "$BATS_TEST_TMPDIR/stall.port" || fail "the stalling registry did not start"
  STALL_PORT=$(cat "$BATS_TEST_TMPDIR/stall.port")
}

# image_state NAME: what the store says of the image: its ID, tags and repository digests, and its push events.
image_state() {
  docker image inspect -f '{{.Id}} {{json .RepoTags}} {{json .RepoDigests}}' "$1"
  docker events --since 1h --until 0s --filter type=image --filter event=push --format '{{.Action}} {{.Actor.ID}}'
}

@test "a push whose client leaves ends: in the registry's first answer or in the middle of an upload, the store unchanged" {
  [ "$TEST_ISOLATION" = process ] || skip "pushing does not depend on the isolation mode (process pass)"
  # a registry timeout longer than the test: only the client's leaving can end the push
  stop_server
  ISOLA_REGISTRY_TIMEOUT=3600 start_server -H "unix://$SOCK"
  local idle push before
  idle=$(server_threads)
  # a registry that never answers: the push waits for its first answer
  start_stall
  docker tag busybox "127.0.0.1:$STALL_PORT/stall/bb:1"
  before=$(image_state busybox)
  "$DOCKER_BIN" push "127.0.0.1:$STALL_PORT/stall/bb:1" >"$BATS_TEST_TMPDIR/push.out" 2>&1 &
  push=$!
  wait_until 60 grep -q "The push refers to repository" "$BATS_TEST_TMPDIR/push.out" ||
    fail "the push did not start: $(cat "$BATS_TEST_TMPDIR/push.out")"
  threads_above "$idle" || fail "no thread of the push: $(server_threads) threads"
  kill -0 "$push" || fail "the push ended by itself: $(cat "$BATS_TEST_TMPDIR/push.out")"
  kill -KILL "$push"
  wait "$push" 2>/dev/null || true
  wait_until 60 not threads_above "$idle" || fail "the push's threads are still there: $(server_threads) threads"
  kill "$STALL_PID"
  wait "$STALL_PID" 2>/dev/null || true
  # a registry that takes the layer's upload and never answers it
  start_upload_stall
  docker tag busybox "127.0.0.1:$STALL_PORT/stall/bb:1"
  before=$(image_state busybox)
  "$DOCKER_BIN" push "127.0.0.1:$STALL_PORT/stall/bb:1" >"$BATS_TEST_TMPDIR/push.out" 2>&1 &
  push=$!
  wait_until 60 test -s "$BATS_TEST_TMPDIR/upload.seen" ||
    fail "the push did not reach the upload: $(cat "$BATS_TEST_TMPDIR/push.out")"
  kill -0 "$push" || fail "the push ended by itself: $(cat "$BATS_TEST_TMPDIR/push.out")"
  kill -KILL "$push"
  wait "$push" 2>/dev/null || true
  wait_until 60 not threads_above "$idle" || fail "the push's threads are still there: $(server_threads) threads"
  # nothing recorded: no repository digest, no push event; the server serves on
  run image_state busybox
  assert_equal "$output" "$before"
  refute_output_contains push
  run docker version --format '{{.Server.APIVersion}}'
  assert_equal "$output" 1.41
}

@test "clients that leave in the middle of events, logs -f, attach, stats and a pull leave server and container unharmed" {
  docker run -d --name bg busybox sh -c 'while :; do echo tick; sleep 0.2; done' >/dev/null
  # (run -d returns once the container started, not once its first line is in the log)
  wait_for_log bg tick
  local idle pids=() i
  idle=$(server_threads)
  # a registry that takes the connection and never answers: the pull hangs in it
  start_stall
  "$DOCKER_BIN" pull "127.0.0.1:$STALL_PORT/stall/img:1" >/dev/null 2>&1 &
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

base_logged_ready() {
  [ "$(docker logs base 2>/dev/null)" = ready ]
}

@test "50 clients at once (run, ps, logs, inspect) are all served" {
  docker run -d --name base busybox sh -c 'echo ready; sleep 1000' >/dev/null
  # run -d returns once the container started, as Docker's does, not once its first line is in the log
  wait_until 30 base_logged_ready || fail "base never logged ready: $(docker logs base 2>&1)"
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

# all_have DIR N TEXT: whether each of the files DIR/0 .. DIR/N-1 holds a line TEXT.
all_have() {
  local i
  for ((i = 0; i < $2; i++)); do
    grep -qx "$3" "$1/$i" 2>/dev/null || return 1
  done
}

@test "40 clients of one container at once (attach, logs -f, exec): every one is served by its monitor" {
  docker run -d --name many busybox sh -c 'while :; do echo tick; sleep 0.5; done' >/dev/null
  wait_until 120 eval '[ "$(docker logs --tail 1 many 2>/dev/null)" = tick ]' || fail "many never logged: $(docker logs many 2>&1)"
  local i dir=$BATS_TEST_TMPDIR/many
  mkdir -p "$dir/attach" "$dir/logs" "$dir/exec"
  # a monitor used to serve 16 clients: the 17th attach (or, in a VM, exec) was closed unanswered.  A process
  # container's exec is the monitor's client only until its session takes the connection over: the attaches alone
  # are more than 16 in either mode
  for ((i = 0; i < 20; i++)); do
    "$DOCKER_BIN" attach --no-stdin many >"$dir/attach/$i" 2>&1 &
    CLIENT_PIDS+=($!)
  done
  for ((i = 0; i < 10; i++)); do
    "$DOCKER_BIN" exec many sh -c 'echo exec-ok; exec sleep 1000' >"$dir/exec/$i" 2>&1 &
    CLIENT_PIDS+=($!)
    "$DOCKER_BIN" logs -f --tail 0 many >"$dir/logs/$i" 2>&1 &
    CLIENT_PIDS+=($!)
  done
  # every client gets what it asked for while all 40 are connected (none has ended: each waits for more)
  wait_until 240 all_have "$dir/exec" 10 exec-ok || fail "not every exec ran: $(head -n 2 "$dir"/exec/*)"
  wait_until 240 all_have "$dir/attach" 20 tick || fail "not every attach got output: $(head -n 2 "$dir"/attach/*)"
  wait_until 240 all_have "$dir/logs" 10 tick || fail "not every logs -f got output: $(head -n 2 "$dir"/logs/*)"
  for i in "${CLIENT_PIDS[@]}"; do
    kill -0 "$i" 2>/dev/null || fail "a client ended: $(head -n 2 "$dir"/*/*)"
  done
  kill -KILL "${CLIENT_PIDS[@]}"
  wait "${CLIENT_PIDS[@]}" 2>/dev/null || true
  CLIENT_PIDS=()
  # the container and its monitor serve on: a new attach and exec after them
  run docker exec many echo after
  assert_status 0
  assert_equal "$output" after
  run docker inspect -f '{{.State.Status}}' many
  assert_equal "$output" running
  docker rm -f many >/dev/null
}

# start_auth_registry DIR PORT: docker-registry on 127.0.0.1:PORT over TLS (a CA made here, put in DIR/certs.d for the
# server) with the htpasswd user regu:regpass, as pull.bats' TLS registry.
start_auth_registry() {
  local dir=$1 port=$2
  mkdir -p "$dir/data" "$dir/certs.d/127.0.0.1:$port"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=isola-test-ca -keyout "$dir/ca.key" \
    -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
    -extfile "$dir/ext" -out "$dir/server.crt" 2>/dev/null
  cp "$dir/ca.crt" "$dir/certs.d/127.0.0.1:$port/ca.crt"
  htpasswd -Bbn regu regpass >"$dir/htpasswd"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
  tls:
    certificate: $dir/server.crt
    key: $dir/server.key
auth:
  htpasswd:
    realm: isola-test
    path: $dir/htpasswd
EOF
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PID=$!
  wait_until 30 curl -s -o /dev/null --cacert "$dir/ca.crt" "https://127.0.0.1:$port/v2/" ||
    fail "the registry did not start: $(cat "$dir/log")"
}

@test "docker login (POST /auth) and push/pull with the client's X-Registry-Auth, not the server's config.json" {
  [ "$TEST_ISOLATION" = process ] || skip "registry credentials do not depend on the isolation mode (process pass)"
  command -v docker-registry >/dev/null || skip "docker-registry is not installed (scripts/deps.sh)"
  command -v htpasswd >/dev/null || skip "htpasswd is not installed (apache2-utils)"
  local port dir=$BATS_TEST_TMPDIR/authreg
  port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  start_auth_registry "$dir" "$port"
  # the server knows the registry's CA but has no credentials of its own: only the client's can work
  stop_server
  mkdir -p "$dir/server-config"
  DOCKER_CONFIG=$dir/server-config ISOLA_CERTS_DIR=$dir/certs.d start_server -H "unix://$SOCK"
  docker tag busybox "127.0.0.1:$port/t/bb:1"
  run docker push "127.0.0.1:$port/t/bb:1"
  assert_status 1
  refute_output_contains "digest: sha256:"
  # docker login asks the server (POST /auth), which asks the registry; the CLI keeps what it was told worked
  run docker login -u regu --password-stdin "127.0.0.1:$port" <<<"wrong"
  assert_status 1
  assert_output_contains "Error response from daemon:"
  assert_output_contains "unauthorized"
  run docker login -u regu --password-stdin "127.0.0.1:$port" <<<"regpass"
  assert_status 0
  assert_output_contains "Login Succeeded"
  jq -e --arg k "127.0.0.1:$port" '.auths[$k].auth' "$DOCKER_CONFIG/config.json" >/dev/null
  [ ! -e "$dir/server-config/config.json" ] || fail "the server stored credentials: $(cat "$dir/server-config/config.json")"
  # push and pull send them in X-Registry-Auth
  run docker push "127.0.0.1:$port/t/bb:1"
  assert_status 0
  assert_output_contains ": Pushed"
  assert_output_matches "1: digest: sha256:[0-9a-f]{64} size: [0-9]+"
  docker rmi "127.0.0.1:$port/t/bb:1" >/dev/null
  run docker pull "127.0.0.1:$port/t/bb:1"
  assert_status 0
  assert_output_contains "Downloaded newer image for 127.0.0.1:$port/t/bb:1"
  # the header's credentials, not any other: wrong ones (base64url of the JSON, as the CLI encodes it) fail
  local bad
  bad=$(printf '{"username":"regu","password":"nope","serveraddress":"127.0.0.1:%s"}' "$port" | base64 -w0 | tr '+/' '-_')
  run curl -s --unix-socket "$SOCK" -X POST -H "X-Registry-Auth: $bad" \
    "http://isola/v1.41/images/127.0.0.1:$port/t/bb/push?tag=1"
  assert_output_contains '"errorDetail"'
  refute_output_contains '"aux"'
  run docker logout "127.0.0.1:$port"
  assert_status 0
  run docker pull "127.0.0.1:$port/t/bb:1"
  assert_status 1
}

@test "docker login through the server keeps the token service's identity token; pull and push trade it, the password gone" {
  [ "$TEST_ISOLATION" = process ] || skip "registry credentials do not depend on the isolation mode (process pass)"
  local dir=$BATS_TEST_TMPDIR/fake fake log cfg
  mkdir -p "$dir/layout" "$dir/server-config"
  tar -C "$dir/layout" -xf "$ISOLA_IMAGE"
  # fake_registry.py's identity mode: tokens for user u password p only, with a refresh token when a login asks
  "$PYTHON" "$BATS_TEST_DIRNAME/fake_registry.py" "$dir/layout" identity "$dir/port" "$dir/log" 2>"$dir/stderr" &
  REG_PID=$!
  wait_until 30 test -s "$dir/port" || fail "the fake registry did not start: $(cat "$dir/stderr")"
  fake=127.0.0.1:$(cat "$dir/port")
  log=$dir/log
  cfg=$DOCKER_CONFIG/config.json
  # the server has no credentials of its own: only the client's can work
  stop_server
  DOCKER_CONFIG=$dir/server-config start_server -H "unix://$SOCK"
  run docker pull "$fake/test/img"
  assert_status 1
  # POST /auth hands the CLI the refresh token, which it keeps instead of the password (as with dockerd 20.10)
  run docker login -u u --password-stdin "$fake" <<<"p"
  assert_status 0
  assert_output_contains "Login Succeeded"
  grep -q "GET /token?.*offline_token=true&client_id=docker auth=Basic " "$log" || fail "no refresh token asked: $(cat "$log")"
  assert_equal "$(jq -r --arg k "$fake" '.auths[$k].identitytoken' "$cfg")" refresh-1
  assert_equal "$(jq -r --arg k "$fake" '.auths[$k].auth' "$cfg")" "$(printf u: | base64)"
  [ ! -e "$dir/server-config/config.json" ] || fail "the server stored credentials: $(cat "$dir/server-config/config.json")"
  # pull and push with the identity token alone: the refresh grant, never the password
  : >"$log"
  run docker pull "$fake/test/img"
  assert_status 0
  assert_output_contains "Downloaded newer image for $fake/test/img:latest"
  grep -q "^form grant_type=refresh_token&refresh_token=refresh-1&service=fake-registry&scope=repository%3Atest%2Fimg%3Apull&" "$log" ||
    fail "no refresh grant for the pull: $(cat "$log")"
  grep -q "GET /v2/test/img/manifests/latest auth=Bearer good-token" "$log" || fail "$(cat "$log")"
  docker tag "$fake/test/img" "$fake/t/pushed:1"
  run docker push "$fake/t/pushed:1"
  assert_status 0
  assert_output_matches "1: digest: sha256:[0-9a-f]{64} size: [0-9]+"
  grep -q "^form grant_type=refresh_token&refresh_token=refresh-1&service=fake-registry&scope=repository%3At%2Fpushed%3Apull%2Cpush" "$log" ||
    fail "no refresh grant for the push: $(cat "$log")"
  ! grep -q "auth=Basic" "$log" || fail "a password went out with an identity token: $(cat "$log")"
  # an identity token given to /auth (as an API client may send what it keeps) is checked by trading it
  : >"$log"
  run api POST /v1.41/auth "{\"username\":\"u\",\"identitytoken\":\"refresh-1\",\"serveraddress\":\"$fake\"}"
  assert_equal "${lines[-1]}" 200
  assert_output_contains '"IdentityToken":"refresh-1"'
  grep -q "^form grant_type=refresh_token&refresh_token=refresh-1&" "$log" || fail "the token was not checked: $(cat "$log")"
  run api POST /v1.41/auth "{\"username\":\"u\",\"identitytoken\":\"stale\",\"serveraddress\":\"$fake\"}"
  assert_equal "${lines[-1]}" 401
  # a token the service refuses: the pull fails and says so
  jq --arg k "$fake" '.auths[$k].identitytoken = "stale"' "$cfg" >"$BATS_TEST_TMPDIR/c.json"
  mv "$BATS_TEST_TMPDIR/c.json" "$cfg"
  docker rmi "$fake/test/img" >/dev/null
  run docker pull "$fake/test/img"
  assert_status 1
  assert_output_contains "invalid_grant"
  assert_output_contains "identity token of the request was refused"
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
