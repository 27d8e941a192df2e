#define _GNU_SOURCE
#include "build/copier.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/archive_io.h"
#include "base/util.h"
#include "build/context.h"

/* --- the sources -------------------------------------------------------------------------------------------- */

static bool
has_wildcard (const char *s)
{
  return strpbrk (s, "*?[") != NULL;
}

static int
compare_names (const struct dirent **a, const struct dirent **b)
{
  return strcmp ((*a)->d_name, (*b)->d_name);
}

static int
skip_dots (const struct dirent *d)
{
  return strcmp (d->d_name, ".") != 0 && strcmp (d->d_name, "..") != 0;
}

/* filepath.Walk in lexical order with filepath.Match against each path: a matched directory is taken whole. */
static void
match_walk (const char *root, const char *rel, const char *pattern, char ***out)
{
  cleanup_free char *dir = rel[0] ? xasprintf ("%s/%s", root, rel) : xstrdup (root);
  struct dirent **names = NULL;
  int n = scandir (dir, &names, skip_dots, compare_names);
  for (int i = 0; i < n; i++)
    {
      cleanup_free char *path = rel[0] ? xasprintf ("%s/%s", rel, names[i]->d_name) : xstrdup (names[i]->d_name);
      cleanup_free char *full = xasprintf ("%s/%s", root, path);
      struct stat st;
      bool is_dir = lstat (full, &st) == 0 && S_ISDIR (st.st_mode);
      if (fnmatch (pattern, path, FNM_PATHNAME) == 0)
        strv_push (out, path);
      else if (is_dir)
        match_walk (root, path, pattern, out);
      free (names[i]);
    }
  free (names);
}

static int
source_one (const char *src_root, const char *src, char ***out, isola_error_t *err)
{
  if (has_wildcard (src))
    {
      cleanup_free char *clean = path_clean (src);
      const char *pattern = clean;
      while (pattern[0] == '/')
        pattern++;
      size_t before = strv_len (*out);
      match_walk (src_root, "", pattern, out);
      if (strv_len (*out) == before)
        return isola_error_fail (err, ENOENT, "no source files were specified");
      return 0;
    }
  cleanup_free char *rel = NULL, *target = NULL;
  int ret = context_resolve (src_root, src, &target, err);
  if (ret == 0)
    ret = context_resolve_named (src_root, src, &rel, err);
  if (ret < 0)
    return ret;
  cleanup_free char *full = xasprintf ("%s/%s", src_root, target);
  struct stat st;
  if (lstat (full, &st) < 0)
    return isola_error_fail (err, ENOENT,
                             "file not found in build context or excluded by .dockerignore: stat %s: file does not "
                             "exist",
                             src);
  strv_push (out, rel);
  return 0;
}

int
copier_sources (const char *src_root, char *const *srcs, bool add, char ***out, isola_error_t *err)
{
  cleanup_strv char **v = xcalloc (1, sizeof (char *));
  for (size_t i = 0; srcs[i]; i++)
    {
      if (add && (str_has_prefix (srcs[i], "http://") || str_has_prefix (srcs[i], "https://")))
        return isola_error_fail (err, ENOTSUP,
                                 "ADD of a URL is not supported by isola build (%s): download it in a RUN step, or "
                                 "ADD a file of the context",
                                 srcs[i]);
      int ret = source_one (src_root, srcs[i], &v, err);
      if (ret < 0)
        return ret;
    }
  *out = take_ptr (&v);
  return 0;
}

/* --- the destination ---------------------------------------------------------------------------------------- */

/* A directory of the image being built, resolved inside its root. */
static int
open_in_root (int root, const char *path)
{
  while (path[0] == '/')
    path++;
  return openat2_scoped (root, path[0] ? path : ".", O_RDONLY | O_DIRECTORY, 0,
                         RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* mkdir -p inside the root: the directories made are 0755 and owned by uid:gid (Docker's MkdirAllAndChownNew).  A
   dangling symlink on the way has its target made, resolved in the root, as MkdirAll does after
   FollowSymlinkInScope; depth bounds the links followed. */
static int
mkdir_in_root_at (int root, const char *dir, uid_t uid, gid_t gid, int *fd_out, int depth, isola_error_t *err)
{
  if (depth > 40)
    return isola_error_make (err, ELOOP, "mkdir `%s`", dir);
  cleanup_free char *abs = xasprintf ("/%s", dir);
  cleanup_free char *clean = path_clean (abs);
  int fd = open_in_root (root, "/");
  if (fd < 0)
    return isola_error_make (err, -fd, "open the image's root");
  size_t len = strlen (clean);
  for (size_t i = 1; i <= len; i++)
    {
      if (clean[i] != '/' && clean[i] != '\0')
        continue;
      cleanup_free char *prefix = xasprintf ("%.*s", (int)i, clean);
      const char *name = strrchr (prefix, '/') + 1;
      int next = open_in_root (root, prefix);
      if (next == -ENOENT && mkdirat (fd, name, 0755) == 0)
        {
          /* Nothing else writes in the root meanwhile: the directory just made is still one. */
          if (fchownat (fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat (fd, name, 0755, 0) < 0)
            next = -errno;
          else
            next = open_in_root (root, prefix);
        }
      else if (next == -ENOENT && errno == EEXIST)
        {
          char target[PATH_MAX];
          ssize_t n = readlinkat (fd, name, target, sizeof target - 1);
          close (fd);
          if (n < 0)
            return isola_error_make (err, errno, "mkdir `%s`", prefix);
          target[n] = '\0';
          cleanup_free char *parent = xasprintf ("%.*s", (int)(name - prefix), prefix);
          cleanup_free char *resolved
              = xasprintf ("%s/%s", target[0] == '/' ? "" : parent, target[0] == '/' ? target + 1 : target);
          cleanup_free char *rest = xasprintf ("%s%s", resolved, clean + i);
          return mkdir_in_root_at (root, rest, uid, gid, fd_out, depth + 1, err);
        }
      else if (next == -ENOENT)
        next = -errno;
      close (fd);
      if (next < 0)
        return isola_error_make (err, -next, "mkdir `%s`", prefix);
      fd = next;
    }
  *fd_out = fd;
  return 0;
}

static int
mkdir_in_root (int root, const char *dir, uid_t uid, gid_t gid, int *fd_out, isola_error_t *err)
{
  return mkdir_in_root_at (root, dir, uid, gid, fd_out, 0, err);
}

int
copier_mkdir (int dst_root, const char *dir, isola_error_t *err)
{
  int fd = -1;
  int ret = mkdir_in_root (dst_root, dir, 0, 0, &fd, err);
  if (fd >= 0)
    close (fd);
  return ret;
}

/* --- owners ------------------------------------------------------------------------------------------------- */

/* The id of name in the image's /etc/passwd or /etc/group (field 2), -1 when it has none. */
static long
lookup_id (int root, const char *file, const char *name)
{
  int dir = open_in_root (root, "/etc");
  if (dir < 0)
    return -1;
  int fd = openat (dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  close (dir);
  if (fd < 0)
    return -1;
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_fd_bounded (fd, 4 << 20, &buf, &len, NULL);
  close (fd);
  if (ret < 0)
    return -1;
  size_t nlen = strlen (name);
  for (char *save = NULL, *line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      if (strncmp (line, name, nlen) != 0 || line[nlen] != ':')
        continue;
      char *f = strchr (line + nlen + 1, ':');
      return f ? strtol (f + 1, NULL, 10) : -1;
    }
  return -1;
}

static bool
parse_number (const char *s, long *out)
{
  char *end;
  errno = 0;
  long v = strtol (s, &end, 10);
  if (s[0] == '\0' || *end || errno || v < 0 || v > 0x7fffffff)
    return false;
  *out = v;
  return true;
}

/* --chown as Docker parses it: user[:group], numbers or names; a group left out is the user's number. */
static int
parse_chown (int root, const char *spec, uid_t *uid, gid_t *gid, isola_error_t *err)
{
  cleanup_free char *user = xstrdup (spec);
  char *group = strchr (user, ':');
  if (group)
    *group++ = '\0';
  long u, g;
  if (!parse_number (user, &u) && (u = lookup_id (root, "passwd", user)) < 0)
    return isola_error_fail (err, EINVAL,
                             "unable to convert uid/gid chown string to host mapping: can't find uid for user %s: no "
                             "such user: %s",
                             user, user);
  g = u;
  if (group && !parse_number (group, &g) && (g = lookup_id (root, "group", group)) < 0)
    return isola_error_fail (err, EINVAL,
                             "unable to convert uid/gid chown string to host mapping: can't find gid for group %s: "
                             "no such group: %s",
                             group, group);
  *uid = (uid_t)u;
  *gid = (gid_t)g;
  return 0;
}

/* --- writing ------------------------------------------------------------------------------------------------ */

struct writer
{
  struct archive *disk;
  uid_t uid;
  gid_t gid;
  int chmod; /* -1: the source's mode */
};

static int
disk_error (struct writer *w, isola_error_t *err)
{
  return isola_error_fail (err, EIO, "%s", archive_error_string (w->disk));
}

static int
write_data (struct writer *w, int src_dir, const char *name, isola_error_t *err)
{
  cleanup_close int fd = openat (src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open `%s`", name);
  return archive_write_fd (w->disk, fd, name, err);
}

static int write_tree (struct writer *w, int src_dir, const char *name, const char *as, isola_error_t *err);

static int
write_children (struct writer *w, int src_dir, const char *name, const char *as, isola_error_t *err)
{
  cleanup_close int dir = openat (src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0)
    return isola_error_make (err, errno, "open `%s`", name);
  struct dirent **names = NULL;
  cleanup_free char *proc = xasprintf ("/proc/self/fd/%d", dir);
  int n = scandir (proc, &names, skip_dots, compare_names);
  if (n < 0)
    return isola_error_make (err, errno, "list `%s`", name);
  int ret = 0;
  for (int i = 0; i < n; i++)
    {
      if (ret == 0)
        {
          cleanup_free char *child = as[0] ? xasprintf ("%s/%s", as, names[i]->d_name) : xstrdup (names[i]->d_name);
          ret = write_tree (w, dir, names[i]->d_name, child, err);
        }
      free (names[i]);
    }
  free (names);
  return ret;
}

/* One entry (and what is under it) of the source as `as` in the destination directory (the process's working
   directory, where the disk writer works). */
static int
write_tree (struct writer *w, int src_dir, const char *name, const char *as, isola_error_t *err)
{
  struct stat st;
  if (fstatat (src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return isola_error_make (err, errno, "stat `%s`", name);
  struct archive_entry *e = archive_entry_new ();
  archive_entry_copy_stat (e, &st);
  archive_entry_set_pathname (e, as);
  archive_entry_set_uid (e, w->uid);
  archive_entry_set_gid (e, w->gid);
  archive_entry_set_nlink (e, 1);
  if (w->chmod >= 0 && !S_ISLNK (st.st_mode))
    archive_entry_set_perm (e, (mode_t)w->chmod);
  int ret = 0;
  if (S_ISLNK (st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (src_dir, name, target, sizeof target - 1);
      if (n < 0)
        ret = isola_error_make (err, errno, "readlink `%s`", name);
      else
        {
          target[n] = '\0';
          archive_entry_set_symlink (e, target);
        }
    }
  if (ret == 0 && archive_write_header (w->disk, e) != ARCHIVE_OK)
    ret = disk_error (w, err);
  archive_entry_free (e);
  if (ret == 0 && S_ISREG (st.st_mode))
    ret = write_data (w, src_dir, name, err);
  if (ret == 0 && archive_write_finish_entry (w->disk) != ARCHIVE_OK)
    ret = disk_error (w, err);
  if (ret == 0 && S_ISDIR (st.st_mode))
    ret = write_children (w, src_dir, name, as, err);
  return ret;
}

static struct archive *
disk_writer (void)
{
  struct archive *a = archive_write_disk_new ();
  archive_write_disk_set_options (a, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME
                                         | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS
                                         | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  return a;
}

/* Docker's isArchivePath: a file that a tar reader (through any compression) reads a header of. */
static bool
is_archive (const char *path)
{
  struct archive *a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  struct archive_entry *e;
  bool yes
      = archive_read_open_filename (a, path, 65536) == ARCHIVE_OK && archive_read_next_header (a, &e) == ARCHIVE_OK;
  archive_read_free (a);
  return yes;
}

/* ADD's extraction: the archive's entries as they are (owners, modes), --chown's owner over them when given. */
static int
extract_archive (struct writer *w, const char *path, bool chown, isola_error_t *err)
{
  struct archive *in = archive_read_new ();
  archive_read_support_filter_all (in);
  archive_read_support_format_tar (in);
  struct archive_entry *e;
  int ret = 0, r = ARCHIVE_OK;
  if (archive_read_open_filename (in, path, 65536) != ARCHIVE_OK)
    ret = isola_error_fail (err, EINVAL, "%s", archive_error_string (in));
  while (ret == 0 && (r = archive_read_next_header (in, &e)) == ARCHIVE_OK)
    {
      if (chown)
        archive_entry_set_uid (e, w->uid), archive_entry_set_gid (e, w->gid);
      archive_entry_set_uname (e, NULL), archive_entry_set_gname (e, NULL);
      if (archive_write_header (w->disk, e) != ARCHIVE_OK)
        {
          ret = disk_error (w, err);
          break;
        }
      const void *buf;
      size_t len;
      la_int64_t off;
      while ((r = archive_read_data_block (in, &buf, &len, &off)) == ARCHIVE_OK)
        if (archive_write_data_block (w->disk, buf, len, off) < 0)
          {
            ret = disk_error (w, err);
            break;
          }
      if (ret == 0 && r != ARCHIVE_EOF)
        ret = isola_error_fail (err, EINVAL, "%s: %s", path, archive_error_string (in));
    }
  if (ret == 0 && r != ARCHIVE_EOF)
    ret = isola_error_fail (err, EINVAL, "%s: %s", path, archive_error_string (in));
  archive_read_free (in);
  return ret;
}

/* Runs the writer in the directory dir_fd (libarchive's disk writer works relative to the working directory). */
static int
in_directory (int dir_fd, struct writer *w, const char *src_root, const char *rel, const char *as, bool add, bool chown,
              isola_error_t *err)
{
  cleanup_close int cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || fchdir (dir_fd) < 0)
    return isola_error_make (err, errno, "enter the destination directory");
  w->disk = disk_writer ();
  cleanup_free char *full = xasprintf ("%s/%s", src_root, rel);
  struct stat st;
  int ret = 0;
  if (lstat (full, &st) < 0)
    ret = isola_error_make (err, errno, "stat `%s`", rel);
  else if (as == NULL && S_ISDIR (st.st_mode))
    {
      cleanup_close int root = open (src_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      ret = root < 0 ? isola_error_make (err, errno, "open `%s`", src_root) : write_children (w, root, rel, "", err);
    }
  else if (as == NULL && add)
    ret = extract_archive (w, full, chown, err);
  else
    {
      cleanup_close int root = open (src_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      ret = root < 0 ? isola_error_make (err, errno, "open `%s`", src_root) : write_tree (w, root, rel, as, err);
    }
  if (ret == 0 && archive_write_close (w->disk) != ARCHIVE_OK)
    ret = disk_error (w, err);
  archive_write_free (w->disk);
  w->disk = NULL;
  if (fchdir (cwd) < 0 && ret == 0)
    ret = isola_error_make (err, errno, "return to the working directory");
  return ret;
}

static char *
absolute_dest (const struct copier_options *o)
{
  if (o->dest[0] == '/')
    return xstrdup (o->dest);
  const char *wd = o->workdir && o->workdir[0] ? o->workdir : "/";
  return xasprintf ("%s%s%s", wd, str_has_suffix (wd, "/") ? "" : "/", o->dest);
}

static const char *
base_name (const char *rel)
{
  const char *s = strrchr (rel, '/');
  return s ? s + 1 : rel;
}

/* One source: a directory's contents into dest; an archive (ADD) extracted into dest; anything else as dest, or
   into it when dest names a directory. */
static int
copy_one (const char *src_root, const char *rel, int dst_root, const char *dest, bool dest_is_dir,
          const struct copier_options *o, struct writer *w, isola_error_t *err)
{
  /* A source named by a link (context_resolve_named): the link's target is copied, under the link's name. */
  const char *named = rel;
  cleanup_free char *target = NULL;
  cleanup_free char *link = xasprintf ("%s/%s", src_root, rel);
  struct stat st;
  int ret = 0;
  if (lstat (link, &st) == 0 && S_ISLNK (st.st_mode) && (ret = context_resolve (src_root, rel, &target, err)) < 0)
    return ret;
  if (target)
    rel = target;
  cleanup_free char *full = xasprintf ("%s/%s", src_root, rel);
  if (lstat (full, &st) < 0)
    return isola_error_make (err, errno, "stat `%s`", rel);
  bool extract = o->add && S_ISREG (st.st_mode) && is_archive (full);
  int fd = -1;
  if (S_ISDIR (st.st_mode) || extract)
    {
      ret = mkdir_in_root (dst_root, dest, w->uid, w->gid, &fd, err);
      if (ret == 0)
        ret = in_directory (fd, w, src_root, rel, NULL, o->add, o->chown != NULL, err);
    }
  else
    {
      cleanup_free char *clean = path_clean (dest);
      int existing = open_in_root (dst_root, clean);
      if (existing >= 0)
        close (existing);
      bool into = dest_is_dir || existing >= 0;
      cleanup_free char *dir = xstrdup (clean);
      const char *as = base_name (named);
      if (!into)
        {
          char *slash = strrchr (dir, '/');
          as = base_name (clean);
          if (slash == dir)
            slash[1] = '\0';
          else
            *slash = '\0';
        }
      cleanup_free char *name = xstrdup (as);
      ret = mkdir_in_root (dst_root, dir, w->uid, w->gid, &fd, err);
      if (ret == 0)
        ret = in_directory (fd, w, src_root, rel, name, false, false, err);
    }
  if (fd >= 0)
    close (fd);
  return ret;
}

int
copier_copy (const char *src_root, char *const *sources, int dst_root, const struct copier_options *o,
             isola_error_t *err)
{
  cleanup_free char *dest = absolute_dest (o);
  bool dest_is_dir = str_has_suffix (dest, "/") || str_has_suffix (dest, "/.");
  if (strv_len (sources) > 1 && !dest_is_dir)
    return isola_error_fail (err, EINVAL,
                             "When using %s with more than one source file, the destination must be a directory and "
                             "end with a /",
                             o->add ? "ADD" : "COPY");
  struct writer w = { .chmod = -1 };
  if (o->chown && parse_chown (dst_root, o->chown, &w.uid, &w.gid, err) < 0)
    return -EINVAL;
  if (o->chmod)
    w.chmod = (int)(strtol (o->chmod, NULL, 8) & 07777);
  for (size_t i = 0; sources[i]; i++)
    {
      int ret = copy_one (src_root, sources[i], dst_root, dest, dest_is_dir, o, &w, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}
