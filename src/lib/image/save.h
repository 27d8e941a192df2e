/* `isola save`: images as one OCI image-layout archive (oci-layout, index.json, blobs/sha256/…) that also carries
   Docker's manifest.json, so that isola, docker (>= 25 reads both), podman and skopeo load it. */
#ifndef ISOLA_SAVE_H
#define ISOLA_SAVE_H

#include "store/store.h"

/* Writes the archive of the named images (each resolved like rmi/inspect arguments) to fd.  Needs at least the
   store's shared lock. */
int image_save (const struct isola_store *s, char *const *names, int fd, isola_error_t *err);

#endif
