/* Network namespaces given by path (see netns.h). */
#define _GNU_SOURCE
#include "sandbox/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/util.h"

const char *
netns_mode_path (const char *mode)
{
  return mode && strncmp (mode, "ns:", 3) == 0 ? mode + 3 : NULL;
}

int
ns_open_path (const char *path, int type, int *fd_out)
{
  cleanup_close int where = open (path, O_PATH | O_CLOEXEC);
  if (where < 0)
    return -errno;
  struct statfs fs;
  if (fstatfs (where, &fs) < 0)
    return -errno;
  if (fs.f_type != NSFS_MAGIC)
    return -EINVAL;
  char self[64];
  snprintf (self, sizeof self, "/proc/self/fd/%d", where);
  cleanup_close int fd = open (self, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (type != 0 && ioctl (fd, NS_GET_NSTYPE) != type)
    return -EINVAL;
  *fd_out = take_fd (&fd);
  return 0;
}

static int
open_netns (const char *path, int *fd_out, isola_error_t *err)
{
  if (path == NULL || path[0] != '/')
    return isola_error_fail (err, EINVAL, "network namespace path \"%s\" must be absolute", path ? path : "");
  int ret = ns_open_path (path, CLONE_NEWNET, fd_out);
  /* Bad input, whatever the reason the path does not open (missing, no access). */
  if (ret == -EINVAL)
    return isola_error_fail (err, EINVAL, "`%s` is not a network namespace", path);
  if (ret < 0)
    return isola_error_fail (err, EINVAL, "network namespace `%s`: %s", path, strerror (-ret));
  return 0;
}

int
netns_check (const char *path, isola_error_t *err)
{
  int fd = -1;
  int ret = open_netns (path, &fd, err);
  if (ret == 0)
    close (fd);
  return ret;
}

int
netns_enter (const char *path, int *saved, isola_error_t *err)
{
  *saved = -1;
  cleanup_close int target = -1;
  int ret = open_netns (path, &target, err);
  if (ret < 0)
    return ret;
  cleanup_close int self = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return isola_error_make (err, errno, "open our own network namespace");
  if (setns (target, CLONE_NEWNET) < 0)
    return isola_error_make (err, errno, "enter the network namespace `%s`", path);
  *saved = take_fd (&self);
  return 0;
}

int
netns_leave (int saved, isola_error_t *err)
{
  if (saved < 0)
    return 0;
  int ret = setns (saved, CLONE_NEWNET) < 0 ? isola_error_make (err, errno, "return to our network namespace") : 0;
  close (saved);
  return ret;
}
