/* Docker's listing of containers: filters and Status (container/listing.h). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/health.h"
#include "container/listing.h"
#include "driver/driver.h"

static int64_t
seconds_of (const char *rfc3339)
{
  int64_t t = 0;
  if (rfc3339 == NULL || time_parse_rfc3339 (rfc3339, &t) < 0)
    return 0;
  return t;
}

static int64_t
parse_time (json_t *state, const char *key)
{
  return seconds_of (json_string_value (json_object_get (state, key)));
}

char *
container_status_text (const struct container *c, int64_t now)
{
  const char *status = container_status (c);
  if (strcmp (status, "paused") == 0)
    {
      cleanup_free char *d = human_duration (now - parse_time (c->state, "StartedAt"));
      return xasprintf ("Up %s (Paused)", d);
    }
  if (strcmp (status, "restarting") == 0)
    {
      cleanup_free char *d = human_duration (now - parse_time (c->state, "FinishedAt"));
      return xasprintf ("Restarting (%lld) %s ago",
                        (long long)json_integer_value (json_object_get (c->state, "ExitCode")), d);
    }
  if (strcmp (status, "running") == 0)
    {
      cleanup_free char *d = human_duration (now - parse_time (c->state, "StartedAt"));
      const char *health = health_status (c);
      if (health)
        return xasprintf ("Up %s (%s%s)", d, strcmp (health, "starting") == 0 ? "health: " : "", health);
      return xasprintf ("Up %s", d);
    }
  if (strcmp (status, "exited") == 0)
    {
      cleanup_free char *d = human_duration (now - parse_time (c->state, "FinishedAt"));
      return xasprintf ("Exited (%lld) %s ago", (long long)json_integer_value (json_object_get (c->state, "ExitCode")),
                        d);
    }
  if (strcmp (status, "dead") == 0)
    return xstrdup ("Dead");
  return xstrdup ("Created");
}

static bool
label_matches (const struct container *c, const char *want)
{
  cleanup_free char *k = xstrdup (want);
  char *eq = strchr (k, '=');
  if (eq)
    *eq++ = '\0';
  const char *v = container_label (c, k);
  return v && (eq == NULL || strcmp (v, eq) == 0);
}

static bool
filter_matches (const struct container *c, const char *filter)
{
  const char *eq = strchr (filter, '=');
  if (eq == NULL)
    return false;
  size_t klen = (size_t)(eq - filter);
  const char *v = eq + 1;
  if (strncmp (filter, "status", klen) == 0)
    return strcmp (container_status (c), v) == 0;
  if (strncmp (filter, "name", klen) == 0)
    return strstr (container_name (c), v) != NULL;
  if (strncmp (filter, "id", klen) == 0)
    return str_has_prefix (c->id, v);
  if (strncmp (filter, "label", klen) == 0)
    return label_matches (c, v);
  if (strncmp (filter, "isolation", klen) == 0)
    {
      /* Any name --isolation takes ("vm" for what Docker calls hyperv): the driver says what inspect shows. */
      const char *iso = container_isolation (c);
      const struct isola_driver *d = NULL;
      bool named = v[0] && strcmp (v, "default") != 0 && driver_lookup (NULL, v, &d, NULL) == 0;
      return strcmp (iso ?: "", named ? d->isolation : v) == 0;
    }
  if (strncmp (filter, "health", klen) == 0)
    return strcmp (health_status (c) ?: "none", v) == 0;
  if (strncmp (filter, "exited", klen) == 0)
    return strcmp (container_status (c), "exited") == 0
           && json_integer_value (json_object_get (c->state, "ExitCode")) == atoi (v);
  return false;
}

bool
container_listed (const struct container *c, bool all, char *const *filters)
{
  bool any_filter = filters && filters[0];
  if (!all && !any_filter && !container_is_running (c))
    return false;
  /* Filters of the same key are ORed, different keys ANDed, as docker does; but every label filter must match
     (Docker's MatchKVList: docker-compose finds a project's service by two labels). */
  for (size_t i = 0; filters && filters[i]; i++)
    {
      size_t klen = strcspn (filters[i], "=");
      if (klen == strlen ("label") && str_has_prefix (filters[i], "label="))
        {
          if (!filter_matches (c, filters[i]))
            return false;
          continue;
        }
      bool ok = false;
      for (size_t j = 0; filters[j]; j++)
        if (strncmp (filters[j], filters[i], klen + 1) == 0 && filter_matches (c, filters[j]))
          ok = true;
      if (!ok)
        return false;
    }
  return true;
}
