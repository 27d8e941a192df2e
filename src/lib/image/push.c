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

struct push_ctx
{
  struct isola_store *store;
  struct registry_client *reg;
  const char *mount_from; /* another repository of the registry that has the image, or NULL */
  push_progress_fn fn;
  void *arg;
  const char *id; /* the layer being sent */
  int64_t total;
};

static void
emit (struct push_ctx *c, enum push_event ev, const char *id, int64_t done, int64_t total, const char *from)
{
  if (c->fn)
    c->fn (c->arg, &(struct push_progress){ .ev = ev, .id = id, .done = done, .total = total, .from = from });
}

static void
on_sent (void *arg, int64_t done)
{
  struct push_ctx *c = arg;
  emit (c, PUSH_LAYER_PUSHING, c->id, done, c->total, NULL);
}

/* One blob: nothing when the registry has it, a mount from mount_from when it can, an upload otherwise.  id is the
   layer's as shown, NULL for the config (not shown). */
static int
push_blob (struct push_ctx *c, const struct oci_descriptor *d, const char *id, isola_error_t *err)
{
  bool exists = false;
  int ret = registry_blob_exists (c->reg, d->digest, &exists, err);
  if (ret < 0)
    return ret;
  if (exists)
    {
      if (id)
        emit (c, PUSH_LAYER_EXISTS, id, 0, 0, NULL);
      return 0;
    }
  if (!blob_exists (c->store, d->digest))
    return isola_error_fail (err, ENOENT, "blob sha256:%s of the image is not in the store", d->digest);
  if (id)
    emit (c, PUSH_LAYER_PUSHING, id, 0, d->size, NULL);
  cleanup_free char *path = blob_path (c->store, d->digest);
  bool mounted = false;
  c->id = id;
  c->total = d->size;
  ret = registry_upload_blob (c->reg, d->digest, path, d->size, id ? c->mount_from : NULL, &mounted,
                              id ? on_sent : NULL, c, err);
  if (ret == 0 && id)
    emit (c, mounted ? PUSH_LAYER_MOUNTED : PUSH_LAYER_PUSHED, id, d->size, d->size, c->mount_from);
  return ret;
}

/* A repository of domain other than path that the image came from or went to: a registry can mount its blobs. */
static char *
mount_source (const struct image_record *rec, const char *domain, const char *path)
{
  for (size_t i = 0; rec->repo_digests && rec->repo_digests[i]; i++)
    {
      cleanup_free char *name = strndup (rec->repo_digests[i], strcspn (rec->repo_digests[i], "@"));
      struct image_ref ref = { 0 };
      if (name == NULL || image_ref_parse (name, &ref, NULL) < 0)
        continue;
      cleanup_free char *d = NULL, *p = NULL;
      image_ref_locate (&ref, &d, &p);
      image_ref_clear (&ref);
      if (strcmp (d, domain) == 0 && strcmp (p, path) != 0)
        return take_ptr (&p);
    }
  return NULL;
}

/* The layers' short IDs as Docker shows them: their diff IDs, from the config (the blob digest if it lacks one). */
static char (*layer_ids (struct isola_store *s, const struct oci_manifest *m))[13]
{
  char (*ids)[13] = xcalloc (m->n_layers + 1, sizeof (*ids));
  cleanup_free char *buf = NULL;
  size_t len = 0;
  struct oci_config cfg = { 0 };
  bool have = blob_read (s, m->config.digest, OCI_JSON_MAX, &buf, &len, NULL) == 0
              && oci_config_parse (buf, len, &cfg, NULL) == 0;
  for (size_t i = 0; i < m->n_layers; i++)
    snprintf (ids[i], sizeof ids[i], "%.12s", have && i < cfg.n_diff_ids ? cfg.diff_ids[i] : m->layers[i].digest);
  if (have)
    oci_config_clear (&cfg);
  return ids;
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
image_push (const char *root, const char *reference, const struct registry_login *login, push_progress_fn fn, void *arg,
            struct push_result *out, isola_error_t *err)
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
  struct push_ctx c = { .fn = fn, .arg = arg };
  {
    /* Docker names the repository before it looks for the image. */
    cleanup_free char *header = xasprintf ("The push refers to repository [%s]", ref.name);
    emit (&c, PUSH_HEADER, header, 0, 0, NULL);
  }
  ret = store_open (root, STORE_LOCK_SHARED, &s, err);
  c.store = s;
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
  if (ret == 0)
    ret = registry_open_as (root, domain, path, "pull,push", login, &reg, err);
  cleanup_free char *from = ret == 0 ? mount_source (&rec, domain, path) : NULL;
  cleanup_free char (*ids)[13] = ret == 0 ? layer_ids (s, &m) : NULL;
  c.reg = reg;
  c.mount_from = from;
  if (from)
    registry_add_pull_scope (reg, from);
  /* Docker lists the layers top first. */
  for (size_t i = m.n_layers; ret == 0 && i-- > 0;)
    emit (&c, PUSH_LAYER_PREPARING, ids[i], 0, 0, NULL);
  for (size_t i = m.n_layers; ret == 0 && i-- > 0;)
    ret = push_blob (&c, &m.layers[i], ids[i], err);
  if (ret == 0)
    ret = push_blob (&c, &m.config, NULL, err);
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
