/* What a registry sends besides manifests and blobs (registry_wire.h). */
#define _GNU_SOURCE
#include "image/registry_wire.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"
#include "base/util.h"

char *
registry_header_value (const char *line, size_t len, const char *name)
{
  size_t n = strlen (name);
  if (len <= n || strncasecmp (line, name, n) != 0 || line[n] != ':')
    return NULL;
  const char *v = line + n + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  return strndup (v, (size_t)(end - v));
}

char *
registry_challenge_param (const char *params, const char *key)
{
  size_t n = strlen (key);
  for (const char *p = params; p && *p;)
    {
      while (*p == ' ' || *p == ',')
        p++;
      const char *eq = strchr (p, '=');
      if (eq == NULL)
        return NULL;
      bool match = (size_t)(eq - p) == n && strncasecmp (p, key, n) == 0;
      const char *v = eq + 1, *end;
      if (*v == '"')
        {
          v++;
          end = strchr (v, '"');
          if (end == NULL)
            return NULL;
          if (match)
            return strndup (v, (size_t)(end - v));
          p = end + 1;
        }
      else
        {
          end = v + strcspn (v, ",");
          if (match)
            return strndup (v, (size_t)(end - v));
          p = end;
        }
    }
  return NULL;
}

char *
registry_token_of (const char *body, size_t len)
{
  cleanup_json json_t *o = json_loadb (body ? body : "", body ? len : 0, 0, NULL);
  const char *token = json_string_value (json_object_get (o, "token"));
  if (token == NULL || *token == '\0')
    token = json_string_value (json_object_get (o, "access_token"));
  if (token == NULL || *token == '\0' || strpbrk (token, "\r\n"))
    return NULL;
  return xstrdup (token);
}

char *
registry_error_text_of (const char *body, size_t len)
{
  cleanup_json json_t *o = body ? json_loadb (body, len, 0, NULL) : NULL;
  json_t *e = json_array_get (json_object_get (o, "errors"), 0);
  const char *code = json_string_value (json_object_get (e, "code"));
  const char *msg = json_string_value (json_object_get (e, "message"));
  if (code == NULL)
    return NULL;
  cleanup_free char *lower = xstrdup (code);
  for (char *p = lower; *p; p++)
    *p = *p == '_' ? ' ' : (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
  return msg ? xasprintf ("%s: %.200s", lower, msg) : xstrdup (lower);
}
