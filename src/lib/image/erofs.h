/* An image's root file system as one read-only erofs file, images/ID.erofs: made once per image from its snapshots
   (merged, whiteouts applied), shared by every VM container of that image (their root disk), removed with the
   image. */
#ifndef ISOLA_IMAGE_EROFS_H
#define ISOLA_IMAGE_EROFS_H

#include <stdint.h>

#include "image/image.h"
#include "store/store.h"

/* The file is the erofs file system followed by zeros up to a power of two (sparse; at least this much), so that the
   VMs of most images have disks of one size and can be restored from one template (driver/vm_template.h). */
#define IMAGE_EROFS_DISK_MIN_BYTES (64ULL << 20)
uint64_t image_erofs_disk_bytes (uint64_t fs_bytes);

char *image_erofs_path (const struct isola_store *s, const char *image_id);
/* Makes images/ID.erofs unless it exists (staged in tmp/, renamed into place).  Needs the exclusive lock. */
int image_erofs_ensure (struct isola_store *s, const struct image_record *img, isola_error_t *err);
int image_erofs_remove (struct isola_store *s, const char *image_id, isola_error_t *err);

#endif
