/* jansson helpers shared by the library. */
#ifndef ISOLA_JSON_H
#define ISOLA_JSON_H

#include <jansson.h>

static inline void
cleanup_jsonp (json_t **j)
{
  json_decref (*j);
}
#define cleanup_json __attribute__ ((cleanup (cleanup_jsonp)))

#endif
