#!/usr/bin/env bats
# Several isola processes on one root at once, and a load killed with SIGKILL half way.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

LARGE_MB=${ISOLA_TEST_LARGE_MB:-200}

setup_file() {
  export MKFIXTURE_LARGE_MB=$LARGE_MB
  common_setup_file multilayer-legacy multilayer-docker25 multilayer-oci sharedbase-oci untagged-oci large-oci
}
teardown_file() { common_teardown_file; }
setup() { setup_root; }
teardown() {
  local p
  for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  teardown_root
}

BG_PIDS=()

# bg NAME ARGS...: runs `isola ARGS` in the background, output in $BATS_TEST_TMPDIR/NAME.{out,rc}.
bg() {
  local name=$1
  shift
  (
    isola "$@" >"$BATS_TEST_TMPDIR/$name.out" 2>&1
    echo $? >"$BATS_TEST_TMPDIR/$name.rc"
  ) &
  BG_PIDS+=($!)
}

# wait_all NAME...: waits for the background jobs and asserts each exited 0.
wait_all() {
  local name bad=0
  wait "${BG_PIDS[@]}" || true
  BG_PIDS=()
  for name in "$@"; do
    if [ "$(cat "$BATS_TEST_TMPDIR/$name.rc" 2>/dev/null)" != 0 ]; then
      echo "$name: exit $(cat "$BATS_TEST_TMPDIR/$name.rc" 2>/dev/null), output:"
      cat "$BATS_TEST_TMPDIR/$name.out"
      bad=1
    fi
  done
  return $bad
}

@test "parallel loads of different archives, tags and listings on one root all succeed" {
  load_fixture sharedbase-oci
  local i
  bg l1 load -i "$(fx multilayer-legacy)"
  bg l2 load -i "$(fx multilayer-docker25)"
  bg l3 load -i "$(fx multilayer-oci)"
  bg l4 load -i "$(fx untagged-oci)"
  for i in 1 2 3 4; do
    bg "t$i" tag fixture/shared:oci "par/t$i:latest"
    bg "i$i" images
  done
  wait_all l1 l2 l3 l4 t1 t2 t3 t4 i1 i2 i3 i4
  assert_equal "$(image_tags)" "$(printf '%s\n' fixture/multi:docker25 fixture/multi:legacy fixture/multi:oci \
    fixture/shared:oci par/t1:latest par/t2:latest par/t3:latest par/t4:latest)"
  run isola images -q --no-trunc
  assert_output_contains "$(expected_id "$(fx untagged-oci)")"
  assert_equal "$(image_id fixture/multi:legacy)" "$(expected_id "$(fx multilayer-oci)")"
  assert_equal "$(snapshot_count)" 5
  assert_tmp_clean
  mount_image fixture/multi:legacy
  [ -f "$MNT/data/added" ] && [ -f "$MNT/deep/a/b/c/file" ] && [ ! -e "$MNT/data/hello" ] || fail "bad tree"
  isola_ok image unmount fixture/multi:legacy
}

@test "parallel loads of the same archive agree on one image" {
  local i
  for i in 1 2 3 4; do bg "l$i" load -i "$(fx multilayer-oci)"; done
  wait_all l1 l2 l3 l4
  assert_equal "$(image_tags)" "fixture/multi:oci"
  assert_equal "$(snapshot_count)" 3
  assert_tmp_clean
  mount_image fixture/multi:oci
  [ -f "$MNT/data/added" ] && [ "$(cat "$MNT/data/hl-lower")" = "owned by 1000" ] || fail "bad tree"
  isola_ok image unmount fixture/multi:oci
}

@test "rmi racing a load that reuses its layers leaves the loaded image complete" {
  local round
  for round in 1 2 3; do
    load_fixture multilayer-oci
    bg rmi rmi fixture/multi:oci
    bg load load -i "$(fx sharedbase-oci)"
    wait_all rmi load
    mount_image fixture/shared:oci
    [ -f "$MNT/data/added" ] && [ -f "$MNT/data/owned" ] && [ -f "$MNT/shared/only-in-shared" ] ||
      fail "round $round: fixture/shared:oci lost content: $(cd "$MNT" && find . | sort | tr '\n' ' ')"
    isola_ok image unmount fixture/shared:oci
    isola_ok rmi fixture/shared:oci
    [ -z "$(blob_and_snapshot_files)" ] || fail "round $round: left behind: $(blob_and_snapshot_files)"
  done
  assert_tmp_clean
}

@test "parallel mounts of one image give one mount" {
  load_fixture multilayer-oci
  local i
  for i in 1 2 3 4; do bg "m$i" image mount fixture/multi:oci; done
  wait_all m1 m2 m3 m4
  local paths
  paths=$(cat "$BATS_TEST_TMPDIR"/m?.out | sort -u)
  assert_equal "$(wc -l <<<"$paths")" 1
  assert_equal "$(findmnt -n --mountpoint "$paths" | wc -l)" 1
  isola_ok image unmount fixture/multi:oci
  ! mountpoint -q "$paths" || fail "$paths still mounted"
}

@test "kill -9 during a load leaves the whole image or nothing, and prune + reload recover" {
  local pid i killed=0 used
  "$ISOLA" load -i "$(fx large-oci)" >"$BATS_TEST_TMPDIR/killed.out" 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  # wait until the load is visibly under way (the root has grown) before killing it
  for i in $(seq 1 400); do
    kill -0 "$pid" 2>/dev/null || break
    used=$(du -sm "$ISOLA_ROOT" 2>/dev/null | cut -f1)
    [ "${used:-0}" -ge 20 ] && break
    sleep 0.025
  done
  kill -9 "$pid" 2>/dev/null && killed=1
  wait "$pid" 2>/dev/null || true
  BG_PIDS=()
  if [ "$killed" -eq 0 ]; then
    echo "# note: the load finished before it could be killed (${LARGE_MB} MB); only recovery is tested" >&3
  else
    echo "# killed after the root reached ${used:-?} MB" >&3
  fi

  run --separate-stderr isola images
  assert_status 0
  if grep -q '^fixture/large ' <<<"$output"; then
    # the load had committed: the image must be complete
    mount_image fixture/large:latest
    assert_equal "$(stat -c %s "$MNT/big/file")" $((LARGE_MB << 20))
    isola_ok image unmount fixture/large:latest
  else
    [ "$(wc -l <<<"$output")" -eq 1 ] || fail "a partial image is listed: $output"
  fi

  run --separate-stderr isola image prune -f
  assert_status 0
  assert_tmp_clean || fail "prune left the killed load's temporary files"

  run --separate-stderr isola load -i "$(fx large-oci)"
  assert_status 0
  assert_equal "$output" "Loaded image: fixture/large:latest"
  mount_image fixture/large:latest
  assert_equal "$(stat -c %s "$MNT/big/file")" $((LARGE_MB << 20))
  assert_equal "$(cat "$MNT/big/small")" "small"
  isola_ok image unmount fixture/large:latest
  isola_ok rmi fixture/large:latest
  [ -z "$(blob_and_snapshot_files)" ] || fail "left behind: $(blob_and_snapshot_files)"
}

# ---- a load stages without the store lock (issue 11) ----------------------------------------------------------------

# stalled_load NAME ARCHIVE GO: `isola load` from a pipe that gives the first half of ARCHIVE, then waits for the file
# GO before the rest: a load that stays in its staging as long as the test wants.  Output in NAME.{out,rc}.
stalled_load() {
  local name=$1 a=$2 go=$3 n
  n=$(($(stat -c %s "$a") / 2))
  (
    {
      head -c "$n" "$a"
      while [ ! -e "$go" ]; do sleep 0.05; done
      tail -c +$((n + 1)) "$a"
    } | isola load >"$BATS_TEST_TMPDIR/$name.out" 2>&1
    echo $? >"$BATS_TEST_TMPDIR/$name.rc"
  ) &
  BG_PIDS+=($!)
}

# staging_count: the loads staging in the root now.
staging_count() {
  find "$ISOLA_ROOT/tmp" -mindepth 1 -maxdepth 1 -name 'load-*' | wc -l
}

@test "images and tag answer while a load stages: it takes the store lock only to publish" {
  load_fixture sharedbase-oci
  stalled_load l1 "$(fx multilayer-oci)" "$BATS_TEST_TMPDIR/go"
  wait_until 30 eval '[ "$(staging_count)" = 1 ]'
  local t0
  t0=$(now_ms)
  run --separate-stderr timeout 60 "$ISOLA" images
  assert_status 0
  assert_output_contains fixture/shared
  echo "# images took $(($(now_ms) - t0)) ms while the load staged" >&3
  # an exclusive opener (tag) clears tmp/ but for the staging directory in use
  run --separate-stderr timeout 60 "$ISOLA" tag fixture/shared:oci during/load:1
  assert_status 0
  [ "$(staging_count)" = 1 ] || fail "the load's staging directory is gone"
  [ ! -e "$BATS_TEST_TMPDIR/l1.rc" ] || fail "the load ended before it was let go on: $(cat "$BATS_TEST_TMPDIR/l1.out")"
  touch "$BATS_TEST_TMPDIR/go"
  wait_all l1
  assert_equal "$(image_tags)" "$(printf '%s\n' during/load:1 fixture/multi:oci fixture/shared:oci)"
  assert_tmp_clean
  mount_image fixture/multi:oci
  [ -f "$MNT/data/added" ] && [ "$(cat "$MNT/data/hl-lower")" = "owned by 1000" ] || fail "bad tree"
  isola_ok image unmount fixture/multi:oci
}

@test "two loads of images with shared layers, staged at once, both succeed" {
  stalled_load l1 "$(fx multilayer-oci)" "$BATS_TEST_TMPDIR/go"
  stalled_load l2 "$(fx sharedbase-oci)" "$BATS_TEST_TMPDIR/go"
  wait_until 30 eval '[ "$(staging_count)" = 2 ]'
  touch "$BATS_TEST_TMPDIR/go"
  wait_all l1 l2
  assert_equal "$(image_tags)" "$(printf '%s\n' fixture/multi:oci fixture/shared:oci)"
  assert_tmp_clean
  mount_image fixture/shared:oci
  [ -f "$MNT/data/added" ] && [ -f "$MNT/data/owned" ] && [ -f "$MNT/shared/only-in-shared" ] || fail "bad tree"
  isola_ok image unmount fixture/shared:oci
  isola_ok rmi fixture/multi:oci fixture/shared:oci
  [ -z "$(blob_and_snapshot_files)" ] || fail "left behind: $(blob_and_snapshot_files)"
}

@test "rmi and image prune during a load's staging wait for its publication and leave the store consistent" {
  load_fixture multilayer-oci
  # the staged load reuses the layers of fixture/multi:oci, which rmi would collect
  stalled_load l1 "$(fx sharedbase-oci)" "$BATS_TEST_TMPDIR/go"
  wait_until 30 eval '[ "$(staging_count)" = 1 ]'
  bg rmi rmi fixture/multi:oci
  # rmi untags only once the load has published; the store lock stays free meanwhile
  sleep 0.5
  run --separate-stderr timeout 60 "$ISOLA" images
  assert_status 0
  assert_output_contains fixture/multi
  touch "$BATS_TEST_TMPDIR/go"
  wait_all l1 rmi
  assert_equal "$(image_tags)" fixture/shared:oci
  mount_image fixture/shared:oci
  [ -f "$MNT/data/added" ] && [ -f "$MNT/data/owned" ] && [ -f "$MNT/shared/only-in-shared" ] ||
    fail "fixture/shared:oci lost content: $(cd "$MNT" && find . | sort | tr '\n' ' ')"
  isola_ok image unmount fixture/shared:oci

  rm "$BATS_TEST_TMPDIR/go"
  stalled_load l2 "$(fx multilayer-oci)" "$BATS_TEST_TMPDIR/go"
  wait_until 30 eval '[ "$(staging_count)" = 1 ]'
  bg prune image prune -a -f
  sleep 0.5
  touch "$BATS_TEST_TMPDIR/go"
  wait_all l2 prune
  # prune -a ran after the load's publication: nothing is left, and nothing dangles
  assert_equal "$(image_tags)" ""
  [ -z "$(blob_and_snapshot_files)" ] || fail "left behind: $(blob_and_snapshot_files)"
  assert_tmp_clean
}
