/* Parsers for OCI image index/manifest/config and `docker save`'s manifest.json.

   Every document comes from an untrusted archive or registry, so each field is type-checked, sizes and counts
   are bounded before anything is allocated for them, and errors name the offending field
   ("invalid image manifest: layers[2].digest: …") so a user can find it in the file.  Results are built in a
   local struct and handed to the caller only on success: out-parameters are never left half-filled. */
#define _GNU_SOURCE
#include "image/oci.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

/* Largest integer a JSON number can carry exactly in the other implementations that read these files. */
#define JSON_SAFE_INT_MAX ((json_int_t)1 << 53)

#define DOC_INDEX    "image index"
#define DOC_MANIFEST "image manifest"
#define DOC_CONFIG   "image config"
#define DOC_SAVE     "docker save manifest.json"

/* Where a field sits, for messages: the document name and a path prefix such as "layers[2]" ("" at the top). */
struct field_ctx
{
  const char *doc;
  const char *where;
};

/* Formats "WHERE.KEY" (either part may be empty) into buf. */
static const char *
field_location (const struct field_ctx *c, const char *key, char *buf, size_t size)
{
  snprintf (buf, size, "%s%s%s", c->where, *c->where && key ? "." : "", key ? key : "");
  return buf;
}

static int
field_fail_status (const struct field_ctx *c, const char *key, int status, const char *what, isola_error_t *err)
{
  char loc[128];
  field_location (c, key, loc, sizeof loc);
  return isola_error_fail (err, status, "invalid %s: %s%s%s", c->doc, loc, *loc ? ": " : "", what);
}

static int
field_fail (const struct field_ctx *c, const char *key, const char *what, isola_error_t *err)
{
  return field_fail_status (c, key, EINVAL, what, err);
}

/* Moves an error produced by a helper into the caller's error, prefixed with the field's location. */
static int
field_wrap (const struct field_ctx *c, const char *key, isola_error_t *local, isola_error_t *err)
{
  int ret = field_fail_status (c, key, (*local)->status, (*local)->msg ? (*local)->msg : "", err);
  isola_error_release (local);
  return ret;
}

static const char *
json_type_name (const json_t *v)
{
  switch (json_typeof (v))
    {
    case JSON_OBJECT:
      return "an object";
    case JSON_ARRAY:
      return "an array";
    case JSON_STRING:
      return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
      return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
      return "a boolean";
    case JSON_NULL:
    default:
      return "null";
    }
}

static int
type_fail (const struct field_ctx *c, const char *key, const json_t *v, const char *want, isola_error_t *err)
{
  char what[64];
  snprintf (what, sizeof what, "must be %s, not %s", want, json_type_name (v));
  return field_fail (c, key, what, err);
}

/* Loads a document with the limits every parser shares: bounded size and no duplicate keys (two parsers could
   otherwise disagree on which value wins). */
static int
json_load_bounded (const char *buf, size_t len, const char *doc, json_t **out, isola_error_t *err)
{
  if (len > OCI_JSON_MAX)
    return isola_error_fail (err, EFBIG, "invalid %s: document is %zu bytes, more than the %d allowed", doc, len,
                             OCI_JSON_MAX);
  json_error_t jerr;
  json_t *j = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL)
    return isola_error_fail (err, EINVAL, "invalid %s: %s (line %d, column %d)", doc, jerr.text, jerr.line,
                             jerr.column);
  *out = j;
  return 0;
}

/* Copies obj[key] when it is a string.  Absent (or null, when optional) leaves *out NULL. */
static int
get_string (const struct field_ctx *c, json_t *obj, const char *key, bool required, char **out, isola_error_t *err)
{
  json_t *v = json_object_get (obj, key);
  *out = NULL;
  if (v == NULL || (json_is_null (v) && !required))
    return required ? field_fail (c, key, "missing", err) : 0;
  if (!json_is_string (v))
    return type_fail (c, key, v, "a string", err);
  *out = xstrdup (json_string_value (v));
  return 0;
}

/* Returns obj[key] if it has the wanted type; NULL (without error) when absent/null and optional. */
static int
get_typed (const struct field_ctx *c, json_t *obj, const char *key, json_type type, bool required, json_t **out,
           isola_error_t *err)
{
  static const char *const names[] = {
    [JSON_OBJECT] = "an object",
    [JSON_ARRAY] = "an array",
    [JSON_STRING] = "a string",
    [JSON_INTEGER] = "an integer",
  };
  json_t *v = json_object_get (obj, key);
  *out = NULL;
  if (v == NULL || (json_is_null (v) && !required))
    return required ? field_fail (c, key, "missing", err) : 0;
  if (json_typeof (v) != type)
    return type_fail (c, key, v, names[type], err);
  *out = v;
  return 0;
}

static int
get_array (const struct field_ctx *c, json_t *obj, const char *key, size_t max, json_t **out, isola_error_t *err)
{
  int ret = get_typed (c, obj, key, JSON_ARRAY, true, out, err);
  if (ret < 0)
    return ret;
  if (json_array_size (*out) > max)
    {
      char what[80];
      snprintf (what, sizeof what, "%zu entries, more than the %zu allowed", json_array_size (*out), max);
      return field_fail_status (c, key, E2BIG, what, err);
    }
  return 0;
}

static int
get_digest (const struct field_ctx *c, json_t *obj, const char *key, digest_hex_t out, isola_error_t *err)
{
  cleanup_free char *s = NULL;
  int ret = get_string (c, obj, key, true, &s, err);
  if (ret < 0)
    return ret;
  cleanup_error isola_error_t local = NULL;
  if (digest_parse (s, out, &local) < 0)
    return field_wrap (c, key, &local, err);
  return 0;
}

static int
get_size (const struct field_ctx *c, json_t *obj, const char *key, int64_t *out, isola_error_t *err)
{
  json_t *v = NULL;
  int ret = get_typed (c, obj, key, JSON_INTEGER, true, &v, err);
  if (ret < 0)
    return ret;
  json_int_t n = json_integer_value (v);
  if (n < 0 || n > JSON_SAFE_INT_MAX)
    return field_fail (c, key, "out of range", err);
  *out = (int64_t)n;
  return 0;
}

/* schemaVersion is required and must be 2: version 1 manifests are a different, signed format. */
static int
check_schema_version (const struct field_ctx *c, json_t *obj, isola_error_t *err)
{
  json_t *v = NULL;
  int ret = get_typed (c, obj, "schemaVersion", JSON_INTEGER, true, &v, err);
  if (ret < 0)
    return ret;
  if (json_integer_value (v) != 2)
    return field_fail (c, "schemaVersion", "unsupported version, expected 2", err);
  return 0;
}

/* Reads the optional top-level mediaType and checks it is one of the two the document may declare. */
static int
get_document_media_type (const struct field_ctx *c, json_t *obj, const char *a, const char *b, char **out,
                         isola_error_t *err)
{
  int ret = get_string (c, obj, "mediaType", false, out, err);
  if (ret < 0 || *out == NULL)
    return ret;
  if (strcmp (*out, a) == 0 || strcmp (*out, b) == 0)
    return 0;
  char what[160];
  snprintf (what, sizeof what, "unexpected `%.100s`", *out);
  free (*out);
  *out = NULL;
  return field_fail (c, "mediaType", what, err);
}

static int
descriptor_annotations (const struct field_ctx *c, json_t *obj, struct oci_descriptor *d, isola_error_t *err)
{
  json_t *ann = NULL;
  int ret = get_typed (c, obj, "annotations", JSON_OBJECT, false, &ann, err);
  if (ret < 0 || ann == NULL)
    return ret;
  char where[96];
  snprintf (where, sizeof where, "%s%sannotations", c->where, *c->where ? "." : "");
  struct field_ctx ac = { c->doc, where };
  ret = get_string (&ac, ann, ANNOTATION_REF_NAME, false, &d->ref_name, err);
  if (ret < 0)
    return ret;
  return get_string (&ac, ann, ANNOTATION_CONTAINERD_NAME, false, &d->containerd_name, err);
}

static int
descriptor_platform (const struct field_ctx *c, json_t *obj, struct oci_descriptor *d, isola_error_t *err)
{
  json_t *plat = NULL;
  int ret = get_typed (c, obj, "platform", JSON_OBJECT, false, &plat, err);
  if (ret < 0 || plat == NULL)
    return ret;
  char where[96];
  snprintf (where, sizeof where, "%s%splatform", c->where, *c->where ? "." : "");
  struct field_ctx pc = { c->doc, where };
  ret = get_string (&pc, plat, "os", false, &d->platform_os, err);
  if (ret < 0)
    return ret;
  ret = get_string (&pc, plat, "architecture", false, &d->platform_arch, err);
  if (ret < 0)
    return ret;
  return get_string (&pc, plat, "variant", false, &d->platform_variant, err);
}

/* Fills d from a descriptor object.  On failure d may be partly filled; the caller clears it. */
static int
descriptor_parse (const struct field_ctx *c, json_t *obj, struct oci_descriptor *d, isola_error_t *err)
{
  if (!json_is_object (obj))
    return type_fail (c, NULL, obj, "an object", err);
  int ret = get_string (c, obj, "mediaType", true, &d->media_type, err);
  if (ret >= 0)
    ret = get_digest (c, obj, "digest", d->digest, err);
  if (ret >= 0)
    ret = get_size (c, obj, "size", &d->size, err);
  if (ret >= 0)
    ret = descriptor_annotations (c, obj, d, err);
  if (ret >= 0)
    ret = descriptor_platform (c, obj, d, err);
  return ret;
}

/* Parses arr (already bounded) into a calloc'ed descriptor array; *n is set first so a partial array can be
   cleared. */
static int
descriptor_array_parse (const char *doc, const char *key, json_t *arr, struct oci_descriptor **out, size_t *n,
                        isola_error_t *err)
{
  size_t count = json_array_size (arr);
  *out = xcalloc (count, sizeof (**out));
  *n = count;
  for (size_t i = 0; i < count; i++)
    {
      char where[64];
      snprintf (where, sizeof where, "%s[%zu]", key, i);
      struct field_ctx c = { doc, where };
      int ret = descriptor_parse (&c, json_array_get (arr, i), &(*out)[i], err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

void
oci_descriptor_clear (struct oci_descriptor *d)
{
  if (d == NULL)
    return;
  free (d->media_type);
  free (d->ref_name);
  free (d->containerd_name);
  free (d->platform_os);
  free (d->platform_arch);
  free (d->platform_variant);
  memset (d, 0, sizeof (*d));
}

static void
descriptors_free (struct oci_descriptor *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    oci_descriptor_clear (&v[i]);
  free (v);
}

void
oci_index_clear (struct oci_index *i)
{
  if (i == NULL)
    return;
  free (i->media_type);
  descriptors_free (i->manifests, i->n_manifests);
  memset (i, 0, sizeof (*i));
}

void
oci_manifest_clear (struct oci_manifest *m)
{
  if (m == NULL)
    return;
  free (m->media_type);
  oci_descriptor_clear (&m->config);
  descriptors_free (m->layers, m->n_layers);
  memset (m, 0, sizeof (*m));
}

void
oci_config_clear (struct oci_config *c)
{
  if (c == NULL)
    return;
  json_decref (c->json);
  free (c->architecture);
  free (c->os);
  free (c->created);
  free (c->diff_ids);
  memset (c, 0, sizeof (*c));
}

static int
index_fill (json_t *root, struct oci_index *ix, isola_error_t *err)
{
  const struct field_ctx c = { DOC_INDEX, "" };
  json_t *arr = NULL;
  if (!json_is_object (root))
    return type_fail (&c, NULL, root, "an object", err);
  int ret = check_schema_version (&c, root, err);
  if (ret >= 0)
    ret = get_document_media_type (&c, root, MT_OCI_INDEX, MT_DOCKER_LIST, &ix->media_type, err);
  if (ret >= 0)
    ret = get_array (&c, root, "manifests", OCI_MAX_MANIFESTS, &arr, err);
  if (ret >= 0)
    ret = descriptor_array_parse (DOC_INDEX, "manifests", arr, &ix->manifests, &ix->n_manifests, err);
  return ret;
}

int
oci_index_parse (const char *buf, size_t len, struct oci_index *out, isola_error_t *err)
{
  cleanup_json json_t *root = NULL;
  int ret = json_load_bounded (buf, len, DOC_INDEX, &root, err);
  if (ret < 0)
    return ret;
  struct oci_index ix = { 0 };
  ret = index_fill (root, &ix, err);
  if (ret < 0)
    {
      oci_index_clear (&ix);
      return ret;
    }
  *out = ix;
  return 0;
}

static int
manifest_fill (json_t *root, struct oci_manifest *m, isola_error_t *err)
{
  const struct field_ctx c = { DOC_MANIFEST, "" };
  const struct field_ctx config_ctx = { DOC_MANIFEST, "config" };
  json_t *config = NULL, *layers = NULL;
  if (!json_is_object (root))
    return type_fail (&c, NULL, root, "an object", err);
  int ret = check_schema_version (&c, root, err);
  if (ret >= 0)
    ret = get_document_media_type (&c, root, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST, &m->media_type, err);
  if (ret >= 0 && m->media_type == NULL)
    m->media_type = xstrdup (MT_OCI_MANIFEST);
  if (ret >= 0)
    ret = get_typed (&c, root, "config", JSON_OBJECT, true, &config, err);
  if (ret >= 0)
    ret = descriptor_parse (&config_ctx, config, &m->config, err);
  if (ret >= 0)
    ret = get_array (&c, root, "layers", OCI_MAX_LAYERS, &layers, err);
  if (ret >= 0)
    ret = descriptor_array_parse (DOC_MANIFEST, "layers", layers, &m->layers, &m->n_layers, err);
  return ret;
}

int
oci_manifest_parse (const char *buf, size_t len, struct oci_manifest *out, isola_error_t *err)
{
  cleanup_json json_t *root = NULL;
  int ret = json_load_bounded (buf, len, DOC_MANIFEST, &root, err);
  if (ret < 0)
    return ret;
  struct oci_manifest m = { 0 };
  ret = manifest_fill (root, &m, err);
  if (ret < 0)
    {
      oci_manifest_clear (&m);
      return ret;
    }
  *out = m;
  return 0;
}

static int
config_rootfs (json_t *root, struct oci_config *cfg, isola_error_t *err)
{
  const struct field_ctx c = { DOC_CONFIG, "" };
  const struct field_ctx rc = { DOC_CONFIG, "rootfs" };
  json_t *rootfs = NULL, *ids = NULL;
  cleanup_free char *type = NULL;
  int ret = get_typed (&c, root, "rootfs", JSON_OBJECT, true, &rootfs, err);
  if (ret >= 0)
    ret = get_string (&rc, rootfs, "type", true, &type, err);
  if (ret >= 0 && strcmp (type, "layers") != 0)
    ret = field_fail (&rc, "type", "must be \"layers\"", err);
  if (ret >= 0)
    ret = get_array (&rc, rootfs, "diff_ids", OCI_MAX_LAYERS, &ids, err);
  if (ret < 0)
    return ret;

  size_t n = json_array_size (ids);
  cfg->diff_ids = xcalloc (n, sizeof (*cfg->diff_ids));
  cfg->n_diff_ids = n;
  cleanup_error isola_error_t local = NULL;
  for (size_t i = 0; i < n; i++)
    {
      char key[32];
      snprintf (key, sizeof key, "diff_ids[%zu]", i);
      json_t *v = json_array_get (ids, i);
      if (!json_is_string (v))
        return type_fail (&rc, key, v, "a string", err);
      if (digest_parse (json_string_value (v), cfg->diff_ids[i], &local) < 0)
        return field_wrap (&rc, key, &local, err);
    }
  return 0;
}

static int
config_fill (json_t *root, struct oci_config *cfg, isola_error_t *err)
{
  const struct field_ctx c = { DOC_CONFIG, "" };
  if (!json_is_object (root))
    return type_fail (&c, NULL, root, "an object", err);
  int ret = get_string (&c, root, "architecture", true, &cfg->architecture, err);
  if (ret >= 0)
    ret = get_string (&c, root, "os", true, &cfg->os, err);
  if (ret >= 0)
    ret = get_string (&c, root, "created", false, &cfg->created, err);
  if (ret >= 0)
    ret = config_rootfs (root, cfg, err);
  return ret;
}

int
oci_config_parse (const char *buf, size_t len, struct oci_config *out, isola_error_t *err)
{
  struct oci_config cfg = { 0 };
  int ret = json_load_bounded (buf, len, DOC_CONFIG, &cfg.json, err);
  if (ret < 0)
    return ret;
  ret = config_fill (cfg.json, &cfg, err);
  if (ret < 0)
    {
      oci_config_clear (&cfg);
      return ret;
    }
  *out = cfg;
  return 0;
}

int
archive_path_is_safe (const char *path)
{
  if (path == NULL || *path == '\0' || *path == '/')
    return 0;
  for (const char *p = path;;)
    {
      const char *slash = strchr (p, '/');
      size_t n = slash ? (size_t)(slash - p) : strlen (p);
      if (n == 2 && p[0] == '.' && p[1] == '.')
        return 0;
      if (slash == NULL)
        return 1;
      p = slash + 1;
    }
}

static int
get_safe_path (const struct field_ctx *c, const char *key, json_t *v, char **out, isola_error_t *err)
{
  if (v == NULL)
    return field_fail (c, key, "missing", err);
  if (!json_is_string (v))
    return type_fail (c, key, v, "a string", err);
  const char *s = json_string_value (v);
  if (!archive_path_is_safe (s))
    {
      char what[160];
      snprintf (what, sizeof what, "unsafe path `%.100s`", s);
      return field_fail (c, key, what, err);
    }
  *out = xstrdup (s);
  return 0;
}

/* RepoTags is a list of strings, null, or absent (untagged images); the result is always a vector. */
static int
save_entry_tags (const struct field_ctx *c, json_t *obj, struct docker_save_entry *e, isola_error_t *err)
{
  json_t *tags = NULL;
  int ret = get_typed (c, obj, "RepoTags", JSON_ARRAY, false, &tags, err);
  if (ret < 0)
    return ret;
  size_t n = json_array_size (tags); /* 0 for NULL */
  /* Sized up front: strv_push would be quadratic on a hostile list of millions of tags. */
  e->repo_tags = xcalloc (n + 1, sizeof (char *));
  for (size_t i = 0; i < n; i++)
    {
      char key[40];
      snprintf (key, sizeof key, "RepoTags[%zu]", i);
      json_t *v = json_array_get (tags, i);
      if (!json_is_string (v))
        return type_fail (c, key, v, "a string", err);
      e->repo_tags[i] = xstrdup (json_string_value (v));
    }
  return 0;
}

static int
save_entry_layers (const struct field_ctx *c, json_t *obj, struct docker_save_entry *e, isola_error_t *err)
{
  json_t *layers = NULL;
  int ret = get_array (c, obj, "Layers", OCI_MAX_LAYERS, &layers, err);
  if (ret < 0)
    return ret;
  size_t n = json_array_size (layers);
  e->layer_paths = xcalloc (n + 1, sizeof (char *));
  e->n_layers = n;
  for (size_t i = 0; i < n; i++)
    {
      char key[32];
      snprintf (key, sizeof key, "Layers[%zu]", i);
      ret = get_safe_path (c, key, json_array_get (layers, i), &e->layer_paths[i], err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int
save_entry_parse (const struct field_ctx *c, json_t *obj, struct docker_save_entry *e, isola_error_t *err)
{
  if (!json_is_object (obj))
    return type_fail (c, NULL, obj, "an object", err);
  int ret = get_safe_path (c, "Config", json_object_get (obj, "Config"), &e->config_path, err);
  if (ret >= 0)
    ret = save_entry_tags (c, obj, e, err);
  if (ret >= 0)
    ret = save_entry_layers (c, obj, e, err);
  return ret;
}

static void
save_entry_clear (struct docker_save_entry *e)
{
  free (e->config_path);
  strv_free (e->repo_tags);
  strv_free (e->layer_paths);
  memset (e, 0, sizeof (*e));
}

void
docker_save_entries_free (struct docker_save_entry *e, size_t n)
{
  for (size_t i = 0; e && i < n; i++)
    save_entry_clear (&e[i]);
  free (e);
}

static int
save_entries_fill (json_t *root, struct docker_save_entry **entries, size_t *n, isola_error_t *err)
{
  const struct field_ctx top = { DOC_SAVE, "" };
  if (!json_is_array (root))
    return type_fail (&top, NULL, root, "an array", err);
  size_t count = json_array_size (root);
  if (count > OCI_MAX_MANIFESTS)
    return isola_error_fail (err, E2BIG, "invalid %s: %zu entries, more than the %d allowed", DOC_SAVE, count,
                             OCI_MAX_MANIFESTS);
  *entries = count ? xcalloc (count, sizeof (**entries)) : NULL;
  *n = count;
  for (size_t i = 0; i < count; i++)
    {
      char where[32];
      snprintf (where, sizeof where, "[%zu]", i);
      struct field_ctx c = { DOC_SAVE, where };
      int ret = save_entry_parse (&c, json_array_get (root, i), &(*entries)[i], err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

int
docker_save_manifest_parse (const char *buf, size_t len, struct docker_save_entry **out, size_t *n_out,
                            isola_error_t *err)
{
  cleanup_json json_t *root = NULL;
  int ret = json_load_bounded (buf, len, DOC_SAVE, &root, err);
  if (ret < 0)
    return ret;
  struct docker_save_entry *entries = NULL;
  size_t n = 0;
  ret = save_entries_fill (root, &entries, &n, err);
  if (ret < 0)
    {
      docker_save_entries_free (entries, n);
      return ret;
    }
  *out = entries;
  *n_out = n;
  return 0;
}

/* Guesses the kind of a document: its mediaType when it declares one, else its shape (OCI made mediaType
   optional in indexes and manifests). */
static const char *
document_kind_of (json_t *root)
{
  static const char *const kinds[] = { MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST };
  if (!json_is_object (root))
    return NULL;
  json_t *mt = json_object_get (root, "mediaType");
  if (mt != NULL)
    {
      if (!json_is_string (mt))
        return NULL;
      for (size_t i = 0; i < ARRAY_SIZE (kinds); i++)
        if (strcmp (json_string_value (mt), kinds[i]) == 0)
          return kinds[i];
      return NULL;
    }
  if (json_is_array (json_object_get (root, "manifests")))
    return MT_OCI_INDEX;
  if (json_is_object (json_object_get (root, "config")) && json_is_array (json_object_get (root, "layers")))
    return MT_OCI_MANIFEST;
  return NULL;
}

const char *
oci_document_kind (const char *buf, size_t len)
{
  cleanup_json json_t *root = NULL;
  if (json_load_bounded (buf, len, "document", &root, NULL) < 0)
    return NULL;
  return document_kind_of (root);
}

enum layer_compression
oci_layer_media_compression (const char *media_type)
{
  static const struct
  {
    const char *media_type;
    enum layer_compression compression;
  } table[] = {
    { MT_OCI_LAYER_TAR, LAYER_COMPRESSION_NONE },
    { MT_OCI_LAYER_GZIP, LAYER_COMPRESSION_GZIP },
    { MT_OCI_LAYER_ZSTD, LAYER_COMPRESSION_ZSTD },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_COMPRESSION_NONE },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_COMPRESSION_GZIP },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_COMPRESSION_ZSTD },
    /* Docker labels every layer "gzip", even the uncompressed ones some tools write; the unpacker sniffs the
       content, so this value is informational only. */
    { MT_DOCKER_LAYER_GZIP, LAYER_COMPRESSION_GZIP },
    { MT_DOCKER_LAYER_FOREIGN, LAYER_COMPRESSION_GZIP },
  };
  if (media_type == NULL)
    return LAYER_COMPRESSION_UNKNOWN;
  for (size_t i = 0; i < ARRAY_SIZE (table); i++)
    if (strcmp (media_type, table[i].media_type) == 0)
      return table[i].compression;
  return LAYER_COMPRESSION_UNKNOWN;
}

json_t *
oci_docker_container_config (json_t *config)
{
  /* Docker's member order; 's' a string, 'b' a boolean, 'n' null when unset, 'o' omitted when unset. */
  static const struct
  {
    const char *name;
    char zero;
  } members[] = {
    { "Hostname", 's' },        { "Domainname", 's' },   { "User", 's' },
    { "AttachStdin", 'b' },     { "AttachStdout", 'b' }, { "AttachStderr", 'b' },
    { "ExposedPorts", 'o' },    { "Tty", 'b' },          { "OpenStdin", 'b' },
    { "StdinOnce", 'b' },       { "Env", 'n' },          { "Cmd", 'n' },
    { "Healthcheck", 'o' },     { "ArgsEscaped", 'o' },  { "Image", 's' },
    { "Volumes", 'n' },         { "WorkingDir", 's' },   { "Entrypoint", 'n' },
    { "NetworkDisabled", 'o' }, { "MacAddress", 'o' },   { "OnBuild", 'n' },
    { "Labels", 'n' },          { "StopSignal", 'o' },   { "StopTimeout", 'o' },
    { "Shell", 'o' },
  };
  json_t *out = json_object ();
  for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
    {
      json_t *v = json_object_get (config, members[i].name);
      if (v && !json_is_null (v))
        json_object_set (out, members[i].name, v);
      else if (members[i].zero == 's')
        json_object_set_new (out, members[i].name, json_string (""));
      else if (members[i].zero == 'b')
        json_object_set_new (out, members[i].name, json_false ());
      else if (members[i].zero == 'n')
        json_object_set_new (out, members[i].name, json_null ());
    }
  return out;
}
