/* The process isolation driver: the container's processes run on the host kernel in their own namespaces
   (spawn.c), with the image's snapshots under an overlay whose upper directory is the container's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/sealed_exe.h"
#include "base/util.h"
#include "container/nsmode.h"
#include "container/runspec.h"
#include "driver/driver.h"
#include "driver/process_exec.h"
#include "image/image.h"
#include "network/attach.h"
#include "sandbox/caps.h"
#include "sandbox/cgroup.h"
#include "sandbox/nsexec.h"
#include "sandbox/seccomp_program.h"
#include "sandbox/spawn.h"

struct process_launch
{
  struct cgroup_fs cgfs;
  struct cgroup_placement cgroup;
  struct spawn_spec spec;
  struct image_record image;
  struct runspec_mounts mounts;
  struct runspec_rlimits rlimits;
  char **argv;
  char **env;
  char *upper, *work, *rootfs, *hostname_file, *hosts_file, *resolv_file;
  struct seccomp_program *seccomp; /* NULL when the container runs unconfined */
  struct nsmode_launch ns;
  int netns_fd; /* the network namespace joined, or -1 */
};

static void
process_launch_clear (struct process_launch *l)
{
  image_record_clear (&l->image);
  cgroup_fs_clear (&l->cgfs);
  cgroup_placement_clear (&l->cgroup);
  runspec_mounts_clear (&l->mounts);
  runspec_rlimits_clear (&l->rlimits);
  strv_free (l->argv);
  strv_free (l->env);
  free (l->upper), free (l->work), free (l->rootfs);
  free (l->hostname_file), free (l->hosts_file), free (l->resolv_file);
  seccomp_program_free (l->seccomp);
  l->seccomp = NULL;
  nsmode_launch_clear (&l->ns);
  if (l->netns_fd >= 0)
    close (l->netns_fd);
  l->netns_fd = -1;
}

/* --network container:NAME: the network namespace of another running process container (its netns file when it is
   on a network, else its first process's); a VM container's network is in its guest, out of reach. */
static int
open_other_network (const struct isola_store *s, const char *name, int *fd_out, isola_error_t *err)
{
  char id[DIGEST_HEX_LEN + 1];
  cleanup_container struct container *other = NULL;
  int ret = container_resolve (s, name, id, err);
  if (ret == 0)
    ret = container_load (s, id, &other, err);
  if (ret < 0)
    return ret;
  (void)container_refresh (other, NULL);
  if (!container_is_running (other) || container_pid (other) <= 0)
    return isola_error_fail (err, EINVAL, "cannot join network of a non running container: %s", name);
  if (driver_of (other) != &driver_process)
    return isola_error_fail (
        err, EINVAL, "cannot join the network of container %s: it runs in a VM, whose network is its guest's", name);
  cleanup_free char *path = network_netns_path (other);
  if (path == NULL)
    path = xasprintf ("/proc/%d/ns/net", (int)container_pid (other));
  *fd_out = open (path, O_RDONLY | O_CLOEXEC);
  if (*fd_out < 0)
    return isola_error_make (err, errno, "cannot join the network of container %s: open %s", name, path);
  return 0;
}

/* A container on a network joins the namespace network_attach made for it (ROOT/containers/ID/netns), one with
   --network container:NAME that one's; the others keep spawn's choice (private with loopback only, or the host's). */
static int
join_network_namespace (const struct isola_store *s, const struct container *c, struct process_launch *l,
                        isola_error_t *err)
{
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  const char *other = nsmode_container (mode);
  int ret = 0;
  const char *given = container_netns_path (c);
  if (other)
    ret = open_other_network (s, other, &l->netns_fd, err);
  else if (given)
    {
      /* --network ns:PATH: whoever made the namespace set it up; its path was checked at create. */
      l->netns_fd = open (given, O_RDONLY | O_CLOEXEC);
      if (l->netns_fd < 0)
        ret = isola_error_make (err, errno, "open the network namespace %s", given);
    }
  else
    {
      cleanup_free char *path = network_netns_path (c);
      if (path == NULL)
        return 0;
      l->netns_fd = open (path, O_RDONLY | O_CLOEXEC);
      if (l->netns_fd < 0)
        ret = isola_error_make (err, errno, "open the network namespace %s", path);
    }
  if (ret == 0)
    l->spec.netns_fd = l->netns_fd;
  return ret;
}

/* isola-init lives beside the monitor (build/ or /usr/local/bin); $ISOLA_INIT overrides. */
static char *
init_binary_path (void)
{
  const char *env = getenv ("ISOLA_INIT");
  if (env && env[0])
    return xstrdup (env);
  char *p = path_beside_self ("isola-init");
  return p ? p : xstrdup ("/usr/local/bin/isola-init");
}

/* --init: our init becomes PID 1, read-only at /dev/init, and runs the command, as Docker does with tini. */
static int
add_init (char ***argv, struct runspec_mounts *mounts, isola_error_t *err)
{
  cleanup_free char *path = init_binary_path ();
  if (access (path, X_OK) < 0)
    return isola_error_make (err, errno, "--init: cannot use `%s`", path);
  mounts->items = xrealloc (mounts->items, (mounts->n + 1) * sizeof (*mounts->items));
  mounts->items[mounts->n++]
      = (struct spawn_mount){ .source = take_ptr (&path), .destination = xstrdup ("/dev/init"), .readonly = true };
  size_t n = strv_len (*argv);
  char **with_init = xcalloc (n + 3, sizeof (char *));
  with_init[0] = xstrdup ("/dev/init");
  with_init[1] = xstrdup ("--");
  memcpy (with_init + 2, *argv, (n + 1) * sizeof (char *));
  free (*argv);
  *argv = with_init;
  return 0;
}

static int
process_launch_build (const struct isola_store *s, struct container *c, const struct driver_io *io,
                      struct process_launch *l, isola_error_t *err)
{
  json_t *host = container_host_config (c);
  const char *image = container_image_id (c);
  if (image == NULL)
    return isola_error_fail (err, EINVAL, "container %.12s has no image", c->id);
  int ret = image_record_read (s, image, &l->image, err);
  if (ret < 0)
    return ret;
  uint64_t caps = 0;
  cleanup_free char *cache = store_path (s, STORE_SECCOMP_CACHE);
  if ((ret = caps_for_host_config (host, &caps, err)) < 0 || (ret = runspec_container_mounts (c, &l->mounts, err)) < 0
      || (ret = runspec_rlimits_parse (host, &l->rlimits, err)) < 0
      || (ret = seccomp_program_lookup (host, caps, cache, &l->seccomp, err)) < 0)
    return ret;

  l->argv = container_argv (c);
  if (container_init (c) && (ret = add_init (&l->argv, &l->mounts, err)) < 0)
    return ret;
  l->env = container_env (c);
  l->upper = container_path (c, "upper");
  l->work = container_path (c, "work");
  l->rootfs = container_path (c, "rootfs");
  l->hostname_file = container_path (c, "hostname");
  l->hosts_file = container_path (c, "hosts");
  l->resolv_file = container_path (c, "resolv.conf");

  struct spawn_spec *sp = &l->spec;
  sp->store = s;
  sp->chain_ids = l->image.chain_ids;
  sp->n_layers = l->image.n_layers;
  sp->upper = l->upper, sp->work = l->work, sp->rootfs = l->rootfs;
  sp->readonly_rootfs = container_readonly_rootfs (c);
  sp->etc_hostname = l->hostname_file, sp->etc_hosts = l->hosts_file, sp->etc_resolv = l->resolv_file;
  sp->argv = l->argv;
  sp->env = l->env;
  sp->cwd = container_working_dir (c);
  sp->user = container_user (c);
  sp->hostname = container_hostname (c);
  sp->host_network = container_host_network (c);
  if ((ret = join_network_namespace (s, c, l, err)) < 0)
    return ret;
  sp->cap_keep = caps;
  sp->no_new_privileges = runspec_no_new_privileges (host);
  sp->signals_blocked = container_init (c);
  sp->seccomp = l->seccomp;
  sp->rlimits = l->rlimits.items, sp->n_rlimits = l->rlimits.n;
  sp->mounts = l->mounts.items, sp->n_mounts = l->mounts.n;
  sp->stdin_fd = io->stdin_fd, sp->stdout_fd = io->stdout_fd, sp->stderr_fd = io->stderr_fd;
  sp->tty = io->tty;
  sp->console_socket = io->console_socket;
  sp->tty_rows = io->rows, sp->tty_cols = io->cols;
  if ((ret = nsmode_prepare (s, c, sp, &l->ns, err)) < 0)
    return ret;

  struct cgroup_limits limits;
  cgroup_limits_from_host_config (host, &limits);
  if ((ret = cgroup_fs_detect ("/sys/fs/cgroup", &l->cgfs, err)) < 0
      || (ret = cgroup_create (&l->cgfs, c->id, &limits, &l->cgroup, err)) < 0)
    return ret;
  sp->cgroup = &l->cgroup;
  sp->all_devices = json_is_true (json_object_get (host, "Privileged"));
  return 0;
}

static int
process_start (const struct isola_store *s, struct container *c, struct driver_io *io, pid_t *pid_out,
               isola_error_t *err)
{
  struct process_launch l = { .cgroup = { .dir_fd = -1 }, .netns_fd = -1 };
  nsmode_launch_init (&l.ns);
  int ret = network_attach (s, c, err);
  trace_mark ("monitor: network attached");
  if (ret == 0)
    ret = process_launch_build (s, c, io, &l, err);
  trace_mark ("monitor: cgroups and spec ready");
  if (ret == 0)
    ret = spawn_container (&l.spec, pid_out, err);
  if (ret < 0 && l.cgfs.root)
    (void)cgroup_destroy (&l.cgfs, c->id, NULL);
  if (ret < 0)
    (void)network_detach (s, c, NULL);
  process_launch_clear (&l);
  return ret;
}

static int
process_signal (struct container *c, int sig, isola_error_t *err)
{
  pid_t pid = container_pid (c);
  if (pid <= 0)
    return isola_error_fail (err, ESRCH, "container %.12s is not running", c->id);
  if (kill (pid, sig) < 0)
    return isola_error_make (err, errno, "signal container %.12s", c->id);
  return 0;
}

/* Parses one `ps -ef` line into its 8 columns (the last, CMD, may contain spaces). */
static json_t *
ps_row (char *line)
{
  json_t *row = json_array ();
  char *p = line;
  for (int i = 0; i < 7; i++)
    {
      while (*p == ' ')
        p++;
      size_t len = strcspn (p, " ");
      json_array_append_new (row, json_stringn (p, len));
      p += len;
    }
  while (*p == ' ')
    p++;
  p[strcspn (p, "\n")] = '\0';
  json_array_append_new (row, json_string (p));
  return row;
}

/* With the host's PID namespace (--pid host), the container's processes are those in its cgroup. */
static bool
in_container_cgroup (pid_t pid, const char *id)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/cgroup", (int)pid);
  cleanup_free char *text = NULL;
  if (read_file_bounded (path, 1 << 16, &text, NULL, NULL) < 0)
    return false;
  cleanup_free char *needle = xasprintf ("/isola/%s\n", id);
  return strstr (text, needle) != NULL;
}

/* docker top runs ps -ef on the host and keeps the container's processes: those in its PID namespace, or in its
   cgroup when that namespace is the host's. */
static int
process_top (struct container *c, json_t **rows, isola_error_t *err)
{
  char ns[128];
  if (!pid_namespace_of (container_pid (c), ns, sizeof ns))
    return isola_error_fail (err, ESRCH, "container %.12s is not running", c->id);
  const char *pid_mode = json_string_value (json_object_get (container_host_config (c), "PidMode"));
  bool host_pid = pid_mode && strcmp (pid_mode, "host") == 0;
  FILE *ps = popen ("ps -ef", "re");
  if (ps == NULL)
    return isola_error_make (err, errno, "run ps");
  json_t *out = json_array ();
  cleanup_free char *line = NULL;
  size_t cap = 0;
  bool header = true;
  while (getline (&line, &cap, ps) > 0)
    {
      json_t *row = ps_row (line);
      const char *pid = json_string_value (json_array_get (row, 1));
      bool ours
          = pid
            && (host_pid ? in_container_cgroup ((pid_t)atoi (pid), c->id) : same_pid_namespace ((pid_t)atoi (pid), ns));
      if (header || ours)
        json_array_append_new (out, row);
      else
        json_decref (row);
      header = false;
    }
  pclose (ps);
  *rows = out;
  return 0;
}

/* The rootfs was mounted inside the container's own mount namespace, which died with its last process; what is
   left is the cgroup, which also tells whether the kernel's OOM killer struck. */
static int
process_cleanup (struct container *c, bool *oom_killed, isola_error_t *err)
{
  int ret = cgroup_release ("/sys/fs/cgroup", c->id, oom_killed, err);
  int net = network_detach_container (c, ret < 0 ? NULL : err);
  return ret < 0 ? ret : net;
}

static int
process_pause (struct container *c, bool paused, isola_error_t *err)
{
  struct cgroup_fs fs = { 0 };
  int ret = cgroup_fs_detect ("/sys/fs/cgroup", &fs, err);
  if (ret == 0)
    ret = cgroup_freeze (&fs, c->id, paused, err);
  cgroup_fs_clear (&fs);
  return ret;
}

static int
process_update (struct container *c, json_t *host_config, isola_error_t *err)
{
  struct cgroup_fs fs = { 0 };
  struct cgroup_limits l;
  cgroup_limits_from_host_config (host_config, &l);
  int ret = cgroup_fs_detect ("/sys/fs/cgroup", &fs, err);
  if (ret == 0)
    ret = cgroup_update (&fs, c->id, &l, err);
  cgroup_fs_clear (&fs);
  return ret;
}

static int
process_stats (struct container *c, struct cgroup_stats *out, isola_error_t *err)
{
  struct cgroup_fs fs = { 0 };
  int ret = cgroup_fs_detect ("/sys/fs/cgroup", &fs, err);
  if (ret == 0)
    ret = cgroup_stats_read (&fs, c->id, out, err);
  cgroup_fs_clear (&fs);
  return ret;
}

/* The upper directory is on the host, whether the container runs or not. */
static int
process_open_layer (struct container *c, bool writable, struct driver_layer *out, isola_error_t *err)
{
  (void)err, (void)writable;
  *out = (struct driver_layer){ .upper = container_path (c, "upper"),
                                .work = container_path (c, "work"),
                                .loop_fd = -1 };
  return 0;
}

static void
process_close_layer (struct container *c, struct driver_layer *l)
{
  (void)c;
  free (l->upper), free (l->work);
  l->upper = l->work = NULL;
}

static int
process_running_root (struct container *c, int *fd_out, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("/proc/%d/root", (int)container_pid (c));
  int fd = container_pid (c) > 0 ? open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (fd < 0)
    return isola_error_make (err, container_pid (c) > 0 ? errno : ESRCH, "open the root of container %.12s", c->id);
  *fd_out = fd;
  return 0;
}

const struct isola_driver driver_process = {
  .name = "process",
  .isolation = "process",
  .default_network = "bridge",
  .networks = { .max_networks = 0 },
  .open_layer = process_open_layer,
  .close_layer = process_close_layer,
  .running_root = process_running_root,
  .start = process_start,
  .signal = process_signal,
  .pause = process_pause,
  .update = process_update,
  .stats = process_stats,
  .top = process_top,
  .cleanup = process_cleanup,
  .exec = nsexec_run,
  .exec_session = process_exec_session,
};
