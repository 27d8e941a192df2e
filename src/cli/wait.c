#define _GNU_SOURCE
#include <stdio.h>

#include "cli.h"
#include "container.h"
#include "jsonutil.h"
#include "util.h"

/* Blocks until each container stops, then prints its exit code, as docker wait does. */
static int
run_wait (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_wait, argc, argv, "+h", longopts, &exit_code)) != -1)
    return exit_code;
  if (optind >= argc)
    return cli_usage_error (&cmd_wait, "\"isola wait\" requires at least 1 argument.");
  for (int i = optind; i < argc; i++)
    {
      cleanup_store struct isola_store *store = NULL;
      cleanup_container struct container *ctr = NULL;
      cleanup_error isola_error_t err = NULL;
      if (cli_load_container (ctx, argv[i], &store, &ctr))
        {
          exit_code = 1;
          continue;
        }
      if (container_wait_stopped (ctr, &err) < 0)
        {
          exit_code = cli_fail (&err);
          continue;
        }
      printf ("%lld\n", (long long)json_integer_value (json_object_get (ctr->state, "ExitCode")));
    }
  return exit_code;
}

const struct cli_command cmd_wait = {
  .name = "wait",
  .run = run_wait,
  .usage = "isola wait CONTAINER [CONTAINER...]",
  .summary = "Block until one or more containers stop, then print their exit codes",
};
