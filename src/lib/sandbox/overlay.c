#define _GNU_SOURCE
#include "sandbox/overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "base/util.h"

/* overlayfs takes its lower directories in one mount option string limited to a page, so the snapshots are named
   relative to ROOT/snapshots (68 bytes each) from inside that directory instead of by absolute path. */
static int
mount_overlay_relative (const struct isola_store *s, const digest_hex_t *chain_ids, size_t n, const char *top,
                        const char *upper, const char *work, const char *target, isola_error_t *err)
{
  size_t cap = n * (DIGEST_HEX_LEN + 4) + 64 + (top ? strlen (top) + 1 : 0);
  cleanup_free char *lower = xcalloc (1, cap);
  if (top)
    {
      strcat (lower, top);
      if (n > 0)
        strcat (lower, ":");
    }
  for (size_t i = n; i-- > 0;)
    {
      strcat (lower, chain_ids[i]);
      strcat (lower, "/fs");
      if (i > 0)
        strcat (lower, ":");
    }
  cleanup_free char *opts
      = upper ? xasprintf ("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work) : xasprintf ("lowerdir=%s", lower);
  if (strlen (opts) >= 4096)
    return isola_error_fail (err, E2BIG, "image has too many layers (%zu) for one overlay mount", n);

  cleanup_free char *snapdir = store_path (s, "snapshots");
  cleanup_close int old_cwd = open (".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (old_cwd < 0)
    return isola_error_make (err, errno, "open current directory");
  if (chdir (snapdir) < 0)
    return isola_error_make (err, errno, "chdir `%s`", snapdir);
  int ret = mount ("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts);
  int saved = errno;
  if (fchdir (old_cwd) < 0)
    return isola_error_make (err, errno, "restore working directory");
  if (ret < 0)
    return isola_error_make (err, saved, "mount overlay on `%s`", target);
  return 0;
}

static int
bind_mount_readonly (const char *src, const char *target, isola_error_t *err)
{
  if (mount (src, target, NULL, MS_BIND, NULL) < 0)
    return isola_error_make (err, errno, "bind mount `%s` on `%s`", src, target);
  if (mount (NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
    {
      int saved = errno;
      (void)umount2 (target, MNT_DETACH);
      return isola_error_make (err, saved, "make `%s` read-only", target);
    }
  return 0;
}

int
overlay_mount_layers (const struct isola_store *s, const digest_hex_t *chain_ids, size_t n_layers, const char *upper,
                      const char *work, const char *target, isola_error_t *err)
{
  if (upper == NULL && n_layers == 1)
    {
      cleanup_free char *fs = snapshot_fs (s, chain_ids[0]);
      return bind_mount_readonly (fs, target, err);
    }
  if (upper == NULL && n_layers == 0)
    {
      /* An image without layers is an empty directory: a read-only bind of an empty one under tmp/. */
      cleanup_free char *empty = store_path (s, "empty");
      if (mkdir (empty, 0755) < 0 && errno != EEXIST)
        return isola_error_make (err, errno, "mkdir `%s`", empty);
      return bind_mount_readonly (empty, target, err);
    }
  return mount_overlay_relative (s, chain_ids, n_layers, NULL, upper, work, target, err);
}

int
overlay_mount_view (const struct isola_store *s, const digest_hex_t *chain_ids, size_t n_layers, const char *top,
                    const char *target, isola_error_t *err)
{
  if (top == NULL || n_layers == 0)
    return top ? bind_mount_readonly (top, target, err)
               : overlay_mount_layers (s, chain_ids, n_layers, NULL, NULL, target, err);
  return mount_overlay_relative (s, chain_ids, n_layers, top, NULL, NULL, target, err);
}
