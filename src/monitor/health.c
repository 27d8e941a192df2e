/* Health checks in the monitor (see health.h). */
#define _GNU_SOURCE
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/util.h"
#include "proto/attach_client.h"

void
health_probe_init (struct health_probe *h, const struct container *c)
{
  memset (h, 0, sizeof (*h));
  h->out_fd = h->status_fd = -1;
  h->enabled = health_config_of (c, &h->cfg) == 1;
}

static void
end_check (struct health_probe *h)
{
  if (h->pid > 0)
    (void)kill (h->pid, SIGKILL);
  h->pid = 0;
  if (h->out_fd >= 0)
    close (h->out_fd);
  if (h->status_fd >= 0)
    close (h->status_fd);
  h->out_fd = h->status_fd = -1;
  free (h->began);
  h->began = NULL;
  h->output_len = 0;
}

void
health_probe_clear (struct health_probe *h)
{
  end_check (h);
  health_config_clear (&h->cfg);
}

void
health_probe_run_started (struct health_probe *h, struct container *c)
{
  if (!h->enabled)
    return;
  health_state_begin (c->state);
  h->run_started_ms = monotonic_ms ();
  h->next_ms = h->run_started_ms + h->cfg.interval_ms;
}

void
health_probe_run_ended (struct health_probe *h, struct container *c)
{
  if (!h->enabled)
    return;
  end_check (h);
  json_t *health = json_object_get (c->state, "Health");
  if (json_is_object (health))
    json_object_set_new (health, "Status", json_string ("unhealthy"));
}

void
health_probe_fds (const struct health_probe *h, int fds[2])
{
  fds[0] = h->pid ? h->out_fd : -1;
  fds[1] = h->pid ? h->status_fd : -1;
}

int
health_probe_timeout_ms (const struct health_probe *h)
{
  if (!h->enabled)
    return -1;
  long long left = (h->pid ? h->deadline_ms : h->next_ms) - monotonic_ms ();
  return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* --- the check's process ------------------------------------------------------------------------------------------ */

/* A VM's check: its session through the monitor, whose output goes to out and whose exit code is returned. */
static int
relay_session (int fd, struct attach_decoder *dec, int out)
{
  struct attach_frame f;
  while (attach_client_read_frame (fd, dec, &f) == 0)
    {
      if ((f.type == ATTACH_STDOUT || f.type == ATTACH_STDERR) && f.len)
        (void)write_all (out, f.payload, f.len);
      else if (f.type == ATTACH_EXIT && f.len == 4)
        return (int)attach_get_u32 (f.payload);
    }
  return -1;
}

/* In the child: runs the check like `isola exec` (no terminal, no input), its output on out; writes its exit code
   (and why it could not run) on status. */
static __attribute__ ((noreturn)) void
check_main (struct container *c, const struct isola_driver *d, char **argv, int out, int status)
{
  (void)prctl (PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset (&none);
  (void)sigprocmask (SIG_SETMASK, &none, NULL);
  (void)signal (SIGPIPE, SIG_DFL);
  struct exec_request req
      = { .argv = argv, .io = { .stdin_fd = -1, .stdout_fd = out, .stderr_fd = out, .console_socket = -1 } };
  cleanup_error isola_error_t err = NULL;
  int code = -1;
  if (d->exec)
    {
      if (d->exec (c, &req, &code, &err) < 0 && code == 0)
        code = -1;
    }
  else
    {
      struct attach_decoder dec;
      attach_decoder_init (&dec);
      int fd = -1;
      if (d->exec_session (c, &req, &fd, &dec, &err) == 0 && attach_client_wait_started (fd, &dec, &code, &err) == 0)
        code = relay_session (fd, &dec, out);
      else if (code == 0)
        code = -1;
    }
  /* One write below PIPE_BUF, which the monitor reads in one go. */
  cleanup_free char *msg = xasprintf ("%d\n%.*s", code, 4000, err ? err->msg : "");
  (void)write_all (status, msg, strlen (msg));
  _exit (0);
}

static int
start_check (struct health_probe *h, struct container *c, const struct isola_driver *d)
{
  int out[2], status[2];
  if (pipe2 (out, O_CLOEXEC) < 0)
    return -errno;
  if (pipe2 (status, O_CLOEXEC) < 0)
    {
      close (out[0]), close (out[1]);
      return -errno;
    }
  pid_t pid = fork ();
  if (pid == 0)
    {
      /* Nothing of the monitor's (its running lock, clients, the container's stdio) stays open in the check. */
      if (dup2 (out[1], 3) < 0 || dup2 (status[1], 4) < 0 || close_range (5, ~0U, 0) < 0)
        _exit (1);
      check_main (c, d, h->cfg.argv, 3, 4);
    }
  close (out[1]), close (status[1]);
  if (pid < 0)
    {
      close (out[0]), close (status[0]);
      return -errno;
    }
  (void)fcntl (out[0], F_SETFL, O_NONBLOCK);
  h->pid = pid;
  h->out_fd = out[0];
  h->status_fd = status[0];
  h->began_ms = monotonic_ms ();
  h->began = time_rfc3339_now ();
  h->deadline_ms = h->began_ms + h->cfg.timeout_ms;
  h->output_len = 0;
  return 0;
}

/* Takes what the check wrote; what goes beyond HEALTH_OUTPUT_MAX is read and dropped. */
static void
read_output (struct health_probe *h)
{
  char buf[4096];
  ssize_t n;
  while (h->out_fd >= 0 && (n = read (h->out_fd, buf, sizeof buf)) != 0)
    {
      if (n < 0)
        return;
      size_t take = HEALTH_OUTPUT_MAX - h->output_len;
      if (take > (size_t)n)
        take = (size_t)n;
      memcpy (h->output + h->output_len, buf, take);
      h->output_len += take;
    }
  /* At its end: not polled any more. */
  if (h->out_fd >= 0)
    close (h->out_fd);
  h->out_fd = -1;
}

static void
record (struct health_probe *h, struct container *c, int code, const char *output)
{
  cleanup_free char *end = time_rfc3339_now ();
  health_state_record (c->state, &h->cfg, h->began, end, code, output, h->began_ms - h->run_started_ms);
  end_check (h);
  h->next_ms = monotonic_ms () + h->cfg.interval_ms;
}

bool
health_probe_step (struct health_probe *h, struct container *c, const struct isola_driver *d)
{
  if (!h->enabled)
    return false;
  long long now = monotonic_ms ();
  if (h->pid == 0)
    {
      if (now < h->next_ms)
        return false;
      if (start_check (h, c, d) < 0)
        h->next_ms = now + h->cfg.interval_ms;
      return false;
    }
  read_output (h);
  struct pollfd p = { .fd = h->status_fd, .events = POLLIN };
  if (poll (&p, 1, 0) > 0)
    {
      char st[HEALTH_OUTPUT_MAX + 32];
      ssize_t n = read (h->status_fd, st, sizeof st - 1);
      st[n > 0 ? n : 0] = '\0';
      char *msg = strchr (st, '\n');
      int code = n > 0 ? atoi (st) : -1;
      read_output (h);
      h->output[h->output_len] = '\0';
      /* A check that could not run at all: Docker records why, as its output. */
      const char *output = msg && msg[1] ? msg + 1 : h->output;
      record (h, c, code, output);
      return true;
    }
  if (now >= h->deadline_ms)
    {
      cleanup_free char *msg = health_timeout_message (h->cfg.timeout_ms);
      record (h, c, -1, msg);
      return true;
    }
  return false;
}
