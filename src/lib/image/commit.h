/* A container's writable layer (overlayfs upper-directory format, image/changes.h) committed as a new image over
   its parent, as Docker's commit makes one: the layer tar (none when it is empty: an empty_layer history entry),
   the config (the container's Config with the -c changes, `container`, `container_config`, `parent`, author and
   comment, the parent's history and one entry more: created_by the container's Cmd), stored through the same
   staging and verified publication as `load` (image/ingest.h).  The builder's path too. */
#ifndef ISOLA_COMMIT_H
#define ISOLA_COMMIT_H

#include <jansson.h>

#include "base/digest.h"
#include "store/store.h"

struct commit_options
{
  const char *tag;          /* "name:tag" (normalized) or NULL */
  char *const *changes;     /* Dockerfile instructions (config_change.h), NULL-terminated, may be NULL */
  const char *author;       /* or NULL */
  const char *comment;      /* or NULL */
  const char *container_id; /* the config's "container", or NULL */
  json_t *container_config; /* Docker's container Config: the new config before changes, and container_config */
  const json_t *config;     /* the new config when it is not container_config (a build step's), or NULL */
  const char *created_by;   /* the history's created_by; NULL: the Cmd of container_config joined by spaces */
};

/* upper: the layer's directory (absent: no changes); parent: the image ID it was made from ("": none, FROM
   scratch's first layer).  The store may be
   opened without a lock: staging runs beside other verbs, publishing takes the exclusive lock. */
int image_commit (struct isola_store *s, const char *upper, const char *parent, const struct commit_options *o,
                  digest_hex_t id_out, isola_error_t *err);

#endif
