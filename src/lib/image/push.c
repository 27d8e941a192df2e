#define _GNU_SOURCE
#include "image/push.h"

#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "image/image.h"
#include "image/image_event.h"
#include "image/oci.h"
#include "image/reference.h"
#include "image/registry.h"
#include "store/store.h"

void
push_result_clear (struct push_result *r)
{
  free (r->tag);
  memset (r, 0, sizeof (*r));
}

static int
push_blob (struct isola_store *s, struct registry_client *reg, const struct oci_descriptor *d, bool is_layer,
           push_progress_fn fn, void *arg, isola_error_t *err)
{
  char id[13];
  snprintf (id, sizeof id, "%.12s", d->digest);
  bool exists = false;
  int ret = registry_blob_exists (reg, d->digest, &exists, err);
  if (ret < 0)
    return ret;
  if (exists)
    {
      if (fn && is_layer)
        fn (arg, PUSH_LAYER_EXISTS, id);
      return 0;
    }
  if (!blob_exists (s, d->digest))
    return isola_error_fail (err, ENOENT, "blob sha256:%s of the image is not in the store", d->digest);
  if (fn && is_layer)
    fn (arg, PUSH_LAYER_PUSHING, id);
  cleanup_free char *path = blob_path (s, d->digest);
  ret = registry_upload_blob (reg, d->digest, path, d->size, err);
  if (ret == 0 && fn && is_layer)
    fn (arg, PUSH_LAYER_PUSHED, id);
  return ret;
}

/* Records name@digest as a repository digest of the image (as a pull does). */
static int
record_repo_digest (struct isola_store *s, const char *id, const char *name, const char *digest, isola_error_t *err)
{
  int ret = store_lock (s, STORE_LOCK_EXCLUSIVE, err);
  if (ret < 0)
    return ret;
  struct image_record rec = { 0 };
  ret = image_record_read (s, id, &rec, err);
  cleanup_free char *rd = xasprintf ("%s@sha256:%s", name, digest);
  if (ret == 0 && image_record_add_repo_digest (&rec, rd))
    ret = image_record_write (s, &rec, err);
  image_record_clear (&rec);
  return ret;
}

int
image_push (const char *root, const char *reference, push_progress_fn fn, void *arg, struct push_result *out,
            isola_error_t *err)
{
  struct image_ref ref = { 0 };
  int ret = image_ref_parse_tagged (reference, &ref, err);
  if (ret < 0)
    return ret;
  cleanup_free char *tagged = image_ref_string (&ref);
  cleanup_free char *domain = NULL, *path = NULL;
  image_ref_locate (&ref, &domain, &path);
  cleanup_store struct isola_store *s = NULL;
  cleanup_json json_t *refs = NULL;
  cleanup_registry struct registry_client *reg = NULL;
  cleanup_free char *manifest = NULL;
  size_t len = 0;
  struct image_record rec = { 0 };
  struct oci_manifest m = { 0 };
  ret = store_open (root, STORE_LOCK_SHARED, &s, err);
  if (ret == 0)
    ret = refs_read (s, &refs, err);
  const char *id = ret == 0 ? json_string_value (json_object_get (refs, tagged)) : NULL;
  if (ret == 0 && id == NULL)
    ret = isola_error_fail (err, ENOENT, "An image does not exist locally with the tag: %s", ref.name);
  if (ret == 0)
    ret = image_record_read (s, id, &rec, err);
  if (ret == 0)
    ret = blob_read (s, rec.manifest, OCI_JSON_MAX, &manifest, &len, err);
  if (ret == 0)
    ret = oci_manifest_parse (manifest, len, &m, err);
  if (ret == 0 && fn)
    {
      cleanup_free char *header = xasprintf ("The push refers to repository [%s]", ref.name);
      fn (arg, PUSH_HEADER, header);
    }
  if (ret == 0)
    ret = registry_open (root, domain, path, "pull,push", &reg, err);
  for (size_t i = 0; ret == 0 && fn && i < m.n_layers; i++)
    {
      char lid[13];
      snprintf (lid, sizeof lid, "%.12s", m.layers[i].digest);
      fn (arg, PUSH_LAYER_PREPARING, lid);
    }
  for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
    ret = push_blob (s, reg, &m.layers[i], true, fn, arg, err);
  if (ret == 0)
    ret = push_blob (s, reg, &m.config, false, fn, arg, err);
  if (ret == 0)
    ret = registry_put_manifest (reg, ref.tag, m.media_type ? m.media_type : MT_OCI_MANIFEST, manifest, len, err);
  if (ret == 0)
    {
      memcpy (out->digest, rec.manifest, sizeof (digest_hex_t));
      out->size = len;
      out->tag = xstrdup (ref.tag);
      ret = record_repo_digest (s, rec.id, ref.name, rec.manifest, err);
    }
  if (ret == 0)
    image_event (s, rec.id, tagged, "push");
  oci_manifest_clear (&m);
  image_record_clear (&rec);
  image_ref_clear (&ref);
  return ret;
}
