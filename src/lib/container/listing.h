/* Docker's listing of containers (GET /containers/json, `ps`): which containers a listing shows, by its filters, and
   the Status text of each, for every front end. */
#ifndef ISOLA_CONTAINER_LISTING_H
#define ISOLA_CONTAINER_LISTING_H

#include <stdbool.h>
#include <stdint.h>

#include "container/container.h"

/* Docker's Status at time now: "Up 3 minutes", "Up 2 seconds (Paused)", "Exited (0) 5 seconds ago", "Created"… */
char *container_status_text (const struct container *c, int64_t now);

/* Whether a listing shows c: running ones unless all; filters ("key=value": status, name, id, label, isolation,
   health, exited) of one key are ORed, of different keys ANDed, as Docker does.  filters may be NULL. */
bool container_listed (const struct container *c, bool all, char *const *filters);

#endif
