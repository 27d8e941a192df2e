/* An image's events in the store's journal (store/journal.h), as Docker's daemon logs them: Actor.ID "sha256:ID",
   the attribute name (the tag for tag, else the ID) and the image's labels while it exists. */
#ifndef ISOLA_IMAGE_EVENT_H
#define ISOLA_IMAGE_EVENT_H

#include "store/store.h"

/* id: the image's ID (hex); name: NULL for "sha256:ID".  Failures are ignored. */
void image_event (const struct isola_store *s, const char *id, const char *name, const char *action);

#endif
