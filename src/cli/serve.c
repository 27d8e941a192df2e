/* `isola serve` (and `isola system service`, podman's name): the Docker Engine API on a socket, served by
   isola-serve (src/serve/), which this executes with the store's root and the addresses. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sealed_exe.h"
#include "base/util.h"
#include "cli.h"

#define DEFAULT_HOST "unix:///run/isola/docker.sock"

enum
{
  OPT_HOST = 'H',
  OPT_TLSVERIFY = 1000,
  OPT_TLSCACERT,
  OPT_TLSCERT,
  OPT_TLSKEY,
};

static int
run_serve (struct cli_ctx *ctx, int argc, char **argv)
{
  const struct cli_command *cmd = strcmp (argv[0], "service") == 0 ? &cmd_system_service : &cmd_serve;
  struct flag_parser p;
  int c, exit_code = 0;
  cleanup_strv char **args = NULL, **hosts = NULL, **tls = NULL;
  strv_push (&args, "isola-serve");
  strv_push (&args, ctx->root ? ctx->root : "");
  cli_flags_init (&p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, &p, &exit_code)) > 0)
    switch (c)
      {
      case OPT_HOST:
        strv_push (&hosts, p.value);
        break;
      case OPT_TLSVERIFY:
        strv_push (&tls, "--tlsverify");
        break;
      case OPT_TLSCACERT:
      case OPT_TLSCERT:
      case OPT_TLSKEY:
        {
          const char *name = c == OPT_TLSCACERT ? "tlscacert" : c == OPT_TLSCERT ? "tlscert" : "tlskey";
          cleanup_free char *arg = xasprintf ("--%s=%s", name, p.value);
          strv_push (&tls, arg);
          break;
        }
      }
  if (c < 0)
    return exit_code;
  for (char **t = tls; t && *t; t++)
    strv_push (&args, *t);
  for (char **h = hosts; h && *h; h++)
    strv_push (&args, *h);
  if (p.nargs > 1 || (p.nargs == 1 && cmd == &cmd_serve))
    return cli_usage_error (cmd, "\"%s\" accepts no arguments.",
                            cmd == &cmd_serve ? "isola serve" : "isola system service");
  /* podman's `system service [URI]` names the address as an argument. */
  if (p.nargs == 1)
    strv_push (&args, p.args[0]);
  if (strv_len (args) == 2)
    {
      /* systemd's sockets when it started us with some, else the default socket (its directory made). */
      if (getenv ("LISTEN_FDS"))
        strv_push (&args, "fd://");
      else
        {
          (void)mkdir ("/run/isola", 0755);
          strv_push (&args, DEFAULT_HOST);
        }
    }
  const char *env = getenv ("ISOLA_SERVE");
  cleanup_free char *path = env && *env ? xstrdup (env) : path_beside_self ("isola-serve");
  if (path == NULL || access (path, X_OK) < 0)
    {
      free (path);
      path = xstrdup ("isola-serve");
    }
  fflush (stdout);
  execvp (path, args);
  fprintf (stderr, "Error: cannot run %s: %s\n", path, strerror (errno));
  return errno == ENOENT ? 127 : 126;
}

#define SERVE_FLAGS                                                                                                    \
  { "host", 'H', OPT_HOST, "list", "Daemon socket(s) to listen on (unix://PATH, tcp://127.0.0.1:PORT, fd://)" },       \
      { "tlsverify", 0, OPT_TLSVERIFY, NULL, "Use TLS on TCP sockets and require client certificates of the CA" },     \
      { "tlscacert", 0, OPT_TLSCACERT, "string", "Trust certs signed only by this CA" },                               \
      { "tlscert", 0, OPT_TLSCERT, "string", "Path to TLS certificate file" },                                         \
      { "tlskey", 0, OPT_TLSKEY, "string", "Path to TLS key file" },                                                   \
  {                                                                                                                    \
    0                                                                                                                  \
  }

const struct cli_command cmd_serve = {
  .name = "serve",
  .run = run_serve,
  .usage = "isola serve [OPTIONS]",
  .summary = "Serve the Docker Engine API (for the docker CLI, docker-py, docker-compose)",
  .flags = (const struct flag_def[]){ SERVE_FLAGS },
};

const struct cli_command cmd_system_service = {
  .name = "service",
  .run = run_serve,
  .usage = "isola system service [OPTIONS] [URI]",
  .summary = "Serve the Docker Engine API (isola serve)",
  .flags = (const struct flag_def[]){ SERVE_FLAGS },
};
