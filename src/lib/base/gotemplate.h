/* The part of Go's text/template that `docker inspect --format` users rely on: {{.Field.Sub}}, {{json .Field}},
   {{index .Map "key"}} and literal text. */
#ifndef ISOLA_GOTEMPLATE_H
#define ISOLA_GOTEMPLATE_H

#include <jansson.h>

#include "base/error.h"

/* Renders tmpl against obj into *out. EINVAL with a message for a template it cannot parse. */
int gotemplate_render (const char *tmpl, json_t *obj, char **out, isola_error_t *err);

#endif
