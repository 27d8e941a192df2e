#!/usr/bin/env bats
# isola image mount/unmount: a read-only overlay of the image's snapshots with full layer semantics.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

setup_file() { common_setup_file multilayer-oci multilayer-legacy multilayer-docker25 gzip-of-oci; }
teardown_file() { common_teardown_file; }
setup() { setup_root; }
teardown() { teardown_root; }

EXPECTED_TREE='bin d
bin/su-like f
data d
data/added f
data/fifo p
data/hardlink f
data/hl-lower f
data/link l
data/null c
data/owned f
data/xattr f
deep d
deep/a d
deep/a/b d
deep/a/b/c d
deep/a/b/c/file f
etc d
opaque d
opaque/new-upper f'

# check_multilayer_tree DIR: the merged view of the three fixture layers.
check_multilayer_tree() {
  local m=$1 tree
  tree=$(cd "$m" && find . -mindepth 1 -printf '%P %y\n' | sort)
  if [ "$tree" != "$EXPECTED_TREE" ]; then
    echo "tree differs (- expected, + actual):"
    diff <(echo "$EXPECTED_TREE") <(echo "$tree") || true
    return 1
  fi
  # whiteout and opaque directory
  [ ! -e "$m/data/hello" ] || fail "data/hello should be deleted by data/.wh.hello"
  [ ! -e "$m/opaque/keep-lower" ] || fail "opaque/keep-lower should be hidden by the opaque marker"
  assert_equal "$(cat "$m/opaque/new-upper")" "upper"
  assert_equal "$(cat "$m/data/added")" "added in layer 2"
  # hard links: within a layer, and to a file of a lower layer
  assert_equal "$(cat "$m/data/hardlink")" "hello"
  assert_equal "$(cat "$m/data/hl-lower")" "owned by 1000"
  assert_equal "$(stat -c %u:%g "$m/data/hl-lower")" "1000:1000"
  # owners, modes, mtimes, xattrs
  assert_equal "$(stat -c %u:%g "$m/data/owned")" "1000:1000"
  assert_equal "$(stat -c %u:%g "$m/data/added")" "0:0"
  assert_equal "$(stat -c %a "$m/bin/su-like")" "4755"
  assert_equal "$(stat -c %a "$m/data/added")" "644"
  assert_equal "$(stat -c %Y "$m/data/owned")" "1600000000"
  assert_equal "$("$PYTHON" -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.test").decode())' \
    "$m/data/xattr")" "v1"
  # special files
  [ -c "$m/data/null" ] || fail "data/null is not a character device"
  assert_equal "$(stat -c '%t,%T' "$m/data/null")" "1,3"
  [ -p "$m/data/fifo" ] || fail "data/fifo is not a FIFO"
  [ -L "$m/data/link" ] || fail "data/link is not a symlink"
  assert_equal "$(readlink "$m/data/link")" "hello"
  assert_equal "$(cat "$m/deep/a/b/c/file")" "deep"
}

# assert_read_only DIR FILE: nothing can be created in DIR, and FILE (an existing regular file) can be neither
# modified nor removed.
assert_read_only() {
  local m=$1 f=$1/$2
  [ -f "$f" ] || fail "$f is not a regular file"
  if touch "$m/new-file" 2>/dev/null; then fail "created a file in $m"; fi
  if (echo x >>"$f") 2>/dev/null; then fail "appended to $f"; fi
  if rm -f "$f" 2>/dev/null && [ ! -e "$f" ]; then fail "removed $f"; fi
  findmnt -n -o OPTIONS --mountpoint "$m" | grep -Eq '(^|,)ro(,|$)' ||
    fail "not mounted read-only: $(findmnt -n -o FSTYPE,OPTIONS --mountpoint "$m")"
}

# assert_overlay DIR: a multi-layer image is an overlay of its snapshots (a one-layer image may be a bind mount).
assert_overlay() {
  [ "$(findmnt -n -o FSTYPE --mountpoint "$1" | tail -1)" = overlay ] ||
    fail "not an overlay: $(findmnt -n -o FSTYPE,OPTIONS --mountpoint "$1")"
}

@test "mount of the OCI fixture shows whiteouts, opaque dirs, links, owners, modes, xattrs, devices" {
  load_fixture multilayer-oci
  mount_image fixture/multi:oci
  check_multilayer_tree "$MNT"
  assert_read_only "$MNT" data/added
  assert_overlay "$MNT"
}

@test "mount of the legacy docker-save fixture shows the same tree" {
  load_fixture multilayer-legacy
  mount_image fixture/multi:legacy
  check_multilayer_tree "$MNT"
}

@test "mount of the Docker >= 25 fixture shows the same tree" {
  load_fixture multilayer-docker25
  mount_image fixture/multi:docker25
  check_multilayer_tree "$MNT"
}

@test "mount of the gzip-compressed archive's image shows the same tree" {
  load_fixture gzip-of-oci
  mount_image fixture/multi:oci
  check_multilayer_tree "$MNT"
}

@test "mounting twice prints the same path; unmount removes the mount" {
  load_fixture multilayer-oci
  mount_image fixture/multi:oci
  local first=$MNT
  mount_image fixture/multi:oci
  assert_equal "$MNT" "$first"
  run --separate-stderr isola image unmount fixture/multi:oci
  assert_status 0
  if mountpoint -q "$first"; then
    fail "$first is still a mount point after unmount: $(findmnt -n --mountpoint "$first")"
  fi
  # and it can be mounted again
  mount_image fixture/multi:oci
  check_multilayer_tree "$MNT"
  isola_ok image unmount fixture/multi:oci
  [ -z "$(mounts_of "$ISOLA_ROOT")" ] || fail "mounts left: $(mounts_of "$ISOLA_ROOT")"
}

@test "mount of an unknown image fails with 'No such image'" {
  run --separate-stderr isola image mount no/such:image
  assert_status 1
  assert_stderr_matches '^Error: .*No such image'
}

@test "unmount of an image that is not mounted does not crash" {
  load_fixture multilayer-oci
  run --separate-stderr isola image unmount fixture/multi:oci
  assert_status_in "0 1"
}

@test "rmi of a mounted image fails clearly or unmounts first; no mount is left behind" {
  load_fixture multilayer-oci
  mount_image fixture/multi:oci
  local m=$MNT
  run --separate-stderr isola rmi fixture/multi:oci
  echo "rmi: status $status, stdout '$output', stderr '$stderr'"
  if [ "$status" -eq 0 ]; then
    ! mountpoint -q "$m" || fail "rmi succeeded but $m is still mounted"
  else
    assert_status 1
    assert_stderr_matches '^Error: .*(mount|in use|busy)'
    mountpoint -q "$m" || fail "rmi failed but the mount went away"
    check_multilayer_tree "$m"
    assert_equal "$(image_tags)" "fixture/multi:oci"
    # forcing: either it unmounts and removes, or it fails clearly and leaves the mount working
    run --separate-stderr isola rmi -f fixture/multi:oci
    echo "rmi -f: status $status, stdout '$output', stderr '$stderr'"
    if [ "$status" -eq 0 ]; then
      ! mountpoint -q "$m" || fail "rmi -f succeeded but $m is still mounted"
    else
      assert_status 1
      mountpoint -q "$m" || fail "rmi -f failed but the mount went away"
      isola_ok image unmount fixture/multi:oci
      isola_ok rmi fixture/multi:oci
    fi
  fi
  [ -z "$(mounts_of "$ISOLA_ROOT")" ] || fail "mounts left: $(mounts_of "$ISOLA_ROOT")"
  [ -z "$(blob_and_snapshot_files)" ] || fail "left behind: $(blob_and_snapshot_files)"
  run isola images -q
  assert_output_empty
}

@test "busybox image: bin/busybox, bin/sh -> busybox, etc/passwd with root, etc/group" {
  require_busybox_image
  isola_ok load -i "$ISOLA_IMAGE"
  mount_image busybox
  [ -x "$MNT/bin/busybox" ] && [ -f "$MNT/bin/busybox" ] || fail "bin/busybox missing or not executable"
  [ -L "$MNT/bin/sh" ] || fail "bin/sh is not a symlink"
  local t
  t=$(readlink "$MNT/bin/sh")
  [[ $t != /* ]] || fail "bin/sh -> $t is absolute"
  [[ $t == busybox || $t == ./busybox ]] || fail "bin/sh -> $t"
  grep -q '^root:' "$MNT/etc/passwd" || fail "no root in etc/passwd"
  [ -f "$MNT/etc/group" ] || fail "etc/group missing"
  assert_read_only "$MNT" etc/passwd
}
