#define _GNU_SOURCE
#include "image/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"
#include "image/oci.h"
#include "image/unpack.h"

void
ingest_init (struct ingest_plan *p, struct isola_store *s, const char *staging)
{
  memset (p, 0, sizeof (*p));
  p->store = s;
  p->staging = xstrdup (staging);
}

void
ingest_clear (struct ingest_plan *p)
{
  for (size_t i = 0; i < p->n_blobs; i++)
    free (p->blobs[i].path);
  for (size_t i = 0; i < p->n_snaps; i++)
    free (p->snaps[i].dir);
  for (size_t i = 0; i < p->n_images; i++)
    {
      image_record_clear (&p->images[i].rec);
      strv_free (p->images[i].tags);
    }
  free (p->blobs);
  free (p->snaps);
  free (p->images);
  free (p->staging);
  memset (p, 0, sizeof (*p));
}

int
ingest_staging (struct isola_store *s, const char *prefix, char **out, isola_error_t *err)
{
  if (s->locked_exclusive)
    return store_make_tmp (s, prefix, out, err);
  return store_stage_begin (s, prefix, out, err);
}

static bool
plan_has_blob (const struct ingest_plan *p, const char *hex)
{
  for (size_t i = 0; i < p->n_blobs; i++)
    if (strcmp (p->blobs[i].hex, hex) == 0)
      return true;
  return false;
}

void
ingest_add_blob (struct ingest_plan *p, const char *path, const char *hex)
{
  if (plan_has_blob (p, hex) || blob_exists (p->store, hex))
    return;
  p->blobs = xrealloc (p->blobs, (p->n_blobs + 1) * sizeof (*p->blobs));
  p->blobs[p->n_blobs].path = xstrdup (path);
  memcpy (p->blobs[p->n_blobs].hex, hex, DIGEST_HEX_LEN + 1);
  p->n_blobs++;
}

static const struct ingest_snapshot *
plan_find_snapshot (const struct ingest_plan *p, const char *chain)
{
  for (size_t i = 0; i < p->n_snaps; i++)
    if (strcmp (p->snaps[i].chain, chain) == 0)
      return &p->snaps[i];
  return NULL;
}

/* Where a layer's files are now: staged by this plan or already in the store. */
static char *
snapshot_fs_anywhere (const struct ingest_plan *p, const char *chain)
{
  const struct ingest_snapshot *st = plan_find_snapshot (p, chain);
  if (st)
    return xasprintf ("%s/fs", st->dir);
  return snapshot_fs (p->store, chain);
}

static int64_t
snapshot_size_anywhere (const struct ingest_plan *p, const char *chain)
{
  const struct ingest_snapshot *st = plan_find_snapshot (p, chain);
  if (st == NULL)
    return snapshot_size (p->store, chain);
  cleanup_free char *meta = xasprintf ("%s/meta.json", st->dir);
  cleanup_free char *buf = NULL;
  if (read_file_bounded (meta, 4096, &buf, NULL, NULL) < 0)
    return 0;
  cleanup_json json_t *o = json_loads (buf, 0, NULL);
  return json_integer_value (json_object_get (o, "size"));
}

static int
write_snapshot_meta (const char *dir, const char *diff_id, const char *parent, const struct unpack_result *res,
                     isola_error_t *err)
{
  cleanup_json json_t *o = json_pack ("{s:s, s:s?, s:I, s:I}", "diff_id", diff_id, "parent", parent, "size",
                                      (json_int_t)res->size, "entries", (json_int_t)res->entries);
  cleanup_free char *text = json_dumps (o, JSON_COMPACT | JSON_SORT_KEYS);
  cleanup_free char *path = xasprintf ("%s/meta.json", dir);
  return write_file_atomic (path, text, strlen (text), 0644, err);
}

/* Unpacks one layer into a new staged snapshot and checks its content against the config's diff ID. */
static int
stage_snapshot (struct ingest_plan *p, const char *layer_path, size_t index, const char *diff_id, const char *chain,
                const char *parent, char **lowers, isola_error_t *err)
{
  cleanup_free char *dir = xasprintf ("%s/snap-%s", p->staging, chain);
  cleanup_free char *fs = xasprintf ("%s/fs", dir);
  if (mkdir (dir, 0700) < 0 || mkdir (fs, 0755) < 0)
    return isola_error_make (err, errno, "mkdir `%s`", fs);

  cleanup_close int fd = open (layer_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open layer `%s`", layer_path);
  struct unpack_result res = { 0 };
  int ret = layer_unpack (fd, fs, (const char *const *)lowers, &res, err);
  if (ret < 0)
    return isola_error_wrap (err, ret, "layer %zu (sha256:%.12s)", index + 1, diff_id);
  if (strcmp (res.diff_id, diff_id) != 0)
    return isola_error_fail (err, EINVAL,
                             "layer %zu does not match the image config: its diff ID is sha256:%s, the config says "
                             "sha256:%s",
                             index + 1, res.diff_id, diff_id);
  ret = write_snapshot_meta (dir, diff_id, parent, &res, err);
  if (ret < 0)
    return ret;

  p->snaps = xrealloc (p->snaps, (p->n_snaps + 1) * sizeof (*p->snaps));
  p->snaps[p->n_snaps].dir = take_ptr (&dir);
  memcpy (p->snaps[p->n_snaps].chain, chain, DIGEST_HEX_LEN + 1);
  p->n_snaps++;
  p->snapshots_created++;
  return 0;
}

static int
prepare_layers (struct ingest_plan *p, const struct oci_config *cfg, char *const *layer_paths, struct image_record *rec,
                isola_error_t *err)
{
  rec->n_layers = cfg->n_diff_ids;
  rec->chain_ids = xcalloc (rec->n_layers ? rec->n_layers : 1, sizeof (digest_hex_t));
  cleanup_strv char **lowers = xcalloc (1, sizeof (char *));
  for (size_t i = 0; i < cfg->n_diff_ids; i++)
    {
      const char *parent = i > 0 ? rec->chain_ids[i - 1] : NULL;
      chain_id_next (parent, cfg->diff_ids[i], rec->chain_ids[i]);
      const char *chain = rec->chain_ids[i];
      if (snapshot_exists (p->store, chain) || plan_find_snapshot (p, chain))
        p->snapshots_reused++;
      else
        {
          int ret = stage_snapshot (p, layer_paths[i], i, cfg->diff_ids[i], chain, parent, lowers, err);
          if (ret < 0)
            return ret;
        }
      rec->size += snapshot_size_anywhere (p, chain);
      /* The hard-link fallback looks at the nearest lower layer first. */
      cleanup_free char *fs = snapshot_fs_anywhere (p, chain);
      size_t n = strv_len (lowers);
      lowers = xrealloc (lowers, (n + 2) * sizeof (char *));
      memmove (lowers + 1, lowers, (n + 1) * sizeof (char *));
      lowers[0] = take_ptr (&fs);
    }
  return 0;
}

int
ingest_add_image (struct ingest_plan *p, const char *manifest_hex, const char *config_hex, const char *config,
                  size_t config_len, char *const *layer_paths, size_t n_layers, char *const *tags, isola_error_t *err)
{
  struct oci_config cfg = { 0 };
  int ret = oci_config_parse (config, config_len, &cfg, err);
  if (ret < 0)
    return ret;
  if (cfg.n_diff_ids != n_layers)
    {
      oci_config_clear (&cfg);
      return isola_error_fail (err, EINVAL, "image config lists %zu layers but the manifest has %zu", cfg.n_diff_ids,
                               n_layers);
    }

  struct ingest_image img = { 0 };
  memcpy (img.rec.id, config_hex, DIGEST_HEX_LEN + 1);
  memcpy (img.rec.manifest, manifest_hex, DIGEST_HEX_LEN + 1);
  int64_t created = 0;
  if (cfg.created && time_parse_rfc3339 (cfg.created, &created) == 0)
    img.rec.created = created;
  img.rec.loaded_at = time_rfc3339_now ();
  ret = prepare_layers (p, &cfg, layer_paths, &img.rec, err);
  oci_config_clear (&cfg);
  if (ret < 0)
    {
      image_record_clear (&img.rec);
      return ret;
    }
  img.tags = xcalloc (1, sizeof (char *));
  for (size_t i = 0; tags && tags[i]; i++)
    if (!strv_contains (img.tags, tags[i]))
      strv_push (&img.tags, tags[i]);

  p->images = xrealloc (p->images, (p->n_images + 1) * sizeof (*p->images));
  p->images[p->n_images++] = img;
  return 0;
}

/* --- commit -------------------------------------------------------------------------------------------------- */

struct commit_undo
{
  char **blobs;
  char **snaps;
  char **images;
};

static void
commit_rollback (struct ingest_plan *p, struct commit_undo *u)
{
  for (size_t i = 0; u->images && u->images[i]; i++)
    {
      cleanup_free char *path = store_path (p->store, "images/%s.json", u->images[i]);
      (void)unlink (path);
    }
  for (size_t i = 0; u->snaps && u->snaps[i]; i++)
    {
      cleanup_free char *path = snapshot_dir (p->store, u->snaps[i]);
      (void)rm_rf (path, NULL);
    }
  for (size_t i = 0; u->blobs && u->blobs[i]; i++)
    (void)blob_remove (p->store, u->blobs[i], NULL);
}

static int
commit_blobs_and_snapshots (struct ingest_plan *p, struct commit_undo *u, isola_error_t *err)
{
  for (size_t i = 0; i < p->n_blobs; i++)
    {
      if (blob_exists (p->store, p->blobs[i].hex))
        continue;
      int ret = blob_publish_verified (p->store, p->blobs[i].path, p->blobs[i].hex, err);
      if (ret < 0)
        return ret;
      strv_push (&u->blobs, p->blobs[i].hex);
    }
  for (size_t i = 0; i < p->n_snaps; i++)
    {
      if (snapshot_exists (p->store, p->snaps[i].chain))
        continue;
      cleanup_free char *dst = snapshot_dir (p->store, p->snaps[i].chain);
      if (rename (p->snaps[i].dir, dst) < 0)
        return isola_error_make (err, errno, "publish snapshot `%s`", dst);
      strv_push (&u->snaps, p->snaps[i].chain);
    }
  return 0;
}

static int
commit_images (struct ingest_plan *p, struct commit_undo *u, isola_error_t *err)
{
  for (size_t i = 0; i < p->n_images; i++)
    {
      struct image_record *rec = &p->images[i].rec;
      if (image_exists (p->store, rec->id))
        {
          /* Re-loading an image keeps its record but adopts the new manifest, whose blob this plan published; the
             repository digests of a pull are added to those it had. */
          struct image_record old = { 0 };
          bool same = false, changed = false;
          if (image_record_read (p->store, rec->id, &old, NULL) == 0)
            {
              same = strcmp (old.manifest, rec->manifest) == 0;
              for (size_t j = 0; rec->repo_digests && rec->repo_digests[j]; j++)
                changed |= image_record_add_repo_digest (&old, rec->repo_digests[j]);
              strv_free (rec->repo_digests);
              rec->repo_digests = old.repo_digests;
              old.repo_digests = NULL;
            }
          image_record_clear (&old);
          if (same && !changed)
            continue;
        }
      else
        strv_push (&u->images, rec->id);
      int ret = image_record_write (p->store, rec, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int
commit_tags (struct ingest_plan *p, isola_error_t *err)
{
  cleanup_json json_t *refs = NULL;
  int ret = refs_read (p->store, &refs, err);
  if (ret < 0)
    return ret;
  bool changed = false;
  for (size_t i = 0; i < p->n_images; i++)
    for (size_t j = 0; p->images[i].tags[j]; j++)
      {
        const char *old = json_string_value (json_object_get (refs, p->images[i].tags[j]));
        if (old && strcmp (old, p->images[i].rec.id) == 0)
          continue;
        json_object_set_new (refs, p->images[i].tags[j], json_string (p->images[i].rec.id));
        changed = true;
      }
  return changed ? refs_write (p->store, refs, err) : 0;
}

int
ingest_commit (struct ingest_plan *p, isola_error_t *err)
{
  /* Staged outside the store lock: published under it.  What the plan found in the store is still there (the
     collection lock); what another load published meanwhile is taken as it is (content-addressed, the same). */
  if (!p->store->locked_exclusive)
    {
      int ret = store_lock (p->store, STORE_LOCK_EXCLUSIVE, err);
      if (ret < 0)
        return ret;
    }
  struct commit_undo u = { 0 };
  int ret = commit_blobs_and_snapshots (p, &u, err);
  if (ret == 0)
    ret = commit_images (p, &u, err);
  if (ret == 0)
    ret = commit_tags (p, err);
  if (ret < 0)
    commit_rollback (p, &u);
  strv_free (u.blobs);
  strv_free (u.snaps);
  strv_free (u.images);
  return ret;
}

/* --- content addressing (here, not in store.c, so that the monitor links no libcrypto) ------------------------- */

int
blob_put (struct isola_store *s, const void *data, size_t len, digest_hex_t out, isola_error_t *err)
{
  digest_buffer (data, len, out);
  if (blob_exists (s, out))
    return 0;
  cleanup_free char *dst = blob_path (s, out);
  return write_file_atomic (dst, data, len, 0644, err);
}

void
chain_id_next (const char *parent_chain_hex, const char *diff_id_hex, digest_hex_t out)
{
  if (parent_chain_hex == NULL)
    {
      memcpy (out, diff_id_hex, DIGEST_HEX_LEN + 1);
      return;
    }
  cleanup_free char *s = xasprintf ("sha256:%s sha256:%s", parent_chain_hex, diff_id_hex);
  digest_buffer (s, strlen (s), out);
}
