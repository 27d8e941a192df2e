#!/bin/bash
# VM container start-up benchmark: `isola run --rm --isolation=vm busybox true` side by side with a bare QEMU boot
# of the same guest kernel to a trivial /init that powers off at once (same machine type, accelerator and boot
# flags), and the VM worker's memory.  Prints medians and the ratio.  isola restores its VMs from a template
# (src/lib/driver/vm_template.h), made by the first, unmeasured run; it is measured with templates off (every VM boots)
# too, and the template's one-time cost is shown on its own.
#   bench/vm.sh [RUNS]     (default 11)
set -euo pipefail
cd "$(dirname "$0")/.."
# Containers get the default bridge (isola0 and its firewall rules): in a network namespace of our own (lo up),
# never the machine's.
if [ "${ISOLA_IN_OWN_NETNS:-}" != 1 ]; then
  exec env ISOLA_IN_OWN_NETNS=1 unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$0" "$@"
fi
runs=${1:-11}
isola=$(readlink -f build/isola)
work=$(mktemp -d /tmp/isola-bench-vm.XXXXXX)
export ISOLA_ROOT=$work/root
cleanup () {
  "$isola" rm -f $("$isola" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  pkill -KILL -f "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. bench/lib.sh
time_ms () {
  local t0 t1 i
  "$@" >/dev/null 2>&1 || true
  for i in $(seq "$runs"); do
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | median | awk '{printf "%.1f", $1 / 1000}'
}

"$isola" load -q -i build/images/busybox.tar >/dev/null

# The bare guest: the same kernel, an initramfs whose /init reboots at once (-no-reboot turns that into QEMU's exit).
cat >"$work/init.c" <<'EOF'
#include <sys/reboot.h>
#include <unistd.h>
int main (void) { reboot (RB_AUTOBOOT); for (;;) pause (); }
EOF
gcc -O2 -static -o "$work/init" "$work/init.c"
scripts/mkinitramfs.sh "$work/initramfs.img" "$work/init" >/dev/null
accel=tcg
append="console=ttyS0 quiet panic=-1 reboot=t tsc_early_khz=2600000 noapictimer"
if [ ! -e /sys/module/kvm_pvm ] && [ -w /dev/kvm ]; then accel=kvm append="console=ttyS0 quiet panic=-1 reboot=t"; fi
bare () {
  qemu-system-x86_64 -M microvm,x-option-roms=off,pit=on,pic=on,rtc=on,isa-serial=on,acpi=off -accel $accel \
    -cpu max -m 256 -smp 1 -nodefaults -no-user-config -nographic -no-reboot -sandbox on \
    -kernel build/vm/vmlinuz -initrd "$work/initramfs.img" -append "$append" -serial null
}

bare_ms=$(time_ms bare)
t0=$(date +%s%N)
"$isola" run --rm --isolation=vm busybox true
first_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
isola_ms=$(time_ms "$isola" run --rm --isolation=vm busybox true)
cold_ms=$(ISOLA_VM_TEMPLATE=off time_ms "$isola" run --rm --isolation=vm busybox true)

# The worker's memory once its container runs (and an idle guest's, for comparison).
id=$("$isola" run -d --isolation=vm busybox sleep 1000)
sleep 2
worker=$("$isola" inspect -f '{{.State.Pid}}' "$id")
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$worker/status")
monitor_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$(awk '{print $4}' "/proc/$worker/stat")/status")
"$isola" rm -f "$id" >/dev/null

printf '%-44s %10s\n' "run --rm busybox true, $accel ($runs runs)" "median ms"
printf '%-44s %10s\n' "bare QEMU boot to /init and back" "$bare_ms"
printf '%-44s %10s\n' "isola run --rm --isolation=vm" "$isola_ms"
printf '%-44s %10s\n' "ratio isola / bare (target <= 1.2)" "$(echo "scale=2; $isola_ms / $bare_ms" | bc)"
printf '%-44s %10s\n' "  the same, templates off (every VM boots)" "$cold_ms"
printf '%-44s %10s\n' "  ratio with templates off / bare" "$(echo "scale=2; $cold_ms / $bare_ms" | bc)"
printf '%-44s %10s\n' "  first run of a layout (makes its template)" "$first_ms"
printf '%-44s %10s\n' "VM worker RSS, container running (MB)" "$((rss / 1024))"
printf '%-44s %10s\n' "its monitor's RSS (kB)" "$monitor_rss"
