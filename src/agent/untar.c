/* `cp` into a running VM container: the agent's runner extracts a tar stream (proto/tarstream.h) from the exec
   session's stdin into a directory of the container.  The destination directory resolves inside the container's
   root (RESOLVE_IN_ROOT, from /proc/PID/root of its first process, so its mounts are there too), and every path
   below it resolves without following any symlink (RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH): what the container
   holds can neither lead the copy out of its root nor redirect it, even while its processes run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent.h"
#include "base/util.h"
#include "proto/tarstream.h"

static int
openat2_dir (int dirfd, const char *path, uint64_t resolve)
{
  struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC, .resolve = resolve };
  return (int)syscall (SYS_openat2, dirfd, path[0] ? path : ".", &how, sizeof how);
}

static ssize_t
read_fd (void *ctx, void *buf, size_t len)
{
  int fd = *(int *)ctx;
  for (;;)
    {
      ssize_t n = read (fd, buf, len);
      if (n >= 0 || errno != EINTR)
        return n < 0 ? -errno : n;
    }
}

/* The parent directory of rel below dst, never through a symlink, and rel's last element. */
static int
open_parent (int dst, const char *rel, const char **base)
{
  const char *slash = strrchr (rel, '/');
  *base = slash ? slash + 1 : rel;
  cleanup_free char *dir = slash ? xasprintf ("%.*s", (int)(slash - rel), rel) : xstrdup (".");
  return openat2_dir (dst, dir, RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

/* Makes room for a new non-directory: whatever non-directory is there goes (a symlink is removed, not followed). */
static int
clear_name (int dirfd, const char *base, const char *rel, isola_error_t *err)
{
  struct stat st;
  if (fstatat (dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : isola_error_make (err, errno, "stat %s", rel);
  if (S_ISDIR (st.st_mode))
    return isola_error_fail (err, EISDIR, "cannot overwrite directory %s with non-directory", rel);
  if (unlinkat (dirfd, base, 0) < 0)
    return isola_error_make (err, errno, "remove %s", rel);
  return 0;
}

static int
write_file (struct tar_reader *r, int dirfd, const char *base, const struct tar_entry_header *h, isola_error_t *err)
{
  cleanup_close int fd = openat (dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return isola_error_make (err, errno, "create %s", h->path);
  char buf[65536];
  ssize_t n;
  while ((n = tar_reader_data (r, buf, sizeof buf)) > 0)
    if (write_all (fd, buf, (size_t)n) < 0)
      return isola_error_make (err, errno, "write %s", h->path);
  if (n < 0)
    return isola_error_fail (err, (int)-n, "the tar stream ended in %s", h->path);
  if (fchown (fd, h->uid, h->gid) < 0 || fchmod (fd, h->mode) < 0)
    return isola_error_make (err, errno, "set the owner and mode of %s", h->path);
  struct timespec t[2] = { { h->mtime, 0 }, { h->mtime, 0 } };
  (void)futimens (fd, t);
  return 0;
}

static int
make_entry (struct tar_reader *r, int dst, const struct tar_entry_header *h, isola_error_t *err)
{
  const char *base;
  if (strcmp (h->path, ".") == 0)
    return 0; /* the destination itself exists */
  cleanup_close int dirfd = open_parent (dst, h->path, &base);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open the directory of %s (a symlink on the way is refused)", h->path);
  int ret = 0;
  if (h->type == '5')
    {
      struct stat st;
      if (mkdirat (dirfd, base, 0700) < 0 && errno != EEXIST)
        return isola_error_make (err, errno, "mkdir %s", h->path);
      if (fstatat (dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR (st.st_mode))
        return isola_error_fail (err, ENOTDIR, "cannot overwrite non-directory %s with directory", h->path);
      cleanup_close int fd = openat (dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 || fchown (fd, h->uid, h->gid) < 0 || fchmod (fd, h->mode) < 0)
        return isola_error_make (err, errno, "set the owner and mode of %s", h->path);
      return 0;
    }
  if ((ret = clear_name (dirfd, base, h->path, err)) < 0)
    return ret;
  if (h->type == '0')
    return write_file (r, dirfd, base, h, err);
  if (h->type == '2')
    ret = symlinkat (h->linkpath, dirfd, base);
  else if (h->type == '1')
    {
      const char *tbase;
      cleanup_close int tdir = open_parent (dst, h->linkpath, &tbase);
      ret = tdir < 0 ? -1 : linkat (tdir, tbase, dirfd, base, 0);
      return ret < 0 ? isola_error_make (err, errno, "link %s to %s", h->path, h->linkpath) : 0;
    }
  else
    {
      mode_t type = h->type == '3' ? S_IFCHR : h->type == '4' ? S_IFBLK : S_IFIFO;
      ret = mknodat (dirfd, base, type | (h->mode & 07777), makedev (h->devmajor, h->devminor));
    }
  if (ret < 0)
    return isola_error_make (err, errno, "create %s", h->path);
  if (fchownat (dirfd, base, h->uid, h->gid, AT_SYMLINK_NOFOLLOW) < 0)
    return isola_error_make (err, errno, "set the owner of %s", h->path);
  if (h->type != '2' && fchmodat (dirfd, base, h->mode, 0) < 0)
    return isola_error_make (err, errno, "set the mode of %s", h->path);
  return 0;
}

int
agent_untar (pid_t container_pid, const char *dir, int in_fd, isola_error_t *err)
{
  cleanup_free char *root_path = xasprintf ("/proc/%d/root", (int)container_pid);
  cleanup_close int root = open (root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return isola_error_make (err, errno, "open the container's root");
  const char *rel = dir;
  while (*rel == '/')
    rel++;
  cleanup_close int dst = openat2_dir (root, rel, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (dst < 0)
    return isola_error_make (err, errno, "open %s in the container", dir);
  struct tar_reader r;
  tar_reader_init (&r, read_fd, &in_fd);
  struct tar_entry_header *h = xcalloc (1, sizeof *h);
  int ret;
  while ((ret = tar_reader_next (&r, h, err)) == 1)
    if ((ret = make_entry (&r, dst, h, err)) < 0)
      break;
  free (h);
  return ret < 0 ? ret : 0;
}
