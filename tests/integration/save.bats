#!/usr/bin/env bats
# isola save: OCI layout archives with a Docker-compatible manifest.json, readable by isola, skopeo and podman.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file multilayer-oci sharedbase-oci; }
teardown_file() { common_teardown_file; }
setup() {
  setup_root
  load_fixture multilayer-oci
  OUT=$BATS_TEST_TMPDIR/out.tar
}
teardown() { teardown_root; }

# check_layout ARCHIVE: every blob matches its name; index.json -> manifests -> config/layers are all present;
# manifest.json's paths exist.
check_layout() {
  local a=$1 dir=$BATS_TEST_TMPDIR/layout f m d
  rm -rf "$dir" && mkdir -p "$dir"
  tar -C "$dir" -xf "$a"
  [ -f "$dir/oci-layout" ] || fail "no oci-layout"
  jq -e '.imageLayoutVersion == "1.0.0"' "$dir/oci-layout" >/dev/null || fail "bad oci-layout"
  [ -f "$dir/index.json" ] || fail "no index.json"
  [ -f "$dir/manifest.json" ] || fail "no manifest.json"
  for f in "$dir"/blobs/sha256/*; do
    [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "blob $(basename "$f") does not match its digest"
  done
  for m in $(jq -r '.manifests[].digest | sub("^sha256:"; "")' "$dir/index.json"); do
    [ -f "$dir/blobs/sha256/$m" ] || fail "manifest blob $m missing"
    for d in $(jq -r '.config.digest, .layers[].digest | sub("^sha256:"; "")' "$dir/blobs/sha256/$m"); do
      [ -f "$dir/blobs/sha256/$d" ] || fail "blob $d (from manifest $m) missing"
    done
  done
  for f in $(jq -r '.[] | .Config, .Layers[]' "$dir/manifest.json"); do
    [ -f "$dir/$f" ] || fail "manifest.json names $f, which is not in the archive"
  done
}

@test "save -o writes an OCI layout with annotations and a Docker manifest.json" {
  run --separate-stderr isola save -o "$OUT" fixture/multi:oci
  assert_status 0
  assert_output_empty
  check_layout "$OUT"
  run tar -xOf "$OUT" index.json
  echo "index.json: $output"
  jq -e '.manifests | length == 1' <<<"$output"
  jq -e '.manifests[0].annotations["io.containerd.image.name"] == "docker.io/fixture/multi:oci"' <<<"$output"
  jq -e '.manifests[0].annotations["org.opencontainers.image.ref.name"] | type == "string" and length > 0' <<<"$output"
  run tar -xOf "$OUT" manifest.json
  echo "manifest.json: $output"
  jq -e '.[0].RepoTags == ["fixture/multi:oci"]' <<<"$output"
  jq -e '.[0].Layers | length == 3' <<<"$output"
  # the config is stored byte for byte: its digest is the image ID
  assert_equal "$(jq -r '.[0].Config' <<<"$output")" "blobs/sha256/$(image_id fixture/multi:oci | cut -d: -f2)"
  assert_tmp_clean
}

@test "save and load round trip to the same image ID and tag in a fresh root" {
  local id other
  id=$(image_id fixture/multi:oci)
  isola_ok save -o "$OUT" fixture/multi:oci
  other=$(new_root)
  run --separate-stderr isola --root "$other" load -i "$OUT"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/multi:oci"
  assert_equal "$(isola --root "$other" image inspect fixture/multi:oci | jq -r '.[0].Id')" "$id"
  # and back into the same root after removing it
  isola_ok rmi fixture/multi:oci
  isola_ok load -i "$OUT"
  assert_equal "$(image_id fixture/multi:oci)" "$id"
}

@test "save to stdout when it is not a terminal" {
  isola save fixture/multi:oci >"$OUT"
  check_layout "$OUT"
  local other
  other=$(new_root)
  run isola --root "$other" load -i "$OUT"
  assert_status 0
  assert_output_contains "Loaded image: fixture/multi:oci"
}

@test "save without -o refuses to write to a terminal" {
  run script -qec "$ISOLA save fixture/multi:oci" /dev/null
  echo "$output"
  [ "$status" -ne 0 ] || fail "save wrote to a terminal (status 0)"
  assert_status_in "1 125"
  assert_output_contains "Error:"
  assert_output_matches '-o|terminal|redirect'
}

@test "save of several images writes all of them" {
  load_fixture sharedbase-oci
  isola_ok save -o "$OUT" fixture/multi:oci fixture/shared:oci
  check_layout "$OUT"
  jq -e '.manifests | length == 2' <(tar -xOf "$OUT" index.json)
  jq -e '[.[].RepoTags[]] | sort == ["fixture/multi:oci", "fixture/shared:oci"]' <(tar -xOf "$OUT" manifest.json)
  local other
  other=$(new_root)
  run --separate-stderr isola --root "$other" load -i "$OUT"
  assert_status 0
  assert_output_contains "Loaded image: fixture/multi:oci"
  assert_output_contains "Loaded image: fixture/shared:oci"
}

@test "save of two tags of one image keeps both tags" {
  isola_ok tag fixture/multi:oci fixture/multi:second
  isola_ok save -o "$OUT" fixture/multi:oci fixture/multi:second
  check_layout "$OUT"
  local other
  other=$(new_root)
  isola_ok --root "$other" load -i "$OUT"
  assert_equal "$(ISOLA_ROOT=$other image_tags)" "$(printf 'fixture/multi:oci\nfixture/multi:second')"
}

@test "save by image ID writes an untagged image" {
  local id other
  id=$(image_id fixture/multi:oci)
  isola_ok save -o "$OUT" "$id"
  check_layout "$OUT"
  other=$(new_root)
  run --separate-stderr isola --root "$other" load -i "$OUT"
  assert_status 0
  assert_equal "$output" "Loaded image ID: $id"
}

@test "save of an unknown image fails with 'No such image' and writes no file" {
  run --separate-stderr isola save -o "$OUT" no/such:image
  assert_status 1
  assert_stderr_matches '^Error: .*No such image'
  [ ! -e "$OUT" ] || fail "$OUT was created"
}

@test "skopeo accepts the saved archive" {
  isola_ok save -o "$OUT" fixture/multi:oci
  run skopeo inspect "oci-archive:$OUT"
  assert_status 0
  jq -e '.Architecture == "amd64" and .Os == "linux" and (.Layers | length == 3)' <<<"$output"
  run skopeo inspect --config "oci-archive:$OUT"
  assert_status 0
  jq -e '.rootfs.diff_ids | length == 3' <<<"$output"
}

@test "podman loads the saved archive to the same image ID" {
  command -v podman >/dev/null || skip "podman not installed"
  isola_ok save -o "$OUT" fixture/multi:oci
  local t id
  t=$(new_root)
  id=$(image_id fixture/multi:oci)
  run podman --root "$t/podroot" --runroot "$t/podrun" --storage-driver vfs --events-backend none \
    load -i "$OUT"
  assert_status 0
  run podman --root "$t/podroot" --runroot "$t/podrun" --storage-driver vfs --events-backend none \
    images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'
  assert_status 0
  assert_output_contains "${id#sha256:}"
  assert_output_contains "fixture/multi:oci"
}

@test "save of busybox names it docker.io/library/busybox:latest and skopeo reads it" {
  require_busybox_image
  isola_ok load -i "$ISOLA_IMAGE"
  isola_ok save -o "$OUT" busybox
  check_layout "$OUT"
  jq -e '.manifests[0].annotations["io.containerd.image.name"] == "docker.io/library/busybox:latest"' \
    <(tar -xOf "$OUT" index.json)
  jq -e '.[0].RepoTags == ["busybox:latest"]' <(tar -xOf "$OUT" manifest.json)
  run skopeo inspect "oci-archive:$OUT"
  assert_status 0
}
