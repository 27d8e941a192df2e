/* Docker's ?filters= (filters.h). */
#define _GNU_SOURCE
#include "container/filters.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/timestamp.h"
#include "base/util.h"

int
filters_parse (const char *text, char ***out)
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

bool
filters_listed (const char *const *keys, const char *kv)
{
  size_t n = strcspn (kv, "=");
  for (size_t i = 0; keys && keys[i]; i++)
    if (strlen (keys[i]) == n && strncmp (keys[i], kv, n) == 0)
      return true;
  return false;
}

int
filters_prune (const char *text, const char *const *also, struct prune_filter *f, char ***others, isola_error_t *err)
{
  cleanup_strv char **kv = NULL;
  *others = xcalloc (1, sizeof (char *));
  if (filters_parse (text, &kv) < 0)
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
      else if (filters_listed (also, kv[i]))
        strv_push (others, kv[i]);
      else if (!str_has_prefix (kv[i], "label=") && !str_has_prefix (kv[i], "label!="))
        return isola_error_fail (err, EINVAL, "Invalid filter '%.*s'", (int)strcspn (kv[i], "="), kv[i]);
      else if (prune_filter_add_label (f, kv[i], err) < 0)
        return -EINVAL;
    }
  return 0;
}

static bool
label_matches (json_t *labels, const char *want)
{
  const char *eq = strchr (want, '=');
  cleanup_free char *key = eq ? xasprintf ("%.*s", (int)(eq - want), want) : xstrdup (want);
  json_t *v = json_object_get (labels, key);
  return v && (eq == NULL || strcmp (json_string_value (v) ?: "", eq + 1) == 0);
}

/* One filter ("key=value") against an object. */
static bool
object_matches (json_t *o, const char *kv)
{
  const char *v = strchr (kv, '=') + 1;
  if (str_has_prefix (kv, "name="))
    return strstr (json_string_value (json_object_get (o, "Name")) ?: "", v) != NULL;
  if (str_has_prefix (kv, "id="))
    return str_has_prefix (json_string_value (json_object_get (o, "Id")) ?: "", v);
  if (str_has_prefix (kv, "driver="))
    return strcmp (json_string_value (json_object_get (o, "Driver")) ?: "", v) == 0;
  return label_matches (json_object_get (o, "Labels"), v);
}

bool
filters_pass (json_t *o, char **kv)
{
  for (size_t i = 0; kv && kv[i]; i++)
    {
      if (str_has_prefix (kv[i], "label="))
        {
          if (!object_matches (o, kv[i]))
            return false;
          continue;
        }
      size_t key_len = strcspn (kv[i], "=") + 1;
      bool any = false;
      for (size_t j = 0; kv[j] && !any; j++)
        any = strncmp (kv[j], kv[i], key_len) == 0 && object_matches (o, kv[j]);
      if (!any)
        return false;
    }
  return true;
}
