/* config.json (runtime-spec 1.0/1.1) → the process sandbox's spawn_spec, for isola-runtime. */
#define _GNU_SOURCE
#include "runtime/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "sandbox/caps.h"
#include "sandbox/devices.h"
#include "sandbox/netns.h"
#include "sandbox/seccomp_profile.h"

enum
{
  NS_IPC,
  NS_PID,
  NS_UTS,
  NS_NET,
};

void
oci_launch_init (struct oci_launch *l)
{
  memset (l, 0, sizeof *l);
  for (size_t i = 0; i < ARRAY_SIZE (l->ns_fds); i++)
    l->ns_fds[i] = -1;
  l->userns_fd = -1;
}

void
oci_process_clear (struct oci_process *p)
{
  strv_free (p->argv), strv_free (p->env), strv_free (p->groups);
  free (p->cwd), free (p->user), free (p->rlimits);
  memset (p, 0, sizeof *p);
}

void
oci_launch_clear (struct oci_launch *l)
{
  json_decref (l->config);
  free (l->root_dir);
  oci_process_clear (&l->process);
  for (size_t i = 0; i < l->n_mounts; i++)
    {
      free ((char *)l->mounts[i].source), free ((char *)l->mounts[i].destination);
      free ((char *)l->mounts[i].tmpfs_options);
    }
  free (l->mounts);
  for (size_t i = 0; i < l->n_devices; i++)
    free (l->devices[i].path), free (l->devices[i].host_path);
  free (l->devices);
  strv_free (l->sysctls), strv_free (l->masked), strv_free (l->readonly), strv_free (l->warnings);
  free (l->uid_map), free (l->gid_map);
  for (size_t i = 0; i < ARRAY_SIZE (l->ns_fds); i++)
    if (l->ns_fds[i] >= 0)
      close (l->ns_fds[i]);
  if (l->userns_fd >= 0)
    close (l->userns_fd);
  seccomp_program_free (l->seccomp);
  free (l->cgroups_path);
  oci_launch_init (l);
}

static void
warn (struct oci_launch *l, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) >= 0)
    {
      strv_push (&l->warnings, msg);
      free (msg);
    }
  va_end (ap);
}

/* A JSON array of strings as a NULL-terminated vector; EINVAL naming the field otherwise. */
static int
string_array (json_t *a, const char *field, char ***out, isola_error_t *err)
{
  *out = NULL;
  if (a == NULL || json_is_null (a))
    return 0;
  if (!json_is_array (a))
    return isola_error_fail (err, EINVAL, "config.json: %s: not an array of strings", field);
  char **v = xcalloc (json_array_size (a) + 1, sizeof (char *));
  size_t i;
  json_t *s;
  json_array_foreach (a, i, s)
  {
    if (!json_is_string (s))
      {
        strv_free (v);
        return isola_error_fail (err, EINVAL, "config.json: %s[%zu]: not a string", field, i);
      }
    v[i] = xstrdup (json_string_value (s));
  }
  *out = v;
  return 0;
}

/* --- process ---------------------------------------------------------------------------------------------------- */

static const struct
{
  const char *name;
  int resource;
} rlimit_names[] = {
  { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_CORE", RLIMIT_CORE },
  { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA },
  { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", RLIMIT_NPROC },
  { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

static int
parse_rlimits (json_t *a, struct oci_process *p, isola_error_t *err)
{
  if (a == NULL)
    return 0;
  if (!json_is_array (a))
    return isola_error_fail (err, EINVAL, "config.json: process.rlimits: not an array");
  p->rlimits = xcalloc (json_array_size (a) + 1, sizeof *p->rlimits);
  size_t i;
  json_t *r;
  json_array_foreach (a, i, r)
  {
    const char *type = json_string_value (json_object_get (r, "type"));
    int res = -1;
    for (size_t k = 0; type && k < ARRAY_SIZE (rlimit_names); k++)
      if (strcmp (type, rlimit_names[k].name) == 0)
        res = rlimit_names[k].resource;
    if (res < 0)
      return isola_error_fail (err, EINVAL, "config.json: process.rlimits[%zu]: unknown rlimit type \"%s\"", i,
                               type ? type : "");
    p->rlimits[p->n_rlimits++] = (struct spawn_rlimit){ .resource = res,
                                                        .soft = json_integer_value (json_object_get (r, "soft")),
                                                        .hard = json_integer_value (json_object_get (r, "hard")) };
  }
  return 0;
}

/* The bounding set is what the sandbox keeps (spawn.h: root also gets it as permitted and effective). */
static int
parse_caps (json_t *caps, uint64_t *out, isola_error_t *err)
{
  *out = 0;
  json_t *bounding = json_object_get (caps, "bounding");
  if (bounding == NULL)
    bounding = json_object_get (caps, "permitted");
  size_t i;
  json_t *c;
  json_array_foreach (bounding, i, c)
  {
    const char *name = json_string_value (c);
    int cap = name ? cap_from_name (name) : -1;
    if (cap < 0)
      return isola_error_fail (err, EINVAL, "config.json: process.capabilities: unknown capability \"%s\"",
                               name ? name : "");
    if (cap <= cap_last ())
      *out |= UINT64_C (1) << cap;
  }
  return 0;
}

int
oci_process_parse (json_t *process, struct oci_process *p, isola_error_t *err)
{
  memset (p, 0, sizeof *p);
  if (!json_is_object (process))
    return isola_error_fail (err, EINVAL, "config.json: process: missing or not an object");
  int ret = string_array (json_object_get (process, "args"), "process.args", &p->argv, err);
  if (ret == 0 && (p->argv == NULL || p->argv[0] == NULL))
    ret = isola_error_fail (err, EINVAL, "args must not be empty");
  if (ret == 0)
    ret = string_array (json_object_get (process, "env"), "process.env", &p->env, err);
  if (ret < 0)
    return ret;
  if (p->env == NULL)
    p->env = xcalloc (1, sizeof (char *));
  const char *cwd = json_string_value (json_object_get (process, "cwd"));
  if (cwd == NULL || cwd[0] != '/')
    return isola_error_fail (err, EINVAL, "cwd property must not be empty and must be an absolute path");
  p->cwd = xstrdup (cwd);
  json_t *user = json_object_get (process, "user");
  if (json_object_get (user, "username"))
    return isola_error_fail (err, ENOTSUP, "config.json: process.user.username is for Windows");
  p->user = xasprintf ("%lld:%lld", json_integer_value (json_object_get (user, "uid")),
                       json_integer_value (json_object_get (user, "gid")));
  size_t i;
  json_t *g;
  json_array_foreach (json_object_get (user, "additionalGids"), i, g)
  {
    cleanup_free char *s = xasprintf ("%lld", json_integer_value (g));
    strv_push (&p->groups, s);
  }
  p->terminal = json_is_true (json_object_get (process, "terminal"));
  p->no_new_privileges = json_is_true (json_object_get (process, "noNewPrivileges"));
  json_t *oom = json_object_get (process, "oomScoreAdj");
  if (json_is_integer (oom))
    p->has_oom_score_adj = true, p->oom_score_adj = (int)json_integer_value (oom);
  if ((ret = parse_caps (json_object_get (process, "capabilities"), &p->caps, err)) < 0)
    return ret;
  return parse_rlimits (json_object_get (process, "rlimits"), p, err);
}

/* --- mounts ----------------------------------------------------------------------------------------------------- */

/* The sandbox makes these itself (spawn.c: /proc, a tmpfs /dev with its nodes, devpts, mqueue, /dev/shm, sysfs and
   the container's cgroups), the way the spec's default list asks for them. */
static bool
made_by_sandbox (const char *dest, const char *type)
{
  static const struct
  {
    const char *dest, *type;
  } own[] = {
    { "/proc", "proc" },     { "/dev", "tmpfs" }, { "/dev/pts", "devpts" },       { "/dev/mqueue", "mqueue" },
    { "/dev/shm", "tmpfs" }, { "/sys", "sysfs" }, { "/sys/fs/cgroup", "cgroup" }, { "/sys/fs/cgroup", "cgroup2" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (own); i++)
    if (strcmp (dest, own[i].dest) == 0 && type && strcmp (type, own[i].type) == 0)
      return true;
  return false;
}

static bool
has_option (char *const *options, const char *name)
{
  return strv_contains (options, name);
}

/* tmpfs options as the sandbox takes them ("size=…,mode=…,nosuid"), without ro (a flag of its own). */
static char *
tmpfs_options (char *const *options)
{
  char *out = xstrdup ("");
  for (size_t i = 0; options && options[i]; i++)
    {
      if (strcmp (options[i], "ro") == 0 || strcmp (options[i], "rw") == 0)
        continue;
      char *next = xasprintf ("%s%s%s", out, out[0] ? "," : "", options[i]);
      free (out);
      out = next;
    }
  return out;
}

static int64_t
shm_size_of (char *const *options)
{
  for (size_t i = 0; options && options[i]; i++)
    if (str_has_prefix (options[i], "size="))
      {
        int64_t n = parse_memory_bytes (options[i] + 5);
        return n > 0 ? n : 0;
      }
  return 0;
}

static int
parse_mount (json_t *m, size_t i, const char *bundle, struct oci_launch *l, isola_error_t *err)
{
  const char *dest = json_string_value (json_object_get (m, "destination"));
  const char *type = json_string_value (json_object_get (m, "type"));
  const char *source = json_string_value (json_object_get (m, "source"));
  if (dest == NULL || dest[0] != '/')
    return isola_error_fail (err, EINVAL, "config.json: mounts[%zu]: destination must be an absolute path", i);
  cleanup_strv char **options = NULL;
  int ret = string_array (json_object_get (m, "options"), "mounts[].options", &options, err);
  if (ret < 0)
    return ret;
  if (made_by_sandbox (dest, type))
    {
      if (strcmp (dest, "/dev/shm") == 0)
        l->spec.shm_size = shm_size_of (options);
      return 0;
    }
  bool bind = (type && strcmp (type, "bind") == 0) || has_option (options, "bind") || has_option (options, "rbind");
  struct spawn_mount sm = { .destination = xstrdup (dest), .readonly = has_option (options, "ro") };
  if (bind)
    {
      if (source == NULL || source[0] == '\0')
        {
          free ((char *)sm.destination);
          return isola_error_fail (err, EINVAL, "config.json: mounts[%zu]: a bind mount needs a source", i);
        }
      sm.source = source[0] == '/' ? xstrdup (source) : xasprintf ("%s/%s", bundle, source);
    }
  else if (type && strcmp (type, "tmpfs") == 0)
    sm.tmpfs_options = tmpfs_options (options);
  else
    {
      warn (l, "mount of type \"%s\" on %s is not supported by isola-runtime: skipped", type ? type : "", dest);
      free ((char *)sm.destination);
      return 0;
    }
  l->mounts = xrealloc (l->mounts, (l->n_mounts + 1) * sizeof *l->mounts);
  l->mounts[l->n_mounts++] = sm;
  return 0;
}

static int
parse_mounts (json_t *mounts, const char *bundle, struct oci_launch *l, isola_error_t *err)
{
  size_t i;
  json_t *m;
  json_array_foreach (mounts, i, m)
  {
    int ret = parse_mount (m, i, bundle, l, err);
    if (ret < 0)
      return ret;
  }
  return 0;
}

/* --- namespaces ------------------------------------------------------------------------------------------------- */

static int
open_ns_path (const char *path, const char *type, int clone_type, int *fd_out, isola_error_t *err)
{
  int ret = ns_open_path (path, clone_type, fd_out);
  if (ret == -EINVAL)
    return isola_error_fail (err, EINVAL, "config.json: namespace %s: `%s` is not a namespace of type %s", type, path,
                             type);
  if (ret < 0)
    return isola_error_fail (err, -ret, "config.json: namespace %s: open `%s`: %s", type, path, strerror (-ret));
  return 0;
}

static bool
is_own_namespace (int fd, const char *name)
{
  cleanup_free char *path = xasprintf ("/proc/self/ns/%s", name);
  struct stat a, b;
  return fstat (fd, &a) == 0 && stat (path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Those the spec does not list are the host's (the runtime's own); a private one is new, one with a path joined. */
static int
parse_namespaces (json_t *list, struct oci_launch *l, isola_error_t *err)
{
  struct spawn_spec *sp = &l->spec;
  sp->ipc.mode = sp->pid.mode = sp->uts.mode = sp->cgroupns.mode = SPAWN_NS_HOST;
  sp->host_network = true;
  bool mount = false;
  size_t i;
  json_t *ns;
  json_array_foreach (list, i, ns)
  {
    const char *type = json_string_value (json_object_get (ns, "type"));
    const char *path = json_string_value (json_object_get (ns, "path"));
    if (path && path[0] == '\0')
      path = NULL;
    if (type == NULL)
      return isola_error_fail (err, EINVAL, "config.json: linux.namespaces[%zu]: no type", i);
    struct spawn_ns *target = NULL;
    int slot = -1, clone_type = 0;
    if (strcmp (type, "pid") == 0)
      target = &sp->pid, slot = NS_PID, clone_type = CLONE_NEWPID;
    else if (strcmp (type, "ipc") == 0)
      target = &sp->ipc, slot = NS_IPC, clone_type = CLONE_NEWIPC;
    else if (strcmp (type, "uts") == 0)
      target = &sp->uts, slot = NS_UTS, clone_type = CLONE_NEWUTS;
    else if (strcmp (type, "cgroup") == 0)
      {
        if (path)
          return isola_error_fail (err, ENOTSUP, "config.json: joining a cgroup namespace by path is not supported");
        sp->cgroupns.mode = SPAWN_NS_PRIVATE;
        continue;
      }
    else if (strcmp (type, "mount") == 0)
      {
        if (path)
          return isola_error_fail (err, ENOTSUP, "config.json: joining a mount namespace by path is not supported");
        mount = true;
        continue;
      }
    else if (strcmp (type, "network") == 0)
      {
        sp->host_network = false;
        if (path)
          {
            int ret = open_ns_path (path, type, CLONE_NEWNET, &l->ns_fds[NS_NET], err);
            if (ret < 0)
              return ret;
            sp->netns_fd = l->ns_fds[NS_NET];
          }
        continue;
      }
    else if (strcmp (type, "user") == 0)
      {
        if (path)
          {
            int ret = open_ns_path (path, type, CLONE_NEWUSER, &l->userns_fd, err);
            if (ret < 0)
              return ret;
            /* setns refuses one's own user namespace (EINVAL): a spec that names it means the host's. */
            if (is_own_namespace (l->userns_fd, "user"))
              return isola_error_fail (err, EINVAL,
                                       "config.json: namespace user: `%s` is the runtime's own user namespace "
                                       "(leave \"user\" out of linux.namespaces for it)",
                                       path);
            sp->userns_fd = l->userns_fd;
          }
        else
          l->userns = true;
        continue;
      }
    else if (strcmp (type, "time") == 0)
      return isola_error_fail (err, ENOTSUP, "config.json: time namespaces are not supported by isola-runtime");
    else
      return isola_error_fail (err, EINVAL, "config.json: linux.namespaces[%zu]: unknown type \"%s\"", i, type);
    if (path)
      {
        int ret = open_ns_path (path, type, clone_type, &l->ns_fds[slot], err);
        if (ret < 0)
          return ret;
        target->mode = SPAWN_NS_JOIN, target->fd = l->ns_fds[slot];
      }
    else
      target->mode = SPAWN_NS_PRIVATE;
  }
  if (!mount)
    return isola_error_fail (err, ENOTSUP, "config.json: a container needs a mount namespace of its own");
  /* The new user namespace's root has no rights over namespaces of the host's user namespace (setns: EPERM): a
     container that shares namespaces with another shares its user namespace too, by path (spawn.h's userns_fd). */
  for (size_t k = 0; l->userns && k < ARRAY_SIZE (l->ns_fds); k++)
    if (l->ns_fds[k] >= 0)
      return isola_error_fail (err, ENOTSUP,
                               "config.json: a user namespace of its own cannot join other namespaces by path");
  return 0;
}

/* --- resources and devices -------------------------------------------------------------------------------------- */

static int64_t
int_of (json_t *obj, const char *key)
{
  return json_integer_value (json_object_get (obj, key));
}

void
oci_limits_from_resources (json_t *res, struct cgroup_limits *c)
{
  memset (c, 0, sizeof *c);
  json_t *mem = json_object_get (res, "memory");
  c->memory = int_of (mem, "limit") > 0 ? int_of (mem, "limit") : 0;
  c->memory_reservation = int_of (mem, "reservation") > 0 ? int_of (mem, "reservation") : 0;
  /* The spec's swap is memory + swap, as Docker's MemorySwap; without one runc leaves it unset, which Docker's
     0 would make twice the memory: say unlimited. */
  json_t *swap = json_object_get (mem, "swap");
  c->memory_swap = json_is_integer (swap) ? json_integer_value (swap) : (c->memory ? -1 : 0);
  c->oom_kill_disable = json_is_true (json_object_get (mem, "disableOOMKiller"));
  json_t *cpu = json_object_get (res, "cpu");
  c->cpu_shares = int_of (cpu, "shares");
  int64_t quota = int_of (cpu, "quota"), period = int_of (cpu, "period");
  if (quota > 0)
    c->nano_cpus = quota * 1000000000 / (period > 0 ? period : 100000);
  c->cpuset_cpus = json_string_value (json_object_get (cpu, "cpus"));
  c->cpuset_mems = json_string_value (json_object_get (cpu, "mems"));
  c->pids = int_of (json_object_get (res, "pids"), "limit");
  if (c->pids < 0)
    c->pids = 0;
}

static void
parse_resources (json_t *res, struct oci_launch *l)
{
  oci_limits_from_resources (res, &l->limits);
  static const char *const ignored[] = { "blockIO", "hugepageLimits", "network", "rdma", "unified" };
  for (size_t i = 0; i < ARRAY_SIZE (ignored); i++)
    {
      json_t *v = json_object_get (res, ignored[i]);
      if (v && !json_is_null (v) && json_object_size (v) + json_array_size (v) > 0)
        warn (l, "linux.resources.%s is not supported by isola-runtime: ignored", ignored[i]);
    }
}

/* The device cgroup: the sandbox's default rules (runc's allow list) plus the spec's devices, unless a rule allows
   every device (a privileged container's "allow all"). */
static void
parse_device_rules (json_t *rules, struct oci_launch *l)
{
  size_t i;
  json_t *r;
  json_array_foreach (rules, i, r)
  {
    const char *type = json_string_value (json_object_get (r, "type"));
    const char *access = json_string_value (json_object_get (r, "access"));
    bool every = (type == NULL || strcmp (type, "a") == 0) && json_object_get (r, "major") == NULL
                 && json_object_get (r, "minor") == NULL;
    if (every)
      l->spec.all_devices
          = json_is_true (json_object_get (r, "allow")) && (access == NULL || strcmp (access, "rwm") == 0);
  }
}

static int
parse_devices (json_t *devices, struct oci_launch *l, isola_error_t *err)
{
  size_t n = json_array_size (devices);
  l->devices = xcalloc (n + 1, sizeof *l->devices);
  size_t i;
  json_t *d;
  json_array_foreach (devices, i, d)
  {
    const char *path = json_string_value (json_object_get (d, "path"));
    const char *type = json_string_value (json_object_get (d, "type"));
    if (path == NULL || path[0] != '/' || type == NULL)
      return isola_error_fail (err, EINVAL, "config.json: linux.devices[%zu]: needs an absolute path and a type", i);
    mode_t kind;
    if (strcmp (type, "c") == 0 || strcmp (type, "u") == 0)
      kind = S_IFCHR;
    else if (strcmp (type, "b") == 0)
      kind = S_IFBLK;
    else
      return isola_error_fail (err, ENOTSUP, "config.json: linux.devices[%zu]: type \"%s\" is not supported", i, type);
    json_t *mode = json_object_get (d, "fileMode");
    l->devices[l->n_devices++] = (struct spawn_device){
      .path = xstrdup (path),
      .host_path = xstrdup (path),
      .mode = kind | (json_is_integer (mode) ? (mode_t)json_integer_value (mode) & 07777 : 0666),
      .rdev = makedev ((unsigned)int_of (d, "major"), (unsigned)int_of (d, "minor")),
      .uid = (uid_t)int_of (d, "uid"),
      .gid = (gid_t)int_of (d, "gid"),
    };
  }
  return 0;
}

static int
parse_sysctls (json_t *sysctl, struct oci_launch *l)
{
  const char *key;
  json_t *v;
  json_object_foreach (sysctl, key, v)
  {
    cleanup_free char *kv = xasprintf ("%s=%s", key, json_string_value (v) ? json_string_value (v) : "");
    strv_push (&l->sysctls, kv);
  }
  return 0;
}

int
oci_seccomp_compile (json_t *seccomp, uint64_t caps, struct seccomp_program **out, isola_error_t *err)
{
  *out = NULL;
  if (seccomp == NULL || json_is_null (seccomp))
    return 0;
  if (json_object_get (seccomp, "listenerPath"))
    return isola_error_fail (err, ENOTSUP, "config.json: linux.seccomp.listenerPath is not supported");
  cleanup_free char *text = json_dumps (seccomp, JSON_COMPACT);
  scmp_filter_ctx filter = NULL;
  int ret = seccomp_profile_parse (text, strlen (text), caps, &filter, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "config.json: linux.seccomp");
  if (filter == NULL)
    return 0;
  ret = seccomp_compile (filter, out, err);
  seccomp_profile_release (filter);
  return ret;
}

/* Fields that only label or tune, which runc also skips where the host lacks them. */
static void
warn_ignored (json_t *config, struct oci_launch *l)
{
  json_t *process = json_object_get (config, "process");
  json_t *linux_ = json_object_get (config, "linux");
  static const char *const process_fields[]
      = { "apparmorProfile", "selinuxLabel", "ioPriority", "scheduler", "execCPUAffinity" };
  for (size_t i = 0; i < ARRAY_SIZE (process_fields); i++)
    {
      json_t *v = json_object_get (process, process_fields[i]);
      if (v && !(json_is_string (v) && json_string_length (v) == 0))
        warn (l, "process.%s is not supported on this host: ignored", process_fields[i]);
    }
  static const char *const linux_fields[] = { "mountLabel", "intelRdt", "personality", "timeOffsets" };
  for (size_t i = 0; i < ARRAY_SIZE (linux_fields); i++)
    {
      json_t *v = json_object_get (linux_, linux_fields[i]);
      if (v && !(json_is_string (v) && json_string_length (v) == 0))
        warn (l, "linux.%s is not supported on this host: ignored", linux_fields[i]);
    }
  const char *prop = json_string_value (json_object_get (linux_, "rootfsPropagation"));
  if (prop && prop[0] && strcmp (prop, "rslave") != 0 && strcmp (prop, "slave") != 0 && strcmp (prop, "private") != 0
      && strcmp (prop, "rprivate") != 0)
    warn (l, "linux.rootfsPropagation \"%s\": the container's mounts are always slaves of the host's", prop);
}

/* linux.uidMappings or gidMappings as /proc/PID/uid_map's lines ("containerID hostID size"). */
static int
parse_id_mappings (json_t *list, const char *field, char **out, isola_error_t *err)
{
  if (json_array_size (list) == 0)
    return isola_error_fail (err, EINVAL, "config.json: a user namespace needs linux.%s", field);
  cleanup_free char *text = xstrdup ("");
  size_t i;
  json_t *m;
  json_array_foreach (list, i, m)
  {
    json_t *c = json_object_get (m, "containerID"), *h = json_object_get (m, "hostID"),
           *n = json_object_get (m, "size");
    if (!json_is_integer (c) || !json_is_integer (h) || !json_is_integer (n) || json_integer_value (c) < 0
        || json_integer_value (h) < 0 || json_integer_value (n) <= 0
        || json_integer_value (c) + json_integer_value (n) > 4294967295LL
        || json_integer_value (h) + json_integer_value (n) > 4294967295LL)
      return isola_error_fail (err, EINVAL, "config.json: linux.%s[%zu]: containerID, hostID and size must be uint32s",
                               field, i);
    char *longer = xasprintf ("%s%lld %lld %lld\n", text, json_integer_value (c), json_integer_value (h),
                              json_integer_value (n));
    free (text);
    text = longer;
  }
  *out = take_ptr (&text);
  return 0;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The lines of a map, each as "inside outside count" with single spaces, sorted. */
static char **
id_map_lines (const char *map)
{
  char **lines = NULL;
  cleanup_free char *copy = xstrdup (map ? map : "");
  char *save = NULL;
  for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      unsigned long long in, out, n;
      if (sscanf (line, "%llu %llu %llu", &in, &out, &n) == 3)
        {
          char *norm = xasprintf ("%llu %llu %llu", in, out, n);
          strv_push (&lines, norm);
          free (norm);
        }
    }
  if (lines)
    qsort (lines, strv_len (lines), sizeof (char *), compare_strings);
  return lines;
}

bool
oci_id_maps_equal (const char *a, const char *b)
{
  cleanup_strv char **la = id_map_lines (a), **lb = id_map_lines (b);
  size_t n = strv_len (la);
  if (n != strv_len (lb))
    return false;
  for (size_t i = 0; i < n; i++)
    if (strcmp (la[i], lb[i]) != 0)
      return false;
  return true;
}

/* The uid_map and gid_map of the user namespace fd, as its members see them (relative to its parent, the host's
   for a pod's): read by a child that joins it, since the path need not be /proc/PID/ns/user. */
static int
read_userns_maps (int fd, char **uid_map, char **gid_map, isola_error_t *err)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  pid_t pid = fork ();
  if (pid < 0)
    {
      close (p[0]), close (p[1]);
      return isola_error_make (err, errno, "fork");
    }
  if (pid == 0)
    {
      close (p[0]);
      cleanup_free char *u = NULL, *g = NULL;
      if (setns (fd, CLONE_NEWUSER) < 0 || read_file_bounded ("/proc/self/uid_map", 65536, &u, NULL, NULL) < 0
          || read_file_bounded ("/proc/self/gid_map", 65536, &g, NULL, NULL) < 0)
        _exit (1);
      cleanup_free char *both = xasprintf ("%s%c%s", u, '\0', g);
      _exit (write_all (p[1], both, strlen (u) + 1 + strlen (g)) < 0 ? 1 : 0);
    }
  close (p[1]);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_fd_bounded (p[0], 2 * 65536 + 1, &buf, &len, NULL);
  close (p[0]);
  int status = 0;
  (void)waitpid_retry (pid, &status);
  if (ret < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0 || memchr (buf, '\0', len) == NULL)
    return isola_error_fail (err, EIO, "failed to cache mappings for userns: cannot read its uid_map and gid_map");
  size_t ulen = strlen (buf);
  *uid_map = xstrdup (buf);
  *gid_map = xasprintf ("%.*s", (int)(len - ulen - 1), buf + ulen + 1);
  return 0;
}

/* runc's rules for a user namespace given by path: its maps are its own; mappings in the spec too (containerd and
   CRI-O pass both) must be the same (a warning says to give only one), else the spec is refused. */
static int
check_joined_user_namespace (json_t *uids, json_t *gids, struct oci_launch *l, isola_error_t *err)
{
  cleanup_free char *ns_uids = NULL, *ns_gids = NULL;
  int ret = read_userns_maps (l->userns_fd, &ns_uids, &ns_gids, err);
  if (ret < 0 || (json_array_size (uids) == 0 && json_array_size (gids) == 0))
    return ret;
  cleanup_free char *spec_uids = NULL, *spec_gids = NULL;
  if (json_array_size (uids) && (ret = parse_id_mappings (uids, "uidMappings", &spec_uids, err)) < 0)
    return ret;
  if (json_array_size (gids) && (ret = parse_id_mappings (gids, "gidMappings", &spec_gids, err)) < 0)
    return ret;
  if (!oci_id_maps_equal (ns_uids, spec_uids) || !oci_id_maps_equal (ns_gids, spec_gids))
    return isola_error_fail (err, EINVAL,
                             "user namespaces enabled, but both namespace path and non-matching mapping specified -- "
                             "you may only provide one");
  warn (l, "config.json has both a userns path to join and a matching userns mapping specified -- you may only "
           "provide one");
  return 0;
}

/* runc's rule: mappings only with a user namespace, and a user namespace only with both. */
static int
parse_user_namespace (json_t *linux_, struct oci_launch *l, isola_error_t *err)
{
  json_t *uids = json_object_get (linux_, "uidMappings"), *gids = json_object_get (linux_, "gidMappings");
  if (l->userns_fd >= 0)
    return check_joined_user_namespace (uids, gids, l, err);
  if (!l->userns)
    {
      if (json_array_size (uids) || json_array_size (gids))
        return isola_error_fail (err, EINVAL, "config.json: user namespaces aren't enabled in the container");
      return 0;
    }
  int ret = parse_id_mappings (uids, "uidMappings", &l->uid_map, err);
  if (ret == 0)
    ret = parse_id_mappings (gids, "gidMappings", &l->gid_map, err);
  l->spec.uid_map = l->uid_map, l->spec.gid_map = l->gid_map;
  return ret;
}

static int
parse_root (json_t *config, const char *bundle, struct oci_launch *l, isola_error_t *err)
{
  json_t *root = json_object_get (config, "root");
  const char *path = json_string_value (json_object_get (root, "path"));
  if (path == NULL || path[0] == '\0')
    return isola_error_fail (err, EINVAL, "config.json: root.path is empty");
  cleanup_free char *joined = path[0] == '/' ? xstrdup (path) : xasprintf ("%s/%s", bundle, path);
  l->root_dir = realpath (joined, NULL);
  if (l->root_dir == NULL)
    return isola_error_make (err, errno, "rootfs (%s) does not exist", joined);
  struct stat st;
  if (stat (l->root_dir, &st) < 0 || !S_ISDIR (st.st_mode))
    return isola_error_fail (err, ENOTDIR, "rootfs (%s) is not a directory", joined);
  l->spec.root_dir = l->root_dir;
  l->spec.readonly_rootfs = json_is_true (json_object_get (root, "readonly"));
  return 0;
}

static const char *const *
paths_or_none (json_t *a, const char *field, char ***store, isola_error_t *err, int *ret)
{
  *ret = string_array (a, field, store, err);
  if (*ret < 0)
    return NULL;
  if (*store == NULL)
    *store = xcalloc (1, sizeof (char *));
  return (const char *const *)*store;
}

int
oci_launch_parse (json_t *config, const char *bundle, struct oci_launch *l, isola_error_t *err)
{
  l->config = json_incref (config);
  if (!json_is_object (config))
    return isola_error_fail (err, EINVAL, "config.json: not a JSON object");
  int ret = parse_root (config, bundle, l, err);
  if (ret == 0)
    ret = oci_process_parse (json_object_get (config, "process"), &l->process, err);
  if (ret < 0)
    return ret;
  json_t *linux_ = json_object_get (config, "linux");
  struct spawn_spec *sp = &l->spec;
  sp->argv = l->process.argv;
  sp->env = l->process.env;
  sp->cwd = l->process.cwd;
  sp->user = l->process.user;
  sp->group_add = l->process.groups;
  sp->cap_keep = l->process.caps;
  sp->no_new_privileges = l->process.no_new_privileges;
  sp->rlimits = l->process.rlimits, sp->n_rlimits = l->process.n_rlimits;
  sp->hostname = json_string_value (json_object_get (config, "hostname"));
  sp->stdin_fd = sp->stdout_fd = sp->stderr_fd = -1;
  if ((ret = parse_namespaces (json_object_get (linux_, "namespaces"), l, err)) < 0
      || (ret = parse_mounts (json_object_get (config, "mounts"), bundle, l, err)) < 0
      || (ret = parse_devices (json_object_get (linux_, "devices"), l, err)) < 0
      || (ret = parse_sysctls (json_object_get (linux_, "sysctl"), l)) < 0
      || (ret = parse_user_namespace (linux_, l, err)) < 0)
    return ret;
  sp->mounts = l->mounts, sp->n_mounts = l->n_mounts;
  sp->devices = l->devices, sp->n_devices = l->n_devices;
  sp->sysctls = l->sysctls;
  json_t *res = json_object_get (linux_, "resources");
  parse_resources (res, l);
  parse_device_rules (json_object_get (res, "devices"), l);
  sp->masked_paths
      = paths_or_none (json_object_get (linux_, "maskedPaths"), "linux.maskedPaths", &l->masked, err, &ret);
  if (ret == 0)
    sp->readonly_paths
        = paths_or_none (json_object_get (linux_, "readonlyPaths"), "linux.readonlyPaths", &l->readonly, err, &ret);
  if (ret == 0)
    ret = oci_seccomp_compile (json_object_get (linux_, "seccomp"), l->process.caps, &l->seccomp, err);
  if (ret < 0)
    return ret;
  sp->seccomp = l->seccomp;
  const char *cg = json_string_value (json_object_get (linux_, "cgroupsPath"));
  l->cgroups_path = cg ? xstrdup (cg) : NULL;
  warn_ignored (config, l);
  return 0;
}

int
oci_launch_load (const char *bundle, struct oci_launch *l, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/config.json", bundle);
  json_error_t jerr;
  cleanup_json json_t *config = json_load_file (path, 0, &jerr);
  if (config == NULL)
    {
      if (access (path, F_OK) < 0)
        return isola_error_make (err, errno, "open %s", path);
      return isola_error_fail (err, EINVAL, "JSON specification file %s: %s", path, jerr.text);
    }
  return oci_launch_parse (config, bundle, l, err);
}

/* --- hooks ------------------------------------------------------------------------------------------------------ */

/* In a hook's process before its exec: the namespaces of the process pid (the container's first), the mount
   namespace last, whose root becomes ours.  The hook's executable was opened before, in the runtime's. */
static void
enter_namespaces_of (pid_t pid)
{
  static const char *const kinds[] = { "ipc", "uts", "net", "pid", "cgroup", "mnt" };
  for (size_t k = 0; k < ARRAY_SIZE (kinds); k++)
    {
      char path[64];
      snprintf (path, sizeof path, "/proc/%d/ns/%s", (int)pid, kinds[k]);
      int fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns (fd, 0) < 0)
        _exit (126);
      close (fd);
    }
  if (chdir ("/") < 0)
    _exit (126);
}

/* A hook need not read its stdin (/bin/false does not): writing the state to a pipe it has closed must not kill
   the runtime with SIGPIPE (the caller's disposition stays as it is, for what it starts later).  runc ignores that
   EPIPE too. */
static void
write_ignoring_epipe (int fd, const char *text)
{
  sigset_t pipe_set, old;
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  sigprocmask (SIG_BLOCK, &pipe_set, &old);
  if (write_all (fd, text, strlen (text)) < 0 && errno == EPIPE && !sigismember (&old, SIGPIPE))
    {
      struct timespec now = { 0, 0 };
      (void)sigtimedwait (&pipe_set, NULL, &now);
    }
  sigprocmask (SIG_SETMASK, &old, NULL);
}

static int
run_hook (json_t *hook, const char *kind, size_t i, const char *state_json, pid_t in_pid, isola_error_t *err)
{
  const char *path = json_string_value (json_object_get (hook, "path"));
  if (path == NULL)
    return isola_error_fail (err, EINVAL, "config.json: hooks.%s[%zu]: no path", kind, i);
  cleanup_strv char **args = NULL, **env = NULL;
  int ret = string_array (json_object_get (hook, "args"), "hooks[].args", &args, err);
  if (ret == 0)
    ret = string_array (json_object_get (hook, "env"), "hooks[].env", &env, err);
  if (ret < 0)
    return ret;
  if (args == NULL)
    strv_push (&args, path);
  if (env == NULL)
    env = xcalloc (1, sizeof (char *));
  int timeout = (int)json_integer_value (json_object_get (hook, "timeout"));
  int in[2];
  if (pipe2 (in, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  pid_t pid = fork ();
  if (pid < 0)
    {
      close (in[0]), close (in[1]);
      return isola_error_make (err, errno, "fork");
    }
  if (pid == 0)
    {
      dup2 (in[0], 0);
      /* The hook must see its stdin end: no process of ours keeps the pipe's write end (a child that does not exec
         keeps even close-on-exec descriptors). */
      close (in[1]);
      if (in_pid <= 0)
        execve (path, args, env);
      else
        {
          /* Not close-on-exec: the hook is executed as /proc/self/fd/N, which a script's interpreter then opens
             (the container may have no /dev/fd), by a child, which is in the container's pid namespace and so has
             a /proc/self in the container's /proc. */
          int exe = open (path, O_RDONLY);
          if (exe < 0)
            _exit (127);
          enter_namespaces_of (in_pid);
          pid_t hook_pid = fork ();
          if (hook_pid == 0)
            {
              (void)prctl (PR_SET_PDEATHSIG, SIGKILL);
              char self[64];
              snprintf (self, sizeof self, "/proc/self/fd/%d", exe);
              execve (self, args, env);
              _exit (127);
            }
          int hook_status = 0;
          if (hook_pid < 0 || waitpid_retry (hook_pid, &hook_status) < 0)
            _exit (126);
          _exit (WIFEXITED (hook_status) ? WEXITSTATUS (hook_status) : 128 + WTERMSIG (hook_status));
        }
      _exit (127);
    }
  close (in[0]);
  write_ignoring_epipe (in[1], state_json);
  close (in[1]);
  int status = 0;
  long long deadline = timeout > 0 ? monotonic_ms () + timeout * 1000LL : 0;
  for (;;)
    {
      pid_t r = waitpid (pid, &status, deadline ? WNOHANG : 0);
      if (r == pid)
        break;
      if (r < 0 && errno != EINTR)
        return isola_error_make (err, errno, "wait for the %s hook", kind);
      if (deadline && monotonic_ms () > deadline)
        {
          kill (pid, SIGKILL);
          waitpid_retry (pid, NULL);
          return isola_error_fail (err, ETIMEDOUT, "error running %s hook #%zu: timeout after %d seconds", kind, i,
                                   timeout);
        }
      if (deadline)
        poll (NULL, 0, 10);
    }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return isola_error_fail (err, EIO, "error running %s hook #%zu: %s %s %d", kind, i, path,
                             WIFEXITED (status) ? "exited with status" : "killed by signal",
                             WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
  return 0;
}

int
oci_run_hooks_in (json_t *config, const char *kind, const char *state_json, pid_t pid, isola_error_t *err)
{
  json_t *hooks = json_object_get (json_object_get (config, "hooks"), kind);
  size_t i;
  json_t *h;
  json_array_foreach (hooks, i, h)
  {
    int ret = run_hook (h, kind, i, state_json, pid, err);
    if (ret < 0)
      return ret;
  }
  return 0;
}

int
oci_run_hooks (json_t *config, const char *kind, const char *state_json, isola_error_t *err)
{
  return oci_run_hooks_in (config, kind, state_json, 0, err);
}

/* --- signals, spec, features ------------------------------------------------------------------------------------ */

int
oci_parse_signal (const char *s)
{
  if (s == NULL || s[0] == '\0')
    return -1;
  char *end;
  long n = strtol (s, &end, 10);
  if (*end == '\0')
    return n > 0 && n < NSIG ? (int)n : -1;
  const char *name = strncasecmp (s, "SIG", 3) == 0 ? s + 3 : s;
  for (int sig = 1; sig < NSIG; sig++)
    {
      const char *abbrev = sigabbrev_np (sig);
      if (abbrev && strcasecmp (abbrev, name) == 0)
        return sig;
    }
  return -1;
}

static const char default_spec[]
    = "{\"ociVersion\":\"" OCI_VERSION "\",\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},"
      "\"args\":[\"sh\"],\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
      "\"TERM=xterm\"],\"cwd\":\"/\",\"capabilities\":{"
      "\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
      "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
      "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
      "\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
      "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],\"noNewPrivileges\":true},"
      "\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"runc\",\"mounts\":["
      "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
      "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\","
      "\"mode=755\",\"size=65536k\"]},"
      "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\","
      "\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
      "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\","
      "\"nodev\",\"mode=1777\",\"size=65536k\"]},"
      "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"nosuid\","
      "\"noexec\",\"nodev\"]},"
      "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\","
      "\"nodev\",\"ro\"]},"
      "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\","
      "\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
      "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},\"namespaces\":["
      "{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},"
      "{\"type\":\"cgroup\"}],"
      "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\","
      "\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],"
      "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

json_t *
oci_default_spec (void)
{
  return json_loads (default_spec, 0, NULL);
}

json_t *
oci_features (void)
{
  json_t *f = json_pack ("{s:s, s:s}", "ociVersionMin", "1.0.0", "ociVersionMax", "1.1.0");
  json_t *hooks = json_pack ("[s,s,s,s,s,s]", "prestart", "createRuntime", "createContainer", "startContainer",
                             "poststart", "poststop");
  json_object_set_new (f, "hooks", hooks);
  json_object_set_new (f, "mountOptions",
                       json_pack ("[s,s,s,s,s,s,s]", "bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec"));
  json_t *linux_ = json_object ();
  json_object_set_new (linux_, "namespaces",
                       json_pack ("[s,s,s,s,s,s,s]", "cgroup", "ipc", "mount", "network", "pid", "user", "uts"));
  json_t *caps = json_array ();
  for (int c = 0; c <= cap_last (); c++)
    if (cap_name (c))
      json_array_append_new (caps, json_string (cap_name (c)));
  json_object_set_new (linux_, "capabilities", caps);
  json_object_set_new (linux_, "cgroup", json_pack ("{s:b, s:b, s:b}", "v1", 1, "v2", 1, "systemd", 0));
  json_object_set_new (linux_, "seccomp", json_pack ("{s:b}", "enabled", 1));
  json_object_set_new (f, "linux", linux_);
  json_object_set_new (f, "annotations", json_pack ("{s:s}", "io.isola.isolation", "process"));
  return f;
}
