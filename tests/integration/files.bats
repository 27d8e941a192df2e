#!/usr/bin/env bats
# What a container's files keep and support, the same in both isolation modes: the xattrs of image files (file
# capabilities, user.*) and the ones a container sets on its writable layer; locks and FIFOs on a -v bind (a 9p
# share in a VM).  The checks busybox cannot make are done by tests/fixtures/fsprobe.c, built static here and
# shipped in the fsprobe image (mkfixture.py fsprobe-rootfs).

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# containers should never take long: a hang (a lock that never comes) fails after 60 s instead of 120
# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

# cap_net_raw+ep as setcap writes it, and the image's user.isola value "kept\0\377\n" (mkfixture.py)
CAP_NET_RAW_EP=0100000200200000000000000000000000000000
USER_XATTR_HEX=6b65707400ff0a

setup_file() {
  common_setup_file || return 1
  cc -static -O2 -o "$FIXTURES/fsprobe" "$REPO/tests/fixtures/fsprobe.c" || {
    echo "could not build tests/fixtures/fsprobe.c" >&2
    return 1
  }
  FSPROBE_BIN=$FIXTURES/fsprobe make_fixture fsprobe-rootfs || return 1
  container_setup_file || return 1
  # The seed root gets the fsprobe image too; each test's root is a copy.
  ISOLA_ROOT=$SEED_ROOT isola import "$(fx fsprobe-rootfs)" fsprobe:1 >/dev/null || {
    echo "could not import the fsprobe image" >&2
    return 1
  }
  seed_listing >"$BATS_FILE_TMPDIR/seed-listing"
}
teardown_file() {
  container_teardown_file
  common_teardown_file
}
setup() { container_setup; }
teardown() { container_teardown; }

# ---- xattrs and file capabilities ----------------------------------------------------------------------------------

@test "the store keeps an image file's security.capability and user.* xattrs (image mount, getcap)" {
  only_isolation process "the store is the same for both modes"
  mount_image fsprobe:1
  run getcap "$MNT/capprobe"
  assert_status 0
  assert_output_contains "cap_net_raw=ep"
  run python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.isola").hex())' "$MNT/capprobe"
  assert_status 0
  assert_equal "$output" "$USER_XATTR_HEX"
  isola_ok image unmount fsprobe:1
}

@test "a container sees the xattrs of its image's files, byte for byte" {
  run --separate-stderr isola run --rm fsprobe:1 sh -c \
    '/fsprobe getxattr /capprobe security.capability && /fsprobe getxattr /capprobe user.isola'
  assert_status 0
  assert_equal "$output" "$CAP_NET_RAW_EP
$USER_XATTR_HEX"
}

@test "a file capability of the image works: a non-root user gets CAP_NET_RAW from it, not from a plain copy" {
  run --separate-stderr isola run --rm fsprobe:1 /fsprobe asuser 1000 /capprobe rawsock
  assert_status 0
  assert_equal "$output" "raw socket"
  run --separate-stderr isola run --rm fsprobe:1 /fsprobe asuser 1000 /fsprobe rawsock
  assert_status 1
  assert_stderr_matches "Operation not permitted"
}

@test "a container sets file capabilities and user xattrs on its writable layer, and copy-up keeps the image's" {
  # /mine is a new file of the writable layer; /capprobe is copied up from the image by its new xattr.
  run --separate-stderr isola run --rm fsprobe:1 sh -c "
    cp /fsprobe /mine &&
    /fsprobe setxattr /mine security.capability $CAP_NET_RAW_EP && /fsprobe getxattr /mine security.capability &&
    /fsprobe setxattr /mine user.test 7631 && /fsprobe getxattr /mine user.test &&
    /fsprobe asuser 1000 /mine rawsock &&
    /fsprobe setxattr /capprobe user.test 7632 && /fsprobe getxattr /capprobe security.capability &&
    /fsprobe getxattr /capprobe user.isola"
  assert_status 0
  assert_equal "$output" "$CAP_NET_RAW_EP
7631
raw socket
$CAP_NET_RAW_EP
$USER_XATTR_HEX"
}

# ---- -v binds: locks, FIFOs, xattrs --------------------------------------------------------------------------------

@test "flock then lockf and fcntl locks on a file of a -v bind work (and still exclude), without hanging" {
  local d=$BATS_TEST_TMPDIR/share
  mkdir -p "$d"
  echo data >"$d/db"
  run --separate-stderr timeout 60 "$ISOLA" run --rm -v "$d:/share" fsprobe:1 /fsprobe locks /share/db
  assert_status 0
  assert_equal "$output" "flock, lockf and fcntl locks work"
  # the same on the container's own writable layer, for comparison
  run --separate-stderr timeout 60 "$ISOLA" run --rm fsprobe:1 /fsprobe locks /tmp/db
  assert_status 0
  assert_equal "$output" "flock, lockf and fcntl locks work"
}

@test "a FIFO made on a -v bind carries data between the container's processes, in both modes" {
  local d=$BATS_TEST_TMPDIR/share
  mkdir -p "$d"
  run --separate-stderr timeout 60 "$ISOLA" run --rm -v "$d:/share" fsprobe:1 /fsprobe fifo /share/fifo
  # in a VM the FIFO is the guest's own; the host has a plain file for it (README, "Files in VM containers")
  assert_status 0
  assert_equal "$output" "through the fifo"
  [ ! -e "$d/fifo" ] || fail "a fifo was left on the host"
  # a FIFO in the container's own file system works in both modes
  run --separate-stderr timeout 60 "$ISOLA" run --rm fsprobe:1 /fsprobe fifo /tmp/fifo
  assert_status 0
  assert_equal "$output" "through the fifo"
}

@test "a flock held on the host: a process container sees it at once, a VM container does not (no hang either way)" {
  local d=$BATS_TEST_TMPDIR/share
  mkdir -p "$d"
  exec 9>"$d/db"
  flock -x 9
  run --separate-stderr timeout 60 "$ISOLA" run --rm -v "$d:/share" fsprobe:1 /fsprobe trylock /share/db 9>&-
  exec 9>&-
  if [ "$TEST_ISOLATION" = process ]; then
    assert_status 1
    assert_stderr_matches "flock \`/share/db\`: Resource temporarily unavailable"
  else
    # locks on a share are the guest's own (README, "Files in VM containers")
    assert_status 0
    assert_equal "$output" locked
  fi
}

@test "xattrs set on a -v bind's file inside reach the host's file" {
  local d=$BATS_TEST_TMPDIR/share
  mkdir -p "$d"
  echo data >"$d/f"
  run --separate-stderr isola run --rm -v "$d:/share" fsprobe:1 /fsprobe setxattr /share/f user.test 7631
  assert_status 0
  run python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.test").hex())' "$d/f"
  assert_equal "$output" 7631
  run --separate-stderr isola run --rm -v "$d:/share" fsprobe:1 /fsprobe setxattr /share/f security.capability \
    "$CAP_NET_RAW_EP"
  if [ "$TEST_ISOLATION" = process ]; then
    assert_status 0
    run getcap "$d/f"
    assert_output_contains "cap_net_raw=ep"
  else
    # QEMU's 9p server passes user.* and ACLs through, not security.* (README, "Files in VM containers")
    assert_status 1
    assert_stderr_matches 'security.capability.*Operation not supported'
    run getcap "$d/f"
    assert_output_empty
  fi
}

@test "a shared writable mapping of a file on a -v bind writes through to the host's file" {
  local d=$BATS_TEST_TMPDIR/share
  mkdir -p "$d"
  run --separate-stderr isola run --rm -v "$d:/share" fsprobe:1 /fsprobe mmap /share/mapped
  assert_status 0
  assert_equal "$output" "through a shared mapping"
  assert_equal "$(cat "$d/mapped")" "through a shared mapping"
}
