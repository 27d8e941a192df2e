#define _GNU_SOURCE
#include "container/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/sealed_exe.h"
#include "base/util.h"
#include "container/container_event.h"
#include "container/restart.h"
#include "container/wedged.h"
#include "driver/driver.h"
#include "proto/attach_client.h"
#include "sandbox/caps.h"
#include "sandbox/seccomp_profile.h"

/* isola-monitor lives beside the isola binary (build/ or /usr/local/bin); $ISOLA_MONITOR overrides. */
static char *
monitor_path (void)
{
  const char *env = getenv ("ISOLA_MONITOR");
  if (env && env[0])
    return xstrdup (env);
  char *p = path_beside_self ("isola-monitor");
  if (p && access (p, X_OK) == 0)
    return p;
  free (p);
  return xstrdup ("isola-monitor");
}

static pid_t
spawn_monitor (const char *root, const struct container *c, int client_fd, isola_error_t *err)
{
  cleanup_free char *path = monitor_path ();
  pid_t pid = fork ();
  if (pid < 0)
    return isola_error_make (err, errno, "fork");
  if (pid == 0)
    {
      /* The monitor outlives us: keep no terminal and none of our other fds (stdio to /dev/null, or its errors to
         $ISOLA_MONITOR_LOG for debugging). */
      int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
      const char *log = getenv ("ISOLA_MONITOR_LOG");
      int errfd = log && *log ? open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
      if (null >= 0)
        {
          dup2 (null, 0), dup2 (null, 1), dup2 (errfd >= 0 ? errfd : null, 2);
        }
      if (fcntl (client_fd, F_SETFD, 0) < 0)
        _exit (125);
      char fdstr[16];
      snprintf (fdstr, sizeof fdstr, "%d", client_fd);
      execl (path, "isola-monitor", root, c->id, fdstr, (char *)NULL);
      _exit (127);
    }
  return pid;
}

int
container_seccomp_ensure (const struct isola_store *s, const struct container *c, isola_error_t *err)
{
  json_t *host = container_host_config (c);
  uint64_t caps = 0;
  struct seccomp_program *prog = NULL;
  cleanup_free char *cache = store_path (s, STORE_SECCOMP_CACHE);
  int ret = caps_for_host_config (host, &caps, err);
  if (ret == 0)
    ret = seccomp_program_for_host_config (host, caps, cache, &prog, err);
  seccomp_program_free (prog);
  return ret;
}

int
container_start (struct isola_store *s, struct container *c, int *attach_fd, struct attach_decoder *dec,
                 const unsigned short *tty_size, int *exit_code, isola_error_t *err)
{
  *exit_code = 125;
  if (container_damage (c))
    return isola_error_fail (err, EIO,
                             "container %.12s: its record is damaged (%s): remove it with `isola rm -f %.12s`", c->id,
                             container_damage (c), c->id);
  /* A user's start: the container may restart again (Docker resets HasBeenManuallyStopped). */
  int ret = container_set_manual_stop (c, false, err);
  if (ret == 0)
    ret = container_seccomp_ensure (s, c, err);
  const struct isola_driver *driver = driver_of (c);
  if (ret == 0 && driver->prepare_start)
    ret = driver->prepare_start (s, c, err);
  if (ret < 0)
    return ret;
  /* Docker's `run` attaches before it starts: attach, then the monitor's start. */
  if (attach_fd)
    container_event (c, "attach", NULL);
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return isola_error_make (err, errno, "socketpair");
  pid_t pid = spawn_monitor (s->root, c, sv[1], err);
  close (sv[1]);
  if (pid < 0)
    {
      close (sv[0]);
      return pid;
    }
  if (attach_fd && tty_size && container_tty (c))
    {
      uint8_t p[4]
          = { (uint8_t)(tty_size[0] >> 8), (uint8_t)tty_size[0], (uint8_t)(tty_size[1] >> 8), (uint8_t)tty_size[1] };
      (void)attach_send (sv[0], ATTACH_RESIZE, p, 4);
    }
  struct attach_decoder local;
  attach_decoder_init (&local);
  struct attach_decoder *d = dec ? dec : &local;
  ret = attach_client_expect_hello (sv[0], d, err);
  if (ret == 0)
    ret = attach_client_wait_started (sv[0], d, exit_code, err);
  /* The monitor runs detached once the container has started; reap it if it already died. */
  (void)waitpid (pid, NULL, WNOHANG);
  attach_decoder_clear (&local);
  if (ret == 0 && attach_fd)
    *attach_fd = sv[0];
  else
    close (sv[0]);
  return ret;
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

/* Docker's kill event, logged before the signal goes so that it comes before the die it may cause. */
static void
signal_event (const struct container *c, int sig)
{
  char n[16];
  snprintf (n, sizeof n, "%d", sig);
  container_event_attr (c, "kill", "signal", n);
}

int
container_pause (struct container *c, isola_error_t *err)
{
  if (!container_is_running (c) || !container_monitor_alive (c))
    return isola_error_fail (err, EINVAL, "Container %s is not running", c->id);
  if (container_is_paused (c))
    return isola_error_fail (err, EINVAL, "Container %s is already paused", c->id);
  int ret = driver_of (c)->pause (c, true, err);
  if (ret < 0)
    return ret;
  container_set_paused (c, true);
  ret = container_write_state (c, err);
  if (ret < 0)
    (void)driver_of (c)->pause (c, false, NULL);
  else
    container_event (c, "pause", NULL);
  return ret;
}

/* The state says "running" before the processes run again: once they do, the container may exit at any time, and
   its monitor's record of that must not be overwritten. */
int
container_unpause (struct container *c, isola_error_t *err)
{
  if (!container_is_paused (c) || !container_is_running (c) || !container_monitor_alive (c))
    return isola_error_fail (err, EINVAL, "Container %s is not paused", c->id);
  container_set_paused (c, false);
  int ret = container_write_state (c, err);
  if (ret == 0 && (ret = driver_of (c)->pause (c, false, err)) < 0)
    {
      container_set_paused (c, true);
      (void)container_write_state (c, NULL);
    }
  if (ret == 0)
    container_event (c, "unpause", NULL);
  return ret;
}

static int
stop_signal_of (const struct container *c)
{
  int sig = signal_from_name (container_stop_signal (c));
  return sig > 0 ? sig : SIGTERM;
}

/* Docker thaws a paused container that it sends SIGKILL or its stop signal (any signal when it has no StopSignal
   of its own), so that the signal is acted on; here it is thawed just before. */
static void
thaw_for (struct container *c, int sig)
{
  if (!container_is_paused (c))
    return;
  if (sig != SIGKILL && container_stop_signal (c) && sig != stop_signal_of (c))
    return;
  (void)container_unpause (c, NULL);
}

/* Docker's ExitOnNext: a kill with the container's stop signal (any signal when it has none configured) or SIGKILL
   is a manual stop, after which the container is not restarted. */
static void
note_manual_stop (const struct container *c, int sig)
{
  if (container_stop_signal (c) == NULL || sig == SIGKILL || sig == stop_signal_of (c))
    (void)container_set_manual_stop (c, true, NULL);
}

/* --- monitors that do not end -------------------------------------------------------------------------------- */

static bool wait_stopped_for (struct container *c, int timeout_ms);

/* How long a monitor that has been asked to end its container (SIGKILL) may take before it is killed: a VM's gives
   its guest 3 s to act on SIGKILL before it ends the VM, and this machine may be loaded. */
#define MONITOR_END_MS 15000

static bool wait_lock_released (struct container *c, int timeout_ms, bool unless_stopped);

/* Waits for the monitor to let go of the running lock, at most timeout_ms (negative: no bound), and not at all once
   the monitor is seen stopped: that one will not let go. */
static bool
wait_monitor_end (struct container *c, int timeout_ms)
{
  return wait_lock_released (c, timeout_ms, true);
}

/* Sends sig through the driver; true when the monitor did not answer (a VM's passes signals on): waiting for it to
   end the container would be pointless. */
static bool
signal_unanswered (struct container *c, int sig)
{
  return driver_of (c)->signal (c, sig, NULL) == -ETIMEDOUT;
}

/* Docker's rm -f and kill -9 end a container whatever its shim does: the monitor is killed (its children die with
   it, wedged.h), then what it would have released and recorded is: the cgroups, and the exit (137, SIGKILL's) with
   why.  -EBUSY when even that leaves the running lock held. */
static int
end_wedged (struct container *c, isola_error_t *err)
{
  (void)monitor_kill (c);
  if (!wait_stopped_for (c, 10000))
    return isola_error_fail (err, EBUSY, "container %.12s: its monitor does not end", c->id);
  (void)driver_of (c)->cleanup (c, NULL, NULL);
  if (container_damage (c) == NULL && container_reload_state (c, NULL) == 0 && container_is_running (c))
    {
      container_set_exited (c, 137, false, "the container's monitor did not answer and was killed");
      return container_write_state (c, err);
    }
  return 0;
}

/* Ends the run of a damaged container: sig through its monitor, SIGKILL after timeout_ms, and the monitor itself if
   that does not end it either; then what the monitor would have released.  The container is "dead" already. */
static int
end_damaged (struct container *c, int sig, int timeout_ms, isola_error_t *err)
{
  (void)container_set_manual_stop (c, true, NULL);
  if (container_monitor_alive (c))
    {
      if (sig != SIGKILL && container_signal_monitor (c, sig, NULL) == 0 && wait_monitor_end (c, timeout_ms))
        goto done;
      if (container_signal_monitor (c, SIGKILL, NULL) < 0 || !wait_monitor_end (c, MONITOR_END_MS))
        return end_wedged (c, err);
    }
done:
  (void)driver_of (c)->cleanup (c, NULL, NULL);
  return 0;
}

int
container_kill (struct container *c, int sig, isola_error_t *err)
{
  if (container_damage (c) && container_monitor_alive (c))
    {
      note_manual_stop (c, sig);
      signal_event (c, sig);
      return container_signal_monitor (c, sig, err);
    }
  if (!container_is_running (c) || !container_monitor_alive (c))
    return isola_error_fail (err, EINVAL, "cannot kill container: %.12s: container %s is not running", c->id, c->id);
  thaw_for (c, sig);
  note_manual_stop (c, sig);
  /* The state as it is now that the marker is there (the monitor writes a new run's state before it looks at the
     marker: either it sees the marker, or we see the run). */
  (void)container_reload_state (c, NULL);
  /* Between two runs there is no process: the monitor sees the marker and does not restart it. */
  if (container_is_restarting (c))
    return 0;
  signal_event (c, sig);
  /* A stopped monitor would neither pass the signal on (VM) nor record the exit: SIGKILL ends the container anyway,
     as Docker's does. */
  if (sig == SIGKILL && monitor_is_stopped (c))
    return end_wedged (c, err);
  return driver_of (c)->signal (c, sig, err);
}

int
container_attach_client (struct container *c, int *fd_out, struct attach_decoder *dec, isola_error_t *err)
{
  int ret = container_attach (c, fd_out, dec, err);
  if (ret < 0)
    return ret;
  /* The container's output comes from now on; a connection that does not say so gets none of it. */
  if (attach_send (*fd_out, ATTACH_ATTACH, NULL, 0) < 0)
    {
      ret = isola_error_make (err, errno, "attach to the monitor of %.12s", c->id);
      close (*fd_out);
      *fd_out = -1;
      return ret;
    }
  container_event (c, "attach", NULL);
  return 0;
}

/* Waits for the monitor to let go of the running lock, at most timeout_ms (negative: forever). */
static bool
wait_stopped_for (struct container *c, int timeout_ms)
{
  return wait_lock_released (c, timeout_ms, false);
}

/* The loop of both waits above; UNLESS_STOPPED gives up (false) once the monitor is seen stopped (SIGSTOP). */
static bool
wait_lock_released (struct container *c, int timeout_ms, bool unless_stopped)
{
  struct timespec start;
  clock_gettime (CLOCK_MONOTONIC, &start);
  for (int turn = 0;; turn++)
    {
      if (!container_monitor_alive (c))
        return true;
      if (unless_stopped && turn % 10 == 0 && monitor_is_stopped (c))
        return false;
      struct timespec now;
      clock_gettime (CLOCK_MONOTONIC, &now);
      long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (timeout_ms >= 0 && elapsed >= timeout_ms)
        return false;
      struct timespec nap = { 0, 20 * 1000 * 1000 };
      nanosleep (&nap, NULL);
    }
}

int
container_stop (struct container *c, int timeout, isola_error_t *err)
{
  if (container_damage (c))
    {
      if (!container_monitor_alive (c))
        return 0;
      if (timeout < 0)
        timeout = container_stop_timeout (c, 10);
      signal_event (c, stop_signal_of (c));
      if (end_damaged (c, stop_signal_of (c), timeout * 1000, NULL) < 0)
        return isola_error_fail (err, EBUSY, "cannot stop container %.12s: its monitor does not end", c->id);
      container_event (c, "stop", NULL);
      return 0;
    }
  if (!container_is_running (c) || !container_monitor_alive (c))
    return 0;
  if (timeout < 0)
    timeout = container_stop_timeout (c, 10);
  thaw_for (c, stop_signal_of (c));
  (void)container_set_manual_stop (c, true, NULL);
  (void)container_reload_state (c, NULL);
  bool unanswered = false;
  if (!container_is_restarting (c))
    {
      signal_event (c, stop_signal_of (c));
      unanswered = signal_unanswered (c, stop_signal_of (c));
    }
  if (unanswered || !wait_monitor_end (c, timeout * 1000))
    {
      /* The state of now: a run that began since, or none (restarting: its monitor sees the marker). */
      (void)container_reload_state (c, NULL);
      if (!unanswered && !container_is_restarting (c))
        {
          signal_event (c, SIGKILL);
          unanswered = signal_unanswered (c, SIGKILL);
        }
      if (unanswered || !wait_monitor_end (c, MONITOR_END_MS))
        {
          int ret = end_wedged (c, err);
          if (ret < 0)
            return isola_error_wrap (err, ret, "cannot stop container %.12s", c->id);
        }
    }
  int ret = container_wait_stopped (c, err);
  if (ret == 0)
    container_event (c, "stop", NULL);
  return ret;
}

/* Docker's wait: returns at the container's next exit, also one after which it restarts (a container that is not
   running has exited already).  Without a restart policy that is when its monitor lets go of the running lock. */
int
container_wait_exit (struct container *c, isola_error_t *err)
{
  if (restart_policy_of (c).kind == RESTART_NO && !container_is_restarting (c))
    return container_wait_stopped (c, err);
  int restarts = container_restart_count (c);
  cleanup_close int watch = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  if (watch >= 0)
    (void)inotify_add_watch (watch, c->dir, IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF);
  for (;;)
    {
      int ret = container_reload_state (c, err);
      if (ret == 0)
        ret = container_refresh (c, err);
      if (ret < 0)
        return ret;
      if (!container_is_running (c) || container_restart_count (c) > restarts)
        return 0;
      /* state.json is replaced by rename: each new state wakes us; the timeout notices a monitor that died. */
      struct pollfd p = { .fd = watch, .events = POLLIN };
      if (poll (&p, 1, watch >= 0 ? 1000 : 100) > 0)
        {
          char buf[4096];
          while (read (watch, buf, sizeof buf) > 0)
            ;
        }
    }
}

int
container_rm (struct isola_store *s, struct container *c, bool force, isola_error_t *err)
{
  if (container_damage (c) && container_monitor_alive (c))
    {
      /* "dead", but its monitor still runs it: only rm -f ends that. */
      if (!force)
        return isola_error_fail (err, EBUSY,
                                 "cannot remove container %.12s: its record is damaged but its monitor still runs: "
                                 "force remove",
                                 c->id);
      signal_event (c, SIGKILL);
      if (end_damaged (c, SIGKILL, 0, NULL) < 0)
        return isola_error_fail (err, EBUSY, "cannot remove container %.12s: its monitor does not end", c->id);
    }
  if (container_monitor_alive (c))
    {
      bool unanswered = false;
      if (container_is_running (c))
        {
          if (!force)
            return isola_error_fail (err, EBUSY,
                                     "cannot remove container \"/%s\": container is running: stop the container "
                                     "before removing or force remove",
                                     container_name (c));
          (void)container_set_manual_stop (c, true, NULL);
          (void)container_reload_state (c, NULL);
          if (!container_is_restarting (c) && !monitor_is_stopped (c))
            {
              thaw_for (c, SIGKILL);
              signal_event (c, SIGKILL);
              unanswered = signal_unanswered (c, SIGKILL);
            }
        }
      /* A monitor that has recorded the exit (wait has returned) may still be handing the last output to its
         clients and finishing up in the container's directory: removing it under the monitor's feet left a
         half-removed container behind.  One that does not end (stopped, wedged) is killed, as Docker's rm -f
         would. */
      if (unanswered || !wait_monitor_end (c, MONITOR_END_MS))
        {
          int ret = end_wedged (c, err);
          if (ret < 0)
            return isola_error_wrap (err, ret, "cannot remove container %.12s", c->id);
        }
    }
  /* After a crash of the monitor, what it would have released (cgroups) is released here. */
  (void)driver_of (c)->cleanup (c, NULL, NULL);
  int ret = container_remove (s, c, err);
  if (ret == 0)
    container_event (c, "destroy", NULL);
  return ret;
}

int
container_rename_logged (struct isola_store *s, const char *what, const char *new_name, isola_error_t *err)
{
  char id[DIGEST_HEX_LEN + 1];
  cleanup_container struct container *c = NULL;
  int ret = container_resolve (s, what, id, err);
  if (ret == 0)
    ret = container_load (s, id, &c, err);
  if (ret < 0)
    return ret;
  /* Docker's rename event names the old name as Docker keeps it, with its '/'. */
  cleanup_free char *old_name = xasprintf ("/%s", container_name (c));
  if ((ret = container_rename (s, id, new_name, err)) < 0)
    return ret;
  container_free (take_ptr (&c));
  if (container_load (s, id, &c, NULL) == 0)
    container_event_attr (c, "rename", "oldName", old_name);
  return 0;
}
