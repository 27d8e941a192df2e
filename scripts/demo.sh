#!/bin/sh
# `make demo`: the project's main job — the default image in the store, and the seed's scenario in process
# isolation: a container pinging localhost, `isola top` listing ping, and the host's ps finding the same PID.
# Uses the root in use ($ISOLA_ROOT, default /var/lib/isola).
set -eu
cd "$(dirname "$0")/.."
isola=build/isola
step () { printf '\n$ %s\n' "$*"; "$@"; }

step $isola load -i build/images/busybox.tar
step $isola images
step $isola image inspect --format 'ID {{.Id}}  Cmd {{json .Config.Cmd}}  Layers {{json .RootFS.Layers}}' busybox

printf '\n$ isola run -d busybox ping localhost\n'
id=$($isola run -d busybox ping localhost)
echo "$id"
trap '$isola rm -f "$id" >/dev/null 2>&1 || true' EXIT INT TERM
sleep 1
step $isola ps
step $isola top "$id"
step ps -C ping -o pid,ppid,args
pid=$($isola inspect -f '{{.State.Pid}}' "$id")
printf '\nState.Pid %s is ping on the host too: %s\n' "$pid" "$(ps -p "$pid" -o comm=)"
step $isola logs --tail 3 "$id"
step $isola run --rm busybox sh -c 'echo "inside: pid $$, hostname $(hostname), kernel $(uname -r)"'
step $isola rm -f "$id"
