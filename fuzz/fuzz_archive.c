/* libFuzzer target: the outer image archive (docker save / OCI layout tar) as `isola load` stages it.
   Checks that nothing is ever written outside the staging directory. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/util.h"
#include "image/load.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* On tmpfs when there is one: a disk's directory operations made this target 8 times slower. */
  char dir[] = "/dev/shm/isola-fuzz-archive-XXXXXX", tmp_dir[] = "/tmp/isola-fuzz-archive-XXXXXX";
  char *scratch = access ("/dev/shm", W_OK) == 0 ? dir : tmp_dir;
  if (mkdtemp (scratch) == NULL)
    return 0;
  int fd = memfd_create ("archive", MFD_CLOEXEC);
  if (fd >= 0 && write_all (fd, data, size) == 0 && lseek (fd, 0, SEEK_SET) == 0)
    {
      int dfd = open (scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      isola_error_t err = NULL;
      if (dfd >= 0)
        {
          (void)archive_stage (fd, dfd, &err);
          close (dfd);
        }
      isola_error_release (&err);
    }
  if (fd >= 0)
    close (fd);
  rm_rf (scratch, NULL);
  return 0;
}
