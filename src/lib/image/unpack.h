/* Unpacking one image layer (a tar, plain or gzip/zstd compressed) into an empty snapshot directory, in the form
   overlayfs consumes: OCI whiteouts `.wh.NAME` become 0/0 character devices and the opaque marker `.wh..wh..opq`
   becomes the trusted.overlay.opaque="y" xattr on its directory (wherever the marker appears in the tar).  The
   layer is untrusted: nothing is written outside dest (no "..", absolute paths are taken relative to dest, no
   writing through symlinks, hard links only to files inside the layer or its lower layers), and xattrs in the
   trusted.overlay.* namespace are dropped. */
#ifndef ISOLA_UNPACK_H
#define ISOLA_UNPACK_H

#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"

struct unpack_result
{
  digest_hex_t diff_id; /* sha256 of the uncompressed tar stream */
  int64_t size;         /* sum of regular file sizes written, as Docker counts image size */
  int64_t entries;      /* number of tar entries processed */
};

/* Reads the layer from fd (compression detected from content) and unpacks it into dest, an existing empty
   directory.  lowers lists the fs directories of the layers beneath, nearest first (NULL-terminated, may be NULL):
   a hard link whose target is not in this layer is satisfied by copying the file from the nearest lower layer.
   Fails with a clear message on malformed or hostile input; dest may then hold partial content, which the caller
   discards (it unpacks into a temporary directory). */
int layer_unpack (int fd, const char *dest, const char *const *lowers, struct unpack_result *res, isola_error_t *err);

/* Computes only the diff ID (sha256 of the uncompressed stream) of a possibly compressed tar. */
int layer_diff_id (int fd, digest_hex_t out, isola_error_t *err);

#endif
