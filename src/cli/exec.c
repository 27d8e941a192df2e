/* `isola exec`: Docker's flags turned into an exec request for the container's driver.  Without -t the command
   uses our stdio directly.  With -t it gets a terminal of the container's own (so that tty(1) and job control work
   inside), whose master the driver sends over a socket; a relay process copies between it and our stdio while the
   driver waits for the command, and follows our window size. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/sealed_exe.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "container/container_event.h"
#include "driver/driver.h"
#include "proto/attach_client.h"
#include "store/store.h"

enum
{
  OPT_ENV_FILE = 1000,
  OPT_PRIVILEGED,
};

static const struct flag_def exec_flags[] = {
  { "detach", 'd', 'd', NULL, "Detached mode: run command in the background" },
  { "env", 'e', 'e', "list", "Set environment variables" },
  { "env-file", 0, OPT_ENV_FILE, "list", "Read in a file of environment variables" },
  { "interactive", 'i', 'i', NULL, "Keep STDIN open even if not attached" },
  { "privileged", 0, OPT_PRIVILEGED, NULL, "Give extended privileges to the command" },
  { "tty", 't', 't', NULL, "Allocate a pseudo-TTY" },
  { "user", 'u', 'u', "string", "Username or UID (format: \"<name|uid>[:<group|gid>]\")" },
  { "workdir", 'w', 'w', "string", "Working directory inside the container" },
  { 0 },
};

/* --- flags ---------------------------------------------------------------------------------------------------- */

/* Returns 0 to go on with the positional arguments in p, -1 after --help, or the exit code of a usage error. */
static int
parse_exec_flags (struct flag_parser *p, int argc, char **argv, struct exec_request *req, char ***env)
{
  int c, exit_code = 0;
  cleanup_error isola_error_t err = NULL;
  cli_flags_init (p, &cmd_exec, argc, argv);
  while ((c = cli_flag_next (&cmd_exec, p, &exit_code)) > 0)
    switch (c)
      {
      case 'd':
        req->detach = p->on;
        break;
      case 'i':
        req->interactive = p->on;
        break;
      case 't':
        req->io.tty = p->on;
        break;
      case 'e':
        cli_env_add (env, p->value);
        break;
      case OPT_ENV_FILE:
        if (cli_env_file_add (env, p->value, &err) < 0)
          {
            cli_fail (&err);
            return EXIT_USAGE;
          }
        break;
      case 'u':
        req->user = p->value;
        break;
      case 'w':
        if (p->value[0] != '/')
          return cli_usage_error (&cmd_exec, "the working directory '%s' is invalid, it needs to be an absolute path",
                                  p->value);
        req->cwd = p->value;
        break;
      case OPT_PRIVILEGED:
        req->privileged = p->on;
        break;
      }
  if (c < 0)
    return exit_code == 0 ? -1 : exit_code;
  return 0;
}

/* --- our terminal --------------------------------------------------------------------------------------------- */

/* Raw, a signal that ends us must not leave the user's terminal so: the handlers put it back first. */
static void
restore_terminal_and_die (int sig)
{
  cli_terminal_restore ();
  (void)signal (sig, SIG_DFL);
  (void)raise (sig);
}

static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void
enter_raw_mode (void)
{
  for (size_t i = 0; i < ARRAY_SIZE (fatal_signals); i++)
    (void)signal (fatal_signals[i], restore_terminal_and_die);
  cli_terminal_raw ();
}

/* --- the relay: the container's terminal <-> our stdio ------------------------------------------------------- */

/* Copies what is readable now; false at the end of input or when the output is gone. */
static bool
copy_once (int from, int to)
{
  char buf[32768];
  ssize_t n = read (from, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  return n > 0 && write_all (to, buf, (size_t)n) == 0;
}

static void
copy_window_size (int master)
{
  struct winsize ws;
  (void)cli_window_size (&ws);
  if (ws.ws_row && ws.ws_col)
    (void)ioctl (master, TIOCSWINSZ, &ws);
}

/* How long the relay keeps reading once the command has exited, should something it started still hold the
   terminal open: the master only reports the end when the last holder closes it. */
#define DRAIN_QUIET_MS 200

/* SIGWINCH: our window changed; SIGUSR1: the command has exited, drain and stop. */
static void
relay_loop (int master, bool forward_stdin, int sigfd)
{
  struct pollfd fds[3] = {
    { .fd = master, .events = POLLIN },
    { .fd = sigfd, .events = POLLIN },
    { .fd = forward_stdin ? STDIN_FILENO : -1, .events = POLLIN },
  };
  bool draining = false;
  for (;;)
    {
      int n = poll (fds, ARRAY_SIZE (fds), draining ? DRAIN_QUIET_MS : -1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      if (fds[0].revents && !copy_once (master, STDOUT_FILENO))
        return;
      /* The command may be gone while we still type: its terminal then refuses input, which is fine. */
      if (fds[2].revents && !copy_once (STDIN_FILENO, master))
        fds[2].fd = -1;
      struct signalfd_siginfo si;
      if (fds[1].revents && read (sigfd, &si, sizeof si) == sizeof si)
        {
          if (si.ssi_signo == SIGWINCH)
            copy_window_size (master);
          else
            draining = true;
        }
    }
}

static const int relay_signals[] = { SIGWINCH, SIGUSR1 };

static sigset_t
relay_sigset (void)
{
  sigset_t set;
  sigemptyset (&set);
  for (size_t i = 0; i < ARRAY_SIZE (relay_signals); i++)
    sigaddset (&set, relay_signals[i]);
  return set;
}

/* Runs in its own process while we wait in the driver.  It dies with us; the terminal is ours to restore. */
static __attribute__ ((noreturn)) void
relay_main (int console_sock, int driver_sock, bool forward_stdin, pid_t cli)
{
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () != cli)
    _exit (0);
  /* The driver's end: held here too, it would keep our end from ever seeing the socket close. */
  (void)close (driver_sock);
  for (size_t i = 0; i < ARRAY_SIZE (fatal_signals); i++)
    (void)signal (fatal_signals[i], SIG_DFL);
  sigset_t set = relay_sigset ();
  int sigfd = signalfd (-1, &set, SFD_CLOEXEC);
  /* The master arrives once the command's terminal exists; the socket closes without one when it failed. */
  int master = fd_receive (console_sock, false);
  (void)close (console_sock);
  if (master < 0 || sigfd < 0)
    _exit (0);
  copy_window_size (master);
  relay_loop (master, forward_stdin, sigfd);
  _exit (0);
}

/* The relay's signals are blocked from before the fork, so that none is lost or kills it before its signalfd. */
static pid_t
start_relay (int console_sock, int driver_sock, bool forward_stdin)
{
  sigset_t set = relay_sigset (), old;
  (void)sigprocmask (SIG_BLOCK, &set, &old);
  pid_t cli = getpid ();
  pid_t pid = fork ();
  if (pid == 0)
    relay_main (console_sock, driver_sock, forward_stdin, cli);
  (void)sigprocmask (SIG_SETMASK, &old, NULL);
  return pid;
}

static void
stop_relay (pid_t pid)
{
  if (pid <= 0)
    return;
  (void)kill (pid, SIGUSR1);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

/* --- running it ----------------------------------------------------------------------------------------------- */

static int
exec_plain (const struct isola_driver *d, struct container *c, struct exec_request *req)
{
  cleanup_error isola_error_t err = NULL;
  int code = EXIT_CMD_FAILED;
  req->io.stdin_fd = STDIN_FILENO, req->io.stdout_fd = STDOUT_FILENO, req->io.stderr_fd = STDERR_FILENO;
  if (d->exec (c, req, &code, &err) < 0)
    cli_fail (&err);
  return code;
}

static int
exec_with_terminal (const struct isola_driver *d, struct container *c, struct exec_request *req)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      fprintf (stderr, "Error: socketpair: %s\n", strerror (errno));
      return EXIT_CMD_FAILED;
    }
  struct winsize ws;
  (void)cli_window_size (&ws);
  req->io.rows = ws.ws_row, req->io.cols = ws.ws_col;
  req->io.console_socket = sv[1];
  /* Only when we relay keys: with -t alone, ^C must still stop us. */
  if (req->interactive && isatty (STDIN_FILENO))
    enter_raw_mode ();
  pid_t relay = start_relay (sv[0], sv[1], req->interactive);
  (void)close (sv[0]);

  cleanup_error isola_error_t err = NULL;
  int code = EXIT_CMD_FAILED;
  int ret = relay < 0 ? -errno : d->exec (c, req, &code, &err);
  (void)close (sv[1]);
  stop_relay (relay);
  cli_terminal_restore ();
  if (relay < 0)
    fprintf (stderr, "Error: fork: %s\n", strerror (-ret));
  else if (ret < 0)
    cli_fail (&err);
  return code;
}

/* A driver whose processes only its monitor reaches (vm): the command's stdio travels over an attach session. */
static int
exec_through_monitor (const struct isola_driver *d, struct container *c, struct exec_request *req)
{
  cleanup_error isola_error_t err = NULL;
  if (req->io.tty)
    {
      struct winsize ws;
      (void)cli_window_size (&ws);
      req->io.rows = ws.ws_row, req->io.cols = ws.ws_col;
    }
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  cleanup_close int fd = -1;
  int code = EXIT_CMD_FAILED;
  if (d->exec_session (c, req, &fd, &dec, &err) < 0 || attach_client_wait_started (fd, &dec, &code, &err) < 0)
    {
      attach_decoder_clear (&dec);
      if (code == 0)
        code = EXIT_CMD_FAILED;
      cli_fail (&err);
      return code;
    }
  if (req->detach)
    {
      attach_decoder_clear (&dec);
      return 0;
    }
  struct cli_attach_opts o = {
    .stdin = req->interactive, .tty = req->io.tty, .proxy_signals = !req->io.tty, .stdout = true, .stderr = true
  };
  /* Ctrl-P Ctrl-Q, as before --detach-keys: an exec's session ends with its client. */
  (void)cli_detach_keys_parse ("ctrl-p,ctrl-q", &o);
  code = cli_attach_loop (fd, &dec, &o);
  attach_decoder_clear (&dec);
  return code;
}

static int
run_exec (struct cli_ctx *ctx, int argc, char **argv)
{
  struct exec_request req = { .io = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .console_socket = -1 } };
  cleanup_strv char **env = NULL;
  struct flag_parser p;
  int ret = parse_exec_flags (&p, argc, argv, &req, &env);
  if (ret != 0)
    return ret < 0 ? 0 : ret;
  if (p.nargs < 2)
    return cli_usage_error (&cmd_exec, "\"isola exec\" requires at least 2 arguments.");
  if (req.interactive && req.io.tty && !req.detach && !isatty (STDIN_FILENO))
    {
      fprintf (stderr, "the input device is not a TTY\n");
      return EXIT_CMD_FAILED;
    }
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *c = NULL;
  if (cli_load_container (ctx, p.args[0], &store, &c))
    return EXIT_CMD_FAILED;
  if (!container_is_running (c))
    {
      fprintf (stderr, "Error: container %s is not running\n", c->id);
      return EXIT_CMD_FAILED;
    }
  if (container_is_paused (c))
    {
      /* Docker names it as the user did */
      fprintf (stderr, "Error: Container %s is paused, unpause the container before exec\n", p.args[0]);
      return EXIT_CMD_FAILED;
    }
  if (container_is_restarting (c))
    {
      fprintf (stderr, "Error: Container %s is restarting, wait until the container is running\n", c->id);
      return EXIT_CMD_FAILED;
    }
  const struct isola_driver *d = driver_of (c);
  cleanup_error isola_error_t err = NULL;
  if (container_seccomp_ensure (store, c, &err) < 0)
    {
      cli_fail (&err);
      return EXIT_CMD_FAILED;
    }
  req.argv = p.args + 1;
  req.env = env;
  /* Detached, the command has /dev/null for stdio: there is no terminal to relay. */
  if (req.detach)
    req.io.tty = false;
  char exec_id[65];
  int code;
  if (d->exec == NULL)
    {
      container_exec_started (c, req.argv, exec_id);
      code = exec_through_monitor (d, c, &req);
    }
  else
    {
      /* The command is forked from us and resolved inside the container: from here on we run from a sealed copy
         of our executable, never from the file on the host (base/sealed_exe.h).  The first time, this starts the
         command over from the copy, which gets here again (and only then tells of the exec). */
      if (sealed_exe_ensure (ctx->argv, &err) < 0)
        {
          cli_fail (&err);
          return EXIT_CMD_FAILED;
        }
      container_exec_started (c, req.argv, exec_id);
      code = req.io.tty ? exec_with_terminal (d, c, &req) : exec_plain (d, c, &req);
    }
  /* A detached command's end is not waited for: no exec_die (docs/STORE.md). */
  if (!req.detach)
    container_exec_died (c, exec_id, code);
  return code;
}

const struct cli_command cmd_exec = {
  .name = "exec",
  .run = run_exec,
  .usage = "isola exec [OPTIONS] CONTAINER COMMAND [ARG...]",
  .summary = "Execute a command in a running container",
  .flags = exec_flags,
  .command_follows = true,
};
