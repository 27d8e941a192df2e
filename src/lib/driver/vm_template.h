/* VM templates: a booted VM, saved once per layout and restored for each container instead of booting.

   A template is a VM of a given layout (vm_launch.h: memory, vCPUs, 9p shares, disk capacities, and the settings:
   QEMU, kernel, initramfs, accelerator, ACPI) booted with stand-in files behind its devices, whose agent has
   greeted the host and waits for START.  QEMU saves it while it runs (QMP "migrate" to a file), so that a QEMU
   started with the same command line plus "-incoming" resumes it at once; only the files behind the devices
   differ, which the guest has not touched yet: its disks are mounted only after START, and the kernel keeps none of
   their blocks cached while they are not open.  Restoring takes ~0.1 s under TCG where a boot takes ~0.6 s.

   What clones share: the guest kernel's memory as it was saved, so its address-space layout (KASLR) and the
   agent's own state.  What they do not: the random pool, which the agent reseeds from the host's START (a fresh
   seed per container) before anything of the container runs, and the clock, which START sets.

   DIR/HASH/{key,state}, DIR being ROOT/cache/vm unless the settings name another (vm_settings.template_dir):
   HASH names the key (FNV-1a of it), key is the whole key (compared on every use, so a hash collision only costs a
   rebuild), state is QEMU's migration stream.  Built under the lock of DIR/.lock in a .build-* directory,
   published by rename; like the seccomp cache, safe to delete at any time.  Nothing in a template depends on the
   store, so stores may share a directory.  A template that fails to restore is removed, and the container boots
   instead. */
#ifndef ISOLA_VM_TEMPLATE_H
#define ISOLA_VM_TEMPLATE_H

#include "base/error.h"
#include "driver/vm_launch.h"

/* Templates kept; the least recently used goes when a new one would exceed this. */
#define VM_TEMPLATES_MAX 8

/* Everything a template depends on, as text: the version of isola and of its VM protocol, the identity (device,
   inode, size, mtime) of QEMU, the kernel and the initramfs, the disks' capacities and the QEMU command line of
   the layout with stand-ins for the instance's files.  NULL when one of the files cannot be found. */
char *vm_template_key (const struct vm_settings *vs, const struct vm_layout *l);

/* The saved state of key's template, opened for reading (O_CLOEXEC) in *state_fd; -ENOENT when there is none. */
int vm_template_open (const struct vm_settings *vs, const char *key, int *state_fd);

/* Removes key's template (one that failed to restore). */
void vm_template_discard (const struct vm_settings *vs, const char *key);

/* Makes the template of layout l unless it exists: boots it, waits for its agent's HELLO, saves it.  Takes up to a
   boot's time plus ~0.1 s; concurrent callers wait for one another. */
int vm_template_ensure (const struct vm_settings *vs, const struct vm_layout *l, isola_error_t *err);

#endif
