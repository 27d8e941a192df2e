#define _GNU_SOURCE
#include "driver/driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

static const struct isola_driver *const drivers[] = { &driver_process, &driver_vm };

/* $ISOLA_ISOLATION, else ROOT/config.json's "isolation", else process. */
static char *
default_isolation (const char *root, isola_error_t *err, int *ret)
{
  const char *env = getenv ("ISOLA_ISOLATION");
  *ret = 0;
  if (env && env[0] && strcmp (env, "default") != 0)
    return xstrdup (env);
  cleanup_json json_t *config = NULL;
  if (root && (*ret = store_config_load (root, &config, err)) < 0)
    return NULL;
  const char *iso = json_string_value (json_object_get (config, "isolation"));
  return xstrdup (iso && iso[0] && strcmp (iso, "default") != 0 ? iso : "process");
}

int
driver_lookup (const char *root, const char *isolation, const struct isola_driver **out, isola_error_t *err)
{
  cleanup_free char *chosen = NULL;
  if (isolation == NULL || isolation[0] == '\0' || strcmp (isolation, "default") == 0)
    {
      int ret;
      if ((chosen = default_isolation (root, err, &ret)) == NULL)
        return ret;
      isolation = chosen;
    }
  for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
    if (strcmp (drivers[i]->name, isolation) == 0 || strcmp (drivers[i]->isolation, isolation) == 0)
      {
        *out = drivers[i];
        return 0;
      }
  return isola_error_fail (err, EINVAL,
                           "invalid isolation \"%s\": must be one of \"process\", \"vm\", \"hyperv\" or \"default\"",
                           isolation);
}

const struct isola_driver *
driver_of (const struct container *c)
{
  const char *iso = container_isolation (c);
  for (size_t i = 0; iso && i < sizeof drivers / sizeof drivers[0]; i++)
    if (strcmp (drivers[i]->isolation, iso) == 0 || strcmp (drivers[i]->name, iso) == 0)
      return drivers[i];
  return &driver_process;
}
