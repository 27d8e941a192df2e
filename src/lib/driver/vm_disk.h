/* The writable disk of a VM container: an ext4 image file (sparse) in its directory, created with the container and
   kept across stop/start.  The guest mounts an overlay of it over the image's root, which is the image's erofs file
   (image/erofs.h). */
#ifndef ISOLA_VM_DISK_H
#define ISOLA_VM_DISK_H

#include <stdint.h>

#include "base/error.h"

/* Size of a container's writable layer (sparse: it takes what the container writes). */
#define VM_UPPER_DISK_BYTES (8ULL << 30)

/* An empty ext4 file system of the given size in a new sparse file at path (written aside, renamed into place). */
int vm_upper_disk_create (const char *path, uint64_t bytes, isola_error_t *err);

/* Mounts the disk read-only (and nodev, nosuid, noexec, without replaying its journal) on a new directory under
   tmp_parent, through a read-only loop device, in the caller's own mount namespace: unshares one (private) on the
   first call, so that nothing of it is seen, or left, outside the calling process. */
int vm_disk_mount_readonly (const char *disk, const char *tmp_parent, char **mnt_out, int *loop_fd_out,
                            isola_error_t *err);

#endif
