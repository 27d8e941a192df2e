/* update: new cgroup limits for a running container, from -r FILE (linux.resources' form, "-" for stdin) and runc's
   flags, merged over what it has; the container's saved config.json keeps the result, so a later update starts from
   it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "runtime.h"
#include "runtime/oci.h"
#include "runtime/state.h"
#include "sandbox/cgroup.h"

enum
{
  F_RESOURCES = FLAG_FIRST_ID,
  F_MEMORY,
  F_MEMORY_SWAP,
  F_MEMORY_RESERVATION,
  F_CPU_SHARES,
  F_CPU_QUOTA,
  F_CPU_PERIOD,
  F_CPUSET_CPUS,
  F_CPUSET_MEMS,
  F_PIDS_LIMIT,
  F_IGNORED,
};

static const struct flag_def update_flags[] = {
  { "resources", 'r', F_RESOURCES, "string",
    "path to a file containing the resources to update or '-' to read from "
    "the standard input" },
  { "memory", 0, F_MEMORY, "string", "Memory limit (in bytes)" },
  { "memory-swap", 0, F_MEMORY_SWAP, "string",
    "Total memory usage (memory + swap); set '-1' to enable unlimited "
    "swap" },
  { "memory-reservation", 0, F_MEMORY_RESERVATION, "string", "Memory reservation or soft_limit (in bytes)" },
  { "cpu-shares", 0, F_CPU_SHARES, "string", "CPU shares (relative weight vs. other containers)" },
  { "cpu-quota", 0, F_CPU_QUOTA, "string", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period" },
  { "cpu-period", 0, F_CPU_PERIOD, "string", "CPU CFS period to be used for hardcapping (in usecs)" },
  { "cpuset-cpus", 0, F_CPUSET_CPUS, "string", "CPU(s) to use" },
  { "cpuset-mems", 0, F_CPUSET_MEMS, "string", "Memory node(s) to use" },
  { "pids-limit", 0, F_PIDS_LIMIT, "int", "Maximum number of pids allowed in the container" },
  { "kernel-memory", 0, F_IGNORED, "string", "accepted and ignored (deprecated)" },
  { "blkio-weight", 0, F_IGNORED, "int", "accepted and ignored (no blkio limits)" },
  { NULL },
};

/* A number flag into res.group.key ("max"/-1 stay -1). */
static int
set_number (json_t *res, const char *group, const char *key, const char *value, isola_error_t *err)
{
  int64_t n;
  if (strcmp (value, "-1") == 0)
    n = -1;
  else if ((n = parse_memory_bytes (value)) < 0)
    return isola_error_fail (err, EINVAL, "invalid value for %s.%s: %s", group, key, value);
  json_t *g = json_object_get (res, group);
  if (!json_is_object (g))
    json_object_set_new (res, group, g = json_object ());
  json_object_set_new (g, key, json_integer (n));
  return 0;
}

static void
set_string (json_t *res, const char *group, const char *key, const char *value)
{
  json_t *g = json_object_get (res, group);
  if (!json_is_object (g))
    json_object_set_new (res, group, g = json_object ());
  json_object_set_new (g, key, json_string (value));
}

static int
apply_flag (json_t *res, int id, const char *value, isola_error_t *err)
{
  switch (id)
    {
    case F_MEMORY:
      return set_number (res, "memory", "limit", value, err);
    case F_MEMORY_SWAP:
      return set_number (res, "memory", "swap", value, err);
    case F_MEMORY_RESERVATION:
      return set_number (res, "memory", "reservation", value, err);
    case F_CPU_SHARES:
      return set_number (res, "cpu", "shares", value, err);
    case F_CPU_QUOTA:
      return set_number (res, "cpu", "quota", value, err);
    case F_CPU_PERIOD:
      return set_number (res, "cpu", "period", value, err);
    case F_PIDS_LIMIT:
      return set_number (res, "pids", "limit", value, err);
    case F_CPUSET_CPUS:
      set_string (res, "cpu", "cpus", value);
      return 0;
    case F_CPUSET_MEMS:
      set_string (res, "cpu", "mems", value);
      return 0;
    default:
      return 0;
    }
}

static int
read_resources (const char *path, json_t **out, isola_error_t *err)
{
  json_error_t jerr;
  *out = strcmp (path, "-") == 0 ? json_loadf (stdin, 0, &jerr) : json_load_file (path, 0, &jerr);
  if (*out == NULL || !json_is_object (*out))
    return isola_error_fail (err, EINVAL, "resources %s: %s", path, *out ? "not an object" : jerr.text);
  return 0;
}

/* A VM container's limits are its guest's cgroup's (vm.c); its VM keeps the memory and vCPUs it started with. */
static int
update_container (const struct rt_ctx *ctx, struct rt_container *c, json_t *res, isola_error_t *err)
{
  struct cgroup_limits limits;
  oci_limits_from_resources (res, &limits);
  struct cgroup_fs fs = { 0 };
  int ret = rt_vm_container (c) ? rt_vm_update (ctx, c, &limits, err) : cgroup_fs_detect ("/sys/fs/cgroup", &fs, err);
  if (ret == 0 && !rt_vm_container (c))
    ret = cgroup_update (&fs, json_string_value (json_object_get (c->state, "cgroup")), &limits, err);
  cgroup_fs_clear (&fs);
  if (ret < 0)
    return ret;
  cleanup_free char *path = xasprintf ("%s/config.json", c->dir);
  cleanup_free char *text = json_dumps (c->config, JSON_COMPACT);
  return write_file_replace (path, text, strlen (text), 0600, err);
}

static int
verb_update (struct rt_ctx *ctx, struct flag_parser *p)
{
  cleanup_json json_t *flags = json_object ();
  const char *file = NULL;
  int code = 0, id;
  cleanup_error isola_error_t err = NULL;
  while ((id = rt_next (ctx, p, &code)) != FLAG_END)
    {
      if (id < 0)
        return code;
      if (id == F_RESOURCES)
        file = p->value;
      else if (apply_flag (flags, id, p->value, &err) < 0)
        return rt_fail (ctx, &err);
    }
  if (rt_args (ctx, p, "update", 1, 1))
    return 1;
  struct rt_container c;
  if (rt_load_arg (ctx, p, &c))
    return 1;
  int ret = 0;
  if (rt_status (&c) == RT_STOPPED)
    ret = isola_error_fail (&err, EINVAL, "container not running");
  cleanup_json json_t *given = NULL;
  if (ret == 0 && file)
    ret = read_resources (file, &given, &err);
  if (ret == 0)
    {
      json_t *linux_ = json_object_get (c.config, "linux");
      if (!json_is_object (linux_))
        json_object_set_new (c.config, "linux", linux_ = json_object ());
      json_t *res = json_object_get (linux_, "resources");
      if (!json_is_object (res))
        json_object_set_new (linux_, "resources", res = json_object ());
      if (given)
        json_object_update_recursive (res, given);
      json_object_update_recursive (res, flags);
      ret = update_container (ctx, &c, res, &err);
    }
  rt_container_clear (&c);
  return ret < 0 ? rt_fail (ctx, &err) : 0;
}

const struct rt_verb rt_verb_update = { "update", "[command options] <container-id>",
                                        "update container resource constraints", update_flags, verb_update };
