/* HostConfig.LogConfig (logconfig.h). */
#define _GNU_SOURCE
#include "container/logconfig.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"
#include "base/util.h"

/* Docker's other drivers: named, so that the message says isola lacks them rather than that they do not exist. */
static const char *const docker_only_drivers[]
    = { "local", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries" };

/* go-units' FromHumanSize: "10m" is 10 000 000 bytes (decimal units; "10mb", "10 MiB" the same). */
static int
from_human_size (const char *s, int64_t *out)
{
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (end == s || errno || !isdigit ((unsigned char)s[0]))
    return -EINVAL;
  if (*end == ' ')
    end++;
  static const char units[] = "kmgtp";
  double mult = 1;
  if (*end && strchr (units, tolower ((unsigned char)*end)))
    {
      for (const char *u = units; *u != tolower ((unsigned char)*end); u++)
        mult *= 1000;
      mult *= 1000;
      end++;
    }
  if (*end == 'i' || *end == 'I')
    end++;
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end != '\0')
    return -EINVAL;
  *out = (int64_t)(v * mult);
  return 0;
}

/* Go's strconv.ParseBool. */
static int
parse_bool (const char *s, bool *out)
{
  static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
  static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
  for (size_t i = 0; i < ARRAY_SIZE (yes); i++)
    {
      if (strcmp (s, yes[i]) == 0)
        return *out = true, 0;
      if (strcmp (s, no[i]) == 0)
        return *out = false, 0;
    }
  return -EINVAL;
}

static int
json_file_option (struct log_config *lc, const char *key, const char *value, isola_error_t *err)
{
  if (strcmp (key, "max-size") == 0)
    {
      if (from_human_size (value, &lc->max_size) < 0)
        return isola_error_fail (err, EINVAL, "invalid size: '%s'", value);
      if (lc->max_size <= 0)
        return isola_error_fail (err, EINVAL, "max-size must be a positive number");
      return 0;
    }
  if (strcmp (key, "max-file") == 0)
    {
      char *end;
      errno = 0;
      long n = strtol (value, &end, 10);
      if (end == value || *end || errno || n > INT_MAX || n < INT_MIN)
        return isola_error_fail (err, EINVAL, "strconv.Atoi: parsing \"%s\": invalid syntax", value);
      if (n < 1)
        return isola_error_fail (err, EINVAL, "max-file cannot be less than 1");
      lc->max_file = (int)n;
      return 0;
    }
  if (strcmp (key, "compress") == 0)
    {
      bool on;
      if (parse_bool (value, &on) < 0)
        return isola_error_fail (err, EINVAL, "strconv.ParseBool: parsing \"%s\": invalid syntax", value);
      if (on)
        return isola_error_fail (err, EINVAL,
                                 "log opt compress=true is not supported yet: rotated logs are kept as they are");
      return 0;
    }
  static const char *const docker_only[] = { "labels", "labels-regex", "env", "env-regex", "tag" };
  for (size_t i = 0; i < ARRAY_SIZE (docker_only); i++)
    if (strcmp (key, docker_only[i]) == 0)
      return isola_error_fail (err, EINVAL, "log opt '%s' of the json-file log driver is not supported yet", key);
  return isola_error_fail (err, EINVAL, "unknown log opt '%s' for json-file log driver", key);
}

int
log_config_parse (json_t *log_config, struct log_config *out, isola_error_t *err)
{
  struct log_config lc = { .driver = LOG_DRIVER_JSON_FILE, .max_file = 1 };
  if (log_config != NULL && !json_is_null (log_config) && !json_is_object (log_config))
    return isola_error_fail (err, EINVAL, "invalid request: HostConfig.LogConfig must be an object");
  json_t *type = json_object_get (log_config, "Type"), *config = json_object_get (log_config, "Config");
  if (type != NULL && !json_is_null (type) && !json_is_string (type))
    return isola_error_fail (err, EINVAL, "invalid request: HostConfig.LogConfig.Type must be a string");
  if (config != NULL && !json_is_null (config) && !json_is_object (config))
    return isola_error_fail (err, EINVAL, "invalid request: HostConfig.LogConfig.Config must be an object");
  const char *name = json_is_string (type) && json_string_length (type) ? json_string_value (type) : LOG_DRIVER_DEFAULT;
  if (strcmp (name, "none") == 0)
    {
      *out = (struct log_config){ .driver = LOG_DRIVER_NONE, .max_file = 1 };
      return 0;
    }
  if (strcmp (name, "json-file") != 0)
    {
      for (size_t i = 0; i < ARRAY_SIZE (docker_only_drivers); i++)
        if (strcmp (name, docker_only_drivers[i]) == 0)
          return isola_error_fail (err, EINVAL, "log driver '%s' is not supported yet: use json-file or none", name);
      return isola_error_fail (err, EINVAL, "logger: no log driver named '%s' is registered", name);
    }
  const char *key;
  json_t *v;
  json_object_foreach (config, key, v)
  {
    if (!json_is_string (v))
      return isola_error_fail (err, EINVAL, "invalid request: HostConfig.LogConfig.Config must map strings to strings");
    int ret = json_file_option (&lc, key, json_string_value (v), err);
    if (ret < 0)
      return ret;
  }
  *out = lc;
  return 0;
}

int
log_config_from_flags (const char *driver, char *const *opts, json_t **out, isola_error_t *err)
{
  if (driver && strcmp (driver, "none") == 0 && opts && opts[0])
    return isola_error_fail (err, EINVAL, "invalid logging opts for driver %s", driver);
  json_t *config = json_object ();
  for (size_t i = 0; opts && opts[i]; i++)
    {
      /* As the docker CLI's ConvertKVStringsToMap: KEY=VALUE, or KEY alone for an empty value. */
      cleanup_free char *key = xstrdup (opts[i]);
      char *value = strchr (key, '=');
      if (value)
        *value++ = '\0';
      json_object_set_new (config, key, json_string (value ? value : ""));
    }
  *out = json_pack ("{s:s, s:o}", "Type", driver ? driver : "", "Config", config);
  return 0;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

json_t *
log_config_settled (json_t *log_config)
{
  json_t *type = json_object_get (log_config, "Type"), *config = json_object_get (log_config, "Config");
  const char *name = json_is_string (type) && json_string_length (type) ? json_string_value (type) : LOG_DRIVER_DEFAULT;
  /* Config's keys sorted, as Go marshals a map */
  json_t *sorted = json_object ();
  size_t n = json_is_object (config) ? json_object_size (config) : 0;
  const char **keys = xcalloc (n + 1, sizeof (char *));
  const char *key;
  json_t *v;
  size_t i = 0;
  if (n)
    json_object_foreach (config, key, v) keys[i++] = key;
  qsort (keys, n, sizeof (char *), compare_strings);
  for (i = 0; i < n; i++)
    json_object_set (sorted, keys[i], json_object_get (config, keys[i]));
  free (keys);
  return json_pack ("{s:s, s:o}", "Type", name, "Config", sorted);
}

char *
log_config_file (const char *path, int n)
{
  return n == 0 ? xstrdup (path) : xasprintf ("%s.%d", path, n);
}
