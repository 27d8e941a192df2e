/* Data from a file descriptor into a libarchive writer: a tar being made, or a tree being written to disk.  Kept
   apart from the rest of base/ so that only the code that writes archives links libarchive. */
#ifndef ISOLA_ARCHIVE_IO_H
#define ISOLA_ARCHIVE_IO_H

#include <archive.h>

#include "base/error.h"

/* Copies what is left to read of fd into a's current entry.  A read error names `name`; a write that takes less
   than it was given (more data than the entry's header said: a file that grew) fails with libarchive's message. */
int archive_write_fd (struct archive *a, int fd, const char *name, isola_error_t *err);

#endif
