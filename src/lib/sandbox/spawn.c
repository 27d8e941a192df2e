/* The container's first process, the way crun's linux.c builds it: clone(2) into fresh namespaces, then, in the
   child, build the root filesystem and everything under it, pivot_root into it, become the configured user with
   the configured capabilities, and exec.  The child reports a failure to the parent through a CLOEXEC pipe: a
   successful execve closes the pipe with nothing written but an "about to exec" marker.

   Only the parent side returns; the child either execs or _exits, so what it allocates is never freed.  The
   child is cloned with fork(2) semantics (no separate stack), so the caller must not have other threads that
   could hold a lock (malloc's) at that moment: the container monitor is single-threaded. */
#define _GNU_SOURCE
#include "sandbox/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "base/env.h"
#include "base/util.h"
#include "sandbox/devices.h"
#include "sandbox/netns.h"
#include "sandbox/overlay.h"
#include "sandbox/seccomp_program.h"

/* --- the report pipe: what the child tells the parent ----------------------------------------------------------- */

enum report_kind
{
  REPORT_SETUP_FAILED = 1, /* building the container failed: errno and message follow */
  REPORT_EXEC_STARTING,    /* everything is ready; execve comes next */
  REPORT_EXEC_FAILED,      /* the command could not be found or run */
};

struct report_header
{
  int32_t kind;
  int32_t status;
  uint32_t len; /* bytes of message after the header */
};

/* One write of at most PIPE_BUF bytes is atomic, so the parent never sees half a record. */
#define REPORT_MSG_MAX (PIPE_BUF - sizeof (struct report_header))

static void
report_send (int fd, enum report_kind kind, int status, const char *msg)
{
  char buf[PIPE_BUF];
  size_t len = msg ? strnlen (msg, REPORT_MSG_MAX) : 0;
  struct report_header h = { .kind = kind, .status = status, .len = (uint32_t)len };
  memcpy (buf, &h, sizeof (h));
  if (len)
    memcpy (buf + sizeof (h), msg, len);
  (void)write_all (fd, buf, sizeof (h) + len);
}

/* The exit code mirrors Docker's for the same failure, for anyone who looks at the child's status. */
static __attribute__ ((noreturn)) void
child_fail (int report_fd, enum report_kind kind, int ret, isola_error_t *err)
{
  int status = err && *err ? (*err)->status : -ret;
  report_send (report_fd, kind, status, err && *err ? (*err)->msg : "container setup failed");
  if (kind == REPORT_EXEC_FAILED)
    _exit (status == ENOENT ? 127 : 126);
  _exit (125);
}

/* --- paths inside the container's root, before pivot_root ------------------------------------------------------ */

/* openat2(RESOLVE_IN_ROOT): absolute symlinks and ".." in the image resolve against the container's root, as they
   will after pivot_root, so an image can never point a mount at the host. */
static int
open_in_root (int rootfd, const char *path, int flags)
{
  while (*path == '/')
    path++;
  if (*path == '\0')
    path = ".";
  return openat2_scoped (rootfd, path, flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* mount(2) takes paths; a "/proc/self/fd/N" path names exactly the inode an fd holds, with no second lookup. */
struct fd_path
{
  char s[48];
};

static const char *
fd_path (int fd, struct fd_path *p)
{
  snprintf (p->s, sizeof (p->s), "/proc/self/fd/%d", fd);
  return p->s;
}

/* "//a/./b/" → "/a/b": one spelling per destination, so parent/name splitting is trivial. */
static char *
normalize_path (const char *path)
{
  char *out = xmalloc (strlen (path) + 2);
  char *o = out;
  for (const char *p = path; *p;)
    {
      while (*p == '/')
        p++;
      const char *end = strchrnul (p, '/');
      size_t n = (size_t)(end - p);
      if (n > 0 && !(n == 1 && p[0] == '.'))
        {
          *o++ = '/';
          memcpy (o, p, n);
          o += n;
        }
      p = end;
    }
  if (o == out)
    *o++ = '/';
  *o = '\0';
  return out;
}

static int open_or_create_in_root_depth (int rootfd, const char *path, bool dir, int depth, isola_error_t *err);

/* The last component exists but does not resolve: a dangling symlink.  Create its target instead, inside the root,
   as runc does for /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf. */
static int
create_symlink_target (int rootfd, int parentfd, const char *parent, const char *name, bool dir, int depth,
                       isola_error_t *err)
{
  char target[PATH_MAX];
  ssize_t n = readlinkat (parentfd, name, target, sizeof (target) - 1);
  if (n < 0)
    return isola_error_make (err, errno, "readlink `%s/%s` in the container", parent, name);
  target[n] = '\0';
  cleanup_free char *next = target[0] == '/' ? xstrdup (target) : xasprintf ("%s/%s", parent, target);
  cleanup_free char *norm = normalize_path (next);
  return open_or_create_in_root_depth (rootfd, norm, dir, depth + 1, err);
}

static int
create_in_parent (int rootfd, int parentfd, const char *parent, const char *name, bool dir, int depth,
                  isola_error_t *err)
{
  if (dir)
    {
      if (mkdirat (parentfd, name, 0755) == 0)
        return 0;
      if (errno != EEXIST)
        return isola_error_make (err, errno, "mkdir `%s/%s`", parent, name);
    }
  else
    {
      int fd = openat (parentfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd >= 0)
        {
          (void)close (fd);
          return 0;
        }
      if (errno != EEXIST)
        return isola_error_make (err, errno, "create `%s/%s`", parent, name);
    }
  /* It exists after all: fine, unless it is a symlink that points nowhere yet. */
  struct stat st;
  if (fstatat (parentfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
    {
      int fd = create_symlink_target (rootfd, parentfd, parent, name, dir, depth, err);
      if (fd < 0)
        return fd;
      close (fd);
    }
  return 0;
}

/* Opens path (O_PATH, normalized) inside the root, creating what is missing: directories for the parents, and a
   directory or an empty file for the last component, so that something can be mounted on it. */
static int
open_or_create_in_root_depth (int rootfd, const char *path, bool dir, int depth, isola_error_t *err)
{
  if (depth > 8)
    return isola_error_make (err, ELOOP, "resolve `%s` in the container", path);
  int fd = open_in_root (rootfd, path, O_PATH);
  if (fd >= 0)
    return fd;
  if (fd != -ENOENT)
    return isola_error_make (err, -fd, "open `%s` in the container", path);

  cleanup_free char *parent = xstrdup (path);
  char *slash = strrchr (parent, '/');
  const char *name = path + (slash - parent) + 1;
  *slash = '\0';
  cleanup_close int parentfd = open_or_create_in_root_depth (rootfd, parent[0] ? parent : "/", true, depth, err);
  if (parentfd < 0)
    return parentfd;
  int ret = create_in_parent (rootfd, parentfd, parent, name, dir, depth, err);
  if (ret < 0)
    return ret;
  fd = open_in_root (rootfd, path, O_PATH);
  if (fd < 0)
    return isola_error_make (err, -fd, "open `%s` in the container", path);
  return fd;
}

static bool
same_inode (int a, int b)
{
  struct stat sa, sb;
  return fstat (a, &sa) == 0 && fstat (b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A mount target, created when missing.  One that resolves to the root itself (an image's "/proc -> /" symlink)
   is refused: a mount there would hide the root file system we are about to pivot into. */
static int
open_mount_target (int rootfd, const char *path, bool dir, isola_error_t *err)
{
  int fd = open_or_create_in_root_depth (rootfd, path, dir, 0, err);
  if (fd >= 0 && same_inode (fd, rootfd))
    {
      (void)close (fd);
      return isola_error_fail (err, EINVAL, "mount destination `%s` resolves to the container's root", path);
    }
  return fd;
}

int
spawn_make_mount_target (int rootfd, const char *path, bool dir, isola_error_t *err)
{
  cleanup_free char *norm = normalize_path (path);
  return open_mount_target (rootfd, norm, dir, err);
}

/* --- mount helpers -------------------------------------------------------------------------------------------- */

static int
mount_on_fd (const char *source, int target_fd, const char *fstype, unsigned long flags, const char *data)
{
  struct fd_path p;
  return mount (source, fd_path (target_fd, &p), fstype, flags, data) < 0 ? -errno : 0;
}

/* Makes the mount at the top of fd read-only (plus extra MOUNT_ATTR_* bits), changing nothing else about it;
   recursive covers submounts that a recursive bind brought along. */
static int
set_mount_readonly (int fd, uint64_t extra_attrs, bool recursive)
{
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | extra_attrs };
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  return mount_setattr (fd, "", flags, &attr, sizeof (attr)) < 0 ? -errno : 0;
}

/* A mount hides what its target fd points at, so the new mount is reached by walking the path again. */
static int
remount_readonly_in_root (int rootfd, const char *path, int open_flags, uint64_t extra_attrs, isola_error_t *err)
{
  cleanup_close int fd = open_in_root (rootfd, path, O_PATH | open_flags);
  if (fd < 0)
    return isola_error_make (err, -fd, "reopen `%s`", path);
  int ret = set_mount_readonly (fd, extra_attrs, true);
  if (ret < 0)
    return isola_error_make (err, -ret, "make `%s` read-only", path);
  return 0;
}

/* Mounts a fresh file system (proc, tmpfs, …) on a directory of the container, creating it when missing. */
static int
mount_fs_in_root (int rootfd, const char *dest, const char *fstype, unsigned long flags, const char *data,
                  isola_error_t *err)
{
  cleanup_close int fd = open_mount_target (rootfd, dest, true, err);
  if (fd < 0)
    return fd;
  int ret = mount_on_fd (fstype, fd, fstype, flags, data);
  if (ret < 0)
    return isola_error_make (err, -ret, "mount %s on `%s`", fstype, dest);
  return 0;
}

/* --- the root file system ------------------------------------------------------------------------------------- */

/* Our copy of the host's mounts becomes a slave: nothing we mount or unmount can propagate back to the host. */
static int
make_mounts_slave (isola_error_t *err)
{
  if (mount (NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    return isola_error_make (err, errno, "make / rslave");
  return 0;
}

/* A lower directory prepared by the caller (a VM's agent: the image's erofs disk). */
static int
mount_overlay_on_lower (const struct spawn_spec *spec, isola_error_t *err)
{
  cleanup_free char *data = xasprintf ("lowerdir=%s,upperdir=%s,workdir=%s", spec->lower, spec->upper, spec->work);
  if (mount ("overlay", spec->rootfs, "overlay", 0, data) < 0)
    return isola_error_make (err, errno, "mount overlay (%s) on `%s`", data, spec->rootfs);
  return 0;
}

/* An OCI bundle's root: a mount point of its own (pivot_root needs one), with whatever the caller mounted below. */
static int
bind_root_dir (const struct spawn_spec *spec, isola_error_t *err)
{
  if (mount (spec->root_dir, spec->root_dir, NULL, MS_BIND | MS_REC, NULL) < 0)
    return isola_error_make (err, errno, "bind the root `%s` onto itself", spec->root_dir);
  return 0;
}

static int
mount_rootfs (const struct spawn_spec *spec, int *rootfd_out, isola_error_t *err)
{
  int ret = spec->root_dir ? bind_root_dir (spec, err)
            : spec->lower  ? mount_overlay_on_lower (spec, err)
                          : overlay_mount_layers (spec->store, spec->chain_ids, spec->n_layers, spec->upper, spec->work,
                                                  spec->rootfs, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "mount rootfs");
  const char *root = spec->root_dir ? spec->root_dir : spec->rootfs;
  int fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open rootfs `%s`", root);
  *rootfd_out = fd;
  return 0;
}

static int
mount_proc (int rootfd, isola_error_t *err)
{
  return mount_fs_in_root (rootfd, "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, err);
}

/* A fresh sysfs shows the devices of our network namespace (the host's with host networking).  Where the kernel
   refuses one, fall back to a read-only view of the host's /sys, as runc does. */
static int
mount_sys (int rootfd, isola_error_t *err)
{
  cleanup_close int fd = open_mount_target (rootfd, "/sys", true, err);
  if (fd < 0)
    return fd;
  const unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV;
  int ret = mount_on_fd ("sysfs", fd, "sysfs", flags, NULL);
  if (ret == 0)
    return 0;
  if (ret != -EPERM && ret != -EBUSY)
    return isola_error_make (err, -ret, "mount sysfs on `/sys`");
  ret = mount_on_fd ("/sys", fd, NULL, MS_BIND | MS_REC, NULL);
  if (ret < 0)
    return isola_error_make (err, -ret, "bind /sys");
  return remount_readonly_in_root (rootfd, "/sys", O_DIRECTORY,
                                   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
}

/* The container's own cgroups at /sys/fs/cgroup, read-only (cgroup.h's view).  They are bound before the process
   joins them: a bind needs only the directory, and the monitor places us meanwhile (wait_for_cgroups). */
static int
mount_cgroups (int rootfd, const struct cgroup_placement *cg, isola_error_t *err)
{
  if (cg == NULL || cg->view.sources == NULL)
    return 0;
  const struct cgroup_view *v = &cg->view;
  const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  int ret = v->tmpfs ? mount_fs_in_root (rootfd, "/sys/fs/cgroup", "tmpfs", nse, "mode=755", err) : 0;
  for (size_t i = 0; ret == 0 && v->sources[i]; i++)
    {
      cleanup_free char *dest = xasprintf ("/sys/fs/cgroup/%s", v->targets[i]);
      cleanup_close int fd = open_mount_target (rootfd, dest, true, err);
      if (fd < 0)
        return fd;
      if ((ret = mount_on_fd (v->sources[i], fd, NULL, MS_BIND, NULL)) < 0)
        return isola_error_make (err, -ret, "bind the container's cgroup `%s` on `%s`", v->sources[i], dest);
    }
  if (ret < 0)
    return ret;
  return remount_readonly_in_root (rootfd, "/sys/fs/cgroup", O_DIRECTORY,
                                   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
}

static const struct dev_node
{
  const char *name;
  unsigned major, minor;
} dev_nodes[] = {
  { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct dev_link
{
  const char *name, *target;
} dev_links[] = {
  { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
  { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },
};

/* Where mknod is refused (a restricted host), the host's node is bound onto an empty file instead. */
static int
bind_host_device (int devfd, const char *name, isola_error_t *err)
{
  cleanup_close int fd = openat (devfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0)
    return isola_error_make (err, errno, "create /dev/%s", name);
  cleanup_free char *host = xasprintf ("/dev/%s", name);
  int ret = mount_on_fd (host, fd, NULL, MS_BIND, NULL);
  if (ret < 0)
    return isola_error_make (err, -ret, "bind %s", host);
  return 0;
}

static int
create_dev_nodes (int devfd, isola_error_t *err)
{
  for (size_t i = 0; i < ARRAY_SIZE (dev_nodes); i++)
    {
      const struct dev_node *d = &dev_nodes[i];
      if (mknodat (devfd, d->name, S_IFCHR | 0666, makedev (d->major, d->minor)) == 0)
        continue;
      if (errno != EPERM)
        return isola_error_make (err, errno, "mknod /dev/%s", d->name);
      int ret = bind_host_device (devfd, d->name, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int
create_dev_links (int devfd, isola_error_t *err)
{
  for (size_t i = 0; i < ARRAY_SIZE (dev_links); i++)
    if (symlinkat (dev_links[i].target, devfd, dev_links[i].name) < 0)
      return isola_error_make (err, errno, "symlink /dev/%s", dev_links[i].name);
  return 0;
}

static int
mount_dev_subdir (int devfd, const char *name, const char *fstype, unsigned long flags, const char *data,
                  isola_error_t *err)
{
  if (mkdirat (devfd, name, 0755) < 0 && errno != EEXIST)
    return isola_error_make (err, errno, "mkdir /dev/%s", name);
  cleanup_close int fd = openat (devfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open /dev/%s", name);
  int ret = mount_on_fd (fstype, fd, fstype, flags, data);
  if (ret < 0)
    return isola_error_make (err, -ret, "mount %s on /dev/%s", fstype, name);
  return 0;
}

/* /dev/shm: a tmpfs of its own (--shm-size, Docker's 64 MiB by default) for a private IPC namespace, the host's
   with the host's, none with --ipc none; one joined from another container's comes with spec->shm_fd. */
static int
mount_dev_shm (int devfd, const struct spawn_spec *spec, isola_error_t *err)
{
  const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (spec->no_shm)
    return 0;
  if (mkdirat (devfd, "shm", 01777) < 0 && errno != EEXIST)
    return isola_error_make (err, errno, "mkdir /dev/shm");
  cleanup_close int fd = openat (devfd, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open /dev/shm");
  if (spec->ipc.mode == SPAWN_NS_PRIVATE)
    {
      long long size = spec->shm_size > 0 ? (long long)spec->shm_size : 64LL * 1024 * 1024;
      char data[64];
      snprintf (data, sizeof data, "mode=1777,size=%lld", size);
      /* "shm" as the source, as Docker's (df and /proc/mounts show it) */
      int ret = mount_on_fd ("shm", fd, "tmpfs", nse, data);
      return ret < 0 ? isola_error_make (err, -ret, "mount tmpfs on /dev/shm") : 0;
    }
  if (spec->ipc.mode == SPAWN_NS_HOST)
    {
      int ret = mount_on_fd ("/dev/shm", fd, NULL, MS_BIND | MS_REC, NULL);
      return ret < 0 ? isola_error_make (err, -ret, "bind the host's /dev/shm") : 0;
    }
  if (spec->shm_fd <= 0)
    return 0;
  if (move_mount (spec->shm_fd, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return isola_error_make (err, errno, "mount the /dev/shm of the container whose IPC namespace is joined");
  return 0;
}

/* /dev is a small tmpfs of its own with only the harmless devices, as in Docker, never the host's devtmpfs. */
static int
mount_dev (int rootfd, const struct spawn_spec *spec, isola_error_t *err)
{
  int ret = mount_fs_in_root (rootfd, "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", err);
  if (ret < 0)
    return ret;
  cleanup_close int devfd = open_in_root (rootfd, "/dev", O_PATH | O_DIRECTORY);
  if (devfd < 0)
    return isola_error_make (err, -devfd, "open /dev");
  if ((ret = create_dev_nodes (devfd, err)) < 0 || (ret = create_dev_links (devfd, err)) < 0)
    return ret;
  const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if ((ret = mount_dev_subdir (devfd, "pts", "devpts", MS_NOSUID | MS_NOEXEC,
                               "newinstance,ptmxmode=0666,mode=0620,gid=5", err))
          < 0
      || (ret = mount_dev_shm (devfd, spec, err)) < 0
      || (ret = mount_dev_subdir (devfd, "mqueue", "mqueue", nse, NULL, err)) < 0)
    return ret;
  return 0;
}

/* --device: the node, made where the container asks (its parents created), with the host device's numbers, mode
   and owner; where mknod is refused, the host's node bound onto an empty file. */
static int
make_device (int rootfd, const struct spawn_device *d, isola_error_t *err)
{
  cleanup_free char *path = normalize_path (d->path);
  cleanup_free char *parent = xstrdup (path);
  char *slash = strrchr (parent, '/');
  const char *name = path + (slash - parent) + 1;
  *slash = '\0';
  if (*name == '\0')
    return isola_error_fail (err, EINVAL, "device path `%s` has no name", d->path);
  cleanup_close int parentfd = open_mount_target (rootfd, parent[0] ? parent : "/", true, err);
  if (parentfd < 0)
    return parentfd;
  struct fd_path p;
  cleanup_close int dirfd = open (fd_path (parentfd, &p), O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open `%s` in the container", parent[0] ? parent : "/");
  (void)unlinkat (dirfd, name, 0);
  if (mknodat (dirfd, name, d->mode, d->rdev) == 0)
    {
      if (fchownat (dirfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return isola_error_make (err, errno, "chown device `%s`", path);
      return 0;
    }
  if (errno != EPERM)
    return isola_error_make (err, errno, "mknod device `%s`", path);
  cleanup_close int fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return isola_error_make (err, errno, "create `%s`", path);
  int ret = mount_on_fd (d->host_path, fd, NULL, MS_BIND, NULL);
  return ret < 0 ? isola_error_make (err, -ret, "bind device %s on `%s`", d->host_path, path) : 0;
}

static int
make_devices (int rootfd, const struct spawn_spec *spec, isola_error_t *err)
{
  for (size_t i = 0; i < spec->n_devices; i++)
    {
      int ret = make_device (rootfd, &spec->devices[i], err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* --- the caller's mounts ------------------------------------------------------------------------------------- */

static const struct mount_option
{
  const char *name;
  bool clear;
  unsigned long flag;
} mount_options[] = {
  { "ro", false, MS_RDONLY },
  { "rw", true, MS_RDONLY },
  { "nosuid", false, MS_NOSUID },
  { "suid", true, MS_NOSUID },
  { "nodev", false, MS_NODEV },
  { "dev", true, MS_NODEV },
  { "noexec", false, MS_NOEXEC },
  { "exec", true, MS_NOEXEC },
  { "noatime", false, MS_NOATIME },
  { "atime", true, MS_NOATIME },
  { "nodiratime", false, MS_NODIRATIME },
  { "relatime", false, MS_RELATIME },
  { "strictatime", false, MS_STRICTATIME },
  { "sync", false, MS_SYNCHRONOUS },
  { "async", true, MS_SYNCHRONOUS },
};

/* Splits "size=64m,mode=1777,exec" into mount flags (starting from Docker's tmpfs defaults, noexec,nosuid,nodev)
   and the data string the file system parses. */
static char *
parse_tmpfs_options (const char *options, unsigned long *flags)
{
  *flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  char *data = xcalloc (1, options ? strlen (options) + 1 : 1);
  if (options == NULL)
    return data;
  cleanup_free char *copy = xstrdup (options);
  char *save = NULL;
  for (char *opt = strtok_r (copy, ",", &save); opt; opt = strtok_r (NULL, ",", &save))
    {
      bool known = false;
      for (size_t i = 0; i < ARRAY_SIZE (mount_options) && !known; i++)
        if (strcmp (opt, mount_options[i].name) == 0)
          {
            known = true;
            if (mount_options[i].clear)
              *flags &= ~mount_options[i].flag;
            else
              *flags |= mount_options[i].flag;
          }
      if (!known)
        {
          if (data[0])
            strcat (data, ",");
          strcat (data, opt);
        }
    }
  return data;
}

static int
mount_tmpfs (int rootfd, const struct spawn_mount *m, const char *dest, isola_error_t *err)
{
  unsigned long flags;
  cleanup_free char *data = parse_tmpfs_options (m->tmpfs_options, &flags);
  if (m->readonly)
    flags |= MS_RDONLY;
  return mount_fs_in_root (rootfd, dest, "tmpfs", flags, data, err);
}

/* The source is the host's (the caller's choice, symlinks followed); the destination is resolved in the root and
   made to match the source's type. */
static int
mount_bind (int rootfd, const char *source, const char *dest, bool readonly, isola_error_t *err)
{
  struct stat st;
  if (stat (source, &st) < 0)
    return isola_error_make (err, errno, "bind source path `%s`", source);
  cleanup_close int fd = open_mount_target (rootfd, dest, S_ISDIR (st.st_mode), err);
  if (fd < 0)
    return fd;
  int ret = mount_on_fd (source, fd, NULL, MS_BIND | MS_REC, NULL);
  if (ret < 0)
    return isola_error_make (err, -ret, "bind mount `%s` on `%s`", source, dest);
  if (readonly)
    return remount_readonly_in_root (rootfd, dest, 0, 0, err);
  return 0;
}

int
spawn_bind_in_root (int rootfd, const char *source, const char *dest, bool readonly, isola_error_t *err)
{
  if (dest == NULL || dest[0] != '/')
    return isola_error_fail (err, EINVAL, "mount destination `%s` is not an absolute path", dest ? dest : "");
  cleanup_free char *norm = normalize_path (dest);
  return mount_bind (rootfd, source, norm, readonly, err);
}

static int
mount_spec_mounts (int rootfd, const struct spawn_spec *spec, isola_error_t *err)
{
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      const struct spawn_mount *m = &spec->mounts[i];
      if (m->destination == NULL || m->destination[0] != '/')
        return isola_error_fail (err, EINVAL, "mount destination `%s` is not an absolute path",
                                 m->destination ? m->destination : "");
      cleanup_free char *dest = normalize_path (m->destination);
      int ret = m->source ? mount_bind (rootfd, m->source, dest, m->readonly, err) : mount_tmpfs (rootfd, m, dest, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static bool
has_mount_at (const struct spawn_spec *spec, const char *dest)
{
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      cleanup_free char *d = normalize_path (spec->mounts[i].destination);
      if (strcmp (d, dest) == 0)
        return true;
    }
  return false;
}

/* Docker makes these writable unless the whole root file system is read-only, and leaves out those the caller
   mounts a file of its own on (-v ./hosts:/etc/hosts). */
static int
mount_etc_files (int rootfd, const struct spawn_spec *spec, isola_error_t *err)
{
  const struct
  {
    const char *source, *dest;
  } files[] = {
    { spec->etc_hostname, "/etc/hostname" },
    { spec->etc_hosts, "/etc/hosts" },
    { spec->etc_resolv, "/etc/resolv.conf" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    {
      if (files[i].source == NULL || has_mount_at (spec, files[i].dest))
        continue;
      int ret = mount_bind (rootfd, files[i].source, files[i].dest, spec->readonly_rootfs, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* Docker's masked paths: kernel interfaces that leak host information or let a container poke the host. */
const char *const sandbox_masked_paths[] = {
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
  NULL,
};

const char *const sandbox_readonly_paths[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* Files get /dev/null on top, directories an empty read-only tmpfs; what this kernel lacks is skipped. */
static int
mask_path (int rootfd, const char *path, const char *dev_null, isola_error_t *err)
{
  cleanup_close int fd = open_in_root (rootfd, path, O_PATH | O_NOFOLLOW);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return isola_error_make (err, -fd, "open `%s`", path);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return isola_error_make (err, errno, "stat `%s`", path);
  int ret = 0;
  if (S_ISDIR (st.st_mode))
    ret = mount_on_fd ("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555");
  else if (!S_ISLNK (st.st_mode))
    ret = mount_on_fd (dev_null, fd, NULL, MS_BIND, NULL);
  if (ret < 0)
    return isola_error_make (err, -ret, "mask `%s`", path);
  return 0;
}

static int
make_path_readonly (int rootfd, const char *path, isola_error_t *err)
{
  cleanup_close int fd = open_in_root (rootfd, path, O_PATH | O_NOFOLLOW);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return isola_error_make (err, -fd, "open `%s`", path);
  struct fd_path p;
  int ret = mount_on_fd (fd_path (fd, &p), fd, NULL, MS_BIND | MS_REC, NULL);
  if (ret < 0)
    return isola_error_make (err, -ret, "bind `%s` onto itself", path);
  return remount_readonly_in_root (rootfd, path, O_NOFOLLOW, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                   err);
}

/* The container's own /dev/null, so that the masks show its /dev and nothing of the host's devtmpfs; the host's
   when a caller's mount replaced it with something else. */
static int
open_container_dev_null (int rootfd)
{
  int fd = open_in_root (rootfd, "/dev/null", O_PATH | O_NOFOLLOW);
  struct stat st;
  if (fd >= 0 && (fstat (fd, &st) < 0 || !S_ISCHR (st.st_mode) || st.st_rdev != makedev (1, 3)))
    {
      close (fd);
      fd = -1;
    }
  return fd;
}

static int
protect_kernel_paths (int rootfd, const struct spawn_spec *spec, isola_error_t *err)
{
  cleanup_close int null_fd = open_container_dev_null (rootfd);
  struct fd_path p;
  const char *dev_null = null_fd >= 0 ? fd_path (null_fd, &p) : "/dev/null";
  const char *const *masked = spec->masked_paths ? spec->masked_paths : sandbox_masked_paths;
  const char *const *readonly = spec->readonly_paths ? spec->readonly_paths : sandbox_readonly_paths;
  int ret;
  for (size_t i = 0; masked[i]; i++)
    if ((ret = mask_path (rootfd, masked[i], dev_null, err)) < 0)
      return ret;
  for (size_t i = 0; readonly[i]; i++)
    if ((ret = make_path_readonly (rootfd, readonly[i], err)) < 0)
      return ret;
  return 0;
}

/* Docker's init layer makes /etc/mtab a link to /proc/mounts when the image has none; so does the container's
   first start, in its own layer. */
static int
make_etc_mtab (int rootfd, isola_error_t *err)
{
  cleanup_close int etc = open_in_root (rootfd, "/etc", O_PATH | O_DIRECTORY);
  if (etc < 0)
    return 0;
  if (symlinkat ("/proc/mounts", etc, "mtab") < 0 && errno != EEXIST)
    return isola_error_make (err, errno, "symlink /etc/mtab");
  return 0;
}

/* --sysctl: each "key=value" written to /proc/sys/key/with/dots/as/slashes, in the container's namespaces (the
   request was checked: only namespaced keys). */
static int
apply_sysctls (int rootfd, char *const *sysctls, isola_error_t *err)
{
  for (size_t i = 0; sysctls && sysctls[i]; i++)
    {
      cleanup_free char *key = xstrdup (sysctls[i]);
      char *value = strchr (key, '=');
      if (value == NULL)
        return isola_error_fail (err, EINVAL, "sysctl \"%s\": not key=value", sysctls[i]);
      *value++ = '\0';
      for (char *p = key; *p; p++)
        if (*p == '.')
          *p = '/';
      cleanup_free char *path = xasprintf ("/proc/sys/%s", key);
      cleanup_close int fd = open_in_root (rootfd, path, O_WRONLY | O_NOFOLLOW);
      if (fd < 0)
        return isola_error_make (err, -fd, "sysctl %s: open `%s`", sysctls[i], path);
      if (write_all (fd, value, strlen (value)) < 0)
        return isola_error_make (err, errno, "sysctl %s: write `%s`", sysctls[i], path);
    }
  return 0;
}

/* Everything under the root, in Docker's order: the kernel file systems, then the caller's mounts (which may
   replace /dev/shm and friends), then the /etc files, then the protections that must sit on top of /proc. */
static int
build_rootfs (const struct spawn_spec *spec, int *rootfd_out, isola_error_t *err)
{
  int rootfd = -1;
  int ret = make_mounts_slave (err);
  if (ret == 0)
    ret = mount_rootfs (spec, &rootfd, err);
  /* An OCI bundle's root is the caller's, as it is (runc adds nothing to it). */
  if (ret == 0 && spec->root_dir == NULL)
    ret = make_etc_mtab (rootfd, err);
  if (ret == 0)
    ret = mount_proc (rootfd, err);
  if (ret == 0)
    ret = mount_dev (rootfd, spec, err);
  if (ret == 0)
    ret = make_devices (rootfd, spec, err);
  if (ret == 0)
    ret = mount_sys (rootfd, err);
  if (ret == 0)
    ret = mount_cgroups (rootfd, spec->cgroup, err);
  if (ret == 0)
    ret = mount_spec_mounts (rootfd, spec, err);
  if (ret == 0)
    ret = mount_etc_files (rootfd, spec, err);
  if (ret == 0)
    ret = apply_sysctls (rootfd, spec->sysctls, err);
  if (ret == 0)
    ret = protect_kernel_paths (rootfd, spec, err);
  *rootfd_out = rootfd;
  return ret;
}

/* pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves no path to the host's
   tree.  Our mounts are slaves, so the detach does not propagate to the host. */
static int
enter_rootfs (int rootfd, isola_error_t *err)
{
  if (fchdir (rootfd) < 0)
    return isola_error_make (err, errno, "chdir to rootfs");
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return isola_error_make (err, errno, "pivot_root");
  if (umount2 (".", MNT_DETACH) < 0)
    return isola_error_make (err, errno, "detach the old root");
  if (chdir ("/") < 0)
    return isola_error_make (err, errno, "chdir /");
  return 0;
}

/* --- inside the new root -------------------------------------------------------------------------------------- */

static int
set_hostname (const char *hostname, isola_error_t *err)
{
  if (hostname == NULL || hostname[0] == '\0')
    return 0;
  if (sethostname (hostname, strlen (hostname)) < 0)
    return isola_error_make (err, errno, "sethostname `%s`", hostname);
  return 0;
}

/* A private network namespace starts with lo down; Docker's containers have it up. */
static int
bring_loopback_up (isola_error_t *err)
{
  cleanup_close int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return isola_error_make (err, errno, "socket");
  struct ifreq ifr = { 0 };
  strcpy (ifr.ifr_name, "lo");
  if (ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    return isola_error_make (err, errno, "get lo flags");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
    return isola_error_make (err, errno, "bring lo up");
  return 0;
}

/* --- the user, from the container's /etc/passwd and /etc/group, with runc's rules ---------------------------- */

struct exec_user
{
  uid_t uid;
  gid_t gid;
  const char *home;
  gid_t *groups;
  size_t n_groups;
};

/* Decimal ids in runc's range 0..2^31-1; anything else is a name. */
static bool
parse_id (const char *s, unsigned *out)
{
  if (*s == '\0' || strspn (s, "0123456789") != strlen (s) || strlen (s) > 10)
    return false;
  unsigned long v = strtoul (s, NULL, 10);
  if (v > INT32_MAX)
    return false;
  *out = (unsigned)v;
  return true;
}

/* First passwd entry whose name or uid matches; a missing file has no entries. */
static bool
find_passwd_entry (const char *user, struct passwd *out, char **name_out)
{
  unsigned id = 0;
  bool numeric = parse_id (user, &id);
  cleanup_file FILE *f = fopen ("/etc/passwd", "re");
  if (f == NULL)
    return false;
  struct passwd *pw;
  while ((pw = fgetpwent (f)) != NULL)
    if (strcmp (pw->pw_name, user) == 0 || (numeric && pw->pw_uid == id))
      {
        *out = *pw;
        out->pw_dir = xstrdup (pw->pw_dir ? pw->pw_dir : "/");
        *name_out = xstrdup (pw->pw_name);
        return true;
      }
  return false;
}

static bool
find_group_by_name_or_id (const char *group, gid_t *gid_out)
{
  unsigned id = 0;
  bool numeric = parse_id (group, &id);
  cleanup_file FILE *f = fopen ("/etc/group", "re");
  if (f == NULL)
    return false;
  struct group *gr;
  while ((gr = fgetgrent (f)) != NULL)
    if (strcmp (gr->gr_name, group) == 0 || (numeric && gr->gr_gid == id))
      {
        *gid_out = gr->gr_gid;
        return true;
      }
  return false;
}

static void
add_group (struct exec_user *u, gid_t gid)
{
  u->groups = xrealloc (u->groups, (u->n_groups + 1) * sizeof (gid_t));
  u->groups[u->n_groups++] = gid;
}

/* Supplementary groups: every group that lists the user as a member. */
static void
collect_member_groups (const char *user_name, struct exec_user *u)
{
  cleanup_file FILE *f = fopen ("/etc/group", "re");
  if (f == NULL)
    return;
  struct group *gr;
  while ((gr = fgetgrent (f)) != NULL)
    for (char **m = gr->gr_mem; m && *m; m++)
      if (strcmp (*m, user_name) == 0)
        {
          add_group (u, gr->gr_gid);
          break;
        }
}

static int
resolve_user_part (const char *user, struct exec_user *u, char **matched_name, isola_error_t *err)
{
  struct passwd pw;
  if (find_passwd_entry (user, &pw, matched_name))
    {
      u->uid = pw.pw_uid, u->gid = pw.pw_gid, u->home = pw.pw_dir;
      return 0;
    }
  unsigned id;
  if (!parse_id (user, &id))
    return isola_error_fail (err, EINVAL, "unable to find user %s: no matching entries in passwd file", user);
  u->uid = id;
  return 0;
}

static int
resolve_group_part (const char *group, struct exec_user *u, isola_error_t *err)
{
  gid_t gid;
  unsigned id;
  if (find_group_by_name_or_id (group, &gid))
    u->gid = gid;
  else if (parse_id (group, &id))
    u->gid = id;
  else
    return isola_error_fail (err, EINVAL, "unable to find group %s: no matching entries in group file", group);
  return 0;
}

/* "" → root; "name", "uid", "name:group", "uid:gid".  An explicit group replaces the passwd group and the
   supplementary groups, as in runc; Docker lists the primary group first among the supplementary ones. */
/* --group-add: names from the container's /etc/group, or GIDs, as runc's additional groups. */
static int
add_extra_groups (char *const *groups, struct exec_user *u, isola_error_t *err)
{
  for (size_t i = 0; groups && groups[i]; i++)
    {
      gid_t gid;
      unsigned id;
      if (find_group_by_name_or_id (groups[i], &gid))
        add_group (u, gid);
      else if (parse_id (groups[i], &id))
        add_group (u, id);
      else
        return isola_error_fail (err, EINVAL, "unable to find group %s: no matching entries in group file", groups[i]);
    }
  return 0;
}

static int
resolve_user (const char *spec_user, char *const *group_add, struct exec_user *u, isola_error_t *err)
{
  cleanup_free char *copy = xstrdup (spec_user ? spec_user : "");
  char *group = strchr (copy, ':');
  if (group)
    *group++ = '\0';
  *u = (struct exec_user){ .uid = 0, .gid = 0, .home = "/" };
  cleanup_free char *matched = NULL;
  int ret = resolve_user_part (copy[0] ? copy : "0", u, &matched, err);
  if (ret < 0)
    return ret;
  bool explicit_group = group && group[0];
  if (explicit_group && (ret = resolve_group_part (group, u, err)) < 0)
    return ret;
  add_group (u, u->gid);
  if (matched && !explicit_group)
    collect_member_groups (matched, u);
  return add_extra_groups (group_add, u, err);
}

/* --- working directory, read-only root, limits ---------------------------------------------------------------- */

/* mkdir -p, with the directories it creates owned by the user, as Docker creates WorkingDir. */
static int
make_workdir (const char *cwd, const struct exec_user *u, isola_error_t *err)
{
  cleanup_free char *path = normalize_path (cwd);
  for (char *p = path + 1;; p++)
    {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      if (mkdir (path, 0755) == 0)
        {
          if (chown (path, u->uid, u->gid) < 0)
            return isola_error_make (err, errno, "chown `%s`", path);
        }
      else if (errno != EEXIST)
        return isola_error_make (err, errno, "mkdir `%s`", path);
      *p = saved;
      if (saved == '\0')
        return 0;
    }
}

static int
make_root_readonly (isola_error_t *err)
{
  cleanup_close int fd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open /");
  int ret = set_mount_readonly (fd, 0, false);
  if (ret < 0)
    return isola_error_make (err, -ret, "make the root file system read-only");
  return 0;
}

static int
apply_rlimits (const struct spawn_spec *spec, isola_error_t *err)
{
  for (size_t i = 0; i < spec->n_rlimits; i++)
    {
      const struct spawn_rlimit *r = &spec->rlimits[i];
      struct rlimit rl = { .rlim_cur = r->soft, .rlim_max = r->hard };
      if (setrlimit (r->resource, &rl) < 0)
        return isola_error_make (err, errno, "setrlimit %d (soft %llu, hard %llu)", r->resource,
                                 (unsigned long long)r->soft, (unsigned long long)r->hard);
    }
  return 0;
}

int
spawn_set_rlimits (const struct spawn_spec *spec, pid_t pid, isola_error_t *err)
{
  for (size_t i = 0; i < spec->n_rlimits; i++)
    {
      const struct spawn_rlimit *r = &spec->rlimits[i];
      struct rlimit want = { .rlim_cur = r->soft, .rlim_max = r->hard }, old = { 0 };
      if (prlimit (pid, r->resource, NULL, &old) == 0 && prlimit (pid, r->resource, &want, NULL) == 0)
        continue;
      if (errno == EPERM && want.rlim_max > old.rlim_max)
        return isola_error_fail (err, EPERM,
                                 "setrlimit %d (soft %llu, hard %llu): the hard limit is above the runtime's (%llu), "
                                 "and raising it needs CAP_SYS_RESOURCE, which the runtime does not have",
                                 r->resource, (unsigned long long)r->soft, (unsigned long long)r->hard,
                                 (unsigned long long)old.rlim_max);
      return isola_error_make (err, errno, "setrlimit %d (soft %llu, hard %llu)", r->resource,
                               (unsigned long long)r->soft, (unsigned long long)r->hard);
    }
  return 0;
}

/* --- capabilities and the user switch ------------------------------------------------------------------------- */

/* Capabilities this kernel knows and we hold: asking for more would make capset fail. */
static uint64_t
available_caps (void)
{
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct d[2] = { 0 };
  if (syscall (SYS_capget, &h, d) < 0)
    return 0;
  return (uint64_t)d[0].permitted | ((uint64_t)d[1].permitted << 32);
}

static int
drop_bounding_caps (uint64_t keep, isola_error_t *err)
{
  for (int cap = 0; cap < 64; cap++)
    {
      if (keep & (UINT64_C (1) << cap))
        continue;
      /* EINVAL: the kernel has no such capability, so there is nothing to drop. */
      if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
        return isola_error_make (err, errno, "drop capability %d from the bounding set", cap);
    }
  return 0;
}

static int
set_caps (uint64_t effective, uint64_t permitted, uint64_t inheritable, isola_error_t *err)
{
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct d[2] = {
    { (uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable },
    { (uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32) },
  };
  if (syscall (SYS_capset, &h, d) < 0)
    return isola_error_make (err, errno, "capset");
  return 0;
}

static int
switch_user (const struct exec_user *u, isola_error_t *err)
{
  if (setgroups (u->n_groups, u->groups) < 0)
    return isola_error_make (err, errno, "setgroups");
  if (setresgid (u->gid, u->gid, u->gid) < 0)
    return isola_error_make (err, errno, "setgid %u", (unsigned)u->gid);
  if (setresuid (u->uid, u->uid, u->uid) < 0)
    return isola_error_make (err, errno, "setuid %u", (unsigned)u->uid);
  return 0;
}

/* The bounding set is cut to cap_keep while we still hold CAP_SETPCAP; KEEPCAPS lets the permitted set survive
   the uid change so that the final capset decides.  Root keeps cap_keep (effective and permitted); a non-root user
   gets none, as in Docker.  The inheritable set stays empty, as in Docker since CVE-2022-24769: an inheritable
   capability would pass to any program with file capabilities even after the process changes user. */
static int
become_user (const struct exec_user *u, uint64_t cap_keep, isola_error_t *err)
{
  uint64_t keep = cap_keep & available_caps ();
  int ret = drop_bounding_caps (keep, err);
  if (ret < 0)
    return ret;
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return isola_error_make (err, errno, "prctl PR_SET_KEEPCAPS");
  if ((ret = switch_user (u, err)) < 0)
    return ret;
  uint64_t caps = u->uid == 0 ? keep : 0;
  if ((ret = set_caps (caps, caps, 0, err)) < 0)
    return ret;
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return isola_error_make (err, errno, "clear ambient capabilities");
  return 0;
}

static int
set_no_new_privileges (bool on, isola_error_t *err)
{
  if (on && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return isola_error_make (err, errno, "prctl PR_SET_NO_NEW_PRIVS");
  return 0;
}

/* --- process state handed to the command ---------------------------------------------------------------------- */

/* The command starts with default dispositions and nothing blocked, whatever the monitor had set. */
void
spawn_reset_signals (void)
{
  struct sigaction sa = { .sa_handler = SIG_DFL };
  sigemptyset (&sa.sa_mask);
  for (int sig = 1; sig < NSIG; sig++)
    (void)sigaction (sig, &sa, NULL);
  sigset_t none;
  sigemptyset (&none);
  (void)sigprocmask (SIG_SETMASK, &none, NULL);
}

/* Sources are first moved above 2 so that a source that is itself 0, 1 or 2 is not overwritten before it is used. */
/* A terminal from the container's devpts instance: its slave is a name that exists inside (ttyname works), and
   the master goes to the monitor, as runc's console socket does. */
static int
setup_terminal (int console_socket, unsigned short rows, unsigned short cols, isola_error_t *err)
{
  int master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || unlockpt (master) < 0)
    return isola_error_make (err, errno, "allocate a terminal in the container");
  char name[64];
  if (ptsname_r (master, name, sizeof name) != 0)
    return isola_error_make (err, errno, "allocate a terminal in the container");
  int slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return isola_error_make (err, errno, "open `%s`", name);
  /* Sized before the command starts: a shell asks at once. */
  struct winsize ws = { .ws_row = rows, .ws_col = cols };
  if (rows && cols)
    (void)ioctl (slave, TIOCSWINSZ, &ws);
  int ret = fd_send (console_socket, master);
  if (ret < 0)
    return isola_error_make (err, -ret, "send the terminal to the monitor");
  close (master);
  for (int i = 0; i < 3; i++)
    if (dup2 (slave, i) < 0)
      return isola_error_make (err, errno, "dup2 terminal to fd %d", i);
  close (slave);
  /* The command leads its session (become_session_leader), and this is its controlling terminal, so ^C and job
     control work. */
  if (ioctl (0, TIOCSCTTY, 0) < 0)
    return isola_error_make (err, errno, "make the terminal the controlling terminal");
  return 0;
}

/* Every process of a container leads a session and a process group of its own, as runc makes them: otherwise it
   shares its parent's (the monitor's, the agent's, `isola exec`'s), and a `kill 0` in the container would reach
   them.  A process that already leads its session (a detached exec) stays as it is. */
static int
become_session_leader (isola_error_t *err)
{
  if (getsid (0) != getpid () && setsid () < 0)
    return isola_error_make (err, errno, "setsid");
  return 0;
}

static int
setup_stdio (const struct spawn_spec *spec, int null_fd, isola_error_t *err)
{
  int ret = become_session_leader (err);
  if (ret < 0)
    return ret;
  if (spec->tty)
    return setup_terminal (spec->console_socket, spec->tty_rows, spec->tty_cols, err);
  const int want[3] = { spec->stdin_fd, spec->stdout_fd, spec->stderr_fd };
  int tmp[3];
  for (int i = 0; i < 3; i++)
    {
      tmp[i] = fcntl (want[i] >= 0 ? want[i] : null_fd, F_DUPFD_CLOEXEC, 3);
      if (tmp[i] < 0)
        return isola_error_make (err, errno, "dup stdio fd %d", want[i]);
    }
  for (int i = 0; i < 3; i++)
    if (dup2 (tmp[i], i) < 0)
      return isola_error_make (err, errno, "dup2 stdio fd %d", i);
  return 0;
}

static const char *
env_lookup (char *const *env, const char *name)
{
  size_t n = strlen (name);
  for (; env && *env; env++)
    if (strncmp (*env, name, n) == 0 && (*env)[n] == '=')
      return *env + n + 1;
  return NULL;
}

/* runc sets HOME from passwd when the configuration has none. */
static char **
exec_env (char *const *env, const char *home)
{
  char **out = NULL;
  for (; env && *env; env++)
    strv_push (&out, *env);
  if (env_lookup (out, "HOME") == NULL)
    {
      cleanup_free char *h = xasprintf ("HOME=%s", home);
      strv_push (&out, h);
    }
  if (out == NULL)
    out = xcalloc (1, sizeof (char *));
  return out;
}

/* Go's strerror spelling ("permission denied"), which Docker's messages and scripts that parse them expect. */
static const char *
go_strerror (int errnum, char *buf, size_t len)
{
  snprintf (buf, len, "%s", strerror (errnum));
  if (buf[0] >= 'A' && buf[0] <= 'Z')
    buf[0] = (char)(buf[0] - 'A' + 'a');
  return buf;
}

static bool
is_executable_file (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISREG (st.st_mode) && faccessat (AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

/* Go's exec.LookPath, as runc uses it: a name with a slash is taken as is, anything else searched in $PATH. */
static int
find_executable (const char *name, char *const *env, char **out, isola_error_t *err)
{
  char buf[128];
  if (strchr (name, '/'))
    {
      struct stat st;
      if (stat (name, &st) < 0)
        {
          int saved = errno;
          return isola_error_fail (err, saved, "exec: \"%s\": stat %s: %s", name, name,
                                   go_strerror (saved, buf, sizeof (buf)));
        }
      if (!is_executable_file (name))
        return isola_error_fail (err, EACCES, "exec: \"%s\": permission denied", name);
      *out = xstrdup (name);
      return 0;
    }
  const char *path = env_lookup (env, "PATH");
  cleanup_free char *dirs = xstrdup (path ? path : ISOLA_DEFAULT_PATH);
  for (char *dir = dirs, *next; name[0] && dir; dir = next)
    {
      next = strchr (dir, ':');
      if (next)
        *next++ = '\0';
      cleanup_free char *candidate = xasprintf ("%s/%s", dir[0] ? dir : ".", name);
      if (is_executable_file (candidate))
        {
          *out = take_ptr (&candidate);
          return 0;
        }
    }
  return isola_error_fail (err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

/* --- the child ------------------------------------------------------------------------------------------------ */

struct child
{
  const struct spawn_spec *spec;
  bool joined; /* cloned by spawn_in_user_namespace's helper, in the namespaces it joined */
  int report_fd;
  int go_fd; /* readable once the monitor has moved us into the container's cgroups */
  int null_fd;
  struct exec_user user;
};

/* Waits until the parent has placed us in the container's cgroups, then enters a cgroup namespace rooted there. */
static int
wait_for_cgroups (int go_fd, bool private_cgroupns, isola_error_t *err)
{
  char c;
  ssize_t n;
  do
    n = read (go_fd, &c, 1);
  while (n < 0 && errno == EINTR);
  close (go_fd);
  if (n != 1)
    return isola_error_fail (err, EIO, "the monitor did not place the container in its cgroups");
  trace_mark ("container: released");
  if (private_cgroupns && unshare (CLONE_NEWCGROUP) < 0)
    return isola_error_make (err, errno, "unshare the cgroup namespace");
  return 0;
}

/* Everything between clone and the lookup of the command; failures here are setup failures. */
/* The last steps before exec, shared by the first process and exec'd ones: limits, no_new_privs, seccomp, user and
   capabilities, stdio. */
static int
drop_privileges_and_set_stdio (const struct spawn_spec *spec, const struct exec_user *user, int null_fd,
                               isola_error_t *err)
{
  int ret = apply_rlimits (spec, err);
  if (ret == 0)
    ret = set_no_new_privileges (spec->no_new_privileges, err);
  /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which become_user may drop: load it first. */
  if (ret == 0 && !spec->no_new_privileges)
    ret = seccomp_program_install (spec->seccomp, err);
  if (ret == 0)
    ret = become_user (user, spec->cap_keep, err);
  if (ret == 0)
    ret = setup_stdio (spec, null_fd, err);
  return ret;
}

/* Another container's IPC or UTS namespace (and a network namespace given by path), joined before anything is
   mounted (/dev/mqueue shows the IPC
   namespace of whoever mounts it).  The PID namespace is the parent's business: it takes effect for children. */
static int
join_namespaces (const struct spawn_spec *spec, isola_error_t *err)
{
  if (spec->ipc.mode == SPAWN_NS_JOIN && setns (spec->ipc.fd, CLONE_NEWIPC) < 0)
    return isola_error_make (err, errno, "join the IPC namespace");
  if (spec->uts.mode == SPAWN_NS_JOIN && setns (spec->uts.fd, CLONE_NEWUTS) < 0)
    return isola_error_make (err, errno, "join the UTS namespace");
  if (spec->netns_fd > 0 && !spec->host_network && setns (spec->netns_fd, CLONE_NEWNET) < 0)
    return isola_error_make (err, errno, "join the network namespace");
  return 0;
}

static int
child_setup (struct child *c, isola_error_t *err)
{
  const struct spawn_spec *spec = c->spec;
  const char *cwd = spec->cwd && spec->cwd[0] ? spec->cwd : "/";
  int rootfd = -1;
  int ret = c->joined ? 0 : join_namespaces (spec, err);
  if (ret == 0)
    ret = build_rootfs (spec, &rootfd, err);
  if (ret == 0)
    ret = enter_rootfs (rootfd, err);
  if (ret == 0 && (c->null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
    ret = isola_error_make (err, errno, "open /dev/null in the container");
  if (ret == 0 && spec->uts.mode == SPAWN_NS_PRIVATE)
    ret = set_hostname (spec->hostname, err);
  if (ret == 0 && !spec->host_network)
    ret = bring_loopback_up (err);
  if (ret == 0)
    ret = resolve_user (spec->user, spec->group_add, &c->user, err);
  if (ret == 0)
    ret = make_workdir (cwd, &c->user, err);
  if (ret == 0 && spec->readonly_rootfs)
    ret = make_root_readonly (err);
  if (ret == 0 && chdir (cwd) < 0)
    ret = isola_error_make (err, errno, "chdir to cwd (\"%s\")", cwd);
  /* Entering a v1 cgroup costs an RCU grace period (cgroup.h): the monitor does it while we build the root, and
     we wait only now, before anything the limits are for runs. */
  if (ret == 0)
    ret = wait_for_cgroups (c->go_fd, spec->cgroupns.mode == SPAWN_NS_PRIVATE, err);
  if (ret == 0)
    ret = drop_privileges_and_set_stdio (spec, &c->user, c->null_fd, err);
  return ret;
}

/* Blocks until `start` opens the fifo for reading, then tells it we go on: runc's exec.fifo.  Opened through
   /proc/self/fd, since the fd may be O_PATH; /proc is the container's now, and shows our own descriptors. */
static int
wait_exec_gate (int gate_fd)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/self/fd/%d", gate_fd);
  int fd;
  do
    fd = open (path, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -errno;
  ssize_t n = write (fd, "0", 1);
  close (fd);
  close (gate_fd);
  return n == 1 ? 0 : -EIO;
}

/* In a user namespace of its own, the child's credentials are still the host's root, which the namespace does not
   map: it waits for the parent to write the maps, then becomes the namespace's root (its full capabilities there
   stay), so that what it creates belongs to the mapped range. */
static int
become_userns_root (int go_fd, isola_error_t *err)
{
  char c;
  ssize_t n;
  do
    n = read (go_fd, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || c != 'm')
    return isola_error_fail (err, EIO, "the user namespace's uid and gid maps were not written");
  if (setgroups (0, NULL) < 0 || setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0)
    return isola_error_make (err, errno, "become root in the user namespace");
  return 0;
}

/* In a user namespace joined by path, the helper's credentials are the host's root, which the namespace does not
   map: the process becomes the namespace's root.  Its supplementary groups go too, unless the namespace's owner
   denied setgroups (then they stay, unmapped, as with runc). */
static int
become_joined_root (isola_error_t *err)
{
  if (setgroups (0, NULL) < 0 && errno != EPERM)
    return isola_error_make (err, errno, "drop the supplementary groups in the user namespace");
  if (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0)
    return isola_error_make (err, errno, "become root in the user namespace (its maps must have uid and gid 0)");
  return 0;
}

static __attribute__ ((noreturn)) void
child_main (const struct spawn_spec *spec, bool joined, int report_fd, int go_fd)
{
  isola_error_t err = NULL;
  struct child c = { .spec = spec, .joined = joined, .report_fd = report_fd, .go_fd = go_fd, .null_fd = -1 };
  trace_mark ("container: cloned");
  spawn_reset_signals ();
  if (spec->signals_blocked)
    {
      sigset_t all;
      sigfillset (&all);
      (void)sigprocmask (SIG_SETMASK, &all, NULL);
    }
  /* Nothing of the monitor's (log files, sockets, other containers' pipes) may reach the command. */
  if (close_range (3 + spec->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    child_fail (report_fd, REPORT_SETUP_FAILED, isola_error_make (&err, errno, "close_range"), &err);
  /* Modes are set exactly while building the container; the command gets Docker's 022. */
  umask (0);

  int ret = spec->uid_map ? become_userns_root (go_fd, &err) : joined ? become_joined_root (&err) : 0;
  if (ret == 0)
    ret = child_setup (&c, &err);
  if (ret < 0)
    child_fail (report_fd, REPORT_SETUP_FAILED, ret, &err);

  char **env = exec_env (spec->env, c.user.home);
  char *path = NULL;
  ret = find_executable (spec->argv[0], env, &path, &err);
  if (ret < 0)
    child_fail (report_fd, REPORT_EXEC_FAILED, ret, &err);
  umask (022);
  /* Set last: a change of credentials clears it.  The container dies with its monitor, never outlives it. */
  if (!spec->outlive_parent && prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
    child_fail (report_fd, REPORT_SETUP_FAILED, isola_error_make (&err, errno, "set the parent-death signal"), &err);
  report_send (report_fd, REPORT_EXEC_STARTING, 0, NULL);
  if (spec->exec_gate_fd > 0)
    {
      /* The parent returns at the pipe's end: it is closed now, and what fails later only ends the process. */
      (void)close (report_fd);
      report_fd = -1;
      if (wait_exec_gate (spec->exec_gate_fd) < 0)
        _exit (125);
    }
  /* With no_new_privs any process may load a filter, so it comes last and constrains only the command.  The parent
     reads until the pipe closes, so a failure reported after "exec starting" still counts. */
  if (spec->no_new_privileges && seccomp_program_install (spec->seccomp, &err) < 0)
    child_fail (report_fd, REPORT_SETUP_FAILED, -EIO, &err);
  trace_mark ("container: exec");
  execve (path, spec->argv, env);
  int saved = errno;
  char buf[128];
  ret = isola_error_fail (&err, saved, "exec: \"%s\": %s", spec->argv[0], go_strerror (saved, buf, sizeof (buf)));
  child_fail (report_fd, REPORT_EXEC_FAILED, ret, &err);
}

/* --- the parent ----------------------------------------------------------------------------------------------- */

/* fork(2) semantics (no new stack): the child continues on a copy of this stack, so it can use the whole library,
   and as the first process of its pid namespace it is pid 1 there.  It is born in the container's v2 cgroup when
   there is one (see cgroup.h for why); *into_cgroup says whether that happened. */
static pid_t
clone_container_process (const struct spawn_spec *spec, bool joined, bool *into_cgroup)
{
  /* No CLONE_NEWCGROUP here: the child unshares it once it is in all its cgroups, so that its cgroup namespace is
     rooted at the container's cgroup (a namespace made by clone3 is rooted at the parent's). */
  uint64_t flags = CLONE_NEWNS | (joined ? CLONE_PARENT : 0);
  if (spec->pid.mode == SPAWN_NS_PRIVATE)
    flags |= CLONE_NEWPID;
  if (spec->uts.mode == SPAWN_NS_PRIVATE)
    flags |= CLONE_NEWUTS;
  if (spec->ipc.mode == SPAWN_NS_PRIVATE)
    flags |= CLONE_NEWIPC;
  if (!spec->host_network && spec->netns_fd <= 0)
    flags |= CLONE_NEWNET;
  /* With the others, so that the new namespaces belong to it (its root may mount proc, sysfs, mqueue there). */
  if (spec->uid_map)
    flags |= CLONE_NEWUSER;
  *into_cgroup = false;
  if (spec->cgroup && spec->cgroup->dir_fd >= 0)
    {
      struct clone_args args = {
        .flags = flags | CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)spec->cgroup->dir_fd,
      };
      long pid = syscall (SYS_clone3, &args, sizeof args);
      if (pid >= 0 || (errno != ENOSYS && errno != E2BIG))
        {
          *into_cgroup = pid >= 0;
          return (pid_t)pid;
        }
    }
  return (pid_t)syscall (SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

struct child_outcome
{
  bool exec_starting;
  enum report_kind failure; /* 0 when none */
  int status;
  char *msg;
};

/* Reads reports until the pipe closes: at the child's execve, or its death. */
static int
read_reports (int fd, struct child_outcome *out)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_fd_bounded (fd, 4 * PIPE_BUF, &buf, &len, NULL);
  if (ret < 0)
    return ret;
  for (size_t off = 0; off + sizeof (struct report_header) <= len;)
    {
      struct report_header h;
      memcpy (&h, buf + off, sizeof (h));
      off += sizeof (h);
      if (h.len > len - off)
        return -EPROTO;
      if (h.kind == REPORT_EXEC_STARTING)
        out->exec_starting = true;
      else if (out->failure == 0)
        {
          out->failure = (enum report_kind)h.kind;
          out->status = h.status > 0 ? h.status : EIO;
          out->msg = strndup (buf + off, h.len);
        }
      off += h.len;
    }
  return 0;
}

/* Setup failures must not look like a missing or unrunnable command, which callers map to exit codes 127 and
   126: their errno becomes EIO, and the real cause stays in the message. */
static int
setup_failure_status (int status)
{
  return status == ENOENT || status == EACCES || status == ENOEXEC ? EIO : status;
}

static int
child_died_error (pid_t pid, isola_error_t *err)
{
  int status = 0;
  if (waitpid_retry (pid, &status) < 0)
    return isola_error_make (err, errno, "wait for the container process");
  if (WIFSIGNALED (status))
    return isola_error_fail (err, EIO, "container process killed by signal %d during setup", WTERMSIG (status));
  return isola_error_fail (err, EIO, "container process exited with status %d during setup", WEXITSTATUS (status));
}

static int
outcome_error (pid_t pid, const struct child_outcome *o, isola_error_t *err)
{
  if (o->failure == 0)
    return child_died_error (pid, err);
  int status = 0;
  (void)waitpid_retry (pid, &status);
  int errnum = o->failure == REPORT_EXEC_FAILED ? o->status : setup_failure_status (o->status);
  return isola_error_fail (err, errnum, "%s", o->msg ? o->msg : "container setup failed");
}

static int
write_pid (int fd, pid_t pid, const char *what, isola_error_t *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", (int)pid);
  if (fd < 0 || write_all (fd, buf, (size_t)n) < 0)
    return isola_error_make (err, errno, "move the container process into `%s`", what);
  return 0;
}

/* The child's user namespace's maps, from the parent (root of the host's namespace may map any range). */
static int
write_id_maps (pid_t pid, const struct spawn_spec *spec, isola_error_t *err)
{
  const char *files[] = { "uid_map", "gid_map" }, *maps[] = { spec->uid_map, spec->gid_map };
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    {
      char path[64];
      snprintf (path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
      cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, maps[i], strlen (maps[i])) != (ssize_t)strlen (maps[i]))
        return isola_error_make (err, errno, "write the user namespace's %s", files[i]);
    }
  return 0;
}

/* The cgroups the child was not born in: v1 ones for limits, and the v2 one on kernels without clone3. */
static int
join_cgroups (pid_t pid, const struct cgroup_placement *cg, bool into_cgroup, isola_error_t *err)
{
  if (cg == NULL)
    return 0;
  if (cg->dir_fd >= 0 && !into_cgroup)
    {
      cleanup_close int fd = openat (cg->dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
      int ret = write_pid (fd, pid, "cgroup.procs", err);
      if (ret < 0)
        return ret;
    }
  for (size_t i = 0; cg->procs && cg->procs[i]; i++)
    {
      cleanup_close int fd = open (cg->procs[i], O_WRONLY | O_CLOEXEC);
      int ret = write_pid (fd, pid, cg->procs[i], err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* Docker's default device rules and the --device nodes, on the cgroup the process is cloned into (or, on a pure v1
   host, on its v1 devices cgroup, which it joins before it runs), before it runs. */
static int
limit_devices (const struct spawn_spec *spec, isola_error_t *err)
{
  struct device_rule *extra = xcalloc (spec->n_devices + 1, sizeof *extra);
  for (size_t i = 0; i < spec->n_devices; i++)
    {
      const struct spawn_device *d = &spec->devices[i];
      extra[i] = (struct device_rule){ .type = S_ISBLK (d->mode) ? 'b' : 'c',
                                       .major = major (d->rdev),
                                       .minor = minor (d->rdev),
                                       .access = d->cgroup_access ? d->cgroup_access : DEVICE_RWM };
    }
  size_t n;
  struct device_rule *rules = device_rules_default (extra, spec->n_devices, &n);
  int ret = spec->cgroup->dir_fd >= 0 ? devices_limit (spec->cgroup->dir_fd, rules, n, err)
                                      : devices_limit_v1 (spec->cgroup->devices_v1, rules, n, err);
  free (rules);
  free (extra);
  return ret;
}

static int
validate_spec (const struct spawn_spec *spec, isola_error_t *err)
{
  if (spec->argv == NULL || spec->argv[0] == NULL)
    return isola_error_fail (err, EINVAL, "no command specified");
  if ((spec->uid_map == NULL) != (spec->gid_map == NULL))
    return isola_error_fail (err, EINVAL, "a user namespace needs both a uid and a gid map");
  if (spec->root_dir)
    return 0;
  if ((spec->store == NULL && spec->lower == NULL) || spec->upper == NULL || spec->work == NULL || spec->rootfs == NULL)
    return isola_error_fail (err, EINVAL, "incomplete root file system specification");
  return 0;
}

/* Clones the container's first process and waits for its exec (or its failure).  in_helper: in the helper of
   spawn_in_user_namespace, which has joined the cgroups and the namespaces given by path; the process is cloned as
   the helper's parent's child. */
static int
clone_and_wait (const struct spawn_spec *spec, bool in_helper, pid_t *pid_out, isola_error_t *err)
{
  int ret;
  int p[2], g[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  cleanup_close int report_r = p[0];
  cleanup_close int report_w = p[1];
  /* A socket, not a pipe: the child may fail and exit before our go, and a write to a pipe without a reader would
     raise SIGPIPE in whoever links the library (send's MSG_NOSIGNAL gives EPIPE instead). */
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g) < 0)
    return isola_error_make (err, errno, "socketpair");
  cleanup_close int go_r = g[0];
  cleanup_close int go_w = g[1];

  bool into_cgroup;
  cleanup_close int own_pid_ns = -1;
  if (spec->pid.mode == SPAWN_NS_JOIN && !in_helper)
    {
      /* The child is born in the other container's PID namespace; ours is restored for our later children. */
      own_pid_ns = open ("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
      if (own_pid_ns < 0)
        return isola_error_make (err, errno, "open /proc/self/ns/pid_for_children");
      if (setns (spec->pid.fd, CLONE_NEWPID) < 0)
        return isola_error_make (err, errno, "join the PID namespace");
    }
  pid_t pid = clone_container_process (spec, in_helper, &into_cgroup);
  int clone_errno = errno;
  if (own_pid_ns >= 0 && pid != 0 && setns (own_pid_ns, CLONE_NEWPID) < 0)
    {
      clone_errno = errno;
      if (pid > 0)
        (void)kill (pid, SIGKILL), (void)waitpid_retry (pid, NULL);
      return isola_error_make (err, clone_errno, "return to the monitor's PID namespace");
    }
  errno = clone_errno;
  if (pid < 0)
    return isola_error_make (err, errno, "clone the container process");
  if (pid == 0)
    {
      (void)close (take_fd (&report_r));
      (void)close (take_fd (&go_w));
      child_main (spec, in_helper, take_fd (&report_w), take_fd (&go_r));
    }

  (void)close (take_fd (&report_w));
  (void)close (take_fd (&go_r));
  /* The child builds its root meanwhile and may fail before it waits for us: then the write finds a closed pipe,
     and its report, read below, says why. */
  trace_mark ("monitor: cloned, joining cgroups");
  cleanup_error isola_error_t join_err = NULL;
  int joined = 0;
  /* Before the maps: until it becomes the namespace's root the process has our uids, which prlimit asks of us. */
  if (spec->uid_map)
    joined = spawn_set_rlimits (spec, pid, &join_err);
  if (spec->uid_map && joined == 0 && (joined = write_id_maps (pid, spec, &join_err)) == 0)
    (void)!send (go_w, "m", 1, MSG_NOSIGNAL);
  if (joined == 0)
    joined = join_cgroups (pid, spec->cgroup, into_cgroup, &join_err);
  trace_mark ("monitor: joined cgroups");
  if (joined < 0)
    (void)kill (pid, SIGKILL);
  else
    (void)!send (go_w, "g", 1, MSG_NOSIGNAL);
  (void)close (take_fd (&go_w));
  struct child_outcome o = { 0 };
  ret = read_reports (report_r, &o);
  if (ret == 0 && joined < 0 && o.failure == 0)
    {
      (void)waitpid_retry (pid, NULL);
      free (o.msg);
      if (err)
        *err = take_ptr (&join_err);
      return joined;
    }
  if (ret < 0)
    {
      (void)kill (pid, SIGKILL);
      (void)waitpid_retry (pid, NULL);
      free (o.msg);
      return isola_error_make (err, -ret, "read the container process's reports");
    }
  if (o.exec_starting && o.failure == 0)
    {
      *pid_out = pid;
      return 0;
    }
  ret = outcome_error (pid, &o, err);
  free (o.msg);
  return ret;
}

/* What spawn_in_user_namespace's helper tells its parent in one write: the process's pid (0 when none was cloned),
   the errno of its failure (0 for none) and the length of the message that follows.  Not read to the pipe's end:
   the process inherits the helper's end until it execs. */
struct joined_report
{
  int32_t pid;
  int32_t errnum;
  uint32_t len;
  char msg[PIPE_BUF - 3 * sizeof (int32_t)];
};

static int
join_own_cgroups (const struct cgroup_placement *cg, isola_error_t *err)
{
  int ret = 0;
  if (cg && cg->dir_fd >= 0)
    {
      cleanup_close int fd = openat (cg->dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
      ret = write_pid (fd, 0, "cgroup.procs", err);
    }
  for (size_t i = 0; ret == 0 && cg && cg->procs && cg->procs[i]; i++)
    {
      cleanup_close int fd = open (cg->procs[i], O_WRONLY | O_CLOEXEC);
      ret = write_pid (fd, 0, cg->procs[i], err);
    }
  return ret;
}

/* The helper: the namespaces given by path first, which the host's root may join whoever owns them (a pod's
   network namespace may be the host user namespace's), then the user namespace, whose root has no rights over the
   host's.  The first process inherits them all and the cgroups. */
static int
helper_join (const struct spawn_spec *spec, isola_error_t *err)
{
  int ret = join_own_cgroups (spec->cgroup, err);
  if (ret == 0)
    ret = spawn_set_rlimits (spec, 0, err);
  if (ret == 0)
    ret = join_namespaces (spec, err);
  if (ret == 0 && spec->pid.mode == SPAWN_NS_JOIN && setns (spec->pid.fd, CLONE_NEWPID) < 0)
    ret = isola_error_make (err, errno, "join the PID namespace");
  if (ret == 0 && setns (spec->userns_fd, CLONE_NEWUSER) < 0)
    ret = isola_error_make (err, errno, "join the user namespace");
  return ret;
}

static __attribute__ ((noreturn)) void
helper_main (const struct spawn_spec *spec, int report_fd)
{
  isola_error_t err = NULL;
  struct cgroup_placement joined_cgroup = { .dir_fd = -1 };
  char *no_procs[] = { NULL };
  struct spawn_spec inner = *spec;
  if (spec->cgroup)
    {
      joined_cgroup.procs = no_procs;
      joined_cgroup.view = spec->cgroup->view;
      inner.cgroup = &joined_cgroup;
    }
  pid_t pid = 0;
  int ret = helper_join (spec, &err);
  if (ret == 0)
    ret = clone_and_wait (&inner, true, &pid, &err);
  struct joined_report r = { .pid = pid, .errnum = ret < 0 ? (err ? err->status : -ret) : 0 };
  if (ret < 0 && err)
    r.len = (uint32_t)snprintf (r.msg, sizeof r.msg, "%s", err->msg);
  if (r.len >= sizeof r.msg)
    r.len = sizeof r.msg - 1;
  (void)write_all (report_fd, &r, offsetof (struct joined_report, msg) + r.len);
  _exit (0);
}

/* spawn_spec.userns_fd: the helper does the work and reports; the process it clones is ours (CLONE_PARENT). */
static int
spawn_in_user_namespace (const struct spawn_spec *spec, pid_t *pid_out, isola_error_t *err)
{
  if (spec->uid_map)
    return isola_error_fail (err, EINVAL, "a user namespace is either joined or given maps, not both");
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  cleanup_close int report_r = p[0];
  cleanup_close int report_w = p[1];
  pid_t helper = fork ();
  if (helper < 0)
    return isola_error_make (err, errno, "fork");
  if (helper == 0)
    {
      (void)close (take_fd (&report_r));
      helper_main (spec, take_fd (&report_w));
    }
  (void)close (take_fd (&report_w));
  struct joined_report r = { 0 };
  ssize_t n;
  do
    n = read (report_r, &r, sizeof r);
  while (n < 0 && errno == EINTR);
  (void)waitpid_retry (helper, NULL);
  if (n < (ssize_t)offsetof (struct joined_report, msg) || (size_t)n != offsetof (struct joined_report, msg) + r.len)
    return isola_error_fail (err, EIO, "the container's helper in the user namespace died");
  if (r.errnum == 0 && r.pid > 0)
    {
      *pid_out = r.pid;
      return 0;
    }
  if (r.pid > 0)
    (void)kill (r.pid, SIGKILL), (void)waitpid_retry (r.pid, NULL);
  return isola_error_fail (err, r.errnum > 0 ? r.errnum : EIO, "%.*s", (int)r.len, r.msg);
}

int
spawn_container (const struct spawn_spec *spec, pid_t *pid_out, isola_error_t *err)
{
  int ret = validate_spec (spec, err);
  if (ret == 0 && spec->cgroup && (spec->cgroup->dir_fd >= 0 || spec->cgroup->devices_v1) && !spec->all_devices)
    ret = limit_devices (spec, err);
  else if (ret == 0 && spec->cgroup && spec->cgroup->devices_v1)
    {
      /* A v1 list is inherited at mkdir, and a cgroup left by a crash keeps its own: --privileged opens them all. */
      static const struct device_rule all = { 'a', -1, -1, DEVICE_RWM };
      ret = devices_limit_v1 (spec->cgroup->devices_v1, &all, 1, err);
    }
  if (ret < 0)
    return ret;
  if (spec->userns_fd > 0)
    return spawn_in_user_namespace (spec, pid_out, err);
  return clone_and_wait (spec, false, pid_out, err);
}

int
spawn_failure_exit_code (int errnum)
{
  if (errnum == ENOENT)
    return 127;
  if (errnum == EACCES || errnum == ENOEXEC || errnum == EISDIR)
    return 126;
  return 125;
}

/* --- joining a running container (exec) ----------------------------------------------------------------------- */

int
spawn_join_setup (const struct spawn_spec *spec, char ***env_out, isola_error_t *err)
{
  const char *cwd = spec->cwd && spec->cwd[0] ? spec->cwd : "/";
  struct exec_user user;
  int ret = resolve_user (spec->user, spec->group_add, &user, err);
  int null_fd = ret == 0 ? open ("/dev/null", O_RDWR | O_CLOEXEC) : -1;
  if (ret == 0 && null_fd < 0)
    ret = isola_error_make (err, errno, "open /dev/null in the container");
  /* Unlike the first process's, an exec's working directory must exist, as with runc exec. */
  if (ret == 0 && chdir (cwd) < 0)
    ret = isola_error_make (err, errno, "chdir to cwd (\"%s\")", cwd);
  if (ret == 0)
    ret = drop_privileges_and_set_stdio (spec, &user, null_fd, err);
  if (ret == 0)
    *env_out = exec_env (spec->env, user.home);
  return ret;
}

int
spawn_exec_command (const struct spawn_spec *spec, char *const *env, bool *setup_failed, isola_error_t *err)
{
  cleanup_free char *path = NULL;
  *setup_failed = false;
  int ret = find_executable (spec->argv[0], env, &path, err);
  if (ret < 0)
    return ret;
  if (spec->no_new_privileges && (ret = seccomp_program_install (spec->seccomp, err)) < 0)
    {
      *setup_failed = true;
      return ret;
    }
  execve (path, spec->argv, env);
  int saved = errno;
  char buf[128];
  return isola_error_fail (err, saved, "exec: \"%s\": %s", spec->argv[0], go_strerror (saved, buf, sizeof (buf)));
}
