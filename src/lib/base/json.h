/* jansson helpers shared by the library. */
#ifndef ISOLA_JSONUTIL_H
#define ISOLA_JSONUTIL_H

#include <jansson.h>

static inline void
cleanup_jsonp (json_t **j)
{
  json_decref (*j);
}
#define cleanup_json __attribute__ ((cleanup (cleanup_jsonp)))

#endif
