/* The writable disk of a VM container: an ext4 image file (sparse) in its directory, created with the container and
   kept across stop/start.  The guest mounts an overlay of it over the image's root, which is the image's erofs file
   (image/erofs.h). */
#ifndef ISOLA_VM_DISK_H
#define ISOLA_VM_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* Size of a container's writable layer (sparse: it takes what the container writes). */
#define VM_UPPER_DISK_BYTES (8ULL << 30)

/* An empty ext4 file system of the given size in a new sparse file at path (written aside, renamed into place). */
int vm_upper_disk_create (const char *path, uint64_t bytes, isola_error_t *err);

/* Mounts the disk (nodev, nosuid, noexec) on a new directory under tmp_parent, through a loop device, in the
   caller's own mount namespace: unshares one (private) on the first call, so that nothing of it is seen, or left,
   outside the calling process.  Read-only unless writable, and then without replaying its journal (a running
   guest froze it, which flushed it). */
int vm_disk_mount (const char *disk, const char *tmp_parent, bool writable, char **mnt_out, int *loop_fd_out,
                   isola_error_t *err);

#endif
