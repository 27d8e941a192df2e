#define _GNU_SOURCE
#include "sandbox/cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

/* v1 hierarchies a container uses (cpuacct is co-mounted with cpu on most hosts, but not here). */
static const char *const v1_controllers[] = { "memory", "cpu", "pids" };

int
cgroup_fs_detect (const char *root, struct cgroup_fs *out, isola_error_t *err)
{
  cleanup_free char *controllers = xasprintf ("%s/cgroup.controllers", root);
  cleanup_free char *memory = xasprintf ("%s/memory", root);
  cleanup_free char *hybrid = xasprintf ("%s/unified/cgroup.controllers", root);
  *out = (struct cgroup_fs){ 0 };
  out->root = xstrdup (root);
  out->v2 = path_exists (controllers);
  if (!out->v2 && !path_exists (memory))
    return isola_error_fail (err, ENOENT, "no cgroup file system found at `%s`", root);
  if (out->v2)
    out->unified = xstrdup (root);
  else if (path_exists (hybrid))
    out->unified = xasprintf ("%s/unified", root);
  return 0;
}

void
cgroup_fs_clear (struct cgroup_fs *fs)
{
  free (fs->root);
  free (fs->unified);
  fs->root = fs->unified = NULL;
}

void
cgroup_placement_clear (struct cgroup_placement *p)
{
  if (p->dir_fd >= 0)
    (void)close (p->dir_fd);
  p->dir_fd = -1;
  strv_free (p->procs);
  p->procs = NULL;
  strv_free (p->view.sources);
  strv_free (p->view.targets);
  p->view = (struct cgroup_view){ 0 };
}

static void
view_add (struct cgroup_view *v, const char *source, const char *target)
{
  strv_push (&v->sources, source);
  strv_push (&v->targets, target);
}

void
cgroup_placement_stay (const char *root, struct cgroup_placement *out)
{
  *out = (struct cgroup_placement){ .dir_fd = -1, .procs = xcalloc (1, sizeof (char *)) };
  view_add (&out->view, root, "");
}

void
cgroup_limits_from_host_config (json_t *host_config, struct cgroup_limits *out)
{
  out->memory = json_integer_value (json_object_get (host_config, "Memory"));
  out->nano_cpus = json_integer_value (json_object_get (host_config, "NanoCpus"));
  out->pids = json_integer_value (json_object_get (host_config, "PidsLimit"));
  if (out->pids < 0)
    out->pids = 0;
}

static int
write_cgroup_file (const char *dir, const char *file, const char *value, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, file);
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open `%s`", path);
  if (write_all (fd, value, strlen (value)) < 0)
    return isola_error_make (err, errno, "write `%s` to `%s`", value, path);
  return 0;
}

static char *
v2_dir (const struct cgroup_fs *fs, const char *id)
{
  return id ? xasprintf ("%s/isola/%s", fs->unified, id) : xasprintf ("%s/isola", fs->unified);
}

static char *
v1_dir (const struct cgroup_fs *fs, const char *controller, const char *id)
{
  return xasprintf ("%s/%s/isola/%s", fs->root, controller, id);
}

/* v2 only delegates a controller to children whose parent enables it in cgroup.subtree_control. */
static int
v2_enable_controllers (const struct cgroup_fs *fs, isola_error_t *err)
{
  cleanup_free char *parent = v2_dir (fs, NULL);
  int ret = mkdir_p (parent, 0755, err);
  if (ret < 0)
    return ret;
  const char *dirs[] = { fs->root, parent };
  for (size_t i = 0; i < ARRAY_SIZE (dirs); i++)
    {
      ret = write_cgroup_file (dirs[i], "cgroup.subtree_control", "+memory +cpu +pids", err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int
v2_apply (const char *dir, const struct cgroup_limits *l, isola_error_t *err)
{
  char buf[64];
  int ret;
  if (l->memory > 0)
    {
      snprintf (buf, sizeof buf, "%lld", (long long)l->memory);
      /* Docker's default --memory-swap is twice --memory: as much swap again. */
      if ((ret = write_cgroup_file (dir, "memory.max", buf, err)) < 0)
        return ret;
      cleanup_free char *swap = xasprintf ("%s/memory.swap.max", dir);
      if (path_exists (swap) && (ret = write_cgroup_file (dir, "memory.swap.max", buf, err)) < 0)
        return ret;
    }
  if (l->nano_cpus > 0)
    {
      snprintf (buf, sizeof buf, "%lld 100000", (long long)(l->nano_cpus / 10000));
      if ((ret = write_cgroup_file (dir, "cpu.max", buf, err)) < 0)
        return ret;
    }
  if (l->pids > 0)
    {
      snprintf (buf, sizeof buf, "%lld", (long long)l->pids);
      if ((ret = write_cgroup_file (dir, "pids.max", buf, err)) < 0)
        return ret;
    }
  return 0;
}

/* The container's cgroup in the v2 hierarchy: with the limits on a v2 host, only for its processes on a hybrid one
   (whose controllers all live in v1 hierarchies). */
static int
unified_create (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l, int *fd_out,
                isola_error_t *err)
{
  int ret;
  if (fs->v2)
    ret = v2_enable_controllers (fs, err);
  else
    {
      cleanup_free char *parent = v2_dir (fs, NULL);
      ret = mkdir_p (parent, 0755, err);
    }
  if (ret < 0)
    return ret;
  cleanup_free char *dir = v2_dir (fs, id);
  if (mkdir (dir, 0755) < 0 && errno != EEXIST)
    return isola_error_make (err, errno, "mkdir `%s`", dir);
  if (fs->v2 && (ret = v2_apply (dir, l, err)) < 0)
    return ret;
  /* CLONE_INTO_CGROUP takes a descriptor opened for reading, not O_PATH. */
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open `%s`", dir);
  *fd_out = fd;
  return 0;
}

static int
v1_apply (const char *controller, const char *dir, const struct cgroup_limits *l, isola_error_t *err)
{
  char buf[64];
  if (strcmp (controller, "memory") == 0 && l->memory > 0)
    {
      snprintf (buf, sizeof buf, "%lld", (long long)l->memory);
      int ret = write_cgroup_file (dir, "memory.limit_in_bytes", buf, err);
      cleanup_free char *memsw = xasprintf ("%s/memory.memsw.limit_in_bytes", dir);
      if (ret == 0 && path_exists (memsw))
        {
          snprintf (buf, sizeof buf, "%lld", (long long)l->memory * 2);
          ret = write_cgroup_file (dir, "memory.memsw.limit_in_bytes", buf, err);
        }
      return ret;
    }
  if (strcmp (controller, "cpu") == 0 && l->nano_cpus > 0)
    {
      int ret = write_cgroup_file (dir, "cpu.cfs_period_us", "100000", err);
      snprintf (buf, sizeof buf, "%lld", (long long)(l->nano_cpus / 10000));
      return ret < 0 ? ret : write_cgroup_file (dir, "cpu.cfs_quota_us", buf, err);
    }
  if (strcmp (controller, "pids") == 0 && l->pids > 0)
    {
      snprintf (buf, sizeof buf, "%lld", (long long)l->pids);
      return write_cgroup_file (dir, "pids.max", buf, err);
    }
  return 0;
}

/* A v1 hierarchy is joined only for a limit it enforces (see cgroup.h), except pids where there is no v2 hierarchy
   at all: then it is what holds the container's processes. */
static bool
v1_hierarchy_wanted (const struct cgroup_fs *fs, const char *controller, const struct cgroup_limits *l)
{
  if (strcmp (controller, "memory") == 0)
    return l->memory > 0;
  if (strcmp (controller, "cpu") == 0)
    return l->nano_cpus > 0;
  return l->pids > 0 || fs->unified == NULL;
}

static int
v1_create (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l, char ***procs,
           struct cgroup_view *view, isola_error_t *err)
{
  for (size_t i = 0; i < ARRAY_SIZE (v1_controllers); i++)
    {
      cleanup_free char *hier = xasprintf ("%s/%s", fs->root, v1_controllers[i]);
      if (!path_exists (hier) || !v1_hierarchy_wanted (fs, v1_controllers[i], l))
        continue;
      cleanup_free char *dir = v1_dir (fs, v1_controllers[i], id);
      int ret = mkdir_p (dir, 0755, err);
      if (ret == 0)
        ret = v1_apply (v1_controllers[i], dir, l, err);
      if (ret < 0)
        return ret;
      cleanup_free char *p = xasprintf ("%s/cgroup.procs", dir);
      strv_push (procs, p);
      view_add (view, dir, v1_controllers[i]);
    }
  return 0;
}

int
cgroup_create (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l, struct cgroup_placement *out,
               isola_error_t *err)
{
  struct cgroup_placement p = { .dir_fd = -1, .procs = xcalloc (1, sizeof (char *)) };
  int ret = 0;
  p.view.tmpfs = !fs->v2;
  if (fs->unified)
    {
      ret = unified_create (fs, id, l, &p.dir_fd, err);
      cleanup_free char *dir = v2_dir (fs, id);
      view_add (&p.view, dir, fs->v2 ? "" : "unified");
    }
  if (ret == 0 && !fs->v2)
    ret = v1_create (fs, id, l, &p.procs, &p.view, err);
  if (ret < 0)
    {
      cgroup_placement_clear (&p);
      (void)cgroup_destroy (fs, id, NULL);
      return ret;
    }
  *out = p;
  return 0;
}

static long long
read_counter (const char *path, const char *key)
{
  cleanup_free char *buf = NULL;
  if (read_file_bounded (path, 65536, &buf, NULL, NULL) < 0)
    return 0;
  size_t klen = strlen (key);
  for (char *line = buf; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    if (strncmp (line, key, klen) == 0 && line[klen] == ' ')
      return atoll (line + klen + 1);
  return 0;
}

bool
cgroup_oom_killed (const struct cgroup_fs *fs, const char *id)
{
  if (fs->v2)
    {
      cleanup_free char *dir = v2_dir (fs, id);
      cleanup_free char *events = xasprintf ("%s/memory.events", dir);
      return read_counter (events, "oom_kill") > 0;
    }
  cleanup_free char *dir = v1_dir (fs, "memory", id);
  cleanup_free char *ctl = xasprintf ("%s/memory.oom_control", dir);
  return read_counter (ctl, "oom_kill") > 0;
}

/* Processes left behind (a container that double-forked out of its PID 1's reach cannot, since the PID namespace
   dies with PID 1, but a cgroup can outlive a crash): kill them so rmdir succeeds. */
static void
kill_members (const char *dir)
{
  cleanup_free char *procs = xasprintf ("%s/cgroup.procs", dir);
  for (int round = 0; round < 50; round++)
    {
      cleanup_free char *buf = NULL;
      if (read_file_bounded (procs, 1 << 20, &buf, NULL, NULL) < 0 || buf[0] == '\0')
        return;
      for (char *p = buf; *p;)
        {
          pid_t pid = (pid_t)strtol (p, &p, 10);
          if (pid > 0)
            kill (pid, SIGKILL);
          while (*p && !isdigit ((unsigned char)*p))
            p++;
        }
      struct timespec nap = { 0, 10 * 1000 * 1000 };
      nanosleep (&nap, NULL);
    }
}

static int
remove_cgroup_dir (const char *dir, isola_error_t *err)
{
  if (!path_exists (dir))
    return 0;
  kill_members (dir);
  for (int tries = 0; tries < 100; tries++)
    {
      if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY)
        break;
      struct timespec nap = { 0, 10 * 1000 * 1000 };
      nanosleep (&nap, NULL);
    }
  return isola_error_make (err, errno, "remove cgroup `%s`", dir);
}

int
cgroup_destroy (const struct cgroup_fs *fs, const char *id, isola_error_t *err)
{
  int ret = 0;
  if (fs->unified)
    {
      cleanup_free char *dir = v2_dir (fs, id);
      ret = remove_cgroup_dir (dir, err);
    }
  for (size_t i = 0; !fs->v2 && i < ARRAY_SIZE (v1_controllers); i++)
    {
      cleanup_free char *dir = v1_dir (fs, v1_controllers[i], id);
      if (remove_cgroup_dir (dir, ret < 0 ? NULL : err) < 0)
        ret = -EBUSY;
    }
  return ret;
}

int64_t
parse_memory_bytes (const char *s)
{
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (errno || end == s || v < 0 || !isfinite (v))
    return -1;
  double mult = 1;
  switch (tolower ((unsigned char)*end))
    {
    case '\0':
      break;
    case 'b':
      mult = 1, end++;
      break;
    case 'k':
      mult = 1024.0, end++;
      break;
    case 'm':
      mult = 1024.0 * 1024, end++;
      break;
    case 'g':
      mult = 1024.0 * 1024 * 1024, end++;
      break;
    case 't':
      mult = 1024.0 * 1024 * 1024 * 1024, end++;
      break;
    default:
      return -1;
    }
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end != '\0' || v * mult > 9.2e18)
    return -1;
  return (int64_t)(v * mult);
}

int64_t
parse_nano_cpus (const char *s)
{
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (errno || end == s || *end || v < 0 || !isfinite (v) || v > 1e6)
    return -1;
  return (int64_t)llround (v * 1e9);
}

int
cgroup_procs_paths (const struct cgroup_fs *fs, const char *id, char ***out)
{
  cleanup_strv char **list = xcalloc (1, sizeof (char *));
  if (fs->unified)
    {
      cleanup_free char *dir = v2_dir (fs, id);
      cleanup_free char *procs = xasprintf ("%s/cgroup.procs", dir);
      if (path_exists (dir))
        strv_push (&list, procs);
    }
  for (size_t i = 0; !fs->v2 && i < ARRAY_SIZE (v1_controllers); i++)
    {
      cleanup_free char *dir = v1_dir (fs, v1_controllers[i], id);
      cleanup_free char *procs = xasprintf ("%s/cgroup.procs", dir);
      if (path_exists (dir))
        strv_push (&list, procs);
    }
  if (list[0] == NULL)
    return -ENOENT;
  *out = take_ptr (&list);
  return 0;
}
