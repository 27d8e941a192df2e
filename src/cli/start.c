#define _GNU_SOURCE
#include <stdio.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"

static int
run_start (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "attach", no_argument, NULL, 'a' },
    { "interactive", no_argument, NULL, 'i' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool attach = false, interactive = false;
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_start, argc, argv, "+aih", longopts, &exit_code)) != -1)
    switch (c)
      {
      case 'a':
        attach = true;
        break;
      case 'i':
        interactive = true;
        break;
      default:
        return exit_code;
      }
  if (optind >= argc)
    return cli_usage_error (&cmd_start, "\"isola start\" requires at least 1 argument.");
  if (attach && argc - optind > 1)
    return cli_usage_error (&cmd_start, "you cannot start and attach multiple containers at once");
  for (int i = optind; i < argc; i++)
    {
      cleanup_store struct isola_store *store = NULL;
      cleanup_container struct container *ctr = NULL;
      if (cli_load_container (ctx, argv[i], &store, &ctr))
        {
          exit_code = 1;
          continue;
        }
      if (container_is_running (ctr))
        {
          if (!attach)
            printf ("%s\n", argv[i]);
          continue;
        }
      int code = cli_start_container (ctx, ctr, attach || interactive, interactive);
      if (attach || interactive)
        return code;
      if (code != 0)
        exit_code = 1;
      else
        printf ("%s\n", argv[i]);
    }
  return exit_code;
}

const struct cli_command cmd_start = {
  .name = "start",
  .run = run_start,
  .usage = "isola start [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Start one or more stopped containers",
  .options = "  -a, --attach        Attach STDOUT/STDERR and forward signals\n"
             "  -i, --interactive   Attach container's STDIN\n",
};
