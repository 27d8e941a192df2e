/* `isola history`: an image's history as Docker's daemon gives it (GET /images/NAME/history), newest first.  Each
   entry of the config's history is one row; the ones that made a layer carry that layer's size; the newest row is
   the image's own, and the rows below it are named after the images it was committed from (its parents, as far as
   the store still has them), the others are Docker's "<missing>". */
#ifndef ISOLA_HISTORY_H
#define ISOLA_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "store/store.h"

struct image_history_row
{
  char id[DIGEST_HEX_LEN + 1]; /* "" for <missing> */
  int64_t created;             /* seconds since the epoch, 0 when unknown */
  char *created_by;
  char *comment;
  int64_t size; /* the layer's unpacked size (Docker's DiffSize); 0 for an empty_layer entry */
};

void image_history_free (struct image_history_row *rows, size_t n);

/* Needs the store's lock (shared).  EINVAL when the config lists more non-empty history entries than layers. */
int image_history (const struct isola_store *s, const char *id, struct image_history_row **out, size_t *n_out,
                   isola_error_t *err);

#endif
