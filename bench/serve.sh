#!/bin/bash
# The Docker Engine API's cost: `docker run --rm busybox true` (Debian's docker 20.10 CLI) through `isola serve`
# against the same through Debian's dockerd 20.10 (containerd, runc), each on a private socket and data root, in a
# network and mount namespace this script makes; then the server's own overhead: bench/serve_api.py makes the CLI's
# API calls for that run (_ping, create, attach, wait, start) without the CLI's start-up, against `isola run --rm
# busybox true`, with the server's CPU time per run.  The docker CLI's run --rm waits for the removal
# (wait?condition=removed), isola run --rm does not (its monitor removes the container once the exit code is out):
# the same without --rm (the removal not timed) is the like-for-like comparison.  Runs alternate, so that the machine's load
# (shared, noisy) weighs on each alike; medians, the load average beside them.
#   bench/serve.sh [RUNS]     (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${ISOLA_IN_OWN_NS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NS=1 unshare --net --mount --propagation private \
    sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-15}
isola=$(readlink -f build/isola)
docker_cli=/usr/bin/docker
work=$(mktemp -d /tmp/isola-bench-serve.XXXXXX)
export ISOLA_ROOT=$work/root DOCKER_CONFIG=$work/client
cgparent=isola-bench-serve-${work##*.}
server_pid='' dockerd_pid=''

# The processes whose command line names $work (dockerd's containerd and shims, isola's monitors): ours.
procs_of_work () {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != $$ ] && grep -qF "$work" "$p/cmdline" 2>/dev/null && echo "${p#/proc/}"
  done
  return 0
}
# shellcheck disable=SC2046,SC2086 # lists of IDs and PIDs, split on purpose
cleanup () {
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ -z "$server_pid" ] || { kill "$server_pid"; wait "$server_pid"; } 2>/dev/null || true
  if [ -n "$dockerd_pid" ]; then
    DOCKER_HOST=unix://$work/docker.sock "$docker_cli" rm -f $(DOCKER_HOST=unix://$work/docker.sock \
      "$docker_cli" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  local i
  for i in 1 2 3; do
    pids=$(procs_of_work)
    [ -n "$pids" ] || break
    kill -KILL $pids 2>/dev/null || true
    sleep 0.3
  done
  find /sys/fs/cgroup -depth -type d -path "*/$cgparent*" -exec rmdir {} \; 2>/dev/null || true
  grep -o "${work}[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh
# once FILE CMD...: appends the wall time of CMD in tenths of ms to FILE.
once () {
  local out=$1 t0 t1
  shift
  t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
  echo $(((t1 - t0) / 100000)) >>"$out"
}
ms () { median <"$1" | awk '{printf "%.1f", $1 / 10}'; }
wait_socket () {
  local i
  for i in $(seq 600); do
    curl -sf --unix-socket "$1" http://x/_ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "no server on $1" >&2
  return 1
}

# isola serve on a private store
"$isola" load -q -i build/images/busybox.tar >/dev/null
"$isola" serve -H "unix://$work/isola.sock" >"$work/serve.log" 2>&1 &
server_pid=$!
wait_socket "$work/isola.sock"
# dockerd on a private socket, data and exec roots, its containers' cgroups under a parent of ours
mkdir -p "$work/docker"
dockerd --host "unix://$work/docker.sock" --data-root "$work/docker/data" --exec-root "$work/docker/exec" \
  --pidfile "$work/docker/docker.pid" --cgroup-parent "$cgparent" --log-level warn >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
wait_socket "$work/docker.sock" || { tail -20 "$work/dockerd.log"; exit 1; }
DOCKER_HOST=unix://$work/docker.sock "$docker_cli" load -q -i build/images/busybox.tar >/dev/null

on_isola () { DOCKER_HOST=unix://$work/isola.sock "$docker_cli" "$@"; }
on_dockerd () { DOCKER_HOST=unix://$work/docker.sock "$docker_cli" "$@"; }
for i in 1 2; do
  on_isola run --rm busybox true
  on_dockerd run --rm busybox true
  "$isola" run --rm --network none busybox true
  /usr/bin/python3 bench/serve_api.py "$work/isola.sock" "$server_pid" 1 none 0
done >/dev/null
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  once "$work/t-isola" on_isola run --rm busybox true
  once "$work/t-dockerd" on_dockerd run --rm busybox true
  once "$work/t-cli" on_isola version --format '{{.Server.APIVersion}}'
  once "$work/t-run" "$isola" run --rm --network none busybox true
  /usr/bin/python3 bench/serve_api.py "$work/isola.sock" "$server_pid" 1 none 0 rm >>"$work/api"
  once "$work/t-run-keep" "$isola" run --name "kept$i" --network none busybox true
  "$isola" rm "kept$i" >/dev/null
  /usr/bin/python3 bench/serve_api.py "$work/isola.sock" "$server_pid" 1 none 0 keep >>"$work/api-keep"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
grep -v '^cpu' "$work/api" | awk '{ printf "%d\n", $1 * 10 }' >"$work/t-api"
grep -v '^cpu' "$work/api-keep" | awk '{ printf "%d\n", $1 * 10 }' >"$work/t-api-keep"
cpu=$(awk '/^cpu/ { s += $2; n++ } END { printf "%.1f", s / n }' "$work/api")
cpu_keep=$(awk '/^cpu/ { s += $2; n++ } END { printf "%.1f", s / n }' "$work/api-keep")

isola_ms=$(ms "$work/t-isola") dockerd_ms=$(ms "$work/t-dockerd") cli_ms=$(ms "$work/t-cli")
run_ms=$(ms "$work/t-run") api_ms=$(ms "$work/t-api")
keep_ms=$(ms "$work/t-run-keep") api_keep_ms=$(ms "$work/t-api-keep")
printf 'load average %s at the start, %s at the end; %d runs each, medians\n' "$load0" "$load1" "$runs"
printf '%-62s %9s\n' "" "ms"
printf '%-62s %9s\n' "docker run --rm busybox true -> isola serve" "$isola_ms"
printf '%-62s %9s\n' "docker run --rm busybox true -> dockerd 20.10 (containerd, runc)" "$dockerd_ms"
printf '%-62s %9s\n' "  isola / dockerd (target <= 0.33)" "$(echo "scale=2; $isola_ms / $dockerd_ms" | bc)"
printf '%-62s %9s\n' "docker version -> isola serve (the CLI's own start + 1 call)" "$cli_ms"
printf '%-62s %9s\n' "the CLI's API calls for run --rm, no CLI (serve_api.py)" "$api_ms"
printf '%-62s %9s\n' "isola run --rm --network none busybox true" "$run_ms"
printf '%-62s %9s\n' "  difference (the API's --rm also waits for the removal)" "$(echo "$api_ms - $run_ms" | bc)"
printf '%-62s %9s\n' "  isola serve's CPU time per run (its threads, not the monitor)" "$cpu"
printf '%-62s %9s\n' "the CLI's API calls for run without --rm, no CLI" "$api_keep_ms"
printf '%-62s %9s\n' "isola run --network none busybox true (its rm not timed)" "$keep_ms"
printf '%-62s %9s\n' "  the server's overhead: API calls - isola run (target <= 10)" "$(echo "$api_keep_ms - $keep_ms" | bc)"
printf '%-62s %9s\n' "  isola serve's CPU time per run (its threads, the rm included)" "$cpu_keep"
