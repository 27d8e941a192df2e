# Shared by runtime.bats and runtime_vm.bats: the runtime under test, a bundle per test (rootfs from the test
# image's layers, config.json from `isola-runtime spec`) under its own state root, and podman, containerd and dockerd
# started on private roots and sockets.

# The build the suite drives: the ASan one beside an ASan isola (make test), else the release one (make check).
case "$ISOLA" in
*/asan/isola) RT=${ISOLA_RUNTIME_BIN:-$REPO/build/asan/isola-runtime} ;;
*) RT=${ISOLA_RUNTIME_BIN:-$REPO/build/isola-runtime} ;;
esac

rt_setup_file() {
  [ -x "$RT" ] || {
    echo "isola-runtime not found at $RT (make isola)" >&2
    return 1
  }
  require_busybox_image
  ROOTFS_BASE=$(mktemp -d /tmp/isola-rt-base.XXXXXX)
  made "$ROOTFS_BASE"
  "$REPO/tests/integration/runtime_bundle.sh" "$ISOLA_IMAGE" "$ROOTFS_BASE"
  export ROOTFS_BASE
}

rt_teardown_file() {
  [[ ${ROOTFS_BASE:-} == /tmp/isola-rt-base.* ]] && rm -rf "$ROOTFS_BASE"
}

rt_setup() {
  T=$(mktemp -d /tmp/isola-rt.XXXXXX)
  made "$T"
  export ISOLA_RUNTIME_ROOT=$T/state
  B=$T/bundle
  mkdir -p "$B"
  cp -a "$ROOTFS_BASE/rootfs" "$B/rootfs"
  (cd "$B" && "$RT" spec)
  # No terminal (the tests have none), a writable root, and `true` until a test says otherwise.
  edit_config '.process.terminal = false | .root.readonly = false | .process.args = ["true"]'
}

rt_teardown() {
  local id
  if [ -d "$ISOLA_RUNTIME_ROOT" ]; then
    for id in $(ls "$ISOLA_RUNTIME_ROOT"); do
      "$RT" delete --force "$id" || true
    done
  fi
  if [ -n "${PODMAN_PID_DIRS:-}" ]; then podman_teardown; fi
  if [ -n "${CONTAINERD_PID:-}" ]; then containerd_teardown; fi
  if [ -n "${DOCKERD_PID:-}" ]; then dockerd_teardown; fi
  if [ -n "${USERNS_PID:-}" ]; then
    kill "$USERNS_PID" 2>/dev/null || true
    wait "$USERNS_PID" 2>/dev/null || true
    USERNS_PID=
  fi
  # after the callers' containers are gone: the parents their cgroupsPaths made
  if [ -n "${CG_MADE:-}" ]; then remove_made_cgroups; fi
  [[ ${T:-} == /tmp/isola-rt.* ]] && rm -rf "$T"
}

# edit_config JQ: rewrites the bundle's config.json through a jq filter.
edit_config() {
  jq "$1" "$B/config.json" >"$B/config.json.new" && mv "$B/config.json.new" "$B/config.json"
}

# args CMD...: the container's command.
args() {
  local a
  a=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  edit_config ".process.args = $a"
}

rt() {
  timeout 60 "$RT" "$@"
}

# userns_holder: a user namespace of the test's own, as a pod's runtime makes one for hostUsers: false: a sleep in it
# ($USERNS_PID, killed by teardown), the test (root of the host's) writing its maps: 0 → 200000, 65536 ids.
userns_holder() {
  unshare --user sleep 1000 </dev/null >/dev/null 2>&1 &
  USERNS_PID=$!
  wait_until 30 sh -c "[ \"\$(readlink /proc/$USERNS_PID/ns/user)\" != \"\$(readlink /proc/self/ns/user)\" ]"
  echo "0 200000 65536" >"/proc/$USERNS_PID/uid_map"
  echo "0 200000 65536" >"/proc/$USERNS_PID/gid_map"
}

# create_bg ID [FLAGS]: `create` with the container's stdio on $T/out (a pipe to bats would stay open as long as
# the container runs).
create_bg() {
  local id=$1
  shift
  rt create --bundle "$B" "$@" "$id" >"$T/out" 2>"$T/err" </dev/null || {
    cat "$T/err"
    return 1
  }
}

state_field() {
  rt state "$1" | jq -r ".$2"
}

# alive PID: the process exists and is no zombie (after create, its parent is whoever adopts it, maybe no reaper).
# One read of its stat: a process that went between a test for the file and the read of it counted as alive (the
# read failed, and `! grep` took that for "no zombie": runtime.bats' delete --force, once in a whole run).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  ! grep -q '^[0-9]* (.*) [ZX] ' <<<"$stat"
}

# cgroup_of ID: the container's cgroups, isola's default or where a caller's cgroupsPath put them (podman's
# /libpod_parent/libpod-ID, containerd's /NAMESPACE/ID, dockerd's /docker/ID).
cgroup_of() {
  local h
  for h in /sys/fs/cgroup/unified /sys/fs/cgroup /sys/fs/cgroup/*/; do
    [ -d "$h" ] && find "$h" -mindepth 1 -maxdepth 3 -type d \( -name "runtime-$1" -o -name "$1" -o -name "libpod-$1" \) 2>/dev/null
  done | sort -u
}

# made_cgroup PATH: a cgroup parent (from each hierarchy's root) the test's cgroupsPath makes, removed with what is
# below it by rt_teardown.
made_cgroup() {
  CG_MADE="${CG_MADE:-} $1"
}

# made_cgroup_if_new NAME: made_cgroup for a parent the test's callers make where it does not exist yet (podman's
# machine.slice); one that exists stays, as another user's may.
made_cgroup_if_new() {
  [ -d "/sys/fs/cgroup/unified/$1" ] || [ -d "/sys/fs/cgroup/$1" ] || made_cgroup "$1"
}

remove_made_cgroups() {
  local c h
  for c in $CG_MADE; do
    for h in /sys/fs/cgroup/unified /sys/fs/cgroup /sys/fs/cgroup/*/; do
      [ -d "$h/$c" ] && find "$h/$c" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done
  CG_MADE=
}

# ---- podman ------------------------------------------------------------------------------------------------------

podman_setup() {
  command -v podman >/dev/null || skip "podman is not installed"
  cat >"$T/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  export CONTAINERS_CONF=$T/containers.conf
  PODMAN_PID_DIRS=$T/p
  # its containers' cgroupsPath with cgroupfs is /libpod_parent/libpod-ID
  made_cgroup_if_new libpod_parent
  # podman runs `delete` with neither its --runtime-flag nor our environment: the runtime it calls is a link of our
  # own, whose isola-runtime.json names the test's state root.
  mkdir -p "$T/bin"
  ln -s "$RT" "$T/bin/isola-runtime"
  echo "{\"root\": \"$ISOLA_RUNTIME_ROOT\"}" >"$T/bin/isola-runtime.json"
  P=(podman --root "$T/p/root" --runroot "$T/p/run" --tmpdir "$T/p/tmp" --runtime "$T/bin/isola-runtime"
    --cgroup-manager cgroupfs --events-backend file)
  timeout 120 "${P[@]}" load -q -i "$ISOLA_IMAGE" >/dev/null
}

podman_teardown() {
  timeout 120 "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true
  timeout 60 "${P[@]}" unshare true >/dev/null 2>&1 || true
  # podman leaves its storage mounted (overlay, shm): unmount what is under the test's directory.
  grep -o " $T/p[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# ---- containerd ------------------------------------------------------------------------------------------------

containerd_setup() {
  command -v containerd >/dev/null && command -v ctr >/dev/null || skip "containerd is not installed"
  mkdir -p "$T/cd"
  cat >"$T/cd/config.toml" <<EOF
version = 2
root = "$T/cd/root"
state = "$T/cd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$T/cd/c.sock"
[ttrpc]
  address = "$T/cd/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  containerd --config "$T/cd/config.toml" >"$T/cd/log" 2>&1 &
  CONTAINERD_PID=$!
  # its containers' cgroupsPath is /NAMESPACE/ID (ctr's namespace: default)
  made_cgroup_if_new default
  CTR=(ctr --address "$T/cd/c.sock")
  wait_until 60 "${CTR[@]}" version >/dev/null
  timeout 120 "${CTR[@]}" images import "$ISOLA_IMAGE" >/dev/null
  CRUN=(--runc-binary "$RT" --runc-root "$T/cd/rt")
}

containerd_teardown() {
  local c p
  for c in $(timeout 30 "${CTR[@]}" task ls -q 2>/dev/null); do
    timeout 30 "${CTR[@]}" task kill -s KILL "$c" >/dev/null 2>&1 || true
    timeout 30 "${CTR[@]}" task delete -f "$c" >/dev/null 2>&1 || true
  done
  for c in $(timeout 30 "${CTR[@]}" containers ls -q 2>/dev/null); do
    timeout 30 "${CTR[@]}" containers delete "$c" >/dev/null 2>&1 || true
  done
  kill "$CONTAINERD_PID" 2>/dev/null || true
  wait "$CONTAINERD_PID" 2>/dev/null || true
  CONTAINERD_PID=
  # the shims it started (their command lines name our socket)
  for p in $(grep -l -- "$T/cd" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [ "$p" != "$$" ] && kill -9 "$p" 2>/dev/null || true
  done
  grep -o " $T/cd[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# ---- dockerd -----------------------------------------------------------------------------------------------------

dockerd_setup() {
  command -v dockerd >/dev/null && command -v docker >/dev/null || skip "docker.io is not installed"
  mkdir -p "$T/dk"
  # the same binary called as isola-runtime-vm defaults to VM isolation
  ln -s "$RT" "$T/dk/isola-runtime-vm"
  # its own socket, data root and exec root; no bridge or firewall rules (the test's network namespace is its own)
  dockerd --host "unix://$T/dk/d.sock" --data-root "$T/dk/data" --exec-root "$T/dk/exec" --pidfile "$T/dk/pid" \
    --add-runtime "isola=$RT" --add-runtime "isola-vm=$T/dk/isola-runtime-vm" --bridge none --iptables=false --ip-masq=false >"$T/dk/log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST=unix://$T/dk/d.sock
  wait_until 120 docker version >/dev/null 2>&1
  timeout 120 docker load -q -i "$ISOLA_IMAGE" >/dev/null
}

dockerd_teardown() {
  local p
  timeout 60 docker rm -f $(timeout 30 docker ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  kill "$DOCKERD_PID" 2>/dev/null || true
  wait "$DOCKERD_PID" 2>/dev/null || true
  DOCKERD_PID=
  for p in $(grep -l -- "$T/dk" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [ "$p" != "$$" ] && kill -9 "$p" 2>/dev/null || true
  done
  grep -o " $T/dk[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
