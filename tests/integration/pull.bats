#!/usr/bin/env bats
# isola pull, login, logout and run/create --pull against real registries on 127.0.0.1: Debian's docker-registry
# (the distribution server), plain HTTP and htpasswd behind TLS with a CA the test makes, images put there by skopeo;
# and tests/integration/fake_registry.py for a Bearer token registry and the bad ones.  Pulling does not depend on
# the isolation mode (process only; one test runs a pulled image in a VM).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_registry DIR PORT [CONFIG_EXTRA]: docker-registry on 127.0.0.1:PORT storing under DIR; waits until it
# answers.  Its PID goes to DIR/pid.
start_registry() {
  local dir=$1 port=$2 extra=${3:-} scheme=http
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: ${REGISTRY_LOG_LEVEL:-error}
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$extra
EOF
  [[ $extra == *tls:* ]] && scheme=https
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  wait_until 30 curl -sk -o /dev/null "$scheme://127.0.0.1:$port/v2/" || {
    cat "$dir/log" >&2
    return 1
  }
}

stop_registry() {
  local pid
  pid=$(cat "$1/pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# skopeo_push SRC NAME: copies a transport:path (oci-archive:…) into the plain registry as NAME (repo:tag).
skopeo_push() {
  skopeo copy -q --dest-tls-verify=false "$1" "docker://$REG/$2" >&2
}

setup_file() {
  common_setup_file multilayer-oci sharedbase-oci
  require_busybox_image
  command -v docker-registry >/dev/null || {
    echo "docker-registry is not installed (scripts/deps.sh)" >&2
    return 1
  }
  REGDIR=$(mktemp -d /tmp/isola-test-registry.XXXXXX)
  made "$REGDIR"
  PORT=$(free_port)
  REG=127.0.0.1:$PORT
  export REGDIR PORT REG
  start_registry "$REGDIR/plain" "$PORT"
  skopeo_push "oci-archive:$ISOLA_IMAGE" test/busybox:latest
  skopeo_push "oci-archive:$ISOLA_IMAGE" test/busybox:v2
  skopeo_push "oci-archive:$(fx multilayer-oci)" test/multi:latest
  skopeo_push "oci-archive:$(fx sharedbase-oci)" test/shared:latest
  mkdir -p "$REGDIR/layout"
  tar -C "$REGDIR/layout" -xf "$ISOLA_IMAGE"
}

teardown_file() {
  stop_registry "$REGDIR/plain"
  [[ ${REGDIR:-} == /tmp/isola-test-registry.* ]] && rm -rf "$REGDIR"
  common_teardown_file
}

setup() {
  setup_root
  export DOCKER_CONFIG=$BATS_TEST_TMPDIR/docker-config
}
teardown() {
  stop_fake
  stop_registry "$BATS_TEST_TMPDIR/chunked"
  teardown_root
}

# start_fake MODE: tests/integration/fake_registry.py serving the test image as test/img:latest, misbehaving as MODE
# says; FAKE is its HOST:PORT, FAKE_LOG its request log.
start_fake() {
  local dir=$BATS_TEST_TMPDIR/fake
  mkdir -p "$dir"
  FAKE_LOG=$dir/requests.log
  : >"$FAKE_LOG"
  "$PYTHON" "$BATS_TEST_DIRNAME/fake_registry.py" "$REGDIR/layout" "$1" "$dir/port" "$FAKE_LOG" 2>"$dir/stderr" &
  echo $! >"$dir/pid"
  wait_until 30 test -s "$dir/port" || {
    cat "$dir/stderr" >&2
    return 1
  }
  FAKE=127.0.0.1:$(cat "$dir/port")
}

stop_fake() {
  local pid
  pid=$(cat "$BATS_TEST_TMPDIR/fake/pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$BATS_TEST_TMPDIR/fake/pid"
}

# bad_pull MODE MESSAGE: pulling test/img from a registry misbehaving as MODE fails with MESSAGE in its error and
# leaves the store as it was, tmp/ included.
bad_pull() {
  start_fake "$1"
  isola_ok images
  local before
  before=$(store_listing)
  run --separate-stderr isola pull "$FAKE/test/img"
  show_run
  assert_status 1
  [[ $stderr == *"$2"* ]] || fail "expected '$2' in: $stderr"
  assert_store_unchanged "$before"
  assert_tmp_clean
}

# registry_digest NAME: the manifest digest the registry serves for NAME (repo:tag).
registry_digest() {
  skopeo inspect --tls-verify=false --raw "docker://$REG/$1" | sha256sum | cut -d' ' -f1
}

registry_config_digest() {
  skopeo inspect --tls-verify=false --raw "docker://$REG/$1" | jq -r '.config.digest'
}

@test "pull NAME: Docker's lines, the image under its tag with the registry's config as its ID" {
  run --separate-stderr isola pull "$REG/test/busybox"
  show_run
  assert_status 0
  local digest config
  digest=$(registry_digest test/busybox:latest)
  config=$(registry_config_digest test/busybox:latest)
  [ "${lines[0]}" = "Using default tag: latest" ]
  [ "${lines[1]}" = "latest: Pulling from test/busybox" ]
  assert_output_matches "^[0-9a-f]{12}: Pulling fs layer$"
  assert_output_matches "^[0-9a-f]{12}: Verifying Checksum$"
  assert_output_matches "^[0-9a-f]{12}: Download complete$"
  assert_output_matches "^[0-9a-f]{12}: Pull complete$"
  assert_output_contains "Digest: sha256:$digest"
  assert_output_contains "Status: Downloaded newer image for $REG/test/busybox:latest"
  [ "${lines[-1]}" = "$REG/test/busybox:latest" ]
  assert_equal "$(image_id "$REG/test/busybox:latest")" "$config"
  assert_tmp_clean
  # What was pulled runs.
  run --separate-stderr isola run --rm "$REG/test/busybox" echo pulled-and-ran
  assert_status 0
  assert_equal "$output" "pulled-and-ran"
}

@test "RepoDigests and images --digests show the registry's digest" {
  isola_ok pull -q "$REG/test/busybox:v2"
  local digest
  digest=$(registry_digest test/busybox:v2)
  run isola image inspect -f '{{json .RepoDigests}}' "$REG/test/busybox:v2"
  assert_equal "$output" "[\"$REG/test/busybox@sha256:$digest\"]"
  run isola images --digests --format '{{.Repository}} {{.Tag}} {{.Digest}}'
  assert_equal "$output" "$REG/test/busybox v2 sha256:$digest"
}

@test "pull -q prints only the full name; a second pull is up to date and changes nothing" {
  run --separate-stderr isola pull -q "$REG/test/busybox"
  assert_status 0
  assert_equal "$output" "$REG/test/busybox:latest"
  local before
  before=$(store_listing)
  run --separate-stderr isola pull "$REG/test/busybox"
  assert_status 0
  assert_output_contains "Status: Image is up to date for $REG/test/busybox:latest"
  refute_output_contains "Pulling fs layer"
  assert_store_unchanged "$before"
}

@test "a second pull is one manifest request: no /v2/ ping, no TLS try at a plain loopback registry" {
  start_fake ok
  isola_ok pull -q "$FAKE/test/img"
  : >"$FAKE_LOG"
  run --separate-stderr isola pull "$FAKE/test/img"
  show_run
  assert_status 0
  assert_output_contains "Status: Image is up to date for $FAKE/test/img:latest"
  # The manifest, its 401 and the token: nothing else (the scheme is remembered under the root).
  assert_equal "$(grep -c . "$FAKE_LOG")" 3 || fail "$(cat "$FAKE_LOG")"
  assert_equal "$(grep -c "GET /v2/test/img/manifests/latest auth=Bearer good-token" "$FAKE_LOG")" 1
  ! grep -q "GET /v2/ " "$FAKE_LOG" || fail "a ping: $(cat "$FAKE_LOG")"
  assert_equal "$(cat "$ISOLA_ROOT/cache/registry-scheme/$FAKE")" http
}

@test "a remembered scheme the registry no longer speaks is found again" {
  mkdir -p "$ISOLA_ROOT/cache/registry-scheme"
  echo https >"$ISOLA_ROOT/cache/registry-scheme/$REG"
  run --separate-stderr isola pull -q "$REG/test/busybox"
  show_run
  assert_status 0
  assert_equal "$(cat "$ISOLA_ROOT/cache/registry-scheme/$REG")" http
}

@test "429 and 503 answers are tried again after a pause" {
  start_fake flaky
  run --separate-stderr isola pull -q "$FAKE/test/img"
  show_run
  assert_status 0
  assert_equal "$(grep -c "GET /v2/test/img/manifests/latest auth=Bearer" "$FAKE_LOG")" 2 || fail "$(cat "$FAKE_LOG")"
  local layer
  for layer in $(jq -r '.layers[].digest' "$REGDIR/layout/blobs/sha256/$(jq -r '.manifests[0].digest | .[7:]' "$REGDIR/layout/index.json")"); do
    assert_equal "$(grep -c "GET /v2/test/img/blobs/$layer auth=Bearer" "$FAKE_LOG")" 2 || fail "$(cat "$FAKE_LOG")"
  done
  assert_tmp_clean
}

@test "push: 503 answers to the upload and the manifest are tried again after a pause" {
  start_fake flaky
  isola_ok load -q -i "$ISOLA_IMAGE"
  isola_ok tag busybox "$FAKE/test/pushed:v1"
  run --separate-stderr isola push "$FAKE/test/pushed:v1"
  show_run
  assert_status 0
  assert_output_matches "^[0-9a-f]{12}: Pushed$"
  assert_equal "$(grep -c "POST /v2/test/pushed/blobs/uploads/ auth=Bearer" "$FAKE_LOG")" 3 || fail "$(cat "$FAKE_LOG")"
  assert_equal "$(grep -c "PUT /v2/test/pushed/manifests/v1 auth=Bearer" "$FAKE_LOG")" 2 || fail "$(cat "$FAKE_LOG")"
}

@test "an interrupted layer download resumes with a Range request; the digest covers the whole layer" {
  start_fake reset-once
  run --separate-stderr isola pull "$FAKE/test/img"
  show_run
  assert_status 0
  grep -q "GET /v2/test/img/blobs/sha256:[0-9a-f]* auth=Bearer good-token range=bytes=[1-9][0-9]*-$" "$FAKE_LOG" ||
    fail "no Range request: $(cat "$FAKE_LOG")"
  run isola image inspect -f '{{.Id}}' "$FAKE/test/img"
  assert_equal "$output" "$(jq -r .config.digest "$REGDIR/layout/blobs/sha256/$(jq -r '.manifests[0].digest | .[7:]' "$REGDIR/layout/index.json")")"
  run isola run --rm "$FAKE/test/img" echo resumed
  assert_equal "$output" "resumed"
}

@test "bad registry: a layer that keeps failing fails the pull after a bounded number of tries" {
  bad_pull blob-503 "failed 3 times, the last: blob sha256:"
  [[ $stderr == *"the registry answered 503"* ]] || fail "stderr: $stderr"
}

@test "pull NAME@DIGEST: the image without a tag, named by its digest; a digest the registry lacks is refused" {
  local digest
  digest=$(registry_digest test/busybox:latest)
  run --separate-stderr isola pull "$REG/test/busybox@sha256:$digest"
  show_run
  assert_status 0
  [ "${lines[0]}" = "sha256:$digest: Pulling from test/busybox" ]
  [ "${lines[-1]}" = "$REG/test/busybox@sha256:$digest" ]
  run isola image inspect -f '{{json .RepoTags}} {{json .RepoDigests}}' "$REG/test/busybox@sha256:$digest"
  assert_equal "$output" "[] [\"$REG/test/busybox@sha256:$digest\"]"
  run isola images --digests --format '{{.Repository}} {{.Tag}} {{.Digest}}'
  assert_equal "$output" "$REG/test/busybox <none> sha256:$digest"
  local before
  before=$(store_listing)
  run --separate-stderr isola pull "$REG/test/busybox@sha256:$(printf '%064d' 7)"
  assert_status 1
  [[ $stderr == *"not found: manifest unknown"* ]] || fail "stderr: $stderr"
  assert_store_unchanged "$before"
}

@test "a layer the store has is not fetched again (Already exists)" {
  isola_ok pull -q "$REG/test/multi"
  run --separate-stderr isola pull "$REG/test/shared"
  show_run
  assert_status 0
  local shared
  # sharedbase-oci shares its base layer with multilayer-oci.
  shared=$(jq -r '.layers[0].digest' < <(skopeo inspect --tls-verify=false --raw "docker://$REG/test/shared"))
  assert_output_contains "${shared:7:12}: Already exists"
  refute_output_contains "${shared:7:12}: Pulling fs layer"
  # Its layers are all there: those it shares and its own (gzip, zstd and plain tar layers).
  run isola image inspect -f '{{json .RootFS.Layers}}' "$REG/test/shared"
  assert_equal "$output" "$(skopeo inspect --tls-verify=false --config --raw "docker://$REG/test/shared" | jq -c .rootfs.diff_ids)"
}

@test "pull of a missing tag or repository: Docker's 'manifest unknown', exit 1, store unchanged" {
  isola_ok images
  local before
  before=$(store_listing)
  run --separate-stderr isola pull "$REG/test/busybox:nope"
  assert_status 1
  assert_equal "$stderr" "Error: manifest for $REG/test/busybox:nope not found: manifest unknown: manifest unknown"
  run --separate-stderr isola pull "$REG/test/nothere"
  assert_status 1
  [[ $stderr == *"manifest for $REG/test/nothere:latest not found"* ]] || fail "stderr: $stderr"
  assert_store_unchanged "$before"
  assert_tmp_clean
}

@test "pull: usage errors" {
  run --separate-stderr isola pull
  assert_status 125
  run --separate-stderr isola pull "$REG/Test/Up"
  assert_status 1
  [[ $stderr == *"must be lowercase"* ]] || fail "stderr: $stderr"
  run --separate-stderr isola pull -a "$REG/test/busybox:latest"
  assert_status 125
  run --separate-stderr isola pull --platform nonsense "$REG/test/busybox"
  assert_status 1
  [[ $stderr == *"invalid platform"* ]] || fail "stderr: $stderr"
}

@test "pull -a pulls every tag of the repository" {
  run --separate-stderr isola pull -a "$REG/test/busybox"
  show_run
  assert_status 0
  [ "${lines[-1]}" = "$REG/test/busybox" ]
  run isola images --format '{{.Repository}}:{{.Tag}}'
  assert_equal "$(sort <<<"$output")" "$(printf '%s\n' "$REG/test/busybox:latest" "$REG/test/busybox:v2")"
}

@test "run --pull missing pulls an image that is not here, its progress on stderr" {
  run --separate-stderr isola run --rm "$REG/test/busybox:v2" echo from-run
  show_run
  assert_status 0
  assert_equal "$output" "from-run"
  [[ $stderr == *"Unable to find image '$REG/test/busybox:v2' locally"* ]] || fail "stderr: $stderr"
  [[ $stderr == *"Status: Downloaded newer image for $REG/test/busybox:v2"* ]] || fail "stderr: $stderr"
  # Now it is here: no pull.
  run --separate-stderr isola run --rm "$REG/test/busybox:v2" echo again
  assert_status 0
  assert_equal "$stderr" ""
}

@test "run --pull never refuses a missing image; --pull always pulls one that is here" {
  run --separate-stderr isola run --rm --pull never "$REG/test/busybox" true
  assert_status 125
  assert_equal "$stderr" "Error: No such image: $REG/test/busybox:latest"
  isola_ok pull -q "$REG/test/busybox"
  run --separate-stderr isola create --pull always "$REG/test/busybox" true
  show_run
  assert_status 0
  [[ $stderr == *"Status: Image is up to date for $REG/test/busybox:latest"* ]] || fail "stderr: $stderr"
  isola_ok rm "$output"
  run --separate-stderr isola run --rm --pull missing "$REG/test/nothere" true
  assert_status 125
  [[ $stderr == *"manifest for $REG/test/nothere:latest not found: manifest unknown"* ]] || fail "stderr: $stderr"
  [[ $stderr != *"No such image"* ]] || fail "stderr: $stderr"
}

@test "a pulled image runs in a VM" {
  run --separate-stderr isola run --rm --isolation=vm "$REG/test/busybox" echo in-a-vm
  show_run
  assert_status 0
  assert_equal "$output" "in-a-vm"
}

@test "a Bearer registry: the token flow with the repository's pull scope; the token goes to the registry only" {
  start_fake ok
  run --separate-stderr isola pull -q "$FAKE/test/img"
  show_run
  assert_status 0
  assert_equal "$output" "$FAKE/test/img:latest"
  grep -q "GET /token?service=fake-registry&scope=repository%3Atest%2Fimg%3Apull auth=-" "$FAKE_LOG" ||
    fail "no token request with the pull scope: $(cat "$FAKE_LOG")"
  grep -q "GET /v2/test/img/manifests/latest auth=Bearer good-token" "$FAKE_LOG" || fail "$(cat "$FAKE_LOG")"
  run isola image inspect -f '{{.Id}}' "$FAKE/test/img"
  assert_equal "$output" "$(jq -r .config.digest "$REGDIR/layout/blobs/sha256/$(jq -r '.manifests[0].digest | .[7:]' "$REGDIR/layout/index.json")")"
}

@test "a redirect to another host is followed without the credentials" {
  start_fake redirect-host
  run --separate-stderr isola pull -q "$FAKE/test/img"
  show_run
  assert_status 0
  grep -q "^localhost:${FAKE#*:} GET /other/sha256:.* auth=-$" "$FAKE_LOG" || fail "$(cat "$FAKE_LOG")"
  ! grep -q "^localhost:.*auth=Bearer" "$FAKE_LOG" || fail "the token went to another host: $(cat "$FAKE_LOG")"
}

@test "bad registry: a layer whose content does not match its digest" {
  bad_pull wrong-digest "verification failed for digest sha256:"
}

@test "bad registry: a truncated layer (again and again, Range ignored)" {
  bad_pull truncated "/v2/test/img/blobs/sha256:"
  [[ $stderr == *"failed 3 times, the last: "*"transfer closed with"*"bytes remaining to read"* ]] || fail "stderr: $stderr"
}

@test "bad registry: a layer longer than its descriptor says" {
  bad_pull long-blob "is longer than its descriptor"
}

@test "bad registry: a manifest over the size bound" {
  bad_pull huge-manifest "is larger than 4194304 bytes: refused"
}

@test "bad registry: JSON that is not a manifest" {
  bad_pull not-manifest "test/img:latest: the registry's manifest is not valid"
}

@test "bad registry: a schema 1 manifest is refused clearly" {
  bad_pull schema1 "Docker image manifest schema 1, which isola does not support"
}

@test "bad registry: an index with no image for this platform; --platform picks it" {
  bad_pull no-platform "no matching manifest for linux/amd64 in the manifest list entries"
  run --separate-stderr isola pull -q --platform linux/arm64 "$FAKE/test/img"
  show_run
  assert_status 0
  run isola image inspect -f '{{json .RepoDigests}}' "$FAKE/test/img"
  # The repository digest is the index's, which the tag names.
  [[ $output != *"$(jq -r '.manifests[0].digest' "$REGDIR/layout/index.json")"* ]] || fail "$output"
}

@test "bad registry: a server that stalls times out" {
  export ISOLA_REGISTRY_TIMEOUT=2
  bad_pull stall "Operation too slow"
}

@test "bad registry: endless redirects" {
  bad_pull redirect-loop "Maximum (10) redirects followed"
}

@test "bad registry: a 401 after the token flow" {
  bad_pull deny "authentication required"
}

@test "registry-mirrors: docker.io names are pulled from a mirror first, then from docker.io's registry" {
  # ISOLA_DOCKER_IO_REGISTRY stands in for Docker Hub's registry: nothing leaves the machine.
  start_fake ok
  export ISOLA_DOCKER_IO_REGISTRY=$FAKE
  jq -n --arg m "http://$REG" '{"registry-mirrors": [$m]}' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola pull test/busybox
  show_run
  assert_status 0
  [ "${lines[-1]}" = "docker.io/test/busybox:latest" ]
  [ ! -s "$FAKE_LOG" ] || fail "docker.io's registry was asked: $(cat "$FAKE_LOG")"
  run isola image inspect -f '{{json .RepoDigests}}' test/busybox
  assert_equal "$output" "[\"test/busybox@sha256:$(registry_digest test/busybox:latest)\"]"
  # The mirror lacks test/img and a second mirror is not there: docker.io's registry serves it.
  jq -n --arg m "http://$REG" '{"registry-mirrors": [$m, "http://127.0.0.1:1"]}' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola pull -q test/img
  show_run
  assert_status 0
  assert_equal "$output" "docker.io/test/img:latest"
  grep -q "GET /v2/test/img/manifests/latest auth=Bearer" "$FAKE_LOG" || fail "$(cat "$FAKE_LOG")"
  # A mirror is for docker.io only.
  jq -n '{"registry-mirrors": ["http://127.0.0.1:1"]}' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola pull -q "$REG/test/busybox:v2"
  assert_status 0
  jq -n '{"registry-mirrors": ["ftp://nowhere"]}' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola pull -q test/img
  assert_status 1
  [[ $stderr == *"registry-mirrors"*"is not an http:// or https:// URL"* ]] || fail "stderr: $stderr"
}

@test "proxies from the environment: a registry is reached through one, a loopback registry never" {
  start_fake ok
  # The fake registry is its own proxy; proxied.invalid never resolves (the proxy gets the name).
  mkdir -p "$ISOLA_ROOT"
  jq -n '{"insecure-registries": ["proxied.invalid"]}' >"$ISOLA_ROOT/config.json"
  http_proxy=http://$FAKE https_proxy=http://$FAKE run --separate-stderr isola pull -q proxied.invalid/test/img
  show_run
  assert_status 0
  grep -q "^proxied.invalid GET http://proxied.invalid/v2/test/img/manifests/latest auth=Bearer" "$FAKE_LOG" ||
    fail "not through the proxy: $(cat "$FAKE_LOG")"
  # HTTPS first, through the proxy's CONNECT (which this one refuses), as Docker tries an insecure registry.
  grep -q " CONNECT proxied.invalid:443 " "$FAKE_LOG" || fail "no CONNECT: $(cat "$FAKE_LOG")"
  # A proxy that is not there does not matter to a loopback registry.
  http_proxy=http://127.0.0.1:1 https_proxy=http://127.0.0.1:1 HTTP_PROXY=http://127.0.0.1:1 \
    run --separate-stderr isola pull -q "$REG/test/busybox"
  show_run
  assert_status 0
}

@test "login checks the credentials first, stores them as Docker does; pull uses them; logout removes them" {
  start_fake basic
  run --separate-stderr isola pull -q "$FAKE/test/img"
  assert_status 1
  [[ $stderr == *"unauthorized: authentication required"* ]] || fail "stderr: $stderr"
  run --separate-stderr isola login -u u --password-stdin "$FAKE" <<<"wrong"
  assert_status 1
  [[ $stderr == *"incorrect username or password"* ]] || fail "stderr: $stderr"
  [ ! -e "$DOCKER_CONFIG/config.json" ] || fail "a failed login wrote $(cat "$DOCKER_CONFIG/config.json")"
  run --separate-stderr isola login -u u --password-stdin "$FAKE" <<<"p"
  show_run
  assert_status 0
  assert_equal "$output" "Login Succeeded"
  assert_equal "$(jq -r --arg k "$FAKE" '.auths[$k].auth' "$DOCKER_CONFIG/config.json")" "$(printf u:p | base64)"
  assert_equal "$(stat -c %a "$DOCKER_CONFIG/config.json")" 600
  run --separate-stderr isola pull -q "$FAKE/test/img"
  show_run
  assert_status 0
  run --separate-stderr isola logout "$FAKE"
  assert_equal "$output" "Removing login credentials for $FAKE"
  assert_equal "$(jq -c .auths "$DOCKER_CONFIG/config.json")" "{}"
  run --separate-stderr isola logout "$FAKE"
  assert_equal "$output" "Not logged in to $FAKE"
}

# make_cred_helper DIR: docker-credential-isolatest in DIR, keeping credentials in DIR/store.json (ServerURL →
# {Username, Secret}) and logging its actions to DIR/actions, as a credential helper does (JSON on stdin/stdout).
make_cred_helper() {
  local dir=$1
  mkdir -p "$dir"
  echo '{}' >"$dir/store.json"
  cat >"$dir/docker-credential-isolatest" <<EOF
#!/bin/bash
store=$dir/store.json
input=\$(cat)
echo "\$1" >>"$dir/actions"
case \$1 in
get)
  jq -e --arg u "\$input" '.[\$u] | select(. != null) | {ServerURL: \$u, Username, Secret}' "\$store" 2>/dev/null ||
    { echo "credentials not found in native keychain"; exit 1; } ;;
store)
  jq --argjson v "\$input" '.[\$v.ServerURL] = {Username: \$v.Username, Secret: \$v.Secret}' "\$store" >"\$store.new" &&
    mv "\$store.new" "\$store" ;;
erase)
  jq --arg u "\$input" 'del(.[\$u])' "\$store" >"\$store.new" && mv "\$store.new" "\$store" ;;
*) exit 1 ;;
esac
EOF
  chmod +x "$dir/docker-credential-isolatest"
}

@test "credsStore: login, pull and logout run docker-credential-NAME get/store/erase; the file keeps no secret" {
  start_fake basic
  make_cred_helper "$BATS_TEST_TMPDIR/helper"
  export PATH=$BATS_TEST_TMPDIR/helper:$PATH
  mkdir -p "$DOCKER_CONFIG"
  echo '{"credsStore": "isolatest"}' >"$DOCKER_CONFIG/config.json"
  run --separate-stderr isola login -u u --password-stdin "$FAKE" <<<"p"
  show_run
  assert_status 0
  assert_equal "$output" "Login Succeeded"
  assert_equal "$(jq -c --arg k "$FAKE" '.[$k]' "$BATS_TEST_TMPDIR/helper/store.json")" '{"Username":"u","Secret":"p"}'
  assert_equal "$(jq -c --arg k "$FAKE" '.auths[$k]' "$DOCKER_CONFIG/config.json")" '{}'
  assert_equal "$(jq -r .credsStore "$DOCKER_CONFIG/config.json")" isolatest
  run --separate-stderr isola pull -q "$FAKE/test/img"
  show_run
  assert_status 0
  grep -qx get "$BATS_TEST_TMPDIR/helper/actions" || fail "the helper was not asked: $(cat "$BATS_TEST_TMPDIR/helper/actions")"
  run --separate-stderr isola logout "$FAKE"
  assert_equal "$output" "Removing login credentials for $FAKE"
  assert_equal "$(jq -c . "$BATS_TEST_TMPDIR/helper/store.json")" '{}'
  isola_ok rmi "$FAKE/test/img"
  run --separate-stderr isola pull -q "$FAKE/test/img"
  assert_status 1
  [[ $stderr == *"unauthorized: authentication required"* ]] || fail "stderr: $stderr"
}

@test "identity tokens: login keeps the token service's refresh token as identitytoken; pull trades it for access tokens" {
  start_fake identity
  # No anonymous tokens here.
  run --separate-stderr isola pull -q "$FAKE/test/img"
  assert_status 1
  run --separate-stderr isola login -u u --password-stdin "$FAKE" <<<"p"
  show_run
  assert_status 0
  assert_equal "$output" "Login Succeeded"
  grep -q "GET /token?.*offline_token=true&client_id=docker auth=Basic " "$FAKE_LOG" ||
    fail "login did not ask for a refresh token: $(cat "$FAKE_LOG")"
  # As Docker writes it: the user without the password, and the token.
  assert_equal "$(jq -r --arg k "$FAKE" '.auths[$k].identitytoken' "$DOCKER_CONFIG/config.json")" refresh-1
  assert_equal "$(jq -r --arg k "$FAKE" '.auths[$k].auth' "$DOCKER_CONFIG/config.json")" "$(printf u: | base64)"
  : >"$FAKE_LOG"
  run --separate-stderr isola pull -q "$FAKE/test/img"
  show_run
  assert_status 0
  grep -qx "form grant_type=refresh_token&refresh_token=refresh-1&service=fake-registry&scope=repository%3Atest%2Fimg%3Apull&client_id=docker content-type=application/x-www-form-urlencoded" "$FAKE_LOG" ||
    fail "no refresh grant: $(cat "$FAKE_LOG")"
  grep -q "GET /v2/test/img/manifests/latest auth=Bearer good-token" "$FAKE_LOG" || fail "$(cat "$FAKE_LOG")"
  ! grep -q "auth=Basic" "$FAKE_LOG" || fail "credentials went out with an identity token: $(cat "$FAKE_LOG")"
  # A token the service refuses: a clear error, the store as it was.
  jq --arg k "$FAKE" '.auths[$k].identitytoken = "stale"' "$DOCKER_CONFIG/config.json" >"$BATS_TEST_TMPDIR/c.json"
  mv "$BATS_TEST_TMPDIR/c.json" "$DOCKER_CONFIG/config.json"
  isola_ok rmi "$FAKE/test/img"
  local before
  before=$(store_listing)
  run --separate-stderr isola pull -q "$FAKE/test/img"
  assert_status 1
  [[ $stderr == *"invalid_grant"*"identity token"*"isola login $FAKE again"* ]] || fail "stderr: $stderr"
  assert_equal "$(store_listing)" "$before"
}

@test "identity tokens through a credential helper: Username <token>, the token as Secret" {
  start_fake identity
  make_cred_helper "$BATS_TEST_TMPDIR/helper"
  export PATH=$BATS_TEST_TMPDIR/helper:$PATH
  mkdir -p "$DOCKER_CONFIG"
  echo '{"credsStore": "isolatest"}' >"$DOCKER_CONFIG/config.json"
  run --separate-stderr isola login -u u --password-stdin "$FAKE" <<<"p"
  show_run
  assert_status 0
  assert_equal "$(jq -c --arg k "$FAKE" '.[$k]' "$BATS_TEST_TMPDIR/helper/store.json")" '{"Username":"<token>","Secret":"refresh-1"}'
  assert_equal "$(jq -c --arg k "$FAKE" '.auths[$k]' "$DOCKER_CONFIG/config.json")" '{}'
  : >"$FAKE_LOG"
  run --separate-stderr isola pull -q "$FAKE/test/img"
  show_run
  assert_status 0
  grep -q "^form grant_type=refresh_token&refresh_token=refresh-1&" "$FAKE_LOG" || fail "no refresh grant: $(cat "$FAKE_LOG")"
}

@test "credHelpers: the registry's own helper before credsStore; a helper that is not there is a clear error" {
  start_fake basic
  make_cred_helper "$BATS_TEST_TMPDIR/helper"
  export PATH=$BATS_TEST_TMPDIR/helper:$PATH
  jq -n --arg k "$FAKE" '{($k): {Username: "u", Secret: "p"}}' >"$BATS_TEST_TMPDIR/helper/store.json"
  mkdir -p "$DOCKER_CONFIG"
  jq -n --arg k "$FAKE" '{credsStore: "nothere", credHelpers: {($k): "isolatest"}}' >"$DOCKER_CONFIG/config.json"
  run --separate-stderr isola pull -q "$FAKE/test/img"
  show_run
  assert_status 0
  jq -n --arg k "$FAKE" '{credsStore: "nothere"}' >"$DOCKER_CONFIG/config.json"
  isola_ok rmi "$FAKE/test/img"
  run --separate-stderr isola pull -q "$FAKE/test/img"
  assert_status 1
  [[ $stderr == *"docker-credential-nothere: executable file not found in \$PATH"* ]] || fail "stderr: $stderr"
}

@test "login: Docker's usage rules" {
  run --separate-stderr isola login --password-stdin 127.0.0.1:1 </dev/null
  assert_status 125
  [[ $stderr == *"Must provide --username with --password-stdin"* ]] || fail "stderr: $stderr"
  run --separate-stderr isola login -p x --password-stdin -u u 127.0.0.1:1 </dev/null
  assert_status 125
  run --separate-stderr isola login 127.0.0.1:1 </dev/null
  assert_status 1
  [[ $stderr == *"Cannot perform an interactive login from a non TTY device"* ]] || fail "stderr: $stderr"
}

# A registry over TLS with its own CA (made here) and htpasswd users: the CA from certs.d, Basic credentials.
@test "TLS with the registry's CA from certs.d, htpasswd credentials through login" {
  local dir=$BATS_TEST_TMPDIR/tls port certs
  mkdir -p "$dir"
  port=$(free_port)
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=isola-test-ca -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
    -extfile "$dir/ext" -out "$dir/server.crt" 2>/dev/null
  htpasswd -Bbn tlsuser tlspass >"$dir/htpasswd"
  start_registry "$dir/reg" "$port" "  tls:
    certificate: $dir/server.crt
    key: $dir/server.key
auth:
  htpasswd:
    realm: isola-test
    path: $dir/htpasswd"
  mkdir -p "$dir/skopeo-certs"
  cp "$dir/ca.crt" "$dir/skopeo-certs/"
  skopeo copy -q --dest-cert-dir "$dir/skopeo-certs" --dest-creds tlsuser:tlspass "oci-archive:$ISOLA_IMAGE" \
    "docker://127.0.0.1:$port/tls/busybox:latest" || { stop_registry "$dir/reg"; fail "skopeo copy failed"; }
  certs=$dir/certs.d
  # Without the CA: the certificate is not trusted (and no fallback to plain HTTP helps).
  ISOLA_CERTS_DIR=$certs run --separate-stderr isola login -u tlsuser --password-stdin "127.0.0.1:$port" <<<"tlspass"
  [ "$status" -ne 0 ] || { stop_registry "$dir/reg"; fail "login without the CA succeeded"; }
  mkdir -p "$certs/127.0.0.1:$port"
  cp "$dir/ca.crt" "$certs/127.0.0.1:$port/ca.crt"
  ISOLA_CERTS_DIR=$certs run --separate-stderr isola login -u tlsuser --password-stdin "127.0.0.1:$port" <<<"tlspass"
  local login_status=$status login_out=$output
  ISOLA_CERTS_DIR=$certs run --separate-stderr isola pull -q "127.0.0.1:$port/tls/busybox"
  stop_registry "$dir/reg"
  [ "$login_status" -eq 0 ] || fail "login failed: $login_out"
  show_run
  assert_status 0
  assert_equal "$output" "127.0.0.1:$port/tls/busybox:latest"
}

@test "push: blobs the registry lacks, then the manifest as it is; skopeo sees that digest and a pull gives the same image" {
  isola_ok load -q -i "$ISOLA_IMAGE"
  isola_ok tag busybox "$REG/pushed/busybox:v1"
  local id
  id=$(image_id busybox)
  run --separate-stderr isola push "$REG/pushed/busybox:v1"
  show_run
  assert_status 0
  [ "${lines[0]}" = "The push refers to repository [$REG/pushed/busybox]" ]
  # Docker's lines name the layers by their diff IDs.
  local diff
  diff=$(isola image inspect -f '{{index .RootFS.Layers 0}}' busybox)
  assert_output_contains "${diff:7:12}: Preparing"
  assert_output_contains "${diff:7:12}: Pushed"
  local digest
  digest=$(registry_digest pushed/busybox:v1)
  [ "${lines[-1]}" = "v1: digest: sha256:$digest size: $(skopeo inspect --tls-verify=false --raw "docker://$REG/pushed/busybox:v1" | wc -c)" ]
  run isola image inspect -f '{{json .RepoDigests}}' "$REG/pushed/busybox:v1"
  [[ $output == *"\"$REG/pushed/busybox@sha256:$digest\""* ]] || fail "RepoDigests: $output"
  # Again: the registry has every blob.
  run --separate-stderr isola push "$REG/pushed/busybox:v1"
  assert_status 0
  assert_output_matches "^[0-9a-f]{12}: Layer already exists$"
  refute_output_contains ": Pushed"
  # -q: the name only.
  run --separate-stderr isola push -q "$REG/pushed/busybox:v1"
  assert_equal "$output" "$REG/pushed/busybox:v1"
  # What was pushed comes back as the same image.
  local other
  other=$(new_root)
  ISOLA_ROOT=$other run --separate-stderr isola pull -q "$REG/pushed/busybox:v1"
  assert_status 0
  assert_equal "$(ISOLA_ROOT=$other image_id "$REG/pushed/busybox:v1")" "$id"
}

@test "push: blobs above ISOLA_PUSH_CHUNK_SIZE go up in PATCH chunks; skopeo sees the digest and a pull gives the same image" {
  # A registry of its own, logging its requests.
  local dir=$BATS_TEST_TMPDIR/chunked port
  port=$(free_port)
  REGISTRY_LOG_LEVEL=info start_registry "$dir" "$port"
  local reg=127.0.0.1:$port chunk=262144
  isola_ok load -q -i "$ISOLA_IMAGE"
  isola_ok tag busybox "$reg/chunked/busybox:v1"
  local id
  id=$(image_id busybox)
  ISOLA_PUSH_CHUNK_SIZE=$chunk run --separate-stderr isola push "$reg/chunked/busybox:v1"
  show_run
  assert_status 0
  assert_output_matches "^[0-9a-f]{12}: Pushed$"
  # As many PATCH requests as the chunks of the blobs larger than a chunk, no more.
  local manifest expected=0 size
  manifest=$(skopeo inspect --tls-verify=false --raw "docker://$reg/chunked/busybox:v1")
  for size in $(jq -r '.config.size, .layers[].size' <<<"$manifest"); do
    ((size > chunk)) && expected=$((expected + (size + chunk - 1) / chunk))
  done
  ((expected >= 2)) || fail "the image has no blob larger than $chunk bytes: $manifest"
  assert_equal "$(grep -c 'http.request.method=PATCH' "$dir/log")" "$expected"
  local digest
  digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$reg/chunked/busybox:v1")
  assert_equal "${lines[-1]}" "v1: digest: $digest size: $(skopeo inspect --tls-verify=false --raw "docker://$reg/chunked/busybox:v1" | wc -c)"
  # skopeo fetches every blob the chunks made and checks it against its digest.
  skopeo copy -q --src-tls-verify=false "docker://$reg/chunked/busybox:v1" "oci:$BATS_TEST_TMPDIR/copied:v1" ||
    fail "skopeo could not copy what was pushed"
  # Pulled back into another store: the same image.
  local other
  other=$(new_root)
  ISOLA_ROOT=$other run --separate-stderr isola pull -q "$reg/chunked/busybox:v1"
  assert_status 0
  assert_equal "$(ISOLA_ROOT=$other image_id "$reg/chunked/busybox:v1")" "$id"
  stop_registry "$dir"
}

@test "push to a registry that refuses a blob in one request (413) sends it again in chunks" {
  start_fake no-monolithic
  isola_ok load -q -i "$ISOLA_IMAGE"
  isola_ok tag busybox "$FAKE/test/chunks:v1"
  run --separate-stderr isola push "$FAKE/test/chunks:v1"
  show_run
  assert_status 0
  assert_output_matches "^[0-9a-f]{12}: Pushed$"
  # The fake checks each chunk's Content-Range and the closing PUT's digest over them all.
  grep -q "PATCH /v2/test/chunks/blobs/uploads/u[0-9]* auth=Bearer good-token content-range=0-[0-9]*$" "$FAKE_LOG" ||
    fail "no first chunk: $(cat "$FAKE_LOG")"
  grep -q "PATCH /v2/test/chunks/blobs/uploads/u[0-9]* auth=Bearer good-token content-range=[1-9][0-9]*-[0-9]*$" "$FAKE_LOG" ||
    fail "no second chunk: $(cat "$FAKE_LOG")"
  assert_equal "$(grep -c "PUT /v2/test/chunks/manifests/v1 auth=Bearer" "$FAKE_LOG")" 1
}

@test "push to another repository of the same registry mounts the layers it has there (Mounted from)" {
  isola_ok pull -q "$REG/test/busybox:latest"
  isola_ok tag "$REG/test/busybox:latest" "$REG/mounted/busybox:v1"
  run --separate-stderr isola push "$REG/mounted/busybox:v1"
  show_run
  assert_status 0
  local diff
  diff=$(skopeo inspect --tls-verify=false --config --raw "docker://$REG/test/busybox:latest" | jq -r '.rootfs.diff_ids[-1]')
  assert_output_contains "${diff:7:12}: Preparing"
  assert_output_contains "${diff:7:12}: Mounted from test/busybox"
  refute_output_contains ": Pushed"
  assert_equal "$(registry_digest mounted/busybox:v1)" "$(registry_digest test/busybox:latest)"
}

@test "push and pull on a terminal: per-layer lines redrawn in place with progress bars" {
  isola_ok load -q -i "$ISOLA_IMAGE"
  isola_ok tag busybox "$REG/tty/busybox:v1"
  local out=$BATS_TEST_TMPDIR/tty.out
  script -qec "$ISOLA push $REG/tty/busybox:v1" /dev/null >"$out" </dev/null
  grep -aq "Pushing \[=*>* *\]" "$out" || fail "no bar: $(cat -v "$out")"
  grep -aq $'\033\\[[0-9]*A' "$out" || fail "no redraw: $(cat -v "$out")"
  grep -aq "Pushed" "$out" || fail "$(cat -v "$out")"
  local other
  other=$(new_root)
  ISOLA_ROOT=$other script -qec "$ISOLA pull $REG/tty/busybox:v1" /dev/null >"$out" </dev/null
  grep -aq "Downloading \[=*>* *\]" "$out" || fail "no bar: $(cat -v "$out")"
  grep -aq "Pull complete" "$out" || fail "$(cat -v "$out")"
}

@test "push of a tag the store does not have, or to a registry that is not there" {
  run --separate-stderr isola push "$REG/pushed/none:v1"
  assert_status 1
  # Docker's: the repository first, then the stream's error as it is.
  assert_equal "$output" "The push refers to repository [$REG/pushed/none]"
  assert_equal "$stderr" "An image does not exist locally with the tag: $REG/pushed/none"
  isola_ok load -q -i "$ISOLA_IMAGE"
  isola_ok tag busybox "127.0.0.1:1/x:v1"
  run --separate-stderr isola push "127.0.0.1:1/x:v1"
  assert_status 1
  [[ $stderr == *"Connection refused"* || $stderr == *"Couldn't connect"* ]] || fail "stderr: $stderr"
}

@test "image pull and image push are pull and push" {
  run --separate-stderr isola image pull -q "$REG/test/busybox:v2"
  assert_status 0
  assert_equal "$output" "$REG/test/busybox:v2"
  isola_ok tag "$REG/test/busybox:v2" "$REG/pushed/again:v3"
  run --separate-stderr isola image push -q "$REG/pushed/again:v3"
  assert_status 0
  assert_equal "$output" "$REG/pushed/again:v3"
}
