/* The VM's console log, bounded (vm_console.h). */
#define _GNU_SOURCE
#include "driver/vm_console.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/util.h"

static void
write_all_at (int fd, const char *buf, size_t len, off_t at)
{
  while (len > 0)
    {
      ssize_t n = pwrite (fd, buf, len, at);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return; /* a full disk: the console is lost, never the VM */
      buf += n, len -= (size_t)n, at += n;
    }
}

static void
truncate_to (int fd, size_t size)
{
  if (ftruncate (fd, (off_t)size) < 0)
    return; /* the next write past the bound truncates again */
}

/* The file holds size bytes and len more have come: keep the latest max / 2 of both, at the file's start. */
static size_t
keep_tail (int out, size_t size, const char *buf, size_t len, size_t max, char *scratch)
{
  size_t tail = max / 2;
  if (len >= tail)
    {
      write_all_at (out, buf + len - tail, tail, 0);
      truncate_to (out, tail);
      return tail;
    }
  /* The old part kept starts past tail (size + len > max), so it never overlaps where it goes. */
  size_t old = tail - len;
  ssize_t got = pread (out, scratch, old, (off_t)(size - old));
  if (got != (ssize_t)old)
    got = 0, old = 0;
  write_all_at (out, scratch, old, 0);
  write_all_at (out, buf, len, (off_t)old);
  truncate_to (out, old + len);
  return old + len;
}

void
vm_console_copy (int in, int out, size_t max)
{
  char buf[64 * 1024];
  char *scratch = xmalloc (max / 2 + 1);
  size_t size = 0;
  for (;;)
    {
      ssize_t n = read (in, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      size_t len = (size_t)n;
      if (size + len > max)
        size = keep_tail (out, size, buf, len, max, scratch);
      else
        {
          write_all_at (out, buf, len, (off_t)size);
          size += len;
        }
    }
  free (scratch);
}

/* Closes every descriptor of the copier but a and b (and stdio). */
static void
close_all_but (int a, int b)
{
  int lo = a < b ? a : b, hi = a < b ? b : a;
  if (lo > 3)
    (void)close_range (3, (unsigned)lo - 1, 0);
  if (hi > lo + 1)
    (void)close_range ((unsigned)lo + 1, (unsigned)hi - 1, 0);
  (void)close_range ((unsigned)hi + 1, ~0U, 0);
}

/* A fork of the monitor shows in ps with the monitor's command line; its name (comm: ps -e, pgrep, top) says what
   it is.  (Its command line could only change with CAP_SYS_RESOURCE, which hosts like ours do not grant.) */
static void
name_copier (void)
{
  (void)prctl (PR_SET_NAME, "isola-console");
}

int
vm_console_start (const char *path, pid_t *copier, isola_error_t *err)
{
  cleanup_close int file = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (file < 0)
    return isola_error_make (err, errno, "create `%s`", path);
  /* A log left by an older isola may have been world-readable. */
  if (fchmod (file, 0600) < 0)
    return isola_error_make (err, errno, "chmod `%s`", path);
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return isola_error_make (err, errno, "socketpair");
  pid_t pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (sv[0]);
      close (sv[1]);
      return isola_error_make (err, e, "fork");
    }
  if (pid == 0)
    {
      if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
        _exit (1);
      name_copier ();
      close_all_but (sv[0], file);
      /* Never shut down its writing side: QEMU takes the end of file it reads as a hang-up and closes the socket. */
      vm_console_copy (sv[0], file, VM_CONSOLE_MAX);
      _exit (0);
    }
  close (sv[0]);
  *copier = pid;
  return sv[1];
}
