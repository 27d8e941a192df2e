#!/usr/bin/env bats
# `isola cp` (issue 16): Docker's path rules in both directions, for stopped and running containers; symlinks in
# the container never lead cp out of it.  In VM_FILES: every test runs in both isolation modes.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() {
  container_setup
  H=$BATS_TEST_TMPDIR/host
  mkdir -p "$H"
}
teardown() { container_teardown; }

# A stopped container with a tree: /data/{a,sub/b,link->a}, 2 MB of random data, a file owned by 33:33.
make_tree() {
  isola_ok run --name c1 busybox sh -c 'mkdir -p /data/sub && echo A >/data/a && echo B >/data/sub/b && ln -s a /data/link && dd if=/dev/urandom of=/data/big bs=1M count=2 2>/dev/null && md5sum </data/big >/data/big.md5 && chown 33:33 /data/sub/b'
}

@test "cp out of a stopped container: a file to a new name, into a directory, a directory to a new name and its contents with /." {
  make_tree
  isola_ok cp c1:/data/a "$H/new"
  assert_equal "$(cat "$H/new")" A
  mkdir "$H/dir"
  isola_ok cp c1:/data/a "$H/dir"
  assert_equal "$(cat "$H/dir/a")" A
  isola_ok cp c1:/data "$H/copy"
  assert_equal "$(cat "$H/copy/sub/b")" B
  assert_equal "$(readlink "$H/copy/link")" a
  assert_equal "$(md5sum <"$H/copy/big")" "$(cat "$H/copy/big.md5")"
  isola_ok cp c1:/data "$H/dir"
  assert_equal "$(cat "$H/dir/data/sub/b")" B
  mkdir "$H/contents"
  isola_ok cp c1:/data/. "$H/contents"
  assert_equal "$(cat "$H/contents/sub/b")" B
  # an existing file is overwritten; a directory onto a file is refused
  echo old >"$H/file"
  isola_ok cp c1:/data/a "$H/file"
  assert_equal "$(cat "$H/file")" A
  run --separate-stderr isola cp c1:/data "$H/file"
  assert_status 1
  assert_equal "$stderr" "cannot copy directory"
  run --separate-stderr isola cp c1:/data/a "$H/nosuchdir/"
  assert_status 1
  assert_equal "$stderr" "no such directory"
}

@test "cp out: - writes a tar, -L follows a symlink source (named as the link), a missing path is Docker's error" {
  make_tree
  run --separate-stderr bash -c "'$ISOLA' cp c1:/data - | tar -tf - | sort"
  assert_status 0
  assert_equal "$output" "data/
data/a
data/big
data/big.md5
data/link
data/sub/
data/sub/b"
  isola_ok cp c1:/data/link "$H/l"
  assert_equal "$(readlink "$H/l")" a
  isola_ok cp -L c1:/data/link "$H/followed"
  assert_equal "$(cat "$H/followed")" A
  run --separate-stderr isola cp c1:/nosuch "$H/x"
  assert_status 1
  assert_equal "$stderr" "Error: No such container:path: c1:/nosuch"
  run --separate-stderr isola cp c1:/a c2:/b
  assert_equal "$stderr" "copying between containers is not supported"
  run --separate-stderr isola cp "$H/l" "$H/m"
  assert_equal "$stderr" "must specify at least one container source"
}

@test "cp into a stopped container: files owned by root unless -a, directories, a tar on stdin; it runs with them" {
  isola_ok create --name c1 busybox sh -c 'cat /in/f; ls -n /in/f | awk "{print \$3\":\"\$4}"; cat /in/g; ls -n /in/kept | awk "{print \$3\":\"\$4}"; cat /in/t/x'
  mkdir -p "$H/d"
  echo F >"$H/f"
  echo G >"$H/d/g"
  echo K >"$H/kept"
  chown 1234:4321 "$H/f" "$H/kept"
  isola_ok cp "$H/d" c1:/in # a new name: /in is the directory
  isola_ok cp "$H/f" c1:/in/
  isola_ok cp -a "$H/kept" c1:/in/kept
  mkdir -p "$H/t"
  echo X >"$H/t/x"
  tar -C "$H" -cf - t | isola cp - c1:/in || fail "cp - failed"
  run --separate-stderr isola start -a c1
  assert_status 0
  assert_equal "$output" "F
0:0
G
1234:4321
X"
  run --separate-stderr isola cp - c1:/in/f <"$H/f"
  assert_status 1
  assert_equal "$stderr" "destination \"c1:/in/f\" must be a directory"
  run --separate-stderr isola cp "$H/nosuch" c1:/in
  assert_status 1
  assert_equal "$stderr" "lstat $H/nosuch: no such file or directory"
}

@test "cp with a running container: out of it and into it (a VM's through its agent), and it keeps running" {
  isola_ok run -d --name c1 busybox sh -c 'echo run >/r; ln -s / /escape; touch /ready; exec sleep 100000'
  wait_until 60 isola exec c1 test -f /ready
  isola_ok cp c1:/r "$H/r"
  assert_equal "$(cat "$H/r")" run
  echo in >"$H/in"
  mkdir -p "$H/d/sub"
  dd if=/dev/urandom of="$H/d/sub/big" bs=1M count=3 2>/dev/null
  chown -R 1234:4321 "$H/d"
  isola_ok cp "$H/in" c1:/in
  isola_ok cp -a "$H/d" c1:/tmp/
  isola_ok cp "$H/d" c1:/escape/root/ # a link in the destination resolves inside the container
  run --separate-stderr isola exec c1 sh -c 'cat /in; md5sum </tmp/d/sub/big; ls -n /tmp/d/sub/big | awk "{print \$3\":\"\$4}"; ls -n /root/d/sub/big | awk "{print \$3\":\"\$4}"'
  assert_status 0
  assert_equal "$output" "in
$(md5sum <"$H/d/sub/big")
1234:4321
0:0"
  # a tar on stdin that plays tricks is refused, and the host is untouched
  local victim=$BATS_TEST_TMPDIR/victim
  mkdir -p "$victim"
  python3 - "$H/evil.tar" "$victim" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w")
i = tarfile.TarInfo("l"); i.type = tarfile.SYMTYPE; i.linkname = sys.argv[2]; t.addfile(i)
i = tarfile.TarInfo("l/evil"); i.size = 4; t.addfile(i, io.BytesIO(b"evil"))
t.close()
PY
  run --separate-stderr isola cp - c1:/tmp <"$H/evil.tar"
  assert_status 1
  assert_equal "$(ls -A "$victim")" ""
  run --separate-stderr isola inspect -f '{{.State.Status}}' c1
  assert_equal "$output" running
}

@test "hostile symlinks in the container never lead cp out of it, in either direction" {
  local victim=$BATS_TEST_TMPDIR/victim
  mkdir -p "$victim"
  echo secret >"$victim/s"
  isola_ok run --name c1 busybox sh -c "ln -s / /escape && ln -s $victim /v && ln -s $victim/s /vs && ln -s ../../../../../.. /up && mkdir -p $victim && echo inside >$victim/s"
  # reading: absolute links and .. resolve inside the container's root
  run --separate-stderr bash -c "'$ISOLA' cp c1:/escape$victim/s - | tar -xOf -"
  assert_equal "$output" inside
  run --separate-stderr bash -c "'$ISOLA' cp c1:/up$victim/s - | tar -xOf -"
  assert_equal "$output" inside
  isola_ok cp -L c1:/vs "$H/got"
  assert_equal "$(cat "$H/got")" inside
  # writing: through a link in the destination path, onto a link, and a tar that plays tricks
  echo pwned >"$H/p"
  isola_ok cp "$H/p" c1:/v/
  isola_ok cp "$H/p" c1:/vs
  isola_ok cp "$H/p" c1:/escape/tmp/
  python3 - "$H/evil.tar" "$victim" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w")
i = tarfile.TarInfo("l"); i.type = tarfile.SYMTYPE; i.linkname = sys.argv[2]; t.addfile(i)
for name in ("l/evil", "../../../../../../" + sys.argv[2].lstrip("/") + "/dd"):
    i = tarfile.TarInfo(name); i.size = 4; t.addfile(i, io.BytesIO(b"evil"))
t.close()
PY
  run --separate-stderr isola cp - c1:/tmp <"$H/evil.tar"
  assert_status 1
  assert_equal "$(ls "$victim")" s
  assert_equal "$(cat "$victim/s")" secret
  # the container got what was written through its own links
  mkdir "$H/back"
  isola_ok cp "c1:$victim/." "$H/back"
  assert_equal "$(cat "$H/back/p" "$H/back/s")" "pwned
pwned"
}

@test "cp through a '..' link while other copies of the container run at once (each mounts its view)" {
  # A walk in the container's root that meets ".." fails with EAGAIN when a mount or rename happens anywhere
  # meanwhile: without a retry, ~half of these copies found nothing.
  isola_ok run --name c1 busybox sh -c 'mkdir -p /v && echo inside >/v/s && ln -s ../../../../.. /up'
  local i j pids=()
  for i in 1 2 3; do
    (for j in $(seq 8); do
      timeout 120 "$ISOLA" cp c1:/up/v/s - 2>"$H/err.$i.$j" | tar -xOf - >"$H/out.$i.$j" 2>>"$H/err.$i.$j"
    done) &
    pids+=($!)
  done
  wait "${pids[@]}"
  for i in 1 2 3; do
    for j in $(seq 8); do
      [ "$(cat "$H/out.$i.$j")" = inside ] || fail "copy $i.$j read '$(cat "$H/out.$i.$j")': $(cat "$H/err.$i.$j")"
    done
  done
}

@test "cp out of a running container whose path is under a named volume or a bind: the volume's files" {
  local bind=$BATS_TEST_TMPDIR/bind
  mkdir -p "$bind"
  echo inbind >"$bind/f"
  isola_ok volume create cprun
  isola_ok run -d --name r1 -v cprun:/vol -v "$bind:/b:ro" busybox sh -c 'echo invol >/vol/f; touch /ready; exec sleep 1000'
  wait_until 60 isola exec r1 test -e /ready
  isola_ok cp r1:/vol/f "$H/v"
  assert_equal "$(cat "$H/v")" invol
  isola_ok cp r1:/b/f "$H/b"
  assert_equal "$(cat "$H/b")" inbind
  isola_ok rm -f r1
  isola_ok volume rm cprun
}

@test "cp with a stopped container whose path is under a named volume or a bind: the volume's files, both ways" {
  local bind=$BATS_TEST_TMPDIR/bind
  mkdir -p "$bind"
  echo inbind >"$bind/f"
  isola_ok volume create cpvol
  isola_ok run --name c1 -v cpvol:/vol -v "$bind:/b" -v cpvol:/ro:ro busybox sh -c 'echo invol >/vol/f'
  # out: what the volume and the bind hold, not the (empty) directories beneath them in the container's layer
  isola_ok cp c1:/vol/f "$H/v"
  assert_equal "$(cat "$H/v")" invol
  isola_ok cp c1:/b/f "$H/b"
  assert_equal "$(cat "$H/b")" inbind
  isola_ok cp c1:/vol "$H/vdir"
  assert_equal "$(cat "$H/vdir/f")" invol
  # in: the file lands in the volume and the bind (the next run, and the host, see it); a read-only one refuses
  echo new >"$H/n"
  isola_ok cp "$H/n" c1:/vol/n
  isola_ok cp "$H/n" c1:/b/n
  assert_equal "$(cat "$bind/n")" new
  run --separate-stderr isola run --rm -v cpvol:/data busybox cat /data/n
  assert_status 0
  assert_equal "$output" new
  run --separate-stderr isola cp "$H/n" c1:/ro/n2
  [ "$status" -ne 0 ] || fail "cp into a read-only volume succeeded"
  # a container that never ran: its volume too (mount points made as dockerd makes them)
  isola_ok create --name c2 -v cpvol:/fresh/v busybox true
  isola_ok cp c2:/fresh/v/f "$H/fresh"
  assert_equal "$(cat "$H/fresh")" invol
  isola_ok rm c1 c2
  isola_ok volume rm cpvol
}
