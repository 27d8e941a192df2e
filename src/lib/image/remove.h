/* Removing images: Docker's rmi and image prune, which refuse images that containers use or that are mounted, and
   the garbage collection of blobs and snapshots no image references.  Callers hold the store's exclusive lock. */
#ifndef ISOLA_IMAGE_REMOVE_H
#define ISOLA_IMAGE_REMOVE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* What rmi did, for the CLI to report as Docker does. */
struct rmi_report
{
  char **untagged; /* "name:tag" */
  char **deleted;  /* "sha256:ID" */
};
void rmi_report_clear (struct rmi_report *r);

/* Docker's rmi: by tag, untags (and deletes when it was the last tag); by ID, deletes the image and its tags,
   refusing (EBUSY) an image with several tags, or a mounted image, unless force. */
int image_remove (struct isola_store *s, const char *what, bool force, struct rmi_report *rep, isola_error_t *err);

/* Removes dangling images (no tags), or with all every image; then collects garbage. */
int image_prune (struct isola_store *s, bool all, struct rmi_report *rep, int64_t *reclaimed, isola_error_t *err);
/* The same, removing only the images may_go (NULL: all) accepts (prune's filters, container/system.h). */
int image_prune_if (struct isola_store *s, bool all,
                    bool (*may_go) (const struct isola_store *s, const char *id, void *arg), void *arg,
                    struct rmi_report *rep, int64_t *reclaimed, isola_error_t *err);

/* Removes blobs and snapshots that no image references, adding freed bytes to *reclaimed when non-NULL. */
int store_gc (struct isola_store *s, int64_t *reclaimed, isola_error_t *err);

#endif
