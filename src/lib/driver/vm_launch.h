/* Launching a VM container's VM: settings (config file and environment), the choice of accelerator, the QEMU
   command line and the START message for the guest agent.  Used by the vm driver in the container's monitor. */
#ifndef ISOLA_VM_LAUNCH_H
#define ISOLA_VM_LAUNCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "container/container.h"
#include "driver/driver.h"
#include "proto/vmproto.h"
#include "store/store.h"

/* Where VM templates are kept (driver/vm_template.h), under the root unless configured. */
#define STORE_VM_TEMPLATES "cache/vm"

/* Guest memory without a --memory limit (Kata's default: enough for ordinary workloads; QEMU allocates guest RAM
   only as the guest touches it, so an idle VM costs no more for it), and what a limit gets on top for the guest
   kernel and the agent.  Without --cpus a VM gets as many vCPUs as the host has CPUs, up to the guest kernel's
   NR_CPUS. */
#define VM_MEMORY_DEFAULT_MB  2048
#define VM_MEMORY_HEADROOM_MB 64
#define VM_CPUS_MAX           64
#define VM_BOOT_TIMEOUT_S     60
/* What the worker's cgroup allows QEMU beyond the guest's memory when --memory is given: its own heap, devices and,
   under TCG, the translated code (an idle TCG guest at -m 128 is ~210 MB resident: ../shared/MEASURED.md). */
#define VM_WORKER_OVERHEAD_TCG_MB 512
#define VM_WORKER_OVERHEAD_KVM_MB 128
/* What the worker's cgroup allows beyond --pids-limit (which bounds the guest's processes, in the guest): QEMU's own
   threads, its vCPUs, the RCU and main loop threads and up to 64 of its thread pool's. */
#define VM_WORKER_OVERHEAD_PIDS 128
/* Where the VM workers' uids start (driver/vm_jail.h), 0x70000000: above the ranges of people, system users,
   systemd's dynamic users and the usual /etc/subuid allocations (100000 + 65536 n), below systemd-nspawn's foreign
   range; a worker's uid is that plus a PID, below 2^22 (the largest pid_max). */
#define VM_WORKER_UID_BASE 0x70000000u
#define VM_WORKER_UID_SPAN (1u << 22)

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
  /* Start VMs by restoring a saved, booted VM of the same layout (driver/vm_template.h) instead of booting them. */
  bool template;
  char *template_dir;       /* where templates are kept: ROOT/cache/vm unless configured */
  int64_t memory_mb;        /* guest memory without --memory: "memory" ("2g"), else VM_MEMORY_DEFAULT_MB */
  int cpus;                 /* vCPUs without --cpus: "cpus", else the host's CPUs (vm_host_cpus) */
  uint32_t worker_uid_base; /* "worker_uid_base": the workers' uids start there (driver/vm_jail.h) */
};

/* Settings from ROOT/config.json's "vm" object, overridden by ISOLA_VM_ACCEL (kvm|tcg|auto), ISOLA_VM_KERNEL,
   ISOLA_VM_INITRD, ISOLA_VM_ACPI (on|off), ISOLA_VM_TEMPLATE (on|off, default on), ISOLA_VM_TEMPLATE_DIR,
   ISOLA_VM_BOOT_TIMEOUT, ISOLA_VM_MEMORY ("2g"), ISOLA_VM_CPUS and ISOLA_QEMU.  The kernel and initramfs default to
   vm/ beside the isola binaries (the build tree), then PREFIX/lib/isola. */
int vm_settings_load (const char *root, struct vm_settings *out, isola_error_t *err);
void vm_settings_clear (struct vm_settings *s);

/* "auto": KVM when /dev/kvm opens, answers KVM_GET_API_VERSION and is not kvm_pvm (a software-only nested KVM,
   /sys/module/kvm_pvm, on which a normal guest kernel fails: ../shared/MEASURED.md); TCG otherwise. */
const char *vm_detect_accel (const char **why);

/* What a VM looks like from the inside: everything in its QEMU command line and its disks that the guest can see.
   Two VMs of the same layout (and settings) differ only in the files behind their devices, so one's saved state
   can be restored as the other (driver/vm_template.h). */
struct vm_layout
{
  int64_t memory_mb;
  int cpus;
  size_t n_shares;       /* 9p shares, tagged share0, share1, ... */
  uint64_t rootfs_bytes; /* the disks' capacities */
  uint64_t upper_bytes;
  bool trace; /* isola.trace=1 on the guest's command line */
};

/* The guest's NICs: one for a first network and spare ones for the others, the same in every VM of a layout so
   that one template serves VMs on any number of networks (a network's MAC, addresses and routes are the agent's
   business at START).  Each spare costs the template ~177 kB of state and nothing measurable at start
   (docs/NETWORK.md).  QEMU's microvm without ACPI has VM_TRANSPORTS virtio-mmio transports: the two disks and the
   agent's port take three, each -v share (a bind or a volume) one, and the NICs what is left, VM_NICS at most and
   one at least (vm_nics). */
#define VM_NICS       4
#define VM_TRANSPORTS 8
size_t vm_nics (size_t n_shares);

/* The NICs of container c's VM (vm_nics of its shares): how many networks it can be on. */
size_t vm_nics_of (const struct container *c);

/* NIC n's own MAC address, by which the agent finds it in the guest: "52:54:00:12:34:5n" (QEMU's default scheme,
   given explicitly). */
#define VM_NIC_MAC_FORMAT "52:54:00:12:34:%02x"
#define VM_NIC_MAC_BASE   0x56

/* A directory shared with the guest (a -v bind). */
struct vm_share
{
  char *source;
  bool readonly;
};

/* What one VM of a layout has of its own. */
struct vm_instance
{
  const char *name; /* on the worker's command line: the container's ID */
  int console_fd;   /* QEMU's end of the console's socket (vm_console.h) */
  int rootfs_fd;    /* the image's erofs disk, open read-only: QEMU gets the disks as descriptors */
  int upper_fd;     /* the container's ext4 disk, open read-write */
  int upper_ro_fd;  /* and read-only: QEMU opens it read-only first, then read-write */
  int channel_fd;   /* the monitor's socket end for the agent's port */
  const int *taps;  /* the taps behind the guest's first n_taps NICs (driver/vm_net.h); the others have no peer */
  size_t n_taps;
  const struct vm_share *shares;
};

/* Container c's layout and the files of its VM; *shares (layout->n_shares of them) for vm_shares_free.  ENOTSUP for
   a bind that is not a directory. */
int vm_layout_of (const struct vm_settings *vs, const struct isola_store *s, const struct container *c,
                  struct vm_layout *layout, struct vm_share **shares, isola_error_t *err);
void vm_shares_free (struct vm_share *shares, size_t n);

/* The QEMU command line (NULL-terminated) of a VM: the worker shows as "isola-vm" with the instance's name on its
   command line.  The disks are fd sets 1 (rootfs) and 2 (upper) of the instance's descriptors (-add-fd). */
char **vm_qemu_argv_for (const struct vm_settings *vs, const struct vm_layout *l, const struct vm_instance *in);

/* The QEMU command line for container c (vm_layout_of, then vm_qemu_argv_for), its disks as descriptors 5, 6 and 7. */
char **vm_qemu_argv (const struct vm_settings *vs, const struct isola_store *s, const struct container *c,
                     int channel_fd, int console_fd, isola_error_t *err);

/* A starting VM's channel to its agent, read with a deadline (CLOCK_MONOTONIC, monotonic_ms). */
struct vm_boot
{
  int fd;
  struct vmproto_decoder *dec;
  pid_t qemu;
  long long deadline;
  bool exited; /* set with -ECHILD */
};
/* The next frame from the agent; -ETIMEDOUT at the deadline, -ECHILD when the VM is gone (then reaped). */
int vm_boot_next_frame (struct vm_boot *b, struct vmproto_frame *f);

/* In a container's directory: mounts of files the guest gets by content (isola-runtime's file binds), a JSON array
   of {"Type": "file", "Destination", "ContentHex", "Mode", "ReadOnly"}, which START's Mounts end with. */
#define VM_FILE_MOUNTS "file-mounts.json"

/* In a container's directory: the cgroup its VM worker goes into, one line naming it as sandbox/cgroup.h does (an
   absolute path from each hierarchy's root, or a path below isola/): isola-runtime's cgroupsPath, checked by it.
   Without the file the worker's cgroup is isola/ID. */
#define VM_WORKER_CGROUP "worker-cgroup"

/* The START message (JSON) for container c, its terminal size from io. */
int vm_start_json (const struct isola_store *s, const struct container *c, const struct driver_io *io, json_t **out,
                   isola_error_t *err);

/* Adds to START what must be fresh when it is sent: the host's clock ("Time": [seconds, nanoseconds]) and a seed
   for the guest's random pool ("Seed": 32 bytes in hex). */
int vm_start_json_stamp (json_t *start, isola_error_t *err);

/* Rlimits as the agent takes them: [[resource, soft, hard], ...]. */
struct runspec_rlimits;
json_t *vm_rlimits_json (const struct runspec_rlimits *r);
/* A JSON array of the strings (NULL: empty). */
json_t *vm_strv_json (char *const *v);

/* Guest memory in MiB for a HostConfig.Memory (bytes; 0 = none: default_mb) and vCPUs for NanoCpus (0 = none:
   default_cpus): --cpus 1.5 is two vCPUs, so nproc in the guest is the --cpus rounded up (a process container's
   nproc is the host's, as in Docker, whose --cpus is a quota). */
int64_t vm_memory_mb (int64_t memory, int64_t default_mb);
int vm_cpus (int64_t nano_cpus, int default_cpus);
/* The CPUs this process may run on (what nproc prints), at most VM_CPUS_MAX. */
int vm_host_cpus (void);

#endif
