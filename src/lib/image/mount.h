/* An image's root file system mounted read-only under ROOT/mounts/ID (`isola image mount`), which rmi and prune
   respect. */
#ifndef ISOLA_IMAGE_MOUNT_H
#define ISOLA_IMAGE_MOUNT_H

#include <stdbool.h>

#include "store/store.h"

/* Mounts an image read-only under ROOT/mounts/ID (idempotent) and returns that path. */
int image_mount (struct isola_store *s, const char *id, char **path_out, isola_error_t *err);
int image_unmount (struct isola_store *s, const char *id, isola_error_t *err);
bool image_is_mounted (const struct isola_store *s, const char *id);
/* Mount point of an image (whether or not mounted). */
char *image_mount_point (const struct isola_store *s, const char *id);

#endif
