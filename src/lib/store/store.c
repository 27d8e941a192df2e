#define _GNU_SOURCE
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"

static const char *const store_dirs[] = { "blobs/sha256", "snapshots", "images", "mounts", "tmp" };

static int
store_create_layout (const char *root, isola_error_t *err)
{
  for (size_t i = 0; i < ARRAY_SIZE (store_dirs); i++)
    {
      cleanup_free char *p = xasprintf ("%s/%s", root, store_dirs[i]);
      int ret = mkdir_p (p, 0700, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* Whether someone other than us (or root) can change dir's entries: another owner, or write access for group or
   others, unless the sticky bit keeps them to their own entries (as /tmp's does) where sticky_ok. */
static const char *
unsafe_dir_reason (const struct stat *st, bool sticky_ok)
{
  if (!S_ISDIR (st->st_mode))
    return "it is not a directory";
  if (st->st_uid != 0 && st->st_uid != geteuid ())
    return "another user owns it";
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(sticky_ok && (st->st_mode & S_ISVTX)))
    return "group or others can write to it";
  return NULL;
}

/* The root and every directory above it must be ours: whoever can rename or replace an entry on the way could
   point the store's paths elsewhere, and isola, as root, would then write or delete there (as containerd and
   dockerd, isola owns its root).  Checked from the deepest directory that exists: before the layout is made in
   it, and again once it is. */
static int
check_dir_chain (const char *root, isola_error_t *err)
{
  char dir[PATH_MAX];
  bool is_root = true;
  if (strlen (root) >= sizeof dir)
    return isola_error_fail (err, ENAMETOOLONG, "the store root `%s` is too long", root);
  strcpy (dir, root);
  char real[PATH_MAX];
  while (realpath (dir, real) == NULL)
    {
      char *slash = strrchr (dir, '/');
      if (errno != ENOENT || strcmp (dir, ".") == 0)
        return isola_error_make (err, errno, "resolve the store root `%s`", root);
      if (slash == NULL)
        strcpy (dir, "."); /* a relative root's first component */
      else
        slash[slash == dir ? 1 : 0] = '\0';
      is_root = false;
    }
  struct stat st;
  for (;; is_root = false)
    {
      if (lstat (real, &st) < 0)
        return isola_error_make (err, errno, "stat `%s`", real);
      const char *why = unsafe_dir_reason (&st, !is_root);
      if (why)
        return isola_error_fail (err, EPERM,
                                 "refusing the store root `%s`: %s `%s`, and %s (owner %u, mode %04o): the root and "
                                 "the directories above it must be writable by root only (chown root; chmod 0700)",
                                 root, is_root ? "it is" : "it is inside", real, why, (unsigned)st.st_uid,
                                 (unsigned)(st.st_mode & 07777));
      if (strcmp (real, "/") == 0)
        return 0;
      char *slash = strrchr (real, '/');
      slash[slash == real ? 1 : 0] = '\0';
    }
}

/* The store's own top-level directories must be real directories, ours only. */
static int
check_layout (const char *root, isola_error_t *err)
{
  struct stat st;
  for (size_t i = 0; i < ARRAY_SIZE (store_dirs); i++)
    {
      cleanup_free char *p = xasprintf ("%s/%s", root, store_dirs[i]);
      const char *why = lstat (p, &st) < 0 ? strerror (errno) : unsafe_dir_reason (&st, false);
      if (why)
        return isola_error_fail (err, EPERM, "refusing the store root `%s`: `%s`: %s", root, p, why);
    }
  return 0;
}

/* Whether someone holds the flock of dir/name: a staging directory in use (store_stage_begin). */
static bool
entry_in_use (int dirfd, const char *name)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

/* Removes the entries of dir whose name starts with prefix ("" for all), but for staging directories in use. */
static int
remove_entries (const char *dir, const char *prefix, isola_error_t *err)
{
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return isola_error_make (err, errno, "open `%s`", dir);
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0 || !str_has_prefix (de->d_name, prefix)
          || entry_in_use (dirfd (d), de->d_name))
        continue;
      int ret = rm_rf_at (dirfd (d), de->d_name, err);
      if (ret < 0)
        return isola_error_wrap (err, ret, "clean up `%s`", dir);
    }
  return 0;
}

/* Staging in tmp/ and the temporary files of atomic writes belong to operations that held the exclusive lock;
   holding it now proves they are dead. */
static int
store_clear_tmp (struct isola_store *s, isola_error_t *err)
{
  static const char *const atomic_write_dirs[] = { "", "images", "blobs/sha256" };
  cleanup_free char *tmp = store_path (s, "tmp");
  int ret = remove_entries (tmp, "", err);
  for (size_t i = 0; ret == 0 && i < ARRAY_SIZE (atomic_write_dirs); i++)
    {
      cleanup_free char *dir = store_path (s, "%s", atomic_write_dirs[i]);
      ret = remove_entries (dir, ".tmp-", err);
    }
  return ret;
}

/* The collection lock: an OFD lock on the first byte of ROOT/lock, on an open file of its own. */
static int
collect_lock (struct isola_store *s, bool exclusive, isola_error_t *err)
{
  cleanup_free char *lock = store_path (s, "lock");
  s->collect_fd = open (lock, O_RDWR | O_CLOEXEC);
  if (s->collect_fd < 0)
    return isola_error_make (err, errno, "open `%s`", lock);
  struct flock fl = { .l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
  while (fcntl (s->collect_fd, F_OFD_SETLKW, &fl) < 0)
    if (errno != EINTR)
      return isola_error_make (err, errno, "take the collection lock of `%s`", lock);
  s->may_collect = exclusive;
  return 0;
}

int
store_open (const char *root, enum store_lock_mode mode, struct isola_store **out, isola_error_t *err)
{
  if (root == NULL || root[0] == '\0')
    root = ISOLA_DEFAULT_ROOT;
  int ret = check_dir_chain (root, err);
  if (ret < 0)
    return ret;
  ret = store_create_layout (root, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "open store `%s`", root);
  ret = check_layout (root, err);
  if (ret < 0)
    return ret;

  struct isola_store *s = xcalloc (1, sizeof (*s));
  s->root = xstrdup (root);
  s->lock_fd = s->collect_fd = s->staging_fd = -1;
  cleanup_store struct isola_store *guard = s;

  cleanup_free char *lock = store_path (s, "lock");
  s->lock_fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0)
    return isola_error_make (err, errno, "open `%s`", lock);
  if (mode == STORE_LOCK_COLLECT && (ret = collect_lock (s, true, err)) < 0)
    return ret;
  if (mode != STORE_LOCK_NONE && (ret = store_lock (s, mode, err)) < 0)
    return ret;
  *out = take_ptr (&guard);
  return 0;
}

int
store_lock (struct isola_store *s, enum store_lock_mode mode, isola_error_t *err)
{
  bool exclusive = mode == STORE_LOCK_EXCLUSIVE || mode == STORE_LOCK_COLLECT;
  int op = mode == STORE_LOCK_NONE ? LOCK_UN : exclusive ? LOCK_EX : LOCK_SH;
  while (flock (s->lock_fd, op) < 0)
    if (errno != EINTR)
      return isola_error_make (err, errno, "lock `%s/lock`", s->root);
  s->locked_exclusive = exclusive;
  return exclusive ? store_clear_tmp (s, err) : 0;
}

int
store_stage_begin (struct isola_store *s, const char *prefix, char **out, isola_error_t *err)
{
  int ret = collect_lock (s, false, err);
  /* The directory is made and locked under the shared store lock, so that no exclusive opener clears it first. */
  if (ret == 0)
    ret = store_lock (s, STORE_LOCK_SHARED, err);
  cleanup_free char *dir = NULL;
  if (ret == 0)
    ret = store_make_tmp (s, prefix, &dir, err);
  if (ret == 0)
    {
      s->staging_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (s->staging_fd < 0 || flock (s->staging_fd, LOCK_EX) < 0)
        ret = isola_error_make (err, errno, "lock `%s`", dir);
    }
  if (ret == 0)
    ret = store_lock (s, STORE_LOCK_NONE, err);
  if (ret < 0)
    {
      if (dir)
        (void)rm_rf (dir, NULL);
      return ret;
    }
  *out = take_ptr (&dir);
  return 0;
}

void
store_close (struct isola_store *s)
{
  if (s == NULL)
    return;
  if (s->lock_fd >= 0)
    close (s->lock_fd);
  if (s->collect_fd >= 0)
    close (s->collect_fd);
  if (s->staging_fd >= 0)
    close (s->staging_fd);
  free (s->root);
  free (s);
}

char *
store_path (const struct isola_store *s, const char *fmt, ...)
{
  char *rel = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&rel, fmt, ap) < 0)
    abort ();
  va_end (ap);
  char *p = xasprintf ("%s/%s", s->root, rel);
  free (rel);
  return p;
}

int
store_make_tmp (struct isola_store *s, const char *prefix, char **out, isola_error_t *err)
{
  cleanup_free char *tmp = store_path (s, "tmp");
  return make_temp_dir (tmp, prefix, out, err);
}

char *
blob_path (const struct isola_store *s, const char *hex)
{
  return store_path (s, "blobs/sha256/%s", hex);
}

bool
blob_exists (const struct isola_store *s, const char *hex)
{
  cleanup_free char *p = blob_path (s, hex);
  return path_exists (p);
}

int
blob_publish_verified (struct isola_store *s, const char *staged, const char *hex, isola_error_t *err)
{
  if (!digest_hex_valid (hex))
    return isola_error_fail (err, EINVAL, "invalid blob digest `%s`", hex);
  if (blob_exists (s, hex))
    return 0;
  cleanup_free char *dst = blob_path (s, hex);
  /* Follow a staged symlink (docker save links duplicate layers) to publish the file it names. */
  if (linkat (AT_FDCWD, staged, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) < 0 && errno != EEXIST)
    return isola_error_make (err, errno, "link blob `%s`", dst);
  return 0;
}

int
blob_read (const struct isola_store *s, const char *hex, size_t max, char **out, size_t *len, isola_error_t *err)
{
  cleanup_free char *p = blob_path (s, hex);
  return read_file_bounded (p, max, out, len, err);
}

int
blob_remove (struct isola_store *s, const char *hex, isola_error_t *err)
{
  cleanup_free char *p = blob_path (s, hex);
  if (unlink (p) < 0 && errno != ENOENT)
    return isola_error_make (err, errno, "remove `%s`", p);
  return 0;
}

char *
snapshot_dir (const struct isola_store *s, const char *chain_hex)
{
  return store_path (s, "snapshots/%s", chain_hex);
}

char *
snapshot_fs (const struct isola_store *s, const char *chain_hex)
{
  return store_path (s, "snapshots/%s/fs", chain_hex);
}

bool
snapshot_exists (const struct isola_store *s, const char *chain_hex)
{
  cleanup_free char *p = snapshot_dir (s, chain_hex);
  return path_exists (p);
}

int64_t
snapshot_size (const struct isola_store *s, const char *chain_hex)
{
  cleanup_free char *p = store_path (s, "snapshots/%s/meta.json", chain_hex);
  cleanup_free char *buf = NULL;
  if (read_file_bounded (p, 4096, &buf, NULL, NULL) < 0)
    return 0;
  json_t *o = json_loads (buf, 0, NULL);
  int64_t size = json_integer_value (json_object_get (o, "size"));
  json_decref (o);
  return size;
}

int
store_config_load (const char *root, json_t **out, isola_error_t *err)
{
  *out = NULL;
  cleanup_free char *path = xasprintf ("%s/%s", root, STORE_CONFIG);
  if (!path_exists (path))
    return 0;
  cleanup_free char *text = NULL;
  size_t len = 0;
  int ret = read_file_bounded (path, 1 << 20, &text, &len, err);
  if (ret < 0)
    return ret;
  json_error_t jerr;
  *out = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (*out == NULL)
    return isola_error_fail (err, EINVAL, "`%s`: %s (line %d)", path, jerr.text, jerr.line);
  return 0;
}
