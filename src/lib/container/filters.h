/* Docker's ?filters= of list, prune and events: {"key":["value",…]} or the older {"key":{"value":true}}, from an API
   client.  The API server (serve/filters.h) answers with them; fuzz/fuzz_filters.c reads them. */
#ifndef ISOLA_CONTAINER_FILTERS_H
#define ISOLA_CONTAINER_FILTERS_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "container/system.h"

/* Each filter as "key=value" (*out NULL-terminated, or NULL without filters); -EINVAL when text is not filters. */
int filters_parse (const char *text, char ***out);

/* Prune's filters: until (a Docker timestamp), label, label!; with also (NULL-terminated, may be NULL) the other keys
   the endpoint reads (dangling, all), which are left in *others as "key=value".  EINVAL with Docker's message. */
int filters_prune (const char *text, const char *const *also, struct prune_filter *f, char ***others,
                   isola_error_t *err);

/* Whether kv's key ("key=value") is one of keys (NULL-terminated, may be NULL). */
bool filters_listed (const char *const *keys, const char *kv);

/* Whether an inspect object passes kv (from filters_parse) as Docker's volume and network lists filter: name (a part
   of .Name), id (the start of .Id), label (KEY or KEY=VALUE among .Labels), driver (.Driver); every label must match,
   of the other keys one value of each. */
bool filters_pass (json_t *o, char **kv);

#endif
