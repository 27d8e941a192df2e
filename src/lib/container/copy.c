#define _GNU_SOURCE
#include "container/copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "container/layer.h"
#include "driver/driver.h"
#include "image/changes.h"
#include "proto/attach.h"
#include "proto/attach_client.h"
#include "sandbox/spawn.h"

/* An errno as Go's syscall package spells it ("no such file or directory"), as the docker CLI prints it. */
static char *
go_strerror (int e)
{
  char *s = xstrdup (strerror (e));
  if (s[0] >= 'A' && s[0] <= 'Z')
    s[0] = (char)(s[0] - 'A' + 'a');
  return s;
}

/* --- Docker's path rules (pkg/archive/copy.go) ---------------------------------------------------------------- */

/* Go's filepath.Clean. */
static char *
clean_path (const char *p)
{
  bool rooted = p[0] == '/';
  char **parts = xcalloc (1, sizeof (char *));
  cleanup_free char *copy = xstrdup (p);
  char *save = NULL;
  for (char *t = strtok_r (copy, "/", &save); t; t = strtok_r (NULL, "/", &save))
    {
      size_t n = strv_len (parts);
      if (strcmp (t, ".") == 0)
        continue;
      if (strcmp (t, "..") == 0 && n > 0 && strcmp (parts[n - 1], "..") != 0)
        {
          free (parts[n - 1]);
          parts[n - 1] = NULL;
          continue;
        }
      if (strcmp (t, "..") == 0 && rooted)
        continue;
      strv_push (&parts, t);
    }
  cleanup_free char *out = xstrdup (rooted ? "/" : "");
  for (size_t i = 0; parts[i]; i++)
    {
      char *next = xasprintf ("%s%s%s", out, i > 0 ? "/" : "", parts[i]);
      free (out);
      out = next;
    }
  strv_free (parts);
  if (out[0] == '\0')
    return xstrdup (".");
  return take_ptr (&out);
}

static bool
specifies_current_dir (const char *p)
{
  size_t n = strlen (p);
  return strcmp (p, ".") == 0 || (n >= 2 && strcmp (p + n - 2, "/.") == 0);
}

static bool
asserts_directory (const char *p)
{
  size_t n = strlen (p);
  return (n > 0 && p[n - 1] == '/') || specifies_current_dir (p);
}

/* SplitPathDirEntry: the cleaned path's directory and last element, "." for a path ending in "/.". */
static void
split_entry (const char *p, char **dir, char **base)
{
  cleanup_free char *c = clean_path (p);
  if (specifies_current_dir (p))
    {
      *dir = take_ptr (&c);
      *base = xstrdup (".");
      return;
    }
  char *slash = strrchr (c, '/');
  if (slash == NULL)
    *dir = xstrdup ("."), *base = xstrdup (c);
  else if (slash == c)
    *dir = xstrdup ("/"), *base = xstrdup (c[1] ? c + 1 : ".");
  else
    *dir = xasprintf ("%.*s", (int)(slash - c), c), *base = xstrdup (slash + 1);
}

/* A directory of the container, resolved inside its root. */
static int
open_in_root (int rootfd, const char *path, int *fd_out)
{
  const char *rel = path[0] == '/' ? path + 1 : path;
  int fd
      = openat2_scoped (rootfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0)
    return fd;
  *fd_out = fd;
  return 0;
}

/* An entry of the container: its directory resolved in its root, its last element not followed. */
struct entry
{
  int dirfd;
  char *name; /* in dirfd: "." for a path that names a directory with a trailing "/" or "/." */
  char *base; /* Docker's name for it: the path's last element, "." for "/." */
  struct stat st;
};

static void
entry_clear (struct entry *e)
{
  if (e->dirfd >= 0)
    close (e->dirfd);
  free (e->name), free (e->base);
  e->dirfd = -1, e->name = e->base = NULL;
}

static int
container_entry (int rootfd, const char *path, struct entry *e)
{
  cleanup_free char *abs = xasprintf ("/%s", path), *dir = NULL;
  split_entry (abs, &dir, &e->base);
  e->dirfd = -1;
  /* A trailing slash follows a last symlink (inside the root), as the kernel's path walk does. */
  bool whole = asserts_directory (path);
  e->name = xstrdup (whole ? "." : e->base);
  int r = open_in_root (rootfd, whole ? abs : dir, &e->dirfd);
  if (r == 0 && fstatat (e->dirfd, e->name, &e->st, AT_SYMLINK_NOFOLLOW) < 0)
    r = -errno;
  if (r == 0 && asserts_directory (path) && !S_ISDIR (e->st.st_mode))
    r = -ENOTDIR;
  return r;
}

/* --- writing files: libarchive's secure extraction in a directory -------------------------------------------- */

static struct archive *
disk_writer (bool owner)
{
  struct archive *a = archive_write_disk_new ();
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS
              | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
  archive_write_disk_set_options (a, flags | (owner ? ARCHIVE_EXTRACT_OWNER : 0));
  return a;
}

/* Copies an entry (dirfd, name) into the directory dst_dirfd as `as`. */
static int
copy_entry_into (int dst_dirfd, bool owner, int uid, int src_dirfd, const char *name, const char *as,
                 isola_error_t *err)
{
  cleanup_close int cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || fchdir (dst_dirfd) < 0)
    return isola_error_make (err, errno, "enter the destination directory");
  struct archive *a = disk_writer (owner);
  int ret = tree_copy (a, src_dirfd, name, as, uid, err);
  if (ret == 0 && archive_write_close (a) != ARCHIVE_OK)
    ret = isola_error_fail (err, EIO, "%s", archive_error_string (a));
  archive_write_free (a);
  if (fchdir (cwd) < 0 && ret == 0)
    ret = isola_error_make (err, errno, "return to the working directory");
  return ret;
}

/* A tar stream (untrusted) extracted into dst_dirfd; owner 0 for every entry unless keep_ids. */
static int
extract_stream (int dst_dirfd, bool keep_ids, int in_fd, isola_error_t *err)
{
  cleanup_close int cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || fchdir (dst_dirfd) < 0)
    return isola_error_make (err, errno, "enter the destination directory");
  struct archive *in = archive_read_new ();
  archive_read_support_filter_all (in);
  archive_read_support_format_tar (in);
  struct archive *out = disk_writer (true);
  struct archive_entry *e;
  int ret = 0, r;
  if (archive_read_open_fd (in, in_fd, 65536) != ARCHIVE_OK)
    ret = isola_error_fail (err, EINVAL, "%s", archive_error_string (in));
  while (ret == 0 && (r = archive_read_next_header (in, &e)) == ARCHIVE_OK)
    {
      if (!keep_ids)
        archive_entry_set_uid (e, 0), archive_entry_set_gid (e, 0);
      archive_entry_set_uname (e, NULL), archive_entry_set_gname (e, NULL);
      if (archive_write_header (out, e) != ARCHIVE_OK)
        {
          ret = isola_error_fail (err, EIO, "%s", archive_error_string (out));
          break;
        }
      const void *buf;
      size_t len;
      la_int64_t off;
      while ((r = archive_read_data_block (in, &buf, &len, &off)) == ARCHIVE_OK)
        if (archive_write_data_block (out, buf, len, off) < 0)
          {
            ret = isola_error_fail (err, EIO, "%s", archive_error_string (out));
            break;
          }
      if (ret == 0 && r != ARCHIVE_EOF)
        ret = isola_error_fail (err, EINVAL, "%s", archive_error_string (in));
    }
  if (ret == 0 && r != ARCHIVE_EOF)
    ret = isola_error_fail (err, EINVAL, "%s", archive_error_string (in));
  if (ret == 0 && archive_write_close (out) != ARCHIVE_OK)
    ret = isola_error_fail (err, EIO, "%s", archive_error_string (out));
  archive_write_free (out);
  archive_read_free (in);
  if (fchdir (cwd) < 0 && ret == 0)
    ret = isola_error_make (err, errno, "return to the working directory");
  return ret;
}

static int
tar_to_fd (int fd, int src_dirfd, const char *name, const char *as, isola_error_t *err)
{
  struct archive *a = archive_write_new ();
  archive_write_set_format_pax_restricted (a);
  int ret = 0;
  if (archive_write_open_fd (a, fd) != ARCHIVE_OK)
    ret = isola_error_fail (err, EIO, "%s", archive_error_string (a));
  if (ret == 0)
    ret = tree_copy (a, src_dirfd, name, as, -1, err);
  if (ret == 0 && archive_write_close (a) != ARCHIVE_OK)
    ret = isola_error_fail (err, EIO, "%s", archive_error_string (a));
  archive_write_free (a);
  return ret;
}

/* --- PrepareArchiveCopy: where a source goes, and under which name ------------------------------------------ */

struct dest_info
{
  const char *path;
  bool exists, is_dir;
};

/* *dir_out: the directory to write in; *as_out: the name the source takes there. */
static int
prepare_copy (bool src_is_dir, const char *src_base, const struct dest_info *d, char **dir_out, char **as_out,
              isola_error_t *err)
{
  char *dst_dir, *dst_base;
  split_entry (d->path, &dst_dir, &dst_base);
  if (d->exists && d->is_dir)
    {
      free (dst_dir), free (dst_base);
      *dir_out = xstrdup (d->path), *as_out = xstrdup (src_base);
      return 0;
    }
  int ret = 0;
  if (d->exists && src_is_dir)
    ret = isola_error_fail (err, EISDIR, "cannot copy directory");
  else if (!d->exists && !src_is_dir && asserts_directory (d->path))
    ret = isola_error_fail (err, ENOENT, "no such directory");
  if (ret < 0)
    {
      free (dst_dir), free (dst_base);
      return ret;
    }
  *dir_out = dst_dir, *as_out = dst_base;
  return 0;
}

/* --- out of the container ------------------------------------------------------------------------------------ */

static int
no_such_path (const struct copy_options *o, const char *path, isola_error_t *err)
{
  return isola_error_fail (err, ENOENT, "No such container:path: %s:%s", o->label, path);
}

/* CopyInfoDestinationPath: the host destination, a symlink followed. */
static int
host_dest_info (const char *path, struct dest_info *d, isola_error_t *err)
{
  struct stat st;
  d->path = path;
  if (stat (path, &st) == 0)
    {
      d->exists = true, d->is_dir = S_ISDIR (st.st_mode);
      return 0;
    }
  if (errno != ENOENT)
    return isola_error_make (err, errno, "stat %s", path);
  cleanup_free char *dir = NULL, *base = NULL;
  split_entry (path, &dir, &base);
  if (stat (dir, &st) < 0)
    {
      int e = errno;
      cleanup_free char *msg = go_strerror (e);
      return isola_error_fail (err, e, "stat %s: %s", dir, msg);
    }
  if (!S_ISDIR (st.st_mode))
    return isola_error_fail (err, ENOTDIR, "not a directory");
  return 0;
}

static int
copy_out_from_root (int rootfd, const char *src, const char *dst, const struct copy_options *o, isola_error_t *err)
{
  struct entry e = { .dirfd = -1 };
  cleanup_free char *rebase = NULL, *followed = NULL;
  int r = container_entry (rootfd, src, &e);
  if (r == 0 && o->follow_link && S_ISLNK (e.st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (e.dirfd, e.name, target, sizeof target - 1);
      if (n > 0)
        {
          target[n] = '\0';
          cleanup_free char *abs = xasprintf ("/%s", src), *dir = NULL, *base = NULL;
          split_entry (abs, &dir, &base);
          followed = target[0] == '/' ? xstrdup (target) : xasprintf ("%s/%s", dir, target);
          rebase = take_ptr (&base);
          entry_clear (&e);
          r = container_entry (rootfd, followed, &e);
        }
    }
  if (r < 0)
    {
      entry_clear (&e);
      return no_such_path (o, src, err);
    }
  int ret;
  if (strcmp (dst, "-") == 0)
    ret = tar_to_fd (o->stdio_fd, e.dirfd, e.name, e.base, err);
  else
    {
      struct dest_info d = { 0 };
      cleanup_free char *dir = NULL, *as = NULL;
      ret = host_dest_info (dst, &d, err);
      if (ret == 0)
        ret = prepare_copy (S_ISDIR (e.st.st_mode), rebase ? rebase : e.base, &d, &dir, &as, err);
      cleanup_close int dfd = ret == 0 ? open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
      if (ret == 0 && dfd < 0)
        ret = isola_error_make (err, errno, "open %s", dir);
      if (ret == 0)
        ret = copy_entry_into (dfd, false, -1, e.dirfd, e.name, as, err);
    }
  entry_clear (&e);
  return ret;
}

/* The binds and volumes of a container's record (inspect's Mounts, shallower destinations first), not its tmpfs
   mounts, whose content ended with its last run. */
static bool
has_host_mounts (const struct container *c)
{
  size_t i;
  json_t *v;
  json_array_foreach (container_mounts (c), i, v)
  {
    const char *type = json_string_value (json_object_get (v, "Type"));
    const char *src = json_string_value (json_object_get (v, "Source"));
    if (type && strcmp (type, "tmpfs") != 0 && src && src[0])
      return true;
  }
  return false;
}

/* A container that is not running has no mounts of its own: as dockerd's cp (daemon.mountVolumes), its binds and
   volumes are mounted over the view of its root, read-only where the container has them so, so that a path under
   one reads and writes the volume rather than the directory beneath it.  The view lives in the CLI's private mount
   namespace (container_root_open), and goes with it. */
static int
mount_host_mounts (const struct container *c, int rootfd, bool best_effort, isola_error_t *err)
{
  size_t i;
  json_t *v;
  json_array_foreach (container_mounts (c), i, v)
  {
    const char *type = json_string_value (json_object_get (v, "Type"));
    const char *src = json_string_value (json_object_get (v, "Source"));
    const char *dst = json_string_value (json_object_get (v, "Destination"));
    if (type == NULL || strcmp (type, "tmpfs") == 0 || src == NULL || src[0] == '\0' || dst == NULL)
      continue;
    int ret = spawn_bind_in_root (rootfd, src, dst, !json_is_true (json_object_get (v, "RW")), err);
    /* A guest's read-only disk may lack a mount point its agent made elsewhere (a tmpfs of the guest): that one
       volume is not seen, rather than no copy at all, as before. */
    if (ret < 0 && best_effort)
      {
        isola_error_release (err);
        continue;
      }
    if (ret < 0)
      return ret;
  }
  return 0;
}

/* The container's root for a copy, with its binds and volumes when it is not running or is a running VM (a running
   process container has them in its own root).  Mount points the container never had are made in its layer, as
   dockerd makes them, so a root with such mounts is opened writable. */
static int
copy_root_open (struct isola_store *s, struct container *c, bool writable, struct container_root *root,
                isola_error_t *err)
{
  bool stopped = !container_is_running (c);
  /* A running guest's view here is its frozen disk, without the shares it mounts: they are bound over it too, on
     the mount points its agent made at start (the disk is the guest's: read-only). */
  bool guest_disk = !stopped && driver_of (c)->running_root == NULL;
  bool mounts = (stopped || guest_disk) && has_host_mounts (c);
  int ret = container_root_open (s, c, writable || (mounts && stopped), root, err);
  if (ret == 0 && mounts && (ret = mount_host_mounts (c, root->fd, guest_disk, err)) < 0)
    container_root_close (root);
  return ret;
}

int
container_copy_out (struct isola_store *s, struct container *c, const char *src, const char *dst,
                    const struct copy_options *o, isola_error_t *err)
{
  struct container_root root;
  int ret = copy_root_open (s, c, false, &root, err);
  if (ret < 0)
    return ret;
  ret = copy_out_from_root (root.fd, src, dst, o, err);
  container_root_close (&root);
  return ret;
}

/* --- into the container -------------------------------------------------------------------------------------- */

/* ContainerStatPath of the destination, a symlink followed once (inside the container). */
static void
container_dest_info (int rootfd, const char *dst, char **path_out, struct dest_info *d)
{
  struct entry e = { .dirfd = -1 };
  char *path = xstrdup (dst);
  if (container_entry (rootfd, dst, &e) == 0 && S_ISLNK (e.st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (e.dirfd, e.name, target, sizeof target - 1);
      if (n > 0)
        {
          target[n] = '\0';
          cleanup_free char *abs = xasprintf ("/%s", dst), *dir = NULL, *base = NULL;
          split_entry (abs, &dir, &base);
          free (path);
          path = target[0] == '/' ? xstrdup (target) : xasprintf ("%s/%s", dir, target);
        }
      entry_clear (&e);
      (void)container_entry (rootfd, path, &e);
    }
  d->exists = e.name && e.dirfd >= 0 && fstatat (e.dirfd, e.name, &e.st, AT_SYMLINK_NOFOLLOW) == 0;
  d->is_dir = d->exists && S_ISDIR (e.st.st_mode);
  entry_clear (&e);
  *path_out = path;
  d->path = path;
}

/* What a copy into the container writes: the source (a host entry, or a tar stream) and where. */
struct copy_plan
{
  char *dir; /* the directory of the container to write in */
  char *as;  /* the name the source takes there */
  int src_dirfd;
  char *src_name; /* NULL: the tar stream on o->stdio_fd, extracted into dir */
};

static void
copy_plan_clear (struct copy_plan *p)
{
  free (p->dir), free (p->as), free (p->src_name);
  if (p->src_dirfd >= 0)
    close (p->src_dirfd);
}

static int
plan_copy_in (int rootfd, const char *src, const char *dst, const struct copy_options *o, struct copy_plan *p,
              isola_error_t *err)
{
  struct dest_info d = { 0 };
  cleanup_free char *dpath = NULL;
  container_dest_info (rootfd, dst, &dpath, &d);
  if (strcmp (src, "-") == 0)
    {
      if (!d.is_dir)
        return isola_error_fail (err, ENOTDIR, "destination \"%s:%s\" must be a directory", o->label, dst);
      p->dir = take_ptr (&dpath);
      return 0;
    }
  cleanup_free char *sdir = NULL, *sbase = NULL, *rebase = NULL;
  split_entry (src, &sdir, &sbase);
  struct stat st;
  if (lstat (src, &st) < 0)
    {
      int e = errno;
      cleanup_free char *msg = go_strerror (e);
      return isola_error_fail (err, e, "lstat %s: %s", src, msg);
    }
  if (o->follow_link && S_ISLNK (st.st_mode))
    {
      cleanup_free char *resolved = realpath (src, NULL);
      if (resolved == NULL || lstat (resolved, &st) < 0)
        {
          int e = errno;
          cleanup_free char *msg = go_strerror (e);
          return isola_error_fail (err, e, "lstat %s: %s", src, msg);
        }
      rebase = take_ptr (&sbase);
      free (sdir);
      split_entry (resolved, &sdir, &sbase);
    }
  if ((p->src_dirfd = open (sdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return isola_error_make (err, errno, "open %s", sdir);
  int ret = prepare_copy (S_ISDIR (st.st_mode), rebase ? rebase : sbase, &d, &p->dir, &p->as, err);
  if (ret == 0)
    p->src_name = take_ptr (&sbase);
  return ret;
}

static int
copy_in_to_root (int rootfd, const struct copy_plan *p, const struct copy_options *o, isola_error_t *err)
{
  cleanup_close int dfd = -1;
  if (open_in_root (rootfd, p->dir, &dfd) < 0)
    return no_such_path (o, p->dir, err);
  if (p->src_name == NULL)
    return extract_stream (dfd, o->archive, o->stdio_fd, err);
  return copy_entry_into (dfd, true, o->archive ? -1 : 0, p->src_dirfd, p->src_name, p->as, err);
}

/* --- into a running VM container: a tar through an exec session, extracted by the agent ---------------------- */

struct session_sink
{
  int fd;
};

static la_ssize_t
session_write (struct archive *a, void *data, const void *buf, size_t len)
{
  struct session_sink *s = data;
  size_t n = len > ATTACH_PAYLOAD_MAX ? ATTACH_PAYLOAD_MAX : len;
  if (attach_send (s->fd, ATTACH_STDIN, buf, (uint32_t)n) < 0)
    {
      archive_set_error (a, errno, "send to the container's agent");
      return -1;
    }
  return (la_ssize_t)n;
}

/* The source as a tar (pax) on the session; a tar stream from stdin is read and written again, so that what the
   agent parses is always a plain pax stream, owners already set. */
static int
send_tar (int fd, const struct copy_plan *p, const struct copy_options *o, isola_error_t *err)
{
  struct session_sink sink = { fd };
  struct archive *out = archive_write_new ();
  archive_write_set_format_pax_restricted (out);
  archive_write_set_bytes_in_last_block (out, 1);
  int ret = archive_write_open (out, &sink, NULL, session_write, NULL) == ARCHIVE_OK
                ? 0
                : isola_error_fail (err, EIO, "%s", archive_error_string (out));
  if (ret == 0 && p->src_name)
    ret = tree_copy (out, p->src_dirfd, p->src_name, p->as, o->archive ? -1 : 0, err);
  else if (ret == 0)
    {
      struct archive *in = archive_read_new ();
      archive_read_support_filter_all (in);
      archive_read_support_format_tar (in);
      struct archive_entry *e;
      int r = archive_read_open_fd (in, o->stdio_fd, 65536);
      while (ret == 0 && r == ARCHIVE_OK && (r = archive_read_next_header (in, &e)) == ARCHIVE_OK)
        {
          if (!o->archive)
            archive_entry_set_uid (e, 0), archive_entry_set_gid (e, 0);
          if (archive_write_header (out, e) != ARCHIVE_OK)
            ret = isola_error_fail (err, EIO, "%s", archive_error_string (out));
          char buf[65536];
          la_ssize_t n;
          while (ret == 0 && (n = archive_read_data (in, buf, sizeof buf)) > 0)
            if (archive_write_data (out, buf, (size_t)n) != n)
              ret = isola_error_fail (err, EIO, "%s", archive_error_string (out));
        }
      if (ret == 0 && r != ARCHIVE_EOF)
        ret = isola_error_fail (err, EINVAL, "%s", archive_error_string (in));
      archive_read_free (in);
    }
  if (ret == 0 && archive_write_close (out) != ARCHIVE_OK)
    ret = isola_error_fail (err, EIO, "%s", archive_error_string (out));
  archive_write_free (out);
  return ret;
}

/* The agent's verdict: its exit code, with what it wrote on stderr as the error. */
static int
session_result (int fd, struct attach_decoder *dec, isola_error_t *err)
{
  cleanup_free char *msg = xstrdup ("");
  struct attach_frame f;
  int r;
  while ((r = attach_client_read_frame (fd, dec, &f)) == 0)
    {
      if (f.type == ATTACH_STDERR && strlen (msg) < 4096)
        {
          char *next = xasprintf ("%s%.*s", msg, (int)f.len, (const char *)f.payload);
          free (msg);
          msg = next;
        }
      else if (f.type == ATTACH_EXIT)
        {
          uint32_t code = f.len == 4 ? (uint32_t)f.payload[0] << 24 | (uint32_t)f.payload[1] << 16
                                           | (uint32_t)f.payload[2] << 8 | f.payload[3]
                                     : 1;
          size_t n = strlen (msg);
          while (n > 0 && msg[n - 1] == '\n')
            msg[--n] = '\0';
          return code == 0 ? 0 : isola_error_fail (err, EIO, "%s", n ? msg : "the copy failed in the container");
        }
    }
  return isola_error_fail (err, EPIPE, "the container's agent went away during the copy");
}

static int
copy_in_running_vm (struct isola_store *s, struct container *c, const char *src, const char *dst,
                    const struct copy_options *o, isola_error_t *err)
{
  struct copy_plan p = { .src_dirfd = -1 };
  struct container_root root;
  int ret = container_root_open (s, c, false, &root, err); /* the guest's disk, frozen: to plan the copy */
  if (ret == 0)
    {
      ret = plan_copy_in (root.fd, src, dst, o, &p, err);
      container_root_close (&root);
    }
  struct exec_request req = { .argv = (char *[]){ "isola-cp", NULL }, .interactive = true, .untar_dir = p.dir };
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  cleanup_close int fd = -1;
  int code = 0;
  if (ret == 0)
    ret = driver_of (c)->exec_session (c, &req, &fd, &dec, err);
  if (ret == 0)
    ret = attach_client_wait_started (fd, &dec, &code, err);
  if (ret == 0)
    {
      int sent = send_tar (fd, &p, o, err);
      if (sent == 0 && attach_send (fd, ATTACH_CLOSE_STDIN, NULL, 0) < 0)
        sent = isola_error_make (err, errno, "send to the container's agent");
      /* The agent's verdict decides, also when our sending broke: its tar reader stops at the end-of-archive
         blocks and it may be gone before the rest of our last record or our end of stdin arrive (then it says
         EXIT 0: everything is written), or it stopped early on an error (its message says why). */
      isola_error_t verdict = NULL;
      ret = session_result (fd, &dec, &verdict);
      if (ret < 0 && sent < 0 && verdict->status == EPIPE)
        ret = sent; /* no verdict: our error says more */
      else if (err)
        {
          isola_error_release (err);
          *err = take_ptr (&verdict);
        }
      isola_error_release (&verdict);
    }
  attach_decoder_clear (&dec);
  copy_plan_clear (&p);
  return ret;
}

int
container_copy_in (struct isola_store *s, struct container *c, const char *src, const char *dst,
                   const struct copy_options *o, isola_error_t *err)
{
  /* A running guest writes its own disk: the copy goes through its agent. */
  if (container_is_running (c) && driver_of (c)->running_root == NULL)
    return copy_in_running_vm (s, c, src, dst, o, err);
  struct container_root root;
  int ret = copy_root_open (s, c, true, &root, err);
  if (ret < 0)
    return ret;
  struct copy_plan p = { .src_dirfd = -1 };
  ret = plan_copy_in (root.fd, src, dst, o, &p, err);
  if (ret == 0)
    ret = copy_in_to_root (root.fd, &p, o, err);
  copy_plan_clear (&p);
  container_root_close (&root);
  return ret;
}

/* --- the Engine API's archive: stat and tar of a path ------------------------------------------------------- */

void
container_path_stat_clear (struct container_path_stat *st)
{
  free (st->name), free (st->link_target);
  st->name = st->link_target = NULL;
}

/* Go's os.FileMode of a stat's st_mode (os.fillFileStatFromSys). */
static uint32_t
go_file_mode (mode_t m)
{
  uint32_t mode = m & 0777;
  switch (m & S_IFMT)
    {
    case S_IFBLK:
      mode |= 1u << 26; /* ModeDevice */
      break;
    case S_IFCHR:
      mode |= 1u << 26 | 1u << 21; /* ModeDevice | ModeCharDevice */
      break;
    case S_IFDIR:
      mode |= 1u << 31;
      break;
    case S_IFIFO:
      mode |= 1u << 25;
      break;
    case S_IFLNK:
      mode |= 1u << 27;
      break;
    case S_IFSOCK:
      mode |= 1u << 24;
      break;
    }
  if (m & S_ISUID)
    mode |= 1u << 23;
  if (m & S_ISGID)
    mode |= 1u << 22;
  if (m & S_ISVTX)
    mode |= 1u << 20;
  return mode;
}

json_t *
container_path_stat_json (const struct container_path_stat *st)
{
  struct tm tm;
  time_t sec = st->mtime.tv_sec;
  char date[32], frac[16] = "";
  gmtime_r (&sec, &tm);
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  if (st->mtime.tv_nsec)
    {
      /* Go's RFC3339Nano: the fraction without its trailing zeros. */
      snprintf (frac, sizeof frac, ".%09ld", st->mtime.tv_nsec);
      for (size_t n = strlen (frac); frac[n - 1] == '0'; n--)
        frac[n - 1] = '\0';
    }
  return json_pack ("{s:s, s:I, s:I, s:o, s:s}", "name", st->name, "size", (json_int_t)st->size, "mode",
                    (json_int_t)st->mode, "mtime", json_sprintf ("%s%sZ", date, frac), "linkTarget",
                    st->link_target ? st->link_target : "");
}

/* path with every symlink followed inside the root (Docker's FollowSymlinkInScope): an absolute, clean path; the
   components that do not exist are kept as they are. */
static int
resolve_in_root (int rootfd, const char *path, char **out)
{
  cleanup_free char *abs = xasprintf ("/%s", path), *todo = clean_path (abs), *done = xstrdup ("");
  int links = 0;
  while (todo[0] == '/' && todo[1])
    {
      char *rest = strchr (todo + 1, '/');
      cleanup_free char *comp = rest ? xasprintf ("%.*s", (int)(rest - todo - 1), todo + 1) : xstrdup (todo + 1);
      cleanup_free char *next_todo = xstrdup (rest ? rest : "/");
      if (strcmp (comp, "..") == 0)
        {
          char *slash = strrchr (done, '/');
          if (slash)
            *slash = '\0';
        }
      else
        {
          cleanup_close int dirfd = -1;
          struct stat st;
          char target[PATH_MAX];
          ssize_t n = -1;
          if (open_in_root (rootfd, done[0] ? done : "/", &dirfd) == 0
              && fstatat (dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
            n = readlinkat (dirfd, comp, target, sizeof target - 1);
          if (n > 0)
            {
              if (++links > 255)
                return -ELOOP;
              target[n] = '\0';
              if (target[0] == '/')
                done[0] = '\0';
              free (next_todo);
              cleanup_free char *joined = xasprintf ("/%s%s", target, rest ? rest : "");
              next_todo = clean_path (joined);
            }
          else
            {
              char *d = xasprintf ("%s/%s", done, comp);
              free (done);
              done = d;
            }
        }
      free (todo);
      todo = take_ptr (&next_todo);
    }
  *out = xstrdup (done[0] ? done : "/");
  return 0;
}

static int
stat_entry (int rootfd, const char *path, const struct entry *e, struct container_path_stat *st)
{
  cleanup_free char *abs = xasprintf ("/%s", path), *cleaned = clean_path (abs);
  const char *slash = strrchr (cleaned, '/');
  *st = (struct container_path_stat){
    .name = xstrdup (cleaned[1] ? slash + 1 : "/"),
    .size = e->st.st_size,
    .mode = go_file_mode (e->st.st_mode),
    .mtime = e->st.st_mtim,
  };
  if (S_ISLNK (e->st.st_mode))
    return resolve_in_root (rootfd, path, &st->link_target);
  return 0;
}

int
container_archive_get (struct isola_store *s, struct container *c, const char *path, const char *label, int fd,
                       void (*on_stat) (void *arg, const struct container_path_stat *st), void *arg, isola_error_t *err)
{
  struct container_root root;
  int ret = container_root_open (s, c, false, &root, err);
  if (ret < 0)
    return ret;
  struct entry e = { .dirfd = -1 };
  struct container_path_stat st = { 0 };
  if (container_entry (root.fd, path, &e) < 0)
    ret = isola_error_fail (err, ENOENT, "Could not find the file %s in container %s", path, label);
  else if ((ret = stat_entry (root.fd, path, &e, &st)) < 0)
    ret = isola_error_make (err, -ret, "resolve %s in container %s", path, label);
  if (ret == 0 && on_stat)
    on_stat (arg, &st);
  if (ret == 0 && fd >= 0)
    ret = tar_to_fd (fd, e.dirfd, e.name, e.base, err);
  container_path_stat_clear (&st);
  entry_clear (&e);
  container_root_close (&root);
  return ret;
}
