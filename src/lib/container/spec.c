/* A container request: Docker's create body typed, checked and merged with its image (see spec.h). */
#define _GNU_SOURCE
#include "container/spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "base/jbytes.h"
#include "base/env.h"
#include "base/json.h"
#include "base/util.h"
#include "container/health.h"
#include "container/lifecycle.h"
#include "container/logconfig.h"
#include "container/restart.h"
#include "container/mounts.h"
#include "container/nsmode.h"
#include "container/ports.h"
#include "container/runspec.h"
#include "sandbox/caps.h"
#include "sandbox/cgroup.h"
#include "sandbox/netns.h"
#include "sandbox/seccomp_profile.h"
#include "sandbox/spawn.h"

/* --- the members isola knows ---------------------------------------------------------------------------------- */

enum field_kind
{
  FIELD_STRING, /* char * */
  FIELD_BOOL,   /* bool */
  FIELD_INT,    /* int64_t, recorded when > 0 */
  FIELD_SIGNED, /* int64_t, recorded when not 0 (MemorySwap's -1) */
  FIELD_STRV,   /* char **, never NULL */
  FIELD_MAP,    /* struct container_spec_map */
};

struct field
{
  const char *key;
  enum field_kind kind;
  size_t offset;
  bool always; /* recorded even when unset, as config.json always has it */
};

#define FIELD(key, kind, member, always)                                                                               \
  {                                                                                                                    \
    key, kind, offsetof (struct container_spec, member), always                                                        \
  }

/* Config's members with a plain type; Entrypoint, Cmd and StopTimeout, which can be null, are handled apart. */
static const struct field config_fields[] = {
  FIELD ("Image", FIELD_STRING, image, true),
  FIELD ("Hostname", FIELD_STRING, hostname, false),
  FIELD ("Domainname", FIELD_STRING, domainname, false),
  FIELD ("User", FIELD_STRING, user, false),
  FIELD ("WorkingDir", FIELD_STRING, working_dir, false),
  FIELD ("StopSignal", FIELD_STRING, stop_signal, false),
  FIELD ("MacAddress", FIELD_STRING, mac_address, false),
  FIELD ("AttachStdin", FIELD_BOOL, attach_stdin, true),
  FIELD ("AttachStdout", FIELD_BOOL, attach_stdout, true),
  FIELD ("AttachStderr", FIELD_BOOL, attach_stderr, true),
  FIELD ("Tty", FIELD_BOOL, tty, true),
  FIELD ("OpenStdin", FIELD_BOOL, open_stdin, true),
  FIELD ("Env", FIELD_STRV, env, true),
  FIELD ("Labels", FIELD_MAP, labels, false),
};

/* HostConfig's; Ulimits, a list of objects, is handled apart. */
static const struct field host_config_fields[] = {
  FIELD ("Isolation", FIELD_STRING, isolation, false),
  FIELD ("NetworkMode", FIELD_STRING, network_mode, false),
  FIELD ("AutoRemove", FIELD_BOOL, auto_remove, true),
  FIELD ("Init", FIELD_BOOL, init, false),
  FIELD ("ReadonlyRootfs", FIELD_BOOL, readonly_rootfs, true),
  FIELD ("Privileged", FIELD_BOOL, privileged, true),
  /* The resources Docker's inspect always shows, 0 / "" / false when unset. */
  FIELD ("Memory", FIELD_INT, memory, true),
  FIELD ("MemorySwap", FIELD_SIGNED, memory_swap, true),
  FIELD ("MemoryReservation", FIELD_INT, memory_reservation, true),
  FIELD ("NanoCpus", FIELD_INT, nano_cpus, true),
  FIELD ("CpuShares", FIELD_INT, cpu_shares, true),
  FIELD ("CpusetCpus", FIELD_STRING, cpuset_cpus, true),
  FIELD ("CpusetMems", FIELD_STRING, cpuset_mems, true),
  FIELD ("OomKillDisable", FIELD_BOOL, oom_kill_disable, true),
  FIELD ("PidsLimit", FIELD_INT, pids_limit, false),
  FIELD ("CapAdd", FIELD_STRV, cap_add, false),
  FIELD ("CapDrop", FIELD_STRV, cap_drop, false),
  FIELD ("SecurityOpt", FIELD_STRV, security_opt, false),
  FIELD ("Binds", FIELD_STRV, binds, false),
  FIELD ("Tmpfs", FIELD_MAP, tmpfs, false),
  FIELD ("IpcMode", FIELD_STRING, ipc_mode, true),
  FIELD ("PidMode", FIELD_STRING, pid_mode, true),
  FIELD ("UTSMode", FIELD_STRING, uts_mode, true),
  FIELD ("UsernsMode", FIELD_STRING, userns_mode, true),
  FIELD ("CgroupnsMode", FIELD_STRING, cgroupns_mode, true),
  FIELD ("ShmSize", FIELD_INT, shm_size, true),
  FIELD ("Sysctls", FIELD_MAP, sysctls, false),
  FIELD ("GroupAdd", FIELD_STRV, group_add, false),
  FIELD ("VolumesFrom", FIELD_STRV, volumes_from, false),
  FIELD ("PublishAllPorts", FIELD_BOOL, publish_all_ports, true),
  FIELD ("Dns", FIELD_STRV, dns, false),
  FIELD ("DnsSearch", FIELD_STRV, dns_search, false),
  FIELD ("DnsOptions", FIELD_STRV, dns_options, false),
  FIELD ("ExtraHosts", FIELD_STRV, extra_hosts, false),
};

static void
map_clear (struct container_spec_map *m)
{
  strv_free (m->keys);
  strv_free (m->values);
  memset (m, 0, sizeof (*m));
}

static void
map_set (struct container_spec_map *m, const char *key, const char *value)
{
  for (size_t i = 0; i < m->n; i++)
    if (strcmp (m->keys[i], key) == 0)
      {
        free (m->values[i]);
        m->values[i] = xstrdup (value);
        return;
      }
  strv_push (&m->keys, key);
  strv_push (&m->values, value);
  m->n++;
}

static const char *
map_get (const struct container_spec_map *m, const char *key)
{
  for (size_t i = 0; i < m->n; i++)
    if (strcmp (m->keys[i], key) == 0)
      return m->values[i];
  return NULL;
}

void
container_spec_clear (struct container_spec *spec)
{
  free (spec->name);
  static const struct field *const tables[] = { config_fields, host_config_fields };
  static const size_t sizes[] = { ARRAY_SIZE (config_fields), ARRAY_SIZE (host_config_fields) };
  for (size_t t = 0; t < ARRAY_SIZE (tables); t++)
    for (size_t i = 0; i < sizes[t]; i++)
      {
        void *member = (char *)spec + tables[t][i].offset;
        if (tables[t][i].kind == FIELD_STRING)
          free (*(char **)member);
        else if (tables[t][i].kind == FIELD_STRV)
          strv_free (*(char ***)member);
        else if (tables[t][i].kind == FIELD_MAP)
          map_clear (member);
      }
  strv_free (spec->entrypoint);
  strv_free (spec->cmd);
  for (size_t i = 0; i < spec->n_ulimits; i++)
    free (spec->ulimits[i].name);
  free (spec->ulimits);
  strv_free (spec->networks);
  json_decref (spec->endpoint);
  strv_free (spec->volumes);
  free (spec->restart_name);
  json_decref (spec->healthcheck);
  json_decref (spec->mounts);
  json_decref (spec->log_config);
  json_decref (spec->devices);
  json_decref (spec->exposed_ports);
  json_decref (spec->port_bindings);
  memset (spec, 0, sizeof (*spec));
}

/* --- from Docker's create body -------------------------------------------------------------------------------- */

/* Go's encoding/json decodes the body in Docker: a member of the wrong type is refused, null leaves it unset. */
static int
type_error (isola_error_t *err, const char *where, const char *key, const char *expected)
{
  return isola_error_fail (err, EINVAL, "invalid request: %s%s must be %s", where, key, expected);
}

/* Docker's StrSlice: a list of strings, or one string.  *out stays NULL for null. */
static int
strv_from_json (json_t *v, const char *where, const char *key, char ***out, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  cleanup_strv char **list = xcalloc (1, sizeof (char *));
  if (!json_is_string (v) && !json_is_array (v))
    return type_error (err, where, key, "a list of strings");
  if (json_is_string (v))
    strv_push (&list, json_string_value (v));
  size_t i;
  json_t *x;
  json_array_foreach (v, i, x)
  {
    /* A string, or the CLI's exact form of bytes that are not UTF-8 (jbytes.h) */
    cleanup_free char *s = jbytes_value (x);
    if (s == NULL)
      return type_error (err, where, key, "a list of strings");
    strv_push (&list, s);
  }
  *out = take_ptr (&list);
  return 0;
}

static int
map_from_json (json_t *v, const char *where, const char *key, struct container_spec_map *out, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_object (v))
    return type_error (err, where, key, "an object of strings");
  const char *k;
  json_t *x;
  json_object_foreach (v, k, x)
  {
    if (!json_is_string (x))
      return type_error (err, where, key, "an object of strings");
    map_set (out, k, json_string_value (x));
  }
  return 0;
}

static int
field_from_json (json_t *obj, const char *where, const struct field *f, struct container_spec *spec, isola_error_t *err)
{
  json_t *v = json_object_get (obj, f->key);
  void *member = (char *)spec + f->offset;
  if (v == NULL || json_is_null (v))
    return 0;
  switch (f->kind)
    {
    case FIELD_STRING:
      if (!json_is_string (v))
        return type_error (err, where, f->key, "a string");
      *(char **)member = xstrdup (json_string_value (v));
      return 0;
    case FIELD_BOOL:
      if (!json_is_boolean (v))
        return type_error (err, where, f->key, "a boolean");
      *(bool *)member = json_is_true (v);
      return 0;
    case FIELD_INT:
    case FIELD_SIGNED:
      if (!json_is_integer (v))
        return type_error (err, where, f->key, "an integer");
      *(int64_t *)member = json_integer_value (v);
      return 0;
    case FIELD_STRV:
      strv_free (*(char ***)member);
      *(char ***)member = NULL;
      return strv_from_json (v, where, f->key, member, err);
    case FIELD_MAP:
      return map_from_json (v, where, f->key, member, err);
    }
  return 0;
}

static int
fields_from_json (json_t *obj, const char *where, const struct field *fields, size_t n, struct container_spec *spec,
                  isola_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      int ret = field_from_json (obj, where, &fields[i], spec, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int
stop_timeout_from_json (json_t *v, struct container_spec *spec, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_integer (v))
    return type_error (err, "", "StopTimeout", "an integer");
  json_int_t t = json_integer_value (v);
  if (t < INT_MIN || t > INT_MAX)
    return isola_error_fail (err, EINVAL, "invalid stop timeout %" JSON_INTEGER_FORMAT ": out of range", t);
  spec->has_stop_timeout = true;
  spec->stop_timeout = (int)t;
  return 0;
}

static int
ulimits_from_json (json_t *v, struct container_spec *spec, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_array (v))
    return type_error (err, "HostConfig.", "Ulimits", "a list of {Name, Soft, Hard}");
  spec->ulimits = xcalloc (json_array_size (v) + 1, sizeof (*spec->ulimits));
  size_t i;
  json_t *u;
  json_array_foreach (v, i, u)
  {
    json_t *name = json_object_get (u, "Name"), *soft = json_object_get (u, "Soft"),
           *hard = json_object_get (u, "Hard");
    if (!json_is_string (name) || !json_is_integer (soft) || !json_is_integer (hard))
      return type_error (err, "HostConfig.", "Ulimits", "a list of {Name, Soft, Hard}");
    spec->ulimits[spec->n_ulimits++] = (struct container_spec_ulimit){ .name = xstrdup (json_string_value (name)),
                                                                       .soft = json_integer_value (soft),
                                                                       .hard = json_integer_value (hard) };
  }
  return 0;
}

/* Config.Volumes: {"/path": {}}, the paths that get anonymous volumes. */
static void
volumes_add (char ***volumes, json_t *v)
{
  const char *path;
  json_t *x;
  json_object_foreach (v, path, x) if (!strv_contains (*volumes, path)) strv_push (volumes, path);
}

static int
volumes_from_json (json_t *v, struct container_spec *spec, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_object (v))
    return type_error (err, "", "Volumes", "an object");
  volumes_add (&spec->volumes, v);
  return 0;
}

static int
mounts_from_json (json_t *v, struct container_spec *spec, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  size_t i;
  json_t *x;
  if (!json_is_array (v))
    return type_error (err, "HostConfig.", "Mounts", "a list of objects");
  json_array_foreach (v, i, x) if (!json_is_object (x)) return type_error (err, "HostConfig.", "Mounts",
                                                                           "a list of objects");
  spec->mounts = json_deep_copy (v);
  return 0;
}

/* HostConfig.LogConfig: kept as it is, checked with the other members (container_spec_validate). */
static int
log_config_from_json (json_t *v, struct container_spec *spec, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_object (v))
    return type_error (err, "HostConfig.", "LogConfig", "an object");
  spec->log_config = json_deep_copy (v);
  return 0;
}

/* HostConfig.RestartPolicy: {"Name": "on-failure", "MaximumRetryCount": 3}. */
static int
restart_policy_from_json (json_t *v, struct container_spec *spec, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  json_t *name = json_object_get (v, "Name"), *max = json_object_get (v, "MaximumRetryCount");
  if (!json_is_object (v) || (name && !json_is_null (name) && !json_is_string (name))
      || (max && !json_is_null (max) && !json_is_integer (max)))
    return type_error (err, "HostConfig.", "RestartPolicy", "{Name, MaximumRetryCount}");
  spec->restart_name = xstrdup (json_string_value (name) ?: "");
  spec->restart_max_retries = json_integer_value (max);
  return 0;
}

static int
devices_from_json (json_t *v, struct container_spec *spec, isola_error_t *err)
{
  if (v == NULL || json_is_null (v))
    return 0;
  size_t i;
  json_t *x;
  if (!json_is_array (v))
    return type_error (err, "HostConfig.", "Devices", "a list of objects");
  json_array_foreach (v, i, x) if (!json_is_object (x)) return type_error (err, "HostConfig.", "Devices",
                                                                           "a list of objects");
  spec->devices = json_deep_copy (v);
  return 0;
}

/* Config.ExposedPorts and HostConfig.PortBindings: kept as they are, checked with the other members
   (ports_check). */
static int
ports_from_json (json_t *request, json_t *host, struct container_spec *spec, isola_error_t *err)
{
  json_t *exposed = json_object_get (request, "ExposedPorts"), *bindings = json_object_get (host, "PortBindings");
  int ret = ports_check (exposed, bindings, err);
  if (ret < 0)
    return ret;
  if (json_is_object (exposed))
    spec->exposed_ports = json_deep_copy (exposed);
  if (json_is_object (bindings))
    spec->port_bindings = json_deep_copy (bindings);
  return 0;
}

/* An endpoint's IPAMConfig.IPv4Address and Aliases, the two settings isola takes: their types and the address's
   form; whether the network takes them is create's question (container/create.c). */
static int
endpoint_from_json (const char *network, json_t *v, struct container_spec *spec, isola_error_t *err)
{
  if (!json_is_object (v))
    return type_error (err, "NetworkingConfig.EndpointsConfig.", network, "an object");
  json_t *ipam = json_object_get (v, "IPAMConfig");
  json_t *ip = json_object_get (ipam, "IPv4Address");
  json_t *aliases = json_object_get (v, "Aliases");
  struct in_addr a;
  if (ip && !json_is_null (ip) && !(json_is_string (ip) && inet_pton (AF_INET, json_string_value (ip), &a) == 1))
    return isola_error_fail (err, EINVAL, "invalid IPv4 address: %s",
                             json_is_string (ip) ? json_string_value (ip) : "(not a string)");
  size_t i;
  json_t *x;
  if (aliases && !json_is_null (aliases) && !json_is_array (aliases))
    return type_error (err, "NetworkingConfig.EndpointsConfig.", "Aliases", "a list of strings");
  json_array_foreach (aliases, i, x) if (!json_is_string (x) || !json_string_value (x)[0]) return isola_error_fail (
      err, EINVAL, "invalid network alias: it must be a non-empty string");
  json_t *e = json_object ();
  if (json_is_string (ip) && json_string_value (ip)[0])
    json_object_set_new (e, "IPAMConfig", json_pack ("{s:O}", "IPv4Address", ip));
  if (json_array_size (aliases) > 0)
    json_object_set (e, "Aliases", aliases);
  if (json_object_size (e) > 0)
    spec->endpoint = e;
  else
    json_decref (e);
  return 0;
}

static int
networks_from_json (json_t *networking, struct container_spec *spec, isola_error_t *err)
{
  json_t *endpoints = json_object_get (networking, "EndpointsConfig");
  if (endpoints == NULL || json_is_null (endpoints))
    return 0;
  if (!json_is_object (endpoints))
    return type_error (err, "NetworkingConfig.", "EndpointsConfig", "an object");
  const char *name;
  json_t *v;
  json_object_foreach (endpoints, name, v)
  {
    strv_push (&spec->networks, name);
    /* A container is on one network: with more endpoints, only their names are kept. */
    int ret = json_object_size (endpoints) == 1 ? endpoint_from_json (name, v, spec, err) : 0;
    if (ret < 0)
      return ret;
  }
  return 0;
}

static int
object_member (json_t *request, const char *key, json_t **out, isola_error_t *err)
{
  json_t *v = json_object_get (request, key);
  if (v != NULL && !json_is_null (v) && !json_is_object (v))
    return type_error (err, "", key, "an object");
  *out = json_is_object (v) ? v : NULL;
  return 0;
}

static void
spec_init (struct container_spec *spec, const char *name)
{
  memset (spec, 0, sizeof (*spec));
  spec->name = name && name[0] ? xstrdup (name) : NULL;
  char ***lists[] = { &spec->env,      &spec->cap_add, &spec->cap_drop,  &spec->security_opt, &spec->binds,
                      &spec->networks, &spec->volumes, &spec->group_add, &spec->volumes_from };
  for (size_t i = 0; i < ARRAY_SIZE (lists); i++)
    *lists[i] = xcalloc (1, sizeof (char *));
}

static int
spec_fill (json_t *request, struct container_spec *spec, isola_error_t *err)
{
  json_t *host = NULL, *networking = NULL;
  if (!json_is_object (request))
    return isola_error_fail (err, EINVAL, "invalid request: the body must be a JSON object");
  int ret = object_member (request, "HostConfig", &host, err);
  if (ret == 0)
    ret = object_member (request, "NetworkingConfig", &networking, err);
  if (ret == 0)
    ret = fields_from_json (request, "", config_fields, ARRAY_SIZE (config_fields), spec, err);
  if (ret == 0)
    ret = strv_from_json (json_object_get (request, "Entrypoint"), "", "Entrypoint", &spec->entrypoint, err);
  if (ret == 0)
    ret = strv_from_json (json_object_get (request, "Cmd"), "", "Cmd", &spec->cmd, err);
  if (ret == 0)
    ret = stop_timeout_from_json (json_object_get (request, "StopTimeout"), spec, err);
  if (ret == 0)
    ret = volumes_from_json (json_object_get (request, "Volumes"), spec, err);
  if (ret == 0)
    ret = health_config_check (json_object_get (request, "Healthcheck"), err);
  if (ret == 0 && json_is_object (json_object_get (request, "Healthcheck")))
    spec->healthcheck = json_deep_copy (json_object_get (request, "Healthcheck"));
  if (ret == 0)
    ret = fields_from_json (host, "HostConfig.", host_config_fields, ARRAY_SIZE (host_config_fields), spec, err);
  if (ret == 0)
    ret = ulimits_from_json (json_object_get (host, "Ulimits"), spec, err);
  if (ret == 0)
    ret = mounts_from_json (json_object_get (host, "Mounts"), spec, err);
  if (ret == 0)
    ret = log_config_from_json (json_object_get (host, "LogConfig"), spec, err);
  if (ret == 0)
    ret = restart_policy_from_json (json_object_get (host, "RestartPolicy"), spec, err);
  if (ret == 0)
    ret = devices_from_json (json_object_get (host, "Devices"), spec, err);
  if (ret == 0)
    ret = networks_from_json (networking, spec, err);
  if (ret == 0)
    ret = ports_from_json (request, host, spec, err);
  /* Docker records the default swap limit: as much swap again as memory. */
  if (ret == 0 && spec->memory > 0 && spec->memory_swap == 0)
    spec->memory_swap = spec->memory * 2;
  return ret;
}

int
container_spec_from_json (json_t *request, const char *name, struct container_spec *out, isola_error_t *err)
{
  struct container_spec spec;
  spec_init (&spec, name);
  int ret = spec_fill (request, &spec, err);
  if (ret < 0)
    {
      container_spec_clear (&spec);
      return ret;
    }
  *out = spec;
  return 0;
}

/* --- checks --------------------------------------------------------------------------------------------------- */

static bool
set (const char *s)
{
  return s && s[0];
}

/* "aa:bb:cc:dd:ee:ff" (either case) of a unicast address: a device cannot have a multicast one. */
static bool
valid_unicast_mac (const char *s)
{
  if (strlen (s) != 17)
    return false;
  for (int i = 0; i < 17; i++)
    if (i % 3 == 2 ? s[i] != ':' : !isxdigit ((unsigned char)s[i]))
      return false;
  unsigned first = 0;
  return sscanf (s, "%2x", &first) == 1 && (first & 1) == 0;
}

static int
check_config (const struct container_spec *spec, isola_error_t *err)
{
  if (!set (spec->image))
    return isola_error_fail (err, EINVAL, "no image specified");
  if (set (spec->working_dir) && spec->working_dir[0] != '/')
    return isola_error_fail (err, EINVAL, "the working directory '%s' is invalid, it needs to be an absolute path",
                             spec->working_dir);
  if (set (spec->stop_signal) && signal_from_name (spec->stop_signal) < 0)
    return isola_error_fail (err, EINVAL, "invalid signal: %s", spec->stop_signal);
  if (set (spec->hostname) && spec->uts_mode && strcmp (spec->uts_mode, "host") == 0)
    return isola_error_fail (err, EINVAL, "conflicting options: hostname and the UTS mode");
  if (set (spec->mac_address) && !valid_unicast_mac (spec->mac_address))
    return isola_error_fail (err, EINVAL, "%s is not a valid unicast mac address", spec->mac_address);
  /* Docker's daemon: an entry needs a name ("=x" would reach the process as a variable without one). */
  for (size_t i = 0; spec->env && spec->env[i]; i++)
    if (spec->env[i][0] == '=' || spec->env[i][0] == '\0')
      return isola_error_fail (err, EINVAL, "invalid environment variable: %s", spec->env[i]);
  /* -1 waits forever; other negative values mean nothing. */
  if (spec->has_stop_timeout && spec->stop_timeout < -1)
    return isola_error_fail (err, EINVAL, "invalid stop timeout %d: -1 (wait forever) or 0 or more seconds",
                             spec->stop_timeout);
  return 0;
}

/* A cpuset against what the host has (a VM's guest checks its own at start: sandbox/cgroup.c). */
static int
check_cpuset (const char *list, const char *online_file, const char *what, const char *whom, isola_error_t *err)
{
  if (!set (list))
    return 0;
  cleanup_free char *online = NULL;
  if (read_file_bounded (online_file, 4096, &online, NULL, NULL) < 0)
    online = xstrdup ("");
  online[strcspn (online, "\n")] = '\0';
  int r = cgroup_cpuset_check (list, online[0] ? online : "0-1023");
  if (r == -EINVAL)
    return isola_error_fail (err, EINVAL, "Invalid value %s for cpuset %s: invalid format: %s", list, what, list);
  if (r == -ERANGE)
    return isola_error_fail (err, EINVAL, "Requested %s are not available - requested %s, available: %s", whom, list,
                             online);
  return 0;
}

static int
check_memory (const struct container_spec *spec, bool update, isola_error_t *err)
{
  if (spec->memory != 0 && spec->memory < CONTAINER_SPEC_MIN_MEMORY)
    return isola_error_fail (err, EINVAL, "Minimum memory limit allowed is 6MB");
  if (spec->memory > 0 && spec->memory_swap > 0 && spec->memory_swap < spec->memory)
    return isola_error_fail (err, EINVAL, "Minimum memoryswap limit should be larger than memory limit, see usage");
  if (spec->memory == 0 && spec->memory_swap > 0 && !update)
    return isola_error_fail (err, EINVAL,
                             "You should always set the Memory limit when using Memoryswap limit, see usage");
  if (spec->memory_swap < -1)
    return isola_error_fail (err, EINVAL, "invalid MemorySwap %lld: -1 (unlimited) or bytes",
                             (long long)spec->memory_swap);
  if (spec->memory > 0 && spec->memory_reservation > 0 && spec->memory < spec->memory_reservation)
    return isola_error_fail (err, EINVAL,
                             "Minimum memory limit can not be less than memory reservation limit, see usage");
  if (spec->memory_reservation > 0 && spec->memory_reservation < CONTAINER_SPEC_MIN_MEMORY)
    return isola_error_fail (err, EINVAL, "Minimum memory reservation allowed is 6MB");
  return 0;
}

int
container_spec_check_resources (const struct container_spec *spec, bool update, isola_error_t *err)
{
  int ret = check_memory (spec, update, err);
  if (ret == 0)
    ret = check_cpuset (spec->cpuset_cpus, "/sys/devices/system/cpu/online", "cpus", "CPUs", err);
  if (ret == 0)
    ret = check_cpuset (spec->cpuset_mems, "/sys/devices/system/node/online", "mems", "memory nodes", err);
  if (ret < 0)
    return ret;
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  if (spec->nano_cpus != 0 && (spec->nano_cpus < 10000000 || spec->nano_cpus > ncpu * 1000000000LL))
    return isola_error_fail (err, EINVAL, "range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs available",
                             ncpu, ncpu);
  return 0;
}

/* none, host, default (the driver's default network), container:NAME, a network's name or ID (create.c checks that
   the network or container exists), or a network namespace someone made, given by path (podman's ns:PATH). */
static int
check_network_mode (const char *mode, isola_error_t *err)
{
  if (!set (mode))
    return 0;
  const char *path = netns_mode_path (mode);
  if (path)
    {
      int ret = netns_check (path, err);
      return ret < 0 ? isola_error_wrap (err, ret, "invalid network \"%s\"", mode) : 0;
    }
  if (str_has_prefix (mode, "container:"))
    return mode[strlen ("container:")] ? 0 : isola_error_fail (err, EINVAL, "invalid network mode: %s", mode);
  for (const char *p = mode; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr ("_.-", *p)))
      return isola_error_fail (err, EINVAL, "network %s not found", mode);
  return 0;
}

/* What a container that joins another's network cannot have of its own (Docker's validateNetContainerMode). */
static int
check_joined_network (const struct container_spec *spec, isola_error_t *err)
{
  if (strv_len (spec->dns) > 0)
    return isola_error_fail (err, EINVAL, "conflicting options: dns and the network mode");
  if (strv_len (spec->extra_hosts) > 0)
    return isola_error_fail (err, EINVAL, "conflicting options: custom host-to-IP mapping and the network mode");
  if (json_object_size (spec->port_bindings) > 0 || spec->publish_all_ports)
    return isola_error_fail (err, EINVAL, "conflicting options: port publishing and the container type network mode");
  if (json_object_size (spec->exposed_ports) > 0)
    return isola_error_fail (err, EINVAL, "conflicting options: port exposing and the container type network mode");
  return 0;
}

static int
check_network (const struct container_spec *spec, isola_error_t *err)
{
  int ret = check_network_mode (spec->network_mode, err);
  for (size_t i = 0; ret == 0 && spec->networks[i]; i++)
    ret = check_network_mode (spec->networks[i], err);
  for (size_t i = 0; ret == 0 && spec->dns && spec->dns[i]; i++)
    ret = names_check_dns (spec->dns[i], err);
  if (ret == 0 && set (spec->network_mode) && str_has_prefix (spec->network_mode, "container:"))
    ret = check_joined_network (spec, err);
  for (size_t i = 0; ret == 0 && spec->extra_hosts && spec->extra_hosts[i]; i++)
    ret = names_check_extra_host (spec->extra_hosts[i], err);
  return ret;
}

/* A seccomp option carries the profile itself (the docker CLI reads the file), "unconfined" or "builtin". */
static int
check_security_opts (const struct container_spec *spec, isola_error_t *err)
{
  for (size_t i = 0; spec->security_opt[i]; i++)
    {
      const char *opt = spec->security_opt[i];
      if (!str_has_prefix (opt, "no-new-privileges") && !str_has_prefix (opt, "seccomp=")
          && !str_has_prefix (opt, "seccomp:"))
        return isola_error_fail (
            err, EINVAL,
            "invalid --security-opt: \"%s\": only seccomp=PROFILE|unconfined and no-new-privileges are supported", opt);
    }
  return 0;
}

/* Binds, tmpfs mounts, ulimits, capabilities and the seccomp profile, through the parsers the drivers use at
   start, so what create accepts is what starts. */
static int
check_host_config (const struct container_spec *spec, const char *seccomp_cache, isola_error_t *err)
{
  cleanup_json json_t *host = container_spec_host_config_json (spec);
  struct runspec_mounts m = { 0 };
  struct runspec_rlimits r = { 0 };
  uint64_t caps;
  int ret = runspec_mounts_parse (host, &m, err);
  for (size_t i = 0; ret == 0 && spec->volumes[i]; i++)
    {
      struct runspec_mount_spec v = { 0 };
      ret = runspec_parse_bind (spec->volumes[i], &v, err);
      if (ret == 0 && v.source)
        ret = isola_error_fail (err, EINVAL, "invalid volume %s: Config.Volumes names paths only", spec->volumes[i]);
      runspec_mount_spec_clear (&v);
    }
  if (ret == 0)
    ret = runspec_rlimits_parse (host, &r, err);
  if (ret == 0)
    ret = nsmode_check (host, err);
  for (size_t i = 0; ret == 0 && spec->volumes_from[i]; i++)
    ret = volumes_from_parse (spec->volumes_from[i], NULL, NULL, err);
  if (ret == 0)
    ret = caps_for_host_config (host, &caps, err);
  if (ret == 0)
    {
      struct seccomp_program *prog = NULL;
      ret = seccomp_program_for_host_config (host, caps, seccomp_cache, &prog, err);
      seccomp_program_free (prog);
    }
  runspec_mounts_clear (&m);
  runspec_rlimits_clear (&r);
  return ret;
}

int
container_spec_validate (const struct container_spec *spec, const char *seccomp_cache, isola_error_t *err)
{
  int ret = check_config (spec, err);
  if (ret == 0)
    ret = container_spec_check_resources (spec, false, err);
  if (ret == 0)
    ret = restart_policy_check (spec->restart_name, spec->restart_max_retries, spec->auto_remove, err);
  if (ret == 0)
    ret = check_network (spec, err);
  if (ret == 0)
    ret = check_security_opts (spec, err);
  if (ret == 0)
    ret = check_host_config (spec, seccomp_cache, err);
  if (ret == 0)
    {
      struct log_config lc;
      ret = log_config_parse (spec->log_config, &lc, err);
    }
  return ret;
}

/* --- merging the image's config ------------------------------------------------------------------------------- */

static void
strv_push_strings (char ***v, json_t *array)
{
  size_t i;
  json_t *x;
  json_array_foreach (array, i, x) if (json_is_string (x)) strv_push (v, json_string_value (x));
}

/* Docker's create: the request's Env first, then the image's entries it does not set.  No PATH is added here: every
   process gets the default one under Config.Env (container_env), as Docker's daemon does. */
static void
merge_env (struct container_spec *spec, json_t *image_env)
{
  cleanup_strv char **image = NULL;
  image = xcalloc (1, sizeof (char *));
  strv_push_strings (&image, image_env);
  char **env = env_merge_image (spec->env, image);
  strv_free (spec->env);
  spec->env = env;
}

static char **
strings_of (json_t *array)
{
  char **v = xcalloc (1, sizeof (char *));
  strv_push_strings (&v, array);
  return v;
}

static void
merge_command (struct container_spec *spec, json_t *image_config)
{
  bool entrypoint_given = spec->entrypoint != NULL;
  bool entrypoint_set = entrypoint_given && spec->entrypoint[0] != NULL;
  if (!entrypoint_set && (spec->cmd == NULL || spec->cmd[0] == NULL))
    {
      strv_free (spec->cmd);
      spec->cmd = strings_of (json_object_get (image_config, "Cmd"));
    }
  if (!entrypoint_given)
    spec->entrypoint = strings_of (json_object_get (image_config, "Entrypoint"));
  else if (strv_len (spec->entrypoint) == 1 && spec->entrypoint[0][0] == '\0')
    {
      free (spec->entrypoint[0]);
      spec->entrypoint[0] = NULL;
    }
  if (spec->cmd == NULL)
    spec->cmd = xcalloc (1, sizeof (char *));
}

static void
inherit (char **mine, json_t *image_config, const char *key)
{
  const char *theirs = json_string_value (json_object_get (image_config, key));
  if (set (*mine) || theirs == NULL)
    return;
  free (*mine);
  *mine = xstrdup (theirs);
}

static void
merge_labels (struct container_spec *spec, json_t *image_labels)
{
  const char *k;
  json_t *v;
  json_object_foreach (image_labels, k, v) if (json_is_string (v) && map_get (&spec->labels, k) == NULL)
      map_set (&spec->labels, k, json_string_value (v));
}

/* Docker's create: the image's EXPOSEd ports are the container's too (what -P publishes). */
static void
merge_exposed_ports (struct container_spec *spec, json_t *image_ports)
{
  if (!json_is_object (image_ports) || json_object_size (image_ports) == 0)
    return;
  if (spec->exposed_ports == NULL)
    spec->exposed_ports = json_object ();
  const char *k;
  json_t *v;
  json_object_foreach (image_ports, k, v) if (json_object_get (spec->exposed_ports, k) == NULL)
      json_object_set_new (spec->exposed_ports, k, json_object ());
}

int
container_spec_merge_image (struct container_spec *spec, json_t *image_config, isola_error_t *err)
{
  merge_env (spec, json_object_get (image_config, "Env"));
  merge_command (spec, image_config);
  inherit (&spec->working_dir, image_config, "WorkingDir");
  inherit (&spec->user, image_config, "User");
  inherit (&spec->stop_signal, image_config, "StopSignal");
  merge_labels (spec, json_object_get (image_config, "Labels"));
  volumes_add (&spec->volumes, json_object_get (image_config, "Volumes"));
  merge_exposed_ports (spec, json_object_get (image_config, "ExposedPorts"));
  json_t *health = health_config_merge (spec->healthcheck, json_object_get (image_config, "Healthcheck"));
  json_decref (spec->healthcheck);
  spec->healthcheck = health;
  if (spec->entrypoint[0] == NULL && spec->cmd[0] == NULL)
    return isola_error_fail (err, EINVAL, "no command specified");
  return 0;
}

/* --- to config.json ------------------------------------------------------------------------------------------- */

static json_t *
strv_json (char *const *v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, jbytes_shown (v[i]));
  return a;
}

static json_t *
map_json (const struct container_spec_map *m)
{
  json_t *o = json_object ();
  for (size_t i = 0; i < m->n; i++)
    json_object_set_new (o, m->keys[i], jbytes_shown (m->values[i]));
  return o;
}

/* The member's JSON, or NULL when it is unset and not always recorded. */
static json_t *
field_json (const struct container_spec *spec, const struct field *f)
{
  const void *member = (const char *)spec + f->offset;
  switch (f->kind)
    {
    case FIELD_STRING:
      {
        const char *s = *(char *const *)member;
        return set (s) || f->always ? json_string (s ? s : "") : NULL;
      }
    case FIELD_BOOL:
      return *(const bool *)member || f->always ? json_boolean (*(const bool *)member) : NULL;
    case FIELD_INT:
      return *(const int64_t *)member > 0 || f->always ? json_integer (*(const int64_t *)member) : NULL;
    case FIELD_SIGNED:
      return *(const int64_t *)member != 0 || f->always ? json_integer (*(const int64_t *)member) : NULL;
    case FIELD_STRV:
      return strv_len (*(char **const *)member) > 0 || f->always ? strv_json (*(char **const *)member) : NULL;
    case FIELD_MAP:
      return ((const struct container_spec_map *)member)->n > 0 || f->always ? map_json (member) : NULL;
    }
  return NULL;
}

static json_t *
fields_json (const struct container_spec *spec, const struct field *fields, size_t n)
{
  json_t *o = json_object ();
  for (size_t i = 0; i < n; i++)
    {
      json_t *v = field_json (spec, &fields[i]);
      if (v)
        json_object_set_new (o, fields[i].key, v);
    }
  return o;
}

json_t *
container_spec_config_json (const struct container_spec *spec)
{
  json_t *o = fields_json (spec, config_fields, ARRAY_SIZE (config_fields));
  bool has_entrypoint = spec->entrypoint && spec->entrypoint[0];
  json_object_set_new (o, "Entrypoint", has_entrypoint ? strv_json (spec->entrypoint) : json_null ());
  json_object_set_new (o, "Cmd", strv_json (spec->cmd));
  if (spec->has_stop_timeout)
    json_object_set_new (o, "StopTimeout", json_integer (spec->stop_timeout));
  if (spec->healthcheck)
    json_object_set (o, "Healthcheck", spec->healthcheck);
  if (spec->exposed_ports && json_object_size (spec->exposed_ports) > 0)
    json_object_set (o, "ExposedPorts", spec->exposed_ports);
  if (spec->volumes[0])
    {
      json_t *volumes = json_object ();
      for (size_t i = 0; spec->volumes[i]; i++)
        json_object_set_new (volumes, spec->volumes[i], json_object ());
      json_object_set_new (o, "Volumes", volumes);
    }
  return o;
}

json_t *
container_spec_exact_json (const struct container_spec *spec)
{
  if (strv_utf8_valid (spec->entrypoint) && strv_utf8_valid (spec->cmd) && strv_utf8_valid (spec->env))
    return NULL;
  return json_pack ("{s:o, s:o, s:o}", "Entrypoint", jbytes_exact_array (spec->entrypoint), "Cmd",
                    jbytes_exact_array (spec->cmd), "Env", jbytes_exact_array (spec->env));
}

json_t *
container_spec_host_config_json (const struct container_spec *spec)
{
  json_t *o = fields_json (spec, host_config_fields, ARRAY_SIZE (host_config_fields));
  /* Always, as Docker's: the daemon's default driver when the request names none. */
  json_object_set_new (o, "LogConfig", log_config_settled (spec->log_config));
  if (spec->mounts && json_array_size (spec->mounts) > 0)
    json_object_set (o, "Mounts", spec->mounts);
  /* Always there, as in Docker's inspect (the docker CLI sends "no" when --restart is not given). */
  json_object_set_new (o, "RestartPolicy",
                       json_pack ("{s:s, s:I}", "Name", spec->restart_name ? spec->restart_name : "",
                                  "MaximumRetryCount", (json_int_t)spec->restart_max_retries));
  json_object_set_new (o, "Devices", spec->devices ? json_deep_copy (spec->devices) : json_array ());
  /* Always, as Docker's: {} without -p. */
  json_object_set_new (o, "PortBindings", spec->port_bindings ? json_deep_copy (spec->port_bindings) : json_object ());
  if (spec->n_ulimits == 0)
    return o;
  json_t *ulimits = json_array ();
  for (size_t i = 0; i < spec->n_ulimits; i++)
    json_array_append_new (ulimits,
                           json_pack ("{s:s, s:I, s:I}", "Name", spec->ulimits[i].name, "Soft",
                                      (json_int_t)spec->ulimits[i].soft, "Hard", (json_int_t)spec->ulimits[i].hard));
  json_object_set_new (o, "Ulimits", ulimits);
  return o;
}
