#define _GNU_SOURCE
#include "image/save.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"
#include "image/image_event.h"
#include "image/image.h"
#include "image/oci.h"
#include "image/reference.h"

struct save_ctx
{
  const struct isola_store *store;
  struct archive *out;
  char **written; /* blob digests already in the archive */
  json_t *index_manifests;
  json_t *docker_manifest;
};

static int
archive_fail (struct save_ctx *c, isola_error_t *err)
{
  const char *msg = archive_error_string (c->out);
  int e = archive_errno (c->out);
  return isola_error_fail (err, e > 0 ? e : EIO, "write archive: %s", msg ? msg : "unknown error");
}

static struct archive_entry *
new_entry (const char *name, mode_t type, int64_t size)
{
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, type);
  archive_entry_set_perm (e, type == AE_IFDIR ? 0755 : 0644);
  archive_entry_set_size (e, type == AE_IFDIR ? 0 : size);
  archive_entry_set_mtime (e, 0, 0);
  return e;
}

static int
write_buffer_entry (struct save_ctx *c, const char *name, const void *data, size_t len, isola_error_t *err)
{
  struct archive_entry *e = new_entry (name, AE_IFREG, (int64_t)len);
  int r = archive_write_header (c->out, e);
  archive_entry_free (e);
  if (r != ARCHIVE_OK || (len > 0 && archive_write_data (c->out, data, len) != (la_ssize_t)len))
    return archive_fail (c, err);
  return 0;
}

static int
write_dir_entry (struct save_ctx *c, const char *name, isola_error_t *err)
{
  struct archive_entry *e = new_entry (name, AE_IFDIR, 0);
  int r = archive_write_header (c->out, e);
  archive_entry_free (e);
  return r == ARCHIVE_OK ? 0 : archive_fail (c, err);
}

static int
write_blob_entry (struct save_ctx *c, const char *hex, isola_error_t *err)
{
  if (strv_contains (c->written, hex))
    return 0;
  cleanup_free char *path = blob_path (c->store, hex);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    return isola_error_make (err, errno, "open blob `%s`", path);
  cleanup_free char *name = xasprintf ("blobs/sha256/%s", hex);
  struct archive_entry *e = new_entry (name, AE_IFREG, st.st_size);
  int r = archive_write_header (c->out, e);
  archive_entry_free (e);
  if (r != ARCHIVE_OK)
    return archive_fail (c, err);
  char buf[65536];
  ssize_t n;
  int64_t total = 0;
  while ((n = read (fd, buf, sizeof buf)) > 0)
    {
      if (archive_write_data (c->out, buf, (size_t)n) != n)
        return archive_fail (c, err);
      total += n;
    }
  if (n < 0 || total != st.st_size)
    return isola_error_make (err, n < 0 ? errno : EIO, "read blob `%s`", path);
  strv_push (&c->written, hex);
  return 0;
}

static json_t *
index_entry (const char *manifest_hex, int64_t manifest_size, const char *tag)
{
  json_t *d = json_pack ("{s:s, s:s+, s:I}", "mediaType", MT_OCI_MANIFEST, "digest", "sha256:", manifest_hex, "size",
                         (json_int_t)manifest_size);
  if (tag)
    {
      struct image_ref r = { 0 };
      if (image_ref_parse (tag, &r, NULL) == 0)
        {
          cleanup_free char *full = image_ref_full_string (&r);
          json_object_set_new (d, "annotations",
                               json_pack ("{s:s, s:s}", ANNOTATION_CONTAINERD_NAME, full, ANNOTATION_REF_NAME, full));
        }
      image_ref_clear (&r);
    }
  return d;
}

/* manifest.json has one entry per image, listing all its tags, as docker save writes it. */
static void
add_docker_entry (struct save_ctx *c, const char *config_hex, const char *tag, json_t *layers)
{
  cleanup_free char *config_path = xasprintf ("blobs/sha256/%s", config_hex);
  size_t i;
  json_t *entry;
  json_array_foreach (c->docker_manifest, i, entry)
  {
    if (strcmp (json_string_value (json_object_get (entry, "Config")), config_path) != 0)
      continue;
    if (tag)
      json_array_append_new (json_object_get (entry, "RepoTags"), json_string (tag));
    json_decref (layers);
    return;
  }
  json_t *tags = json_array ();
  if (tag)
    json_array_append_new (tags, json_string (tag));
  json_array_append_new (c->docker_manifest,
                         json_pack ("{s:s, s:o, s:o}", "Config", config_path, "RepoTags", tags, "Layers", layers));
}

static int
save_image (struct save_ctx *c, const char *id, const char *requested_tag, isola_error_t *err)
{
  struct image_record rec = { 0 };
  int ret = image_record_read (c->store, id, &rec, err);
  if (ret < 0)
    return ret;
  cleanup_free char *buf = NULL;
  size_t len = 0;
  struct oci_manifest m = { 0 };
  ret = blob_read (c->store, rec.manifest, OCI_JSON_MAX, &buf, &len, err);
  if (ret == 0)
    ret = oci_manifest_parse (buf, len, &m, err);
  json_t *layers = json_array ();
  ret = ret < 0 ? ret : write_blob_entry (c, rec.manifest, err);
  ret = ret < 0 ? ret : write_blob_entry (c, m.config.digest, err);
  for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
    {
      ret = write_blob_entry (c, m.layers[i].digest, err);
      json_array_append_new (layers, json_sprintf ("blobs/sha256/%s", m.layers[i].digest));
    }
  if (ret == 0)
    {
      json_array_append_new (c->index_manifests, index_entry (rec.manifest, (int64_t)len, requested_tag));
      add_docker_entry (c, m.config.digest, requested_tag, layers);
    }
  else
    json_decref (layers);
  oci_manifest_clear (&m);
  image_record_clear (&rec);
  return ret;
}

/* Docker keeps the name when an image is saved by name, and writes it untagged when it is saved by ID. */
static int
save_named (struct save_ctx *c, json_t *refs, const char *name, isola_error_t *err)
{
  digest_hex_t id;
  int ret = image_resolve (c->store, refs, name, id, err);
  if (ret < 0)
    return ret;
  struct image_ref r = { 0 };
  cleanup_free char *tag = NULL;
  if (image_ref_parse (name, &r, NULL) == 0 && r.digest == NULL)
    {
      cleanup_free char *key = image_ref_string (&r);
      if (json_object_get (refs, key))
        tag = take_ptr (&key);
    }
  image_ref_clear (&r);
  return save_image (c, id, tag, err);
}

static int
write_layout_files (struct save_ctx *c, isola_error_t *err)
{
  const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
  cleanup_json json_t *index
      = json_pack ("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", c->index_manifests);
  cleanup_free char *index_text = json_dumps (index, JSON_COMPACT);
  cleanup_free char *docker_text = json_dumps (c->docker_manifest, JSON_COMPACT);
  int ret = write_buffer_entry (c, "oci-layout", layout, strlen (layout), err);
  if (ret == 0)
    ret = write_buffer_entry (c, "index.json", index_text, strlen (index_text), err);
  if (ret == 0)
    ret = write_buffer_entry (c, "manifest.json", docker_text, strlen (docker_text), err);
  return ret;
}

/* Docker's save event, one for each image in the archive. */
static void
save_events (const struct isola_store *s, json_t *refs, char *const *names)
{
  cleanup_strv char **done = xcalloc (1, sizeof (char *));
  for (size_t i = 0; names[i]; i++)
    {
      digest_hex_t id;
      if (image_resolve (s, refs, names[i], id, NULL) < 0 || strv_contains (done, id))
        continue;
      strv_push (&done, id);
      image_event (s, id, NULL, "save");
    }
}

int
image_save (const struct isola_store *s, char *const *names, int fd, isola_error_t *err)
{
  cleanup_json json_t *refs = NULL;
  int ret = refs_read (s, &refs, err);
  if (ret < 0)
    return ret;
  struct save_ctx c = { .store = s,
                        .written = xcalloc (1, sizeof (char *)),
                        .index_manifests = json_array (),
                        .docker_manifest = json_array () };
  c.out = archive_write_new ();
  archive_write_set_format_pax_restricted (c.out);
  archive_write_set_bytes_in_last_block (c.out, 1);
  if (archive_write_open_fd (c.out, fd) != ARCHIVE_OK)
    ret = archive_fail (&c, err);
  if (ret == 0)
    ret = write_dir_entry (&c, "blobs", err);
  if (ret == 0)
    ret = write_dir_entry (&c, "blobs/sha256", err);
  for (size_t i = 0; ret == 0 && names[i]; i++)
    ret = save_named (&c, refs, names[i], err);
  if (ret == 0)
    ret = write_layout_files (&c, err);
  if (ret == 0 && archive_write_close (c.out) != ARCHIVE_OK)
    ret = archive_fail (&c, err);
  if (ret == 0)
    save_events (s, refs, names);
  archive_write_free (c.out);
  strv_free (c.written);
  json_decref (c.index_manifests);
  json_decref (c.docker_manifest);
  return ret;
}
