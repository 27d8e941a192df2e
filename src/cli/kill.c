#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"

static int
kill_one (struct isola_store *s, struct container *c, void *arg, isola_error_t *err)
{
  (void)s;
  return container_kill (c, *(int *)arg, err);
}

static int
run_kill (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "signal", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int sig = SIGKILL, c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_kill, argc, argv, "+s:h", longopts, &exit_code)) != -1)
    switch (c)
      {
      case 's':
        if ((sig = signal_from_name (optarg)) < 0)
          return cli_usage_error (&cmd_kill, "invalid signal: %s", optarg);
        break;
      default:
        return exit_code;
      }
  if (optind >= argc)
    return cli_usage_error (&cmd_kill, "\"isola kill\" requires at least 1 argument.");
  return cli_each_container (ctx, argv + optind, argc - optind, kill_one, &sig, true);
}

const struct cli_command cmd_kill = {
  .name = "kill",
  .run = run_kill,
  .usage = "isola kill [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Kill one or more running containers",
  .options = "  -s, --signal string   Signal to send to the container (default \"KILL\")\n",
};
