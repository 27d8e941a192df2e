#define _GNU_SOURCE
#include "base/archive_io.h"

#include <errno.h>
#include <unistd.h>

int
archive_write_fd (struct archive *a, int fd, const char *name, isola_error_t *err)
{
  char buf[65536];
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return isola_error_make (err, errno, "read `%s`", name);
      if (n == 0)
        return 0;
      if (archive_write_data (a, buf, (size_t)n) != n)
        return isola_error_fail (err, EIO, "write `%s`: %s", name, archive_error_string (a));
    }
}
