/* `isola exec`: Docker's flags turned into an exec request, which the container's monitor runs (for a VM, its
   agent): the command's stdio, window size, signals and detach keys travel over an attach session, as `attach`'s
   do.  The command is never forked from our executable, so nothing in the container can reach the file on the
   host through it (CVE-2019-5736), and it outlives us when we detach. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

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
  OPT_DETACH_KEYS,
};

static const struct flag_def exec_flags[] = {
  { "detach", 'd', 'd', NULL, "Detached mode: run command in the background" },
  { "detach-keys", 0, OPT_DETACH_KEYS, "string", "Override the key sequence for detaching a container" },
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
parse_exec_flags (struct flag_parser *p, int argc, char **argv, struct exec_request *req, char ***env,
                  const char **detach_keys)
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
      case OPT_DETACH_KEYS:
        *detach_keys = p->value;
        break;
      }
  if (c < 0)
    return exit_code == 0 ? -1 : exit_code;
  return 0;
}

/* --- running it ----------------------------------------------------------------------------------------------- */

/* The command is the monitor's (process_exec.h, a VM's agent's): its stdio travels over an attach session, which
   the detach keys leave with the command running (*detached). */
static int
exec_through_monitor (const struct isola_driver *d, struct container *c, struct exec_request *req,
                      struct cli_attach_opts *o)
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
  /* Raw before the command starts (see cli_start_container). */
  if (req->io.tty && req->interactive && !req->detach)
    cli_terminal_raw ();
  if (d->exec_session (c, req, &fd, &dec, &err) < 0 || attach_client_wait_started (fd, &dec, &code, &err) < 0)
    {
      cli_terminal_restore ();
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
  o->stdin = req->interactive, o->tty = req->io.tty, o->proxy_signals = !req->io.tty;
  o->stdout = o->stderr = true;
  code = cli_attach_loop (fd, &dec, o);
  attach_decoder_clear (&dec);
  return code;
}

static int
run_exec (struct cli_ctx *ctx, int argc, char **argv)
{
  struct exec_request req = { .io = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .console_socket = -1 } };
  cleanup_strv char **env = NULL;
  struct flag_parser p;
  const char *detach_keys = NULL;
  int ret = parse_exec_flags (&p, argc, argv, &req, &env, &detach_keys);
  if (ret != 0)
    return ret < 0 ? 0 : ret;
  if (p.nargs < 2)
    return cli_usage_error (&cmd_exec, "\"isola exec\" requires at least 2 arguments.");
  if (req.interactive && req.io.tty && !req.detach && !isatty (STDIN_FILENO))
    {
      fprintf (stderr, "the input device is not a TTY\n");
      return EXIT_CMD_FAILED;
    }
  bool detached = false;
  struct cli_attach_opts o = { .detached = &detached };
  /* Checked also with -d, as Docker's daemon checks them at exec create */
  if (cli_detach_keys (ctx, detach_keys, &o))
    return EXIT_CMD_FAILED;
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
  container_exec_started (c, req.argv, exec_id);
  req.exec_id = exec_id;
  int code = exec_through_monitor (d, c, &req, &o);
  /* The monitor saw the command end and recorded its exec_die (also after -d or the detach keys, as dockerd does);
     the detach keys leave an exec_detach. */
  if (detached)
    {
      container_exec_detached (c, exec_id);
      /* The docker CLI's exec ends with the escape proxy's error */
      fprintf (stderr, "read escape sequence\n");
      code = EXIT_CMD_FAILED;
    }
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
