/* `isola image mount`: an image's root file system, read-only, under ROOT/mounts/ID. */
#define _GNU_SOURCE
#include "image/mount.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "image/image.h"
#include "sandbox/overlay.h"

char *
image_mount_point (const struct isola_store *s, const char *id)
{
  return store_path (s, "mounts/%s", id);
}

bool
image_is_mounted (const struct isola_store *s, const char *id)
{
  cleanup_free char *p = image_mount_point (s, id);
  return path_exists (p) && path_is_mount_point (p);
}

int
image_mount (struct isola_store *s, const char *id, char **path_out, isola_error_t *err)
{
  cleanup_free char *target = image_mount_point (s, id);
  if (image_is_mounted (s, id))
    {
      *path_out = take_ptr (&target);
      return 0;
    }
  struct image_record rec = { 0 };
  int ret = image_record_read (s, id, &rec, err);
  if (ret < 0)
    return ret;
  if (mkdir (target, 0755) < 0 && errno != EEXIST)
    ret = isola_error_make (err, errno, "mkdir `%s`", target);
  if (ret == 0)
    ret = overlay_mount_layers (s, rec.chain_ids, rec.n_layers, NULL, NULL, target, err);
  image_record_clear (&rec);
  if (ret < 0)
    {
      (void)rmdir (target);
      return ret;
    }
  *path_out = take_ptr (&target);
  return 0;
}

int
image_unmount (struct isola_store *s, const char *id, isola_error_t *err)
{
  cleanup_free char *target = image_mount_point (s, id);
  if (!path_exists (target))
    return 0;
  while (path_is_mount_point (target))
    if (umount2 (target, 0) < 0)
      {
        if (errno != EBUSY)
          return isola_error_make (err, errno, "unmount `%s`", target);
        /* Something (a shell's cwd) holds it: detach so the image can still go away. */
        if (umount2 (target, MNT_DETACH) < 0)
          return isola_error_make (err, errno, "unmount `%s`", target);
      }
  if (rmdir (target) < 0 && errno != ENOENT)
    return isola_error_make (err, errno, "remove `%s`", target);
  return 0;
}
