/* Filters of the query string (serve/filters.h). */
#define _GNU_SOURCE
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/filters.h"
#include "filters.h"
#include "serve.h"

enum MHD_Result
serve_reply_list (struct serve_request *r, json_t *objects, const char *const *keys, const char *member)
{
  cleanup_json json_t *all = objects;
  cleanup_strv char **kv = NULL;
  const char *text = serve_query (r, "filters");
  if (filters_parse (text, &kv) < 0)
    return serve_reply_error (r, 400, "invalid filter '%s'", text);
  for (size_t i = 0; kv && kv[i]; i++)
    if (!filters_listed (keys, kv[i]))
      return serve_reply_error (r, 400, "Invalid filter '%.*s'", (int)strcspn (kv[i], "="), kv[i]);
  json_t *out = json_array ();
  size_t i;
  json_t *o;
  json_array_foreach (all, i, o)
  {
    if (filters_pass (o, kv))
      json_array_append (out, o);
  }
  if (member == NULL)
    return serve_reply_json (r, 200, out);
  return serve_reply_json (r, 200, json_pack ("{s:o, s:[]}", member, out, "Warnings"));
}
