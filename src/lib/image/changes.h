/* A container's changes to its image, from its writable layer in overlayfs's upper-directory format (whiteouts as
   0/0 character devices, opaque directories marked by trusted.overlay.opaque): both isolation modes keep that
   format, the process driver in a host directory, a VM's guest on its disk (driver/driver.h: open_layer).
   - layer_changes: Docker's `diff` (archive.OverlayChanges): the upper directory walked in Go's filepath.Walk
     order (a directory, then its entries sorted by name), each path C when it exists in a lower layer (a
     directory only when its size, mode or mtime differ there), A otherwise, D for whiteouts and opaque
     directories, and the parent of an added or deleted path shown as C before it when nothing showed it yet.
   - layer_tar_write: the same directory as a layer tar (Docker's overlay2 Diff): whiteouts as `.wh.NAME`, opaque
     directories followed by `.wh..wh..opq`, hard links as links, only the security.capability xattr. */
#ifndef ISOLA_CHANGES_H
#define ISOLA_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"

enum layer_change_kind /* Docker's archive.ChangeType values */
{
  LAYER_CHANGE_MODIFY = 0,
  LAYER_CHANGE_ADD = 1,
  LAYER_CHANGE_DELETE = 2,
};

struct layer_change
{
  char *path; /* absolute, as Docker prints it */
  enum layer_change_kind kind;
};

void layer_changes_free (struct layer_change *c, size_t n);

/* lowers: the image's layer directories, nearest first, NULL-terminated (may be NULL).  An upper directory that
   does not exist has no changes. */
int layer_changes (const char *upper, char *const *lowers, struct layer_change **out, size_t *n_out,
                   isola_error_t *err);

/* Writes the layer tar to fd; *diff_id is its sha256, *size the sum of its regular files' sizes. */
int layer_tar_write (const char *upper, int fd, digest_hex_t diff_id, int64_t *size, isola_error_t *err);

/* A whole directory tree as a tar (export: a merged view, where overlayfs shows no whiteouts). */
int tree_tar_write (const char *dir, int fd, isola_error_t *err);

/* Writes the entry name of dirfd (never followed: a symlink is copied as one), named `as`, and everything under it
   (no symlink followed) into out: a tar writer, or an archive_write_disk working in the destination directory.
   owner >= 0: every entry gets that uid and gid.  Sockets are left out, hard links kept as links. */
struct archive;
int tree_copy (struct archive *out, int dirfd, const char *name, const char *as, int owner, isola_error_t *err);

#endif
