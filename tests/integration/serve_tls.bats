#!/usr/bin/env bats
# isola serve's TLS, as dockerd's --tlsverify: a CA, a server certificate for 127.0.0.1 and client certificates that
# the test makes with openssl; the docker CLI (Debian's 20.10 client) with --tlsverify is served; a client without a
# certificate, with one of another CA, or without TLS is not; a non-loopback TCP address needs --tlsverify.  Hijacked
# streams (attach, exec) work over TLS, and the client's end of stdin reaches the container, in both isolation modes
# (the server makes its containers in the pass's mode); the rest is the same for both and runs in the process pass.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers
load serve_clients

DOCKER_BIN=/usr/bin/docker

setup_file() {
  [ -x "$DOCKER_BIN" ] || skip "Debian's docker.io client is not installed ($DOCKER_BIN)"
  command -v openssl >/dev/null || skip "openssl is not installed"
  make_certs "$BATS_FILE_TMPDIR"
  container_setup_file
}
teardown_file() { container_teardown_file; }

setup() {
  container_setup
  SOCK=$BATS_TEST_TMPDIR/docker.sock
  SERVER_PID=
  PORT=$((20000 + RANDOM % 20000))
  export DOCKER_CONFIG=$BATS_TEST_TMPDIR/docker-config
  C=$BATS_FILE_TMPDIR
}
teardown() {
  serve_stop
  container_teardown
}

# make_certs DIR: ca.pem/ca-key.pem, server.pem/server-key.pem (127.0.0.1), client.pem/client-key.pem of that CA, and
# other-ca.pem with other-client.pem/other-client-key.pem of another CA, as Docker's "Protect the daemon socket" does.
make_certs() {
  local d=$1 ca
  for ca in ca other-ca; do
    openssl req -x509 -new -newkey rsa:2048 -nodes -days 2 -subj "/CN=isola test $ca" \
      -keyout "$d/$ca-key.pem" -out "$d/$ca.pem" 2>/dev/null || return 1
  done
  printf 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' >"$d/server.ext"
  printf 'extendedKeyUsage = clientAuth\n' >"$d/client.ext"
  sign "$d" server ca server.ext && sign "$d" client ca client.ext && sign "$d" other-client other-ca client.ext
}

# sign DIR NAME CA EXT: NAME.pem and NAME-key.pem, signed by CA.
sign() {
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1/$2-key.pem" -out "$1/$2.csr" 2>/dev/null &&
    openssl x509 -req -in "$1/$2.csr" -CA "$1/$3.pem" -CAkey "$1/$3-key.pem" -CAcreateserial -days 2 \
      -extfile "$1/$4" -out "$1/$2.pem" 2>/dev/null
}

# tls_server ADDRESS: isola serve with the test's certificates on ADDRESS and on the unix socket (which start_server
# waits for).
tls_server() {
  serve_start --tlsverify --tlscacert "$C/ca.pem" --tlscert "$C/server.pem" --tlskey "$C/server-key.pem" \
    -H "$1" -H "unix://$SOCK"
}

# tls_docker CLIENT ARGS...: the docker CLI over TLS with CLIENT's certificate.
tls_docker() {
  local who=$1
  shift
  timeout 180 "$DOCKER_BIN" -H "tcp://127.0.0.1:$PORT" --tlsverify --tlscacert "$C/ca.pem" \
    --tlscert "$C/$who.pem" --tlskey "$C/$who-key.pem" "$@"
}

@test "serve --tlsverify: the docker CLI with a client certificate of the CA is served over TLS on 127.0.0.1" {
  only_isolation process "the server's TLS is the same for both modes"
  tls_server "tcp://127.0.0.1:$PORT"
  run tls_docker client version --format '{{.Server.APIVersion}} {{.Server.Os}}'
  assert_status 0
  assert_equal "$output" "1.41 linux"
  run tls_docker client info --format '{{.OSType}} {{.Containers}}'
  assert_status 0
  assert_equal "$output" "linux 0"
  # curl with the same certificate: TLS 1.2 or newer, the server's name checked against 127.0.0.1
  run curl -sS --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem" "https://127.0.0.1:$PORT/_ping"
  assert_status 0
  assert_equal "$output" OK
  # the hijacked streams of attach and exec go over TLS too, with the exit codes
  run tls_docker client run --rm busybox sh -c 'echo out; echo err >&2; exit 3'
  assert_status 3
  assert_output_contains out
  assert_output_contains err
  run tls_docker client run -d --name tlsbox busybox sleep 300
  assert_status 0
  run tls_docker client exec tlsbox sh -c 'echo from-exec; exit 4'
  assert_status 4
  assert_equal "$output" from-exec
  run tls_docker client rm -f tlsbox
  assert_status 0
  # the unix socket stays plain HTTP, as dockerd's
  run curl -sS --unix-socket "$SOCK" http://isola/_ping
  assert_equal "$output" OK
}

@test "serve --tlsverify: no client certificate, one of another CA, or no TLS at all are refused" {
  only_isolation process "the server's TLS is the same for both modes"
  tls_server "tcp://127.0.0.1:$PORT"
  run curl -sS --cacert "$C/ca.pem" -w '\n%{http_code}' "https://127.0.0.1:$PORT/v1.41/containers/json"
  assert_equal "${lines[1]}" 403
  assert_output_contains '"message":"a client certificate is required (--tlsverify)"'
  run curl -sS --cacert "$C/ca.pem" --cert "$C/other-client.pem" --key "$C/other-client-key.pem" \
    -w '\n%{http_code}' "https://127.0.0.1:$PORT/v1.41/containers/json"
  assert_equal "${lines[1]}" 403
  assert_output_contains "not signed by a trusted CA"
  # Go's TLS sends no certificate that the server's list of CAs does not name
  run tls_docker other-client ps
  assert_status 1
  assert_output_contains "Error response from daemon: a client certificate is required"
  # plain HTTP on the TLS port gets no API
  run timeout 60 "$DOCKER_BIN" -H "tcp://127.0.0.1:$PORT" version --format '{{.Server.APIVersion}}'
  assert_status 1
  refute_output_contains "1.41"
  # the client checks the server too: a CA that did not sign it
  run timeout 60 "$DOCKER_BIN" -H "tcp://127.0.0.1:$PORT" --tlsverify --tlscacert "$C/other-ca.pem" \
    --tlscert "$C/other-client.pem" --tlskey "$C/other-client-key.pem" ps
  assert_status 1
  assert_output_contains "certificate signed by unknown authority"
  # the server still serves the good client
  run tls_docker client ps -q
  assert_status 0
  assert_output_empty
}

@test "serve: a non-loopback TCP address needs --tlsverify; the TLS options go together and are checked at start" {
  only_isolation process "the server's TLS is the same for both modes"
  if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
    skip "listens on 0.0.0.0: run in a network namespace of its own (scripts/run-tests.sh does)"
  fi
  run timeout 60 "$ISOLA" serve -H "tcp://0.0.0.0:$PORT"
  assert_status 125
  assert_output_contains "not a loopback address, and no --tlsverify"
  run timeout 60 "$ISOLA" serve --tlscacert "$C/ca.pem" -H "tcp://127.0.0.1:$PORT"
  assert_status 125
  assert_output_contains "go with --tlsverify"
  run timeout 60 "$ISOLA" serve --tlsverify --tlscacert "$C/ca.pem" -H "tcp://127.0.0.1:$PORT"
  assert_status 125
  assert_output_contains "--tlsverify needs --tlscacert, --tlscert and --tlskey"
  run timeout 60 "$ISOLA" serve --tlsverify --tlscacert "$C/ca.pem" --tlscert "$C/server.pem" \
    --tlskey "$C/client-key.pem" -H "tcp://127.0.0.1:$PORT"
  assert_status 125
  assert_output_contains "isola serve: TLS:"
  run timeout 60 "$ISOLA" serve --tlsverify --tlscacert "$C/nosuch.pem" --tlscert "$C/server.pem" \
    --tlskey "$C/server-key.pem" -H "tcp://127.0.0.1:$PORT"
  assert_status 125
  assert_output_contains "nosuch.pem"
  # with TLS, every address: the client reaches it on 127.0.0.1
  tls_server "tcp://0.0.0.0:$PORT"
  run tls_docker client version --format '{{.Server.APIVersion}}'
  assert_status 0
  assert_equal "$output" 1.41
}

@test "serve --tlsverify: the end of stdin reaches the container over TLS as over the unix socket (1 MB through cat)" {
  tls_server "tcp://127.0.0.1:$PORT"
  head -c 1000000 /dev/urandom >"$BATS_TEST_TMPDIR/input"
  local want
  want=$(md5sum <"$BATS_TEST_TMPDIR/input" | cut -d' ' -f1)
  # the CLI half-closes its connection at the end of its stdin: cat sees its end, and md5sum prints
  run tls_docker client run -i --rm busybox sh -c 'cat | md5sum' <"$BATS_TEST_TMPDIR/input"
  assert_status 0
  assert_equal "${output%% *}" "$want"
  run timeout 180 "$DOCKER_BIN" -H "unix://$SOCK" run -i --rm busybox sh -c 'cat | md5sum' <"$BATS_TEST_TMPDIR/input"
  assert_status 0
  assert_equal "${output%% *}" "$want"
  # exec's stdin too
  run tls_docker client run -d --name tlscat busybox sleep 300
  assert_status 0
  run tls_docker client exec -i tlscat sh -c 'wc -c' <"$BATS_TEST_TMPDIR/input"
  assert_status 0
  assert_equal "$(echo "$output" | tr -d ' ')" 1000000
  run tls_docker client rm -f tlscat
  assert_status 0
}
