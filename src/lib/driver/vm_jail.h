/* The VM worker's jail: what QEMU runs as, like Firecracker's jailer does for its VMM.

   The worker (QEMU, "isola-vm") is cloned into new mount, PID, network, IPC and UTS namespaces, born in the
   container's cgroup (the monitor makes isola/ID for a VM container too, driver/vm.c), and execs QEMU:
   - as its own unprivileged user: uid = gid = worker_uid_base + the host PID of the process that starts it (the
     monitor, or the CLI for a template), so that no two running workers share a uid (PIDs of live processes are
     unique) and none shares one with a person: no /etc/passwd entry is made or needed.  The base is config.json's
     "vm": {"worker_uid_base": N} (default VM_WORKER_UID_BASE, a range of 2^22 ids that no distribution gives out);
   - with no supplementary groups, no_new_privs, and no capabilities (bounding, permitted, effective, inheritable,
     ambient), except for a container with 9p shares: then it keeps VM_JAIL_SHARE_CAPS, the file-access ones that
     9p's local backend needs to read and write the files of the shares as the guest's users (bounding, permitted,
     effective, inheritable and ambient = exactly those), and nothing else;
   - in a mount namespace whose root is a read-only tmpfs holding only what it needs: /usr read-only (QEMU, its
     libraries and firmware; /bin, /lib, /lib64, /sbin as on the host), the guest kernel and initramfs read-only, the
     shares (read-only ones read-only), /dev/null, zero, random, urandom (and /dev/kvm with KVM),
     and a /proc of its own PID namespace (9p's local backend uses /proc/self/fd).  Each at its host path, so the
     command line does not change.  The disks, the sockets (the agent's channel, QMP, the console's copier), a
     template's saved state and the tap of a container's network (driver/vm_net.h: made in the container's network
     namespace, never the worker's own) are descriptors opened by the monitor (-add-fd and /dev/fdset for the disks),
     never paths: nothing else of the store is visible.
   `-sandbox on` (QEMU's seccomp filter) stays on top of all this. */
#ifndef ISOLA_VM_JAIL_H
#define ISOLA_VM_JAIL_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "driver/vm_launch.h"
#include "sandbox/cgroup.h"

/* CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: 9p's mapped-xattr model reads and writes the shares' files
   whatever their host owner and mode, and keeps the guest's owners and modes in user.virtfs.* xattrs on them, which
   takes the DAC ones and CAP_FOWNER.  It never chowns or chmods a host file, so CAP_CHOWN and CAP_FSETID, with which
   a guest could make host files of another owner or setuid ones, are not kept. */
#define VM_JAIL_SHARE_CAPS ((1ULL << 1) | (1ULL << 2) | (1ULL << 3))

struct vm_jail_bind
{
  char *path; /* a host path, bound at the same path in the jail */
  bool writable;
  bool exec; /* not noexec (QEMU itself) */
};

struct vm_jail
{
  uid_t uid;
  gid_t gid;
  uint64_t caps; /* capabilities kept: 0, or VM_JAIL_SHARE_CAPS */
  struct vm_jail_bind *binds;
  size_t n_binds;
  bool kvm;
  const struct cgroup_placement *cgroup; /* born there (v2) and joined (v1) before QEMU runs; NULL: none */
};

/* The jail of a VM of layout l with the instance's files: its ids (from vs->worker_uid_base and our PID), what it
   sees, and the capabilities it keeps. */
int vm_jail_prepare (const struct vm_settings *vs, const struct vm_layout *l, const struct vm_instance *in,
                     struct vm_jail *j, isola_error_t *err);
void vm_jail_clear (struct vm_jail *j);

/* The namespaces the worker is cloned into. */
#define VM_JAIL_CLONE_FLAGS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

/* Clones and execs QEMU (argv from vm_qemu_argv_for) as a child in its jail that dies with its parent, its stderr
   in log and the fds in keep (n of them) inherited; returns its pid. */
pid_t vm_spawn_qemu (const struct vm_settings *vs, char **argv, const int *keep, size_t n, const char *log,
                     const struct vm_jail *jail, isola_error_t *err);

/* In the cloned child, before exec: joins the v1 cgroups, builds the jail and pivots into it, becomes the worker's
   user with its capabilities, no_new_privs.  The child is then ready to exec QEMU. */
int vm_jail_enter (const struct vm_jail *j, isola_error_t *err);

#endif
