/* Docker's ?filters= of list, prune and events: {"key":["value",…]} or the older {"key":{"value":true}}. */
#ifndef ISOLA_SERVE_FILTERS_H
#define ISOLA_SERVE_FILTERS_H

#include "container/system.h"

/* Each filter as "key=value" (*out NULL-terminated, or NULL without filters); -EINVAL when text is not filters. */
int serve_filters_parse (const char *text, char ***out);

/* Prune's filters: until (a Docker timestamp), label, label!; with also (NULL-terminated, may be NULL) the other keys
   the endpoint reads (dangling, all), which are left in *others as "key=value".  EINVAL with Docker's message. */
int serve_prune_filter (const char *text, const char *const *also, struct prune_filter *f, char ***others,
                        isola_error_t *err);

#endif
