/* Root file systems from snapshots: an overlayfs of an image's snapshots, read-only (`isola image mount`, the erofs
   image of a VM) or under a writable upper directory (a process container's root). */
#ifndef ISOLA_OVERLAY_H
#define ISOLA_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/digest.h"
#include "store/store.h"

/* Mounts the layers (base first) at target.  With upper and work (both on one file system) the mount is writable;
   without, it is read-only.  A read-only view of a single layer is a read-only bind mount, because overlayfs wants
   two lower layers when it has no upper one. */
int overlay_mount_layers (const struct isola_store *s, const digest_hex_t *chain_ids, size_t n_layers,
                          const char *upper, const char *work, const char *target, isola_error_t *err);

/* A read-only view of the layers with top (an absolute path: a container's layer in overlayfs's upper format, its
   whiteouts honoured) stacked over them, or of the layers alone when top is NULL (export). */
int overlay_mount_view (const struct isola_store *s, const digest_hex_t *chain_ids, size_t n_layers, const char *top,
                        const char *target, isola_error_t *err);

#endif
