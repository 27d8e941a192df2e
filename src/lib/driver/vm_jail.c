/* The VM worker's jail (see vm_jail.h). */
#define _GNU_SOURCE
#include "driver/vm_jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"

/* Where the jail's tmpfs is mounted before it becomes the root (in the worker's own mount namespace only), and
   where the host's root is while the binds are made. */
#define JAIL_STAGE "/tmp"
#define JAIL_OLD   "/.isola-old-root"

/* --- in the monitor: what the worker sees --------------------------------------------------------------------- */

static void
add_bind (struct vm_jail *j, const char *path, bool writable, bool exec)
{
  for (size_t i = 0; i < j->n_binds; i++)
    if (strcmp (j->binds[i].path, path) == 0)
      {
        j->binds[i].writable |= writable;
        j->binds[i].exec |= exec;
        return;
      }
  j->binds = xrealloc (j->binds, (j->n_binds + 1) * sizeof *j->binds);
  j->binds[j->n_binds++] = (struct vm_jail_bind){ .path = xstrdup (path), .writable = writable, .exec = exec };
}

/* name as execvp finds it, its symbolic links resolved. */
static char *
program_path (const char *name)
{
  if (strchr (name, '/'))
    return realpath (name, NULL);
  const char *path = getenv ("PATH");
  cleanup_free char *dirs = xstrdup (path && path[0] ? path : "/usr/local/bin:/usr/bin:/bin");
  for (char *save = NULL, *d = strtok_r (dirs, ":", &save); d; d = strtok_r (NULL, ":", &save))
    {
      cleanup_free char *p = xasprintf ("%s/%s", d, name);
      if (access (p, X_OK) == 0)
        return realpath (p, NULL);
    }
  return NULL;
}

static bool
under_usr (const char *path)
{
  return path && str_has_prefix (path, "/usr/");
}

static int
cmp_binds (const void *a, const void *b)
{
  const struct vm_jail_bind *x = a, *y = b;
  return strcmp (x->path, y->path);
}

int
vm_jail_prepare (const struct vm_settings *vs, const struct vm_layout *l, const struct vm_instance *in,
                 struct vm_jail *j, isola_error_t *err)
{
  *j = (struct vm_jail){ .uid = vs->worker_uid_base + (uid_t)getpid (), .kvm = strcmp (vs->accel, "kvm") == 0 };
  j->gid = (gid_t)j->uid;
  j->caps = l->n_shares > 0 ? VM_JAIL_SHARE_CAPS : 0;
  add_bind (j, "/usr", false, true);
  /* QEMU outside /usr (ISOLA_QEMU=/opt/...): that file too; under /usr it is there already. */
  cleanup_free char *qemu = program_path (vs->qemu);
  if (qemu && !under_usr (qemu))
    add_bind (j, qemu, false, true);
  add_bind (j, vs->kernel, false, false);
  add_bind (j, vs->initrd, false, false);
  for (size_t i = 0; i < l->n_shares; i++)
    add_bind (j, in->shares[i].source, !in->shares[i].readonly, false);
  /* Parents before what is bound inside them. */
  qsort (j->binds, j->n_binds, sizeof *j->binds, cmp_binds);
  return 0;
}

void
vm_jail_clear (struct vm_jail *j)
{
  for (size_t i = 0; j->binds && i < j->n_binds; i++)
    free (j->binds[i].path);
  free (j->binds);
  *j = (struct vm_jail){ 0 };
}

/* --- in the worker, before exec ------------------------------------------------------------------------------- */

/* The directories of path (absolute, in the jail) down to its parent, made in the tmpfs where they are missing. */
static int
make_parents (const char *path, isola_error_t *err)
{
  char buf[PATH_MAX];
  if (strlen (path) >= sizeof buf)
    return isola_error_fail (err, ENAMETOOLONG, "path too long: `%s`", path);
  strcpy (buf, path);
  for (char *p = buf + 1; (p = strchr (p, '/')) != NULL; p++)
    {
      *p = '\0';
      if (mkdir (buf, 0755) < 0 && errno != EEXIST)
        return isola_error_make (err, errno, "mkdir `%s` in the VM's jail", buf);
      *p = '/';
    }
  return 0;
}

/* The host's path (under JAIL_OLD) bound at the same path in the jail, with the jail's mount flags. */
static int
bind_one (const char *path, bool writable, bool exec, bool dev, isola_error_t *err)
{
  cleanup_free char *source = xasprintf ("%s%s", JAIL_OLD, path);
  struct stat st;
  if (stat (source, &st) < 0)
    return isola_error_make (err, errno, "`%s` for the VM's jail", path);
  int ret = make_parents (path, err);
  if (ret < 0)
    return ret;
  struct stat here;
  if (lstat (path, &here) < 0)
    {
      if (S_ISDIR (st.st_mode) ? mkdir (path, 0755) < 0 : mknod (path, S_IFREG | 0600, 0) < 0)
        return isola_error_make (err, errno, "create `%s` in the VM's jail", path);
    }
  if (mount (source, path, NULL, MS_BIND | MS_REC, NULL) < 0)
    return isola_error_make (err, errno, "bind `%s` into the VM's jail", path);
  unsigned long flags
      = MS_BIND | MS_REMOUNT | MS_NOSUID | (writable ? 0 : MS_RDONLY) | (exec ? 0 : MS_NOEXEC) | (dev ? 0 : MS_NODEV);
  if (mount (NULL, path, NULL, flags, NULL) < 0)
    return isola_error_make (err, errno, "remount `%s` in the VM's jail", path);
  return 0;
}

/* /bin, /lib, /lib64, /sbin as the host has them: links into /usr (merged /usr), else read-only binds. */
static int
top_dirs (isola_error_t *err)
{
  static const char *const dirs[] = { "/bin", "/lib", "/lib64", "/sbin" };
  for (size_t i = 0; i < ARRAY_SIZE (dirs); i++)
    {
      cleanup_free char *source = xasprintf ("%s%s", JAIL_OLD, dirs[i]);
      char target[PATH_MAX];
      ssize_t n = readlink (source, target, sizeof target - 1);
      int ret = 0;
      if (n >= 0)
        {
          target[n] = '\0';
          if (symlink (target, dirs[i]) < 0)
            ret = isola_error_make (err, errno, "symlink `%s` in the VM's jail", dirs[i]);
        }
      else if (errno == EINVAL)
        ret = bind_one (dirs[i], false, true, false, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int
devices (bool kvm, isola_error_t *err)
{
  static const char *const devs[] = { "/dev/null", "/dev/zero", "/dev/random", "/dev/urandom" };
  for (size_t i = 0; i < ARRAY_SIZE (devs); i++)
    {
      int ret = bind_one (devs[i], true, false, true, err);
      if (ret < 0)
        return ret;
    }
  return kvm ? bind_one ("/dev/kvm", true, false, true, err) : 0;
}

/* A tmpfs becomes the root, the host's root stays at JAIL_OLD while the binds are made, then goes. */
static int
build_root (const struct vm_jail *j, isola_error_t *err)
{
  if (mount (NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    return isola_error_make (err, errno, "make the VM worker's mounts private");
  if (mount ("tmpfs", JAIL_STAGE, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m") < 0)
    return isola_error_make (err, errno, "mount the VM's jail");
  cleanup_free char *old = xasprintf ("%s%s", JAIL_STAGE, JAIL_OLD);
  if (mkdir (old, 0700) < 0 || chdir (JAIL_STAGE) < 0 || syscall (SYS_pivot_root, ".", &JAIL_OLD[1]) < 0
      || chdir ("/") < 0)
    return isola_error_make (err, errno, "pivot into the VM's jail");
  int ret = 0;
  for (size_t i = 0; ret == 0 && i < j->n_binds; i++)
    ret = bind_one (j->binds[i].path, j->binds[i].writable, j->binds[i].exec, false, err);
  if (ret == 0)
    ret = top_dirs (err);
  if (ret == 0)
    ret = devices (j->kvm, err);
  if (ret < 0)
    return ret;
  if (mkdir ("/proc", 0555) < 0 || mount ("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    return isola_error_make (err, errno, "mount /proc in the VM's jail");
  if (umount2 (JAIL_OLD, MNT_DETACH) < 0 || rmdir (JAIL_OLD) < 0)
    return isola_error_make (err, errno, "leave the host's root");
  if (mount (NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    return isola_error_make (err, errno, "make the VM's jail read-only");
  return 0;
}

static int
join_v1_cgroups (const struct cgroup_placement *cg, isola_error_t *err)
{
  for (size_t i = 0; cg && cg->procs && cg->procs[i]; i++)
    {
      /* "0" is the writer: our PID here is that of our own PID namespace. */
      cleanup_close int fd = open (cg->procs[i], O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, "0", 1) != 1)
        return isola_error_make (err, errno, "join `%s`", cg->procs[i]);
    }
  return 0;
}

static int
set_caps (uint64_t caps, isola_error_t *err)
{
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct d[2] = {
    { (uint32_t)caps, (uint32_t)caps, (uint32_t)caps },
    { (uint32_t)(caps >> 32), (uint32_t)(caps >> 32), (uint32_t)(caps >> 32) },
  };
  if (syscall (SYS_capset, &h, d) < 0)
    return isola_error_make (err, errno, "capset");
  return 0;
}

/* Bounding set first (that takes CAP_SETPCAP), then the user (KEEPCAPS keeps the permitted set across it), then
   exactly caps in every set; ambient ones so that they survive exec, since QEMU is no file with capabilities. */
static int
become_worker (const struct vm_jail *j, isola_error_t *err)
{
  for (int cap = 0; cap < 64; cap++)
    if (!(j->caps & (UINT64_C (1) << cap)) && prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      return isola_error_make (err, errno, "drop capability %d from the bounding set", cap);
  if (prctl (PR_SET_KEEPCAPS, j->caps ? 1 : 0, 0, 0, 0) < 0)
    return isola_error_make (err, errno, "prctl PR_SET_KEEPCAPS");
  if (setgroups (0, NULL) < 0 || setresgid (j->gid, j->gid, j->gid) < 0 || setresuid (j->uid, j->uid, j->uid) < 0)
    return isola_error_make (err, errno, "become the VM worker's user %u", (unsigned)j->uid);
  int ret = set_caps (j->caps, err);
  if (ret < 0)
    return ret;
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return isola_error_make (err, errno, "clear the ambient capabilities");
  for (int cap = 0; cap < 64; cap++)
    if ((j->caps & (UINT64_C (1) << cap)) && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return isola_error_make (err, errno, "keep capability %d", cap);
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return isola_error_make (err, errno, "prctl PR_SET_NO_NEW_PRIVS");
  return 0;
}

int
vm_jail_enter (const struct vm_jail *j, isola_error_t *err)
{
  int ret = join_v1_cgroups (j->cgroup, err);
  if (ret == 0)
    ret = build_root (j, err);
  if (ret == 0)
    ret = become_worker (j, err);
  return ret;
}

/* --- the worker ------------------------------------------------------------------------------------------------ */

/* fork(2) semantics in the worker's namespaces, born in its v2 cgroup when there is one (cgroup.h says why). */
static pid_t
clone_worker (const struct vm_jail *jail, bool *born_in)
{
  const struct cgroup_placement *cg = jail->cgroup;
  *born_in = false;
  if (cg && cg->dir_fd >= 0)
    {
      struct clone_args args = {
        .flags = VM_JAIL_CLONE_FLAGS | CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cg->dir_fd,
      };
      long pid = syscall (SYS_clone3, &args, sizeof args);
      if (pid >= 0 || (errno != ENOSYS && errno != E2BIG))
        {
          *born_in = pid >= 0;
          return (pid_t)pid;
        }
    }
  return (pid_t)syscall (SYS_clone, VM_JAIL_CLONE_FLAGS | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* Where clone3 is missing, the v2 cgroup is joined from outside. */
static int
join_v2_cgroup (pid_t pid, const struct vm_jail *jail, isola_error_t *err)
{
  const struct cgroup_placement *cg = jail->cgroup;
  if (cg == NULL || cg->dir_fd < 0)
    return 0;
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", (int)pid);
  cleanup_close int fd = openat (cg->dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write_all (fd, buf, (size_t)n) < 0)
    return isola_error_make (err, errno, "move the VM worker into its cgroup");
  return 0;
}

pid_t
vm_spawn_qemu (const struct vm_settings *vs, char **argv, const int *keep, size_t n, const char *log,
               const struct vm_jail *jail, isola_error_t *err)
{
  /* The child waits for its parent to check its cgroup: it must not run QEMU outside it. */
  int go[2];
  if (pipe2 (go, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  /* The child cannot see our PID from its PID namespace: it watches us through this (-1 on kernels before 5.3). */
  int parent = (int)syscall (SYS_pidfd_open, getpid (), 0);
  trace_mark ("monitor: VM worker cloning");
  bool born_in = false;
  pid_t pid = clone_worker (jail, &born_in);
  if (pid != 0 && parent >= 0)
    close (parent);
  if (pid < 0)
    {
      int e = errno;
      close (go[0]), close (go[1]);
      return isola_error_make (err, e, "clone the VM worker");
    }
  if (pid > 0)
    {
      close (go[0]);
      int ret = born_in ? 0 : join_v2_cgroup (pid, jail, err);
      if (ret == 0 && write (go[1], "g", 1) != 1)
        ret = isola_error_make (err, errno, "start the VM worker");
      close (go[1]);
      if (ret < 0)
        {
          kill (pid, SIGKILL);
          (void)waitpid_retry (pid, NULL);
          return ret;
        }
      return pid;
    }
  close (go[1]);
  trace_mark ("worker: cloned");
  /* The VM dies with its monitor, whatever happens to the monitor. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
    _exit (127);
  char c;
  if (read (go[0], &c, 1) != 1)
    _exit (127);
  close (go[0]);
  int null = open ("/dev/null", O_RDWR);
  int logfd = open (log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
  if (null < 0 || dup2 (null, 0) < 0 || dup2 (null, 1) < 0 || dup2 (logfd >= 0 ? logfd : null, 2) < 0)
    _exit (127);
  (void)close_range (3, ~0U, CLOSE_RANGE_CLOEXEC);
  for (size_t i = 0; i < n; i++)
    {
      int flags = fcntl (keep[i], F_GETFD);
      if (flags < 0 || fcntl (keep[i], F_SETFD, flags & ~FD_CLOEXEC) < 0)
        _exit (127);
    }
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  isola_error_t jerr = NULL;
  if (vm_jail_enter (jail, &jerr) < 0)
    {
      dprintf (2, "isola-vm: %s\n", jerr ? jerr->msg : "cannot enter the jail");
      _exit (127);
    }
  /* A change of user clears the parent-death signal: set again, and if the parent died meanwhile, go. */
  struct pollfd dead = { .fd = parent, .events = POLLIN };
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || (parent >= 0 && poll (&dead, 1, 0) != 0))
    _exit (127);
  trace_mark ("worker: jailed, exec QEMU");
  execvp (vs->qemu, argv);
  dprintf (2, "exec %s: %s\n", vs->qemu, strerror (errno));
  _exit (127);
}
