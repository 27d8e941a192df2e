/* Docker's ?filters= of list, prune and events: {"key":["value",…]} or the older {"key":{"value":true}}. */
#ifndef ISOLA_SERVE_FILTERS_H
#define ISOLA_SERVE_FILTERS_H

#include <jansson.h>

#include "container/system.h"
#include "serve.h"

/* Each filter as "key=value" (*out NULL-terminated, or NULL without filters); -EINVAL when text is not filters. */
int serve_filters_parse (const char *text, char ***out);

/* Prune's filters: until (a Docker timestamp), label, label!; with also (NULL-terminated, may be NULL) the other keys
   the endpoint reads (dangling, all), which are left in *others as "key=value".  EINVAL with Docker's message. */
int serve_prune_filter (const char *text, const char *const *also, struct prune_filter *f, char ***others,
                        isola_error_t *err);

/* The list of objects (inspect objects, stolen) that pass r's ?filters= as Docker's volume and network lists filter:
   name (a part of .Name), id (the start of .Id), label (KEY or KEY=VALUE among .Labels), driver (.Driver); keys:
   the ones the endpoint takes (others are 400 "Invalid filter 'KEY'", dockerd's words).  member NULL: the array; else
   {member: the array, "Warnings": []} (the volume list's shape). */
enum MHD_Result serve_reply_list (struct serve_request *r, json_t *objects, const char *const *keys,
                                  const char *member);

#endif
