/* Linked into the static `isola` only (see the Makefile): libarchive's archive_write_set_format() table refers to
   every writer, and its xar writer brings libxml2 and ICU along.  isola writes tar only, so this stands in for
   the xar writer and keeps those libraries out of the binary. */
#include <archive.h>
#include <errno.h>

int archive_write_set_format_xar (struct archive *a);

int
archive_write_set_format_xar (struct archive *a)
{
  archive_set_error (a, EINVAL, "xar archives are not supported");
  return ARCHIVE_FATAL;
}
