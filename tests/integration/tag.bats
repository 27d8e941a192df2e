#!/usr/bin/env bats
# isola tag SOURCE TARGET: source by name[:tag], full ID or unique prefix; target validated as a reference.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file multilayer-oci sharedbase-oci; }
teardown_file() { common_teardown_file; }
setup() {
  setup_root
  load_fixture multilayer-oci
  ID=$(image_id fixture/multi:oci)
}
teardown() { teardown_root; }

@test "tag by name:tag adds a tag to the same image" {
  run --separate-stderr isola tag fixture/multi:oci new/name:v1
  assert_status 0
  assert_output_empty
  assert_equal "$(image_id new/name:v1)" "$ID"
  assert_equal "$(image_tags)" "$(printf 'fixture/multi:oci\nnew/name:v1')"
}

@test "tag without a target tag means :latest" {
  isola_ok tag fixture/multi:oci plain
  assert_equal "$(image_id plain:latest)" "$ID"
  # and a source without a tag means :latest too
  isola_ok tag plain again:1
  assert_equal "$(image_id again:1)" "$ID"
}

@test "tag by full ID, by bare 64-hex ID and by unique prefix" {
  isola_ok tag "$ID" by/full-id
  isola_ok tag "${ID#sha256:}" by/hex
  isola_ok tag "${ID:7:12}" by/prefix12
  isola_ok tag "${ID:7:5}" by/prefix5
  isola_ok tag "sha256:${ID:7:8}" by/sha-prefix
  local r
  for r in by/full-id by/hex by/prefix12 by/prefix5 by/sha-prefix; do
    assert_equal "$(image_id "$r")" "$ID"
  done
}

@test "tag normalizes docker.io/library/ names" {
  isola_ok tag fixture/multi:oci docker.io/library/short:1
  run isola images
  assert_output_matches '^short {3,}1 {3,}'
  assert_equal "$(image_id short:1)" "$ID"
  assert_equal "$(image_id docker.io/library/short:1)" "$ID"
}

@test "tag moves an existing tag to another image" {
  load_fixture sharedbase-oci
  isola_ok tag fixture/multi:oci moving:tag
  isola_ok tag fixture/shared:oci moving:tag
  assert_equal "$(image_id moving:tag)" "$(image_id fixture/shared:oci)"
  assert_equal "$(image_id fixture/multi:oci)" "$ID"
}

@test "tag of an unknown source fails with 'No such image'" {
  local before
  before=$(store_listing)
  run --separate-stderr isola tag no/such:image x/y:z
  assert_status 1
  assert_stderr_matches '^Error: .*No such image'
  run --separate-stderr isola tag fixture/multi x/y:z # fixture/multi:latest does not exist
  assert_status 1
  assert_stderr_matches 'No such image'
  run --separate-stderr isola tag 0123456789ab x/y:z
  assert_status 1
  assert_stderr_matches 'No such image'
  assert_store_unchanged "$before"
}

@test "tag to an invalid target fails with 'invalid reference format'" {
  local before t
  before=$(store_listing)
  for t in 'Upper/Case:x' 'a:b:c' ':notag' 'name:' 'bad tag' "name:$(printf 't%.0s' {1..129})" 'x@sha256:abc'; do
    run --separate-stderr isola tag fixture/multi:oci "$t"
    echo "# target '$t'"
    assert_status_in "1 125"
    assert_stderr_matches 'invalid reference format'
  done
  assert_store_unchanged "$before"
}
