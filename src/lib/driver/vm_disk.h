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

#endif
