/* Health checks: settings and State.Health, as dockerd keeps them (see health.h). */
#define _GNU_SOURCE
#include "container/health.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"

int
health_duration_parse (const char *s, int64_t *ns_out, isola_error_t *err)
{
  static const struct
  {
    const char *unit;
    double ns;
  } units[] = { { "ns", 1 },   { "us", 1e3 }, { "µs", 1e3 }, { "μs", 1e3 },
                { "ms", 1e6 }, { "s", 1e9 },  { "m", 60e9 }, { "h", 3600e9 } };
  const char *p = s;
  bool negative = *p == '-';
  if (*p == '-' || *p == '+')
    p++;
  if (strcmp (p, "0") == 0)
    return *ns_out = 0, 0;
  if (*p == '\0')
    return isola_error_fail (err, EINVAL, "time: invalid duration \"%s\"", s);
  double total = 0;
  while (*p)
    {
      double v = 0, scale = 1;
      bool digits = false;
      for (; *p >= '0' && *p <= '9'; p++, digits = true)
        v = v * 10 + (*p - '0');
      if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, digits = true)
          v += (*p - '0') * (scale /= 10);
      if (!digits)
        return isola_error_fail (err, EINVAL, "time: invalid duration \"%s\"", s);
      size_t ulen = strcspn (p, "0123456789.");
      if (ulen == 0)
        return isola_error_fail (err, EINVAL, "time: missing unit in duration \"%s\"", s);
      size_t k;
      for (k = 0; k < ARRAY_SIZE (units); k++)
        if (strlen (units[k].unit) == ulen && strncmp (p, units[k].unit, ulen) == 0)
          break;
      if (k == ARRAY_SIZE (units))
        return isola_error_fail (err, EINVAL, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)ulen, p, s);
      total += v * units[k].ns;
      p += ulen;
    }
  if (total > 9.2e18)
    return isola_error_fail (err, EINVAL, "time: invalid duration \"%s\"", s);
  *ns_out = negative ? -(int64_t)total : (int64_t)total;
  return 0;
}

/* Go's time.Duration printed as Docker prints a timeout: "30s", "1.5s", "500ms", "1m0s". */
static char *
duration_string (long long ms)
{
  if (ms < 1000)
    return xasprintf ("%lldms", ms);
  long long h = ms / 3600000, m = ms / 60000 % 60, sec = ms / 1000 % 60, frac = ms % 1000;
  char secs[32];
  if (frac == 0)
    snprintf (secs, sizeof secs, "%llds", sec);
  else
    {
      snprintf (secs, sizeof secs, "%lld.%03lld", sec, frac);
      size_t n = strlen (secs);
      while (secs[n - 1] == '0')
        secs[--n] = '\0';
      strcat (secs, "s");
    }
  if (h)
    return xasprintf ("%lldh%lldm%s", h, m, secs);
  if (m)
    return xasprintf ("%lldm%s", m, secs);
  return xstrdup (secs);
}

static const char *const duration_members[] = { "Interval", "Timeout", "StartPeriod" };

int
health_config_check (json_t *hc, isola_error_t *err)
{
  if (hc == NULL || json_is_null (hc))
    return 0;
  if (!json_is_object (hc))
    return isola_error_fail (err, EINVAL, "invalid request: Healthcheck must be an object");
  json_t *test = json_object_get (hc, "Test");
  size_t i;
  json_t *x;
  if (test && !json_is_null (test) && !json_is_array (test))
    return isola_error_fail (err, EINVAL, "invalid request: Healthcheck.Test must be a list of strings");
  json_array_foreach (test, i, x) if (!json_is_string (x)) return isola_error_fail (
      err, EINVAL, "invalid request: Healthcheck.Test must be a list of strings");
  for (i = 0; i < ARRAY_SIZE (duration_members); i++)
    {
      json_t *d = json_object_get (hc, duration_members[i]);
      if (d && !json_is_null (d) && !json_is_integer (d))
        return isola_error_fail (err, EINVAL, "invalid request: Healthcheck.%s must be an integer",
                                 duration_members[i]);
      /* Docker's MinimumDuration: 1 ms. */
      json_int_t ns = json_integer_value (d);
      if (ns != 0 && ns < 1000000)
        return isola_error_fail (err, EINVAL, "%s in Healthcheck cannot be less than 1ms", duration_members[i]);
    }
  json_t *retries = json_object_get (hc, "Retries");
  if (retries && !json_is_null (retries) && !json_is_integer (retries))
    return isola_error_fail (err, EINVAL, "invalid request: Healthcheck.Retries must be an integer");
  if (json_integer_value (retries) < 0)
    return isola_error_fail (err, EINVAL, "Retries in Healthcheck cannot be negative");
  return 0;
}

json_t *
health_config_merge (json_t *request, json_t *image)
{
  if (!json_is_object (image))
    return json_is_object (request) ? json_deep_copy (request) : NULL;
  if (!json_is_object (request))
    return json_deep_copy (image);
  json_t *out = json_deep_copy (request);
  if (json_array_size (json_object_get (out, "Test")) == 0 && json_object_get (image, "Test"))
    json_object_set (out, "Test", json_object_get (image, "Test"));
  static const char *const numbers[] = { "Interval", "Timeout", "StartPeriod", "Retries" };
  for (size_t i = 0; i < ARRAY_SIZE (numbers); i++)
    if (json_integer_value (json_object_get (out, numbers[i])) == 0 && json_object_get (image, numbers[i]))
      json_object_set (out, numbers[i], json_object_get (image, numbers[i]));
  return out;
}

static long long
ms_or (json_t *hc, const char *key, long long fallback)
{
  json_int_t ns = json_integer_value (json_object_get (hc, key));
  return ns > 0 ? (long long)(ns / 1000000) : fallback;
}

int
health_config_of (const struct container *c, struct health_config *out)
{
  memset (out, 0, sizeof (*out));
  json_t *hc = json_object_get (container_config (c), "Healthcheck");
  json_t *test = json_object_get (hc, "Test");
  const char *kind = json_string_value (json_array_get (test, 0));
  if (kind == NULL || strcmp (kind, "NONE") == 0)
    return 0;
  char **argv = xcalloc (1, sizeof (char *));
  if (strcmp (kind, "CMD-SHELL") == 0)
    {
      strv_push (&argv, "/bin/sh");
      strv_push (&argv, "-c");
      strv_push (&argv, json_string_value (json_array_get (test, 1)) ?: "");
    }
  else if (strcmp (kind, "CMD") == 0)
    for (size_t i = 1; i < json_array_size (test); i++)
      strv_push (&argv, json_string_value (json_array_get (test, i)) ?: "");
  if (argv[0] == NULL)
    {
      strv_free (argv);
      return 0;
    }
  out->argv = argv;
  out->interval_ms = ms_or (hc, "Interval", HEALTH_DEFAULT_INTERVAL_MS);
  out->timeout_ms = ms_or (hc, "Timeout", HEALTH_DEFAULT_TIMEOUT_MS);
  out->start_period_ms = ms_or (hc, "StartPeriod", 0);
  json_int_t retries = json_integer_value (json_object_get (hc, "Retries"));
  out->retries = retries > 0 && retries < 1000000 ? (int)retries : HEALTH_DEFAULT_RETRIES;
  return 1;
}

void
health_config_clear (struct health_config *h)
{
  strv_free (h->argv);
  memset (h, 0, sizeof (*h));
}

void
health_state_begin (json_t *state)
{
  json_object_set_new (state, "Health",
                       json_pack ("{s:s, s:i, s:[]}", "Status", "starting", "FailingStreak", 0, "Log"));
}

void
health_state_record (json_t *state, const struct health_config *h, const char *start, const char *end, int exit_code,
                     const char *output, long long since_start_ms)
{
  json_t *health = json_object_get (state, "Health");
  if (!json_is_object (health))
    {
      health_state_begin (state);
      health = json_object_get (state, "Health");
    }
  json_t *log = json_object_get (health, "Log");
  if (!json_is_array (log))
    json_object_set_new (health, "Log", log = json_array ());
  while (json_array_size (log) >= HEALTH_LOG_MAX)
    json_array_remove (log, 0);
  json_t *text = json_string (output);
  if (text == NULL)
    {
      /* Not UTF-8: what is not ASCII becomes U+FFFD, as Go's encoder does with invalid bytes. */
      cleanup_free char *clean = xcalloc (strlen (output) * 3 + 1, 1);
      char *q = clean;
      for (const unsigned char *p = (const unsigned char *)output; *p; p++)
        if (*p < 0x80)
          *q++ = (char)*p;
        else
          {
            memcpy (q, "\xef\xbf\xbd", 3);
            q += 3;
          }
      text = json_string (clean);
    }
  json_array_append_new (
      log, json_pack ("{s:s, s:s, s:i, s:o}", "Start", start, "End", end, "ExitCode", exit_code, "Output", text));
  const char *status = json_string_value (json_object_get (health, "Status")) ?: "starting";
  json_int_t streak = json_integer_value (json_object_get (health, "FailingStreak"));
  if (exit_code == 0)
    {
      json_object_set_new (health, "Status", json_string ("healthy"));
      json_object_set_new (health, "FailingStreak", json_integer (0));
      return;
    }
  /* Within the start period a failure of a container that never was healthy does not count. */
  if (strcmp (status, "starting") == 0 && since_start_ms < h->start_period_ms)
    return;
  json_object_set_new (health, "FailingStreak", json_integer (++streak));
  if (streak >= h->retries)
    json_object_set_new (health, "Status", json_string ("unhealthy"));
}

const char *
health_status (const struct container *c)
{
  return json_string_value (json_object_get (json_object_get (c->state, "Health"), "Status"));
}

char *
health_timeout_message (long long timeout_ms)
{
  cleanup_free char *d = duration_string (timeout_ms);
  return xasprintf ("Health check exceeded timeout (%s)", d);
}
