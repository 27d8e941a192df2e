#!/usr/bin/env bats
# Hostile archives: every load fails with exit 1 and a message saying what is wrong, the store is left exactly as it
# was, and nothing is written outside the root.  evil-absolute is the exception: absolute member names are taken
# relative to the image root, so it loads and /abs-file appears inside the image only.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

EVIL=(evil-dotdot evil-absolute evil-symlink evil-symlink-rel evil-hardlink evil-digest evil-diffid evil-truncated
  evil-badjson evil-missingblob evil-path evil-layer-truncated)
ESCAPE_NAME=isola-escape-5f0c8d2e # the name mkfixture.py's evil-symlink writes through esc -> /tmp

setup_file() { common_setup_file multilayer-oci "${EVIL[@]}"; }
teardown_file() { common_teardown_file; }
setup() {
  local f
  for f in "${ESCAPE_FILES[@]}"; do
    [ ! -e "$f" ] || fail "$f exists before the test (left by an earlier run?); remove it"
  done
  setup_root
  MARKER=$BATS_TEST_TMPDIR/marker
  touch "$MARKER"
  PASSWD_SUM=$(sha256sum /etc/passwd)
  # a store with an image in it, so "unchanged" means more than "still empty"
  load_fixture multilayer-oci
  BEFORE=$(store_listing)
}
ESCAPE_FILES=("/tmp/$ESCAPE_NAME" /abs-file /escape-dotdot /escape /tmp/escape-dotdot /tmp/escape)

teardown() {
  local f
  # remove what a failing test let escape (only files created since the test started)
  for f in "${ESCAPE_FILES[@]}"; do
    if [ -e "$f" ] && [ "$f" -nt "$MARKER" ]; then rm -f "$f"; fi
  done
  teardown_root
}

# nothing_escaped: no file the fixtures try to plant exists outside the root, and /etc/passwd is unchanged.
nothing_escaped() {
  local f
  for f in "${ESCAPE_FILES[@]}"; do
    [ ! -e "$f" ] || fail "$f was created outside the root"
  done
  f=$(find /tmp -maxdepth 4 -newer "$MARKER" \( -name 'escape*' -o -name "$ESCAPE_NAME" -o -name abs-file \) \
    -not -path "$ISOLA_ROOT/*" -not -path "$FIXTURES/*" 2>/dev/null | head -5)
  [ -z "$f" ] || fail "created outside the root: $f"
  assert_equal "$(sha256sum /etc/passwd)" "$PASSWD_SUM"
}

# load_must_fail KIND ERE: exit 1, "Error: " message matching ERE (case-insensitive), store unchanged.
load_must_fail() {
  run --separate-stderr isola load -i "$(fx "$1")"
  echo "# load $1: status $status"
  echo "# stdout: $output"
  echo "# stderr: $stderr"
  assert_status 1
  assert_stderr_matches '^Error: '
  grep -Eiq -- "$2" <<<"$stderr" || fail "message does not match /$2/"
  refute_output_contains "Loaded image"
  assert_store_unchanged "$BEFORE"
  assert_tmp_clean
  nothing_escaped
  assert_equal "$(image_tags)" "fixture/multi:oci"
}

@test "evil-dotdot: a ../ member name is refused" {
  load_must_fail evil-dotdot 'escape|unsafe|\.\.'
}

@test "evil-absolute: an absolute member name stays inside the image" {
  run --separate-stderr isola load -i "$(fx evil-absolute)"
  assert_status 0
  assert_equal "$output" "Loaded image: evil/absolute:latest"
  nothing_escaped
  mount_image evil/absolute:latest
  assert_equal "$(cat "$MNT/abs-file")" "absolute"
  assert_equal "$(cat "$MNT/ok")" "ok"
  isola_ok image unmount evil/absolute:latest
  assert_tmp_clean
}

@test "evil-symlink: writing through a symlink to /tmp is refused" {
  load_must_fail evil-symlink 'escape|unsafe|symlink|symbolic'
}

@test "evil-symlink-rel: writing through a relative symlink out of the layer is refused" {
  load_must_fail evil-symlink-rel 'escape|unsafe|symlink|symbolic'
}

@test "evil-hardlink: a hard link to ../../../etc/passwd is refused" {
  load_must_fail evil-hardlink 'escape|unsafe|link'
  # no file in the store shares /etc/passwd's inode
  local ino
  ino=$(stat -c %i /etc/passwd)
  [ -z "$(find "$ISOLA_ROOT" -xdev -inum "$ino" 2>/dev/null)" ] || fail "a hard link to /etc/passwd is in the store"
}

@test "evil-digest: a blob that does not match its digest is refused" {
  load_must_fail evil-digest 'digest'
}

@test "evil-diffid: a layer that does not match its config diff_id is refused" {
  load_must_fail evil-diffid 'diff.?id|digest|mismatch|does not match'
}

@test "evil-truncated: a truncated archive is refused" {
  load_must_fail evil-truncated 'truncated|corrupt|unexpected end|premature'
}

@test "evil-badjson: an unparsable index.json is refused" {
  load_must_fail evil-badjson 'json|manifest|index'
}

@test "evil-missingblob: a manifest naming a blob that is not in the archive is refused" {
  load_must_fail evil-missingblob 'missing|not found'
}

@test "evil-path: a docker-save manifest.json layer path with ../ is refused" {
  load_must_fail evil-path 'escape|unsafe'
}

@test "evil-layer-truncated: a layer whose gzip stream is cut is refused" {
  load_must_fail evil-layer-truncated 'truncated|corrupt|unexpected end|premature'
}

@test "hostile archives fail the same way from stdin" {
  local k
  for k in evil-dotdot evil-symlink evil-hardlink evil-digest evil-truncated evil-path; do
    run --separate-stderr isola load <"$(fx $k)"
    echo "# $k from stdin: status $status, stderr: $stderr"
    assert_status 1
    assert_store_unchanged "$BEFORE"
    assert_tmp_clean
  done
  nothing_escaped
}

@test "a good archive still loads after every hostile one failed" {
  local k
  for k in "${EVIL[@]}"; do
    run isola load -q -i "$(fx "$k")"
  done
  nothing_escaped
  isola_ok rmi fixture/multi:oci
  isola_ok load -i "$(fx multilayer-oci)"
  mount_image fixture/multi:oci
  [ -f "$MNT/data/added" ] || fail "image content missing"
  isola_ok image unmount fixture/multi:oci
  assert_tmp_clean
}
