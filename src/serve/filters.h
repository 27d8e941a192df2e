/* The list endpoints' answer filtered by ?filters= (container/filters.h parses and matches them). */
#ifndef ISOLA_SERVE_FILTERS_H
#define ISOLA_SERVE_FILTERS_H

#include <jansson.h>

#include "serve.h"

/* The list of objects (inspect objects, stolen) that pass r's ?filters= (filters_pass); keys:
   the ones the endpoint takes (others are 400 "Invalid filter 'KEY'", dockerd's words).  member NULL: the array; else
   {member: the array, "Warnings": []} (the volume list's shape). */
enum MHD_Result serve_reply_list (struct serve_request *r, json_t *objects, const char *const *keys,
                                  const char *member);

#endif
