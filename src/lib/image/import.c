#define _GNU_SOURCE
#include "image/import.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"
#include "image/image_event.h"
#include "image/config_change.h"
#include "image/ingest.h"
#include "image/oci.h"

/* Decompresses the input into staged/layer.tar, hashing it on the way: that hash is both blob digest and diff ID. */
static int
stage_uncompressed (int fd, const char *dest, digest_hex_t out, int64_t *size, isola_error_t *err)
{
  struct archive *a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_raw (a);
  struct archive_entry *e;
  int ret = 0;
  if (archive_read_open_fd (a, fd, 65536) != ARCHIVE_OK || archive_read_next_header (a, &e) != ARCHIVE_OK)
    ret = isola_error_fail (err, EINVAL, "cannot read the tarball: %s",
                            archive_error_string (a) ? archive_error_string (a) : "empty input");
  cleanup_close int out_fd = ret == 0 ? open (dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
  if (ret == 0 && out_fd < 0)
    ret = isola_error_make (err, errno, "create `%s`", dest);

  cleanup_digester digester_t *d = digester_new ();
  char buf[65536];
  *size = 0;
  while (ret == 0)
    {
      la_ssize_t n = archive_read_data (a, buf, sizeof buf);
      if (n < 0)
        ret = isola_error_fail (err, EINVAL, "the tarball is truncated or corrupt: %s", archive_error_string (a));
      else if (n == 0)
        break;
      else if (write_all (out_fd, buf, (size_t)n) < 0)
        ret = isola_error_make (err, errno, "write `%s`", dest);
      else
        {
          digester_update (d, buf, (size_t)n);
          *size += n;
        }
    }
  archive_read_free (a);
  if (ret == 0 && *size == 0)
    ret = isola_error_fail (err, EINVAL, "the tarball is empty");
  if (ret == 0)
    digester_final (d, out);
  return ret;
}

static json_t *
import_config (const char *diff_id, const struct import_options *opts, isola_error_t *err, int *ret)
{
  cleanup_free char *now = time_rfc3339_now ();
  json_t *config = json_object ();
  for (size_t i = 0; opts->changes && opts->changes[i]; i++)
    if ((*ret = config_apply_change (config, opts->changes[i], err)) < 0)
      {
        json_decref (config);
        return NULL;
      }
  cleanup_free char *comment = opts->message
                                   ? xstrdup (opts->message)
                                   : xasprintf ("Imported from %s", opts->source_label ? opts->source_label : "-");
  /* Docker records the import message both as the image comment and in its history. */
  return json_pack ("{s:s, s:s, s:s, s:s, s:o, s:{s:s, s:[s+]}, s:[{s:s, s:s, s:s}]}", "architecture", "amd64", "os",
                    "linux", "created", now, "comment", comment, "config", config, "rootfs", "type", "layers",
                    "diff_ids", "sha256:", diff_id, "history", "created", now, "created_by", "isola import", "comment",
                    comment);
}

static int
stage_json_blob (struct ingest_plan *plan, const char *name, const char *text, digest_hex_t out, isola_error_t *err)
{
  digest_buffer (text, strlen (text), out);
  cleanup_free char *path = xasprintf ("%s/%s", plan->staging, name);
  int ret = write_file_atomic (path, text, strlen (text), 0600, err);
  if (ret == 0)
    ingest_add_blob (plan, path, out);
  return ret;
}

static int
import_staged (struct ingest_plan *plan, const char *layer_path, const struct import_options *opts, digest_hex_t id_out,
               isola_error_t *err, int fd)
{
  digest_hex_t diff_id;
  int64_t layer_size = 0;
  int ret = stage_uncompressed (fd, layer_path, diff_id, &layer_size, err);
  if (ret < 0)
    return ret;
  ingest_add_blob (plan, layer_path, diff_id);

  cleanup_json json_t *config = import_config (diff_id, opts, err, &ret);
  if (config == NULL)
    return ret < 0 ? ret : isola_error_fail (err, ENOMEM, "cannot build the image config");
  cleanup_free char *config_text = json_dumps (config, JSON_COMPACT);
  digest_hex_t config_hex, manifest_hex;
  ret = stage_json_blob (plan, "config.json", config_text, config_hex, err);
  if (ret < 0)
    return ret;

  cleanup_json json_t *manifest = json_pack (
      "{s:i, s:s, s:{s:s, s:s+, s:I}, s:[{s:s, s:s+, s:I}]}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST,
      "config", "mediaType", MT_OCI_CONFIG, "digest", "sha256:", config_hex, "size", (json_int_t)strlen (config_text),
      "layers", "mediaType", MT_OCI_LAYER_TAR, "digest", "sha256:", diff_id, "size", (json_int_t)layer_size);
  cleanup_free char *manifest_text = json_dumps (manifest, JSON_COMPACT);
  ret = stage_json_blob (plan, "manifest.json", manifest_text, manifest_hex, err);
  if (ret < 0)
    return ret;

  char *tags[] = { (char *)opts->tag, NULL };
  char *layers[] = { (char *)layer_path, NULL };
  ret = ingest_add_image (plan, manifest_hex, config_hex, config_text, strlen (config_text), layers, 1,
                          opts->tag ? tags : NULL, err);
  if (ret < 0)
    return ret;
  memcpy (id_out, config_hex, DIGEST_HEX_LEN + 1);
  return ingest_commit (plan, err);
}

int
image_import (struct isola_store *s, int fd, const struct import_options *opts, digest_hex_t id_out, isola_error_t *err)
{
  cleanup_free char *staging = NULL;
  int ret = ingest_staging (s, "import", &staging, err);
  if (ret < 0)
    return ret;
  struct ingest_plan plan;
  ingest_init (&plan, s, staging);
  cleanup_free char *layer_path = xasprintf ("%s/layer.tar", staging);
  ret = import_staged (&plan, layer_path, opts, id_out, err, fd);
  if (ret == 0 && opts->tag)
    image_event (s, id_out, opts->tag, "tag");
  if (ret == 0)
    image_event (s, id_out, NULL, "import");
  ingest_clear (&plan);
  (void)rm_rf (staging, NULL);
  return ret;
}
