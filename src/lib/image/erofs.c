/* An image's root file system as one erofs file (see erofs.h). */
#define _GNU_SOURCE
#include "image/erofs.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/subprocess.h"
#include "base/util.h"
#include "sandbox/overlay.h"

char *
image_erofs_path (const struct isola_store *s, const char *image_id)
{
  return store_path (s, "images/%s.erofs", image_id);
}

struct erofs_source
{
  const struct isola_store *store;
  const struct image_record *img;
  const char *mnt;
};

/* In mkfs.erofs's process, before the exec: the image's merged view, in a mount namespace of its own that dies
   with the process, so that no mount is ever left behind. */
static int
mount_image_privately (void *arg)
{
  const struct erofs_source *src = arg;
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return -errno;
  if (src->img->n_layers == 0)
    return 0;
  isola_error_t err = NULL;
  int ret = overlay_mount_layers (src->store, src->img->chain_ids, src->img->n_layers, NULL, NULL, src->mnt, &err);
  if (ret < 0 && err)
    dprintf (2, "%s\n", err->msg);
  isola_error_release (&err);
  return ret;
}

int
image_erofs_ensure (struct isola_store *s, const struct image_record *img, isola_error_t *err)
{
  cleanup_free char *path = image_erofs_path (s, img->id);
  if (path_exists (path))
    return 0;
  cleanup_free char *tmp = NULL;
  int ret = store_make_tmp (s, "erofs", &tmp, err);
  if (ret < 0)
    return ret;
  cleanup_free char *mnt = xasprintf ("%s/root", tmp);
  cleanup_free char *out = xasprintf ("%s/image.erofs", tmp);
  if (mkdir (mnt, 0755) < 0)
    ret = isola_error_make (err, errno, "mkdir `%s`", mnt);
  /* Uncompressed: a guest without hardware acceleration pays for every decompressed byte. */
  char *argv[] = { "mkfs.erofs", "--quiet", "--preserve-mtime", out, mnt, NULL };
  struct erofs_source src = { .store = s, .img = img, .mnt = mnt };
  if (ret == 0)
    ret = subprocess_run (argv, mount_image_privately, &src, err);
  struct stat st;
  if (ret == 0 && (stat (out, &st) < 0 || truncate (out, (off_t)image_erofs_disk_bytes ((uint64_t)st.st_size)) < 0))
    ret = isola_error_make (err, errno, "size `%s`", out);
  if (ret == 0 && rename (out, path) < 0)
    ret = isola_error_make (err, errno, "rename `%s` to `%s`", out, path);
  (void)rm_rf (tmp, NULL);
  return ret < 0 ? isola_error_wrap (err, ret, "make the VM root file system of image %.12s", img->id) : 0;
}

uint64_t
image_erofs_disk_bytes (uint64_t fs_bytes)
{
  uint64_t bytes = IMAGE_EROFS_DISK_MIN_BYTES;
  while (bytes < fs_bytes && bytes < (UINT64_C (1) << 62))
    bytes <<= 1;
  return bytes;
}

int
image_erofs_remove (struct isola_store *s, const char *image_id, isola_error_t *err)
{
  cleanup_free char *path = image_erofs_path (s, image_id);
  if (unlink (path) < 0 && errno != ENOENT)
    return isola_error_make (err, errno, "remove `%s`", path);
  return 0;
}
