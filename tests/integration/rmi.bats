#!/usr/bin/env bats
# isola rmi: untag and delete, conflicts on multi-tag images by ID, garbage collection of blobs and snapshots.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file multilayer-oci sharedbase-oci untagged-oci; }
teardown_file() { common_teardown_file; }
setup() {
  setup_root
  load_fixture multilayer-oci
  ID=$(image_id fixture/multi:oci)
}
teardown() { teardown_root; }

assert_store_empty() {
  local left
  left=$(blob_and_snapshot_files)
  if [ -n "$left" ]; then
    echo "left behind after removing every image:"
    echo "$left" | head -50
    return 1
  fi
  run isola images -q
  assert_output_empty
}

@test "rmi of a single-tag image untags and deletes it, leaving no blobs or snapshots" {
  run --separate-stderr isola rmi fixture/multi:oci
  assert_status 0
  assert_equal "$(head -1 <<<"$output")" "Untagged: fixture/multi:oci"
  assert_output_matches "^Deleted: $ID\$"
  assert_store_empty
  assert_tmp_clean
}

@test "rmi by ID of a single-tag image deletes it" {
  run --separate-stderr isola rmi "${ID:7:12}"
  assert_status 0
  assert_output_contains "Untagged: fixture/multi:oci"
  assert_output_matches "^Deleted: $ID\$"
  assert_store_empty
}

@test "rmi by a tag of a multi-tag image only untags" {
  isola_ok tag fixture/multi:oci other/tag:1
  run --separate-stderr isola rmi other/tag:1
  assert_status 0
  assert_equal "$output" "Untagged: other/tag:1"
  assert_equal "$(image_tags)" "fixture/multi:oci"
  assert_equal "$(image_id fixture/multi:oci)" "$ID"
}

@test "rmi by ID of a multi-tag image is a conflict unless forced" {
  isola_ok tag fixture/multi:oci other/tag:1
  local before
  before=$(store_listing)
  run --separate-stderr isola rmi "${ID:7:12}"
  assert_status 1
  assert_stderr_matches '^Error: .*conflict.*must be forced'
  assert_store_unchanged "$before"
  run --separate-stderr isola rmi -f "$ID"
  assert_status 0
  assert_output_contains "Untagged: fixture/multi:oci"
  assert_output_contains "Untagged: other/tag:1"
  assert_output_matches "^Deleted: $ID\$"
  assert_store_empty
}

@test "rmi of an untagged image by ID deletes it" {
  load_fixture untagged-oci
  local uid
  uid=$(expected_id "$(fx untagged-oci)")
  run --separate-stderr isola rmi "$uid"
  assert_status 0
  assert_output_matches "^Deleted: $uid\$"
  refute_output_contains "Untagged"
  assert_equal "$(image_tags)" "fixture/multi:oci"
}

@test "rmi of an unknown image fails with 'No such image'" {
  local before
  before=$(store_listing)
  run --separate-stderr isola rmi no/such:image
  assert_status 1
  assert_stderr_matches '^Error: .*No such image: no/such:image'
  assert_store_unchanged "$before"
}

@test "rmi with one unknown and one known image removes the known one and exits 1" {
  run --separate-stderr isola rmi no/such:image fixture/multi:oci
  assert_status 1
  assert_stderr_matches 'No such image'
  assert_output_contains "Untagged: fixture/multi:oci"
  assert_store_empty
}

@test "rmi keeps snapshots and blobs another image still uses" {
  load_fixture sharedbase-oci
  assert_equal "$(snapshot_count)" 4
  isola_ok rmi fixture/shared:oci
  assert_equal "$(snapshot_count)" 3
  # the remaining image is intact: it mounts with its full content
  mount_image fixture/multi:oci
  [ -f "$MNT/data/added" ] && [ -f "$MNT/deep/a/b/c/file" ] && [ -f "$MNT/data/owned" ] || fail "content missing"
  isola_ok image unmount fixture/multi:oci
  # and saving it still finds every blob
  isola_ok save -o "$BATS_TEST_TMPDIR/m.tar" fixture/multi:oci
  isola_ok rmi fixture/multi:oci
  assert_store_empty
}

@test "rmi of several images at once" {
  load_fixture sharedbase-oci
  load_fixture untagged-oci
  local sid uid
  sid=$(image_id fixture/shared:oci)
  uid=$(expected_id "$(fx untagged-oci)")
  run --separate-stderr isola rmi fixture/multi:oci fixture/shared:oci "$uid"
  assert_status 0
  assert_output_matches "^Deleted: $ID\$"
  assert_output_matches "^Deleted: $sid\$"
  assert_output_matches "^Deleted: $uid\$"
  assert_store_empty
}
