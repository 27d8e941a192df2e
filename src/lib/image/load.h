/* `isola load`: `docker save` archives (legacy layout, and Docker >= 25's OCI-based one) and OCI image-layout
   archives, optionally gzip/zstd-compressed as a whole.  The archive is untrusted: its members are staged under
   ROOT/tmp without ever leaving that directory, every blob is checked against its digest, and nothing reaches the
   store unless the whole archive is valid (see ingest.h). */
#ifndef ISOLA_LOAD_H
#define ISOLA_LOAD_H

#include "base/digest.h"
#include "store/store.h"

struct loaded_image
{
  digest_hex_t id;
  char **tags; /* "name:tag", never NULL */
};

struct load_result
{
  struct loaded_image *images;
  size_t n_images;
  int snapshots_created;
  int snapshots_reused;
};

void load_result_clear (struct load_result *r);

/* Loads every image of the archive read from fd.  Needs the store's exclusive lock. */
int image_load (struct isola_store *s, int fd, struct load_result *res, isola_error_t *err);

/* Stages an archive's members into the directory dirfd, refusing unsafe member names; exported for the fuzzer. */
int archive_stage (int fd, int dirfd, isola_error_t *err);

#endif
