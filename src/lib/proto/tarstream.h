/* A tar stream reader for the guest agent, which links no libarchive: `cp` into a running VM container sends the
   files as a tar (pax, as libarchive writes it) through an exec session, and the agent extracts it in the guest.
   The bytes come from the host, but they are parsed as untrusted input: ustar headers with their checksum, pax 'x'
   records (path, linkpath, size, uid, gid, mtime) and GNU long names, every length bounded, names checked to be
   relative without "..".  Fuzzed (fuzz_tarstream). */
#ifndef ISOLA_TARSTREAM_H
#define ISOLA_TARSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

#define TARSTREAM_NAME_MAX 4096
#define TARSTREAM_PAX_MAX  (64 * 1024)
#define TARSTREAM_SIZE_MAX (1LL << 40)

struct tar_entry_header
{
  char path[TARSTREAM_NAME_MAX];     /* relative, no "..", no empty or "." components left but a lone "." */
  char linkpath[TARSTREAM_NAME_MAX]; /* symlink target (as is), or hard link target (checked as path is) */
  char type;                         /* '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo */
  uint32_t mode;                     /* permission bits (07777) */
  uint32_t uid, gid;
  int64_t size;  /* data bytes that follow (files only) */
  int64_t mtime; /* seconds */
  uint32_t devmajor, devminor;
};

/* Reads exactly up to len bytes; returns how many (0 at the end), or a negative errno. */
typedef ssize_t (*tar_read_fn) (void *ctx, void *buf, size_t len);

struct tar_reader
{
  tar_read_fn read;
  void *ctx;
  int64_t data_left; /* of the current entry */
  int64_t pad_left;  /* to the next 512-byte block */
  bool done;
};

void tar_reader_init (struct tar_reader *r, tar_read_fn read, void *ctx);

/* The next entry's header (skipping what is left of the previous entry's data): 1, or 0 at the end of the archive,
   or a negative errno with a message (EINVAL for a malformed stream). */
int tar_reader_next (struct tar_reader *r, struct tar_entry_header *h, isola_error_t *err);

/* The current entry's data: up to len bytes, 0 at its end, or a negative errno (EIO: the stream ended early). */
ssize_t tar_reader_data (struct tar_reader *r, void *buf, size_t len);

/* A relative archive name made canonical in place ("./a//b/" → "a/b"); false for "..", absolute or empty names. */
bool tar_path_clean (char *path);

#endif
