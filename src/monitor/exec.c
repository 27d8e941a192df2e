/* A process container's exec, run by its monitor (see exec.h).  The monitor forks one session per exec; the
   session starts the command with nsexec_start, so that what joins the container is forked from the monitor's
   sealed executable and never from the file on the host (runc's CVE-2019-5736, base/sealed_exe.h), and relays
   between it and the client's connection: STARTED or FAILED, STDOUT/STDERR, EXIT last; STDIN, CLOSE_STDIN, RESIZE,
   SIGNAL and DETACH from the client.  The session, not the client, is what the command's helper dies with, so a
   client that detaches leaves the command running, as dockerd does: its output is then read and dropped, and its
   input stays open with a terminal and ends without one.  A client gone without DETACH takes the command with it,
   as before. */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/util.h"
#include "container/container_event.h"
#include "driver/process_exec.h"
#include "sandbox/nsexec.h"
#include "sandbox/spawn.h"

#define CLIENT_FD 3

struct session
{
  int client; /* -1 once the client has gone or detached */
  struct attach_decoder *dec;
  bool tty, detached;
  int in_w;         /* the command's stdin (the master with a terminal); -1 for none */
  int out_r, err_r; /* its stdout and stderr (the master with a terminal, and no stderr); -1 once ended */
  bool in_eof;      /* the client's input ended: close in_w once pending is written */
  uint8_t *pending; /* input the command has not taken yet: the client is not read meanwhile */
  size_t pending_off, pending_len;
  pid_t helper;
};

static void handle_frame (struct session *s, const struct attach_frame *f);

/* The client's connection ends: its last frames may still say that it detached (it stops reading our output once
   it has sent DETACH, so a send of ours can fail before we have read it); if not, the command goes with it. */
static void
client_gone (struct session *s)
{
  struct attach_frame f;
  while (s->client >= 0)
    {
      uint8_t buf[4096];
      ssize_t n = recv (s->client, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0)
        break;
      attach_decoder_feed (s->dec, buf, (size_t)n);
      while (s->client >= 0 && attach_decoder_next (s->dec, &f) == 1)
        handle_frame (s, &f);
    }
  if (s->client >= 0)
    {
      (void)close (s->client);
      s->client = -1;
    }
  if (!s->detached)
    (void)kill (s->helper, SIGKILL);
}

static void
send_frame (struct session *s, uint8_t type, const void *data, uint32_t len)
{
  if (s->client >= 0 && attach_send (s->client, type, data, len) < 0)
    client_gone (s);
}

static void
fail (int client, int code, const char *msg)
{
  uint8_t buf[4 + 1024];
  size_t n = strnlen (msg, sizeof buf - 4);
  attach_put_u32 (buf, (uint32_t)code);
  memcpy (buf + 4, msg, n);
  (void)attach_send (client, ATTACH_FAILED, buf, (uint32_t)(4 + n));
  _exit (0);
}

/* Without a terminal: the input ends; with one, ^D is data and closing would hang the terminal up. */
static void
close_input (struct session *s)
{
  if (!s->tty && s->in_w >= 0)
    {
      (void)close (s->in_w);
      s->in_w = -1;
    }
  s->pending_len = 0;
}

static void
write_pending (struct session *s)
{
  while (s->pending_len > 0)
    {
      ssize_t n = write (s->in_w, s->pending + s->pending_off, s->pending_len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n < 0)
        {
          /* the command closed its input: what it did not take is dropped, as with a pipe */
          s->in_eof = true;
          s->pending_len = 0;
          break;
        }
      s->pending_off += (size_t)n;
      s->pending_len -= (size_t)n;
    }
  if (s->in_eof)
    close_input (s);
}

static void
queue_input (struct session *s, const uint8_t *data, size_t len)
{
  if (s->in_w < 0 || s->in_eof || len == 0)
    return;
  uint8_t *p = realloc (s->pending, s->pending_off + s->pending_len + len);
  if (p == NULL)
    return;
  s->pending = p;
  memcpy (p + s->pending_off + s->pending_len, data, len);
  s->pending_len += len;
}

static void
detach (struct session *s)
{
  s->detached = true;
  (void)close (s->client);
  s->client = -1;
  /* dockerd closes an exec's input when its client detaches, unless it has a terminal */
  s->in_eof = true;
  if (s->pending_len == 0)
    close_input (s);
}

static void
handle_frame (struct session *s, const struct attach_frame *f)
{
  switch (f->type)
    {
    case ATTACH_STDIN:
      queue_input (s, f->payload, f->len);
      break;
    case ATTACH_CLOSE_STDIN:
      s->in_eof = true;
      if (s->pending_len == 0)
        close_input (s);
      break;
    case ATTACH_RESIZE:
      if (s->tty && f->len == 4)
        {
          struct winsize ws = { .ws_row = (unsigned short)(f->payload[0] << 8 | f->payload[1]),
                                .ws_col = (unsigned short)(f->payload[2] << 8 | f->payload[3]) };
          (void)ioctl (s->out_r >= 0 ? s->out_r : s->in_w, TIOCSWINSZ, &ws);
        }
      break;
    case ATTACH_SIGNAL:
      /* The helper passes it on to the command (nsexec_start); SIGKILL ends the helper, and the command with it. */
      if (f->len == 4)
        (void)kill (s->helper, (int)attach_get_u32 (f->payload));
      break;
    case ATTACH_DETACH:
      detach (s);
      break;
    default:
      break;
    }
}

static void
read_client (struct session *s)
{
  ssize_t n = attach_decoder_read (s->dec, s->client);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  struct attach_frame f;
  int r = 0;
  if (n > 0)
    while (s->client >= 0 && (r = attach_decoder_next (s->dec, &f)) == 1)
      handle_frame (s, &f);
  if (s->client >= 0 && (n <= 0 || r < 0))
    client_gone (s);
}

/* Copies one read of the command's output to the client (dropped once it has detached); false at its end. */
static bool
copy_output (struct session *s, int fd, uint8_t type)
{
  uint8_t buf[ATTACH_PAYLOAD_MAX];
  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0) /* EOF, or EIO: a terminal whose last slave closed */
    return false;
  send_frame (s, type, buf, (uint32_t)n);
  return true;
}

/* What is in the pipes or the terminal once the command has ended; not what a process it left behind writes
   later, which is not waited for. */
static void
drain (struct session *s, int fd, uint8_t type)
{
  for (int i = 0; fd >= 0 && i < 64; i++)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      if (poll (&pfd, 1, 0) <= 0 || !copy_output (s, fd, type))
        break;
    }
}

static void
relay (struct session *s, int helper_pidfd)
{
  for (;;)
    {
      struct pollfd fds[5] = {
        { .fd = s->pending_len == 0 ? s->client : -1, .events = POLLIN },
        { .fd = s->out_r, .events = POLLIN },
        { .fd = s->err_r, .events = POLLIN },
        { .fd = s->pending_len > 0 ? s->in_w : -1, .events = POLLOUT },
        { .fd = helper_pidfd, .events = POLLIN },
      };
      if (poll (fds, ARRAY_SIZE (fds), -1) < 0 && errno != EINTR)
        return;
      if (fds[1].revents && !copy_output (s, s->out_r, ATTACH_STDOUT))
        {
          if (s->out_r != s->in_w)
            (void)close (s->out_r);
          s->out_r = -1;
        }
      if (fds[2].revents && !copy_output (s, s->err_r, ATTACH_STDERR))
        {
          (void)close (s->err_r);
          s->err_r = -1;
        }
      if (fds[3].revents)
        write_pending (s);
      if (fds[0].revents)
        read_client (s);
      if (fds[4].revents)
        return;
    }
}

/* The command's stdio: pipes, or a terminal of the container's whose master arrives over a socket. */
static int
make_stdio (struct exec_request *req, int ours[3], int theirs[3], int *console)
{
  int p[2];
  if (req->io.tty)
    {
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
        return -errno;
      *console = p[0];
      req->io.console_socket = theirs[0] = p[1];
      return 0;
    }
  if (req->interactive)
    {
      if (pipe2 (p, O_CLOEXEC) < 0)
        return -errno;
      ours[0] = p[1], theirs[0] = req->io.stdin_fd = p[0];
    }
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -errno;
  ours[1] = p[0], theirs[1] = req->io.stdout_fd = p[1];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -errno;
  ours[2] = p[0], theirs[2] = req->io.stderr_fd = p[1];
  return 0;
}

void
monitor_exec_session (struct container *c, int client, struct attach_decoder *dec, const struct attach_frame *request)
{
  /* Nothing of the monitor's (its lock, log, listening socket, other clients) stays with us. */
  if (client != CLIENT_FD && dup2 (client, CLIENT_FD) < 0)
    _exit (1);
  (void)close_range (CLIENT_FD + 1, ~0U, 0);
  spawn_reset_signals ();
  (void)signal (SIGPIPE, SIG_IGN);
  int flags = fcntl (CLIENT_FD, F_GETFL);
  (void)fcntl (CLIENT_FD, F_SETFL, flags & ~O_NONBLOCK);

  isola_error_t err = NULL;
  struct process_exec_wire w;
  if (process_exec_decode (request->payload, request->len, &w, &err) < 0)
    fail (CLIENT_FD, 126, err->msg);
  struct exec_request *req = &w.req;
  /* Detached (-d), the command has /dev/null for stdio and its client goes once it has started; it is waited for
     here all the same, as an attached one whose client detached, so that its end is recorded (dockerd's exec_die). */
  bool background = req->detach;
  if (background)
    req->detach = req->interactive = req->io.tty = false;

  int ours[3] = { -1, -1, -1 }, theirs[3] = { -1, -1, -1 }, console = -1;
  if (background)
    theirs[1] = req->io.stdout_fd = req->io.stderr_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  if (background ? theirs[1] < 0 : make_stdio (req, ours, theirs, &console) < 0)
    fail (CLIENT_FD, 126, "cannot make the command's stdio");
  pid_t helper = 0;
  int code = 126;
  int ret = nsexec_start (c, req, &helper, &code, &err);
  for (int i = 0; i < 3; i++)
    if (theirs[i] >= 0)
      (void)close (theirs[i]);
  if (ret < 0)
    fail (CLIENT_FD, code, err && err->msg ? err->msg : "exec failed");

  struct session s = { .client = CLIENT_FD,
                       .dec = dec,
                       .tty = req->io.tty,
                       .in_w = ours[0],
                       .out_r = ours[1],
                       .err_r = ours[2],
                       .helper = helper };
  if (s.tty)
    {
      /* sent before the command's execve, which nsexec_start waited for */
      int master = fd_receive (console, false);
      (void)close (console);
      if (master < 0)
        {
          (void)kill (helper, SIGKILL);
          (void)waitpid_retry (helper, NULL);
          fail (CLIENT_FD, 126, "the command's terminal did not arrive");
        }
      s.in_w = s.out_r = ours[0] = master;
    }
  for (int i = 0; i < 3; i++)
    if (ours[i] >= 0)
      (void)fcntl (ours[i], F_SETFL, O_NONBLOCK);
  int helper_pidfd = (int)syscall (SYS_pidfd_open, helper, 0);
  (void)attach_send_u32 (CLIENT_FD, ATTACH_STARTED, (uint32_t)helper);
  if (background)
    detach (&s);
  /* Frames that came with the request */
  struct attach_frame f;
  while (s.client >= 0 && attach_decoder_next (dec, &f) == 1)
    handle_frame (&s, &f);
  if (helper_pidfd >= 0)
    relay (&s, helper_pidfd);
  int status = 0;
  code = waitpid_retry (helper, &status) < 0 ? 126
         : WIFEXITED (status)                ? WEXITSTATUS (status)
                                             : 128 + WTERMSIG (status);
  /* What it wrote before it ended is still in the pipes or the terminal */
  drain (&s, s.out_r, ATTACH_STDOUT);
  drain (&s, s.err_r, ATTACH_STDERR);
  /* Before EXIT: once its client has the exit code, the event is there for it to see. */
  if (req->exec_id && req->exec_id[0])
    container_exec_died (c, req->exec_id, code);
  if (s.client >= 0)
    (void)attach_send_u32 (s.client, ATTACH_EXIT, (uint32_t)code);
  _exit (0);
}
