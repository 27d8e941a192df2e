/* The two disks of a VM container.

   - The image's root file system as one read-only erofs image, images/ID.erofs, made once per image from its
     snapshots (merged, whiteouts applied) and shared by every VM of that image; removed with the image.
   - The container's writable layer, an ext4 image file (sparse) in its directory, created with the container and
     kept across stop/start; the guest mounts an overlay of the two. */
#ifndef ISOLA_VMDISK_H
#define ISOLA_VMDISK_H

#include <stdint.h>

#include "image.h"
#include "store.h"

/* Size of a container's writable layer (sparse: it takes what the container writes). */
#define VM_UPPER_DISK_BYTES (8ULL << 30)

/* The image's disk is its erofs file system followed by zeros up to a power of two (sparse; at least this much), so
   that the VMs of most images have disks of one size and can be restored from one template (vmtemplate.h). */
#define VM_ROOTFS_DISK_MIN_BYTES (64ULL << 20)
uint64_t vm_rootfs_disk_bytes (uint64_t fs_bytes);

char *vm_rootfs_image_path (const struct isola_store *s, const char *image_id);
/* Makes images/ID.erofs unless it exists (staged in tmp/, renamed into place).  Needs the exclusive lock. */
int vm_rootfs_image_ensure (struct isola_store *s, const struct image_record *img, isola_error_t *err);
int vm_rootfs_image_remove (struct isola_store *s, const char *image_id, isola_error_t *err);

/* An empty ext4 file system of the given size in a new sparse file at path (written aside, renamed into place). */
int vm_upper_disk_create (const char *path, uint64_t bytes, isola_error_t *err);

#endif
