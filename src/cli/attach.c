/* The client side of the attach protocol, shared by run, start -a and attach: relays our stdin to the container and
   its output to our stdout/stderr, puts our terminal in raw mode for a container with a terminal (restoring it on
   the way out), sends window sizes, forwards signals, and detaches on the detach keys (Ctrl-P Ctrl-Q unless
   --detach-keys or ROOT/config.json's "detachKeys" say otherwise). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "proto/attach_client.h"
#include "proto/detach_keys.h"
#include "store/store.h"

/* How much of our stdin goes into one frame. */
#define ATTACH_STDIN_CHUNK (32 * 1024)

struct attach_session
{
  int fd;
  struct attach_decoder *dec;
  const struct cli_attach_opts *o;
  struct detach_keys keys; /* with a terminal, the detach keys and how many of them our stdin last typed */
  int exit_code;
  bool done, detached;
  /* What the monitor has not taken yet.  We never block on sending: the monitor takes input only as fast as the
     container does, and meanwhile its output must keep coming (a container like `cat` would otherwise wait for us
     to read while we wait for it to read).  Our stdin is not read while this is non-empty. */
  uint8_t *out;
  size_t out_head, out_len, out_cap;
  bool broken;
};

static void
session_flush (struct attach_session *a)
{
  while (a->out_len > 0 && !a->broken)
    {
      ssize_t n = send (a->fd, a->out + a->out_head, a->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          a->broken = errno != EAGAIN && errno != EWOULDBLOCK;
          return;
        }
      a->out_head += (size_t)n;
      a->out_len -= (size_t)n;
    }
  if (a->out_len == 0)
    a->out_head = 0;
}

/* Queues a frame for the monitor and sends what it takes now. */
static void
session_send (struct attach_session *a, uint8_t type, const void *payload, uint32_t len)
{
  size_t n = ATTACH_HEADER_SIZE + len;
  if (a->out_head + a->out_len + n > a->out_cap)
    {
      if (a->out_len)
        memmove (a->out, a->out + a->out_head, a->out_len);
      a->out_head = 0;
      if (a->out_len + n > a->out_cap)
        {
          a->out_cap = a->out_len + n;
          a->out = xrealloc (a->out, a->out_cap);
        }
    }
  attach_encode (a->out + a->out_head + a->out_len, type, payload, len);
  a->out_len += n;
  session_flush (a);
}

static void
session_send_u32 (struct attach_session *a, uint8_t type, uint32_t value)
{
  uint8_t p[4];
  attach_put_u32 (p, value);
  session_send (a, type, p, 4);
}

static void
send_window_size (struct attach_session *a)
{
  struct winsize ws;
  if (!cli_window_size (&ws))
    return;
  uint8_t p[4] = { (uint8_t)(ws.ws_row >> 8), (uint8_t)ws.ws_row, (uint8_t)(ws.ws_col >> 8), (uint8_t)ws.ws_col };
  session_send (a, ATTACH_RESIZE, p, 4);
}

/* --- detach keys ---------------------------------------------------------------------------------------------- */

int
cli_detach_keys (struct cli_ctx *ctx, const char *flag, struct cli_attach_opts *o)
{
  cleanup_json json_t *config = NULL;
  const char *spec = flag;
  if (spec == NULL || spec[0] == '\0')
    {
      cleanup_error isola_error_t err = NULL;
      if (store_config_load (ctx->root, &config, &err) < 0)
        return cli_fail (&err), EXIT_USAGE;
      spec = json_string_value (json_object_get (config, "detachKeys"));
    }
  if (spec == NULL || spec[0] == '\0')
    spec = DETACH_KEYS_DEFAULT;
  if (detach_keys_parse (spec, &o->detach_keys) < 0)
    {
      fprintf (stderr, "Error: Invalid detach keys (%s) provided\n", spec);
      return 1; /* the daemon's refusal of the attach, in docker */
    }
  return 0;
}

/* With a terminal, the detach keys detach and are not passed on (proto/detach_keys.h). */
static void
forward_stdin (struct attach_session *a, const uint8_t *buf, size_t n)
{
  uint8_t out[ATTACH_STDIN_CHUNK + DETACH_KEYS_MAX];
  size_t m = 0;
  if (detach_keys_filter (&a->keys, buf, n, out, &m))
    {
      /* what came before the sequence still goes */
      if (m > 0)
        session_send (a, ATTACH_STDIN, out, (uint32_t)m);
      /* An exec's session ends with its connection, unless the monitor hears that we detach. */
      session_send (a, ATTACH_DETACH, NULL, 0);
      a->detached = a->done = true;
      return;
    }
  if (m > 0)
    session_send (a, ATTACH_STDIN, out, (uint32_t)m);
}

static void
handle_frame (struct attach_session *a, const struct attach_frame *f)
{
  switch (f->type)
    {
    case ATTACH_STDOUT:
      if (a->o->stdout)
        (void)write_all (STDOUT_FILENO, f->payload, f->len);
      break;
    case ATTACH_STDERR:
      if (a->o->stderr)
        (void)write_all (STDERR_FILENO, f->payload, f->len);
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

/* Large reads into the decoder itself: the container's output comes this way at hundreds of MB/s. */
static bool
read_monitor (struct attach_session *a)
{
  ssize_t n = attach_decoder_read (a->dec, a->fd);
  if (n < 0 && errno == EINTR)
    return true;
  if (n <= 0)
    return false;
  struct attach_frame f;
  int r;
  while (!a->done && (r = attach_decoder_next (a->dec, &f)) == 1)
    handle_frame (a, &f);
  return true;
}

/* What an attached client forwards to the container (Docker's CLI forwards every signal it can catch but SIGCHLD,
   SIGPIPE and SIGURG): not the ones that say something is wrong with us, nor those about our own terminal. */
static const int proxied_signals[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1, SIGUSR2,   SIGALRM, SIGTERM, SIGSTKFLT,
                                       SIGCONT, SIGTSTP, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,   SIGPWR };

/* Raw, a signal that ends us must not leave the user's terminal so: the handlers put it back first. */
static void
restore_terminal_and_die (int sig)
{
  cli_terminal_restore ();
  (void)signal (sig, SIG_DFL);
  (void)raise (sig);
}

static int
make_signalfd (const struct cli_attach_opts *o)
{
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGWINCH);
  for (size_t i = 0; i < ARRAY_SIZE (proxied_signals); i++)
    if (o->proxy_signals)
      sigaddset (&set, proxied_signals[i]);
    else if (o->tty)
      (void)signal (proxied_signals[i], restore_terminal_and_die);
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
    session_send_u32 (a, ATTACH_SIGNAL, si.ssi_signo);
}

int
cli_attach_loop (int fd, struct attach_decoder *dec, const struct cli_attach_opts *o)
{
  struct attach_session a = { .fd = fd, .dec = dec, .o = o, .exit_code = 125 };
  if (o->tty)
    a.keys = o->detach_keys;
  cleanup_close int sigfd = make_signalfd (o);
  if (o->tty)
    {
      /* Only when we relay keys, as docker: with -t alone, ^C is a signal of ours (forwarded with --sig-proxy). */
      if (o->stdin)
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
      struct pollfd fds[3] = { { .fd = fd, .events = (short)(POLLIN | (a.out_len ? POLLOUT : 0)) },
                               { .fd = sigfd, .events = POLLIN },
                               { .fd = stdin_open && !a.out_len ? STDIN_FILENO : -1, .events = POLLIN } };
      if (poll (fds, 3, -1) < 0 && errno != EINTR)
        break;
      if (fds[0].revents & POLLOUT)
        session_flush (&a);
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !(monitor_open = read_monitor (&a)))
        break;
      if (fds[1].revents & POLLIN)
        handle_signal (&a, sigfd);
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
        {
          uint8_t buf[ATTACH_STDIN_CHUNK];
          ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
          if (n > 0)
            forward_stdin (&a, buf, (size_t)n);
          else if (n == 0 || errno != EINTR)
            {
              stdin_open = false;
              forward_stdin (&a, NULL, 0); /* what was held of a partial detach sequence */
              session_send (&a, ATTACH_CLOSE_STDIN, NULL, 0);
            }
        }
    }
  cli_terminal_restore ();
  /* Detached: the keys typed before the sequence are on their way, not lost with the connection. */
  for (int waited = 0; a.detached && a.out_len > 0 && !a.broken && waited < 5000; waited += 100)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLOUT };
      if (poll (&pfd, 1, 100) > 0)
        session_flush (&a);
    }
  free (a.out);
  if (a.detached && o->detached)
    *o->detached = true;
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
  const char *detach_keys = NULL;
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
      case 'k':
        detach_keys = p.value;
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
  if (container_is_paused (ctr))
    {
      fprintf (stderr, "Error: You cannot attach to a paused container, unpause it first\n");
      return 1;
    }
  struct cli_attach_opts o = {
    .tty = container_tty (ctr), .stdin = !no_stdin && container_open_stdin (ctr), .stdout = true, .stderr = true
  };
  /* As Docker's: no proxy for a container with a terminal, whose keys are the signals. */
  o.proxy_signals = sig_proxy && !o.tty;
  if (cli_detach_keys (ctx, detach_keys, &o))
    return 1;
  cleanup_error isola_error_t err = NULL;
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1;
  if (container_attach_client (ctr, &fd, &dec, &err) < 0)
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
      { "detach-keys", 0, 'k', "string", "Override the key sequence for detaching a container" },
      { "no-stdin", 0, 'n', NULL, "Do not attach STDIN" },
      { "sig-proxy", 0, 's', NULL, "Proxy all received signals to the process (default true)" },
      { 0 },
  },
};
