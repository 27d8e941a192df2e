/* The client side of the attach protocol, shared by run, start -a and attach: relays our stdin to the container and
   its output to our stdout/stderr, puts our terminal in raw mode for a container with a terminal (restoring it on
   the way out), sends window sizes, forwards signals, and detaches on Ctrl-P Ctrl-Q. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "proto/attach_client.h"

#define DETACH_KEY_1 0x10 /* Ctrl-P */
#define DETACH_KEY_2 0x11 /* Ctrl-Q */

struct attach_session
{
  int fd;
  struct attach_decoder *dec;
  const struct cli_attach_opts *o;
  bool saw_ctrl_p;
  int exit_code;
  bool done, detached;
};

static void
send_window_size (struct attach_session *a)
{
  struct winsize ws;
  if (!cli_window_size (&ws))
    return;
  uint8_t p[4] = { (uint8_t)(ws.ws_row >> 8), (uint8_t)ws.ws_row, (uint8_t)(ws.ws_col >> 8), (uint8_t)ws.ws_col };
  (void)attach_send (a->fd, ATTACH_RESIZE, p, 4);
}

/* With a terminal, Ctrl-P Ctrl-Q detaches; a lone Ctrl-P is passed on with what follows it. */
static void
forward_stdin (struct attach_session *a, const uint8_t *buf, size_t n)
{
  uint8_t out[4097];
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (a->o->tty && a->saw_ctrl_p)
        {
          a->saw_ctrl_p = false;
          if (buf[i] == DETACH_KEY_2)
            {
              a->detached = a->done = true;
              return;
            }
          out[m++] = DETACH_KEY_1;
        }
      if (a->o->tty && buf[i] == DETACH_KEY_1)
        {
          a->saw_ctrl_p = true;
          continue;
        }
      out[m++] = buf[i];
    }
  if (m > 0)
    (void)attach_send (a->fd, ATTACH_STDIN, out, (uint32_t)m);
}

static void
handle_frame (struct attach_session *a, const struct attach_frame *f)
{
  switch (f->type)
    {
    case ATTACH_STDOUT:
    case ATTACH_STDERR:
      (void)write_all (f->type == ATTACH_STDERR ? STDERR_FILENO : STDOUT_FILENO, f->payload, f->len);
      break;
    case ATTACH_EXIT:
      if (f->len == 4)
        a->exit_code = (int)attach_get_u32 (f->payload);
      a->done = true;
      break;
    default:
      break;
    }
}

static bool
read_monitor (struct attach_session *a)
{
  uint8_t buf[65536];
  ssize_t n = read (a->fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR)
    return true;
  if (n <= 0)
    return false;
  attach_decoder_feed (a->dec, buf, (size_t)n);
  struct attach_frame f;
  int r;
  while (!a->done && (r = attach_decoder_next (a->dec, &f)) == 1)
    handle_frame (a, &f);
  return true;
}

static int
make_signalfd (const struct cli_attach_opts *o)
{
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGWINCH);
  if (o->proxy_signals)
    {
      static const int proxied[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
      for (size_t i = 0; i < ARRAY_SIZE (proxied); i++)
        sigaddset (&set, proxied[i]);
    }
  sigprocmask (SIG_BLOCK, &set, NULL);
  return signalfd (-1, &set, SFD_CLOEXEC);
}

static void
handle_signal (struct attach_session *a, int sigfd)
{
  struct signalfd_siginfo si;
  if (read (sigfd, &si, sizeof si) != sizeof si)
    return;
  if (si.ssi_signo == SIGWINCH)
    send_window_size (a);
  else
    (void)attach_send_u32 (a->fd, ATTACH_SIGNAL, si.ssi_signo);
}

int
cli_attach_loop (int fd, struct attach_decoder *dec, const struct cli_attach_opts *o)
{
  struct attach_session a = { .fd = fd, .dec = dec, .o = o, .exit_code = 125 };
  cleanup_close int sigfd = make_signalfd (o);
  if (o->tty)
    {
      cli_terminal_raw ();
      send_window_size (&a);
    }
  /* Frames that arrived with the start message. */
  struct attach_frame f;
  while (!a.done && attach_decoder_next (dec, &f) == 1)
    handle_frame (&a, &f);
  bool stdin_open = o->stdin;
  bool monitor_open = true;
  while (!a.done)
    {
      struct pollfd fds[3] = { { .fd = fd, .events = POLLIN },
                               { .fd = sigfd, .events = POLLIN },
                               { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN } };
      if (poll (fds, 3, -1) < 0 && errno != EINTR)
        break;
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !(monitor_open = read_monitor (&a)))
        break;
      if (fds[1].revents & POLLIN)
        handle_signal (&a, sigfd);
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
        {
          uint8_t buf[4096];
          ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
          if (n > 0)
            forward_stdin (&a, buf, (size_t)n);
          else if (n == 0 || errno != EINTR)
            {
              stdin_open = false;
              (void)attach_send (fd, ATTACH_CLOSE_STDIN, NULL, 0);
            }
        }
    }
  cli_terminal_restore ();
  if (a.detached)
    return 0;
  if (!a.done && !monitor_open)
    {
      fprintf (stderr, "Error: lost the connection to the container's monitor\n");
      return 125;
    }
  return a.exit_code;
}

static int
run_attach (struct cli_ctx *ctx, int argc, char **argv)
{
  bool no_stdin = false, sig_proxy = true;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_attach, argc, argv);
  while ((c = cli_flag_next (&cmd_attach, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'n':
        no_stdin = p.on;
        break;
      case 's':
        sig_proxy = p.on;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 1)
    return cli_usage_error (&cmd_attach, "\"isola attach\" requires exactly 1 argument.");
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *ctr = NULL;
  if (cli_load_container (ctx, p.args[0], &store, &ctr))
    return 1;
  struct cli_attach_opts o = { .tty = container_tty (ctr), .stdin = !no_stdin && container_open_stdin (ctr) };
  o.proxy_signals = sig_proxy && !o.tty;
  cleanup_error isola_error_t err = NULL;
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1;
  if (container_attach (ctr, &fd, &dec, &err) < 0)
    {
      attach_decoder_clear (&dec);
      return cli_fail (&err);
    }
  int code = cli_attach_loop (fd, &dec, &o);
  close (fd);
  attach_decoder_clear (&dec);
  return code;
}

const struct cli_command cmd_attach = {
  .name = "attach",
  .run = run_attach,
  .usage = "isola attach [OPTIONS] CONTAINER",
  .summary = "Attach local standard input, output, and error streams to a running container",
  .flags = (const struct flag_def[]){
      { "no-stdin", 0, 'n', NULL, "Do not attach STDIN" },
      { "sig-proxy", 0, 's', NULL, "Proxy all received signals to the process (default true)" },
      { 0 },
  },
};
