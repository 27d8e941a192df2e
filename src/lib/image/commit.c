#define _GNU_SOURCE
#include "image/commit.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "image/changes.h"
#include "image/config_change.h"
#include "image/image.h"
#include "image/image_event.h"
#include "image/ingest.h"
#include "image/oci.h"

/* The digest of a tar with no entry (two zero blocks): Docker's layer.EmptyLayer, which commit does not store. */
#define EMPTY_LAYER_DIFF_ID "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

static char *
joined_cmd (json_t *config)
{
  json_t *cmd = json_object_get (config, "Cmd"), *v;
  size_t i;
  cleanup_free char *out = xstrdup ("");
  json_array_foreach (cmd, i, v)
  {
    char *next = xasprintf ("%s%s%s", out, i ? " " : "", json_string_value (v) ? json_string_value (v) : "");
    free (out);
    out = next;
  }
  return take_ptr (&out);
}

static json_t *
history_entry (const struct commit_options *o, const char *now, bool empty)
{
  cleanup_free char *by = o->created_by ? xstrdup (o->created_by) : joined_cmd (o->container_config);
  json_t *h = json_pack ("{s:s, s:s}", "created", now, "created_by", by);
  if (o->author && *o->author)
    json_object_set_new (h, "author", json_string (o->author));
  if (o->comment && *o->comment)
    json_object_set_new (h, "comment", json_string (o->comment));
  if (empty)
    json_object_set_new (h, "empty_layer", json_true ());
  return h;
}

/* The parent's config with Docker's commit fields over it. */
static int
new_config (json_t *parent, const char *parent_id, const struct commit_options *o, const char *diff_id, json_t **out,
            isola_error_t *err)
{
  cleanup_free char *now = time_rfc3339_now ();
  cleanup_json json_t *cfg = json_deep_copy (parent);
  json_t *config = o->config             ? json_deep_copy (o->config)
                   : o->container_config ? json_deep_copy (o->container_config)
                                         : json_deep_copy (json_object_get (parent, "config"));
  if (!json_is_object (config))
    config = (json_decref (config), json_object ());
  json_object_set_new (cfg, "config", config);
  for (size_t i = 0; o->changes && o->changes[i]; i++)
    {
      int ret = config_apply_change (config, o->changes[i], err);
      if (ret < 0)
        return ret;
    }
  json_object_set_new (cfg, "created", json_string (now));
  if (parent_id[0])
    json_object_set_new (cfg, "parent", json_sprintf ("sha256:%s", parent_id));
  else
    json_object_del (cfg, "parent");
  json_object_del (cfg, "author");
  json_object_del (cfg, "comment");
  if (o->author && *o->author)
    json_object_set_new (cfg, "author", json_string (o->author));
  if (o->comment && *o->comment)
    json_object_set_new (cfg, "comment", json_string (o->comment));
  if (o->container_id)
    json_object_set_new (cfg, "container", json_string (o->container_id));
  if (o->container_config)
    json_object_set (cfg, "container_config", o->container_config);

  json_t *history = json_object_get (cfg, "history");
  if (!json_is_array (history))
    json_object_set_new (cfg, "history", history = json_array ());
  json_array_append_new (history, history_entry (o, now, diff_id == NULL));
  json_t *rootfs = json_object_get (cfg, "rootfs");
  json_t *diff_ids = json_object_get (rootfs, "diff_ids");
  if (!json_is_array (diff_ids))
    return isola_error_fail (err, EINVAL, "the parent image's config has no rootfs.diff_ids");
  if (diff_id)
    json_array_append_new (diff_ids, json_sprintf ("sha256:%s", diff_id));
  *out = take_ptr (&cfg);
  return 0;
}

static int
stage_json (struct ingest_plan *plan, const char *name, json_t *doc, char **text_out, digest_hex_t hex,
            isola_error_t *err)
{
  cleanup_free char *text = json_dumps (doc, JSON_COMPACT);
  digest_buffer (text, strlen (text), hex);
  cleanup_free char *path = xasprintf ("%s/%s", plan->staging, name);
  int ret = write_file_atomic (path, text, strlen (text), 0600, err);
  if (ret == 0)
    ingest_add_blob (plan, path, hex);
  if (ret == 0 && text_out)
    *text_out = take_ptr (&text);
  return ret;
}

struct staged_layer
{
  char *path;
  digest_hex_t diff_id;
  int64_t size; /* of the tar */
  bool empty;
};

static int
stage_layer (struct ingest_plan *plan, const char *upper, struct staged_layer *l, isola_error_t *err)
{
  l->path = xasprintf ("%s/layer.tar", plan->staging);
  cleanup_close int fd = open (l->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return isola_error_make (err, errno, "create `%s`", l->path);
  int64_t files = 0;
  int ret = layer_tar_write (upper, fd, l->diff_id, &files, err);
  if (ret < 0)
    return ret;
  off_t end = lseek (fd, 0, SEEK_END);
  l->size = end < 0 ? 0 : (int64_t)end;
  l->empty = strcmp (l->diff_id, EMPTY_LAYER_DIFF_ID) == 0;
  if (!l->empty)
    ingest_add_blob (plan, l->path, l->diff_id);
  return 0;
}

/* The parent's manifest layers, and the new one. */
static json_t *
new_manifest (json_t *parent_manifest, const char *config_hex, size_t config_len, const struct staged_layer *l)
{
  json_t *layers = json_deep_copy (json_object_get (parent_manifest, "layers"));
  if (!json_is_array (layers))
    layers = (json_decref (layers), json_array ());
  if (!l->empty)
    json_array_append_new (layers, json_pack ("{s:s, s:s+, s:I}", "mediaType", MT_OCI_LAYER_TAR, "digest",
                                              "sha256:", l->diff_id, "size", (json_int_t)l->size));
  return json_pack ("{s:i, s:s, s:{s:s, s:s+, s:I}, s:o}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST, "config",
                    "mediaType", MT_OCI_CONFIG, "digest", "sha256:", config_hex, "size", (json_int_t)config_len,
                    "layers", layers);
}

/* FROM scratch's: no layer, no history, the host's platform. */
static json_t *
scratch_config (void)
{
  return json_pack ("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture", "amd64", "os", "linux", "config", "rootfs",
                    "type", "layers", "diff_ids", "history");
}

static int
read_parent (struct isola_store *s, const char *parent, struct image_record *rec, struct oci_config *cfg,
             json_t **manifest, isola_error_t *err)
{
  if (parent[0] == '\0')
    {
      cfg->json = scratch_config ();
      *manifest = json_pack ("{s:[]}", "layers");
      return 0;
    }
  int ret = image_record_read (s, parent, rec, err);
  if (ret == 0)
    ret = image_read_config (s, parent, cfg, err);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (ret == 0)
    ret = blob_read (s, rec->manifest, OCI_JSON_MAX, &buf, &len, err);
  if (ret == 0 && (*manifest = json_loadb (buf, len, 0, NULL)) == NULL)
    ret = isola_error_fail (err, EINVAL, "the manifest of image %.12s is not JSON", parent);
  return ret;
}

/* Layer paths for ingest_add_image, for the new manifest's layers: the parent's blobs (their snapshots exist:
   nothing unpacks them), then the staged layer. */
static char **
layer_paths (struct isola_store *s, json_t *manifest, const struct staged_layer *l)
{
  char **paths = xcalloc (1, sizeof (char *));
  json_t *layers = json_object_get (manifest, "layers"), *d;
  size_t i;
  json_array_foreach (layers, i, d)
  {
    if (!l->empty && i + 1 == json_array_size (layers))
      break;
    const char *digest = json_string_value (json_object_get (d, "digest"));
    cleanup_free char *p = blob_path (s, digest && strlen (digest) > 7 ? digest + 7 : "");
    strv_push (&paths, p);
  }
  if (!l->empty)
    strv_push (&paths, l->path);
  return paths;
}

static int
commit_staged (struct ingest_plan *plan, const char *upper, const char *parent, const struct commit_options *o,
               digest_hex_t id_out, isola_error_t *err)
{
  struct isola_store *s = plan->store;
  struct image_record rec = { 0 };
  struct oci_config pcfg = { 0 };
  cleanup_json json_t *pmanifest = NULL, *cfg = NULL, *manifest = NULL;
  struct staged_layer l = { 0 };
  cleanup_free char *config_text = NULL;
  cleanup_strv char **paths = NULL;
  digest_hex_t config_hex, manifest_hex;
  int ret = read_parent (s, parent, &rec, &pcfg, &pmanifest, err);
  if (ret == 0)
    ret = stage_layer (plan, upper, &l, err);
  if (ret == 0)
    ret = new_config (pcfg.json, parent, o, l.empty ? NULL : l.diff_id, &cfg, err);
  if (ret == 0)
    ret = stage_json (plan, "config.json", cfg, &config_text, config_hex, err);
  if (ret == 0)
    {
      manifest = new_manifest (pmanifest, config_hex, strlen (config_text), &l);
      ret = stage_json (plan, "manifest.json", manifest, NULL, manifest_hex, err);
    }
  if (ret == 0)
    {
      paths = layer_paths (s, manifest, &l);
      char *tags[] = { (char *)o->tag, NULL };
      ret = ingest_add_image (plan, manifest_hex, config_hex, config_text, strlen (config_text), paths,
                              strv_len (paths), o->tag ? tags : NULL, err);
    }
  if (ret == 0)
    {
      memcpy (plan->images[plan->n_images - 1].rec.parent, parent, DIGEST_HEX_LEN + 1);
      ret = ingest_commit (plan, err);
    }
  if (ret == 0)
    memcpy (id_out, config_hex, DIGEST_HEX_LEN + 1);
  image_record_clear (&rec);
  oci_config_clear (&pcfg);
  free (l.path);
  return ret;
}

int
image_commit (struct isola_store *s, const char *upper, const char *parent, const struct commit_options *o,
              digest_hex_t id_out, isola_error_t *err)
{
  cleanup_free char *staging = NULL;
  int ret = ingest_staging (s, "commit", &staging, err);
  if (ret < 0)
    return ret;
  struct ingest_plan plan;
  ingest_init (&plan, s, staging);
  ret = commit_staged (&plan, upper, parent, o, id_out, err);
  if (ret == 0 && o->tag)
    image_event (s, id_out, o->tag, "tag");
  ingest_clear (&plan);
  (void)rm_rf (staging, NULL);
  return ret;
}
