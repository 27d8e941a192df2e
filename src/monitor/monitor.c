/* isola-monitor: one per running container, started by `isola start`/`run` and detached from it.  It starts the
   container through its isolation driver (becoming the parent of its first process), copies the container's output
   into ctr.log, records the exit status, removes --rm containers, and holds the container's running lock for as
   long as the container runs.

   usage: isola-monitor ROOT CONTAINER-ID SYNC-FD
   SYNC-FD receives "started PID\n" or "failed EXIT-CODE MESSAGE\n", and at the end "exited EXIT-CODE\n" (an
   attached CLI waits for it; a detached one has closed its end). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "driver.h"
#include "logfile.h"
#include "store.h"
#include "util.h"

struct monitor
{
  struct isola_store *store;
  struct container *c;
  const struct isola_driver *driver;
  int sync_fd;
  int lock_fd;
  int out[2], err[2]; /* pipes: container writes [1], monitor reads [0] */
  pid_t pid;
};

static void
report (struct monitor *m, const char *fmt, ...)
{
  if (m->sync_fd < 0)
    return;
  char buf[4096];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (n > 0 && write_all (m->sync_fd, buf, (size_t) n < sizeof buf ? (size_t) n : sizeof buf - 1) < 0)
    {
      close (m->sync_fd);
      m->sync_fd = -1;
    }
}

/* Docker's exit codes for a container that could not start. */
static int
start_failure_code (int status)
{
  if (status == ENOENT)
    return 127;
  if (status == EACCES || status == ENOEXEC || status == EISDIR)
    return 126;
  return 125;
}

static int
take_running_lock (struct monitor *m, isola_error_t *err)
{
  cleanup_free char *p = container_path (m->c, "running.lock");
  m->lock_fd = open (p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (m->lock_fd < 0)
    return isola_error_make (err, errno, "open `%s`", p);
  if (flock (m->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return isola_error_fail (err, EBUSY, "container %.12s is already running", m->c->id);
  return 0;
}

static int
start_container (struct monitor *m, isola_error_t *err)
{
  if (pipe2 (m->out, O_CLOEXEC) < 0 || pipe2 (m->err, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  struct driver_io io = { .stdin_fd = -1, .stdout_fd = m->out[1], .stderr_fd = m->err[1] };
  int ret = m->driver->start (m->store, m->c, &io, &m->pid, err);
  close (m->out[1]);
  close (m->err[1]);
  return ret;
}

static bool
copy_output (struct monitor *m, struct log_writer *w, int fd, int stream)
{
  char buf[65536];
  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  (void) log_writer_feed (w, stream, buf, (size_t) n);
  (void) m;
  return true;
}

static int
wait_status_code (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 255;
}

/* Copies output until both pipes close and the container's first process has been reaped. */
static int
supervise (struct monitor *m, int sigfd)
{
  cleanup_free char *logpath = container_path (m->c, "ctr.log");
  cleanup_close int logfd = open (logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  struct log_writer w;
  log_writer_init (&w, logfd);
  struct pollfd fds[3] = { { .fd = m->out[0], .events = POLLIN },
                           { .fd = m->err[0], .events = POLLIN },
                           { .fd = sigfd, .events = POLLIN } };
  int status = 0;
  bool reaped = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0 || !reaped)
    {
      if (poll (fds, 3, -1) < 0 && errno != EINTR)
        break;
      for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
            && !copy_output (m, &w, fds[i].fd, i + 1))
          {
            close (fds[i].fd);
            fds[i].fd = -1;
          }
      if (fds[2].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          (void) read (sigfd, &si, sizeof si);
          if (!reaped && waitpid (m->pid, &status, WNOHANG) == m->pid)
            reaped = true;
          while (waitpid (-1, NULL, WNOHANG) > 0)
            ;
        }
    }
  (void) log_writer_flush (&w);
  log_writer_clear (&w);
  return wait_status_code (status);
}

static void
finish (struct monitor *m, int code)
{
  cleanup_error isola_error_t err = NULL;
  bool oom = false;
  (void) m->driver->cleanup (m->c, &oom, &err);
  container_set_exited (m->c, code, oom, NULL);
  (void) container_write_state (m->c, NULL);
  if (json_is_true (json_object_get (json_object_get (m->c->config, "HostConfig"), "AutoRemove")))
    (void) container_remove (m->store, m->c, NULL);
  report (m, "exited %d\n", code);
}

static int
monitor_run (struct monitor *m)
{
  cleanup_error isola_error_t err = NULL;
  if (take_running_lock (m, &err) < 0)
    {
      report (m, "failed 125 %s\n", err->msg);
      return 1;
    }
  /* SIGCHLD arrives through a signalfd so that reaping and output copying share one loop. */
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  sigprocmask (SIG_BLOCK, &set, NULL);
  cleanup_close int sigfd = signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

  if (start_container (m, &err) < 0)
    {
      int code = start_failure_code (err->status);
      /* Docker leaves a container that failed to start in "created" with the error and exit code recorded. */
      json_object_set_new (m->c->state, "ExitCode", json_integer (code));
      json_object_set_new (m->c->state, "Error", json_string (err->msg));
      (void) container_write_state (m->c, NULL);
      report (m, "failed %d %s\n", code, err->msg);
      if (json_is_true (json_object_get (json_object_get (m->c->config, "HostConfig"), "AutoRemove")))
        (void) container_remove (m->store, m->c, NULL);
      return 1;
    }
  container_set_running (m->c, m->pid, getpid ());
  if (container_write_state (m->c, &err) < 0)
    {
      kill (m->pid, SIGKILL);
      report (m, "failed 125 %s\n", err->msg);
      return 1;
    }
  report (m, "started %d\n", (int) m->pid);
  finish (m, supervise (m, sigfd));
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc != 4)
    {
      fprintf (stderr, "usage: isola-monitor ROOT CONTAINER-ID SYNC-FD\n");
      return 2;
    }
  struct monitor m = { .sync_fd = atoi (argv[3]), .lock_fd = -1, .out = { -1, -1 }, .err = { -1, -1 } };
  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  (void) setsid ();
  if (chdir ("/") < 0)
    return 1;
  cleanup_error isola_error_t err = NULL;
  if (store_open (argv[1], STORE_LOCK_NONE, &m.store, &err) < 0 || container_load (m.store, argv[2], &m.c, &err) < 0)
    {
      report (&m, "failed 125 %s\n", err->msg);
      return 1;
    }
  m.driver = driver_of (m.c);
  int ret = monitor_run (&m);
  container_free (m.c);
  store_close (m.store);
  return ret;
}
