#!/usr/bin/env bats
# isola image prune: dangling images (or all with -a), confirmation prompt unless -f.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file multilayer-oci sharedbase-oci untagged-oci; }
teardown_file() { common_teardown_file; }
setup() {
  setup_root
  load_fixture multilayer-oci
  load_fixture untagged-oci
  UNTAGGED=$(expected_id "$(fx untagged-oci)")
}
teardown() { teardown_root; }

PROMPT='Are you sure you want to continue? [y/N]'

@test "image prune -f removes dangling images only" {
  run --separate-stderr isola image prune -f
  assert_status 0
  assert_output_contains "$UNTAGGED"
  grep -Eq '^Total reclaimed space: [0-9.]+ ?(B|kB|MB|GB)$' <<<"$(tail -1 <<<"$output")" ||
    fail "output does not end with 'Total reclaimed space: SIZE': $output"
  refute_output_contains "Total reclaimed space: 0B"
  run isola images -q --no-trunc
  assert_equal "$output" "$(expected_id "$(fx multilayer-oci)")"
  assert_equal "$(snapshot_count)" 3
  assert_tmp_clean
}

@test "image prune -a -f removes every image and leaves no blobs or snapshots" {
  load_fixture sharedbase-oci
  run --separate-stderr isola image prune -a -f
  assert_status 0
  assert_output_matches '^Total reclaimed space: '
  assert_output_contains "fixture/multi:oci"
  assert_output_contains "fixture/shared:oci"
  run isola images -q
  assert_output_empty
  local left
  left=$(blob_and_snapshot_files)
  [ -z "$left" ] || fail "left behind: $left"
}

@test "image prune with nothing to prune reports 0B" {
  isola_ok image prune -f
  run --separate-stderr isola image prune -f
  assert_status 0
  assert_equal "$(tail -1 <<<"$output")" "Total reclaimed space: 0B"
}

@test "image prune asks for confirmation and 'n' keeps everything" {
  local before
  before=$(store_listing)
  run --separate-stderr isola image prune <<<"n"
  echo "stdout: $output"
  echo "stderr: $stderr"
  assert_status_in "0 1"
  [[ "$output$stderr" == *"$PROMPT"* ]] || fail "no prompt"
  assert_store_unchanged "$before"
  run isola images -q --no-trunc
  assert_output_contains "$UNTAGGED"
}

@test "image prune asks for confirmation and 'y' prunes" {
  run --separate-stderr isola image prune <<<"y"
  assert_status 0
  [[ "$output$stderr" == *"$PROMPT"* ]] || fail "no prompt"
  assert_output_contains "$UNTAGGED"
  assert_output_matches '^Total reclaimed space: '
  run isola images -q --no-trunc
  refute_output_contains "$UNTAGGED"
}

@test "image prune with empty stdin does not prune" {
  run --separate-stderr isola image prune </dev/null
  assert_status_in "0 1"
  run isola images -q --no-trunc
  assert_output_contains "$UNTAGGED"
}
