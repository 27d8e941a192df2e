#!/usr/bin/env bats
# isola load: archive formats, tags, idempotence, snapshot reuse, failures leave the store as it was.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() {
  common_setup_file multilayer-legacy multilayer-docker25 multilayer-oci gzip-of-oci zstd-of-oci sharedbase-oci \
    untagged-oci
}
teardown_file() { common_teardown_file; }
setup() { setup_root; }
teardown() { teardown_root; }

HEX64='[0-9a-f]{64}'

# retar SRC DEST FILE JQ: copies archive SRC to DEST with FILE (a JSON member) rewritten by the jq program JQ.
retar() {
  local src=$1 dest=$2 member=$3 prog=$4 dir
  dir=$BATS_TEST_TMPDIR/retar
  rm -rf "$dir" && mkdir -p "$dir"
  tar -C "$dir" -xf "$src"
  jq -c "$prog" "$dir/$member" >"$dir/$member.new" && mv "$dir/$member.new" "$dir/$member"
  (cd "$dir" && tar --sort=name --owner=0 --group=0 --numeric-owner -cf "$dest" -- *)
}

@test "load a legacy docker-save archive" {
  run --separate-stderr isola load -i "$(fx multilayer-legacy)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:legacy"
  assert_equal "$(image_id fixture/multi:legacy)" "$(expected_id "$(fx multilayer-oci)")"
  assert_tmp_clean
}

@test "load a Docker >= 25 archive: tags from manifest.json, not doubled by index.json" {
  run --separate-stderr isola load -i "$(fx multilayer-docker25)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:docker25"
  assert_equal "$(image_tags)" "fixture/multi:docker25"
  assert_tmp_clean
}

@test "load a Docker >= 25 archive: RepoTags from manifest.json win over index annotations" {
  local a=$BATS_TEST_TMPDIR/repotags.tar
  retar "$(fx multilayer-docker25)" "$a" manifest.json '.[0].RepoTags = ["fixture/other:repotags"]'
  run --separate-stderr isola load -i "$a"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/other:repotags"
  assert_equal "$(image_tags)" "fixture/other:repotags"
}

@test "load an OCI archive from stdin" {
  run --separate-stderr isola load <"$(fx multilayer-oci)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:oci"
  assert_equal "$(image_id fixture/multi:oci)" "$(expected_id "$(fx multilayer-oci)")"
  assert_tmp_clean
}

@test "load an OCI archive: io.containerd.image.name wins over org.opencontainers.image.ref.name" {
  local a=$BATS_TEST_TMPDIR/containerd.tar
  retar "$(fx multilayer-oci)" "$a" index.json \
    '.manifests[0].annotations["io.containerd.image.name"] = "docker.io/fixture/multi:containerd"'
  run --separate-stderr isola load -i "$a"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:containerd"
  assert_equal "$(image_tags)" "fixture/multi:containerd"
}

@test "load an OCI archive whose ref.name is a bare tag gives an untagged image" {
  run --separate-stderr isola load -i "$(fx untagged-oci)"
  assert_status 0
  assert_output_matches "^Loaded image ID: sha256:$HEX64\$"
  assert_equal "$(printf '%s\n' "$output" | wc -l)" 1
  assert_equal "${output#Loaded image ID: }" "$(expected_id "$(fx untagged-oci)")"
  run isola images
  assert_status 0
  assert_output_matches '^<none> {3,}<none> {3,}[0-9a-f]{12} '
}

@test "load an OCI archive with no name annotation at all gives an untagged image" {
  local a=$BATS_TEST_TMPDIR/noname.tar
  retar "$(fx multilayer-oci)" "$a" index.json 'del(.manifests[0].annotations)'
  run --separate-stderr isola load -i "$a"
  assert_status 0
  assert_equal "$output" "Loaded image ID: $(expected_id "$(fx multilayer-oci)")"
}

@test "load a gzip-compressed archive (file and stdin)" {
  run --separate-stderr isola load -i "$(fx gzip-of-oci)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:oci"
  assert_equal "$(image_id fixture/multi:oci)" "$(expected_id "$(fx multilayer-oci)")"
  isola_ok rmi fixture/multi:oci
  run --separate-stderr isola load <"$(fx gzip-of-oci)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:oci"
}

@test "load a zstd-compressed archive" {
  run --separate-stderr isola load -i "$(fx zstd-of-oci)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:oci"
  assert_equal "$(image_id fixture/multi:oci)" "$(expected_id "$(fx multilayer-oci)")"
}

@test "the three archive formats load to the same image ID" {
  local want k
  want=$(expected_id "$(fx multilayer-oci)")
  for k in multilayer-legacy multilayer-docker25 multilayer-oci; do
    load_fixture $k
  done
  assert_equal "$(image_id fixture/multi:legacy)" "$want"
  assert_equal "$(image_id fixture/multi:docker25)" "$want"
  assert_equal "$(image_id fixture/multi:oci)" "$want"
  run isola images -q --no-trunc
  assert_status 0
  assert_equal "$(sort -u <<<"$output")" "$want"
}

@test "load -q hides only progress, like docker: the Loaded line stays" {
  run --separate-stderr isola load -q -i "$(fx multilayer-oci)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:oci"
  assert_equal "$stderr" ""
  assert_equal "$(image_tags)" "fixture/multi:oci"
}

@test "loading the same archive twice is idempotent" {
  load_fixture multilayer-oci
  local before
  before=$(store_listing)
  run --separate-stderr isola load -i "$(fx multilayer-oci)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:oci"
  assert_store_unchanged "$before"
  assert_tmp_clean
}

@test "loading an archive moves an existing tag to the loaded image" {
  load_fixture sharedbase-oci
  isola_ok tag fixture/shared:oci fixture/multi:oci
  run --separate-stderr isola load -i "$(fx multilayer-oci)"
  assert_status 0
  assert_output_contains "Loaded image: fixture/multi:oci"
  assert_equal "$(image_id fixture/multi:oci)" "$(expected_id "$(fx multilayer-oci)")"
  assert_equal "$(image_id fixture/shared:oci)" "$(expected_id "$(fx sharedbase-oci)")"
}

@test "snapshots are shared between images and archive formats" {
  load_fixture multilayer-oci
  assert_equal "$(snapshot_count)" 3
  load_fixture sharedbase-oci
  assert_equal "$(snapshot_count)" 4
  load_fixture multilayer-legacy
  assert_equal "$(snapshot_count)" 4
  load_fixture multilayer-docker25
  assert_equal "$(snapshot_count)" 4
  assert_equal "$(image_id fixture/multi:legacy)" "$(image_id fixture/multi:oci)"
  assert_tmp_clean
}

@test "load of the default busybox image" {
  require_busybox_image
  run --separate-stderr isola load -i "$ISOLA_IMAGE"
  assert_status 0
  assert_equal "$output" "Loaded image: busybox:latest"
  assert_equal "$(image_tags)" "busybox:latest"
}

@test "load from a terminal without -i fails instead of waiting" {
  run timeout 20 script -qec "$ISOLA load" /dev/null
  echo "$output"
  [ "$status" -ne 124 ] || fail "load waited on the terminal"
  assert_status_in "1 125"
  assert_output_contains "Error:"
}

@test "load of a missing file fails with exit 1" {
  run --separate-stderr isola load -i /nonexistent/archive.tar
  assert_status 1
  assert_stderr_matches '^Error: .*(/nonexistent/archive.tar|[Nn]o such file)'
}

@test "load of garbage, an empty stream or a non-image tar fails and leaves the store as it was" {
  load_fixture multilayer-oci
  local before junk=$BATS_TEST_TMPDIR/junk
  before=$(store_listing)

  head -c 5000 /dev/urandom >"$junk"
  run --separate-stderr isola load -i "$junk"
  assert_status 1
  assert_stderr_matches '^Error: '
  assert_store_unchanged "$before"

  run --separate-stderr isola load </dev/null
  assert_status 1
  assert_stderr_matches '^Error: '
  assert_store_unchanged "$before"

  tar -C "$REPO/tests/fixtures" -cf "$junk" mkfixture.py
  run --separate-stderr isola load -i "$junk"
  assert_status 1
  assert_stderr_matches '^Error: .*(manifest|index|[Nn]ot an? |image)'
  assert_store_unchanged "$before"
  assert_tmp_clean
  assert_equal "$(image_tags)" "fixture/multi:oci"
}
