#!/usr/bin/env bats
# isola-runtime (an OCI runtime with runc's command line, docs/RUNTIME.md): each verb, the config.json fields it
# honours, and podman 4.3, containerd 1.6 and dockerd 20.10 driving it, with process isolation (VM isolation:
# runtime_vm.bats).  Every test has its own state root (ISOLA_RUNTIME_ROOT, never
# /run/isola-runtime) and bundle (rootfs from the test image's layers, config.json from `isola-runtime spec`).

load helpers
load runtime_helpers

setup_file() { rt_setup_file; }
teardown_file() { rt_teardown_file; }
setup() { rt_setup; }
teardown() { rt_teardown; }

# ---- run, create, start, state ----------------------------------------------------------------------------------

@test "runtime run: the container's output and exit status" {
  args sh -c 'echo out; echo err >&2; exit 3'
  run --separate-stderr rt run --bundle "$B" r1
  assert_status 3
  assert_equal "$output" out
  assert_equal "$stderr" err
  # run deletes what it made
  run rt state r1
  assert_status 1
  assert_output_contains "does not exist"
  assert_equal "$(cgroup_of r1)" ""
}

@test "runtime run: a command that does not exist fails with the exec error, nothing left" {
  args /nonexistent
  run --separate-stderr rt run --bundle "$B" r2
  [ "$status" -ne 0 ] || fail "run succeeded"
  assert_stderr_matches 'nonexistent.*no such file or directory'
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
  assert_equal "$(cgroup_of r2)" ""
}

@test "runtime create: the process waits at the exec fifo until start; the pid file names it" {
  args sh -c 'echo started; exec sleep 1000'
  create_bg c1 --pid-file "$T/pid"
  assert_equal "$(state_field c1 status)" created
  pid=$(cat "$T/pid")
  assert_equal "$(state_field c1 pid)" "$pid"
  # not yet the container's command, and nothing printed
  [ ! -s "$T/out" ] || fail "output before start: $(cat "$T/out")"
  ! grep -q sleep "/proc/$pid/cmdline" || fail "the command ran before start"
  [ -p "$ISOLA_RUNTIME_ROOT/c1/exec.fifo" ] || fail "no exec fifo"
  rt start c1
  assert_equal "$(state_field c1 status)" running
  wait_until 30 grep -q started "$T/out"
  wait_until 30 grep -q sleep "/proc/$pid/cmdline"
  [ ! -e "$ISOLA_RUNTIME_ROOT/c1/exec.fifo" ] || fail "exec fifo left after start"
  run rt start c1
  assert_status 1
  assert_output_contains "cannot start an already running container"
}

@test "runtime create: an existing ID, a bad ID, a missing bundle are refused" {
  args sleep 1000
  create_bg c2
  run rt create --bundle "$B" c2
  assert_status 1
  assert_output_contains "container with id exists: c2"
  run rt create --bundle "$B" "bad/id"
  assert_status 1
  assert_output_contains "invalid id format"
  # a terminal needs a console socket (runc's rule for create; run relays none)
  edit_config '.process.terminal = true'
  run rt create --bundle "$B" c4
  assert_status 1
  assert_output_contains "cannot allocate tty if isola-runtime will detach without setting console socket"
  run rt run --bundle "$B" c5
  assert_status 1
  assert_output_contains "process.terminal needs --console-socket"
  run rt create --bundle "$T/nowhere" c3
  assert_status 1
  [ ! -e "$ISOLA_RUNTIME_ROOT/c3" ] || fail "state left for a failed create"
}

@test "runtime state: the OCI state JSON through the life cycle" {
  args sleep 1000
  edit_config '.annotations = {"org.example.k": "v"}'
  create_bg s1
  run rt state s1
  assert_status 0
  assert_equal "$(echo "$output" | jq -r .ociVersion)" 1.0.2
  assert_equal "$(echo "$output" | jq -r .id)" s1
  assert_equal "$(echo "$output" | jq -r .bundle)" "$B"
  assert_equal "$(echo "$output" | jq -r '.annotations["org.example.k"]')" v
  [ "$(echo "$output" | jq -r .pid)" -gt 0 ] || fail "no pid: $output"
  rt start s1
  assert_equal "$(state_field s1 status)" running
  rt kill s1 KILL
  wait_until 30 sh -c "[ \"\$('$RT' state s1 | jq -r .status)\" = stopped ]"
  assert_equal "$(state_field s1 pid)" 0
  run rt state nosuch
  assert_status 1
  assert_output_contains "container does not exist"
}

# ---- kill, delete, list ---------------------------------------------------------------------------------------

@test "runtime kill: SIGTERM by default, signals by name and number, --all, refused once stopped" {
  args sh -c 'trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 1; done'
  create_bg k1
  rt start k1
  wait_until 30 grep -q ready "$T/out"
  rt kill k1
  wait_until 30 grep -q "got TERM" "$T/out"
  wait_until 30 sh -c "[ \"\$('$RT' state k1 | jq -r .status)\" = stopped ]"
  run rt kill k1 KILL
  assert_status 1
  assert_output_contains "container not running"
  rt delete k1

  args sh -c 'sleep 1000 & echo ready; wait'
  create_bg k2
  rt start k2
  wait_until 30 grep -q ready "$T/out"
  [ "$(rt ps --format json k2 | jq length)" -eq 2 ] || fail "expected two processes: $(rt ps --format json k2)"
  run rt kill k2 NOSUCHSIG
  assert_status 1
  assert_output_contains 'unknown signal "NOSUCHSIG"'
  rt kill --all k2 9
  wait_until 30 sh -c "[ \"\$('$RT' state k2 | jq -r .status)\" = stopped ]"
}

@test "runtime delete: refused while running, --force kills; the state and cgroups go" {
  args sleep 1000
  edit_config '.linux.resources.pids = {"limit": 50}'
  create_bg d1 --pid-file "$T/pid"
  rt start d1
  [ -n "$(cgroup_of d1)" ] || fail "no cgroup"
  run rt delete d1
  assert_status 1
  assert_output_contains "cannot delete container d1 that is not stopped: running"
  rt delete --force d1
  [ ! -e "$ISOLA_RUNTIME_ROOT/d1" ] || fail "state left"
  ! alive "$(cat "$T/pid")" || fail "process left"
  assert_equal "$(cgroup_of d1)" ""
  run rt delete d1
  assert_status 1
  assert_output_contains "container does not exist"
  rt delete --force d1
}

@test "runtime delete: a created container is killed and removed" {
  args sleep 1000
  create_bg d2 --pid-file "$T/pid"
  rt delete d2
  ! alive "$(cat "$T/pid")" || fail "process left"
  [ ! -e "$ISOLA_RUNTIME_ROOT/d2" ] || fail "state left"
}

@test "runtime list: table, -q and json" {
  args sleep 1000
  create_bg l1
  create_bg l2
  rt start l2
  run rt list -q
  assert_equal "$output" "$(printf 'l1\nl2')"
  run rt list
  assert_output_matches 'l1 +[0-9]+ +created'
  assert_output_matches 'l2 +[0-9]+ +running'
  run rt list --format json
  assert_equal "$(echo "$output" | jq -r '.[].status' | tr '\n' ' ')" "created running "
}

# ---- ps, exec, pause, resume ---------------------------------------------------------------------------------

@test "runtime ps: json pids and ps's table of the container's processes" {
  args sleep 1000
  create_bg p1 --pid-file "$T/pid"
  rt start p1
  run rt ps --format json p1
  assert_equal "$output" "[$(cat "$T/pid")]"
  run rt ps p1
  assert_status 0
  assert_output_contains "PID"
  assert_output_contains "sleep 1000"
  refute_output_contains "bats"
}

@test "runtime exec: arguments, exit status, --env, --cwd, --user" {
  args sleep 1000
  edit_config '.process.env += ["FROMSPEC=1"]'
  create_bg e1
  rt start e1
  run --separate-stderr rt exec e1 sh -c 'echo $FROMSPEC $X; pwd; id -u; exit 5'
  assert_status 5
  assert_equal "${lines[0]}" "1"
  run rt exec --env X=2 --cwd /tmp --user 1000:1000 e1 sh -c 'echo $X; pwd; id -u; id -g'
  assert_status 0
  assert_equal "$output" "$(printf '2\n/tmp\n1000\n1000')"
  run -127 rt exec e1 /nonexistent
  assert_output_contains "nonexistent"
  # the exec'd process is in the container's PID namespace
  run rt exec e1 ps
  assert_output_matches '^ +1 +root +sleep 1000'
}

@test "runtime exec: --process FILE, --detach with --pid-file" {
  args sleep 1000
  create_bg e2
  rt start e2
  jq '.process | .args = ["sh", "-c", "echo from-process-file"]' "$B/config.json" >"$T/process.json"
  run rt exec --process "$T/process.json" e2
  assert_status 0
  assert_equal "$output" from-process-file
  rt exec --detach --pid-file "$T/exec.pid" e2 sleep 999 >/dev/null 2>&1 </dev/null
  pid=$(cat "$T/exec.pid")
  grep -q "sleep" "/proc/$pid/cmdline" || fail "pid file does not name the exec'd command"
  rt ps --format json e2 | jq -e "index($pid)" >/dev/null || fail "exec'd process not in the container's cgroup"
}

@test "runtime pause, resume: the freezer and the status" {
  args sleep 1000
  create_bg f1
  rt start f1
  run rt resume f1
  assert_status 1
  assert_output_contains "container not paused"
  rt pause f1
  assert_equal "$(state_field f1 status)" paused
  run rt exec f1 true
  assert_status 255
  assert_output_contains "paused"
  run rt delete f1
  assert_status 1
  rt resume f1
  assert_equal "$(state_field f1 status)" running
  rt exec f1 true
}

@test "runtime update: flags and -r FILE, merged over the container's limits" {
  args sleep 1000
  edit_config '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 33}'
  create_bg u1
  rt start u1
  rt update --pids-limit 44 u1
  pids=$(cat /sys/fs/cgroup/pids/isola/runtime-u1/pids.max 2>/dev/null || cat /sys/fs/cgroup/isola/runtime-u1/pids.max)
  assert_equal "$pids" 44
  echo '{"memory": {"limit": 134217728}}' | rt update -r - u1
  mem=$(cat /sys/fs/cgroup/memory/isola/runtime-u1/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/isola/runtime-u1/memory.max)
  assert_equal "$mem" 134217728
  # the pids limit of the first update stays
  pids=$(cat /sys/fs/cgroup/pids/isola/runtime-u1/pids.max 2>/dev/null || cat /sys/fs/cgroup/isola/runtime-u1/pids.max)
  assert_equal "$pids" 44
  run rt update --memory lots u1
  assert_status 1
  assert_output_contains "invalid value"
}

@test "runtime events --stats: the container's cgroup figures" {
  args sh -c 'sleep 1000 & sleep 1000 & echo ready; wait'
  edit_config '.linux.resources.memory = {"limit": 67108864}'
  create_bg ev1
  rt start ev1
  wait_until 30 grep -q ready "$T/out"
  run rt events --stats ev1
  assert_status 0
  assert_equal "$(echo "$output" | jq -r .type)" stats
  assert_equal "$(echo "$output" | jq -r .id)" ev1
  assert_equal "$(echo "$output" | jq -r .data.pids.current)" 3
  assert_equal "$(echo "$output" | jq -r .data.memory.usage.limit)" 67108864
  [ "$(echo "$output" | jq -r .data.memory.usage.usage)" -gt 0 ] || fail "no memory use: $output"
  rt kill ev1 KILL
  wait_until 30 sh -c "[ \"\$('$RT' state ev1 | jq -r .status)\" = stopped ]"
  run rt events --stats ev1
  assert_status 1
  assert_output_contains "is not running"
}

# ---- spec, features, global flags ------------------------------------------------------------------------------

@test "runtime spec, features" {
  run rt spec --bundle "$B"
  assert_status 1
  assert_output_contains "exists. Remove it first"
  mkdir "$T/new"
  rt spec --bundle "$T/new"
  assert_equal "$(jq -r '.process.args[0]' "$T/new/config.json")" sh
  assert_equal "$(jq -r '.root.path' "$T/new/config.json")" rootfs
  run rt features
  assert_status 0
  assert_equal "$(echo "$output" | jq -r .ociVersionMin)" 1.0.0
  echo "$output" | jq -e '.linux.namespaces | index("pid")' >/dev/null
  echo "$output" | jq -e '.hooks | index("startContainer")' >/dev/null
}

@test "runtime --root, --log --log-format json" {
  args sleep 1000
  rt --root "$T/other" create --bundle "$B" g1 >/dev/null 2>&1 </dev/null
  [ -f "$T/other/g1/state.json" ] || fail "--root not used"
  run rt state g1
  assert_status 1
  run rt --root "$T/other" --log "$T/log" --log-format json start nosuch
  assert_status 1
  assert_equal "$(jq -r .level "$T/log")" error
  assert_equal "$(jq -r .msg "$T/log")" "container does not exist"
  rt --root "$T/other" delete --force g1
}

# ---- config.json fields ----------------------------------------------------------------------------------------

@test "runtime config: hostname, env, cwd, user, additionalGids, rlimits, noNewPrivileges, oomScoreAdj" {
  args sh -c 'hostname; echo $FOO; pwd; id -u; id -g; id -G; ulimit -n; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj'
  edit_config '.hostname = "rt-host" | .process.env += ["FOO=bar"] | .process.cwd = "/made/here"
    | .process.user = {"uid": 1000, "gid": 1001, "additionalGids": [1002]}
    | .process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
    | .process.noNewPrivileges = true | .process.oomScoreAdj = 42'
  run rt run --bundle "$B" cfg1
  assert_status 0
  assert_equal "$output" "$(printf 'rt-host\nbar\n/made/here\n1000\n1001\n1001 1002\n123\nNoNewPrivs:\t1\n42')"
}

@test "runtime config: capabilities' bounding set" {
  args sh -c 'grep CapBnd /proc/self/status'
  edit_config '.process.capabilities.bounding = ["CAP_CHOWN", "CAP_KILL"]'
  run rt run --bundle "$B" cap1
  assert_equal "$output" "$(printf 'CapBnd:\t0000000000000021')"
}

@test "runtime config: readonly root, bind and tmpfs mounts" {
  mkdir "$T/shared"
  echo from-host >"$T/shared/f"
  args sh -c 'cat /data/f; echo w >/data/g; touch /root-file 2>&1 || echo root-ro; echo t >/scratch/x && cat /scratch/x; touch /ro/y 2>&1 || echo bind-ro'
  edit_config ".root.readonly = true | .mounts += [{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$T/shared\", \"options\": [\"rbind\"]},
    {\"destination\": \"/scratch\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"size=1m\"]},
    {\"destination\": \"/ro\", \"type\": \"bind\", \"source\": \"$T/shared\", \"options\": [\"bind\", \"ro\"]}]"
  run rt run --bundle "$B" mnt1
  assert_status 0
  assert_equal "${lines[0]}" from-host
  assert_output_contains root-ro
  assert_output_contains t
  assert_output_contains bind-ro
  assert_equal "$(cat "$T/shared/g")" w
}

@test "runtime config: a bundle root on a read-only file system runs, and gets nothing added" {
  mkdir "$T/ro"
  mount --bind -o ro "$B/rootfs" "$T/ro"
  edit_config ".root.path = \"$T/ro\" | .root.readonly = true"
  args sh -c 'echo ran'
  run rt run --bundle "$B" ro1
  umount "$T/ro"
  assert_status 0
  assert_equal "$output" ran
  [ ! -e "$B/rootfs/etc/mtab" ] || fail "/etc/mtab was added to the bundle's root"
}

@test "runtime config: maskedPaths and readonlyPaths are the spec's" {
  args sh -c 'wc -c </proc/keys; echo 8192 2>&1 >/proc/sys/kernel/msgmax; cat /proc/timer_list | head -c 10 | wc -c'
  edit_config '.linux.maskedPaths = ["/proc/keys"] | .linux.readonlyPaths = ["/proc/sys"]'
  run rt run --bundle "$B" mask1
  assert_status 0
  assert_equal "${lines[0]}" 0
  assert_output_contains "Read-only file system"
  # not masked: the spec's list replaces Docker's
  assert_equal "${lines[-1]}" 10
}

@test "runtime config: namespaces, private and joined by path" {
  args sleep 1000
  create_bg ns1 --pid-file "$T/pid1"
  rt start ns1
  pid1=$(cat "$T/pid1")
  args sh -c 'readlink /proc/self/ns/net; readlink /proc/self/ns/ipc'
  edit_config ".linux.namespaces = [{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"network\", \"path\": \"/proc/$pid1/ns/net\"}, {\"type\": \"ipc\", \"path\": \"/proc/$pid1/ns/ipc\"}]"
  run rt run --bundle "$B" ns2
  assert_status 0
  assert_equal "${lines[0]}" "$(readlink "/proc/$pid1/ns/net")"
  assert_equal "${lines[1]}" "$(readlink "/proc/$pid1/ns/ipc")"
  # without a network entry the container has the host's
  args readlink /proc/self/ns/net
  edit_config '.linux.namespaces = [{"type": "pid"}, {"type": "mount"}]'
  run rt run --bundle "$B" ns3
  assert_equal "$output" "$(readlink /proc/self/ns/net)"
  edit_config '.linux.namespaces += [{"type": "user"}]'
  run rt run --bundle "$B" ns4
  assert_status 1
  assert_output_contains "a user namespace needs linux.uidMappings"
}

# host_uid PID: the real uid of a host process (its /proc status).
host_uid() {
  awk '/^Uid:/ { print $2 }' "/proc/$1/status"
}

@test "runtime config: a user namespace maps the container's root to the uidMappings' host range" {
  # The caller prepares the root for the range, as for runc: here the test chowns it.
  chown -R -h 100000:100000 "$B/rootfs"
  # and the path to it must be searchable by that root, who is no one else on the host (mktemp made T 0700)
  chmod 755 "$T" "$B"
  edit_config '.linux.namespaces += [{"type": "user"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
  args sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u:%g /bin; touch /made-inside'
  run --separate-stderr rt run --bundle "$B" u1
  assert_status 0
  assert_equal "$(echo "${lines[0]}" | tr -s ' ' | sed 's/^ //')" "0 100000 65536"
  assert_equal "$(echo "${lines[1]}" | tr -s ' ' | sed 's/^ //')" "0 100000 65536"
  assert_equal "${lines[2]}" 0
  assert_equal "${lines[3]}" 0
  assert_equal "${lines[4]}" 0:0
  # what the container's root makes belongs to the range's first ids on the host
  assert_equal "$(stat -c %u:%g "$B/rootfs/made-inside")" 100000:100000

  args sleep 1000
  create_bg u2 --pid-file "$T/pid"
  rt start u2
  assert_equal "$(host_uid "$(cat "$T/pid")")" 100000
  [ "$(readlink "/proc/$(cat "$T/pid")/ns/user")" != "$(readlink /proc/self/ns/user)" ] || fail "the host's user namespace"
  # exec joins the user namespace: its root is the container's, a --user the range's
  run rt exec u2 sh -c 'id -u; cat /proc/self/uid_map'
  assert_status 0
  assert_equal "${lines[0]}" 0
  assert_equal "$(echo "${lines[1]}" | tr -s ' ' | sed 's/^ //')" "0 100000 65536"
  rt exec -d --pid-file "$T/epid" u2 sleep 1000
  assert_equal "$(host_uid "$(cat "$T/epid")")" 100000
  rt exec -d --pid-file "$T/epid2" --user 1000:1000 u2 sleep 1000
  assert_equal "$(host_uid "$(cat "$T/epid2")")" 101000
  rt delete --force u2
  ! alive "$(cat "$T/epid")" || fail "the exec'd process outlived delete"

  # runc's rules: mappings without a user namespace, a user namespace without them
  edit_config 'del(.linux.namespaces[] | select(.type == "user"))'
  run rt run --bundle "$B" u3
  assert_status 1
  assert_output_contains "user namespaces aren't enabled in the container"
}

# has_cap_sys_resource: the test (and so the runtime) may raise a hard limit (this kind of machine's bounding set
# lacks CAP_SYS_RESOURCE, ../../../shared/MEASURED.md).
has_cap_sys_resource() {
  local eff
  eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
  (((0x$eff >> 24) & 1))
}

@test "runtime config: rlimits in a user namespace are set from outside it: above the runtime's hard limit only with CAP_SYS_RESOURCE, else a clear error" {
  chown -R -h 100000:100000 "$B/rootfs"
  chmod 755 "$T" "$B"
  edit_config '.linux.namespaces += [{"type": "user"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
  args sh -c 'ulimit -Sn; ulimit -Hn'
  # within the runtime's hard limit (4096 here): the soft one raised, the hard one lowered, in the namespace
  edit_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 3000, "hard": 3500}]'
  run timeout 60 prlimit --nofile=1024:4096 "$RT" run --bundle "$B" rl1
  assert_status 0
  assert_equal "${lines[0]}" 3000
  assert_equal "${lines[1]}" 3500
  # above it: the namespace's root may never raise it (EPERM, whatever the host's root may); the runtime sets it
  # before the process enters the namespace, as runc does, so only the runtime's own right counts
  edit_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 5000, "hard": 5000}]'
  run timeout 60 prlimit --nofile=1024:4096 "$RT" run --bundle "$B" rl2
  if has_cap_sys_resource; then
    assert_status 0
    assert_equal "${lines[1]}" 5000
  else
    assert_status 1
    assert_output_contains "setrlimit 7 (soft 5000, hard 5000): the hard limit is above the runtime's (4096), and raising it needs CAP_SYS_RESOURCE"
    [ ! -e "$ISOLA_RUNTIME_ROOT/rl2" ] || fail "state left by a refused run"
  fi
  # exec's process.rlimits too
  edit_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}]'
  args sleep 1000
  create_bg rl3 --pid-file "$T/pid"
  rt start rl3
  echo '{"args": ["sh", "-c", "ulimit -Hn"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2000, "hard": 2000}]}' >"$T/proc.json"
  run rt exec --process "$T/proc.json" rl3
  assert_status 0
  assert_equal "$output" 2000
  rt delete --force rl3
}

@test "runtime config: a user namespace joined by path (a pod's): the container is its root, joins the pod's others; the spec's maps must be its own" {
  userns_holder
  chown -R -h 200000:200000 "$B/rootfs"
  chmod 755 "$T" "$B"
  ns=/proc/$USERNS_PID/ns/user
  # the pod's first container (its sandbox): the user namespace by path, the others new (they belong to it)
  edit_config ".linux.namespaces += [{\"type\": \"user\", \"path\": \"$ns\"}]"
  args sleep 1000
  create_bg p1 --pid-file "$T/pid1"
  rt start p1
  pid1=$(cat "$T/pid1")
  assert_equal "$(host_uid "$pid1")" 200000
  assert_equal "$(readlink "/proc/$pid1/ns/user")" "$(readlink "$ns")"
  # the pod's next container joins its user, network and IPC namespaces by path, with the spec's maps as containerd
  # and CRI-O pass them (the same as the namespace's: a warning, as runc's); the container's root is the range's
  args sh -c 'cat /proc/self/uid_map; id -u; id -g; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; touch /made-inside'
  edit_config ".linux.namespaces = [{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"uts\"},
      {\"type\": \"user\", \"path\": \"$ns\"}, {\"type\": \"network\", \"path\": \"/proc/$pid1/ns/net\"},
      {\"type\": \"ipc\", \"path\": \"/proc/$pid1/ns/ipc\"}]
    | .linux.uidMappings = [{\"containerID\": 0, \"hostID\": 200000, \"size\": 65536}]
    | .linux.gidMappings = [{\"containerID\": 0, \"hostID\": 200000, \"size\": 65536}]"
  run --separate-stderr rt run --bundle "$B" p2
  assert_status 0
  assert_equal "$(echo "${lines[0]}" | tr -s ' ' | sed 's/^ //')" "0 200000 65536"
  assert_equal "${lines[1]}" 0
  assert_equal "${lines[2]}" 0
  assert_equal "${lines[3]}" "$(readlink "/proc/$pid1/ns/net")"
  assert_equal "${lines[4]}" "$(readlink "/proc/$pid1/ns/ipc")"
  assert_equal "$(stat -c %u:%g "$B/rootfs/made-inside")" 200000:200000
  [[ $stderr == *"both a userns path to join and a matching userns mapping"* ]] || fail "no warning: $stderr"
  # exec joins it: its root is the container's
  run rt exec p1 sh -c 'id -u; cat /proc/self/uid_map'
  assert_status 0
  assert_equal "${lines[0]}" 0
  assert_equal "$(echo "${lines[1]}" | tr -s ' ' | sed 's/^ //')" "0 200000 65536"
  rt exec -d --pid-file "$T/epid" p1 sleep 1000
  assert_equal "$(host_uid "$(cat "$T/epid")")" 200000
  # maps that are not the namespace's are refused, as by runc, and nothing is left
  edit_config '.linux.uidMappings = [{"containerID": 0, "hostID": 300000, "size": 65536}]'
  run rt run --bundle "$B" p3
  assert_status 1
  assert_output_contains "user namespaces enabled, but both namespace path and non-matching mapping specified"
  [ ! -e "$ISOLA_RUNTIME_ROOT/p3" ] || fail "state left by a refused create"
  rt delete --force p1
  ! alive "$(cat "$T/epid")" || fail "the exec'd process outlived delete"
}

@test "runtime config: linux.resources (memory, pids, cpu) reach the cgroups" {
  args sleep 1000
  edit_config '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 33} | .linux.resources.cpu = {"quota": 50000, "period": 100000}'
  create_bg res1
  mem=$(cat /sys/fs/cgroup/memory/isola/runtime-res1/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/isola/runtime-res1/memory.max)
  assert_equal "$mem" 67108864
  pids=$(cat /sys/fs/cgroup/pids/isola/runtime-res1/pids.max 2>/dev/null || cat /sys/fs/cgroup/isola/runtime-res1/pids.max)
  assert_equal "$pids" 33
  cpu=$(cat /sys/fs/cgroup/cpu/isola/runtime-res1/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/isola/runtime-res1/cpu.max)
  assert_equal "$cpu" 50000
}

# cgroup_paths PID: the process's cgroups as /proc says, "hierarchy:path" a line (the unified one as "0::path").
cgroup_paths() {
  cut -d: -f2- "/proc/$1/cgroup"
}

# check_cgroup_v2 PID PATH: PID is in PATH of the v2 hierarchy (hybrid's unified one), the cgroup every container has.
check_cgroup_v2() {
  local got
  got=$(cut -d: -f2- "/proc/$1/cgroup")
  echo "$got" | grep -qx ":$2" || fail "not in $2: $got"
}

# check_cgroup PID PATH: PID is in PATH in the unified hierarchy and in the v1 memory and pids ones (the test's
# limits ask for them), and nowhere under isola/.
check_cgroup() {
  local got
  got=$(cgroup_paths "$1")
  if [ -d /sys/fs/cgroup/unified ] || [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "$got" | grep -qx ":$2" || fail "not in $2 (v2): $got"
  fi
  if [ -d /sys/fs/cgroup/memory ]; then
    echo "$got" | grep -qx "memory:$2" || fail "not in $2 (memory): $got"
    echo "$got" | grep -qx "pids:$2" || fail "not in $2 (pids): $got"
  fi
}

@test "runtime config: linux.cgroupsPath absolute, relative, and --systemd-cgroup's slice:prefix:name; delete removes them" {
  u=$(basename "$T" | tr -cd 'a-zA-Z0-9')
  args sleep 1000
  edit_config '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 40}'
  # absolute: from each hierarchy's root, the container's exec'd processes too
  made_cgroup "$u"
  edit_config ".linux.cgroupsPath = \"/$u/pod/cg1\""
  create_bg cg1 --pid-file "$T/pid1"
  rt start cg1
  check_cgroup "$(cat "$T/pid1")" "/$u/pod/cg1"
  [ -z "$(ls -d /sys/fs/cgroup/*/isola/runtime-cg1 /sys/fs/cgroup/unified/isola/runtime-cg1 2>/dev/null)" ] || fail "made under isola/ too"
  assert_equal "$(cat "/sys/fs/cgroup/pids/$u/pod/cg1/pids.max" 2>/dev/null || cat "/sys/fs/cgroup/$u/pod/cg1/pids.max")" 40
  rt exec -d --pid-file "$T/epid" cg1 sleep 1000
  check_cgroup "$(cat "$T/epid")" "/$u/pod/cg1"
  run rt ps -f json cg1
  assert_output_contains "$(cat "$T/epid")"
  # relative: below the runtime's default parent, isola/
  edit_config ".linux.cgroupsPath = \"$u/cg2\""
  made_cgroup "isola/$u"
  create_bg cg2 --pid-file "$T/pid2"
  check_cgroup "$(cat "$T/pid2")" "/isola/$u/cg2"
  # systemd's form: the slice nested as systemd nests it, then PREFIX-NAME.scope
  edit_config ".linux.cgroupsPath = \"$u-pod.slice:rt:cg3\""
  made_cgroup "$u.slice"
  rt --systemd-cgroup create --bundle "$B" --pid-file "$T/pid3" cg3 >"$T/out3" 2>&1 </dev/null
  check_cgroup "$(cat "$T/pid3")" "/$u.slice/$u-pod.slice/rt-cg3.scope"
  # a climbing path, and a plain path with --systemd-cgroup, are refused with runc's words
  edit_config ".linux.cgroupsPath = \"/$u/../escape\""
  run rt create --bundle "$B" cg4 </dev/null
  assert_status 1
  assert_output_contains 'invalid cgroupsPath'
  edit_config ".linux.cgroupsPath = \"/$u/x\""
  run rt --systemd-cgroup create --bundle "$B" cg4 </dev/null
  assert_status 1
  assert_output_contains 'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups'
  [ ! -e "$ISOLA_RUNTIME_ROOT/cg4" ] || fail "state left by a refused create"
  # delete removes each container's cgroup in every hierarchy (the parents are the caller's, as with runc)
  rt delete --force cg1
  rt delete cg2
  rt delete cg3
  left=$(ls -d /sys/fs/cgroup/*/"$u"/pod/cg1 /sys/fs/cgroup/unified/"$u"/pod/cg1 /sys/fs/cgroup/*/isola/"$u"/cg2 \
    /sys/fs/cgroup/unified/isola/"$u"/cg2 /sys/fs/cgroup/*/"$u".slice/*/rt-cg3.scope /sys/fs/cgroup/unified/"$u".slice/*/rt-cg3.scope 2>/dev/null || true)
  assert_equal "$left" ""
  ! alive "$(cat "$T/epid")" || fail "the exec'd process outlived delete"
}

@test "runtime config: sysctl, devices, seccomp in the spec's form" {
  args sh -c 'cat /proc/sys/kernel/msgmax; ls -l /dev/mynull | cut -c1; echo x >/dev/mynull && echo null-ok; mkdir /tmp/d 2>&1 || echo mkdir-denied'
  edit_config '.linux.sysctl = {"kernel.msgmax": "4242"}
    | .linux.devices = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]
    | .linux.resources.devices = [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
    | .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
  run rt run --bundle "$B" sys1
  assert_status 0
  assert_equal "${lines[0]}" 4242
  assert_equal "${lines[1]}" c
  assert_equal "${lines[2]}" null-ok
  assert_output_contains "Operation not permitted"
  assert_output_contains mkdir-denied
}

@test "runtime config: hooks get the state on stdin; a failing prestart hook fails create" {
  printf '#!/bin/sh\ncat >>%s/hooks.log\necho " $1" >>%s/hooks.log\n' "$T" "$T" >"$T/hook"
  chmod +x "$T/hook"
  args true
  edit_config ".hooks = {\"prestart\": [{\"path\": \"$T/hook\", \"args\": [\"hook\", \"prestart\"]}],
    \"createRuntime\": [{\"path\": \"$T/hook\", \"args\": [\"hook\", \"createRuntime\"]}],
    \"poststart\": [{\"path\": \"$T/hook\", \"args\": [\"hook\", \"poststart\"]}],
    \"poststop\": [{\"path\": \"$T/hook\", \"args\": [\"hook\", \"poststop\"]}]}"
  rt run --bundle "$B" h1
  run grep -o '"id":"h1".*"status":"[a-z]*"' "$T/hooks.log"
  [ "${#lines[@]}" -eq 4 ] || fail "expected 4 hook runs: $(cat "$T/hooks.log")"
  assert_equal "$(grep -o ' [a-zA-Z]*$' "$T/hooks.log" | tr -d ' ' | tr '\n' ' ')" "prestart createRuntime poststart poststop "
  edit_config '.hooks = {"prestart": [{"path": "/bin/false"}]}'
  run rt run --bundle "$B" h2
  assert_status 1
  assert_output_contains "error running prestart hook #0"
  [ ! -e "$ISOLA_RUNTIME_ROOT/h2" ] || fail "state left"
  assert_equal "$(cgroup_of h2)" ""
}

@test "runtime config: createContainer and startContainer hooks run in the container's namespaces" {
  # a script on the host's path, run with the container's root as / (its interpreter is the container's sh)
  printf '#!/bin/sh\n{ hostname; cat; echo; } >"/hook-$1"\n' >"$T/chook"
  chmod +x "$T/chook"
  args sh -c 'cat /hook-createContainer /hook-startContainer'
  edit_config ".hostname = \"hooked\" | .hooks = {
    \"createContainer\": [{\"path\": \"$T/chook\", \"args\": [\"chook\", \"createContainer\"]}],
    \"startContainer\": [{\"path\": \"$T/chook\", \"args\": [\"chook\", \"startContainer\"]}]}"
  run --separate-stderr rt run --bundle "$B" hc1
  assert_status 0
  assert_equal "${lines[0]}" hooked
  assert_output_matches '"id":"hc1".*"status":"created"'
  assert_equal "${lines[2]}" hooked
  [ ! -e "$T/hook-createContainer" ] || fail "the hook ran in the runtime's mount namespace"
  # a failing startContainer hook fails start; the container is deleted as usual
  edit_config '.hooks = {"startContainer": [{"path": "/bin/false"}]}'
  create_bg hc2
  run rt start hc2
  assert_status 1
  assert_output_contains "error running startContainer hook #0"
  rt delete --force hc2
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
}

@test "runtime config: fields this host cannot honour are warned about; an unknown isolation is refused" {
  edit_config '.process.apparmorProfile = "docker-default" | .linux.mountLabel = "system_u:object_r:container_file_t:s0"'
  run --separate-stderr rt run --bundle "$B" w1
  assert_status 0
  assert_stderr_matches 'level=warning msg=.*apparmorProfile'
  assert_stderr_matches 'level=warning msg=.*mountLabel'
  # called as isola-runtime-vm, the annotation still chooses (VM isolation itself: runtime_vm.bats)
  ln -s "$RT" "$T/isola-runtime-vm"
  edit_config '.annotations = {"io.isola.isolation": "process"}'
  run "$T/isola-runtime-vm" run --bundle "$B" w5
  assert_status 0
  edit_config '.annotations = {"io.isola.isolation": "bogus"}'
  run rt run --bundle "$B" w3
  assert_status 1
  assert_output_contains 'unknown isolation "bogus"'
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT")" ""
}

# ---- podman ------------------------------------------------------------------------------------------------------

@test "runtime podman: run --rm, its output and exit code; exec, stop, rm" {
  podman_setup
  run --separate-stderr timeout 120 "${P[@]}" run --rm --network none busybox sh -c 'echo hi from podman; exit 4'
  assert_status 4
  assert_equal "$output" "hi from podman"
  run timeout 120 "${P[@]}" run -d --name s1 --network none busybox sleep 1000
  assert_status 0
  id=$output
  [ -f "$ISOLA_RUNTIME_ROOT/$id/state.json" ] || fail "podman's container is not under the test's runtime root"
  assert_equal "$(ISOLA_RUNTIME_ROOT= "$T/bin/isola-runtime" state "$id" | jq -r .status)" running
  run timeout 120 "${P[@]}" exec s1 sh -c 'echo in-exec; exit 6'
  assert_status 6
  assert_equal "$output" in-exec
  run -127 timeout 120 "${P[@]}" exec s1 nosuchcmd
  run timeout 120 "${P[@]}" top s1
  assert_output_contains "sleep 1000"
  timeout 120 "${P[@]}" pause s1
  assert_equal "$(timeout 60 "${P[@]}" inspect -f '{{.State.Status}}' s1)" paused
  timeout 120 "${P[@]}" unpause s1
  timeout 120 "${P[@]}" stop -t 0 s1
  assert_equal "$(timeout 60 "${P[@]}" inspect -f '{{.State.Status}}' s1)" exited
  timeout 120 "${P[@]}" rm s1
  # podman's delete found them there: nothing is left
  assert_equal "$(ls "$ISOLA_RUNTIME_ROOT" 2>/dev/null)" ""
  assert_equal "$(cgroup_of "$id")" ""
}

@test "runtime podman: the container's cgroup is podman's cgroupsPath, with --cgroup-manager cgroupfs and systemd" {
  podman_setup
  # cgroupfs: /libpod_parent/libpod-ID
  run timeout 120 "${P[@]}" run -d --network none busybox sleep 1000
  assert_status 0
  id=$output
  pid=$(ISOLA_RUNTIME_ROOT= "$T/bin/isola-runtime" state "$id" | jq -r .pid)
  check_cgroup_v2 "$pid" "/libpod_parent/libpod-$id"
  timeout 120 "${P[@]}" rm -f -t 0 "$id"
  assert_equal "$(cgroup_of "$id")" ""
  # systemd (podman passes --systemd-cgroup and machine.slice:libpod:ID; no systemd runs here, the runtime writes
  # the scope itself): /machine.slice/libpod-ID.scope
  made_cgroup_if_new machine.slice
  # (podman warns that it cannot reach systemd for conmon's own cgroup)
  run --separate-stderr timeout 120 "${P[@]}" --cgroup-manager systemd run -d --network none busybox sleep 1000
  assert_status 0
  id=$output
  pid=$(ISOLA_RUNTIME_ROOT= "$T/bin/isola-runtime" state "$id" | jq -r .pid)
  check_cgroup_v2 "$pid" "/machine.slice/libpod-$id.scope"
  timeout 120 "${P[@]}" rm -f -t 0 "$id"
  assert_equal "$(ls -d /sys/fs/cgroup/*/machine.slice/libpod-"$id".scope /sys/fs/cgroup/unified/machine.slice/libpod-"$id".scope 2>/dev/null)" ""
}

# ---- containerd ------------------------------------------------------------------------------------------------

@test "runtime containerd: ctr run (output, exit code), task exec, ps, pause, kill, delete" {
  containerd_setup
  run --separate-stderr timeout 120 "${CTR[@]}" run --rm "${CRUN[@]}" docker.io/library/busybox:latest t1 sh -c 'echo hi from ctr; exit 3'
  assert_status 3
  assert_equal "$output" "hi from ctr"
  timeout 120 "${CTR[@]}" run -d "${CRUN[@]}" docker.io/library/busybox:latest t2 sleep 1000
  run timeout 60 "${CTR[@]}" task exec --exec-id e1 t2 sh -c 'echo exec-out; exit 4'
  assert_status 4
  assert_equal "$output" exec-out
  pid=$(timeout 60 "${CTR[@]}" task ls | awk '$1 == "t2" {print $2}')
  [ -d "$T/cd/rt/default/t2" ] || fail "the runtime's state is not under --runc-root"
  assert_equal "$(rt --root "$T/cd/rt/default" state t2 | jq -r .pid)" "$pid"
  run timeout 60 "${CTR[@]}" task ps t2
  assert_output_contains "$pid"
  timeout 60 "${CTR[@]}" task pause t2
  run timeout 60 "${CTR[@]}" task ls
  assert_output_matches "t2 +$pid +PAUSED"
  timeout 60 "${CTR[@]}" task resume t2
  timeout 60 "${CTR[@]}" task kill -s KILL t2
  wait_until 30 sh -c "timeout 30 ctr --address '$T/cd/c.sock' task ls | grep -q 't2 .*STOPPED'"
  timeout 60 "${CTR[@]}" task delete t2
  timeout 60 "${CTR[@]}" containers delete t2
  assert_equal "$(ls "$T/cd/rt/default")" ""
  assert_equal "$(cgroup_of t2)" ""
  containerd_teardown
}

# ---- dockerd -----------------------------------------------------------------------------------------------------

@test "runtime dockerd: docker run --runtime isola (output, exit code), exec, top, pause, stop, rm" {
  dockerd_setup
  run --separate-stderr timeout 120 docker run --rm --runtime isola --network none busybox sh -c 'echo hi from docker; exit 5'
  assert_status 5
  assert_equal "$output" "hi from docker"
  timeout 120 docker run -d --name d1 --runtime isola --network none busybox sleep 1000
  run timeout 60 docker exec d1 sh -c 'echo in-exec; exit 6'
  assert_status 6
  assert_equal "$output" in-exec
  run timeout 60 docker top d1
  assert_output_contains "sleep 1000"
  timeout 60 docker pause d1
  assert_equal "$(timeout 60 docker inspect -f '{{.State.Status}}' d1)" paused
  timeout 60 docker unpause d1
  timeout 60 docker stop -t 0 d1
  assert_equal "$(timeout 60 docker inspect -f '{{.State.ExitCode}}' d1)" 137
  timeout 60 docker rm d1
  # the runtime's state went under dockerd's exec root, and none is left
  assert_equal "$(ls "$T/dk/exec/runtime-runc/moby" 2>/dev/null)" ""
  dockerd_teardown
}
