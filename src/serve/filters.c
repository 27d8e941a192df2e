/* Filters of the query string (serve/filters.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/timestamp.h"
#include "base/util.h"
#include "filters.h"

int
serve_filters_parse (const char *text, char ***out)
{
  *out = NULL;
  if (text == NULL || *text == '\0')
    return 0;
  cleanup_json json_t *f = json_loads (text, 0, NULL);
  if (!json_is_object (f))
    return -EINVAL;
  cleanup_strv char **kv = xcalloc (1, sizeof (char *));
  const char *key;
  json_t *vals;
  json_object_foreach (f, key, vals)
  {
    size_t i;
    json_t *v;
    const char *k;
    if (json_is_array (vals))
      json_array_foreach (vals, i, v)
      {
        if (!json_is_string (v))
          return -EINVAL;
        cleanup_free char *one = xasprintf ("%s=%s", key, json_string_value (v));
        strv_push (&kv, one);
      }
    else if (json_is_object (vals))
      json_object_foreach (vals, k, v)
      {
        cleanup_free char *one = xasprintf ("%s=%s", key, k);
        strv_push (&kv, one);
      }
    else
      return -EINVAL;
  }
  *out = take_ptr (&kv);
  return 0;
}

static bool
listed (const char *const *keys, const char *kv)
{
  size_t n = strcspn (kv, "=");
  for (size_t i = 0; keys && keys[i]; i++)
    if (strlen (keys[i]) == n && strncmp (keys[i], kv, n) == 0)
      return true;
  return false;
}

int
serve_prune_filter (const char *text, const char *const *also, struct prune_filter *f, char ***others,
                    isola_error_t *err)
{
  cleanup_strv char **kv = NULL;
  *others = xcalloc (1, sizeof (char *));
  if (serve_filters_parse (text, &kv) < 0)
    return isola_error_fail (err, EINVAL, "invalid filter '%s'", text);
  for (size_t i = 0; kv && kv[i]; i++)
    {
      if (str_has_prefix (kv[i], "until="))
        {
          struct timestamp t;
          if (timestamp_parse (kv[i] + 6, time (NULL), &t, err) < 0)
            return -EINVAL;
          f->has_until = true;
          f->until = t.sec;
        }
      else if (listed (also, kv[i]))
        strv_push (others, kv[i]);
      else if (prune_filter_add_label (f, kv[i], err) < 0)
        return -EINVAL;
    }
  return 0;
}
