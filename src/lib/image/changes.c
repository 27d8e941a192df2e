#define _GNU_SOURCE
#include "image/changes.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/archive_io.h"
#include "base/util.h"

#define OPAQUE_XATTR     "trusted.overlay.opaque"
#define CAPABILITY_XATTR "security.capability"

static void
cleanup_entryp (struct archive_entry **e)
{
  if (*e)
    archive_entry_free (*e);
}
#define cleanup_archive_entry __attribute__ ((cleanup (cleanup_entryp)))

static int
readlinkat_alloc (int dirfd, const char *name, char **out)
{
  char buf[PATH_MAX + 1];
  ssize_t n = readlinkat (dirfd, name, buf, sizeof buf - 1);
  if (n < 0)
    return -errno;
  buf[n] = '\0';
  *out = xstrdup (buf);
  return 0;
}

void
layer_changes_free (struct layer_change *c, size_t n)
{
  for (size_t i = 0; c && i < n; i++)
    free (c[i].path);
  free (c);
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory, sorted by name as Go's filepath.Walk visits them. */
static int
sorted_entries (int dirfd, char ***out)
{
  int fd = dup (dirfd);
  if (fd < 0)
    return -errno;
  DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      int e = errno;
      close (fd);
      return -e;
    }
  rewinddir (d);
  char **names = xcalloc (1, sizeof (char *));
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, ".."))
      strv_push (&names, de->d_name);
  closedir (d);
  qsort (names, strv_len (names), sizeof (char *), compare_names);
  *out = names;
  return 0;
}

static bool
is_whiteout (const struct stat *st)
{
  return S_ISCHR (st->st_mode) && major (st->st_rdev) == 0 && minor (st->st_rdev) == 0;
}

static bool
is_opaque (int fd)
{
  char v[2];
  return fgetxattr (fd, OPAQUE_XATTR, v, sizeof v) == 1 && v[0] == 'y';
}

/* A path looked up literally in a layer, as overlayfs does: no symlink followed on the way (RESOLVE_NO_SYMLINKS),
   and none leading out of it. */
static bool
layer_lstat (int layerfd, const char *rel, struct stat *st)
{
  cleanup_close int fd = openat2_scoped (layerfd, rel, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH);
  return fd >= 0 && fstat (fd, st) == 0;
}

/* What Docker keeps in a container's init layer, below its writable one, and isola makes in the writable layer
   when the image lacks it: the mount points of the files a container gets (empty files) and /etc/mtab (a link to
   /proc/mounts).  Neither diff nor commit shows them, as Docker's do not. */
static bool
is_init_placeholder (int dirfd, const char *name, const char *rel, const struct stat *st)
{
  static const char *const files[] = { "etc/hostname", "etc/hosts", "etc/resolv.conf" };
  for (size_t i = 0; i < ARRAY_SIZE (files); i++)
    if (strcmp (rel, files[i]) == 0)
      return S_ISREG (st->st_mode) && st->st_size == 0;
  if (strcmp (rel, "etc/mtab") == 0 && S_ISLNK (st->st_mode))
    {
      char target[32];
      ssize_t n = readlinkat (dirfd, name, target, sizeof target - 1);
      return n == (ssize_t)strlen ("/proc/mounts") && memcmp (target, "/proc/mounts", (size_t)n) == 0;
    }
  return false;
}

/* A directory of the writable layer whose entries are all init-layer placeholders (a copied-up /etc). */
static bool
holds_only_placeholders (int dirfd, const char *rel)
{
  cleanup_strv char **names = NULL;
  if (sorted_entries (dirfd, &names) < 0)
    return false;
  for (size_t i = 0; names[i]; i++)
    {
      struct stat st;
      cleanup_free char *sub = xasprintf ("%s/%s", rel, names[i]);
      if (fstatat (dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !is_init_placeholder (dirfd, names[i], sub, &st))
        return false;
    }
  return names[0] != NULL;
}

/* --- diff ---------------------------------------------------------------------------------------------------- */

struct change_walk
{
  int *lowers; /* layer directories, nearest first */
  size_t n_lowers;
  struct layer_change *v;
  size_t n;
};

static void
change_push (struct change_walk *w, const char *rel, enum layer_change_kind kind)
{
  w->v = xrealloc (w->v, (w->n + 1) * sizeof (*w->v));
  w->v[w->n].path = xasprintf ("/%s", rel);
  w->v[w->n].kind = kind;
  w->n++;
}

static bool
same_dir (const struct stat *a, const struct stat *b)
{
  return S_ISDIR (a->st_mode) && S_ISDIR (b->st_mode) && a->st_size == b->st_size && a->st_mode == b->st_mode
         && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* What happened to rel, or -1 when it is a directory that is the same as below (not shown). */
static int
change_kind (struct change_walk *w, const char *rel, const struct stat *st, bool opaque)
{
  if (is_whiteout (st) || opaque)
    return LAYER_CHANGE_DELETE;
  for (size_t i = 0; i < w->n_lowers; i++)
    {
      struct stat lst;
      if (!layer_lstat (w->lowers[i], rel, &lst))
        continue;
      return same_dir (st, &lst) ? -1 : LAYER_CHANGE_MODIFY;
    }
  return LAYER_CHANGE_ADD;
}

/* dir_rel: "" for the root; *dir_shown: whether the directory itself is among the changes (Docker's changedDirs). */
static int
walk_changes (struct change_walk *w, int dirfd, const char *dir_rel, bool *dir_shown, isola_error_t *err)
{
  cleanup_strv char **names = NULL;
  int r = sorted_entries (dirfd, &names);
  if (r < 0)
    return isola_error_make (err, -r, "read the container's layer `/%s`", dir_rel);
  for (size_t i = 0; names[i]; i++)
    {
      cleanup_free char *rel = dir_rel[0] ? xasprintf ("%s/%s", dir_rel, names[i]) : xstrdup (names[i]);
      struct stat st;
      if (fstatat (dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
        return isola_error_make (err, errno, "stat `/%s` in the container's layer", rel);
      if (is_init_placeholder (dirfd, names[i], rel, &st))
        continue;
      cleanup_close int sub
          = S_ISDIR (st.st_mode) ? openat (dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      if (S_ISDIR (st.st_mode) && sub < 0)
        return isola_error_make (err, errno, "open `/%s` in the container's layer", rel);
      int kind = change_kind (w, rel, &st, sub >= 0 && is_opaque (sub));
      if (kind == LAYER_CHANGE_MODIFY && sub >= 0 && holds_only_placeholders (sub, rel))
        kind = -1; /* /etc, changed by nothing but isola's init-layer files */
      bool shown = kind >= 0 && S_ISDIR (st.st_mode);
      if ((kind == LAYER_CHANGE_ADD || kind == LAYER_CHANGE_DELETE) && dir_rel[0] && !*dir_shown)
        {
          change_push (w, dir_rel, LAYER_CHANGE_MODIFY);
          *dir_shown = true;
        }
      if (kind >= 0)
        change_push (w, rel, (enum layer_change_kind)kind);
      if (sub >= 0 && (r = walk_changes (w, sub, rel, &shown, err)) < 0)
        return r;
    }
  return 0;
}

int
layer_changes (const char *upper, char *const *lowers, struct layer_change **out, size_t *n_out, isola_error_t *err)
{
  struct change_walk w = { 0 };
  *out = NULL, *n_out = 0;
  cleanup_close int root = open (upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0 && errno == ENOENT)
    return 0;
  if (root < 0)
    return isola_error_make (err, errno, "open the container's layer `%s`", upper);
  size_t n = strv_len ((char **)lowers);
  w.lowers = xcalloc (n ? n : 1, sizeof (int));
  int ret = 0;
  for (size_t i = 0; i < n && ret == 0; i++, w.n_lowers++)
    if ((w.lowers[i] = open (lowers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
      ret = isola_error_make (err, errno, "open the image layer `%s`", lowers[i]);
  bool root_shown = true;
  if (ret == 0)
    ret = walk_changes (&w, root, "", &root_shown, err);
  for (size_t i = 0; i < w.n_lowers; i++)
    if (w.lowers[i] >= 0)
      close (w.lowers[i]);
  free (w.lowers);
  if (ret < 0)
    {
      layer_changes_free (w.v, w.n);
      return ret;
    }
  *out = w.v, *n_out = w.n;
  return 0;
}

/* --- layer tar ----------------------------------------------------------------------------------------------- */

struct tar_sink
{
  int fd;
  digester_t *digest;
  int error;
};

static la_ssize_t
sink_write (struct archive *a, void *data, const void *buf, size_t len)
{
  struct tar_sink *s = data;
  if (write_all (s->fd, buf, len) < 0)
    {
      s->error = errno;
      archive_set_error (a, errno, "write the layer");
      return -1;
    }
  digester_update (s->digest, buf, len);
  return (la_ssize_t)len;
}

struct tar_walk
{
  struct archive *a;
  struct archive_entry_linkresolver *links;
  int64_t size;
  bool skip_placeholders; /* a layer: without isola's init-layer files (an export has them, as Docker's) */
  int owner;              /* >= 0: every entry's uid and gid (cp into a container without -a) */
};

static int
tar_fail (struct tar_walk *t, const char *rel, isola_error_t *err)
{
  return isola_error_fail (err, EIO, "write `%s`: %s", rel, archive_error_string (t->a));
}

static int
tar_header (struct tar_walk *t, struct archive_entry *e, const char *rel, isola_error_t *err)
{
  return archive_write_header (t->a, e) == ARCHIVE_OK ? 0 : tar_fail (t, rel, err);
}

/* One upper-directory entry as the layer has it: whiteouts renamed, others with their stat, link target, data. */
static int
tar_entry (struct tar_walk *t, int dirfd, const char *name, const char *rel, const struct stat *st, int fd,
           isola_error_t *err)
{
  cleanup_archive_entry struct archive_entry *e = archive_entry_new ();
  if (is_whiteout (st))
    {
      const char *slash = strrchr (rel, '/');
      cleanup_free char *wh
          = slash ? xasprintf ("%.*s/.wh.%s", (int)(slash - rel), rel, name) : xasprintf (".wh.%s", name);
      archive_entry_copy_stat (e, st);
      archive_entry_set_pathname (e, wh);
      archive_entry_set_filetype (e, AE_IFREG);
      archive_entry_set_perm (e, 0600);
      archive_entry_set_size (e, 0);
      archive_entry_set_rdev (e, 0);
      return tar_header (t, e, rel, err);
    }
  archive_entry_copy_stat (e, st);
  archive_entry_set_pathname (e, rel);
  if (t->owner >= 0)
    archive_entry_set_uid (e, t->owner), archive_entry_set_gid (e, t->owner);
  if (S_ISLNK (st->st_mode))
    {
      cleanup_free char *target = NULL;
      if (readlinkat_alloc (dirfd, name, &target) < 0)
        return isola_error_make (err, errno, "read the link `%s`", rel);
      archive_entry_set_symlink (e, target);
    }
  char cap[256];
  ssize_t n_cap = fd >= 0 ? fgetxattr (fd, CAPABILITY_XATTR, cap, sizeof cap) : -1;
  if (n_cap > 0)
    archive_entry_xattr_add_entry (e, CAPABILITY_XATTR, cap, (size_t)n_cap);
  if (!S_ISREG (st->st_mode))
    return tar_header (t, e, rel, err);

  struct archive_entry *spare = NULL;
  archive_entry_linkify (t->links, &e, &spare);
  if (spare)
    archive_entry_free (spare); /* only for formats that defer links */
  int ret = tar_header (t, e, rel, err);
  if (ret == 0 && archive_entry_size (e) > 0)
    {
      t->size += st->st_size;
      ret = archive_write_fd (t->a, fd, rel, err);
    }
  return ret;
}

/* Docker's opaque marker: an empty file that inherits the directory's owner and permissions. */
static int
tar_opaque_marker (struct tar_walk *t, const char *rel, const struct stat *st, isola_error_t *err)
{
  cleanup_archive_entry struct archive_entry *e = archive_entry_new ();
  cleanup_free char *path = xasprintf ("%s/.wh..wh..opq", rel);
  archive_entry_copy_stat (e, st);
  archive_entry_set_pathname (e, path);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, st->st_mode & 0777);
  archive_entry_set_size (e, 0);
  archive_entry_set_nlink (e, 1);
  return tar_header (t, e, rel, err);
}

static int walk_tar (struct tar_walk *t, int dirfd, const char *dir_rel, isola_error_t *err);

/* One entry of dirfd (never followed), named rel in the archive, and what it holds. */
static int
walk_one (struct tar_walk *t, int dirfd, const char *name, const char *rel, isola_error_t *err)
{
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return isola_error_make (err, errno, "stat `%s`", rel);
  if (S_ISSOCK (st.st_mode) || (t->skip_placeholders && is_init_placeholder (dirfd, name, rel, &st)))
    return 0; /* as Docker: a socket has no place in a tar */
  int flags = S_ISDIR (st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY;
  cleanup_close int fd = S_ISDIR (st.st_mode) || S_ISREG (st.st_mode)
                             ? openat (dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
                             : -1;
  if ((S_ISDIR (st.st_mode) || S_ISREG (st.st_mode)) && fd < 0)
    return isola_error_make (err, errno, "open `%s`", rel);
  if (t->skip_placeholders && S_ISDIR (st.st_mode) && holds_only_placeholders (fd, rel))
    return 0;
  int ret = tar_entry (t, dirfd, name, rel, &st, fd, err);
  if (ret == 0 && S_ISDIR (st.st_mode) && t->skip_placeholders && is_opaque (fd))
    ret = tar_opaque_marker (t, rel, &st, err);
  if (ret == 0 && S_ISDIR (st.st_mode))
    ret = walk_tar (t, fd, rel, err);
  return ret;
}

static int
walk_tar (struct tar_walk *t, int dirfd, const char *dir_rel, isola_error_t *err)
{
  cleanup_strv char **names = NULL;
  int r = sorted_entries (dirfd, &names);
  if (r < 0)
    return isola_error_make (err, -r, "read the directory `%s`", dir_rel[0] ? dir_rel : ".");
  for (size_t i = 0; names[i]; i++)
    {
      cleanup_free char *rel = dir_rel[0] ? xasprintf ("%s/%s", dir_rel, names[i]) : xstrdup (names[i]);
      int ret = walk_one (t, dirfd, names[i], rel, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

int
tree_copy (struct archive *out, int dirfd, const char *name, const char *as, int owner, isola_error_t *err)
{
  struct tar_walk t = { .a = out, .links = archive_entry_linkresolver_new (), .owner = owner };
  archive_entry_linkresolver_set_strategy (t.links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  int ret = walk_one (&t, dirfd, name, as, err);
  archive_entry_linkresolver_free (t.links);
  return ret;
}

static int
tar_write (const char *upper, int fd, bool skip_placeholders, digest_hex_t diff_id, int64_t *size, isola_error_t *err)
{
  cleanup_close int root = open (upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0 && errno != ENOENT)
    return isola_error_make (err, errno, "open the container's layer `%s`", upper);
  cleanup_digester digester_t *d = digester_new ();
  struct tar_sink sink = { .fd = fd, .digest = d };
  struct tar_walk t = { .owner = -1,
                        .a = archive_write_new (),
                        .links = archive_entry_linkresolver_new (),
                        .skip_placeholders = skip_placeholders };
  archive_write_set_format_pax_restricted (t.a);
  archive_write_set_bytes_in_last_block (t.a, 1);
  archive_entry_linkresolver_set_strategy (t.links, archive_format (t.a));
  int ret = 0;
  if (archive_write_open (t.a, &sink, NULL, sink_write, NULL) != ARCHIVE_OK)
    ret = isola_error_fail (err, EIO, "write the layer: %s", archive_error_string (t.a));
  if (ret == 0 && root >= 0)
    ret = walk_tar (&t, root, "", err);
  if (ret == 0 && archive_write_close (t.a) != ARCHIVE_OK)
    ret = isola_error_fail (err, sink.error ? sink.error : EIO, "write the layer: %s", archive_error_string (t.a));
  archive_entry_linkresolver_free (t.links);
  archive_write_free (t.a);
  if (ret == 0)
    {
      digester_final (d, diff_id);
      *size = t.size;
    }
  return ret;
}

int
layer_tar_write (const char *upper, int fd, digest_hex_t diff_id, int64_t *size, isola_error_t *err)
{
  return tar_write (upper, fd, true, diff_id, size, err);
}

int
tree_tar_write (const char *dir, int fd, isola_error_t *err)
{
  digest_hex_t ignored;
  int64_t size;
  return tar_write (dir, fd, false, ignored, &size, err);
}
