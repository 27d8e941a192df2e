/* Docker's update (see update.h). */
#define _GNU_SOURCE
#include "container/update.h"

#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/spec.h"
#include "driver/driver.h"

static const char *const int_members[] = { "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares" };
static const char *const string_members[] = { "CpusetCpus", "CpusetMems" };

static int
check_types (json_t *resources, isola_error_t *err)
{
  if (!json_is_object (resources))
    return isola_error_fail (err, EINVAL, "invalid request: the body must be a JSON object");
  for (size_t i = 0; i < ARRAY_SIZE (int_members); i++)
    {
      json_t *v = json_object_get (resources, int_members[i]);
      if (v && !json_is_null (v) && !json_is_integer (v))
        return isola_error_fail (err, EINVAL, "invalid request: %s must be an integer", int_members[i]);
    }
  for (size_t i = 0; i < ARRAY_SIZE (string_members); i++)
    {
      json_t *v = json_object_get (resources, string_members[i]);
      if (v && !json_is_null (v) && !json_is_string (v))
        return isola_error_fail (err, EINVAL, "invalid request: %s must be a string", string_members[i]);
    }
  json_t *pids = json_object_get (resources, "PidsLimit");
  if (pids && !json_is_null (pids) && !json_is_integer (pids))
    return isola_error_fail (err, EINVAL, "invalid request: PidsLimit must be an integer");
  return 0;
}

/* Docker's UpdateContainer: a value that is set replaces the container's; a new memory limit above the recorded
   memory+swap one needs a new swap limit with it. */
static int
merge (json_t *host, json_t *resources, isola_error_t *err)
{
  int64_t memory = json_integer_value (json_object_get (resources, "Memory"));
  int64_t swap = json_integer_value (json_object_get (resources, "MemorySwap"));
  int64_t old_swap = json_integer_value (json_object_get (host, "MemorySwap"));
  if (memory != 0 && memory > old_swap && swap == 0)
    return isola_error_fail (err, EINVAL,
                             "Memory limit should be smaller than already set memoryswap limit, update the memoryswap "
                             "at the same time");
  for (size_t i = 0; i < ARRAY_SIZE (int_members); i++)
    {
      int64_t v = json_integer_value (json_object_get (resources, int_members[i]));
      if (v != 0)
        json_object_set_new (host, int_members[i], json_integer (v));
    }
  for (size_t i = 0; i < ARRAY_SIZE (string_members); i++)
    {
      const char *v = json_string_value (json_object_get (resources, string_members[i]));
      if (v && v[0])
        json_object_set_new (host, string_members[i], json_string (v));
    }
  json_t *pids = json_object_get (resources, "PidsLimit");
  if (json_is_integer (pids))
    {
      if (json_integer_value (pids) > 0)
        json_object_set (host, "PidsLimit", pids);
      else
        json_object_del (host, "PidsLimit");
    }
  return 0;
}

static int
check (json_t *host, isola_error_t *err)
{
  cleanup_json json_t *request = json_pack ("{s:s, s:O}", "Image", "-", "HostConfig", host);
  cleanup_container_spec struct container_spec spec = { 0 };
  int ret = container_spec_from_json (request, NULL, &spec, err);
  if (ret == 0)
    ret = container_spec_check_resources (&spec, true, err);
  return ret;
}

int
container_update (struct container *c, json_t *resources, isola_error_t *err)
{
  int ret = check_types (resources, err);
  cleanup_close int config_lock = -1;
  if (ret == 0)
    ret = container_lock_config (c, &config_lock, err);
  if (ret < 0)
    return ret;
  json_t *old = container_host_config (c);
  cleanup_json json_t *host = old ? json_deep_copy (old) : json_object ();
  if ((ret = merge (host, resources, err)) < 0 || (ret = check (host, err)) < 0)
    return isola_error_wrap (err, ret, "Cannot update container %s", c->id);
  if (container_is_running (c) && container_monitor_alive (c))
    {
      const struct isola_driver *d = driver_of (c);
      if ((ret = d->update (c, host, err)) < 0)
        return isola_error_wrap (err, ret, "Cannot update container %s", c->id);
    }
  container_set_host_config (c, json_incref (host));
  return container_write_config (c, err);
}
