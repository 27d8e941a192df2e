/* Finding and killing a container's monitor from outside (wedged.h). */
#define _GNU_SOURCE
#include "container/wedged.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

/* Whether pid's command line names the container (a monitor's: isola-monitor ROOT ID FD). */
static bool
names_container (pid_t pid, const struct container *c)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/cmdline", (int)pid);
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (read_file_bounded (path, 1 << 16, &text, &len, NULL) < 0)
    return false;
  for (size_t i = 0; i < len; i += strlen (text + i) + 1)
    if (strcmp (text + i, c->id) == 0)
      return true;
  return false;
}

/* The PIDs that hold running.lock (not those waiting for it), as /proc/locks lists them, at most max. */
static size_t
lock_holders (const struct container *c, pid_t *pids, size_t max)
{
  cleanup_free char *p = container_path (c, "running.lock");
  struct stat st;
  if (stat (p, &st) < 0)
    return 0;
  cleanup_file FILE *f = fopen ("/proc/locks", "re");
  char line[256];
  size_t n = 0;
  while (f && n < max && fgets (line, sizeof line, f))
    {
      char kind[16], rw[16];
      int pid;
      unsigned int maj, min;
      unsigned long inode;
      /* "1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF"; waiters have "->" before FLOCK and do not match. */
      if (sscanf (line, "%*d: %15s %*s %15s %d %x:%x:%lu", kind, rw, &pid, &maj, &min, &inode) == 6
          && strcmp (kind, "FLOCK") == 0 && strcmp (rw, "WRITE") == 0 && inode == st.st_ino && maj == major (st.st_dev)
          && min == minor (st.st_dev) && pid > 1)
        pids[n++] = pid;
    }
  return n;
}

static bool
holds_lock (const struct container *c, pid_t pid)
{
  pid_t pids[8];
  size_t n = lock_holders (c, pids, 8);
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

/* A pidfd of the container's monitor, checked after it is open (-1 when there is none). */
static int
monitor_pidfd (const struct container *c, pid_t *pid_out)
{
  pid_t pids[8];
  size_t n = lock_holders (c, pids, 8);
  for (size_t i = 0; i < n; i++)
    {
      int fd = (int)syscall (SYS_pidfd_open, pids[i], 0);
      if (fd < 0)
        continue;
      if (names_container (pids[i], c) && holds_lock (c, pids[i]))
        {
          *pid_out = pids[i];
          return fd;
        }
      close (fd);
    }
  return -1;
}

/* The state letter of /proc/PID/stat: after the last ')' of the command's name, which may contain one. */
static char
proc_state (pid_t pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
  cleanup_free char *text = NULL;
  if (read_file_bounded (path, 4096, &text, NULL, NULL) < 0)
    return '\0';
  char *end = strrchr (text, ')');
  return end && end[1] == ' ' ? end[2] : '\0';
}

bool
monitor_is_stopped (const struct container *c)
{
  pid_t pid;
  cleanup_close int fd = monitor_pidfd (c, &pid);
  if (fd < 0)
    return false;
  char st = proc_state (pid);
  return st == 'T' || st == 't';
}

int
monitor_kill (const struct container *c)
{
  int killed = 0;
  for (int round = 0; round < 4; round++)
    {
      pid_t pid;
      cleanup_close int fd = monitor_pidfd (c, &pid);
      if (fd < 0)
        break;
      if (syscall (SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0)
        killed++;
      /* The lock is let go of once it has died: the next round finds another holder, if any. */
      for (int i = 0; i < 100 && holds_lock (c, pid); i++)
        {
          struct timespec nap = { 0, 10 * 1000 * 1000 };
          nanosleep (&nap, NULL);
        }
    }
  return killed;
}
