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
  level: error
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
teardown() { teardown_root; }

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
