#define _GNU_SOURCE
#include "container/runspec.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/util.h"
#include "sandbox/caps.h"

void
runspec_mounts_clear (struct runspec_mounts *m)
{
  for (size_t i = 0; i < m->n; i++)
    {
      free ((char *)m->items[i].source);
      free ((char *)m->items[i].destination);
      free ((char *)m->items[i].tmpfs_options);
    }
  free (m->items);
  memset (m, 0, sizeof (*m));
}

static struct spawn_mount *
mounts_add (struct runspec_mounts *m)
{
  m->items = xrealloc (m->items, (m->n + 1) * sizeof (*m->items));
  memset (&m->items[m->n], 0, sizeof (m->items[0]));
  return &m->items[m->n++];
}

static int
parse_bind (const char *bind, struct runspec_mounts *m, isola_error_t *err)
{
  cleanup_free char *copy = xstrdup (bind);
  char *src = copy, *dst = strchr (copy, ':');
  if (dst == NULL)
    return isola_error_fail (err, EINVAL,
                             "invalid volume specification: '%s': anonymous volumes are not supported, "
                             "use HOSTDIR:CTRDIR[:ro]",
                             bind);
  *dst++ = '\0';
  char *mode = strchr (dst, ':');
  if (mode)
    *mode++ = '\0';
  if (src[0] != '/')
    return isola_error_fail (err, EINVAL,
                             "invalid volume specification: '%s': named volumes are not supported, the "
                             "source must be an absolute host path",
                             bind);
  if (dst[0] != '/')
    return isola_error_fail (err, EINVAL, "invalid volume specification: '%s': mount path must be absolute", bind);
  if (mode && strcmp (mode, "ro") != 0 && strcmp (mode, "rw") != 0 && strcmp (mode, "z") != 0
      && strcmp (mode, "Z") != 0)
    return isola_error_fail (err, EINVAL, "invalid volume specification: '%s': invalid mode: %s", bind, mode);
  struct stat st;
  if (stat (src, &st) < 0)
    return isola_error_make (err, errno, "invalid volume specification: '%s': bind source path does not exist", bind);
  struct spawn_mount *sm = mounts_add (m);
  sm->source = xstrdup (src);
  sm->destination = xstrdup (dst);
  sm->readonly = mode && strcmp (mode, "ro") == 0;
  return 0;
}

int
runspec_mounts_parse (json_t *host_config, struct runspec_mounts *out, isola_error_t *err)
{
  struct runspec_mounts m = { 0 };
  size_t i;
  json_t *v;
  const char *key;
  json_array_foreach (json_object_get (host_config, "Binds"), i, v)
  {
    if (!json_is_string (v) || parse_bind (json_string_value (v), &m, err) < 0)
      {
        runspec_mounts_clear (&m);
        return err && *err ? -(*err)->status : -EINVAL;
      }
  }
  json_object_foreach (json_object_get (host_config, "Tmpfs"), key, v)
  {
    if (key[0] != '/')
      {
        runspec_mounts_clear (&m);
        return isola_error_fail (err, EINVAL, "invalid tmpfs mount '%s': mount path must be absolute", key);
      }
    struct spawn_mount *sm = mounts_add (&m);
    sm->destination = xstrdup (key);
    const char *opts = json_string_value (v);
    sm->tmpfs_options = xstrdup (opts && opts[0] ? opts : "mode=1777");
  }
  *out = m;
  return 0;
}

/* --- rlimits -------------------------------------------------------------------------------------------------- */

static const struct
{
  const char *name;
  int resource;
} ulimit_names[] = {
  { "as", RLIMIT_AS },           { "core", RLIMIT_CORE },         { "cpu", RLIMIT_CPU },
  { "data", RLIMIT_DATA },       { "fsize", RLIMIT_FSIZE },       { "locks", RLIMIT_LOCKS },
  { "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },
  { "nofile", RLIMIT_NOFILE },   { "nproc", RLIMIT_NPROC },       { "rss", RLIMIT_RSS },
  { "rtprio", RLIMIT_RTPRIO },   { "rttime", RLIMIT_RTTIME },     { "sigpending", RLIMIT_SIGPENDING },
  { "stack", RLIMIT_STACK },
};

static int
ulimit_resource (const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE (ulimit_names); i++)
    if (strcmp (ulimit_names[i].name, name) == 0)
      return ulimit_names[i].resource;
  return -1;
}

void
runspec_rlimits_clear (struct runspec_rlimits *r)
{
  free (r->items);
  memset (r, 0, sizeof (*r));
}

int
runspec_rlimits_parse (json_t *host_config, struct runspec_rlimits *out, isola_error_t *err)
{
  struct runspec_rlimits r = { 0 };
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (host_config, "Ulimits"), i, v)
  {
    const char *name = json_string_value (json_object_get (v, "Name"));
    int res = name ? ulimit_resource (name) : -1;
    json_int_t soft = json_integer_value (json_object_get (v, "Soft"));
    json_int_t hard = json_integer_value (json_object_get (v, "Hard"));
    if (res < 0 || soft < 0 || hard < 0 || soft > hard)
      {
        runspec_rlimits_clear (&r);
        return isola_error_fail (err, EINVAL, "invalid ulimit %s", name ? name : "(unnamed)");
      }
    r.items = xrealloc (r.items, (r.n + 1) * sizeof (*r.items));
    r.items[r.n++] = (struct spawn_rlimit){ .resource = res, .soft = (uint64_t)soft, .hard = (uint64_t)hard };
  }
  *out = r;
  return 0;
}

static bool
rlimits_have (const struct runspec_rlimits *r, int resource)
{
  for (size_t i = 0; i < r->n; i++)
    if (r->items[i].resource == resource)
      return true;
  return false;
}

/* The default fs.nr_open of a Linux kernel: RLIMIT_NOFILE cannot be raised above it. */
#define KERNEL_NR_OPEN_DEFAULT (1024 * 1024)

void
runspec_rlimits_add_inherited (struct runspec_rlimits *r)
{
  for (size_t i = 0; i < ARRAY_SIZE (ulimit_names); i++)
    {
      int res = ulimit_names[i].resource;
      struct rlimit rl;
      if (rlimits_have (r, res) || getrlimit (res, &rl) < 0)
        continue;
      if (res == RLIMIT_NOFILE)
        {
          rl.rlim_cur = rl.rlim_cur < KERNEL_NR_OPEN_DEFAULT ? rl.rlim_cur : KERNEL_NR_OPEN_DEFAULT;
          rl.rlim_max = rl.rlim_max < KERNEL_NR_OPEN_DEFAULT ? rl.rlim_max : KERNEL_NR_OPEN_DEFAULT;
        }
      r->items = xrealloc (r->items, (r->n + 1) * sizeof (*r->items));
      r->items[r->n++] = (struct spawn_rlimit){ .resource = res, .soft = rl.rlim_cur, .hard = rl.rlim_max };
    }
}

static bool
parse_u64 (const char *s, uint64_t *out)
{
  if (s == NULL || *s == '\0')
    return false;
  if (strcmp (s, "-1") == 0 || strcmp (s, "unlimited") == 0)
    {
      *out = RLIM_INFINITY;
      return true;
    }
  char *end;
  errno = 0;
  uintmax_t v = strtoumax (s, &end, 10);
  if (errno || *end || s[0] == '-')
    return false;
  *out = (uint64_t)v;
  return true;
}

int
runspec_ulimit_from_flag (const char *flag, json_t **out, isola_error_t *err)
{
  cleanup_free char *copy = xstrdup (flag);
  char *eq = strchr (copy, '=');
  if (eq == NULL)
    return isola_error_fail (err, EINVAL, "invalid ulimit argument: %s", flag);
  *eq = '\0';
  char *soft_s = eq + 1, *hard_s = strchr (soft_s, ':');
  if (hard_s)
    *hard_s++ = '\0';
  uint64_t soft, hard;
  if (ulimit_resource (copy) < 0)
    return isola_error_fail (err, EINVAL, "invalid ulimit type: %s", copy);
  if (!parse_u64 (soft_s, &soft) || !parse_u64 (hard_s ? hard_s : soft_s, &hard))
    return isola_error_fail (err, EINVAL, "invalid ulimit argument: %s", flag);
  if (soft > hard)
    return isola_error_fail (err, EINVAL, "ulimit soft limit must be less than or equal to hard limit: %s", flag);
  *out = json_pack ("{s:s, s:I, s:I}", "Name", copy, "Soft", (json_int_t)(soft == RLIM_INFINITY ? -1 : (int64_t)soft),
                    "Hard", (json_int_t)(hard == RLIM_INFINITY ? -1 : (int64_t)hard));
  return 0;
}

/* --- the rest ------------------------------------------------------------------------------------------------- */

bool
runspec_no_new_privileges (json_t *host_config)
{
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (host_config, "SecurityOpt"), i, v)
  {
    const char *s = json_string_value (v);
    if (s
        && (strcmp (s, "no-new-privileges") == 0 || strcmp (s, "no-new-privileges:true") == 0
            || strcmp (s, "no-new-privileges=true") == 0))
      return true;
  }
  return false;
}
