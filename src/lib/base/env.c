#include "base/env.h"

#include <string.h>

#include "base/util.h"

/* entry ("K=V" or "K") names the variable of kv ("K=…" or "K"). */
static bool
env_same_name (const char *entry, const char *kv)
{
  size_t n = strcspn (entry, "=");
  return strncmp (entry, kv, n) == 0 && (kv[n] == '=' || kv[n] == '\0');
}

static void
env_remove_at (char **env, size_t i)
{
  free (env[i]);
  memmove (&env[i], &env[i + 1], (strv_len (env) - i) * sizeof (char *));
}

char **
env_merge (char *const *base, char *const *overrides)
{
  char **out = xcalloc (1, sizeof (char *));
  for (; base && *base; base++)
    strv_push (&out, *base);
  for (; overrides && *overrides; overrides++)
    {
      size_t i = 0;
      while (out[i] && !env_same_name (*overrides, out[i]))
        i++;
      if (strchr (*overrides, '=') == NULL)
        {
          if (out[i])
            env_remove_at (out, i);
        }
      else if (out[i])
        {
          free (out[i]);
          out[i] = xstrdup (*overrides);
        }
      else
        strv_push (&out, *overrides);
    }
  return out;
}

static bool
env_names (char *const *env, const char *kv)
{
  for (; env && *env; env++)
    if (env_same_name (*env, kv))
      return true;
  return false;
}

char **
env_merge_image (char *const *request, char *const *image)
{
  char **out = xcalloc (1, sizeof (char *));
  for (char *const *r = request; r && *r; r++)
    strv_push (&out, *r);
  for (; image && *image; image++)
    if (!env_names (request, *image))
      strv_push (&out, *image);
  return out;
}
