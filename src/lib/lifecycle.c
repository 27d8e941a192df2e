#define _GNU_SOURCE
#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "util.h"

/* isola-monitor lives beside the isola binary (build/ or /usr/local/bin); $ISOLA_MONITOR overrides. */
static char *
monitor_path (void)
{
  const char *env = getenv ("ISOLA_MONITOR");
  if (env && env[0])
    return xstrdup (env);
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (n > 0)
    {
      self[n] = '\0';
      char *slash = strrchr (self, '/');
      if (slash)
        {
          *slash = '\0';
          char *p = xasprintf ("%s/isola-monitor", self);
          if (access (p, X_OK) == 0)
            return p;
          free (p);
        }
    }
  return xstrdup ("isola-monitor");
}

static int
read_line (int fd, char *buf, size_t size)
{
  size_t n = 0;
  while (n + 1 < size)
    {
      ssize_t r = read (fd, buf + n, 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      if (buf[n] == '\n')
        break;
      n++;
    }
  buf[n] = '\0';
  return (int)n;
}

static pid_t
spawn_monitor (const char *root, const struct container *c, int sync_w, isola_error_t *err)
{
  cleanup_free char *path = monitor_path ();
  pid_t pid = fork ();
  if (pid < 0)
    return isola_error_make (err, errno, "fork");
  if (pid == 0)
    {
      /* The monitor outlives us: keep no terminal and none of our other fds (stdio to /dev/null). */
      int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
      if (null >= 0)
        {
          dup2 (null, 0), dup2 (null, 1), dup2 (null, 2);
        }
      if (fcntl (sync_w, F_SETFD, 0) < 0)
        _exit (125);
      char fdstr[16];
      snprintf (fdstr, sizeof fdstr, "%d", sync_w);
      execl (path, "isola-monitor", root, c->id, fdstr, (char *)NULL);
      _exit (127);
    }
  return pid;
}

int
container_start (struct isola_store *s, struct container *c, int *attach_fd, int *exit_code, isola_error_t *err)
{
  *exit_code = 125;
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  pid_t pid = spawn_monitor (s->root, c, p[1], err);
  close (p[1]);
  if (pid < 0)
    {
      close (p[0]);
      return pid;
    }
  /* The monitor runs detached once the container has started; reap it if it dies before that. */
  char line[4200];
  read_line (p[0], line, sizeof line);
  (void)waitpid (pid, NULL, WNOHANG);
  if (str_has_prefix (line, "started "))
    {
      *exit_code = 0;
      if (attach_fd)
        *attach_fd = p[0];
      else
        close (p[0]);
      return 0;
    }
  close (p[0]);
  if (str_has_prefix (line, "failed "))
    {
      char *msg = NULL;
      long code = strtol (line + 7, &msg, 10);
      *exit_code = (int)code;
      return isola_error_fail (err,
                               code == 127   ? ENOENT
                               : code == 126 ? EACCES
                                             : EIO,
                               "%s", msg && *msg ? msg + 1 : "container failed to start");
    }
  return isola_error_fail (err, EIO,
                           "the container monitor exited before starting the container (is isola-monitor "
                           "installed beside isola?)");
}

int
container_read_exit (int attach_fd, int *exit_code)
{
  char line[256];
  read_line (attach_fd, line, sizeof line);
  if (!str_has_prefix (line, "exited "))
    return -EPIPE;
  *exit_code = atoi (line + 7);
  return 0;
}

int
signal_from_name (const char *name)
{
  if (name == NULL || *name == '\0')
    return -1;
  char *end;
  long n = strtol (name, &end, 10);
  if (*end == '\0')
    return n > 0 && n < NSIG ? (int)n : -1;
  if (strncasecmp (name, "SIG", 3) == 0)
    name += 3;
  for (int sig = 1; sig < NSIG; sig++)
    {
      const char *abbrev = sigabbrev_np (sig);
      if (abbrev && strcasecmp (abbrev, name) == 0)
        return sig;
    }
  return -1;
}

int
container_kill (struct container *c, int sig, isola_error_t *err)
{
  if (!container_is_running (c) || !container_monitor_alive (c))
    return isola_error_fail (err, EINVAL, "cannot kill container: %.12s: container %s is not running", c->id, c->id);
  return driver_of (c)->signal (c, sig, err);
}

/* Waits for the monitor to let go of the running lock, at most timeout_ms (negative: forever). */
static bool
wait_stopped_for (struct container *c, int timeout_ms)
{
  struct timespec start;
  clock_gettime (CLOCK_MONOTONIC, &start);
  for (;;)
    {
      if (!container_monitor_alive (c))
        return true;
      struct timespec now;
      clock_gettime (CLOCK_MONOTONIC, &now);
      long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (timeout_ms >= 0 && elapsed >= timeout_ms)
        return false;
      struct timespec nap = { 0, 20 * 1000 * 1000 };
      nanosleep (&nap, NULL);
    }
}

static int
stop_signal_of (const struct container *c)
{
  const char *name = json_string_value (json_object_get (json_object_get (c->config, "Config"), "StopSignal"));
  int sig = signal_from_name (name);
  return sig > 0 ? sig : SIGTERM;
}

int
container_stop (struct container *c, int timeout, isola_error_t *err)
{
  if (!container_is_running (c) || !container_monitor_alive (c))
    return 0;
  if (timeout < 0)
    {
      json_t *t = json_object_get (json_object_get (c->config, "Config"), "StopTimeout");
      timeout = json_is_integer (t) ? (int)json_integer_value (t) : 10;
    }
  (void)driver_of (c)->signal (c, stop_signal_of (c), NULL);
  if (!wait_stopped_for (c, timeout * 1000))
    {
      (void)driver_of (c)->signal (c, SIGKILL, NULL);
      wait_stopped_for (c, -1);
    }
  return container_wait_stopped (c, err);
}

int
container_rm (struct isola_store *s, struct container *c, bool force, isola_error_t *err)
{
  if (container_is_running (c) && container_monitor_alive (c))
    {
      if (!force)
        return isola_error_fail (err, EBUSY,
                                 "cannot remove container \"/%s\": container is running: stop the container before "
                                 "removing or force remove",
                                 container_name (c));
      (void)driver_of (c)->signal (c, SIGKILL, NULL);
      wait_stopped_for (c, -1);
    }
  return container_remove (s, c, err);
}
