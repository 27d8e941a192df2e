/* The container's own disk of a VM container (see vm_disk.h). */
#define _GNU_SOURCE
#include "driver/vm_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/subprocess.h"
#include "base/util.h"

int
vm_upper_disk_create (const char *path, uint64_t bytes, isola_error_t *err)
{
  cleanup_free char *tmp = xasprintf ("%s.tmp", path);
  cleanup_close int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return isola_error_make (err, errno, "create `%s`", tmp);
  if (ftruncate (fd, (off_t)bytes) < 0)
    return isola_error_make (err, errno, "size `%s`", tmp);
  /* Lazy inode tables and journal: the file is sparse, so what mkfs skips reads as zeros anyway, and the guest
     mounts it with noinit_itable so that nothing fills it in behind our back. */
  char *argv[] = { "mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", tmp, NULL };
  int ret = subprocess_run (argv, NULL, NULL, err);
  if (ret == 0 && rename (tmp, path) < 0)
    ret = isola_error_make (err, errno, "rename `%s`", tmp);
  if (ret < 0)
    {
      (void)unlink (tmp);
      return isola_error_wrap (err, ret, "make the VM container's disk");
    }
  return 0;
}
