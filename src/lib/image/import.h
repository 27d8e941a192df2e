/* `isola import`: a root-filesystem tarball (plain, gzip, zstd, xz, bzip2) becomes a one-layer image.  The layer
   is stored uncompressed, so its blob digest is its diff ID, as Docker does. */
#ifndef ISOLA_IMPORT_H
#define ISOLA_IMPORT_H

#include "base/digest.h"
#include "store/store.h"

struct import_options
{
  const char *tag;          /* "name:tag" (normalized) or NULL */
  char *const *changes;     /* Dockerfile instructions, NULL-terminated, may be NULL */
  const char *message;      /* history comment, or NULL */
  const char *source_label; /* what the history says was imported ("-" for stdin) */
};

/* Needs the store's exclusive lock. */
int image_import (struct isola_store *s, int fd, const struct import_options *opts, digest_hex_t id_out,
                  isola_error_t *err);

#endif
