/* Unit tests for layer_unpack and layer_diff_id.  Layers are built here with libarchive's writer (pax or ustar,
   optionally gzip or zstd) into memfds; every test unpacks into its own temporary directory and removes it.
   Needs root: ownership, device nodes and trusted.* xattrs are part of what is checked. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/util.h"
#include "image/unpack.h"
#include "tap.h"

/* ---- Building layers ---------------------------------------------------------------------------------------- */

struct buf
{
  char *data;
  size_t len;
};

static void
buf_append (struct buf *b, const void *data, size_t n)
{
  b->data = xrealloc (b->data, b->len + n);
  memcpy (b->data + b->len, data, n);
  b->len += n;
}

static la_ssize_t
buf_write_cb (struct archive *a, void *opaque, const void *data, size_t n)
{
  (void)a;
  buf_append (opaque, data, n);
  return (la_ssize_t)n;
}

/* One tar entry; zero fields take the defaults a plain root-owned file would have. */
struct ent
{
  const char *path;
  mode_t type; /* AE_IFREG when 0 */
  mode_t perm; /* 0644 (0755 for directories) when 0 */
  uid_t uid;
  gid_t gid;
  const char *data;
  const char *symlink;
  const char *hardlink;
  dev_t rdev;
  time_t mtime;
  const char *xattr[3][2]; /* name, value */
};

static struct archive *
tar_begin (struct buf *out, int format)
{
  struct archive *a = archive_write_new ();
  archive_write_set_format (a, format);
  archive_write_open (a, out, NULL, buf_write_cb, NULL);
  return a;
}

static void
tar_add (struct archive *a, struct ent e)
{
  struct archive_entry *entry = archive_entry_new ();
  mode_t type = e.type ? e.type : AE_IFREG;
  archive_entry_copy_pathname (entry, e.path);
  archive_entry_set_filetype (entry, type);
  archive_entry_set_perm (entry, e.perm ? e.perm : type == AE_IFDIR ? 0755 : 0644);
  archive_entry_set_uid (entry, e.uid);
  archive_entry_set_gid (entry, e.gid);
  archive_entry_set_mtime (entry, e.mtime ? e.mtime : 1500000000, 0);
  if (e.symlink)
    archive_entry_copy_symlink (entry, e.symlink);
  if (e.hardlink)
    archive_entry_copy_hardlink (entry, e.hardlink);
  if (e.rdev)
    archive_entry_set_rdev (entry, e.rdev);
  for (size_t i = 0; i < 3 && e.xattr[i][0]; i++)
    archive_entry_xattr_add_entry (entry, e.xattr[i][0], e.xattr[i][1], strlen (e.xattr[i][1]));
  size_t size = e.data ? strlen (e.data) : 0;
  archive_entry_set_size (entry, (la_int64_t)size);
  if (archive_write_header (a, entry) < ARCHIVE_WARN)
    abort ();
  if (size > 0 && archive_write_data (a, e.data, size) != (la_ssize_t)size)
    abort ();
  archive_entry_free (entry);
}

static void
tar_end (struct archive *a)
{
  archive_write_close (a);
  archive_write_free (a);
}

/* Compresses with libarchive's raw format, which writes one entry's data through the filter. */
static struct buf
compress_buf (const struct buf *in, int filter)
{
  struct buf out = { 0 };
  struct archive *a = archive_write_new ();
  archive_write_add_filter (a, filter);
  archive_write_set_format_raw (a);
  archive_write_set_bytes_in_last_block (a, 1);
  archive_write_open (a, &out, NULL, buf_write_cb, NULL);
  struct archive_entry *entry = archive_entry_new ();
  archive_entry_set_pathname (entry, "layer.tar");
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_size (entry, (la_int64_t)in->len);
  archive_write_header (a, entry);
  archive_write_data (a, in->data, in->len);
  archive_entry_free (entry);
  tar_end (a);
  return out;
}

static int
buf_fd (const struct buf *b)
{
  int fd = memfd_create ("layer", MFD_CLOEXEC);
  if (fd < 0 || write_all (fd, b->data, b->len) < 0 || lseek (fd, 0, SEEK_SET) < 0)
    abort ();
  return fd;
}

/* ---- Running and inspecting ------------------------------------------------------------------------------- */

/* A scratch directory holding dest ("root") and whatever a test puts beside it. */
struct scratch
{
  char *base;
  char *dest;
};

static struct scratch
scratch_new (void)
{
  struct scratch s = { 0 };
  if (make_temp_dir ("/tmp", "isola-test-unpack", &s.base, NULL) < 0)
    abort ();
  s.dest = xasprintf ("%s/root", s.base);
  if (mkdir (s.dest, 0755) < 0)
    abort ();
  return s;
}

static void
scratch_free (struct scratch *s)
{
  if (rm_rf (s->base, NULL) < 0)
    printf ("# could not remove %s\n", s->base);
  free (s->base);
  free (s->dest);
}

/* Unpacks layer (freeing it) into dest; on failure *msg (if given) gets the error message. */
static int
unpack (struct buf layer, const char *dest, const char *const *lowers, struct unpack_result *res, char **msg)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_close int fd = buf_fd (&layer);
  struct unpack_result ignored;
  int ret = layer_unpack (fd, dest, lowers, res ? res : &ignored, &err);
  if (ret < 0 && msg)
    *msg = xstrdup (err && err->msg ? err->msg : "");
  if (ret < 0 && err == NULL)
    printf ("# error without a message\n");
  free (layer.data);
  return ret;
}

static char *
at (const char *dir, const char *rel)
{
  return xasprintf ("%s/%s", dir, rel);
}

static bool
lstat_at (const char *dir, const char *rel, struct stat *st)
{
  cleanup_free char *p = at (dir, rel);
  return lstat (p, st) == 0;
}

static bool
exists_at (const char *dir, const char *rel)
{
  struct stat st;
  return lstat_at (dir, rel, &st);
}

static char *
read_at (const char *dir, const char *rel)
{
  cleanup_free char *p = at (dir, rel);
  char *out = NULL;
  if (read_file_bounded (p, 1 << 20, &out, NULL, NULL) < 0)
    return NULL;
  return out;
}

static char *
xattr_at (const char *dir, const char *rel, const char *name)
{
  cleanup_free char *p = at (dir, rel);
  char value[256];
  ssize_t n = lgetxattr (p, name, value, sizeof value - 1);
  if (n < 0)
    return NULL;
  value[n] = '\0';
  return xstrdup (value);
}

static bool
is_whiteout_at (const char *dir, const char *rel)
{
  struct stat st;
  return lstat_at (dir, rel, &st) && S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0);
}

/* CHECK evaluates its condition twice: keep side effects (and printing) out of it. */
static bool
msg_has (const char *msg, const char *needle)
{
  return msg && strstr (msg, needle);
}

/* True when no name under dir starts with ".wh.". */
static bool
no_markers_under (const char *dir)
{
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return false;
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (str_has_prefix (de->d_name, ".wh."))
        return false;
      cleanup_free char *sub = at (dir, de->d_name);
      struct stat st;
      if (lstat (sub, &st) == 0 && S_ISDIR (st.st_mode) && !no_markers_under (sub))
        return false;
    }
  return true;
}

static bool
hex_equal (const char *a, const char *b)
{
  return strcmp (a, b) == 0;
}

/* ---- Tests ---------------------------------------------------------------------------------------------------- */

static void
test_file_types (void)
{
  struct scratch s = scratch_new ();
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, (struct ent){ .path = "d", .type = AE_IFDIR, .uid = 1000, .gid = 1000, .mtime = 1000000000 });
  tar_add (a, (struct ent){ .path = "d/f",
                            .perm = 04755,
                            .uid = 1000,
                            .gid = 1000,
                            .data = "hello",
                            .mtime = 1100000000,
                            .xattr = { { "user.test", "value" } } });
  tar_add (a, (struct ent){ .path = "d/l", .type = AE_IFLNK, .perm = 0777, .symlink = "f" });
  tar_add (a, (struct ent){ .path = "d/h", .hardlink = "d/f" });
  tar_add (a, (struct ent){ .path = "d/p", .type = AE_IFIFO, .perm = 0600 });
  tar_add (a, (struct ent){ .path = "d/null", .type = AE_IFCHR, .perm = 0666, .rdev = makedev (1, 3) });
  tar_add (a, (struct ent){ .path = "tmp", .type = AE_IFDIR, .perm = 01777 });
  tar_add (a, (struct ent){ .path = "shared", .type = AE_IFDIR, .perm = 02775, .gid = 50 });
  tar_add (a, (struct ent){ .path = "shared/big", .data = "0123456789" });
  tar_end (a);

  struct unpack_result res = { 0 };
  char *msg = NULL;
  int ret = unpack (layer, s.dest, NULL, &res, &msg);
  CHECK (ret == 0, "file types: unpack succeeds");
  if (ret < 0)
    printf ("# %s\n", msg);
  free (msg);

  struct stat st;
  CHECK (lstat_at (s.dest, "d", &st) && S_ISDIR (st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_uid == 1000
             && st.st_gid == 1000,
         "directory with owner 1000:1000 and mode 0755");
  CHECK (lstat_at (s.dest, "d", &st) && st.st_mtime == 1000000000,
         "directory mtime survives the entries written into it");
  CHECK (lstat_at (s.dest, "d/f", &st) && S_ISREG (st.st_mode) && (st.st_mode & 07777) == 04755 && st.st_uid == 1000
             && st.st_gid == 1000 && st.st_mtime == 1100000000,
         "regular file keeps setuid mode 4755, owner 1000:1000 and mtime");
  cleanup_free char *content = read_at (s.dest, "d/f");
  CHECK_STR (content, "hello", "regular file content");
  cleanup_free char *xv = xattr_at (s.dest, "d/f", "user.test");
  CHECK_STR (xv, "value", "user.* xattr preserved");
  char target[64] = { 0 };
  cleanup_free char *lpath = at (s.dest, "d/l");
  CHECK (readlink (lpath, target, sizeof target - 1) == 1 && strcmp (target, "f") == 0, "symlink and its target");
  struct stat f, h;
  CHECK (lstat_at (s.dest, "d/f", &f) && lstat_at (s.dest, "d/h", &h) && f.st_ino == h.st_ino && h.st_nlink == 2,
         "hard link shares the inode");
  CHECK (lstat_at (s.dest, "d/p", &st) && S_ISFIFO (st.st_mode), "FIFO");
  CHECK (lstat_at (s.dest, "d/null", &st) && S_ISCHR (st.st_mode) && st.st_rdev == makedev (1, 3)
             && (st.st_mode & 0777) == 0666,
         "character device 1:3");
  CHECK (lstat_at (s.dest, "tmp", &st) && (st.st_mode & 07777) == 01777, "sticky directory 1777");
  CHECK (lstat_at (s.dest, "shared", &st) && (st.st_mode & 07777) == 02775 && st.st_gid == 50, "setgid directory 2775");
  CHECK (res.size == 15, "size counts regular files once (hard link not counted): %jd", (intmax_t)res.size);
  CHECK (res.entries == 9, "entries counts every entry: %jd", (intmax_t)res.entries);
  scratch_free (&s);
}

static struct buf
sample_layer (int format)
{
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, format);
  tar_add (a, (struct ent){ .path = "etc", .type = AE_IFDIR });
  tar_add (a, (struct ent){ .path = "etc/hostname", .data = "isola\n" });
  tar_add (a, (struct ent){ .path = "etc/.wh.old", .data = "skipped data is still hashed" });
  tar_add (a, (struct ent){ .path = "etc/motd", .data = "welcome\n" });
  tar_end (a);
  return layer;
}

static void
check_diff_id (const char *what, struct buf plain, struct buf stored, const char *suffix_note)
{
  digest_hex_t want;
  digest_buffer (plain.data, plain.len, want);

  cleanup_close int fd = buf_fd (&stored);
  digest_hex_t got;
  cleanup_error isola_error_t err = NULL;
  int r = layer_diff_id (fd, got, &err);
  CHECK (r == 0 && hex_equal (got, want), "%s: layer_diff_id is sha256 of the tar%s", what, suffix_note);

  struct scratch s = scratch_new ();
  struct unpack_result res = { 0 };
  char *msg = NULL;
  int ret = unpack (stored, s.dest, NULL, &res, &msg);
  CHECK (ret == 0 && hex_equal (res.diff_id, want), "%s: layer_unpack's diff_id is sha256 of the tar%s", what,
         suffix_note);
  if (ret < 0)
    printf ("# %s\n", msg);
  free (msg);
  scratch_free (&s);
}

static void
test_diff_id (void)
{
  struct buf plain = sample_layer (ARCHIVE_FORMAT_TAR_USTAR);
  CHECK (plain.len == 10240, "libarchive pads the tar to a 10240-byte record (%zu), past the end marker", plain.len);
  struct buf copy = { 0 };
  buf_append (&copy, plain.data, plain.len);
  check_diff_id ("plain", plain, copy, "");
  check_diff_id ("gzip", plain, compress_buf (&plain, ARCHIVE_FILTER_GZIP), "");
  check_diff_id ("zstd", plain, compress_buf (&plain, ARCHIVE_FILTER_ZSTD), "");

  /* Bytes after the padding belong to the stream as well. */
  struct buf trailing = { 0 };
  buf_append (&trailing, plain.data, plain.len);
  buf_append (&trailing, "trailing garbage", 16);
  struct buf copy2 = { 0 };
  buf_append (&copy2, trailing.data, trailing.len);
  check_diff_id ("plain", trailing, copy2, " including trailing bytes");
  free (trailing.data);
  free (plain.data);

  struct buf pax = sample_layer (ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  check_diff_id ("pax gzip", pax, compress_buf (&pax, ARCHIVE_FILTER_GZIP), "");
  free (pax.data);

  /* A zero-byte layer is an empty layer, as Docker reads it. */
  struct scratch s = scratch_new ();
  struct unpack_result res = { 0 };
  int ret = unpack ((struct buf){ 0 }, s.dest, NULL, &res, NULL);
  CHECK (ret == 0 && res.entries == 0
             && hex_equal (res.diff_id, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
         "empty stream: empty layer with the sha256 of nothing");
  scratch_free (&s);
}

static void
test_whiteouts (void)
{
  struct scratch s = scratch_new ();
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, (struct ent){ .path = ".wh.foo" });
  tar_add (a, (struct ent){ .path = "a/.wh..wh..opq" }); /* before its directory and its entries */
  tar_add (a, (struct ent){ .path = "a", .type = AE_IFDIR, .perm = 0711 });
  tar_add (a, (struct ent){ .path = "a/x", .data = "x" });
  tar_add (a, (struct ent){ .path = "b", .type = AE_IFDIR });
  tar_add (a, (struct ent){ .path = "b/y", .data = "y" });
  tar_add (a, (struct ent){ .path = "b/.wh..wh..opq" }); /* after them */
  tar_add (a, (struct ent){ .path = ".wh..wh.plnk", .type = AE_IFDIR });
  tar_add (a, (struct ent){ .path = ".wh..wh.plnk/1234.5678", .data = "aufs" });
  tar_add (a, (struct ent){ .path = "c/.wh.gone" }); /* in a directory the layer does not list */
  tar_add (a, (struct ent){ .path = "keep", .data = "k" });
  tar_add (a, (struct ent){ .path = ".wh.keep" }); /* the layer's own file stays (OCI) */
  tar_add (a, (struct ent){ .path = "kd", .type = AE_IFDIR });
  tar_add (a, (struct ent){ .path = "kd/z", .data = "z" });
  tar_add (a, (struct ent){ .path = ".wh.kd" });
  tar_add (a, (struct ent){ .path = ".wh.late" });
  tar_add (a, (struct ent){ .path = "late", .type = AE_IFDIR });
  tar_add (a, (struct ent){ .path = "late/z", .data = "z" });
  tar_end (a);

  struct unpack_result res = { 0 };
  char *msg = NULL;
  int ret = unpack (layer, s.dest, NULL, &res, &msg);
  CHECK (ret == 0, "whiteouts: unpack succeeds");
  if (ret < 0)
    printf ("# %s\n", msg);
  free (msg);

  CHECK (is_whiteout_at (s.dest, "foo"), "`.wh.foo` becomes a 0/0 character device `foo`");
  struct stat st;
  CHECK (lstat_at (s.dest, "foo", &st) && (st.st_mode & 07777) == 0, "whiteout has mode 0");
  cleanup_free char *oa = xattr_at (s.dest, "a", "trusted.overlay.opaque");
  cleanup_free char *ob = xattr_at (s.dest, "b", "trusted.overlay.opaque");
  CHECK_STR (oa, "y", "opaque marker before the directory entry sets trusted.overlay.opaque=y");
  CHECK_STR (ob, "y", "opaque marker after the directory's entries sets trusted.overlay.opaque=y");
  CHECK (lstat_at (s.dest, "a", &st) && (st.st_mode & 07777) == 0711, "the later directory entry still applies");
  CHECK (exists_at (s.dest, "a/x") && exists_at (s.dest, "b/y"), "the layer's own entries in opaque dirs stay");
  CHECK (!exists_at (s.dest, ".wh..wh.plnk") && !exists_at (s.dest, "1234.5678"), "aufs `.wh..wh.plnk` skipped");
  CHECK (is_whiteout_at (s.dest, "c/gone"), "whiteout in an unlisted directory");
  CHECK (lstat_at (s.dest, "keep", &st) && S_ISREG (st.st_mode), "whiteout after a same-layer file keeps the file");
  cleanup_free char *okd = xattr_at (s.dest, "kd", "trusted.overlay.opaque");
  CHECK (okd && strcmp (okd, "y") == 0 && exists_at (s.dest, "kd/z"),
         "whiteout after a same-layer directory makes it opaque and keeps its content");
  cleanup_free char *olate = xattr_at (s.dest, "late", "trusted.overlay.opaque");
  CHECK (lstat_at (s.dest, "late", &st) && S_ISDIR (st.st_mode) && olate && strcmp (olate, "y") == 0
             && exists_at (s.dest, "late/z"),
         "directory after its whiteout replaces it and is opaque");
  CHECK (no_markers_under (s.dest), "no `.wh.` names anywhere in dest");
  CHECK (res.entries == 18, "markers count as entries: %jd", (intmax_t)res.entries);
  scratch_free (&s);
}

/* Unpacks a layer expected to fail and checks the message. */
static void
expect_failure (struct buf layer, const char *dest, const char *const *lowers, const char *needle, const char *what)
{
  char *msg = NULL;
  int ret = unpack (layer, dest, lowers, NULL, &msg);
  CHECK (ret < 0 && msg_has (msg, needle), "%s", what);
  if (!(ret < 0 && msg_has (msg, needle)))
    printf ("# message: %s\n", msg ? msg : "(none: it succeeded)");
  free (msg);
}

static struct buf
one_entry (struct ent e)
{
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, e);
  tar_end (a);
  return layer;
}

static struct buf
two_entries (struct ent e1, struct ent e2)
{
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, e1);
  tar_add (a, e2);
  tar_end (a);
  return layer;
}

static void
test_dotdot (void)
{
  struct scratch s = scratch_new ();
  expect_failure (one_entry ((struct ent){ .path = "../evil", .data = "x" }), s.dest, NULL,
                  "layer entry `../evil` escapes the root", "`../evil` rejected");
  expect_failure (one_entry ((struct ent){ .path = "a/../../evil", .data = "x" }), s.dest, NULL,
                  "layer entry `a/../../evil` escapes the root", "`a/../../evil` rejected");
  expect_failure (one_entry ((struct ent){ .path = "ok", .hardlink = "../../etc/passwd" }), s.dest, NULL,
                  "escapes the root", "hard link to `../../etc/passwd` rejected");
  CHECK (!exists_at (s.base, "evil") && !exists_at (s.dest, "a") && !exists_at (s.dest, "ok"),
         "nothing written for the rejected entries");
  scratch_free (&s);
}

static void
test_absolute (void)
{
  struct scratch s = scratch_new ();
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, (struct ent){ .path = "/abs/file", .data = "abs" });
  tar_add (a, (struct ent){ .path = ".//./rel//file", .data = "rel" });
  tar_add (a, (struct ent){ .path = "/abs/link", .hardlink = "/abs/file" });
  tar_end (a);
  int ret = unpack (layer, s.dest, NULL, NULL, NULL);
  CHECK (ret == 0, "absolute names: unpack succeeds");
  cleanup_free char *c = read_at (s.dest, "abs/file");
  CHECK_STR (c, "abs", "`/abs/file` lands at dest/abs/file");
  CHECK (exists_at (s.dest, "rel/file"), "`.//./rel//file` lands at dest/rel/file");
  struct stat f, l;
  CHECK (lstat_at (s.dest, "abs/file", &f) && lstat_at (s.dest, "abs/link", &l) && f.st_ino == l.st_ino,
         "absolute hard link target normalized too");
  scratch_free (&s);
}

static void
test_symlink_escapes (void)
{
  struct scratch s = scratch_new ();
  cleanup_free char *outside = at (s.base, "outside");
  if (mkdir (outside, 0755) < 0)
    abort ();

  expect_failure (two_entries ((struct ent){ .path = "link", .type = AE_IFLNK, .symlink = outside },
                               (struct ent){ .path = "link/file", .data = "evil" }),
                  s.dest, NULL, "would be written through the symlink `link`",
                  "writing through a symlink to an outside directory rejected");
  CHECK (!exists_at (outside, "file"), "nothing written to the symlink's target");

  bool tmp_x_existed = path_exists ("/tmp/x");
  struct scratch s2 = scratch_new ();
  expect_failure (two_entries ((struct ent){ .path = "link", .type = AE_IFLNK, .symlink = "/tmp/x" },
                               (struct ent){ .path = "link/file", .data = "evil" }),
                  s2.dest, NULL, "symlink", "`link -> /tmp/x` then `link/file` rejected");
  CHECK (path_exists ("/tmp/x") == tmp_x_existed && !path_exists ("/tmp/x/file"), "nothing written to /tmp/x");
  scratch_free (&s2);

  struct scratch s3 = scratch_new ();
  cleanup_free char *escape = xasprintf ("%s/../escape", s3.base);
  bool escape_existed = path_exists (escape);
  expect_failure (two_entries ((struct ent){ .path = "up", .type = AE_IFLNK, .symlink = "../.." },
                               (struct ent){ .path = "up/escape", .data = "evil" }),
                  s3.dest, NULL, "symlink `up`", "`up -> ../..` then `up/escape` rejected");
  CHECK (path_exists (escape) == escape_existed, "nothing written two levels up");
  scratch_free (&s3);

  struct scratch s4 = scratch_new ();
  expect_failure (two_entries ((struct ent){ .path = "etc", .type = AE_IFLNK, .symlink = "/etc" },
                               (struct ent){ .path = "pw", .hardlink = "etc/passwd" }),
                  s4.dest, NULL, "goes through a symlink", "hard link through a symlink rejected");
  scratch_free (&s4);

  /* A later entry of the same name replaces the symlink itself; its target is untouched. */
  struct scratch s5 = scratch_new ();
  cleanup_free char *victim = at (s5.base, "victim");
  if (write_file_atomic (victim, "safe", 4, 0644, NULL) < 0)
    abort ();
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, (struct ent){ .path = "f", .type = AE_IFLNK, .symlink = victim });
  tar_add (a, (struct ent){ .path = "f", .data = "replaced" });
  tar_add (a, (struct ent){ .path = "d", .type = AE_IFLNK, .symlink = s5.base });
  tar_add (a, (struct ent){ .path = "d", .type = AE_IFDIR, .perm = 0711 });
  tar_end (a);
  int ret = unpack (layer, s5.dest, NULL, NULL, NULL);
  CHECK (ret == 0, "entries replacing symlinks: unpack succeeds");
  cleanup_free char *v = read_at (s5.base, "victim");
  cleanup_free char *f = read_at (s5.dest, "f");
  struct stat st, base_st;
  CHECK_STR (v, "safe", "file replacing a symlink leaves the symlink's target alone");
  CHECK_STR (f, "replaced", "the file replaced the symlink");
  CHECK (lstat_at (s5.dest, "d", &st) && S_ISDIR (st.st_mode) && stat (s5.base, &base_st) == 0
             && (base_st.st_mode & 07777) == 0700 && (st.st_mode & 07777) == 0711,
         "directory replacing a symlink to a directory does not chmod the target");
  scratch_free (&s5);
  scratch_free (&s);
}

static void
make_file (const char *path, const char *content, mode_t mode, uid_t uid, gid_t gid)
{
  if (write_file_atomic (path, content, strlen (content), mode, NULL) < 0 || chown (path, uid, gid) < 0
      || chmod (path, mode) < 0)
    abort ();
}

static void
test_lower_hardlinks (void)
{
  struct scratch s = scratch_new ();
  cleanup_free char *near = at (s.base, "near");
  cleanup_free char *far = at (s.base, "far");
  cleanup_free char *usr = at (far, "usr");
  cleanup_free char *bin = at (far, "usr/bin");
  cleanup_free char *tool = at (far, "usr/bin/tool");
  cleanup_free char *gone_far = at (far, "gone");
  cleanup_free char *gone_near = at (near, "gone");
  cleanup_free char *op_near = at (near, "o");
  cleanup_free char *op_far = at (far, "o");
  cleanup_free char *op_far_f = at (far, "o/f");
  cleanup_free char *sym = at (near, "sym");
  if (mkdir (near, 0755) < 0 || mkdir (far, 0755) < 0 || mkdir (usr, 0755) < 0 || mkdir (bin, 0750) < 0
      || chown (bin, 3, 3) < 0 || mkdir (op_near, 0755) < 0 || mkdir (op_far, 0755) < 0
      || setxattr (op_near, "trusted.overlay.opaque", "y", 1, 0) < 0 || mknod (gone_near, S_IFCHR, makedev (0, 0)) < 0
      || symlink ("/etc/passwd", sym) < 0)
    abort ();
  make_file (tool, "tool!", 0751, 1000, 2000);
  make_file (gone_far, "hidden", 0644, 0, 0);
  make_file (op_far_f, "hidden", 0644, 0, 0);
  if (setxattr (tool, "user.lower", "1", 1, 0) < 0 || setxattr (tool, "trusted.overlay.origin", "o", 1, 0) < 0)
    abort ();
  const struct timespec times[2] = { { 1200000000, 0 }, { 1300000000, 0 } };
  if (utimensat (AT_FDCWD, tool, times, 0) < 0)
    abort ();
  const char *lowers[] = { near, far, NULL };

  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, (struct ent){ .path = "opt", .type = AE_IFDIR });
  tar_add (a, (struct ent){ .path = "opt/tool", .hardlink = "usr/bin/tool" });
  tar_end (a);
  char *msg = NULL;
  int ret = unpack (layer, s.dest, lowers, NULL, &msg);
  CHECK (ret == 0, "hard link to a lower file: unpack succeeds");
  if (ret < 0)
    printf ("# %s\n", msg);
  free (msg);
  struct stat t, l, d;
  CHECK (lstat_at (s.dest, "usr/bin/tool", &t) && S_ISREG (t.st_mode) && (t.st_mode & 07777) == 0751 && t.st_uid == 1000
             && t.st_gid == 2000 && t.st_mtime == 1300000000,
         "the lower file is copied up with mode, owner and mtime");
  cleanup_free char *content = read_at (s.dest, "usr/bin/tool");
  CHECK_STR (content, "tool!", "copied content");
  cleanup_free char *ux = xattr_at (s.dest, "usr/bin/tool", "user.lower");
  cleanup_free char *ox = xattr_at (s.dest, "usr/bin/tool", "trusted.overlay.origin");
  CHECK (ux && strcmp (ux, "1") == 0 && ox == NULL, "copy keeps user.* xattrs and drops trusted.overlay.*");
  CHECK (lstat_at (s.dest, "opt/tool", &l) && l.st_ino == t.st_ino, "the link points at the copy");
  CHECK (lstat_at (s.dest, "usr/bin", &d) && (d.st_mode & 07777) == 0750 && d.st_uid == 3,
         "implicit parent directory takes the lower directory's mode and owner");

  struct scratch s2 = scratch_new ();
  expect_failure (one_entry ((struct ent){ .path = "x", .hardlink = "gone" }), s2.dest, lowers,
                  "`gone` is neither in this layer nor below it",
                  "target whited out in a nearer lower layer is not found");
  expect_failure (one_entry ((struct ent){ .path = "x", .hardlink = "o/f" }), s2.dest, lowers, "neither",
                  "target under an opaque directory of a nearer lower layer is not found");
  expect_failure (one_entry ((struct ent){ .path = "x", .hardlink = "nowhere" }), s2.dest, lowers,
                  "hard link `x`: target `nowhere` is neither in this layer nor below it", "missing target");
  expect_failure (one_entry ((struct ent){ .path = "x", .hardlink = "sym" }), s2.dest, lowers, "not a regular file",
                  "lower target that is a symlink rejected");
  expect_failure (one_entry ((struct ent){ .path = "x", .hardlink = "sym/x" }), s2.dest, lowers, "behind a symlink",
                  "lower target behind a symlink rejected");
  expect_failure (one_entry ((struct ent){ .path = "x", .hardlink = "usr/bin/tool" }), s2.dest, NULL, "neither",
                  "without lowers, a missing target is an error");
  scratch_free (&s2);
  scratch_free (&s);
}

static void
test_corrupt (void)
{
  struct buf plain = sample_layer (ARCHIVE_FORMAT_TAR_USTAR);
  struct buf gz = compress_buf (&plain, ARCHIVE_FILTER_GZIP);
  gz.len /= 2;
  struct buf gz_copy = { 0 };
  buf_append (&gz_copy, gz.data, gz.len);

  struct scratch s = scratch_new ();
  expect_failure (gz, s.dest, NULL, "layer is truncated or corrupt: ", "truncated gzip rejected");
  scratch_free (&s);

  cleanup_close int fd = buf_fd (&gz_copy);
  free (gz_copy.data);
  digest_hex_t out;
  cleanup_error isola_error_t err = NULL;
  int ret = layer_diff_id (fd, out, &err);
  CHECK (ret < 0 && err && msg_has (err->msg, "truncated or corrupt"), "layer_diff_id of a truncated gzip fails");

  struct scratch s2 = scratch_new ();
  plain.len = 512 + 3; /* a header and three bytes of the file */
  expect_failure (plain, s2.dest, NULL, "layer is truncated or corrupt: ", "truncated tar rejected");
  scratch_free (&s2);

  struct scratch s3 = scratch_new ();
  struct buf junk = { 0 };
  buf_append (&junk, "this is not a tar archive, not even close to one; it just goes on and on", 73);
  expect_failure (junk, s3.dest, NULL, "truncated or corrupt", "non-tar input rejected");
  scratch_free (&s3);
}

static void
test_xattr_policy (void)
{
  struct scratch s = scratch_new ();
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, (struct ent){ .path = "d",
                            .type = AE_IFDIR,
                            .xattr = { { "trusted.overlay.opaque", "y" }, { "user.overlay.opaque", "y" } } });
  tar_add (a, (struct ent){ .path = "d/f",
                            .data = "f",
                            .xattr = { { "trusted.overlay.redirect", "/etc" },
                                       { "user.keep", "1" },
                                       { "security.capability", "not a valid capability" } } });
  tar_add (a, (struct ent){ .path = "t", .data = "t", .xattr = { { "trusted.isola", "kept" } } });
  tar_end (a);
  char *msg = NULL;
  int ret = unpack (layer, s.dest, NULL, NULL, &msg);
  CHECK (ret == 0, "xattrs: unpack succeeds (an unsettable security.* xattr is dropped)");
  if (ret < 0)
    printf ("# %s\n", msg);
  free (msg);
  cleanup_free char *redirect = xattr_at (s.dest, "d/f", "trusted.overlay.redirect");
  cleanup_free char *keep = xattr_at (s.dest, "d/f", "user.keep");
  cleanup_free char *cap = xattr_at (s.dest, "d/f", "security.capability");
  cleanup_free char *opaque = xattr_at (s.dest, "d", "trusted.overlay.opaque");
  cleanup_free char *uopaque = xattr_at (s.dest, "d", "user.overlay.opaque");
  cleanup_free char *trusted = xattr_at (s.dest, "t", "trusted.isola");
  CHECK (redirect == NULL, "trusted.overlay.redirect from the tar is dropped");
  CHECK (opaque == NULL && uopaque == NULL, "trusted.overlay.opaque and user.overlay.* from the tar are dropped");
  CHECK_STR (keep, "1", "user.* xattr beside it is kept");
  CHECK (cap == NULL, "invalid security.capability dropped");
  CHECK_STR (trusted, "kept", "other trusted.* xattrs are kept");

  struct scratch s2 = scratch_new ();
  expect_failure (one_entry ((struct ent){ .path = "f", .data = "f", .xattr = { { "bogus.name", "1" } } }), s2.dest,
                  NULL, "set xattr `bogus.name`", "an xattr that cannot be set fails the layer, naming it");
  scratch_free (&s2);
  scratch_free (&s);
}

static void
test_root_entry_and_cwd (void)
{
  struct scratch s = scratch_new ();
  char before[4096], after[4096];
  if (getcwd (before, sizeof before) == NULL)
    abort ();
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, (struct ent){ .path = "./", .type = AE_IFDIR, .perm = 0750, .mtime = 1234567890 });
  tar_add (a, (struct ent){ .path = "./file", .data = "f" });
  tar_end (a);
  int ret = unpack (layer, s.dest, NULL, NULL, NULL);
  CHECK (ret == 0, "root entry `./`: unpack succeeds");
  struct stat st;
  CHECK (stat (s.dest, &st) == 0 && (st.st_mode & 07777) == 0750 && st.st_mtime == 1234567890,
         "root entry's mode and mtime apply to dest");
  bool same = getcwd (after, sizeof after) && strcmp (before, after) == 0;
  CHECK (same, "working directory restored after success");

  expect_failure (one_entry ((struct ent){ .path = ".", .type = AE_IFLNK, .symlink = "/etc" }), s.dest, NULL,
                  "would replace the root", "a non-directory root entry is rejected");
  same = getcwd (after, sizeof after) && strcmp (before, after) == 0;
  CHECK (same, "working directory restored after failure");

  cleanup_error isola_error_t err = NULL;
  struct unpack_result res;
  ret = layer_unpack (0, "/nonexistent/isola-dest", NULL, &res, &err);
  CHECK (ret < 0 && err && msg_has (err->msg, "/nonexistent/isola-dest"), "missing dest reported");
  scratch_free (&s);
}

static void
test_replacements (void)
{
  struct scratch s = scratch_new ();
  struct buf layer = { 0 };
  struct archive *a = tar_begin (&layer, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  tar_add (a, (struct ent){ .path = "x", .data = "file first" });
  tar_add (a, (struct ent){ .path = "x/y", .data = "then a directory" });
  tar_add (a, (struct ent){ .path = "e", .type = AE_IFDIR });
  tar_add (a, (struct ent){ .path = "e", .data = "empty dir replaced" });
  tar_add (a, (struct ent){ .path = "dup", .data = "one" });
  tar_add (a, (struct ent){ .path = "dup", .data = "two" });
  tar_end (a);
  int ret = unpack (layer, s.dest, NULL, NULL, NULL);
  CHECK (ret == 0, "replacements: unpack succeeds");
  cleanup_free char *y = read_at (s.dest, "x/y");
  cleanup_free char *e = read_at (s.dest, "e");
  cleanup_free char *dup = read_at (s.dest, "dup");
  CHECK_STR (y, "then a directory", "a file in the way of a directory is replaced (tar semantics)");
  CHECK_STR (e, "empty dir replaced", "an empty directory in the way of a file is replaced");
  CHECK_STR (dup, "two", "the last entry of a name wins");
  scratch_free (&s);
}

int
main (void)
{
  if (geteuid () != 0)
    {
      printf ("1..0 # SKIP needs root (ownership, device nodes, trusted.* xattrs)\n");
      return 0;
    }
  umask (022);
  test_file_types ();
  test_diff_id ();
  test_whiteouts ();
  test_dotdot ();
  test_absolute ();
  test_symlink_escapes ();
  test_lower_hardlinks ();
  test_corrupt ();
  test_xattr_policy ();
  test_root_entry_and_cwd ();
  test_replacements ();
  return tap_done ();
}
