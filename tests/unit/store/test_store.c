/* Store primitives: layout, blobs, chain IDs, image records, tags, resolution and garbage collection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"
#include "image/image.h"
#include "image/ingest.h"
#include "image/remove.h"
#include "store/store.h"
#include "tap.h"

static char root[] = "/tmp/isola-unit-store-XXXXXX";

static void
test_layout_and_blobs (struct isola_store *s)
{
  cleanup_free char *blobs = store_path (s, "blobs/sha256");
  cleanup_free char *tmp = store_path (s, "tmp");
  CHECK (path_exists (blobs) && path_exists (tmp), "store_open creates the layout");

  digest_hex_t hex;
  CHECK (blob_put (s, "hello", 5, hex, NULL) == 0, "blob_put succeeds");
  CHECK_STR (hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "blob named by its sha256");
  CHECK (blob_exists (s, hex), "blob exists after put");
  cleanup_free char *back = NULL;
  size_t len = 0;
  CHECK (blob_read (s, hex, 100, &back, &len, NULL) == 0 && len == 5 && memcmp (back, "hello", 5) == 0,
         "blob reads back");
  cleanup_error isola_error_t err = NULL;
  cleanup_free char *tiny = NULL;
  CHECK (blob_read (s, hex, 3, &tiny, &len, &err) == -EFBIG, "bounded read refuses a larger blob");
  CHECK (blob_publish_verified (s, "/nonexistent", "xyz", NULL) == -EINVAL, "publish refuses an invalid digest");
}

static void
test_chain_ids (void)
{
  char a[65], b[65];
  memset (a, 'a', 64), a[64] = 0;
  memset (b, 'b', 64), b[64] = 0;
  digest_hex_t c;
  chain_id_next (NULL, a, c);
  CHECK_STR (c, a, "ChainID of the base layer is its diff ID");
  chain_id_next (a, b, c);
  CHECK_STR (c, "ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c",
             "ChainID(L1) = sha256(\"sha256:A sha256:B\")");
}

static void
make_image (struct isola_store *s, const char *config_text, digest_hex_t id_out)
{
  CHECK (blob_put (s, config_text, strlen (config_text), id_out, NULL) == 0, "config blob stored");
  const char *manifest_fmt = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                             "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[]}";
  cleanup_free char *manifest = xasprintf (manifest_fmt, id_out, strlen (config_text));
  struct image_record rec = { 0 };
  memcpy (rec.id, id_out, sizeof rec.id);
  CHECK (blob_put (s, manifest, strlen (manifest), rec.manifest, NULL) == 0, "manifest blob stored");
  rec.loaded_at = xstrdup ("2024-01-01T00:00:00Z");
  rec.created = 1700000000;
  rec.chain_ids = xcalloc (1, sizeof (digest_hex_t));
  CHECK (image_record_write (s, &rec, NULL) == 0, "image record written");
  struct image_record back = { 0 };
  CHECK (image_record_read (s, rec.id, &back, NULL) == 0 && back.created == 1700000000
             && strcmp (back.manifest, rec.manifest) == 0,
         "image record reads back");
  image_record_clear (&back);
  image_record_clear (&rec);
}

static void
test_images_tags_gc (struct isola_store *s)
{
  digest_hex_t one, two;
  make_image (s, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", one);
  make_image (
      s, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"x\":1}", two);
  CHECK (image_tag (s, one, "busybox", NULL) == 0, "tag busybox");
  CHECK (image_tag (s, one, "docker.io/library/busybox:v2", NULL) == 0, "tag with a fully qualified name");
  cleanup_error isola_error_t err = NULL;
  CHECK (image_tag (s, one, "Bad:Name", &err) == -EINVAL, "tag refuses an invalid reference");

  cleanup_json json_t *refs = NULL;
  CHECK (refs_read (s, &refs, NULL) == 0, "refs read");
  CHECK_STR (json_string_value (json_object_get (refs, "busybox:latest")), one, "default tag latest, familiar name");
  CHECK_STR (json_string_value (json_object_get (refs, "busybox:v2")), one, "docker.io/library/ normalized away");

  digest_hex_t got;
  CHECK (image_resolve (s, refs, "busybox", got, NULL) == 0 && strcmp (got, one) == 0, "resolve by name");
  char prefix[13];
  memcpy (prefix, two, 12), prefix[12] = 0;
  CHECK (image_resolve (s, refs, prefix, got, NULL) == 0 && strcmp (got, two) == 0, "resolve by ID prefix");
  cleanup_free char *full = xasprintf ("sha256:%s", two);
  CHECK (image_resolve (s, refs, full, got, NULL) == 0 && strcmp (got, two) == 0, "resolve by sha256:ID");
  isola_error_release (&err);
  CHECK (image_resolve (s, refs, "nothere", got, &err) == -ENOENT && strstr (err->msg, "No such image"),
         "unknown name: No such image");

  struct rmi_report rep = { 0 };
  CHECK (image_remove (s, "busybox:v2", false, &rep, NULL) == 0 && rep.untagged && rep.deleted == NULL,
         "rmi of one of two tags only untags");
  rmi_report_clear (&rep);
  CHECK (image_exists (s, one), "image still there");
  CHECK (image_remove (s, "busybox", false, &rep, NULL) == 0 && rep.deleted && rep.deleted[0],
         "rmi of last tag deletes");
  rmi_report_clear (&rep);
  CHECK (!image_exists (s, one) && !blob_exists (s, one), "record and config blob gone after rmi");
  CHECK (blob_exists (s, two), "other image's blobs kept by gc");

  digest_hex_t orphan;
  blob_put (s, "orphan", 6, orphan, NULL);
  int64_t reclaimed = 0;
  CHECK (image_prune (s, false, &rep, &reclaimed, NULL) == 0, "prune succeeds");
  CHECK (!image_exists (s, two), "prune removes the dangling image");
  CHECK (!blob_exists (s, orphan) && reclaimed > 0, "prune collects unreferenced blobs");
  rmi_report_clear (&rep);
}

static void
test_tmp_cleared_by_writer (void)
{
  cleanup_free char *junk = xasprintf ("%s/tmp/load-junk", root);
  mkdir (junk, 0700);
  struct isola_store *s = NULL;
  CHECK (store_open (root, STORE_LOCK_EXCLUSIVE, &s, NULL) == 0, "reopen exclusively");
  CHECK (!path_exists (junk), "an exclusive opener clears leftovers in tmp/");
  store_close (s);
}

/* open_refused DIR: store_open of DIR fails with EPERM and a message naming why. */
static bool
open_refused (const char *dir, const char *why)
{
  struct isola_store *s = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = store_open (dir, STORE_LOCK_SHARED, &s, &err);
  store_close (s);
  return ret == -EPERM && err && strstr (err->msg, "refusing the store root") && strstr (err->msg, why);
}

static void
test_ownership (void)
{
  cleanup_free char *open_dir = xasprintf ("%s/open", root);
  cleanup_free char *inner = xasprintf ("%s/open/inner", root);
  mkdir (open_dir, 0700);
  chmod (open_dir, 0777);
  CHECK (open_refused (open_dir, "group or others can write"), "a root others can write to is refused");
  cleanup_free char *blobs = xasprintf ("%s/blobs", open_dir);
  CHECK (!path_exists (blobs), "nothing is made in a refused root");
  CHECK (open_refused (inner, "it is inside"), "a root inside a directory others can write to is refused");
  chmod (open_dir, 01777);
  struct isola_store *s = NULL;
  CHECK (store_open (inner, STORE_LOCK_SHARED, &s, NULL) == 0, "a root inside a sticky directory (/tmp) is fine");
  store_close (s);
  chmod (open_dir, 0700);
  CHECK (chown (inner, 65534, 65534) == 0 && open_refused (inner, "another user owns it"),
         "a root another user owns is refused");
  CHECK (chown (inner, 0, 0) == 0 && store_open (inner, STORE_LOCK_SHARED, &s, NULL) == 0, "chowned back: fine");
  store_close (s);
  cleanup_free char *tmp = xasprintf ("%s/tmp", inner);
  CHECK (rmdir (tmp) == 0 && symlink ("/etc", tmp) == 0 && open_refused (inner, "not a directory"),
         "a root whose tmp/ is a symlink is refused");
}

int
main (void)
{
  if (mkdtemp (root) == NULL)
    return 1;
  struct isola_store *s = NULL;
  CHECK (store_open (root, STORE_LOCK_COLLECT, &s, NULL) == 0,
         "store_open (the collection lock too: the test removes images)");
  test_layout_and_blobs (s);
  test_chain_ids ();
  test_images_tags_gc (s);
  store_close (s);
  test_tmp_cleared_by_writer ();
  test_ownership ();
  rm_rf (root, NULL);
  return tap_done ();
}
