/* Launching a VM container's VM: settings (config file and environment), the choice of accelerator, the QEMU
   command line and the START message for the guest agent.  Used by the vm driver in the container's monitor. */
#ifndef ISOLA_VMLAUNCH_H
#define ISOLA_VMLAUNCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "container.h"
#include "driver.h"
#include "error.h"
#include "store.h"

/* Guest memory without a --memory limit, and what a limit gets on top for the guest kernel and the agent. */
#define VM_MEMORY_DEFAULT_MB  256
#define VM_MEMORY_HEADROOM_MB 64
#define VM_BOOT_TIMEOUT_S     60

struct vm_settings
{
  char *qemu;      /* ISOLA_QEMU, "qemu" in the config, else qemu-system-x86_64 */
  char *kernel;    /* the guest kernel (bzImage) */
  char *initrd;    /* the agent's initramfs */
  char *accel;     /* "kvm" or "tcg", after detection */
  char *accel_why; /* how the accelerator was chosen, for `isola info` and errors */
  int boot_timeout_s;
  /* microvm describes its devices in ACPI tables (for kernels like Debian's cloud kernel, whose virtio-mmio driver
     takes no devices from the command line) instead of on the kernel command line (isola's kernel, no ACPI). */
  bool acpi;
};

/* Settings from ROOT/config.json's "vm" object, overridden by ISOLA_VM_ACCEL (kvm|tcg|auto), ISOLA_VM_KERNEL,
   ISOLA_VM_INITRD, ISOLA_VM_ACPI (on|off), ISOLA_VM_BOOT_TIMEOUT and ISOLA_QEMU.  The kernel and initramfs default to
   vm/ beside the isola binaries (the build tree), then PREFIX/lib/isola. */
int vm_settings_load (const char *root, struct vm_settings *out, isola_error_t *err);
void vm_settings_clear (struct vm_settings *s);

/* "auto": KVM when /dev/kvm opens, answers KVM_GET_API_VERSION and is not kvm_pvm (a software-only nested KVM,
   /sys/module/kvm_pvm, on which a normal guest kernel fails: ../shared/MEASURED.md); TCG otherwise. */
const char *vm_detect_accel (const char **why);

/* The QEMU command line (NULL-terminated) for container c: its worker shows as "isola-vm" with the container's
   ID on its command line; channel_fd is the monitor's socket end for the agent port, console the file for the
   guest's console. */
char **vm_qemu_argv (const struct vm_settings *vs, const struct isola_store *s, const struct container *c,
                     int channel_fd, const char *console, isola_error_t *err);

/* The START message (JSON) for container c, its terminal size from io. */
int vm_start_json (const struct isola_store *s, const struct container *c, const struct driver_io *io, json_t **out,
                   isola_error_t *err);

/* Rlimits as the agent takes them: [[resource, soft, hard], ...]. */
struct run_rlimits;
json_t *vm_rlimits_json (const struct run_rlimits *r);

/* Guest memory in MiB for a HostConfig.Memory (bytes, 0 = none) and vCPUs for NanoCpus. */
int64_t vm_memory_mb (int64_t memory);
int vm_cpus (int64_t nano_cpus);

#endif
