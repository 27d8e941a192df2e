#!/bin/sh
# `make demo`: the seed's whole scenario — the default image in the store, then one container pinging localhost in
# each isolation mode: `isola top` lists ping in both, and the host's ps finds the process container's ping (the
# same PID) but not the VM container's, whose VM worker it sees instead.  Then, on a user network, a process
# container fetches a page from a VM container by name.
# Uses the root in use ($ISOLA_ROOT, default /var/lib/isola).
set -eu
cd "$(dirname "$0")/.."
# Containers get the default bridge (isola0 and its firewall rules): in a network namespace of our own (lo up),
# never the machine's.
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
isola=build/isola
step () { printf '\n$ %s\n' "$*"; "$@"; }
pings () { ps -C ping -o pid=,args= || true; }

step $isola load -i build/images/busybox.tar
step $isola images

printf '\n$ isola run -d busybox ping localhost\n'
pid_ctr=$($isola run -d busybox ping localhost)
echo "$pid_ctr"
trap '$isola rm -f "$pid_ctr" ${vm_ctr:-} ${web:-} >/dev/null 2>&1 || true; $isola network rm demo-net >/dev/null 2>&1 || true' EXIT INT TERM
printf '\n$ isola run -d --isolation=hyperv busybox ping localhost\n'
vm_ctr=$($isola run -d --isolation=hyperv busybox ping localhost)
echo "$vm_ctr"
sleep 2
step $isola ps

step $isola top "$pid_ctr"
step $isola top "$vm_ctr"

printf '\n$ ps -C ping   # on the host\n'
pings
pid=$($isola inspect -f '{{.State.Pid}}' "$pid_ctr")
worker=$($isola inspect -f '{{.State.Pid}}' "$vm_ctr")
printf '\nprocess container: State.Pid %s is ping on the host: %s\n' "$pid" "$(ps -p "$pid" -o comm=)"
printf 'VM container: no ping of it on the host; State.Pid %s is its VM worker:\n' "$worker"
ps -p "$worker" -o pid=,comm=,args= | cut -c1-140

step $isola logs --tail 2 "$vm_ctr"
step $isola run --rm busybox uname -r
step $isola run --rm --isolation=vm busybox uname -r
step $isola rm -f "$pid_ctr" "$vm_ctr"

step $isola network create demo-net
printf '\n$ isola run -d --isolation=vm --network demo-net --name vm-web busybox sh -c "... httpd ..."\n'
web=$($isola run -d --isolation=vm --network demo-net --name vm-web busybox \
  sh -c 'echo "hello from a VM container" > /www; exec httpd -f -p 80 -h /')
echo "$web"
# shellcheck disable=SC2016 # expanded in the container
step $isola run --rm --network demo-net busybox \
  sh -c 'for i in $(seq 50); do wget -q -O - http://vm-web/www && exit 0; sleep 0.2; done; exit 1'
step $isola rm -f vm-web
step $isola network rm demo-net
