#define _GNU_SOURCE
#include "container/runspec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/util.h"
#include "base/json.h"
#include "container/container.h"
#include "sandbox/caps.h"
#include "sandbox/cgroup.h"

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

/* --- mount specifications ------------------------------------------------------------------------------------ */

void
runspec_mount_spec_clear (struct runspec_mount_spec *m)
{
  free (m->source);
  free (m->destination);
  free (m->mode);
  free (m->tmpfs_options);
  memset (m, 0, sizeof (*m));
}

/* Docker's local driver's rule for volume names. */
bool
runspec_volume_name_valid (const char *name)
{
  if (name == NULL || strlen (name) < 2 || !isalnum ((unsigned char)name[0]))
    return false;
  for (const char *p = name + 1; *p; p++)
    if (!isalnum ((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
      return false;
  return true;
}

static bool
one_of (const char *s, const char *const *list)
{
  for (size_t i = 0; list[i]; i++)
    if (strcmp (s, list[i]) == 0)
      return true;
  return false;
}

/* -v's mode: comma-separated ro|rw, z|Z, nocopy and a propagation, each at most once (Docker's ValidMountMode). */
static bool
bind_mode_valid (const char *mode, bool *readonly, bool *nocopy)
{
  static const char *const access[] = { "ro", "rw", NULL };
  static const char *const label[] = { "z", "Z", NULL };
  static const char *const propagation[] = { "private", "rprivate", "shared", "rshared", "slave", "rslave", NULL };
  int n_access = 0, n_label = 0, n_propagation = 0, n_copy = 0;
  cleanup_free char *copy = xstrdup (mode);
  char *save = NULL;
  *readonly = *nocopy = false;
  if (mode[0] == '\0')
    return false;
  for (char *tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
    {
      if (one_of (tok, access))
        n_access++, *readonly = strcmp (tok, "ro") == 0;
      else if (one_of (tok, label))
        n_label++;
      else if (one_of (tok, propagation))
        n_propagation++;
      else if (strcmp (tok, "nocopy") == 0)
        n_copy++, *nocopy = true;
      else
        return false;
    }
  return n_access <= 1 && n_label <= 1 && n_propagation <= 1 && n_copy <= 1;
}

static int
check_destination (const char *spec, const char *dst, isola_error_t *err)
{
  if (dst[0] != '/')
    return isola_error_fail (err, EINVAL, "invalid volume specification: '%s': mount path must be absolute", spec);
  cleanup_free char *norm = xstrdup (dst);
  size_t len = strlen (norm);
  while (len > 1 && norm[len - 1] == '/')
    norm[--len] = '\0';
  if (strcmp (norm, "/") == 0)
    return isola_error_fail (err, EINVAL, "invalid specification: destination can't be '/'");
  return 0;
}

int
runspec_parse_bind (const char *spec, struct runspec_mount_spec *out, isola_error_t *err)
{
  cleanup_free char *copy = xstrdup (spec);
  char *parts[4] = { NULL };
  size_t n = 0;
  for (char *p = copy, *colon; p && n < 4; p = colon ? colon + 1 : NULL)
    {
      colon = strchr (p, ':');
      if (colon)
        *colon = '\0';
      parts[n++] = p;
    }
  const char *src = NULL, *dst = NULL, *mode = NULL;
  bool readonly = false, nocopy = false;
  /* Docker's split: DST, SRC:DST or DST:MODE, SRC:DST:MODE. */
  if (n == 1)
    dst = parts[0];
  else if (n == 2 && parts[1][0] != '/' && bind_mode_valid (parts[1], &readonly, &nocopy))
    dst = parts[0], mode = parts[1];
  else if (n == 2)
    src = parts[0], dst = parts[1];
  else if (n == 3)
    src = parts[0], dst = parts[1], mode = parts[2];
  else
    return isola_error_fail (err, EINVAL, "invalid volume specification: '%s'", spec);
  if (src && src[0] == '\0')
    return isola_error_fail (err, EINVAL, "invalid volume specification: '%s'", spec);
  if (mode && !bind_mode_valid (mode, &readonly, &nocopy))
    return isola_error_fail (err, EINVAL, "invalid volume specification: '%s': invalid mode: %s", spec, mode);
  int ret = check_destination (spec, dst, err);
  if (ret < 0)
    return ret;
  bool bind = src && src[0] == '/';
  if (bind && nocopy)
    return isola_error_fail (err, EINVAL, "invalid volume specification: '%s': invalid mode: %s", spec, mode);
  if (src && !bind && !runspec_volume_name_valid (src))
    return isola_error_fail (err, EINVAL,
                             "create %s: \"%s\" includes invalid characters for a local volume name, only "
                             "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
                             "use absolute path",
                             src, src);
  memset (out, 0, sizeof (*out));
  out->type = bind ? RUNSPEC_MOUNT_BIND : RUNSPEC_MOUNT_VOLUME;
  out->source = src ? xstrdup (src) : NULL;
  out->destination = xstrdup (dst);
  out->mode = mode ? xstrdup (mode) : NULL;
  out->readonly = readonly;
  out->nocopy = nocopy;
  return 0;
}

static int
mount_error (isola_error_t *err, const char *type, const char *what)
{
  return isola_error_fail (err, EINVAL, "invalid mount config for type \"%s\": %s", type, what);
}

int
runspec_parse_mount (json_t *m, struct runspec_mount_spec *out, isola_error_t *err)
{
  const char *type = json_string_value (json_object_get (m, "Type"));
  const char *src = json_string_value (json_object_get (m, "Source"));
  const char *dst = json_string_value (json_object_get (m, "Target"));
  if (!json_is_object (m) || type == NULL)
    return isola_error_fail (err, EINVAL, "invalid mount config: a mount needs a Type");
  struct runspec_mount_spec r = { .readonly = json_is_true (json_object_get (m, "ReadOnly")) };
  if (strcmp (type, "bind") == 0)
    r.type = RUNSPEC_MOUNT_BIND;
  else if (strcmp (type, "volume") == 0)
    r.type = RUNSPEC_MOUNT_VOLUME;
  else if (strcmp (type, "tmpfs") == 0)
    r.type = RUNSPEC_MOUNT_TMPFS;
  else
    return isola_error_fail (err, EINVAL, "invalid mount config: mount type unknown: \"%s\"", type);
  if (dst == NULL || dst[0] == '\0')
    return mount_error (err, type, "field Target must not be empty");
  if (dst[0] != '/')
    return isola_error_fail (err, EINVAL,
                             "invalid mount config for type \"%s\": invalid mount path: '%s' mount path "
                             "must be absolute",
                             type, dst);
  int ret = check_destination (dst, dst, err);
  if (ret < 0)
    return ret;
  if (src && src[0] == '\0')
    src = NULL;
  json_t *vopts = json_object_get (m, "VolumeOptions"), *topts = json_object_get (m, "TmpfsOptions");
  switch (r.type)
    {
    case RUNSPEC_MOUNT_BIND:
      if (src == NULL)
        return mount_error (err, type, "field Source must not be empty");
      if (src[0] != '/')
        return isola_error_fail (err, EINVAL,
                                 "invalid mount config for type \"bind\": invalid mount path: '%s' "
                                 "mount path must be absolute",
                                 src);
      if (vopts || topts)
        return mount_error (err, type, "field VolumeOptions or TmpfsOptions must not be specified");
      break;
    case RUNSPEC_MOUNT_VOLUME:
      if (src && !runspec_volume_name_valid (src))
        return isola_error_fail (err, EINVAL,
                                 "create %s: \"%s\" includes invalid characters for a local volume "
                                 "name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed",
                                 src, src);
      if (topts)
        return mount_error (err, type, "field TmpfsOptions must not be specified");
      r.nocopy = json_is_true (json_object_get (vopts, "NoCopy"));
      break;
    case RUNSPEC_MOUNT_TMPFS:
      if (src)
        return mount_error (err, type, "field Source must not be specified");
      if (vopts)
        return mount_error (err, type, "field VolumeOptions must not be specified");
      {
        json_int_t size = json_integer_value (json_object_get (topts, "SizeBytes"));
        json_t *mode_j = json_object_get (topts, "Mode");
        unsigned mode = json_is_integer (mode_j) ? (unsigned)json_integer_value (mode_j) : 01777;
        r.tmpfs_options = size > 0 ? xasprintf ("size=%lld,mode=%o", (long long)size, mode & 07777)
                                   : xasprintf ("mode=%o", mode & 07777);
      }
      break;
    }
  r.source = src ? xstrdup (src) : NULL;
  r.destination = xstrdup (dst);
  r.from_mount = true;
  *out = r;
  return 0;
}

/* --mount's value: "key=value" fields separated by commas (Docker's CSV, without quoting). */
static int
mount_flag_field (json_t *m, const char *key, const char *value, isola_error_t *err)
{
  static const char *const targets[] = { "target", "destination", "dst", NULL };
  static const char *const sources[] = { "source", "src", NULL };
  if (strcmp (key, "type") == 0 && value)
    json_object_set_new (m, "Type", json_string (value));
  else if (one_of (key, sources) && value)
    json_object_set_new (m, "Source", json_string (value));
  else if (one_of (key, targets) && value)
    json_object_set_new (m, "Target", json_string (value));
  else if (strcmp (key, "readonly") == 0 || strcmp (key, "ro") == 0)
    {
      if (value && strcmp (value, "true") != 0 && strcmp (value, "1") != 0 && strcmp (value, "false") != 0
          && strcmp (value, "0") != 0)
        return isola_error_fail (err, EINVAL, "invalid value for %s: %s", key, value);
      json_object_set_new (m, "ReadOnly", json_boolean (!value || value[0] == 't' || value[0] == '1'));
    }
  else if (strcmp (key, "volume-nocopy") == 0)
    {
      if (value && strcmp (value, "true") != 0 && strcmp (value, "1") != 0 && strcmp (value, "false") != 0
          && strcmp (value, "0") != 0)
        return isola_error_fail (err, EINVAL, "invalid value for volume-nocopy: %s", value);
      bool nocopy = !value || value[0] == 't' || value[0] == '1';
      json_t *vo = json_object_get (m, "VolumeOptions");
      if (vo == NULL)
        json_object_set_new (m, "VolumeOptions", vo = json_object ());
      json_object_set_new (vo, "NoCopy", json_boolean (nocopy));
    }
  else if (strcmp (key, "tmpfs-size") == 0 && value)
    {
      int64_t bytes = parse_memory_bytes (value);
      if (bytes <= 0)
        return isola_error_fail (err, EINVAL, "invalid value for tmpfs-size: %s", value);
      json_t *to = json_object_get (m, "TmpfsOptions");
      if (to == NULL)
        json_object_set_new (m, "TmpfsOptions", to = json_object ());
      json_object_set_new (to, "SizeBytes", json_integer (bytes));
    }
  else if (strcmp (key, "tmpfs-mode") == 0 && value)
    {
      char *end;
      errno = 0;
      unsigned long mode = strtoul (value, &end, 8);
      if (errno || *end || end == value || mode > 07777)
        return isola_error_fail (err, EINVAL, "invalid value for tmpfs-mode: %s", value);
      json_t *to = json_object_get (m, "TmpfsOptions");
      if (to == NULL)
        json_object_set_new (m, "TmpfsOptions", to = json_object ());
      json_object_set_new (to, "Mode", json_integer ((json_int_t)mode));
    }
  else if (strcmp (key, "bind-propagation") == 0 && value)
    json_object_set_new (m, "BindOptions", json_pack ("{s:s}", "Propagation", value));
  else if (strcmp (key, "volume-driver") == 0 && value)
    {
      if (strcmp (value, "local") != 0)
        return isola_error_fail (err, EINVAL, "volume driver \"%s\" is not supported: only \"local\" is", value);
    }
  else if (strcmp (key, "volume-opt") == 0 || strcmp (key, "volume-label") == 0)
    return isola_error_fail (err, EINVAL, "%s is not supported: create the volume first (isola volume create)", key);
  else if (value == NULL)
    return isola_error_fail (err, EINVAL, "invalid field '%s' must be a key=value pair", key);
  else
    return isola_error_fail (err, EINVAL, "unexpected key '%s' in '%s=%s'", key, key, value);
  return 0;
}

int
runspec_mount_flag_json (const char *flag, json_t **out, isola_error_t *err)
{
  cleanup_json json_t *m = json_pack ("{s:s}", "Type", "volume");
  cleanup_free char *copy = xstrdup (flag);
  char *save = NULL;
  for (char *field = strtok_r (copy, ",", &save); field; field = strtok_r (NULL, ",", &save))
    {
      char *value = strchr (field, '=');
      if (value)
        *value++ = '\0';
      int ret = mount_flag_field (m, field, value, err);
      if (ret < 0)
        return ret;
    }
  const char *type = json_string_value (json_object_get (m, "Type"));
  if (json_object_get (m, "Target") == NULL)
    return isola_error_fail (err, EINVAL, "target is required");
  if (strcmp (type, "volume") != 0 && json_object_get (m, "VolumeOptions"))
    return isola_error_fail (err, EINVAL, "cannot mix 'volume-*' options with mount type '%s'", type);
  if (strcmp (type, "tmpfs") != 0 && json_object_get (m, "TmpfsOptions"))
    return isola_error_fail (err, EINVAL, "cannot mix 'tmpfs-*' options with mount type '%s'", type);
  if (strcmp (type, "bind") != 0 && json_object_get (m, "BindOptions"))
    return isola_error_fail (err, EINVAL, "cannot mix 'bind-*' options with mount type '%s'", type);
  *out = json_incref (m);
  return 0;
}

/* --- mounts at start ------------------------------------------------------------------------------------------ */

static void
add_bind (struct runspec_mounts *m, const char *src, const char *dst, bool readonly)
{
  struct spawn_mount *sm = mounts_add (m);
  sm->source = xstrdup (src);
  sm->destination = xstrdup (dst);
  sm->readonly = readonly;
}

static void
add_tmpfs (struct runspec_mounts *m, const char *dst, const char *opts, bool readonly)
{
  struct spawn_mount *sm = mounts_add (m);
  sm->destination = xstrdup (dst);
  sm->tmpfs_options = xstrdup (opts && opts[0] ? opts : "mode=1777");
  sm->readonly = readonly;
}

static int
check_bind_source (const char *spec, const char *src, isola_error_t *err)
{
  struct stat st;
  if (stat (src, &st) < 0)
    return isola_error_make (err, errno, "invalid volume specification: '%s': bind source path does not exist", spec);
  return 0;
}

/* Binds and HostConfig.Mounts are parsed for their errors; volumes are left to container/mounts.h, which makes
   them and records where they are. */
int
runspec_mounts_parse (json_t *host_config, struct runspec_mounts *out, isola_error_t *err)
{
  struct runspec_mounts m = { 0 };
  size_t i;
  json_t *v;
  const char *key;
  int ret = 0;
  json_array_foreach (json_object_get (host_config, "Binds"), i, v)
  {
    struct runspec_mount_spec ms = { 0 };
    if (!json_is_string (v))
      ret = isola_error_fail (err, EINVAL, "invalid request: HostConfig.Binds must be a list of strings");
    else if ((ret = runspec_parse_bind (json_string_value (v), &ms, err)) == 0 && ms.type == RUNSPEC_MOUNT_BIND
             && (ret = check_bind_source (json_string_value (v), ms.source, err)) == 0)
      add_bind (&m, ms.source, ms.destination, ms.readonly);
    runspec_mount_spec_clear (&ms);
    if (ret < 0)
      goto fail;
  }
  json_array_foreach (json_object_get (host_config, "Mounts"), i, v)
  {
    struct runspec_mount_spec ms = { 0 };
    ret = runspec_parse_mount (v, &ms, err);
    if (ret == 0 && ms.type == RUNSPEC_MOUNT_BIND)
      {
        struct stat st;
        if (stat (ms.source, &st) < 0)
          ret = isola_error_fail (
              err, EINVAL, "invalid mount config for type \"bind\": bind source path does not exist: %s", ms.source);
        else
          add_bind (&m, ms.source, ms.destination, ms.readonly);
      }
    else if (ret == 0 && ms.type == RUNSPEC_MOUNT_TMPFS)
      add_tmpfs (&m, ms.destination, ms.tmpfs_options, ms.readonly);
    runspec_mount_spec_clear (&ms);
    if (ret < 0)
      goto fail;
  }
  json_object_foreach (json_object_get (host_config, "Tmpfs"), key, v)
  {
    if (key[0] != '/')
      {
        ret = isola_error_fail (err, EINVAL, "invalid tmpfs mount '%s': mount path must be absolute", key);
        goto fail;
      }
    add_tmpfs (&m, key, json_string_value (v), false);
  }
  *out = m;
  return 0;
fail:
  runspec_mounts_clear (&m);
  return ret;
}

/* The record (container/mounts.h) is what the container mounts, in order: binds and volumes from their host
   directories, tmpfs mounts with their options in Mode.  A container made before mounts were recorded has only
   its HostConfig. */
int
runspec_container_mounts (const struct container *c, struct runspec_mounts *out, isola_error_t *err)
{
  json_t *record = container_mounts (c);
  if (record == NULL)
    return runspec_mounts_parse (container_host_config (c), out, err);
  struct runspec_mounts m = { 0 };
  size_t i;
  json_t *v;
  json_array_foreach (record, i, v)
  {
    const char *type = json_string_value (json_object_get (v, "Type"));
    const char *src = json_string_value (json_object_get (v, "Source"));
    const char *dst = json_string_value (json_object_get (v, "Destination"));
    bool readonly = !json_is_true (json_object_get (v, "RW"));
    if (type == NULL || dst == NULL)
      continue;
    if (strcmp (type, "tmpfs") == 0)
      add_tmpfs (&m, dst, json_string_value (json_object_get (v, "Mode")), readonly);
    else if (src && src[0])
      add_bind (&m, src, dst, readonly);
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
