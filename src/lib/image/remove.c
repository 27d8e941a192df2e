/* rmi, image prune and the store's garbage collection (see remove.h). */
#define _GNU_SOURCE
#include "image/remove.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/container.h"
#include "image/erofs.h"
#include "image/image.h"
#include "image/image_event.h"
#include "image/mount.h"
#include "image/oci.h"
#include "image/reference.h"

void
rmi_report_clear (struct rmi_report *r)
{
  strv_free (r->untagged);
  strv_free (r->deleted);
  r->untagged = r->deleted = NULL;
}

static void
report_push (char ***list, const char *fmt, const char *v)
{
  cleanup_free char *s = xasprintf (fmt, v);
  strv_push (list, s);
}

/* Docker deletes an image named by ID without force only when all its tags are in one repository. */
static bool
tags_in_single_repository (char **tags)
{
  for (size_t i = 1; tags[0] && tags[i]; i++)
    {
      const char *a = strrchr (tags[0], ':'), *b = strrchr (tags[i], ':');
      if (a - tags[0] != b - tags[i] || strncmp (tags[0], tags[i], (size_t)(a - tags[0])) != 0)
        return false;
    }
  return true;
}

/* Docker's daemon logs an untag for each tag removed, naming the image by its ID. */
static void
untag_events (struct isola_store *s, const char *id, size_t n)
{
  for (size_t i = 0; i < n; i++)
    image_event (s, id, NULL, "untag");
}

/* Its tags go (all the image loses when a child or a container still needs it: Docker leaves it <none>). */
static int
untag_image (struct isola_store *s, json_t *refs, char **tags, const char *id, struct rmi_report *rep,
             isola_error_t *err)
{
  for (size_t i = 0; tags[i]; i++)
    {
      json_object_del (refs, tags[i]);
      report_push (&rep->untagged, "%s", tags[i]);
    }
  int ret = refs_write (s, refs, err);
  if (ret == 0)
    untag_events (s, id, strv_len (tags));
  return ret;
}

static int
image_delete_record (struct isola_store *s, json_t *refs, const char *id, struct rmi_report *rep, isola_error_t *err)
{
  cleanup_strv char **tags = refs_tags_of (refs, id);
  /* Untag first: a crash between the two steps leaves a complete, untagged image, never a tag without an image. */
  int ret = untag_image (s, refs, tags, id, rep, err);
  if (ret < 0)
    return ret;
  /* The VM root file system before the record: a record without one gets it rebuilt, nothing would find an
     orphan. */
  if ((ret = image_erofs_remove (s, id, err)) < 0)
    return ret;
  cleanup_free char *path = image_record_path (s, id);
  if (unlink (path) < 0 && errno != ENOENT)
    return isola_error_make (err, errno, "remove `%s`", path);
  report_push (&rep->deleted, "sha256:%s", id);
  image_event (s, id, NULL, "delete");
  return 0;
}

static int
unmount_if_mounted (struct isola_store *s, const char *id, bool force, isola_error_t *err)
{
  if (!image_is_mounted (s, id))
    return 0;
  if (!force)
    return isola_error_fail (err, EBUSY,
                             "conflict: unable to delete %.12s (must be forced) - image is mounted (see `isola image "
                             "unmount`)",
                             id);
  return image_unmount (s, id, err);
}

/* An intermediate image that nothing needs any more: no tag, no child, no container, not mounted. */
static bool
image_unneeded (const struct isola_store *s, json_t *refs, const char *id)
{
  cleanup_strv char **tags = refs_tags_of (refs, id);
  return tags[0] == NULL && !image_has_children (s, id) && !containers_use_image (s, id) && !image_is_mounted (s, id);
}

/* Docker's rmi prunes the untagged parents an image leaves behind (a build's intermediate images), up the chain
   while they are unneeded. */
static int
delete_parents (struct isola_store *s, json_t *refs, const char *parent, struct rmi_report *rep, isola_error_t *err)
{
  digest_hex_t id;
  snprintf (id, sizeof id, "%s", parent);
  while (id[0] && image_exists (s, id) && image_unneeded (s, refs, id))
    {
      struct image_record rec = { 0 };
      int ret = image_record_read (s, id, &rec, err);
      if (ret == 0)
        ret = image_delete_record (s, refs, id, rep, err);
      if (ret == 0)
        memcpy (id, rec.parent, sizeof id);
      image_record_clear (&rec);
      if (ret < 0)
        return ret;
    }
  return 0;
}

int
image_remove (struct isola_store *s, const char *what, bool force, struct rmi_report *rep, isola_error_t *err)
{
  cleanup_json json_t *refs = NULL;
  int ret = refs_read (s, &refs, err);
  if (ret < 0)
    return ret;
  digest_hex_t id;
  ret = image_resolve (s, refs, what, id, err);
  if (ret < 0)
    return ret;

  cleanup_strv char **tags = refs_tags_of (refs, id);
  struct image_ref r = { 0 };
  bool by_tag = false;
  if (image_ref_parse (what, &r, NULL) == 0 && r.digest == NULL)
    {
      cleanup_free char *key = image_ref_string (&r);
      by_tag = strv_contains (tags, key);
      if (by_tag && strv_len (tags) > 1)
        {
          json_object_del (refs, key);
          report_push (&rep->untagged, "%s", key);
          image_ref_clear (&r);
          ret = refs_write (s, refs, err);
          if (ret == 0)
            untag_events (s, id, 1);
          return ret;
        }
    }
  image_ref_clear (&r);

  /* Docker's hard conflict, checked first: named by its last tag, the image is only untagged (and stays as an
     intermediate image); named by ID, it is refused even with force. */
  if (image_has_children (s, id))
    {
      if (!by_tag)
        return isola_error_fail (err, EBUSY,
                                 "conflict: unable to delete %.12s (cannot be forced) - image has dependent child "
                                 "images",
                                 id);
      return untag_image (s, refs, tags, id, rep, err);
    }
  if (containers_use_image (s, id))
    {
      if (!force)
        return isola_error_fail (err, EBUSY,
                                 "conflict: unable to delete %.12s (must be forced) - image is being used by a "
                                 "container",
                                 id);
      /* Like docker: forcing only untags an image that a container still needs; it stays as <none>. */
      return untag_image (s, refs, tags, id, rep, err);
    }
  if (!by_tag && !force && !tags_in_single_repository (tags))
    return isola_error_fail (err, EBUSY,
                             "conflict: unable to delete %.12s (must be forced) - image is referenced in multiple "
                             "repositories",
                             id);
  ret = unmount_if_mounted (s, id, force, err);
  if (ret < 0)
    return ret;
  struct image_record rec = { 0 };
  if ((ret = image_record_read (s, id, &rec, err)) < 0)
    return ret;
  ret = image_delete_record (s, refs, id, rep, err);
  if (ret == 0)
    ret = delete_parents (s, refs, rec.parent, rep, err);
  image_record_clear (&rec);
  if (ret < 0)
    return ret;
  return store_gc (s, NULL, err);
}

int
image_prune (struct isola_store *s, bool all, struct rmi_report *rep, int64_t *reclaimed, isola_error_t *err)
{
  return image_prune_if (s, all, NULL, NULL, rep, reclaimed, err);
}

int
image_prune_if (struct isola_store *s, bool all,
                bool (*may_go) (const struct isola_store *s, const char *id, void *arg), void *arg,
                struct rmi_report *rep, int64_t *reclaimed, isola_error_t *err)
{
  cleanup_json json_t *refs = NULL;
  int ret = refs_read (s, &refs, err);
  if (ret < 0)
    return ret;
  cleanup_strv char **ids = NULL;
  ret = image_list_ids (s, &ids, err);
  if (ret < 0)
    return ret;
  /* Heads first, as Docker prunes: an image with children goes in a later pass, once they have gone. */
  for (bool again = true; again;)
    {
      again = false;
      for (size_t i = 0; ids[i]; i++)
        {
          cleanup_strv char **tags = refs_tags_of (refs, ids[i]);
          if ((!all && tags[0] != NULL) || !image_exists (s, ids[i]))
            continue;
          /* Docker's prune skips images in use: by a container, or mounted. */
          if (image_is_mounted (s, ids[i]) || containers_use_image (s, ids[i]) || image_has_children (s, ids[i])
              || (may_go && !may_go (s, ids[i], arg)))
            continue;
          ret = image_delete_record (s, refs, ids[i], rep, err);
          if (ret < 0)
            return ret;
          again = true;
        }
    }
  return store_gc (s, reclaimed, err);
}

/* --- garbage collection ------------------------------------------------------------------------------------ */

static int
collect_image_references (const struct isola_store *s, const char *id, char ***blobs, char ***snaps, isola_error_t *err)
{
  struct image_record rec = { 0 };
  int ret = image_record_read (s, id, &rec, err);
  if (ret < 0)
    return ret;
  strv_push (blobs, rec.id);
  strv_push (blobs, rec.manifest);
  for (size_t i = 0; i < rec.n_layers; i++)
    strv_push (snaps, rec.chain_ids[i]);

  cleanup_free char *buf = NULL;
  size_t len = 0;
  ret = blob_read (s, rec.manifest, OCI_JSON_MAX, &buf, &len, err);
  if (ret == 0)
    {
      struct oci_manifest m = { 0 };
      ret = oci_manifest_parse (buf, len, &m, err);
      for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
        strv_push (blobs, m.layers[i].digest);
      oci_manifest_clear (&m);
    }
  image_record_clear (&rec);
  return ret < 0 ? isola_error_wrap (err, ret, "image %.12s", id) : 0;
}

static int64_t
path_disk_usage (const char *path)
{
  struct stat st;
  return lstat (path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static int
gc_blobs (struct isola_store *s, char **keep, int64_t *reclaimed, isola_error_t *err)
{
  cleanup_free char *dir = store_path (s, "blobs/sha256");
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return isola_error_make (err, errno, "open `%s`", dir);
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || strcmp (de->d_name, "..") == 0))
        continue;
      if (digest_hex_valid (de->d_name) && strv_contains (keep, de->d_name))
        continue;
      cleanup_free char *p = xasprintf ("%s/%s", dir, de->d_name);
      int64_t sz = path_disk_usage (p);
      if (unlinkat (dirfd (d), de->d_name, 0) < 0 && errno != ENOENT)
        return isola_error_make (err, errno, "remove `%s`", p);
      if (reclaimed)
        *reclaimed += sz;
    }
  return 0;
}

/* A snapshot is renamed into tmp/ before its tree is deleted, so no half-deleted snapshot keeps its name. */
static int
gc_remove_snapshot (struct isola_store *s, const char *name, isola_error_t *err)
{
  cleanup_free char *src = store_path (s, "snapshots/%s", name);
  cleanup_free char *tmpdir = NULL;
  int ret = store_make_tmp (s, "gc", &tmpdir, err);
  if (ret < 0)
    return ret;
  cleanup_free char *dst = xasprintf ("%s/snapshot", tmpdir);
  if (rename (src, dst) < 0)
    return isola_error_make (err, errno, "move `%s` away", src);
  return rm_rf (tmpdir, err);
}

static int
gc_snapshots (struct isola_store *s, char **keep, int64_t *reclaimed, isola_error_t *err)
{
  cleanup_free char *dir = store_path (s, "snapshots");
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return isola_error_make (err, errno, "open `%s`", dir);
  cleanup_strv char **doomed = xcalloc (1, sizeof (char *));
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (!strv_contains (keep, de->d_name))
        strv_push (&doomed, de->d_name);
    }
  for (size_t i = 0; doomed[i]; i++)
    {
      int64_t sz = snapshot_size (s, doomed[i]);
      int ret = gc_remove_snapshot (s, doomed[i], err);
      if (ret < 0)
        return ret;
      if (reclaimed)
        *reclaimed += sz;
    }
  return 0;
}

/* The build cache's entries (build/executor.h: ROOT/builder/cache/KEY, an image ID) whose image has gone: the
   builder takes them as misses; they go here so that they do not pile up. */
static void
gc_build_cache (struct isola_store *s)
{
  cleanup_free char *dir = store_path (s, "builder/cache");
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  while (d && (de = readdir (d)))
    {
      if (!digest_hex_valid (de->d_name))
        continue;
      char id[DIGEST_HEX_LEN + 1] = "";
      cleanup_close int fd = openat (dirfd (d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 || read (fd, id, DIGEST_HEX_LEN) != DIGEST_HEX_LEN || !image_exists (s, id))
        (void)unlinkat (dirfd (d), de->d_name, 0);
    }
}

int
store_gc (struct isola_store *s, int64_t *reclaimed, isola_error_t *err)
{
  if (!s->locked_exclusive || !s->may_collect)
    return isola_error_fail (err, EPERM,
                             "internal error: garbage collection without the exclusive and collection locks");
  cleanup_strv char **ids = NULL;
  int ret = image_list_ids (s, &ids, err);
  if (ret < 0)
    return ret;
  cleanup_strv char **keep_blobs = xcalloc (1, sizeof (char *));
  cleanup_strv char **keep_snaps = xcalloc (1, sizeof (char *));
  /* If any image cannot be read, deleting "unreferenced" data could destroy what it needs: stop instead. */
  for (size_t i = 0; ids[i]; i++)
    {
      ret = collect_image_references (s, ids[i], &keep_blobs, &keep_snaps, err);
      if (ret < 0)
        return isola_error_wrap (err, ret, "garbage collection skipped");
    }
  ret = gc_blobs (s, keep_blobs, reclaimed, err);
  if (ret == 0)
    ret = gc_snapshots (s, keep_snaps, reclaimed, err);
  if (ret == 0)
    gc_build_cache (s);
  return ret;
}
