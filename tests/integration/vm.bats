#!/usr/bin/env bats
# What only VM isolation has: the container's own kernel, processes the host cannot see, the VM worker as the
# container's PID, the worker's death, the VM's disks, its memory and CPUs, 9p binds, boot failures, and settings.
# The lifecycle files run in both modes (ISOLA_TEST_ISOLATION, scripts/run-tests.sh); these run once.

# shellcheck disable=SC2154 # status, output and stderr are set by bats' run
load helpers

# shellcheck disable=SC2034 # read by the isola function
ISOLA_TIMEOUT=${ISOLA_CONTAINER_TIMEOUT:-60}

setup_file() { container_setup_file; }
teardown_file() { container_teardown_file; }
setup() { container_setup; }
teardown() { container_teardown; }

# worker_of ID: the host PID of a container's VM worker (State.Pid).
worker_of() {
  isola inspect --format '{{.State.Pid}}' "$1"
}

@test "a VM container runs its own kernel, not the host's" {
  run --separate-stderr isola run --rm --isolation=vm busybox uname -r
  assert_status 0
  [ "$output" != "$(uname -r)" ] || fail "the guest's kernel is the host's: $output"
  [[ $output == 6.1.* ]] || fail "unexpected guest kernel $output"
}

@test "the seed: top lists ping inside the VM, the host's ps does not find it, the worker is State.Pid" {
  run --separate-stderr isola run -d --isolation=hyperv busybox ping localhost
  assert_status 0
  local id=$output
  run isola top "$id"
  assert_status 0
  assert_output_matches 'ping localhost'
  # the host sees no ping of this container ...
  local pid
  for pid in $(pgrep -x ping || true); do
    if grep -q "$ISOLA_ROOT" "/proc/$pid/cmdline" 2>/dev/null || [ "$(cat "/proc/$pid/cgroup" 2>/dev/null | grep -c "$id")" != 0 ]; then
      fail "the host sees the container's ping as PID $pid"
    fi
  done
  # ... but its VM worker, named isola-vm, with the container's ID on its command line
  local worker
  worker=$(worker_of "$id")
  [ "$(cat "/proc/$worker/comm")" = isola-vm ] || fail "State.Pid $worker is $(cat "/proc/$worker/comm")"
  tr '\0' ' ' <"/proc/$worker/cmdline" | grep -q "$id" || fail "the worker's command line does not name $id"
  run ps -C isola-vm -o pid=
  assert_output_contains "$worker"
  run isola inspect --format '{{.HostConfig.Isolation}}' "$id"
  assert_equal "$output" "hyperv"
}

@test "kill -9 of the VM worker marks the container exited with 137 and leaves nothing running" {
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  local id=$output worker
  worker=$(worker_of "$id")
  kill -9 "$worker"
  run isola wait "$id"
  assert_equal "$output" "137"
  run isola inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$id"
  assert_equal "$output" "exited 137"
  run pgrep -f "isola-$id"
  assert_status 1
  run isola rm "$id"
  assert_status 0
}

@test "kill -9 of the VM worker: an exec still running in the guest gets its exec_die (137), as the container's end" {
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  local id=$output worker
  isola_ok exec -d "$id" sleep 2000
  # the agent has started it (exec_start is recorded once the exec runs)
  exec_started() {
    [ -n "$(isola events --since 0 --until "$(date +%s.%N)" --filter container="$id" --filter event=exec_start --format '{{.Action}}')" ]
  }
  wait_until 20 exec_started || fail "no exec_start for the exec"
  worker=$(worker_of "$id")
  kill -9 "$worker"
  run isola wait "$id"
  assert_equal "$output" "137"
  # no EXIT came from the agent for it: the monitor records it at the container's end
  run --separate-stderr isola events --since 0 --until "$(date +%s.%N)" --filter container="$id" --filter event=exec_die --format '{{.Action}} {{.Actor.Attributes.exitCode}}'
  assert_equal "$output" "exec_die 137"
  isola_ok rm "$id"
}

@test "a stopped VM container restarts with the files it wrote" {
  # the files are written in the first run only: after the restart they can only come from the container's disk
  run --separate-stderr isola run -d --isolation=vm busybox sh -c \
    'test -e /kept.txt || { echo kept > /kept.txt; mkdir -p /var/d; }; sleep 1000'
  local id=$output
  wait_until 10 isola exec "$id" test -f /kept.txt || fail "the container wrote no /kept.txt"
  isola_ok stop -t 1 "$id"
  isola_ok start "$id"
  run isola exec "$id" cat /kept.txt
  assert_equal "$output" "kept"
  run isola exec "$id" test -d /var/d
  assert_status 0
  # a new container of the same image starts from the image again
  run --separate-stderr isola run --rm --isolation=vm busybox cat /kept.txt
  assert_status 1
}

@test "a process container and a VM container of one image run at the same time" {
  run --separate-stderr isola run -d --isolation=process busybox sleep 1000
  local p=$output
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  local v=$output
  run isola ps -q --no-trunc --filter isolation=process
  assert_equal "$output" "$p"
  run isola ps -q --no-trunc --filter isolation=hyperv
  assert_equal "$output" "$v"
  run isola exec "$p" uname -r
  assert_equal "$output" "$(uname -r)"
  run isola exec "$v" uname -r
  [ "$output" != "$(uname -r)" ] || fail "the VM container runs the host's kernel"
}

# in_vm_terminal ROWS COLS NEWROWS NEWCOLS: runs `isola run -it` in a pseudo-terminal of ROWSxCOLS, asks the shell
# for its size, resizes the terminal, asks again, and exits 3.
in_vm_terminal() {
  timeout 60 python3 - "$ISOLA" "$@" <<'EOF'
import fcntl, os, pty, struct, sys, termios, time
isola, rows, cols, nrows, ncols = sys.argv[1], *map(int, sys.argv[2:6])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.execv(isola, [isola, "run", "--rm", "-it", "--isolation=vm", "busybox", "sh"])
out = b""
def read_until(token, limit=40):
    global out
    end = time.time() + limit
    while token not in out and time.time() < end:
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
read_until(b"# ")
os.write(fd, b"stty size\n")
read_until(b"%d %d" % (rows, cols))
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", nrows, ncols, 0, 0))
time.sleep(1)
os.write(fd, b"stty size; exit 3\n")
read_until(b"%d %d" % (nrows, ncols))
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
}

@test "run -it in a VM: a terminal of the attached one's size, resized with it, and the exit code" {
  run in_vm_terminal 33 101 40 120
  assert_status 3
  assert_output_contains "33 101"
  assert_output_contains "40 120"
}

# The guest's cgroup limits themselves are tested by isolation.bats in VM mode (OOM kill, pids limit).
@test "--memory sets the VM's memory (with room for its kernel) and --cpus its vCPUs" {
  run --separate-stderr isola run --rm --isolation=vm -m 300m --cpus 1.5 busybox sh -c \
    'echo $(( $(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo) / 1024 )); nproc'
  assert_status 0
  local lines
  mapfile -t lines <<<"$output"
  [ "${lines[0]}" -gt 300 ] && [ "${lines[0]}" -le 364 ] || fail "guest memory ${lines[0]} MiB"
  assert_equal "${lines[1]}" "2"
  run --separate-stderr isola run --rm --isolation=vm --cpus 1 busybox nproc
  assert_equal "$output" "1"
}

# guest_mib_and_nproc: what a VM container prints for its MemTotal in MiB and its nproc (the arguments are run's).
guest_mib_and_nproc() {
  run --separate-stderr isola run --rm --isolation=vm "$@" busybox sh -c \
    'echo $(( $(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo) / 1024 )) $(nproc)'
}

@test "without -m and --cpus a VM gets 2 GiB and the host's CPUs; ROOT/config.json's vm.memory and vm.cpus change that" {
  local host_cpus mib cpus
  host_cpus=$(nproc)
  [ "$host_cpus" -le 64 ] || host_cpus=64
  guest_mib_and_nproc
  assert_status 0
  read -r mib cpus <<<"$output"
  [ "$mib" -ge 1536 ] && [ "$mib" -le 2048 ] || fail "guest memory $mib MiB"
  assert_equal "$cpus" "$host_cpus"
  echo '{"vm": {"memory": "512m", "cpus": 1}}' >"$ISOLA_ROOT/config.json"
  guest_mib_and_nproc
  assert_status 0
  read -r mib cpus <<<"$output"
  [ "$mib" -gt 256 ] && [ "$mib" -le 512 ] || fail "configured guest memory $mib MiB"
  assert_equal "$cpus" 1
  # -m and --cpus still decide for themselves
  guest_mib_and_nproc -m 300m --cpus 2
  read -r mib cpus <<<"$output"
  [ "$mib" -gt 256 ] && [ "$mib" -le 364 ] && [ "$cpus" = 2 ] || fail "with -m 300m --cpus 2: $output"
  echo '{"vm": {"memory": "lots"}}' >"$ISOLA_ROOT/config.json"
  guest_mib_and_nproc
  assert_status 125
  assert_stderr_matches 'invalid VM memory "lots"'
}

@test "-v shares a host directory with a VM container, read-write or read-only" {
  local dir=$ISOLA_ROOT.extra.share
  mkdir -p "$dir"
  echo from-host >"$dir/in.txt"
  run --separate-stderr isola run --rm --isolation=vm -v "$dir:/data" busybox sh -c 'cat /data/in.txt; echo from-vm > /data/out.txt'
  assert_status 0
  assert_equal "$output" "from-host"
  [ "$(cat "$dir/out.txt")" = from-vm ] || fail "the VM's write did not reach the host"
  run --separate-stderr isola run --rm --isolation=vm -v "$dir:/data:ro" busybox sh -c 'echo x > /data/ro.txt'
  assert_status 1
  [ ! -e "$dir/ro.txt" ] || fail "a read-only share was written"
  run --separate-stderr isola run --rm --isolation=vm -v "$dir/in.txt:/in.txt" busybox true
  assert_status 125
  assert_stderr_matches 'shares directories only'
}

@test "a VM that does not boot ends in a clear error within the boot timeout, leaving nothing running" {
  # in a directory of new_root's, which teardown removes (it leaves plain files alone)
  local tmp junk initrd
  tmp=$(new_root)
  junk=$tmp/kernel
  head -c 4096 /dev/urandom >"$junk"
  ISOLA_VM_KERNEL=$junk run --separate-stderr isola run --rm --isolation=vm busybox true
  assert_status 125
  assert_stderr_matches 'VM exited while starting'
  # an init that never answers: the boot timeout
  initrd=$tmp/initrd
  "$REPO/scripts/mkinitramfs.sh" "$initrd" /bin/busybox >/dev/null 2>&1 || skip "cannot make an initramfs"
  ISOLA_VM_INITRD=$initrd ISOLA_VM_BOOT_TIMEOUT=4 run --separate-stderr isola run --isolation=vm busybox true
  assert_status 125
  assert_stderr_matches 'did not start within 4 s'
  run pgrep -f "$ISOLA_ROOT/containers"
  assert_status 1
}

@test "the accelerator: TCG on this host's kvm_pvm, ISOLA_VM_ACCEL overrides, a bad value fails" {
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  local id=$output
  local expect=tcg
  if [ ! -e /sys/module/kvm_pvm ] && [ -w /dev/kvm ]; then expect=kvm; fi
  tr '\0' ' ' <"/proc/$(worker_of "$id")/cmdline" | grep -q -- "-accel $expect" || fail "not -accel $expect"
  ISOLA_VM_ACCEL=tcg run --separate-stderr isola run --rm --isolation=vm busybox true
  assert_status 0
  ISOLA_VM_ACCEL=xen run --separate-stderr isola run --rm --isolation=vm busybox true
  assert_status 125
  assert_stderr_matches 'invalid VM accelerator "xen"'
}

@test "the default isolation comes from ISOLA_ISOLATION, else ROOT/config.json, else process" {
  unset ISOLA_ISOLATION
  run --separate-stderr isola create busybox true
  run isola inspect --format '{{.HostConfig.Isolation}}' "$output"
  assert_equal "$output" "process"
  echo '{"isolation": "vm"}' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola create busybox true
  run isola inspect --format '{{.HostConfig.Isolation}}' "$output"
  assert_equal "$output" "hyperv"
  ISOLA_ISOLATION=process run --separate-stderr isola create --isolation=default busybox true
  run isola inspect --format '{{.HostConfig.Isolation}}' "$output"
  assert_equal "$output" "process"
  echo '{"isolation": ' >"$ISOLA_ROOT/config.json"
  run --separate-stderr isola create busybox true
  assert_status 1
  assert_stderr_matches 'config.json'
}

@test "the image's VM root file system is made once, shared, and removed with the image" {
  run --separate-stderr isola create --isolation=vm busybox true
  local id=$output
  local erofs=("$ISOLA_ROOT"/images/*.erofs)
  [ -f "${erofs[0]}" ] || fail "no erofs image"
  [ -f "$ISOLA_ROOT/containers/$id/upper.ext4" ] || fail "no container disk"
  run isola rmi busybox
  assert_status 1
  assert_output_contains 'being used by a container'
  isola_ok rm "$id"
  isola_ok rmi busybox
  [ ! -e "${erofs[0]}" ] || fail "the erofs image outlived its image"
}

@test "top of a VM container lists its processes with the guest's PIDs and their parents" {
  run --separate-stderr isola run -d --isolation=vm busybox sh -c 'sleep 1000 & wait'
  local id=$output
  # (the sleep itself, not sh's line, which names it too, nor sh's fork before it has exec'd sleep)
  top_lists_sleep() { isola top "$id" | grep -q ' sleep 1000$'; }
  wait_until 10 top_lists_sleep || fail "top never listed the sleep: $(isola top "$id" 2>&1)"
  run --separate-stderr isola top "$id"
  assert_status 0
  assert_equal "$(wc -l <<<"$output")" 3
  local sh_pid sleep_pid
  sh_pid=$(awk '/sh -c/ { print $2 }' <<<"$output")
  sleep_pid=$(awk '/sleep 1000$/ { print $2 }' <<<"$output")
  assert_equal "$(awk -v p="$sleep_pid" '$2 == p { print $3 }' <<<"$output")" "$sh_pid"
  assert_equal "$(awk -v p="$sleep_pid" '$2 == p { print $1 }' <<<"$output")" root
}

@test "--network host is refused for a VM container, which has a network stack of its own" {
  run --separate-stderr isola run --rm --isolation=vm --network host busybox true
  assert_status 125
  assert_stderr_matches 'network host is not supported with VM isolation'
  run isola ps -aq
  assert_output_empty
}

@test "another guest kernel: Debian's cloud kernel, its drivers loaded from the initramfs, devices found through ACPI" {
  local kver
  kver=$(ls /lib/modules | grep -m1 cloud-amd64) || fail "linux-image-cloud-amd64 is not installed (scripts/deps.sh)"
  [ -f "$REPO/build/vm/cloud/initramfs.img" ] || fail "build/vm/cloud/initramfs.img is missing (make vm-cloud)"
  # one vCPU: under TCG here the cloud kernel never brings up a second one (no console line within 60 s), while
  # isola's own kernel does; the default is the host's CPU count
  ISOLA_VM_CPUS=1 ISOLA_VM_KERNEL=/boot/vmlinuz-$kver ISOLA_VM_INITRD=$REPO/build/vm/cloud/initramfs.img ISOLA_VM_ACPI=on \
    run --separate-stderr isola run --rm --isolation=vm busybox sh -c 'uname -r; echo written > /f; cat /f'
  assert_status 0
  assert_equal "$output" "$kver
written"
}

@test "a VM container is restored from its layout's template, made once, with the host's clock and a random pool of its own" {
  # the default place, under the root
  unset ISOLA_VM_TEMPLATE_DIR
  run --separate-stderr isola run --rm --isolation=vm busybox true
  assert_status 0
  local keys=("$ISOLA_ROOT"/cache/vm/*/key)
  [ "${#keys[@]}" = 1 ] && [ -f "${keys[0]}" ] && [ -s "$(dirname "${keys[0]}")/state" ] || fail "no template: ${keys[*]}"
  # the next container of the layout is restored from it, not booted
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  local id=$output
  tr '\0' ' ' <"/proc/$(worker_of "$id")/cmdline" | grep -q -- "-incoming fd:" || fail "the VM was not restored"
  # the guest's clock is the host's, not the template's
  local guest host
  guest=$(isola exec "$id" date +%s)
  host=$(date +%s)
  [ $((host - guest)) -le 5 ] && [ $((guest - host)) -le 5 ] || fail "guest clock $guest, host $host"
  # two clones of one template draw different random numbers
  run --separate-stderr isola run --rm --isolation=vm busybox od -An -tx1 -N16 /dev/urandom
  local first=$output
  run --separate-stderr isola run --rm --isolation=vm busybox od -An -tx1 -N16 /dev/urandom
  [ -n "$first" ] && [ "$output" != "$first" ] || fail "two clones drew the same bytes: $first"
  keys=("$ISOLA_ROOT"/cache/vm/*/key)
  [ "${#keys[@]}" = 1 ] || fail "one layout made ${#keys[@]} templates"
  # another layout gets its own
  run --separate-stderr isola run --rm --isolation=vm -m 300m --cpus 1 busybox nproc
  assert_equal "$output" "1"
  keys=("$ISOLA_ROOT"/cache/vm/*/key)
  [ "${#keys[@]}" = 2 ] || fail "two layouts made ${#keys[@]} templates"
}

@test "a template that does not restore is removed and the container boots; templates can be turned off" {
  unset ISOLA_VM_TEMPLATE_DIR
  isola_ok run --rm --isolation=vm busybox true
  local state=("$ISOLA_ROOT"/cache/vm/*/state)
  head -c 100000 /dev/urandom >"${state[0]}"
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  assert_status 0
  local id=$output
  run isola exec "$id" echo up
  assert_equal "$output" "up"
  [ -s "$ISOLA_ROOT/containers/$id/qemu-restore.log" ] || fail "QEMU's complaint about the template was not kept"
  tr '\0' ' ' <"/proc/$(worker_of "$id")/cmdline" | grep -q -- "-incoming" && fail "the broken template was used"
  [ ! -e "$(dirname "${state[0]}")/key" ] || fail "the broken template was kept"
  isola_ok rm -f "$id"
  # the next start makes a good one again
  run --separate-stderr isola run --rm --isolation=vm busybox echo again
  assert_equal "$output" "again"
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  tr '\0' ' ' <"/proc/$(worker_of "$output")/cmdline" | grep -q -- "-incoming fd:" || fail "no new template"
  # off: every VM boots, and no template is made
  rm -rf "$ISOLA_ROOT/cache/vm"
  ISOLA_VM_TEMPLATE=off run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  assert_status 0
  tr '\0' ' ' <"/proc/$(worker_of "$output")/cmdline" | grep -q -- "-incoming" && fail "restored with templates off"
  [ ! -e "$ISOLA_ROOT/cache/vm" ] || fail "a template was made with templates off"
}

# status_field PID FIELD: a field of /proc/PID/status, its value's whitespace squeezed to single spaces.
status_field() {
  awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

@test "the VM worker runs as a user of its own, with no capabilities and no_new_privs, in namespaces of its own" {
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  assert_status 0
  local id=$output w
  w=$(worker_of "$id")
  local uid gid
  uid=$(status_field "$w" Uid)
  gid=$(status_field "$w" Gid)
  read -r -a ids <<<"$uid $gid"
  for i in "${ids[@]}"; do
    [ "$i" = "${ids[0]}" ] || fail "real, effective, saved and fs ids differ: Uid $uid Gid $gid"
  done
  # worker_uid_base (0x70000000 by default) + the monitor's PID
  [ "${ids[0]}" -ge $((0x70000000)) ] || fail "the worker runs as uid ${ids[0]}"
  assert_equal "$(status_field "$w" Groups)" ""
  local f
  for f in CapInh CapPrm CapEff CapBnd CapAmb; do
    assert_equal "$f $(status_field "$w" "$f")" "$f 0000000000000000"
  done
  assert_equal "$(status_field "$w" NoNewPrivs)" 1
  assert_equal "$(status_field "$w" Seccomp)" 2 # QEMU's -sandbox on
  # PID 1 of a PID namespace of its own, and mount, network, IPC and UTS namespaces of its own
  assert_equal "$(status_field "$w" NSpid)" "$w 1"
  for f in mnt pid net ipc uts; do
    [ "$(readlink "/proc/$w/ns/$f")" != "$(readlink "/proc/self/ns/$f")" ] || fail "the worker shares our $f namespace"
  done
  # its root holds only its files: nothing of the store (its disks, sockets and console are descriptors)
  local r=/proc/$w/root
  [ -d "$r/usr" ] || fail "cannot look into the worker's root"
  [ ! -e "$r$ISOLA_ROOT" ] || fail "the worker sees the store: $(ls -A "$r$ISOLA_ROOT")"
  assert_equal "$(ls -A "$r/dev" | tr '\n' ' ')" "null random urandom zero "
  for f in etc root home var run "$ISOLA_ROOT/images" "$REPO/src"; do
    [ ! -e "$r/$f" ] || fail "the worker sees $f"
  done
  [ -x "$r/usr/bin/qemu-system-x86_64" ] || fail "the worker does not see QEMU in /usr"
  ! touch "$r/usr/.isola-jail-test" 2>/dev/null || fail "the worker's /usr is writable"
  assert_equal "$(ls -A "$r/proc" | grep -E '^[0-9]+$')" "1"
  # another container's worker has another uid
  run --separate-stderr isola run -d --isolation=vm busybox sleep 1000
  assert_status 0
  local w2
  w2=$(worker_of "$output")
  [ "$(status_field "$w2" Uid)" != "$uid" ] || fail "two workers share uid $uid"
  # and the VM works: exec, pause (QMP on the socket the monitor made), unpause
  run --separate-stderr isola exec "$id" echo inside
  assert_equal "$output" inside
  isola_ok pause "$id"
  assert_equal "$(isola inspect -f '{{.State.Status}}' "$id")" paused
  isola_ok unpause "$id"
  run --separate-stderr isola exec "$id" echo again
  assert_equal "$output" again
}

@test "with -v shares the VM worker keeps only the file capabilities 9p needs, and reaches root's private files" {
  local dir=$ISOLA_ROOT.extra.private ro=$ISOLA_ROOT.extra.ro
  mkdir -m 0700 "$dir" "$ro"
  echo secret >"$dir/f"
  chmod 0600 "$dir/f"
  run --separate-stderr isola run -d --isolation=vm -v "$dir:/data" -v "$ro:/ro:ro" busybox sh -c \
    'cat /data/f; echo new >/data/g; chown 1234:5678 /data/g; echo "owner $(stat -c %u:%g /data/g)"; echo x >/ro/h;
     sleep 1000'
  assert_status 0
  local id=$output w f uid
  w=$(worker_of "$id")
  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, in every set, and nothing else: no CAP_CHOWN or CAP_FSETID,
  # which mapped-xattr does not need and with which a guest could make host files of another owner or setuid ones
  for f in CapInh CapPrm CapEff CapBnd CapAmb; do
    assert_equal "$f $(status_field "$w" "$f")" "$f 000000000000000e"
  done
  assert_equal "$(status_field "$w" NoNewPrivs)" 1
  uid=$(status_field "$w" Uid | cut -d" " -f1)
  [ "$uid" != 0 ] || fail "the worker runs as root"
  wait_for_log "$id" secret
  # the guest sees the owner it set; the host file stays the worker's, 0600 (the guest's owner is in an xattr)
  wait_for_log "$id" "owner 1234:5678"
  assert_equal "$(stat -c '%u %a' "$dir/g")" "$uid 600"
  [ ! -e "$ro/h" ] || fail "a read-only share was written"
  # the worker sees the shares (at their host paths), the read-only one read-only
  assert_equal "$(awk -v p="$ro" '$5 == p { print substr($6, 1, 3) }' "/proc/$w/mountinfo")" "ro,"
  assert_equal "$(awk -v p="$dir" '$5 == p { print substr($6, 1, 3) }' "/proc/$w/mountinfo")" "rw,"
}

@test "the VM worker runs in the container's cgroup, limited with --memory to the VM's memory and QEMU's; it goes with the container" {
  run --separate-stderr isola run -d --isolation=vm -m 64m --cpus 1 --cpuset-cpus 0 busybox sleep 1000
  assert_status 0
  local id=$output w
  w=$(worker_of "$id")
  grep -qx "0::/isola/$id" "/proc/$w/cgroup" || fail "the worker's cgroups: $(cat "/proc/$w/cgroup")"
  # --cpus is the worker's CPU quota; --cpuset-cpus names the guest's vCPUs, not the host's CPUs
  if [ -e "/sys/fs/cgroup/isola/$id/cpu.max" ]; then
    assert_equal "$(cat "/sys/fs/cgroup/isola/$id/cpu.max")" "100000 100000"
    assert_equal "$(cat "/sys/fs/cgroup/isola/$id/cpuset.cpus" 2>/dev/null)" ""
  else
    assert_equal "$(cat "/sys/fs/cgroup/cpu/isola/$id/cpu.cfs_quota_us")" 100000
    [ ! -e "/sys/fs/cgroup/cpuset/isola/$id" ] || fail "the guest's cpuset reached the host"
  fi
  # the guest has 64m + 64 MiB of headroom; QEMU under TCG up to 512 MiB more
  local want=$(((64 + 64 + 512) * 1024 * 1024)) limit
  if [ -e "/sys/fs/cgroup/memory/isola/$id/memory.limit_in_bytes" ]; then
    grep -q "^[0-9]*:memory:/isola/$id\$" "/proc/$w/cgroup" || fail "the worker is not in its v1 memory cgroup"
    limit=$(cat "/sys/fs/cgroup/memory/isola/$id/memory.limit_in_bytes")
  else
    limit=$(cat "/sys/fs/cgroup/isola/$id/memory.max")
  fi
  assert_equal "$limit" "$want"
  # stop removes the cgroups; a start makes them again, with the new worker in them
  isola_ok stop -t 1 "$id"
  assert_equal "$(container_cgroup_dirs "$id")" ""
  isola_ok start "$id"
  w=$(worker_of "$id")
  grep -qx "0::/isola/$id" "/proc/$w/cgroup" || fail "after a start: $(cat "/proc/$w/cgroup")"
  isola_ok rm -f "$id"
  assert_equal "$(container_cgroup_dirs "$id")" ""
}
