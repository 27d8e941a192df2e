#define _GNU_SOURCE
#include "image/load.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"
#include "image/image_event.h"
#include "image/ingest.h"
#include "image/oci.h"
#include "image/reference.h"

#define INDEX_MAX_DEPTH 4

void
load_result_clear (struct load_result *r)
{
  for (size_t i = 0; i < r->n_images; i++)
    strv_free (r->images[i].tags);
  free (r->images);
  memset (r, 0, sizeof (*r));
}

/* --- staging the archive ------------------------------------------------------------------------------------- */

static inline void
cleanup_archivep (struct archive **a)
{
  if (*a)
    archive_read_free (*a);
}
#define cleanup_archive __attribute__ ((cleanup (cleanup_archivep)))

/* Opens the parent directory of a member, creating the directories on the way without following symlinks. */
static int
open_member_parent (int rootfd, char *path, const char **base_out)
{
  int dfd = dup (rootfd);
  if (dfd < 0)
    return -errno;
  char *save = NULL, *next;
  char *comp = strtok_r (path, "/", &save);
  while (comp && (next = strtok_r (NULL, "/", &save)))
    {
      if (strcmp (comp, ".") != 0)
        {
          if (mkdirat (dfd, comp, 0700) < 0 && errno != EEXIST)
            {
              int e = errno;
              close (dfd);
              return -e;
            }
          int sub = openat (dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          int e = errno;
          close (dfd);
          if (sub < 0)
            return -e;
          dfd = sub;
        }
      comp = next;
    }
  *base_out = comp;
  return dfd;
}

static int
stage_regular (struct archive *a, struct archive_entry *e, int dfd, const char *base, isola_error_t *err)
{
  const char *name = archive_entry_pathname (e);
  (void)unlinkat (dfd, base, 0);
  cleanup_close int fd = openat (dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return isola_error_make (err, errno, "stage archive member `%s`", name);
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block (a, &buf, &len, &off)) == ARCHIVE_OK)
    {
      if (pwrite (fd, buf, len, off) != (ssize_t)len)
        return isola_error_make (err, errno ? errno : EIO, "write staged member `%s`", name);
    }
  if (r != ARCHIVE_EOF)
    return isola_error_fail (err, EINVAL, "archive is truncated or corrupt: %s", archive_error_string (a));
  /* Sparse members may end in a hole: the length is the header's, not the last block's end. */
  if (ftruncate (fd, (off_t)archive_entry_size (e)) < 0)
    return isola_error_make (err, errno, "write staged member `%s`", name);
  return 0;
}

static int
stage_member (struct archive *a, struct archive_entry *e, int rootfd, isola_error_t *err)
{
  const char *name = archive_entry_pathname (e);
  if (name == NULL || !archive_path_is_safe (name))
    return isola_error_fail (err, EINVAL, "archive member `%.200s` has an unsafe path (absolute or escapes with ..)",
                             name ? name : "");
  cleanup_free char *path = xstrdup (name);
  const char *base = NULL;
  int dfd = open_member_parent (rootfd, path, &base);
  if (dfd < 0)
    return isola_error_make (err, -dfd, "stage archive member `%.200s`", name);
  cleanup_close int parent = dfd;
  if (base == NULL || strcmp (base, ".") == 0)
    return 0;

  switch (archive_entry_filetype (e))
    {
    case AE_IFDIR:
      if (mkdirat (parent, base, 0700) < 0 && errno != EEXIST)
        return isola_error_make (err, errno, "stage archive member `%.200s`", name);
      return 0;
    case AE_IFREG:
      if (archive_entry_hardlink (e))
        break;
      return stage_regular (a, e, parent, base, err);
    case AE_IFLNK:
      {
        /* Kept as is: members are only ever opened with RESOLVE_BENEATH, so a link cannot lead outside. */
        const char *target = archive_entry_symlink (e);
        (void)unlinkat (parent, base, 0);
        if (target == NULL || symlinkat (target, parent, base) < 0)
          return isola_error_make (err, errno ? errno : EINVAL, "stage archive member `%.200s`", name);
        return 0;
      }
    default:
      return 0; /* devices and FIFOs have no place in an image archive's own structure */
    }

  const char *target = archive_entry_hardlink (e);
  if (!archive_path_is_safe (target))
    return isola_error_fail (err, EINVAL, "archive member `%.200s` links to an unsafe path `%.200s`", name, target);
  cleanup_close int src = open_beneath (rootfd, target, O_RDONLY, 0);
  if (src < 0)
    return isola_error_make (err, -src, "archive member `%.200s` links to `%.200s`", name, target);
  (void)unlinkat (parent, base, 0);
  cleanup_free char *proc = xasprintf ("/proc/self/fd/%d", src);
  if (linkat (AT_FDCWD, proc, parent, base, AT_SYMLINK_FOLLOW) < 0)
    return isola_error_make (err, errno, "stage archive member `%.200s`", name);
  return 0;
}

int
archive_stage (int fd, int dirfd, isola_error_t *err)
{
  cleanup_archive struct archive *a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  archive_read_support_format_gnutar (a);
  if (archive_read_open_fd (a, fd, 65536) != ARCHIVE_OK)
    return isola_error_fail (err, EINVAL, "not an image archive: %s", archive_error_string (a));
  struct archive_entry *e;
  int r, n = 0;
  while ((r = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    {
      int ret = stage_member (a, e, dirfd, err);
      if (ret < 0)
        return ret;
      n++;
    }
  if (r != ARCHIVE_EOF)
    return isola_error_fail (err, EINVAL, "archive is truncated or corrupt: %s", archive_error_string (a));
  if (n == 0)
    return isola_error_fail (err, EINVAL, "empty archive: no image to load");
  return 0;
}

/* --- reading staged members ---------------------------------------------------------------------------------- */

struct staged_archive
{
  int dirfd;
  char *dir;
  struct ingest_plan *plan;
};

static int
read_member (const struct staged_archive *sa, const char *path, size_t max, char **out, size_t *len, isola_error_t *err)
{
  cleanup_close int fd = open_beneath (sa->dirfd, path, O_RDONLY, 0);
  if (fd < 0)
    {
      if (fd == -ENOENT)
        return isola_error_fail (err, ENOENT, "archive is missing `%.200s`", path);
      return isola_error_make (err, -fd, "open archive member `%.200s`", path);
    }
  int ret = read_fd_bounded (fd, max, out, len, err);
  return ret < 0 ? isola_error_wrap (err, ret, "%.200s", path) : 0;
}

static int
hash_member (const struct staged_archive *sa, const char *path, digest_hex_t out, int64_t *size, isola_error_t *err)
{
  cleanup_close int fd = open_beneath (sa->dirfd, path, O_RDONLY, 0);
  if (fd < 0)
    {
      if (fd == -ENOENT)
        return isola_error_fail (err, ENOENT, "archive is missing `%.200s`", path);
      return isola_error_make (err, -fd, "open archive member `%.200s`", path);
    }
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return isola_error_fail (err, EINVAL, "archive member `%.200s` is not a regular file", path);
  cleanup_free char *proc = xasprintf ("/proc/self/fd/%d", fd);
  int ret = digest_file (proc, out, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "%.200s", path);
  if (size)
    *size = st.st_size;
  return 0;
}

/* Verifies blobs/sha256/HEX against HEX (and size when >= 0) and adds it to the plan. */
static int
take_blob (const struct staged_archive *sa, const char *hex, int64_t want_size, isola_error_t *err)
{
  cleanup_free char *rel = xasprintf ("blobs/sha256/%s", hex);
  digest_hex_t actual;
  int64_t size = 0;
  int ret = hash_member (sa, rel, actual, &size, err);
  if (ret < 0)
    return ret;
  if (strcmp (actual, hex) != 0)
    return isola_error_fail (err, EINVAL, "digest mismatch: blob sha256:%s has content sha256:%s", hex, actual);
  if (want_size >= 0 && size != want_size)
    return isola_error_fail (err, EINVAL, "size mismatch: blob sha256:%s is %lld bytes, its descriptor says %lld", hex,
                             (long long)size, (long long)want_size);
  cleanup_free char *abs = xasprintf ("%s/%s", sa->dir, rel);
  ingest_add_blob (sa->plan, abs, hex);
  return 0;
}

static int
read_blob (const struct staged_archive *sa, const char *hex, char **out, size_t *len, isola_error_t *err)
{
  cleanup_free char *rel = xasprintf ("blobs/sha256/%s", hex);
  return read_member (sa, rel, OCI_JSON_MAX, out, len, err);
}

/* --- OCI image layout ---------------------------------------------------------------------------------------- */

/* A tag from an index entry: io.containerd.image.name, else ref.name when it is a full reference.  A bare
   ref.name ("latest") names no repository, so the image stays untagged. */
static char *
descriptor_tag (const struct oci_descriptor *d)
{
  const char *cands[] = { d->containerd_name, d->ref_name };
  for (size_t i = 0; i < ARRAY_SIZE (cands); i++)
    {
      const char *c = cands[i];
      if (c == NULL || (i == 1 && strchr (c, ':') == NULL && strchr (c, '/') == NULL))
        continue;
      struct image_ref r = { 0 };
      if (image_ref_parse (c, &r, NULL) == 0 && r.tag)
        {
          /* A name@digest annotation names the manifest we are reading; the tag is what we keep. */
          free (r.digest);
          r.digest = NULL;
          char *s = image_ref_string (&r);
          image_ref_clear (&r);
          return s;
        }
      image_ref_clear (&r);
    }
  return NULL;
}

static bool
platform_matches (const struct oci_descriptor *d)
{
  return (d->platform_os == NULL || strcmp (d->platform_os, "linux") == 0)
         && (d->platform_arch == NULL || strcmp (d->platform_arch, "amd64") == 0);
}

static int add_manifest (const struct staged_archive *sa, const char *manifest_hex, int64_t size, char **tags,
                         isola_error_t *err);

static int add_descriptor (const struct staged_archive *sa, const struct oci_descriptor *d, char **tags, int depth,
                           isola_error_t *err);

static int
add_index (const struct staged_archive *sa, const struct oci_descriptor *d, char **tags, int depth, isola_error_t *err)
{
  if (depth >= INDEX_MAX_DEPTH)
    return isola_error_fail (err, EINVAL, "image indexes nested too deeply");
  int ret = take_blob (sa, d->digest, d->size, err);
  if (ret < 0)
    return ret;
  cleanup_free char *buf = NULL;
  size_t len = 0;
  ret = read_blob (sa, d->digest, &buf, &len, err);
  if (ret < 0)
    return ret;
  struct oci_index idx = { 0 };
  ret = oci_index_parse (buf, len, &idx, err);
  bool found = false;
  for (size_t i = 0; ret == 0 && i < idx.n_manifests; i++)
    if (platform_matches (&idx.manifests[i]))
      {
        ret = add_descriptor (sa, &idx.manifests[i], tags, depth + 1, err);
        found = true;
        break;
      }
  oci_index_clear (&idx);
  if (ret == 0 && !found)
    return isola_error_fail (err, ENOENT, "image index sha256:%.12s has no linux/amd64 image", d->digest);
  return ret;
}

static int
add_descriptor (const struct staged_archive *sa, const struct oci_descriptor *d, char **tags, int depth,
                isola_error_t *err)
{
  const char *mt = d->media_type ? d->media_type : "";
  if (strcmp (mt, MT_OCI_INDEX) == 0 || strcmp (mt, MT_DOCKER_LIST) == 0)
    return add_index (sa, d, tags, depth, err);
  if (strcmp (mt, MT_OCI_MANIFEST) == 0 || strcmp (mt, MT_DOCKER_MANIFEST) == 0)
    return add_manifest (sa, d->digest, d->size, tags, err);
  return isola_error_fail (err, ENOTSUP, "unsupported manifest media type `%.100s`", mt);
}

static int
add_manifest_layers (const struct staged_archive *sa, const struct oci_manifest *m, char ***paths, isola_error_t *err)
{
  *paths = xcalloc (1, sizeof (char *));
  for (size_t i = 0; i < m->n_layers; i++)
    {
      if (oci_layer_media_compression (m->layers[i].media_type) == LAYER_COMPRESSION_UNKNOWN)
        return isola_error_fail (err, ENOTSUP, "layer %zu has unsupported media type `%.100s`", i + 1,
                                 m->layers[i].media_type);
      int ret = take_blob (sa, m->layers[i].digest, m->layers[i].size, err);
      if (ret < 0)
        return ret;
      cleanup_free char *abs = xasprintf ("%s/blobs/sha256/%s", sa->dir, m->layers[i].digest);
      strv_push (paths, abs);
    }
  return 0;
}

static int
add_manifest (const struct staged_archive *sa, const char *manifest_hex, int64_t size, char **tags, isola_error_t *err)
{
  int ret = take_blob (sa, manifest_hex, size, err);
  if (ret < 0)
    return ret;
  cleanup_free char *buf = NULL, *config = NULL;
  size_t len = 0, config_len = 0;
  ret = read_blob (sa, manifest_hex, &buf, &len, err);
  if (ret < 0)
    return ret;
  struct oci_manifest m = { 0 };
  cleanup_strv char **paths = NULL;
  ret = oci_manifest_parse (buf, len, &m, err);
  if (ret == 0)
    ret = take_blob (sa, m.config.digest, m.config.size, err);
  if (ret == 0)
    ret = read_blob (sa, m.config.digest, &config, &config_len, err);
  if (ret == 0)
    ret = add_manifest_layers (sa, &m, &paths, err);
  if (ret == 0)
    ret = ingest_add_image (sa->plan, manifest_hex, m.config.digest, config, config_len, paths, m.n_layers, tags, err);
  oci_manifest_clear (&m);
  return ret;
}

static int
load_oci_layout (const struct staged_archive *sa, isola_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_member (sa, "index.json", OCI_JSON_MAX, &buf, &len, err);
  if (ret < 0)
    return ret;
  struct oci_index idx = { 0 };
  ret = oci_index_parse (buf, len, &idx, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "index.json");
  if (idx.n_manifests == 0)
    ret = isola_error_fail (err, EINVAL, "index.json lists no image");
  for (size_t i = 0; ret == 0 && i < idx.n_manifests; i++)
    {
      cleanup_strv char **tags = xcalloc (1, sizeof (char *));
      cleanup_free char *tag = descriptor_tag (&idx.manifests[i]);
      if (tag)
        strv_push (&tags, tag);
      ret = add_descriptor (sa, &idx.manifests[i], tags, 0, err);
    }
  oci_index_clear (&idx);
  return ret;
}

/* --- docker save --------------------------------------------------------------------------------------------- */

/* Docker names members after their digests ("blobs/sha256/HEX", legacy "HEX.json"); a name that claims a digest
   must carry it. */
static int
check_named_digest (const char *path, const char *actual, isola_error_t *err)
{
  const char *base = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;
  char hex[DIGEST_HEX_LEN + 1] = "";
  if (strlen (base) >= DIGEST_HEX_LEN)
    {
      memcpy (hex, base, DIGEST_HEX_LEN);
      hex[DIGEST_HEX_LEN] = '\0';
    }
  bool named = digest_hex_valid (hex) && (base[DIGEST_HEX_LEN] == '\0' || strcmp (base + DIGEST_HEX_LEN, ".json") == 0);
  if (named && strcmp (hex, actual) != 0)
    return isola_error_fail (err, EINVAL, "digest mismatch: `%.200s` has content sha256:%s", path, actual);
  return 0;
}

static char *
layer_media_type_of (const struct staged_archive *sa, const char *path)
{
  unsigned char magic[4] = { 0 };
  cleanup_close int fd = open_beneath (sa->dirfd, path, O_RDONLY, 0);
  if (fd >= 0 && read (fd, magic, sizeof magic) < 0)
    magic[0] = 0;
  if (magic[0] == 0x1f && magic[1] == 0x8b)
    return xstrdup (MT_OCI_LAYER_GZIP);
  if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return xstrdup (MT_OCI_LAYER_ZSTD);
  return xstrdup (MT_OCI_LAYER_TAR);
}

/* The legacy layout has no manifest: write the OCI one Docker would have had, so save can reproduce it. */
static char *
synthesize_manifest (const struct staged_archive *sa, const char *config_hex, size_t config_len,
                     const struct docker_save_entry *e, digest_hex_t *layer_hex, int64_t *layer_size)
{
  json_t *layers = json_array ();
  for (size_t i = 0; i < e->n_layers; i++)
    {
      cleanup_free char *mt = layer_media_type_of (sa, e->layer_paths[i]);
      json_array_append_new (layers, json_pack ("{s:s, s:s+, s:I}", "mediaType", mt, "digest", "sha256:", layer_hex[i],
                                                "size", (json_int_t)layer_size[i]));
    }
  cleanup_json json_t *m = json_pack ("{s:i, s:s, s:{s:s, s:s+, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                                      MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest",
                                      "sha256:", config_hex, "size", (json_int_t)config_len, "layers", layers);
  return json_dumps (m, JSON_COMPACT);
}

static int
stage_synthesized_manifest (const struct staged_archive *sa, const char *text, digest_hex_t out, isola_error_t *err)
{
  digest_buffer (text, strlen (text), out);
  cleanup_free char *path = xasprintf ("%s/isola-manifest-%s", sa->dir, out);
  int ret = write_file_atomic (path, text, strlen (text), 0600, err);
  if (ret == 0)
    ingest_add_blob (sa->plan, path, out);
  return ret;
}

/* Docker >= 25 also writes the real manifests into an OCI layout beside manifest.json. */
static bool
find_oci_manifest_for_config (const struct staged_archive *sa, const char *config_hex, digest_hex_t out)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (read_member (sa, "index.json", OCI_JSON_MAX, &buf, &len, NULL) < 0)
    return false;
  struct oci_index idx = { 0 };
  bool found = false;
  if (oci_index_parse (buf, len, &idx, NULL) < 0)
    return false;
  for (size_t i = 0; !found && i < idx.n_manifests; i++)
    {
      cleanup_free char *mbuf = NULL;
      size_t mlen = 0;
      struct oci_manifest m = { 0 };
      if (read_blob (sa, idx.manifests[i].digest, &mbuf, &mlen, NULL) == 0
          && oci_manifest_parse (mbuf, mlen, &m, NULL) == 0 && strcmp (m.config.digest, config_hex) == 0)
        {
          memcpy (out, idx.manifests[i].digest, DIGEST_HEX_LEN + 1);
          found = true;
        }
      oci_manifest_clear (&m);
    }
  oci_index_clear (&idx);
  return found;
}

static int
docker_entry_tags (const struct docker_save_entry *e, char ***tags, isola_error_t *err)
{
  *tags = xcalloc (1, sizeof (char *));
  for (size_t i = 0; e->repo_tags && e->repo_tags[i]; i++)
    {
      struct image_ref r = { 0 };
      int ret = image_ref_parse_tagged (e->repo_tags[i], &r, err);
      if (ret < 0)
        return isola_error_wrap (err, ret, "manifest.json RepoTags");
      cleanup_free char *s = image_ref_string (&r);
      image_ref_clear (&r);
      strv_push (tags, s);
    }
  return 0;
}

static int
load_docker_entry (const struct staged_archive *sa, const struct docker_save_entry *e, isola_error_t *err)
{
  cleanup_free char *config = NULL;
  size_t config_len = 0;
  int ret = read_member (sa, e->config_path, OCI_JSON_MAX, &config, &config_len, err);
  if (ret < 0)
    return ret;
  digest_hex_t config_hex;
  digest_buffer (config, config_len, config_hex);
  ret = check_named_digest (e->config_path, config_hex, err);
  if (ret < 0)
    return ret;
  cleanup_free char *config_abs = xasprintf ("%s/%s", sa->dir, e->config_path);
  ingest_add_blob (sa->plan, config_abs, config_hex);

  cleanup_free digest_hex_t *layer_hex = xcalloc (e->n_layers + 1, sizeof (digest_hex_t));
  cleanup_free int64_t *layer_size = xcalloc (e->n_layers + 1, sizeof (int64_t));
  cleanup_strv char **paths = xcalloc (1, sizeof (char *));
  for (size_t i = 0; i < e->n_layers; i++)
    {
      ret = hash_member (sa, e->layer_paths[i], layer_hex[i], &layer_size[i], err);
      if (ret == 0)
        ret = check_named_digest (e->layer_paths[i], layer_hex[i], err);
      if (ret < 0)
        return ret;
      cleanup_free char *abs = xasprintf ("%s/%s", sa->dir, e->layer_paths[i]);
      ingest_add_blob (sa->plan, abs, layer_hex[i]);
      strv_push (&paths, abs);
    }

  digest_hex_t manifest_hex;
  if (find_oci_manifest_for_config (sa, config_hex, manifest_hex))
    ret = take_blob (sa, manifest_hex, -1, err);
  else
    {
      cleanup_free char *text = synthesize_manifest (sa, config_hex, config_len, e, layer_hex, layer_size);
      ret = stage_synthesized_manifest (sa, text, manifest_hex, err);
    }
  if (ret < 0)
    return ret;

  cleanup_strv char **tags = NULL;
  ret = docker_entry_tags (e, &tags, err);
  if (ret < 0)
    return ret;
  return ingest_add_image (sa->plan, manifest_hex, config_hex, config, config_len, paths, e->n_layers, tags, err);
}

static int
load_docker_save (const struct staged_archive *sa, isola_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_member (sa, "manifest.json", OCI_JSON_MAX, &buf, &len, err);
  if (ret < 0)
    return ret;
  struct docker_save_entry *entries = NULL;
  size_t n = 0;
  ret = docker_save_manifest_parse (buf, len, &entries, &n, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "manifest.json");
  if (n == 0)
    ret = isola_error_fail (err, EINVAL, "manifest.json lists no image");
  for (size_t i = 0; ret == 0 && i < n; i++)
    ret = load_docker_entry (sa, &entries[i], err);
  docker_save_entries_free (entries, n);
  return ret;
}

/* --- entry point --------------------------------------------------------------------------------------------- */

static void
fill_result (const struct ingest_plan *plan, struct load_result *res)
{
  res->images = xcalloc (plan->n_images + 1, sizeof (*res->images));
  res->n_images = plan->n_images;
  for (size_t i = 0; i < plan->n_images; i++)
    {
      memcpy (res->images[i].id, plan->images[i].rec.id, DIGEST_HEX_LEN + 1);
      res->images[i].tags = xcalloc (1, sizeof (char *));
      for (size_t j = 0; plan->images[i].tags[j]; j++)
        strv_push (&res->images[i].tags, plan->images[i].tags[j]);
    }
  res->snapshots_created = plan->snapshots_created;
  res->snapshots_reused = plan->snapshots_reused;
}

static int
load_staged (const struct staged_archive *sa, isola_error_t *err)
{
  struct stat st;
  if (fstatat (sa->dirfd, "manifest.json", &st, AT_SYMLINK_NOFOLLOW) == 0)
    return load_docker_save (sa, err);
  if (fstatat (sa->dirfd, "index.json", &st, AT_SYMLINK_NOFOLLOW) == 0)
    return load_oci_layout (sa, err);
  return isola_error_fail (err, EINVAL,
                           "not an image archive: it has neither manifest.json (docker save) nor index.json (OCI "
                           "layout)");
}

int
image_load (struct isola_store *s, int fd, struct load_result *res, isola_error_t *err)
{
  cleanup_free char *staging = NULL;
  int ret = ingest_staging (s, "load", &staging, err);
  if (ret < 0)
    return ret;
  cleanup_free char *archive_dir = xasprintf ("%s/archive", staging);
  struct ingest_plan plan;
  ingest_init (&plan, s, staging);
  struct staged_archive sa = { .dirfd = -1, .dir = archive_dir, .plan = &plan };

  if (mkdir (archive_dir, 0700) < 0)
    ret = isola_error_make (err, errno, "mkdir `%s`", archive_dir);
  if (ret == 0 && (sa.dirfd = open (archive_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    ret = isola_error_make (err, errno, "open `%s`", archive_dir);
  if (ret == 0)
    ret = archive_stage (fd, sa.dirfd, err);
  if (ret == 0)
    ret = load_staged (&sa, err);
  if (ret == 0)
    ret = ingest_commit (&plan, err);
  if (ret == 0)
    fill_result (&plan, res);
  for (size_t i = 0; ret == 0 && i < res->n_images; i++)
    image_event (s, res->images[i].id, NULL, "load");

  if (sa.dirfd >= 0)
    close (sa.dirfd);
  ingest_clear (&plan);
  (void)rm_rf (staging, NULL);
  return ret;
}
