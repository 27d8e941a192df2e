#!/bin/sh
# `make demo`: the project's main job as far as it goes today — the default image in the store, listed,
# inspected and mounted.  Uses the root in use ($ISOLA_ROOT, default /var/lib/isola).
set -eu
cd "$(dirname "$0")/.."
isola=build/isola
step () { printf '\n$ %s\n' "$*"; "$@"; }

step $isola load -i build/images/busybox.tar
step $isola images
step $isola image inspect --format 'ID {{.Id}}  Cmd {{json .Config.Cmd}}  Layers {{json .RootFS.Layers}}' busybox
mnt=$($isola image mount busybox)
printf '\n$ isola image mount busybox\n%s\n' "$mnt"
step ls "$mnt"
step sh -c "ls -l '$mnt/bin' | head -5"
step cat "$mnt/etc/passwd"
step $isola image unmount busybox
