/* Root filesystems from snapshots: the writable overlay a container gets, and read-only image views. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/util.h"
#include "sandbox/overlay.h"
#include "store/store.h"
#include "tap.h"

static char root[] = "/tmp/isola-unit-rootfs-XXXXXX";

static void
write_text (const char *path, const char *text)
{
  (void)write_file_atomic (path, text, strlen (text), 0644, NULL);
}

static void
make_snapshot (struct isola_store *s, const char *chain)
{
  cleanup_free char *fs = snapshot_fs (s, chain);
  mkdir_p (fs, 0755, NULL);
}

static bool
file_has (const char *path, const char *text)
{
  cleanup_free char *buf = NULL;
  return read_file_bounded (path, 4096, &buf, NULL, NULL) == 0 && strcmp (buf, text) == 0;
}

int
main (void)
{
  if (mkdtemp (root) == NULL)
    return 1;
  struct isola_store *s = NULL;
  CHECK (store_open (root, STORE_LOCK_EXCLUSIVE, &s, NULL) == 0, "store_open");

  digest_hex_t chains[2];
  memset (chains[0], 'a', 64), chains[0][64] = 0;
  memset (chains[1], 'b', 64), chains[1][64] = 0;
  make_snapshot (s, chains[0]);
  make_snapshot (s, chains[1]);
  cleanup_free char *base = snapshot_fs (s, chains[0]);
  cleanup_free char *top = snapshot_fs (s, chains[1]);
  cleanup_free char *f1 = xasprintf ("%s/kept", base), *f2 = xasprintf ("%s/deleted", base);
  cleanup_free char *f3 = xasprintf ("%s/new", top), *wh = xasprintf ("%s/deleted", top);
  write_text (f1, "base\n");
  write_text (f2, "gone\n");
  write_text (f3, "top\n");
  CHECK (mknod (wh, S_IFCHR | 0000, makedev (0, 0)) == 0, "whiteout device in the top layer");

  /* A container's root: snapshots under a writable upper directory. */
  cleanup_free char *upper = xasprintf ("%s/upper", root), *work = xasprintf ("%s/work", root);
  cleanup_free char *merged = xasprintf ("%s/merged", root);
  mkdir (upper, 0755), mkdir (work, 0755), mkdir (merged, 0755);
  cleanup_error isola_error_t err = NULL;
  int ret = overlay_mount_layers (s, chains, 2, upper, work, merged, &err);
  CHECK (ret == 0, "writable overlay mounts (%s)", err ? err->msg : "ok");
  cleanup_free char *m_kept = xasprintf ("%s/kept", merged), *m_new = xasprintf ("%s/new", merged);
  cleanup_free char *m_del = xasprintf ("%s/deleted", merged), *m_wr = xasprintf ("%s/written", merged);
  CHECK (file_has (m_kept, "base\n") && file_has (m_new, "top\n"), "both layers visible");
  CHECK (!path_exists (m_del), "whiteout hides the lower file");
  write_text (m_wr, "mine\n");
  cleanup_free char *u_wr = xasprintf ("%s/written", upper);
  CHECK (file_has (u_wr, "mine\n"), "writes land in the upper directory");
  CHECK (path_is_mount_point (merged), "merged is a mount point");
  umount2 (merged, MNT_DETACH);

  /* Read-only views: one layer is a read-only bind, several an overlay without upper. */
  cleanup_free char *ro = xasprintf ("%s/ro", root);
  mkdir (ro, 0755);
  ret = overlay_mount_layers (s, chains, 1, NULL, NULL, ro, NULL);
  cleanup_free char *ro_f = xasprintf ("%s/x", ro);
  CHECK (ret == 0 && open (ro_f, O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS, "one layer: read-only bind");
  umount2 (ro, MNT_DETACH);
  ret = overlay_mount_layers (s, chains, 2, NULL, NULL, ro, NULL);
  CHECK (ret == 0 && open (ro_f, O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS, "two layers: read-only overlay");
  umount2 (ro, MNT_DETACH);

  store_close (s);
  CHECK (rm_rf (root, NULL) == 0, "cleanup");
  return tap_done ();
}
