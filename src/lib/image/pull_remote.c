#define _GNU_SOURCE
#include "image/pull_remote.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

#include "base/json.h"
#include "base/util.h"
#include "image/image.h"
#include "image/image_event.h"
#include "image/ingest.h"
#include "image/oci.h"
#include "image/reference.h"
#include "image/registry.h"

#define MT_DOCKER_SCHEMA1        "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

void
pull_result_clear (struct pull_result *r)
{
  free (r->full_name);
  free (r->familiar);
  memset (r, 0, sizeof (*r));
}

/* --- platforms ------------------------------------------------------------------------------------------------- */

struct platform
{
  char os[32], arch[32], variant[32];
};

static void
host_platform (struct platform *p)
{
  memset (p, 0, sizeof (*p));
  snprintf (p->os, sizeof p->os, "linux");
#if defined(__x86_64__)
  snprintf (p->arch, sizeof p->arch, "amd64");
#elif defined(__aarch64__)
  snprintf (p->arch, sizeof p->arch, "arm64");
  snprintf (p->variant, sizeof p->variant, "v8");
#else
  struct utsname u;
  snprintf (p->arch, sizeof p->arch, "%s", uname (&u) == 0 ? u.machine : "unknown");
#endif
}

static int
platform_parse (const char *s, struct platform *p, isola_error_t *err)
{
  memset (p, 0, sizeof (*p));
  cleanup_free char *copy = xstrdup (s);
  char *save = NULL;
  char *os = strtok_r (copy, "/", &save), *arch = strtok_r (NULL, "/", &save), *variant = strtok_r (NULL, "/", &save);
  if (os == NULL || arch == NULL || strtok_r (NULL, "/", &save) || strlen (os) >= sizeof p->os
      || strlen (arch) >= sizeof p->arch || (variant && strlen (variant) >= sizeof p->variant))
    return isola_error_fail (err, EINVAL, "invalid platform \"%s\": expected os/arch[/variant]", s);
  snprintf (p->os, sizeof p->os, "%s", os);
  snprintf (p->arch, sizeof p->arch, "%s", arch);
  snprintf (p->variant, sizeof p->variant, "%s", variant ? variant : "");
  return 0;
}

static bool
platform_matches (const struct platform *want, const struct oci_descriptor *d)
{
  if (d->platform_os == NULL || d->platform_arch == NULL)
    return false;
  if (strcmp (d->platform_os, want->os) != 0 || strcmp (d->platform_arch, want->arch) != 0)
    return false;
  /* arm64 images name v8 or nothing; a variant asked for must match one given. */
  return want->variant[0] == '\0' || d->platform_variant == NULL || strcmp (d->platform_variant, want->variant) == 0;
}

static bool
is_manifest_type (const char *mt)
{
  return mt && (strcmp (mt, MT_OCI_MANIFEST) == 0 || strcmp (mt, MT_DOCKER_MANIFEST) == 0);
}

/* --- manifests ------------------------------------------------------------------------------------------------ */

/* The kind of a fetched document: its Content-Type, else what its mediaType or shape says. */
static const char *
manifest_kind (const struct registry_manifest *m)
{
  const char *ct = m->media_type;
  size_t n = strcspn (ct, ";");
  static const char *const known[] = { MT_OCI_INDEX,       MT_DOCKER_LIST,    MT_OCI_MANIFEST,
                                       MT_DOCKER_MANIFEST, MT_DOCKER_SCHEMA1, MT_DOCKER_SCHEMA1_SIGNED };
  for (size_t i = 0; i < ARRAY_SIZE (known); i++)
    if (strlen (known[i]) == n && strncmp (ct, known[i], n) == 0)
      return known[i];
  cleanup_json json_t *o = json_loadb (m->body, m->len, 0, NULL);
  if (json_integer_value (json_object_get (o, "schemaVersion")) == 1)
    return MT_DOCKER_SCHEMA1;
  return oci_document_kind (m->body, m->len);
}

struct pull_ctx
{
  struct isola_store *store;
  struct registry_client *reg;
  struct ingest_plan *plan;
  const char *staging;
  const char *shown; /* the reference as errors name it */
  pull_progress_fn fn;
  void *arg;
  /* the layers being downloaded */
  char (*short_ids)[13];
  size_t *blob_layer; /* download index → layer index */
  int64_t *sizes;
  bool *fetched;                  /* by layer */
  char *header;                   /* "TAG: Pulling from REPO", shown once the registry has the manifest */
  struct registry_manifest index; /* the index the reference named, staged unless the image is up to date */
  struct registry_manifest man;   /* the image manifest for the platform */
  bool unchanged;                 /* the store has the image under this name and digest already: nothing to publish */
};

/* Stages a fetched document as a blob of the plan. */
static int
stage_document (struct pull_ctx *c, const char *body, size_t len, const char *hex, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/doc-%s", c->staging, hex);
  int ret = write_file_atomic (path, body, len, 0600, err);
  if (ret == 0)
    ingest_add_blob (c->plan, path, hex);
  return ret;
}

/* From an index, the manifest for the platform wanted. */
static int
pick_from_index (struct pull_ctx *c, const struct registry_manifest *index, const struct platform *want,
                 struct registry_manifest *out, isola_error_t *err)
{
  struct oci_index idx = { 0 };
  int ret = oci_index_parse (index->body, index->len, &idx, err);
  const struct oci_descriptor *found = NULL;
  for (size_t i = 0; ret == 0 && found == NULL && i < idx.n_manifests; i++)
    if (is_manifest_type (idx.manifests[i].media_type) && platform_matches (want, &idx.manifests[i]))
      found = &idx.manifests[i];
  if (ret == 0 && found == NULL)
    ret = isola_error_fail (err, ENOENT, "no matching manifest for %s/%s%s%s in the manifest list entries", want->os,
                            want->arch, want->variant[0] ? "/" : "", want->variant);
  if (ret == 0)
    {
      cleanup_free char *ref = xasprintf ("sha256:%s", found->digest);
      ret = registry_get_manifest (c->reg, ref, out, err);
      if (ret == 0 && (int64_t)out->len != found->size)
        ret = isola_error_fail (err, EINVAL, "manifest %s is %zu bytes, the index says %lld", ref, out->len,
                                (long long)found->size);
      if (ret == 0 && !is_manifest_type (manifest_kind (out)))
        ret = isola_error_fail (err, EINVAL, "the index entry for %s/%s is not an image manifest", want->os,
                                want->arch);
    }
  oci_index_clear (&idx);
  return ret;
}

/* The image manifest a reference names, for the platform wanted; *top is the digest the registry named it by. */
static int
resolve_manifest (struct pull_ctx *c, const char *reference, const struct platform *want, struct registry_manifest *out,
                  digest_hex_t top, isola_error_t *err)
{
  struct registry_manifest first = { 0 };
  int ret = registry_get_manifest (c->reg, reference, &first, err);
  if (ret < 0)
    return ret;
  memcpy (top, first.hex, sizeof (digest_hex_t));
  const char *kind = manifest_kind (&first);
  if (kind && (strcmp (kind, MT_DOCKER_SCHEMA1) == 0 || strcmp (kind, MT_DOCKER_SCHEMA1_SIGNED) == 0))
    ret = isola_error_fail (err, ENOTSUP,
                            "%s uses Docker image manifest schema 1, which isola does not support (Docker dropped "
                            "it too): push the image again with a current client",
                            c->shown);
  else if (kind && (strcmp (kind, MT_OCI_INDEX) == 0 || strcmp (kind, MT_DOCKER_LIST) == 0))
    {
      ret = pick_from_index (c, &first, want, out, err);
      c->index = first;
      return ret;
    }
  else if (!is_manifest_type (kind))
    ret = isola_error_fail (err, EINVAL, "%s: the registry's answer is not an image manifest (media type `%.100s`)",
                            c->shown, first.media_type);
  if (ret == 0)
    {
      *out = first;
      return 0;
    }
  registry_manifest_clear (&first);
  return ret;
}

/* --- layers --------------------------------------------------------------------------------------------------- */

static void
on_blob (void *arg, size_t index, enum registry_blob_event ev, int64_t done)
{
  struct pull_ctx *c = arg;
  if (c->fn == NULL)
    return;
  const char *id = c->short_ids[c->blob_layer[index]];
  if (ev == REGISTRY_BLOB_VERIFIED)
    c->fn (c->arg, PULL_LAYER_VERIFIED, id, done, c->sizes[index]);
  else
    c->fn (c->arg, PULL_LAYER_DOWNLOADING, id, done, c->sizes[index]);
}

/* Downloads the layers the store lacks, then has the plan unpack those without a snapshot. */
static int
fetch_layers (struct pull_ctx *c, const struct oci_manifest *m, char ***paths, isola_error_t *err)
{
  size_t n = m->n_layers;
  c->short_ids = xcalloc (n + 1, sizeof (*c->short_ids));
  c->blob_layer = xcalloc (n + 1, sizeof (size_t));
  c->sizes = xcalloc (n + 1, sizeof (int64_t));
  c->fetched = xcalloc (n + 1, sizeof (bool));
  cleanup_free struct registry_blob *blobs = xcalloc (n + 1, sizeof (*blobs));
  cleanup_strv char **owned = xcalloc (1, sizeof (char *));
  *paths = xcalloc (1, sizeof (char *));
  size_t nb = 0;
  for (size_t i = 0; i < n; i++)
    {
      const struct oci_descriptor *l = &m->layers[i];
      snprintf (c->short_ids[i], sizeof c->short_ids[i], "%.12s", l->digest);
      if (oci_layer_media_compression (l->media_type) == LAYER_COMPRESSION_UNKNOWN)
        return isola_error_fail (err, ENOTSUP, "layer %zu has unsupported media type `%.100s`", i + 1, l->media_type);
      bool have = blob_exists (c->store, l->digest);
      cleanup_free char *path
          = have ? blob_path (c->store, l->digest) : xasprintf ("%s/layer-%s", c->staging, l->digest);
      /* The same blob twice in one manifest is downloaded once. */
      bool dup = false;
      for (size_t j = 0; j < nb; j++)
        dup |= strcmp (blobs[j].hex, l->digest) == 0;
      if (!have && !dup)
        {
          memcpy (blobs[nb].hex, l->digest, sizeof (digest_hex_t));
          blobs[nb].size = l->size;
          blobs[nb].path = path;
          strv_push (&owned, path);
          blobs[nb].path = owned[strv_len (owned) - 1];
          c->blob_layer[nb] = i;
          c->sizes[nb] = l->size;
          c->fetched[i] = true;
          nb++;
        }
      if (c->fn)
        c->fn (c->arg, have ? PULL_LAYER_EXISTS : PULL_LAYER_WAITING, c->short_ids[i], 0, l->size);
      strv_push (paths, path);
    }
  int ret = registry_fetch_blobs (c->reg, blobs, nb, REGISTRY_PARALLEL, on_blob, c, err);
  for (size_t i = 0; ret == 0 && i < nb; i++)
    ingest_add_blob (c->plan, blobs[i].path, blobs[i].hex);
  return ret;
}

/* --- the pull ------------------------------------------------------------------------------------------------- */

static int
fetch_config (struct pull_ctx *c, const struct oci_manifest *m, char **config, size_t *len, isola_error_t *err)
{
  if (blob_exists (c->store, m->config.digest))
    return blob_read (c->store, m->config.digest, OCI_JSON_MAX, config, len, err);
  int ret = registry_get_blob (c->reg, m->config.digest, m->config.size, OCI_JSON_MAX, config, len, err);
  if (ret == 0)
    ret = stage_document (c, *config, *len, m->config.digest, err);
  return ret;
}

/* Whether the store has image id from this manifest; *named: and under the tag and repository digest too. */
static bool
already_current (struct isola_store *s, const char *id, const char *manifest_hex, const char *tag,
                 const char *repo_digest, bool *named)
{
  struct image_record rec = { 0 };
  *named = false;
  if (image_record_read (s, id, &rec, NULL) < 0)
    return false;
  bool same = strcmp (rec.manifest, manifest_hex) == 0, has_digest = false;
  for (size_t i = 0; rec.repo_digests && rec.repo_digests[i]; i++)
    has_digest |= strcmp (rec.repo_digests[i], repo_digest) == 0;
  image_record_clear (&rec);
  if (!same)
    return false;
  *named = has_digest && tag == NULL;
  if (tag == NULL)
    return true;
  cleanup_json json_t *refs = NULL;
  if (refs_read (s, &refs, NULL) < 0)
    return false;
  const char *cur = json_string_value (json_object_get (refs, tag));
  bool tagged = cur && strcmp (cur, id) == 0;
  *named = tagged && has_digest;
  return tagged;
}

/* Pulls the image of the manifest c->man (resolved by open_endpoint). */
static int
pull_image (struct pull_ctx *c, const struct image_ref *ref, struct pull_result *out, isola_error_t *err)
{
  struct registry_manifest man = c->man;
  memset (&c->man, 0, sizeof (c->man));
  struct oci_manifest m = { 0 };
  cleanup_free char *config = NULL;
  size_t config_len = 0;
  cleanup_strv char **paths = NULL;
  cleanup_free char *tag = ref->tag ? xasprintf ("%s:%s", ref->name, ref->tag) : NULL;
  cleanup_free char *rd = xasprintf ("%s@sha256:%s", ref->name, out->repo_digest);
  if (c->fn)
    c->fn (c->arg, PULL_HEADER, c->header, 0, 0);
  int ret = oci_manifest_parse (man.body, man.len, &m, err);
  if (ret < 0)
    ret = isola_error_wrap (err, ret, "%s: the registry's manifest is not valid", c->shown);
  if (ret == 0)
    {
      memcpy (out->id, m.config.digest, sizeof (digest_hex_t));
      out->up_to_date = already_current (c->store, m.config.digest, man.hex, tag, rd, &c->unchanged);
      if (out->up_to_date)
        c->fn = NULL; /* nothing to show but the status */
    }
  if (ret == 0 && c->unchanged)
    {
      oci_manifest_clear (&m);
      registry_manifest_clear (&man);
      return 0;
    }
  if (ret == 0 && c->index.body)
    ret = stage_document (c, c->index.body, c->index.len, c->index.hex, err);
  if (ret == 0)
    ret = stage_document (c, man.body, man.len, man.hex, err);
  if (ret == 0)
    ret = fetch_config (c, &m, &config, &config_len, err);
  if (ret == 0)
    ret = fetch_layers (c, &m, &paths, err);
  for (size_t i = 0; ret == 0 && c->fn && i < m.n_layers; i++)
    if (c->fetched[i])
      c->fn (c->arg, PULL_LAYER_EXTRACTING, c->short_ids[i], 0, m.layers[i].size);
  char *const tags[] = { tag, NULL };
  if (ret == 0)
    ret = ingest_add_image (c->plan, man.hex, m.config.digest, config, config_len, paths, m.n_layers, tags, err);
  if (ret == 0)
    {
      image_record_add_repo_digest (&c->plan->images[c->plan->n_images - 1].rec, rd);
    }
  oci_manifest_clear (&m);
  registry_manifest_clear (&man);
  return ret;
}

static void
pull_ctx_clear (struct pull_ctx *c)
{
  free (c->short_ids);
  free (c->blob_layer);
  free (c->sizes);
  free (c->fetched);
  free (c->header);
  registry_manifest_clear (&c->index);
  registry_manifest_clear (&c->man);
}

/* The registry to pull from, with the manifest the reference names there: docker.io's mirrors first (a mirror that
   fails or lacks it is passed over), then the registry itself. */
static int
open_endpoint (struct pull_ctx *c, const char *root, const char *domain, const char *path, const char *reference,
               const struct platform *want, const struct registry_login *login, struct registry_client **reg,
               digest_hex_t top, isola_error_t *err)
{
  cleanup_strv char **mirrors = NULL;
  int ret = registry_mirrors (root, domain, &mirrors, err);
  if (ret < 0)
    return ret;
  for (size_t i = 0; mirrors[i]; i++)
    {
      cleanup_error isola_error_t mirror_err = NULL;
      ret = registry_open_mirror (root, domain, mirrors[i], path, reg, &mirror_err);
      if (ret == 0)
        {
          c->reg = *reg;
          ret = resolve_manifest (c, reference, want, &c->man, top, &mirror_err);
        }
      if (ret == 0)
        return 0;
      registry_close (*reg);
      *reg = c->reg = NULL;
      registry_manifest_clear (&c->index);
      registry_manifest_clear (&c->man);
    }
  ret = registry_open_as (root, domain, path, "pull", login, reg, err);
  if (ret < 0)
    return ret;
  c->reg = *reg;
  return resolve_manifest (c, reference, want, &c->man, top, err);
}

int
image_pull_remote (const char *root, const char *reference, const struct pull_options *opts, pull_progress_fn fn,
                   void *arg, struct pull_result *out, isola_error_t *err)
{
  struct platform want;
  int ret = 0;
  if (opts && opts->platform && *opts->platform)
    ret = platform_parse (opts->platform, &want, err);
  else
    host_platform (&want);
  if (ret < 0)
    return ret;
  struct image_ref ref = { 0 };
  ret = image_ref_parse (reference, &ref, err);
  if (ret < 0)
    return ret;
  cleanup_free char *domain = NULL, *path = NULL;
  image_ref_locate (&ref, &domain, &path);
  cleanup_free char *familiar = image_ref_string (&ref);
  cleanup_free char *full = image_ref_full_string (&ref);
  /* A tag and a digest: the digest decides, as Docker. */
  const char *what = ref.digest ? ref.digest : ref.tag;

  cleanup_registry struct registry_client *reg = NULL;
  cleanup_store struct isola_store *store = NULL;
  cleanup_free char *staging = NULL;
  struct ingest_plan plan = { 0 };
  struct pull_ctx c = { .shown = familiar, .fn = fn, .arg = arg };
  ret = open_endpoint (&c, root, domain, path, what, &want, opts ? opts->login : NULL, &reg, out->repo_digest, err);
  if (ret == 0)
    ret = store_open (root, STORE_LOCK_NONE, &store, err);
  if (ret == 0)
    ret = ingest_staging (store, "pull", &staging, err);
  if (ret == 0)
    {
      ingest_init (&plan, store, staging);
      c.store = store, c.plan = &plan, c.staging = staging;
      c.header = xasprintf ("%s: Pulling from %s", ref.digest ? ref.digest : ref.tag, path);
      ret = pull_image (&c, &ref, out, err);
    }
  if (ret == 0 && !c.unchanged)
    ret = ingest_commit (&plan, err);
  if (ret == 0)
    {
      for (size_t i = 0; fn && !c.unchanged && i < c.plan->images[0].rec.n_layers && c.short_ids; i++)
        if (c.fetched[i])
          fn (arg, PULL_LAYER_COMPLETE, c.short_ids[i], 0, 0);
      image_event (store, out->id, familiar, "pull");
      out->full_name = take_ptr (&full);
      out->familiar = take_ptr (&familiar);
    }
  if (staging)
    {
      ingest_clear (&plan);
      (void)rm_rf (staging, NULL);
    }
  pull_ctx_clear (&c);
  image_ref_clear (&ref);
  return ret;
}

int
image_list_remote_tags (const char *root, const char *reference, char ***out, isola_error_t *err)
{
  struct image_ref ref = { 0 };
  int ret = image_ref_parse (reference, &ref, err);
  if (ret < 0)
    return ret;
  cleanup_free char *domain = NULL, *path = NULL;
  image_ref_locate (&ref, &domain, &path);
  image_ref_clear (&ref);
  cleanup_registry struct registry_client *reg = NULL;
  ret = registry_open (root, domain, path, "pull", &reg, err);
  if (ret == 0)
    ret = registry_list_tags (reg, out, err);
  return ret;
}
