/* HostConfig's namespace modes, sysctls, groups and devices (see nsmode.h). */
#define _GNU_SOURCE
#include "container/nsmode.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "sandbox/devices.h"

const char *
nsmode_container (const char *mode)
{
  return mode && str_has_prefix (mode, "container:") ? mode + strlen ("container:") : NULL;
}

static const char *
mode_of (json_t *host, const char *key)
{
  const char *s = json_string_value (json_object_get (host, key));
  return s ? s : "";
}

static bool
is (const char *mode, const char *name)
{
  return strcmp (mode, name) == 0;
}

static bool
joins (const char *mode)
{
  const char *name = nsmode_container (mode);
  return name && name[0];
}

/* --- checks --------------------------------------------------------------------------------------------------- */

/* runc's namespaced sysctls: the IPC namespace's, and the network namespace's (Docker's whitelist). */
static bool
ipc_sysctl (const char *key)
{
  return str_has_prefix (key, "kernel.msg") || str_has_prefix (key, "kernel.shm") || is (key, "kernel.sem")
         || str_has_prefix (key, "fs.mqueue.");
}

bool
nsmode_sysctl_namespaced (const char *key)
{
  cleanup_free char *name = strndup (key, strcspn (key, "="));
  return name && (str_has_prefix (name, "net.") || ipc_sysctl (name));
}

static int
check_sysctls (json_t *host, isola_error_t *err)
{
  json_t *sysctls = json_object_get (host, "Sysctls");
  const char *key;
  json_t *v;
  const char *ipc = mode_of (host, "IpcMode"), *net = mode_of (host, "NetworkMode");
  json_object_foreach (sysctls, key, v)
  {
    bool is_net = str_has_prefix (key, "net.");
    if (!is_net && !ipc_sysctl (key))
      return isola_error_fail (err, EINVAL, "sysctl '%s=%s' is not whitelisted", key, json_string_value (v));
    if (is_net && is (net, "host"))
      return isola_error_fail (err, EINVAL, "sysctl \"%s\" not allowed in host network namespace", key);
    if (!is_net && (is (ipc, "host") || joins (ipc)))
      return isola_error_fail (err, EINVAL, "sysctl \"%s\" is not allowed: the container shares %s IPC namespace", key,
                               is (ipc, "host") ? "the host's" : "another container's");
  }
  return 0;
}

static int
check_devices (json_t *host, isola_error_t *err)
{
  size_t i;
  json_t *d;
  json_array_foreach (json_object_get (host, "Devices"), i, d)
  {
    const char *src = json_string_value (json_object_get (d, "PathOnHost"));
    const char *dst = json_string_value (json_object_get (d, "PathInContainer"));
    const char *perm = json_string_value (json_object_get (d, "CgroupPermissions"));
    if (src == NULL || src[0] == '\0')
      return isola_error_fail (err, EINVAL, "invalid device: no PathOnHost");
    if (dst == NULL || dst[0] != '/')
      return isola_error_fail (err, EINVAL, "bad format for path: %s", dst ? dst : "");
    if (perm && (perm[0] == '\0' || strspn (perm, "rwm") != strlen (perm)))
      return isola_error_fail (err, EINVAL, "invalid device mode: %s", perm);
  }
  return 0;
}

int
nsmode_check (json_t *host, isola_error_t *err)
{
  const char *ipc = mode_of (host, "IpcMode"), *pid = mode_of (host, "PidMode"), *uts = mode_of (host, "UTSMode");
  const char *userns = mode_of (host, "UsernsMode"), *cgroupns = mode_of (host, "CgroupnsMode");
  if (!(is (ipc, "") || is (ipc, "private") || is (ipc, "shareable") || is (ipc, "none") || is (ipc, "host")
        || joins (ipc)))
    return isola_error_fail (err, EINVAL, "invalid IPC mode: %s", ipc);
  if (!(is (pid, "") || is (pid, "host") || joins (pid)))
    return isola_error_fail (err, EINVAL, "--pid: invalid PID mode");
  if (!(is (uts, "") || is (uts, "host")))
    return isola_error_fail (err, EINVAL, "--uts: invalid UTS mode");
  if (is (userns, "private"))
    return isola_error_fail (err, EINVAL,
                             "--userns private: user namespace remapping is not enabled (only host is supported)");
  if (!(is (userns, "") || is (userns, "host")))
    return isola_error_fail (err, EINVAL, "--userns: invalid USER mode");
  if (!(is (cgroupns, "") || is (cgroupns, "host") || is (cgroupns, "private")))
    return isola_error_fail (err, EINVAL, "--cgroupns: invalid CGROUP mode");
  if (json_integer_value (json_object_get (host, "ShmSize")) < 0)
    return isola_error_fail (err, EINVAL, "SHM size can not be less than 0");
  int ret = check_sysctls (host, err);
  if (ret == 0)
    ret = check_devices (host, err);
  return ret;
}

bool
nsmode_shares_outside (json_t *host, const char **flag, const char **value)
{
  static const struct
  {
    const char *key, *flag;
  } modes[] = { { "IpcMode", "--ipc" }, { "PidMode", "--pid" }, { "UTSMode", "--uts" } };
  for (size_t i = 0; i < ARRAY_SIZE (modes); i++)
    {
      const char *mode = mode_of (host, modes[i].key);
      if (is (mode, "host") || nsmode_container (mode))
        {
          *flag = modes[i].flag;
          *value = mode;
          return true;
        }
    }
  return false;
}

/* --- at start ------------------------------------------------------------------------------------------------- */

char **
nsmode_sysctls (json_t *host)
{
  char **v = xcalloc (1, sizeof (char *));
  const char *key;
  json_t *x;
  json_object_foreach (json_object_get (host, "Sysctls"), key, x)
  {
    cleanup_free char *kv = xasprintf ("%s=%s", key, json_string_value (x) ? json_string_value (x) : "");
    strv_push (&v, kv);
  }
  return v;
}

char **
nsmode_group_add (json_t *host)
{
  char **v = xcalloc (1, sizeof (char *));
  size_t i;
  json_t *x;
  json_array_foreach (json_object_get (host, "GroupAdd"), i, x) if (json_is_string (x))
      strv_push (&v, json_string_value (x));
  return v;
}

int64_t
nsmode_shm_size (json_t *host)
{
  int64_t size = json_integer_value (json_object_get (host, "ShmSize"));
  return size > 0 ? size : NSMODE_DEFAULT_SHM_SIZE;
}

void
nsmode_launch_init (struct nsmode_launch *l)
{
  memset (l, 0, sizeof (*l));
  l->ipc_fd = l->pid_fd = l->shm_fd = -1;
}

void
nsmode_launch_clear (struct nsmode_launch *l)
{
  int *fds[] = { &l->ipc_fd, &l->pid_fd, &l->shm_fd };
  for (size_t i = 0; i < ARRAY_SIZE (fds); i++)
    if (*fds[i] >= 0)
      (void)close (*fds[i]);
  strv_free (l->sysctls);
  strv_free (l->group_add);
  for (size_t i = 0; i < l->n_devices; i++)
    free (l->devices[i].path), free (l->devices[i].host_path);
  free (l->devices);
  nsmode_launch_init (l);
}

/* The other container of a "container:NAME" mode, running. */
static int
running_container (const struct isola_store *s, const char *name, struct container **out, isola_error_t *err)
{
  char id[DIGEST_HEX_LEN + 1];
  int ret = container_resolve (s, name, id, err);
  if (ret == 0)
    ret = container_load (s, id, out, err);
  if (ret == 0)
    (void)container_refresh (*out, NULL);
  if (ret == 0 && (!container_is_running (*out) || container_pid (*out) <= 0))
    ret = isola_error_fail (err, ESRCH, "Container %s is not running", id);
  return ret;
}

/* /proc/PID/ns/TYPE of a process that a pidfd proves is still the one the record names. */
static int
open_namespace (pid_t pid, const char *type, int *out, isola_error_t *err)
{
  cleanup_close int pidfd = (int)syscall (SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    return isola_error_make (err, errno, "process %d", (int)pid);
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/ns/%s", (int)pid, type);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open `%s`", path);
  struct pollfd p = { .fd = pidfd, .events = POLLIN };
  if (poll (&p, 1, 0) > 0)
    {
      (void)close (fd);
      return isola_error_fail (err, ESRCH, "process %d has exited", (int)pid);
    }
  *out = fd;
  return 0;
}

/* The /dev/shm of another container, as a detached copy of its mount (open_tree) made by a helper that enters the
   container's mount namespace: a bind across mount namespaces is refused, attaching a detached mount is not. */
static int
open_shm_of (pid_t pid, int *out, isola_error_t *err)
{
  int mnt = -1;
  int ret = open_namespace (pid, "mnt", &mnt, err);
  if (ret < 0)
    return ret;
  cleanup_close int mnt_fd = mnt;
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return isola_error_make (err, errno, "socketpair");
  cleanup_close int ours = sv[0];
  cleanup_close int theirs = sv[1];
  pid_t helper = fork ();
  if (helper < 0)
    return isola_error_make (err, errno, "fork");
  if (helper == 0)
    {
      if (setns (mnt_fd, CLONE_NEWNS) < 0)
        _exit (1);
      int fd = (int)open_tree (AT_FDCWD, "/dev/shm", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
      _exit (fd < 0 || fd_send (theirs, fd) < 0 ? 1 : 0);
    }
  (void)close (take_fd (&theirs));
  int fd = fd_receive (ours, false);
  (void)waitpid_retry (helper, NULL);
  if (fd < 0)
    return isola_error_make (err, -fd, "take the /dev/shm of the container whose IPC namespace is joined");
  *out = fd;
  return 0;
}

static int
join_ipc (const struct isola_store *s, const char *name, struct spawn_spec *sp, struct nsmode_launch *l,
          isola_error_t *err)
{
  cleanup_container struct container *other = NULL;
  int ret = running_container (s, name, &other, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "can't join IPC of container %s", name);
  const char *theirs = mode_of (container_host_config (other), "IpcMode");
  if (is (theirs, "host"))
    {
      sp->ipc.mode = SPAWN_NS_HOST;
      return 0;
    }
  if (!is (theirs, "shareable"))
    return isola_error_fail (err, EINVAL,
                             "can't join IPC of container %s: non-shareable IPC (hint: use IpcMode:shareable for the "
                             "donor container)",
                             name);
  if ((ret = open_namespace (container_pid (other), "ipc", &l->ipc_fd, err)) < 0
      || (ret = open_shm_of (container_pid (other), &l->shm_fd, err)) < 0)
    return isola_error_wrap (err, ret, "can't join IPC of container %s", name);
  sp->ipc = (struct spawn_ns){ .mode = SPAWN_NS_JOIN, .fd = l->ipc_fd };
  sp->shm_fd = l->shm_fd;
  return 0;
}

static int
join_pid (const struct isola_store *s, const char *name, struct spawn_spec *sp, struct nsmode_launch *l,
          isola_error_t *err)
{
  cleanup_container struct container *other = NULL;
  int ret = running_container (s, name, &other, err);
  if (ret == 0)
    ret = open_namespace (container_pid (other), "pid", &l->pid_fd, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "cannot join PID of a non running container: %s", name);
  sp->pid = (struct spawn_ns){ .mode = SPAWN_NS_JOIN, .fd = l->pid_fd };
  return 0;
}

/* Docker's DeviceFromPath: the host's node, its type, numbers, mode and owner. */
static int
devices_of (json_t *host, struct nsmode_launch *l, isola_error_t *err)
{
  json_t *list = json_object_get (host, "Devices");
  l->devices = xcalloc (json_array_size (list) + 1, sizeof (*l->devices));
  size_t i;
  json_t *d;
  json_array_foreach (list, i, d)
  {
    const char *src = json_string_value (json_object_get (d, "PathOnHost"));
    const char *dst = json_string_value (json_object_get (d, "PathInContainer"));
    struct stat st;
    if (src == NULL || stat (src, &st) < 0)
      return isola_error_make (err, src ? errno : EINVAL,
                               "error gathering device information while adding custom device \"%s\"", src ? src : "");
    if (!S_ISCHR (st.st_mode) && !S_ISBLK (st.st_mode))
      return isola_error_fail (err, EINVAL,
                               "error gathering device information while adding custom device \"%s\": not a device "
                               "node",
                               src);
    l->devices[l->n_devices++] = (struct spawn_device){ .path = xstrdup (dst && dst[0] ? dst : src),
                                                        .host_path = xstrdup (src),
                                                        .mode = st.st_mode & (S_IFMT | 07777),
                                                        .rdev = st.st_rdev,
                                                        .uid = st.st_uid,
                                                        .gid = st.st_gid };
    const char *perm = json_string_value (json_object_get (d, "CgroupPermissions"));
    l->devices[l->n_devices - 1].cgroup_access = device_access_parse (perm);
  }
  return 0;
}

/* A start that fails here is the engine's failure (Docker's exit code 125), never a command that does not exist or
   cannot run, which ENOENT and EACCES would say (spawn_failure_exit_code). */
static int
engine_failure (isola_error_t *err, int ret)
{
  if (ret != -ENOENT && ret != -EACCES && ret != -ENOEXEC)
    return ret;
  if (err && *err)
    (*err)->status = EINVAL;
  return -EINVAL;
}

int
nsmode_prepare (const struct isola_store *s, const struct container *c, struct spawn_spec *sp, struct nsmode_launch *l,
                isola_error_t *err)
{
  json_t *host = container_host_config (c);
  const char *ipc = mode_of (host, "IpcMode"), *pid = mode_of (host, "PidMode"), *uts = mode_of (host, "UTSMode");
  int ret = 0;
  if (is (ipc, "host"))
    sp->ipc.mode = SPAWN_NS_HOST;
  else if (joins (ipc))
    ret = join_ipc (s, nsmode_container (ipc), sp, l, err);
  sp->no_shm = is (ipc, "none");
  if (ret == 0 && is (pid, "host"))
    sp->pid.mode = SPAWN_NS_HOST;
  else if (ret == 0 && joins (pid))
    ret = join_pid (s, nsmode_container (pid), sp, l, err);
  if (is (uts, "host"))
    sp->uts.mode = SPAWN_NS_HOST;
  if (is (mode_of (host, "CgroupnsMode"), "host"))
    sp->cgroupns.mode = SPAWN_NS_HOST;
  if (ret < 0)
    return engine_failure (err, ret);
  /* A missing device is ENOENT, as in Docker, whose CLI then exits with 127 ("no such file or directory"). */
  if ((ret = devices_of (host, l, err)) < 0)
    return ret;
  sp->shm_size = nsmode_shm_size (host);
  l->sysctls = nsmode_sysctls (host);
  l->group_add = nsmode_group_add (host);
  sp->sysctls = l->sysctls;
  sp->group_add = l->group_add;
  sp->devices = l->devices, sp->n_devices = l->n_devices;
  return 0;
}
