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
static const char *const v1_controllers[] = { "memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices" };

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
  free (p->devices_v1);
  p->devices_v1 = NULL;
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

static bool
set (const char *s)
{
  return s && s[0];
}

void
cgroup_limits_from_host_config (json_t *host_config, struct cgroup_limits *out)
{
  *out = (struct cgroup_limits){
    .memory = json_integer_value (json_object_get (host_config, "Memory")),
    .memory_swap = json_integer_value (json_object_get (host_config, "MemorySwap")),
    .memory_reservation = json_integer_value (json_object_get (host_config, "MemoryReservation")),
    .nano_cpus = json_integer_value (json_object_get (host_config, "NanoCpus")),
    .cpu_shares = json_integer_value (json_object_get (host_config, "CpuShares")),
    .cpuset_cpus = json_string_value (json_object_get (host_config, "CpusetCpus")),
    .cpuset_mems = json_string_value (json_object_get (host_config, "CpusetMems")),
    .oom_kill_disable = json_is_true (json_object_get (host_config, "OomKillDisable")),
    .pids = json_integer_value (json_object_get (host_config, "PidsLimit")),
  };
  if (out->pids < 0)
    out->pids = 0;
  if (out->memory_swap < -1 || out->memory <= 0)
    out->memory_swap = 0;
}

void
cgroup_limits_to_json (const struct cgroup_limits *l, json_t *obj)
{
  json_object_set_new (obj, "Memory", json_integer (l->memory));
  json_object_set_new (obj, "MemorySwap", json_integer (l->memory_swap));
  json_object_set_new (obj, "MemoryReservation", json_integer (l->memory_reservation));
  json_object_set_new (obj, "NanoCpus", json_integer (l->nano_cpus));
  json_object_set_new (obj, "CpuShares", json_integer (l->cpu_shares));
  json_object_set_new (obj, "CpusetCpus", json_string (l->cpuset_cpus ? l->cpuset_cpus : ""));
  json_object_set_new (obj, "CpusetMems", json_string (l->cpuset_mems ? l->cpuset_mems : ""));
  json_object_set_new (obj, "OomKillDisable", json_boolean (l->oom_kill_disable));
  json_object_set_new (obj, "PidsLimit", json_integer (l->pids));
}

bool
cgroup_limits_any (const struct cgroup_limits *l)
{
  return l->memory > 0 || l->memory_reservation > 0 || l->nano_cpus > 0 || l->cpu_shares > 0 || set (l->cpuset_cpus)
         || set (l->cpuset_mems) || l->oom_kill_disable || l->pids > 0;
}

int64_t
cgroup_cpu_weight_of_shares (int64_t shares)
{
  if (shares <= 0)
    return 0;
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

void
cgroup_swap_max (int64_t memory, int64_t memory_swap, char *buf, size_t size)
{
  if (memory_swap < 0)
    snprintf (buf, size, "max");
  else if (memory_swap > 0)
    snprintf (buf, size, "%lld", (long long)(memory_swap > memory ? memory_swap - memory : 0));
  else
    snprintf (buf, size, "%lld", (long long)memory);
}

int
cgroup_cpuset_parse (const char *list, uint64_t mask[CGROUP_CPUSET_MAX / 64])
{
  memset (mask, 0, CGROUP_CPUSET_MAX / 8);
  const char *p = list;
  while (*p && *p != '\n')
    {
      char *end;
      if (!isdigit ((unsigned char)*p))
        return -1;
      unsigned long lo = strtoul (p, &end, 10), hi = lo;
      p = end;
      if (*p == '-')
        {
          if (!isdigit ((unsigned char)p[1]))
            return -1;
          hi = strtoul (p + 1, &end, 10);
          p = end;
        }
      if (hi < lo || hi >= CGROUP_CPUSET_MAX)
        return -1;
      for (unsigned long i = lo; i <= hi; i++)
        mask[i / 64] |= 1ULL << (i % 64);
      if (*p == ',' && isdigit ((unsigned char)p[1]))
        p++;
      else if (*p && *p != '\n')
        return -1;
    }
  return 0;
}

int
cgroup_cpuset_check (const char *list, const char *available)
{
  uint64_t want[CGROUP_CPUSET_MAX / 64], have[CGROUP_CPUSET_MAX / 64];
  if (cgroup_cpuset_parse (list, want) < 0)
    return -EINVAL;
  if (cgroup_cpuset_parse (available, have) < 0)
    return 0; /* nothing to judge by */
  for (size_t i = 0; i < ARRAY_SIZE (want); i++)
    if (want[i] & ~have[i])
      return -ERANGE;
  return 0;
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

/* Where the container's cgroup is below a hierarchy's root: isola/ID, or an absolute path as it is (an OCI bundle's
   cgroupsPath, which isola-runtime has checked: no "..", no empty component). */
/* The first line of DIR/FILE, or NULL. */
static char *
read_key_line (const char *dir, const char *file)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, file);
  char *buf = NULL;
  if (read_file_bounded (path, 4096, &buf, NULL, NULL) < 0)
    return NULL;
  buf[strcspn (buf, "\n")] = '\0';
  return buf;
}

static char *
cgroup_rel (const char *id)
{
  return id[0] == '/' ? xstrdup (id + 1) : xasprintf ("isola/%s", id);
}

static char *
v2_dir (const struct cgroup_fs *fs, const char *id)
{
  cleanup_free char *rel = cgroup_rel (id);
  return xasprintf ("%s/%s", fs->unified, rel);
}

/* The cgroup above the container's: isola, or the path's parent. */
static char *
v2_parent (const struct cgroup_fs *fs, const char *id)
{
  char *dir = v2_dir (fs, id);
  *strrchr (dir, '/') = '\0';
  return dir;
}

static char *
v1_dir (const struct cgroup_fs *fs, const char *controller, const char *id)
{
  cleanup_free char *rel = cgroup_rel (id);
  return xasprintf ("%s/%s/%s", fs->root, controller, rel);
}

/* v2 only delegates a controller to children whose parent enables it in cgroup.subtree_control; cpuset only when
   asked for (a host may not offer it, and the guest's costs time). */
static int
v2_enable_controllers (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l, isola_error_t *err)
{
  cleanup_free char *parent = v2_parent (fs, id);
  int ret = mkdir_p (parent, 0755, err);
  if (ret < 0)
    return ret;
  bool cpuset = set (l->cpuset_cpus) || set (l->cpuset_mems);
  /* Every cgroup from the root down to the parent: a cgroupsPath may be several levels deep (a pod's slice). */
  size_t root_len = strlen (fs->root);
  for (char *slash = parent + root_len;; slash = strchr (slash + 1, '/'))
    {
      char saved = slash ? *slash : '\0';
      if (slash)
        *slash = '\0';
      ret = write_cgroup_file (parent, "cgroup.subtree_control",
                               cpuset ? "+memory +cpu +pids +cpuset" : "+memory +cpu +pids", err);
      if (slash)
        *slash = saved;
      if (ret < 0 || slash == NULL)
        return ret;
    }
}

/* A cpuset the parent cgroup cannot give is refused with Docker's words; what the parent has is read from
   available (a file of parent_dir), when there is one to judge by. */
static int
write_cpuset (const char *dir, const char *parent_dir, const char *available, const char *file, const char *value,
              const char *what, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/%s", parent_dir, available);
  cleanup_free char *have = NULL;
  if (read_file_bounded (path, 4096, &have, NULL, NULL) == 0)
    {
      have[strcspn (have, "\n")] = '\0';
      int r = cgroup_cpuset_check (value, have);
      if (r == -EINVAL)
        return isola_error_fail (err, EINVAL, "Invalid value %s for cpuset %s", value, what);
      if (r == -ERANGE)
        return isola_error_fail (err, EINVAL, "Requested %s are not available - requested %s, available: %s",
                                 strcmp (what, "cpus") == 0 ? "CPUs" : "memory nodes", value, have);
    }
  return write_cgroup_file (dir, file, value, err);
}

static int
write_int (const char *dir, const char *file, int64_t v, isola_error_t *err)
{
  char buf[32];
  snprintf (buf, sizeof buf, "%lld", (long long)v);
  return write_cgroup_file (dir, file, buf, err);
}

static int
v2_apply (const char *dir, const char *parent, const struct cgroup_limits *l, isola_error_t *err)
{
  char buf[64];
  int ret = 0;
  if (l->memory > 0)
    {
      if ((ret = write_int (dir, "memory.max", l->memory, err)) < 0)
        return ret;
      /* Docker's default --memory-swap is twice --memory: as much swap again. */
      cleanup_free char *swap = xasprintf ("%s/memory.swap.max", dir);
      cgroup_swap_max (l->memory, l->memory_swap, buf, sizeof buf);
      if (path_exists (swap) && (ret = write_cgroup_file (dir, "memory.swap.max", buf, err)) < 0)
        return ret;
    }
  if (l->memory_reservation > 0 && (ret = write_int (dir, "memory.low", l->memory_reservation, err)) < 0)
    return ret;
  if (l->nano_cpus > 0)
    {
      snprintf (buf, sizeof buf, "%lld 100000", (long long)(l->nano_cpus / 10000));
      if ((ret = write_cgroup_file (dir, "cpu.max", buf, err)) < 0)
        return ret;
    }
  if (l->cpu_shares > 0 && (ret = write_int (dir, "cpu.weight", cgroup_cpu_weight_of_shares (l->cpu_shares), err)) < 0)
    return ret;
  if (set (l->cpuset_cpus)
      && (ret = write_cpuset (dir, parent, "cpuset.cpus.effective", "cpuset.cpus", l->cpuset_cpus, "cpus", err)) < 0)
    return ret;
  if (set (l->cpuset_mems)
      && (ret = write_cpuset (dir, parent, "cpuset.mems.effective", "cpuset.mems", l->cpuset_mems, "mems", err)) < 0)
    return ret;
  if (l->pids > 0 && (ret = write_int (dir, "pids.max", l->pids, err)) < 0)
    return ret;
  return 0;
}

/* A container's cgroup that exists when a run starts was left by an earlier run whose monitor was killed (kill -9)
   while the container was paused: nothing thawed it then, and the new run's processes would freeze as they join it
   (its monitor waiting for them forever).  A kernel without the file (v2 before 5.2) has no freezer there. */
static int
thaw_leftover (const char *dir, const char *file, const char *thawed, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, file);
  if (!path_exists (path))
    return 0;
  return write_cgroup_file (dir, file, thawed, err);
}

/* The container's cgroup in the v2 hierarchy: with the limits on a v2 host, only for its processes on a hybrid one
   (whose controllers all live in v1 hierarchies). */
static int
unified_create (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l, int *fd_out,
                isola_error_t *err)
{
  int ret;
  if (fs->v2)
    ret = v2_enable_controllers (fs, id, l, err);
  else
    {
      cleanup_free char *parent = v2_parent (fs, id);
      ret = mkdir_p (parent, 0755, err);
    }
  if (ret < 0)
    return ret;
  cleanup_free char *dir = v2_dir (fs, id);
  bool existed = false;
  if (mkdir (dir, 0755) < 0)
    {
      if (errno != EEXIST)
        return isola_error_make (err, errno, "mkdir `%s`", dir);
      existed = true;
    }
  cleanup_free char *parent = v2_parent (fs, id);
  if (fs->v2 && (ret = v2_apply (dir, parent, l, err)) < 0)
    return ret;
  if (existed && (ret = thaw_leftover (dir, "cgroup.freeze", "0", err)) < 0)
    return ret;
  /* CLONE_INTO_CGROUP takes a descriptor opened for reading, not O_PATH. */
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open `%s`", dir);
  *fd_out = fd;
  return 0;
}

/* memory.memsw.limit_in_bytes can never be below memory.limit_in_bytes: a limit raised above the current memsw one
   (an update) needs memsw written first, a lowered one after. */
static int
v1_apply_memory (const char *dir, const struct cgroup_limits *l, isola_error_t *err)
{
  int ret = 0;
  /* Without swap accounting (no memsw files) the swap limit is dropped, as Docker does. */
  cleanup_free char *memsw = xasprintf ("%s/memory.memsw.limit_in_bytes", dir);
  bool swap = l->memory > 0 && path_exists (memsw);
  int64_t v = l->memory_swap < 0 ? -1 : l->memory_swap > 0 ? l->memory_swap : l->memory * 2;
  if (l->memory > 0 && write_int (dir, "memory.limit_in_bytes", l->memory, NULL) < 0)
    {
      if (swap && (ret = write_int (dir, "memory.memsw.limit_in_bytes", v, err)) < 0)
        return ret;
      if ((ret = write_int (dir, "memory.limit_in_bytes", l->memory, err)) < 0)
        return ret;
    }
  if (swap && (ret = write_int (dir, "memory.memsw.limit_in_bytes", v, err)) < 0)
    return ret;
  if (l->memory_reservation > 0
      && (ret = write_int (dir, "memory.soft_limit_in_bytes", l->memory_reservation, err)) < 0)
    return ret;
  if (l->oom_kill_disable && (ret = write_cgroup_file (dir, "memory.oom_control", "1", err)) < 0)
    return ret;
  return 0;
}

/* A v1 cpuset cgroup takes no process until its cpus and mems are set: isola/ (or every level of a cgroupsPath) and
   the container's get their parent's unless the container asks for its own. */
static int
v1_cpuset_inherit (const char *dir, const char *file, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, file);
  cleanup_free char *now = NULL;
  if (read_file_bounded (path, 4096, &now, NULL, NULL) == 0 && now[strspn (now, " \n")] != '\0')
    return 0;
  cleanup_free char *parent = xstrdup (dir);
  *strrchr (parent, '/') = '\0';
  cleanup_free char *ppath = xasprintf ("%s/%s", parent, file);
  if (!path_exists (ppath))
    return 0; /* above the hierarchy's root */
  int ret = v1_cpuset_inherit (parent, file, err);
  cleanup_free char *value = NULL;
  if (ret < 0 || read_file_bounded (ppath, 4096, &value, NULL, NULL) < 0)
    return ret;
  value[strcspn (value, "\n")] = '\0';
  return write_cgroup_file (dir, file, value, err);
}

static int
v1_apply_cpuset (const char *dir, const struct cgroup_limits *l, isola_error_t *err)
{
  cleanup_free char *parent = xstrdup (dir);
  *strrchr (parent, '/') = '\0';
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  const char *values[] = { l->cpuset_cpus, l->cpuset_mems };
  static const char *const what[] = { "cpus", "mems" };
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    {
      int ret = v1_cpuset_inherit (parent, files[i], err);
      if (ret == 0)
        ret = set (values[i]) ? write_cpuset (dir, parent, files[i], files[i], values[i], what[i], err)
                              : v1_cpuset_inherit (dir, files[i], err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int
v1_apply (const char *controller, const char *dir, const struct cgroup_limits *l, isola_error_t *err)
{
  char buf[64];
  int ret = 0;
  if (strcmp (controller, "memory") == 0)
    return v1_apply_memory (dir, l, err);
  if (strcmp (controller, "cpuset") == 0)
    return v1_apply_cpuset (dir, l, err);
  if (strcmp (controller, "cpu") == 0 && l->nano_cpus > 0)
    {
      ret = write_cgroup_file (dir, "cpu.cfs_period_us", "100000", err);
      snprintf (buf, sizeof buf, "%lld", (long long)(l->nano_cpus / 10000));
      if (ret < 0 || (ret = write_cgroup_file (dir, "cpu.cfs_quota_us", buf, err)) < 0)
        return ret;
    }
  if (strcmp (controller, "cpu") == 0 && l->cpu_shares > 0)
    return write_int (dir, "cpu.shares", l->cpu_shares, err);
  if (strcmp (controller, "pids") == 0 && l->pids > 0)
    return write_int (dir, "pids.max", l->pids, err);
  return 0;
}

/* A v1 hierarchy is joined only for a limit it enforces (see cgroup.h), except where there is no v2 hierarchy at
   all: then pids is what holds the container's processes, freezer what pauses them and devices what limits the
   device nodes they open. */
static bool
v1_hierarchy_wanted (const struct cgroup_fs *fs, const char *controller, const struct cgroup_limits *l)
{
  if (strcmp (controller, "memory") == 0)
    return l->memory > 0 || l->memory_reservation > 0 || l->oom_kill_disable;
  if (strcmp (controller, "cpu") == 0)
    return l->nano_cpus > 0 || l->cpu_shares > 0;
  if (strcmp (controller, "cpuset") == 0)
    return set (l->cpuset_cpus) || set (l->cpuset_mems);
  if (strcmp (controller, "freezer") == 0 || strcmp (controller, "devices") == 0)
    return fs->unified == NULL;
  /* Without a v2 hierarchy, cpuacct is what counts the container's CPU time (Docker's stats: in all, per CPU, user
     and kernel); with one, its cpu.stat does (not per CPU), and joining cpuacct would cost each start a cgroup.procs
     write. */
  if (strcmp (controller, "cpuacct") == 0)
    return fs->unified == NULL;
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
      bool existed = path_exists (dir);
      int ret = mkdir_p (dir, 0755, err);
      if (ret == 0)
        ret = v1_apply (v1_controllers[i], dir, l, err);
      if (ret == 0 && existed && strcmp (v1_controllers[i], "freezer") == 0)
        ret = thaw_leftover (dir, "freezer.state", "THAWED", err);
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
  cleanup_free char *devices = v1_dir (fs, "devices", id);
  if (ret == 0 && !fs->unified && path_exists (devices))
    p.devices_v1 = take_ptr (&devices);
  if (ret < 0)
    {
      cgroup_placement_clear (&p);
      (void)cgroup_destroy (fs, id, NULL);
      return ret;
    }
  *out = p;
  return 0;
}

/* Whether a cgroup.procs listing (one PID a line) has pid. */
static bool
pid_listed (const char *list, long pid)
{
  for (const char *p = list; p && *p;)
    {
      char *end;
      long v = strtol (p, &end, 10);
      if (end == p)
        return false;
      if (v == pid)
        return true;
      p = end + strspn (end, "\n");
    }
  return false;
}

/* Moves every process of the container (those of the cgroup that holds them all: its v2 one, else its pids one) into
   dir, a v1 cgroup it was not in; a few rounds, for processes forked meanwhile. */
static int
v1_join_all (const struct cgroup_fs *fs, const char *id, const char *dir, isola_error_t *err)
{
  cleanup_free char *holder = fs->unified ? v2_dir (fs, id) : v1_dir (fs, "pids", id);
  cleanup_free char *from = xasprintf ("%s/cgroup.procs", holder);
  cleanup_free char *to = xasprintf ("%s/cgroup.procs", dir);
  for (int round = 0; round < 5; round++)
    {
      cleanup_free char *list = NULL, *already = NULL;
      int ret = read_file_bounded (from, 1 << 20, &list, NULL, err);
      if (ret < 0)
        return ret;
      (void)read_file_bounded (to, 1 << 20, &already, NULL, NULL);
      bool moved = false;
      for (char *p = list; *p;)
        {
          char *end;
          long pid = strtol (p, &end, 10);
          if (end == p)
            break;
          p = end + strspn (end, "\n");
          if (pid_listed (already, pid))
            continue;
          char buf[32];
          snprintf (buf, sizeof buf, "%ld", pid);
          if (write_cgroup_file (dir, "cgroup.procs", buf, NULL) == 0)
            moved = true;
        }
      if (!moved)
        return 0;
    }
  return 0;
}

int
cgroup_update (const struct cgroup_fs *fs, const char *id, const struct cgroup_limits *l, isola_error_t *err)
{
  int ret;
  if (fs->v2)
    {
      cleanup_free char *dir = v2_dir (fs, id), *parent = v2_parent (fs, id);
      if (!path_exists (dir))
        return isola_error_fail (err, ESRCH, "the container's cgroup `%s` does not exist", dir);
      if ((ret = v2_enable_controllers (fs, id, l, err)) < 0 || (ret = v2_apply (dir, parent, l, err)) < 0)
        return ret;
      return l->pids > 0 ? 0 : write_cgroup_file (dir, "pids.max", "max", err);
    }
  for (size_t i = 0; i < ARRAY_SIZE (v1_controllers); i++)
    {
      const char *ctrl = v1_controllers[i];
      cleanup_free char *hier = xasprintf ("%s/%s", fs->root, ctrl);
      cleanup_free char *dir = v1_dir (fs, ctrl, id);
      bool joined = path_exists (dir);
      if (!path_exists (hier) || (!joined && !v1_hierarchy_wanted (fs, ctrl, l)))
        continue;
      if (!joined && (ret = mkdir_p (dir, 0755, err)) < 0)
        return ret;
      if ((ret = v1_apply (ctrl, dir, l, err)) < 0)
        return ret;
      if (strcmp (ctrl, "pids") == 0 && l->pids <= 0 && (ret = write_cgroup_file (dir, "pids.max", "max", err)) < 0)
        return ret;
      if (!joined && (ret = v1_join_all (fs, id, dir, err)) < 0)
        return ret;
    }
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

/* Whether the kernel has finished freezing (or thawing): "frozen 1" in cgroup.events (v2), FROZEN in freezer.state
   (v1, which says FREEZING meanwhile). */
static bool
freeze_done (const char *file, bool v2, bool frozen)
{
  cleanup_free char *buf = NULL;
  if (read_file_bounded (file, 4096, &buf, NULL, NULL) < 0)
    return false;
  if (v2)
    return (read_counter (file, "frozen") == 1) == frozen;
  return str_has_prefix (buf, frozen ? "FROZEN" : "THAWED");
}

bool
cgroup_frozen (const struct cgroup_fs *fs, const char *id)
{
  cleanup_free char *v2 = fs->unified ? v2_dir (fs, id) : NULL;
  cleanup_free char *v1 = v1_dir (fs, "freezer", id);
  cleanup_free char *buf = NULL;
  if (v2 && (buf = read_key_line (v2, "cgroup.freeze")) && strcmp (buf, "1") == 0)
    return true;
  free (buf);
  buf = read_key_line (v1, "freezer.state");
  return buf && strcmp (buf, "FROZEN") == 0;
}

int
cgroup_freeze (const struct cgroup_fs *fs, const char *id, bool frozen, isola_error_t *err)
{
  bool v2 = fs->unified != NULL;
  cleanup_free char *dir = v2 ? v2_dir (fs, id) : v1_dir (fs, "freezer", id);
  if (!path_exists (dir))
    return isola_error_fail (err, ESRCH, "the container's cgroup `%s` does not exist", dir);
  int ret = v2 ? write_cgroup_file (dir, "cgroup.freeze", frozen ? "1" : "0", err)
               : write_cgroup_file (dir, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
  if (ret < 0)
    return ret;
  cleanup_free char *state = xasprintf ("%s/%s", dir, v2 ? "cgroup.events" : "freezer.state");
  for (int i = 0; i < 1000; i++)
    {
      if (freeze_done (state, v2, frozen))
        return 0;
      struct timespec nap = { 0, 5 * 1000 * 1000 };
      nanosleep (&nap, NULL);
    }
  return isola_error_fail (err, ETIMEDOUT, "the kernel did not %s the container's processes within 5 s",
                           frozen ? "freeze" : "thaw");
}

static uint64_t
read_u64 (const char *dir, const char *file, bool *found)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, file);
  cleanup_free char *buf = NULL;
  if (read_file_bounded (path, 4096, &buf, NULL, NULL) < 0)
    {
      if (found)
        *found = false;
      return 0;
    }
  if (found)
    *found = true;
  return strtoull (buf, NULL, 10);
}

static uint64_t
read_key (const char *dir, const char *file, const char *key)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, file);
  long long v = read_counter (path, key);
  return v > 0 ? (uint64_t)v : 0;
}

static uint64_t
count_lines (const char *dir, const char *file)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, file);
  cleanup_free char *buf = NULL;
  uint64_t n = 0;
  if (read_file_bounded (path, 1 << 22, &buf, NULL, NULL) == 0)
    for (char *p = buf; *p; p++)
      n += *p == '\n';
  return n;
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N …" a device a line. */
static void
read_io_stat (const char *dir, struct cgroup_stats *out)
{
  cleanup_free char *path = xasprintf ("%s/io.stat", dir);
  cleanup_free char *buf = NULL;
  if (read_file_bounded (path, 1 << 20, &buf, NULL, NULL) < 0)
    return;
  for (char *p = buf; (p = strstr (p, "bytes=")) != NULL; p += 6)
    {
      uint64_t v = strtoull (p + 6, NULL, 10);
      if (p > buf && p[-1] == 'r')
        out->read_bytes += v;
      else if (p > buf && p[-1] == 'w')
        out->write_bytes += v;
    }
}

/* The resident memory of the processes listed in procs (a cgroup.procs), for a container with no memory cgroup. */
static uint64_t
rss_of (const char *procs)
{
  cleanup_free char *buf = NULL;
  uint64_t total = 0;
  long page = sysconf (_SC_PAGESIZE);
  if (read_file_bounded (procs, 1 << 20, &buf, NULL, NULL) < 0)
    return 0;
  for (char *p = buf; *p;)
    {
      char *end;
      long pid = strtol (p, &end, 10);
      if (end == p)
        break;
      p = end + strspn (end, "\n");
      cleanup_free char *statm_path = xasprintf ("/proc/%ld/statm", pid);
      cleanup_free char *statm = NULL;
      unsigned long long size, resident;
      if (read_file_bounded (statm_path, 4096, &statm, NULL, NULL) == 0
          && sscanf (statm, "%llu %llu", &size, &resident) == 2)
        total += resident * (uint64_t)page;
    }
  return total;
}

void
cgroup_cpu_stat_read (const char *dir, struct cgroup_stats *out)
{
  out->cpu_ns = read_key (dir, "cpu.stat", "usage_usec") * 1000;
  out->cpu_user_ns = read_key (dir, "cpu.stat", "user_usec") * 1000;
  out->cpu_system_ns = read_key (dir, "cpu.stat", "system_usec") * 1000;
}

void
cgroup_cpuacct_read (const char *dir, struct cgroup_stats *out)
{
  bool found;
  uint64_t total = read_u64 (dir, "cpuacct.usage", &found);
  if (found)
    out->cpu_ns = total;
  /* cpuacct.stat counts in USER_HZ ticks, as dockerd converts them. */
  long hz = sysconf (_SC_CLK_TCK);
  uint64_t tick = hz > 0 ? 1000000000ull / (uint64_t)hz : 0;
  cleanup_free char *stat = xasprintf ("%s/cpuacct.stat", dir);
  if (path_exists (stat))
    {
      out->cpu_user_ns = (uint64_t)read_key (dir, "cpuacct.stat", "user") * tick;
      out->cpu_system_ns = (uint64_t)read_key (dir, "cpuacct.stat", "system") * tick;
    }
  cleanup_free char *path = xasprintf ("%s/cpuacct.usage_percpu", dir);
  cleanup_free char *buf = NULL;
  if (read_file_bounded (path, 1 << 16, &buf, NULL, NULL) < 0)
    return;
  out->n_percpu = 0;
  for (char *p = buf, *end; out->n_percpu < CGROUP_PERCPU_MAX; p = end)
    {
      errno = 0;
      unsigned long long v = strtoull (p, &end, 10);
      if (end == p || errno)
        break;
      out->percpu_ns[out->n_percpu++] = v;
    }
}

static void
v2_stats (const char *dir, struct cgroup_stats *out)
{
  cgroup_cpu_stat_read (dir, out);
  uint64_t current = read_u64 (dir, "memory.current", NULL), inactive = read_key (dir, "memory.stat", "inactive_file");
  out->memory = current > inactive ? current - inactive : current;
  bool found;
  uint64_t max = read_u64 (dir, "memory.max", &found);
  out->memory_limit = found ? max : 0; /* "max" reads as 0 */
  read_io_stat (dir, out);
  out->pids = read_u64 (dir, "pids.current", &found);
  if (!found)
    out->pids = count_lines (dir, "cgroup.threads");
}

int
cgroup_stats_read (const struct cgroup_fs *fs, const char *id, struct cgroup_stats *out, isola_error_t *err)
{
  *out = (struct cgroup_stats){ 0 };
  cleanup_free char *unified = fs->unified ? v2_dir (fs, id) : NULL;
  if (unified && !path_exists (unified))
    return isola_error_fail (err, ESRCH, "the container's cgroup `%s` does not exist", unified);
  if (fs->v2)
    {
      v2_stats (unified, out);
      return 0;
    }
  cleanup_free char *mem = v1_dir (fs, "memory", id), *pids = v1_dir (fs, "pids", id);
  cleanup_free char *cpuacct = v1_dir (fs, "cpuacct", id);
  if (unified)
    {
      cgroup_cpu_stat_read (unified, out);
      out->pids = count_lines (unified, "cgroup.threads");
    }
  if (path_exists (cpuacct))
    cgroup_cpuacct_read (cpuacct, out);
  if (path_exists (pids))
    out->pids = read_u64 (pids, "pids.current", NULL);
  if (path_exists (mem))
    {
      uint64_t usage = read_u64 (mem, "memory.usage_in_bytes", NULL);
      uint64_t inactive = read_key (mem, "memory.stat", "total_inactive_file");
      out->memory = usage > inactive ? usage - inactive : usage;
      uint64_t limit = read_u64 (mem, "memory.limit_in_bytes", NULL);
      out->memory_limit = limit >= (1ULL << 62) ? 0 : limit;
    }
  else
    {
      cleanup_free char *procs = xasprintf ("%s/cgroup.procs", unified ? unified : pids);
      out->memory = rss_of (procs);
    }
  return 0;
}

json_t *
cgroup_stats_to_json (const struct cgroup_stats *st)
{
  json_t *percpu = json_array ();
  for (size_t i = 0; i < st->n_percpu; i++)
    json_array_append_new (percpu, json_integer ((json_int_t)st->percpu_ns[i]));
  return json_pack ("{s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I}", "CpuNs", (json_int_t)st->cpu_ns, "CpuUserNs",
                    (json_int_t)st->cpu_user_ns, "CpuSystemNs", (json_int_t)st->cpu_system_ns, "PercpuNs", percpu,
                    "Memory", (json_int_t)st->memory, "MemoryLimit", (json_int_t)st->memory_limit, "ReadBytes",
                    (json_int_t)st->read_bytes, "WriteBytes", (json_int_t)st->write_bytes, "Pids",
                    (json_int_t)st->pids);
}

void
cgroup_stats_from_json (json_t *j, struct cgroup_stats *out)
{
  *out = (struct cgroup_stats){
    .cpu_ns = (uint64_t)json_integer_value (json_object_get (j, "CpuNs")),
    .memory = (uint64_t)json_integer_value (json_object_get (j, "Memory")),
    .memory_limit = (uint64_t)json_integer_value (json_object_get (j, "MemoryLimit")),
    .read_bytes = (uint64_t)json_integer_value (json_object_get (j, "ReadBytes")),
    .write_bytes = (uint64_t)json_integer_value (json_object_get (j, "WriteBytes")),
    .pids = (uint64_t)json_integer_value (json_object_get (j, "Pids")),
    .cpu_user_ns = (uint64_t)json_integer_value (json_object_get (j, "CpuUserNs")),
    .cpu_system_ns = (uint64_t)json_integer_value (json_object_get (j, "CpuSystemNs")),
  };
  json_t *percpu = json_object_get (j, "PercpuNs");
  for (size_t i = 0; i < json_array_size (percpu) && out->n_percpu < CGROUP_PERCPU_MAX; i++)
    out->percpu_ns[out->n_percpu++] = (uint64_t)json_integer_value (json_array_get (percpu, i));
}

/* How long the members of a cgroup being removed may take to die: by the clock, not in rounds of 10 ms, since a
   killed VM worker frees its guest's memory first, which takes seconds of a loaded machine (the wait ends as soon as
   the cgroup is gone). */
#define CGROUP_EMPTY_MS 10000

/* Processes left behind (a container that double-forked out of its PID 1's reach cannot, since the PID namespace
   dies with PID 1, but a cgroup can outlive a crash): kill them so rmdir succeeds, until DEADLINE_MS. */
static void
kill_members (const char *dir, long long deadline_ms)
{
  cleanup_free char *procs = xasprintf ("%s/cgroup.procs", dir);
  for (;;)
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
      if (monotonic_ms () >= deadline_ms)
        return;
      struct timespec nap = { 0, 10 * 1000 * 1000 };
      nanosleep (&nap, NULL);
    }
}

static int
remove_cgroup_dir (const char *dir, isola_error_t *err)
{
  if (!path_exists (dir))
    return 0;
  long long deadline_ms = monotonic_ms () + CGROUP_EMPTY_MS;
  kill_members (dir, deadline_ms);
  for (;;)
    {
      if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY || monotonic_ms () >= deadline_ms)
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
  /* A v1 frozen process takes its SIGKILL only once thawed. */
  cleanup_free char *freezer = v1_dir (fs, "freezer", id);
  if (!fs->v2 && path_exists (freezer))
    (void)write_cgroup_file (freezer, "freezer.state", "THAWED", NULL);
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

int
cgroup_release (const char *root, const char *id, bool *oom_killed, isola_error_t *err)
{
  if (oom_killed)
    *oom_killed = false;
  struct cgroup_fs fs = { 0 };
  int ret = cgroup_fs_detect (root, &fs, err);
  if (ret < 0)
    return ret;
  if (oom_killed)
    *oom_killed = cgroup_oom_killed (&fs, id);
  ret = cgroup_destroy (&fs, id, err);
  cgroup_fs_clear (&fs);
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
