/* The container's own disk of a VM container (see vm_disk.h). */
#define _GNU_SOURCE
#include "driver/vm_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
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

static int
private_mount_namespace (isola_error_t *err)
{
  static bool done;
  if (done)
    return 0;
  if (unshare (CLONE_NEWNS) < 0)
    return isola_error_make (err, errno, "unshare the mount namespace");
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return isola_error_make (err, errno, "make the mount namespace private");
  done = true;
  return 0;
}

/* A free loop device bound read-only to the file; retried when another process takes the same one first. */
static int
loop_attach (int file_fd, bool writable, int *loop_fd_out, char **dev_out, isola_error_t *err)
{
  cleanup_close int ctl = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0)
    return isola_error_make (err, errno, "open /dev/loop-control");
  for (int attempt = 0; attempt < 32; attempt++)
    {
      int n = ioctl (ctl, LOOP_CTL_GET_FREE);
      if (n < 0)
        return isola_error_make (err, errno, "find a free loop device");
      cleanup_free char *dev = xasprintf ("/dev/loop%d", n);
      cleanup_close int fd = open (dev, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
      if (fd < 0)
        return isola_error_make (err, errno, "open `%s`", dev);
      struct loop_config cfg = { .fd = (uint32_t)file_fd };
      cfg.info.lo_flags = (writable ? 0 : LO_FLAGS_READ_ONLY) | LO_FLAGS_AUTOCLEAR;
      if (ioctl (fd, LOOP_CONFIGURE, &cfg) == 0)
        {
          *loop_fd_out = take_fd (&fd);
          *dev_out = take_ptr (&dev);
          return 0;
        }
      if (errno != EBUSY)
        return isola_error_make (err, errno, "attach `%s`", dev);
    }
  return isola_error_fail (err, EBUSY, "no free loop device");
}

int
vm_disk_mount (const char *disk, const char *tmp_parent, bool writable, char **mnt_out, int *loop_fd_out,
               isola_error_t *err)
{
  int ret = private_mount_namespace (err);
  if (ret < 0)
    return ret;
  cleanup_close int file = open (disk, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (file < 0)
    return isola_error_make (err, errno, "open the container's disk `%s`", disk);
  cleanup_close int loop_fd = -1;
  cleanup_free char *dev = NULL, *mnt = xasprintf ("%s/disk-XXXXXX", tmp_parent);
  if ((ret = loop_attach (file, writable, &loop_fd, &dev, err)) < 0)
    return ret;
  if (mkdtemp (mnt) == NULL)
    return isola_error_make (err, errno, "make a directory in `%s`", tmp_parent);
  unsigned long flags = MS_NODEV | MS_NOSUID | MS_NOEXEC | (writable ? 0 : MS_RDONLY);
  if (mount (dev, mnt, "ext4", flags, writable ? "" : "noload") < 0)
    {
      ret = isola_error_make (err, errno, "mount the container's disk `%s` (%s)", disk, dev);
      (void)rmdir (mnt);
      return ret;
    }
  *mnt_out = take_ptr (&mnt);
  *loop_fd_out = take_fd (&loop_fd);
  return 0;
}
