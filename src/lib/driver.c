#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct isola_driver *const drivers[] = { &driver_process };

int
driver_lookup (const char *isolation, const struct isola_driver **out, isola_error_t *err)
{
  if (isolation == NULL || isolation[0] == '\0' || strcmp (isolation, "default") == 0)
    {
      const char *env = getenv ("ISOLA_ISOLATION");
      isolation = env && env[0] && strcmp (env, "default") != 0 ? env : "process";
    }
  if (strcmp (isolation, "vm") == 0 || strcmp (isolation, "hyperv") == 0)
    return isola_error_fail (err, ENOTSUP, "isolation \"%s\" is not supported yet: only \"process\" is available",
                             isolation);
  for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
    if (strcmp (drivers[i]->name, isolation) == 0)
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
  const char *iso = json_string_value (json_object_get (json_object_get (c->config, "HostConfig"), "Isolation"));
  for (size_t i = 0; iso && i < sizeof drivers / sizeof drivers[0]; i++)
    if (strcmp (drivers[i]->isolation, iso) == 0 || strcmp (drivers[i]->name, iso) == 0)
      return drivers[i];
  return &driver_process;
}
