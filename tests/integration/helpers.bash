# Shared setup for the integration tests (plain bats 1.8, no bats-support/bats-assert).
#
# Every test gets a private store root (ISOLA_ROOT under /tmp, never /var/lib/isola); every file generates the
# fixtures it needs once, in setup_file, into its own temporary directory (FIXTURES).
#
#   ISOLA_BIN    the binary under test    (default: build/asan/isola)
#   ISOLA_IMAGE  the default image archive (default: build/images/busybox.tar, an OCI archive of busybox:latest)

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
bats_require_minimum_version 1.5.0

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
ISOLA=${ISOLA_BIN:-$BATS_TEST_DIRNAME/../../build/asan/isola}
ISOLA_IMAGE=${ISOLA_IMAGE:-$REPO/build/images/busybox.tar}
MKFIXTURE=$REPO/tests/fixtures/mkfixture.py
ISOLA_TIMEOUT=${ISOLA_TIMEOUT:-120}

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export LC_ALL=C # sort order and messages are compared literally

# Runs the binary under test; a hang becomes exit 124 instead of a stuck suite.
isola() {
  timeout "$ISOLA_TIMEOUT" "$ISOLA" "$@"
}

# ---- per-file setup ------------------------------------------------------------------------------------------------

# common_setup_file KIND...: checks the binary exists and generates the named fixtures into $FIXTURES/KIND.tar.
common_setup_file() {
  if [ ! -x "$ISOLA" ]; then
    echo "isola binary not found at $ISOLA (run 'make asan' or set ISOLA_BIN)" >&2
    return 1
  fi
  # pyenv shims cost ~0.2 s a call: resolve the real interpreter once.
  PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
  export PYTHON
  FIXTURES=$(mktemp -d /tmp/isola-fixtures.XXXXXX)
  export FIXTURES
  local kind
  for kind in "$@"; do
    make_fixture "$kind" || return 1
  done
}

common_teardown_file() {
  if [[ ${FIXTURES:-} == /tmp/isola-fixtures.* ]]; then
    rm -rf "$FIXTURES"
  fi
}

make_fixture() {
  [ -e "$FIXTURES/$1.tar" ] && return 0
  "$PYTHON" "$MKFIXTURE" "$1" "$FIXTURES/$1.tar" || {
    echo "mkfixture.py $1 failed" >&2
    return 1
  }
}

# fx KIND: the path of a generated fixture.
fx() {
  echo "$FIXTURES/$1.tar"
}

require_busybox_image() {
  if [ ! -f "$ISOLA_IMAGE" ]; then
    fail "default image archive $ISOLA_IMAGE is missing (run 'make image' or set ISOLA_IMAGE)"
  fi
}

# ---- per-test store roots ------------------------------------------------------------------------------------------

setup_root() {
  ISOLA_ROOT=$(mktemp -d /tmp/isola-test.XXXXXX)
  export ISOLA_ROOT
}

# new_root: another private root (for --root tests, round trips, podman storage), named after $ISOLA_ROOT so that
# teardown_root finds it even though new_root runs in a $(...) subshell.
new_root() {
  mktemp -d "$ISOLA_ROOT.extra.XXXXXX"
}

teardown_root() {
  local r
  [ -n "${ISOLA_ROOT:-}" ] || return 0
  for r in "$ISOLA_ROOT".extra.* "$ISOLA_ROOT"; do
    cleanup_root "$r"
  done
}

# mounts_of DIR: mount points under DIR, plus any mount whose options name DIR (an image mounted outside its root),
# deepest first.
mounts_of() {
  awk -v r="$1" '
    function unescape(s) { gsub(/\\040/, " ", s); gsub(/\\011/, "\t", s); gsub(/\\134/, "\\", s); return s }
    { mp = unescape($5)
      if (mp == r || index(mp, r "/") == 1 || index($0, r "/") > 0) print mp }' /proc/self/mountinfo |
    awk -F/ '{ print NF "\t" $0 }' | sort -rn | cut -f2-
}

cleanup_root() {
  local r=$1 m _
  [[ $r == /tmp/isola-test.* ]] && [ -d "$r" ] || return 0
  for _ in 1 2 3 4 5; do
    m=$(mounts_of "$r")
    [ -z "$m" ] && break
    while IFS= read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done <<<"$m"
  done
  if [ -n "$(mounts_of "$r")" ]; then
    echo "# could not unmount under $r; leaving it in place" >&3
    return 0
  fi
  rm -rf --one-file-system "$r"
}

# ---- store inspection ----------------------------------------------------------------------------------------------

store_listing() {
  find "$ISOLA_ROOT" -mindepth 1 \( -path "$ISOLA_ROOT/tmp" -prune \) -o -printf '%P %y %s\n' | sort
}

# assert_store_unchanged BEFORE: compares store_listing with an earlier one.
assert_store_unchanged() {
  local after
  after=$(store_listing)
  if [ "$1" != "$after" ]; then
    echo "store changed:"
    diff <(echo "$1") <(echo "$after") || true
    return 1
  fi
}

assert_tmp_clean() {
  local t=$ISOLA_ROOT/tmp
  if [ -d "$t" ] && [ -n "$(ls -A "$t")" ]; then
    echo "leftovers in $t:"
    find "$t" | head -50
    return 1
  fi
}

snapshot_count() {
  find "$ISOLA_ROOT/snapshots" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l
}

# blob_and_snapshot_files: everything left under blobs/sha256 and snapshots (empty when no image remains).
blob_and_snapshot_files() {
  find "$ISOLA_ROOT/blobs/sha256" "$ISOLA_ROOT/snapshots" -mindepth 1 2>/dev/null
}

# image_id REF: the full "sha256:…" ID of an image, via inspect.
image_id() {
  isola image inspect "$1" | jq -r '.[0].Id'
}

# image_tags: "repo:tag" of every tagged image, sorted (from `images`, so it also exercises the listing).
image_tags() {
  isola images | awk -F'   +' 'NR > 1 && $1 != "<none>" { print $1 ":" $2 }' | sort
}

# expected_id ARCHIVE: sha256 of the config of the first manifest of an (uncompressed) OCI layout archive.
expected_id() {
  local m
  m=$(tar -xOf "$1" index.json | jq -r '.manifests[0].digest | sub("^sha256:"; "")')
  tar -xOf "$1" "blobs/sha256/$m" | jq -r '.config.digest'
}

# expected_diff_ids ARCHIVE: the config's rootfs.diff_ids of an OCI layout archive, as a compact JSON array.
expected_diff_ids() {
  local c
  c=$(expected_id "$1")
  tar -xOf "$1" "blobs/sha256/${c#sha256:}" | jq -c '.rootfs.diff_ids'
}

# mount_image REF: `isola image mount` with checks; sets MNT.
mount_image() {
  run --separate-stderr isola image mount "$1"
  assert_status 0
  MNT=$output
  if [ -z "$MNT" ] || [ "$(printf '%s\n' "$MNT" | wc -l)" -ne 1 ]; then fail "expected one path, got: '$MNT'"; fi
  mountpoint -q "$MNT" || fail "$MNT is not a mount point"
}

# ---- assertions ----------------------------------------------------------------------------------------------------

fail() {
  echo "FAIL: $*"
  return 1
}

show_run() {
  echo "status: $status"
  echo "output: ${output:-}"
  if [ -n "${stderr+set}" ]; then echo "stderr: ${stderr}"; fi
}

assert_status() {
  if [ "$status" -ne "$1" ]; then
    echo "expected status $1"
    show_run
    return 1
  fi
}

# assert_status_in "1 125"
assert_status_in() {
  local s
  for s in $1; do [ "$status" -eq "$s" ] && return 0; done
  echo "expected status in {$1}"
  show_run
  return 1
}

assert_output_contains() {
  if [[ $output != *"$1"* ]]; then
    echo "expected output to contain: $1"
    show_run
    return 1
  fi
}

refute_output_contains() {
  if [[ $output == *"$1"* ]]; then
    echo "expected output not to contain: $1"
    show_run
    return 1
  fi
}

# assert_output_matches ERE (against the whole output, any line may match with ^…$ when using (^|$'\n'))
assert_output_matches() {
  if ! grep -Eq -- "$1" <<<"$output"; then
    echo "expected a line of output to match: $1"
    show_run
    return 1
  fi
}

assert_stderr_matches() {
  if ! grep -Eq -- "$1" <<<"$stderr"; then
    echo "expected a line of stderr to match: $1"
    show_run
    return 1
  fi
}

assert_output_empty() {
  if [ -n "$output" ]; then
    echo "expected empty output"
    show_run
    return 1
  fi
}

assert_equal() {
  if [ "$1" != "$2" ]; then
    echo "expected: $2"
    echo "actual:   $1"
    return 1
  fi
}

# isola_ok ARGS...: runs a command that must succeed (setup steps inside tests).
isola_ok() {
  run --separate-stderr isola "$@"
  if [ "$status" -ne 0 ]; then
    echo "setup command failed: isola $*"
    show_run
    return 1
  fi
}

load_fixture() {
  isola_ok load -q -i "$(fx "$1")"
}
