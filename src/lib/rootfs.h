/* Root filesystems from snapshots: the read-only view of an image (`isola image mount`) and, for containers, an
   overlayfs of the image's snapshots under a writable upper directory. */
#ifndef ISOLA_ROOTFS_H
#define ISOLA_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"
#include "store.h"

/* Mounts the layers (base first) at target.  With upper and work (both on one file system) the mount is writable;
   without, it is read-only.  A read-only view of a single layer is a read-only bind mount, because overlayfs wants
   two lower layers when it has no upper one. */
int rootfs_mount_layers (const struct isola_store *s, const digest_hex_t *chain_ids, size_t n_layers, const char *upper,
                         const char *work, const char *target, isola_error_t *err);

/* Mounts an image read-only under ROOT/mounts/ID (idempotent) and returns that path. */
int image_mount (struct isola_store *s, const char *id, char **path_out, isola_error_t *err);
int image_unmount (struct isola_store *s, const char *id, isola_error_t *err);
bool image_is_mounted (const struct isola_store *s, const char *id);
/* Mount point of an image (whether or not mounted). */
char *image_mount_point (const struct isola_store *s, const char *id);

/* True when path is a mount point (it is listed in /proc/self/mountinfo). */
bool path_is_mount_point (const char *path);

#endif
