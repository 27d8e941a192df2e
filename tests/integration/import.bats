#!/usr/bin/env bats
# isola import: a root filesystem tarball becomes a one-layer image; -c applies Dockerfile instructions, -m a comment.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file rootfs-tar; }
teardown_file() { common_teardown_file; }
setup() { setup_root; }
teardown() { teardown_root; }

HEX64='[0-9a-f]{64}'

# inspect_field REF JQ: one field of `image inspect`, compact JSON.
inspect_field() {
  isola image inspect "$1" | jq -c ".[0]$2"
}

@test "import FILE REPO:TAG prints the new image ID and tags it" {
  run --separate-stderr isola import "$(fx rootfs-tar)" imported/rootfs:v1
  assert_status 0
  assert_output_matches "^sha256:$HEX64\$"
  assert_equal "$(printf '%s\n' "$output" | wc -l)" 1
  local id=$output
  assert_equal "$(image_id imported/rootfs:v1)" "$id"
  assert_equal "$(image_tags)" "imported/rootfs:v1"
  assert_tmp_clean
}

@test "imported image has one layer whose diff_id is the tarball's sha256, amd64/linux" {
  isola_ok import "$(fx rootfs-tar)" imported/rootfs:v1
  local want
  want=$(sha256sum "$(fx rootfs-tar)" | cut -d' ' -f1)
  assert_equal "$(inspect_field imported/rootfs:v1 .RootFS.Layers)" "[\"sha256:$want\"]"
  assert_equal "$(inspect_field imported/rootfs:v1 .Architecture)" '"amd64"'
  assert_equal "$(inspect_field imported/rootfs:v1 .Os)" '"linux"'
}

@test "imported image's files are visible when mounted" {
  isola_ok import "$(fx rootfs-tar)" imported/rootfs
  mount_image imported/rootfs:latest
  [ -d "$MNT/bin" ] || fail "bin/ missing"
  assert_equal "$(cat "$MNT/etc/hostname")" "isola-import"
  assert_equal "$(cat "$MNT/hello.txt")" "hello from import"
  isola_ok image unmount imported/rootfs
}

@test "import without a repository gives an untagged image" {
  run --separate-stderr isola import "$(fx rootfs-tar)"
  assert_status 0
  assert_output_matches "^sha256:$HEX64\$"
  run isola images
  assert_output_matches '^<none> {3,}<none> {3,}[0-9a-f]{12} '
}

@test "import from stdin with -" {
  run --separate-stderr isola import - imported/stdin:latest <"$(fx rootfs-tar)"
  assert_status 0
  assert_output_matches "^sha256:$HEX64\$"
  assert_equal "$(image_tags)" "imported/stdin:latest"
}

@test "import of a gzip-compressed tarball gives the same layer as the plain one" {
  local gz=$BATS_TEST_TMPDIR/rootfs.tar.gz want
  gzip -n -c "$(fx rootfs-tar)" >"$gz"
  want=$(sha256sum "$(fx rootfs-tar)" | cut -d' ' -f1)
  isola_ok import "$gz" imported/gz
  assert_equal "$(inspect_field imported/gz .RootFS.Layers)" "[\"sha256:$want\"]"
}

@test "import -c CMD/ENTRYPOINT in JSON and shell form" {
  isola_ok import -c 'CMD ["sh", "-c", "echo hi"]' -c 'ENTRYPOINT ["/bin/env"]' "$(fx rootfs-tar)" c/json
  assert_equal "$(inspect_field c/json .Config.Cmd)" '["sh","-c","echo hi"]'
  assert_equal "$(inspect_field c/json .Config.Entrypoint)" '["/bin/env"]'
  isola_ok import -c 'CMD echo hi there' "$(fx rootfs-tar)" c/shell
  assert_equal "$(inspect_field c/shell .Config.Cmd)" '["/bin/sh","-c","echo hi there"]'
}

@test "import -c ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL" {
  isola_ok import -c 'ENV A=b' -c 'ENV C=d E=f' -c 'WORKDIR /work' -c 'USER 1000:1000' \
    -c 'LABEL org.example.k=v' -c 'EXPOSE 8080' -c 'EXPOSE 53/udp' -c 'VOLUME ["/data"]' \
    -c 'STOPSIGNAL SIGINT' "$(fx rootfs-tar)" c/all
  run inspect_field c/all .Config
  assert_status 0
  local cfg=$output
  echo "config: $cfg"
  jq -e '.Env | index("A=b") != null and index("C=d") != null and index("E=f") != null' <<<"$cfg"
  jq -e '.WorkingDir == "/work"' <<<"$cfg"
  jq -e '.User == "1000:1000"' <<<"$cfg"
  jq -e '.Labels["org.example.k"] == "v"' <<<"$cfg"
  jq -e '.ExposedPorts | has("8080/tcp") and has("53/udp")' <<<"$cfg"
  jq -e '.Volumes | has("/data")' <<<"$cfg"
  jq -e '.StopSignal == "SIGINT"' <<<"$cfg"
}

@test "import -m sets the comment" {
  isola_ok import -m "imported for a test" "$(fx rootfs-tar)" c/msg
  assert_equal "$(inspect_field c/msg .Comment)" '"imported for a test"'
}

@test "import with a bad -c fails with a message and creates nothing" {
  local c
  for c in 'RUN echo no' 'BOGUS x' 'ENV' 'EXPOSE notaport'; do
    run --separate-stderr isola import -c "$c" "$(fx rootfs-tar)" c/bad
    echo "# -c '$c'"
    assert_status_in "1 125"
    [ -n "$stderr" ] || fail "no message for -c '$c'"
  done
  run isola images -q
  assert_output_empty
  assert_tmp_clean
}

@test "import of a nonexistent file fails with exit 1" {
  run --separate-stderr isola import /nonexistent/rootfs.tar x/y
  assert_status 1
  assert_stderr_matches '^Error: '
  run isola images -q
  assert_output_empty
}

@test "import with an invalid repository name fails" {
  run --separate-stderr isola import "$(fx rootfs-tar)" 'Bad/Name:x'
  assert_status_in "1 125"
  assert_stderr_matches 'invalid reference format'
  run isola images -q
  assert_output_empty
}
