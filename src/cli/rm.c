#define _GNU_SOURCE
#include <stdio.h>

#include "cli.h"
#include "container.h"
#include "lifecycle.h"
#include "util.h"

static int
run_rm (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "force", no_argument, NULL, 'f' },
    { "volumes", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool force = false;
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_rm, argc, argv, "+fvh", longopts, &exit_code)) != -1)
    switch (c)
      {
      case 'f':
        force = true;
        break;
      case 'v': /* isola has no anonymous volumes */
        break;
      default:
        return exit_code;
      }
  if (optind >= argc)
    return cli_usage_error (&cmd_rm, "\"isola rm\" requires at least 1 argument.");
  for (int i = optind; i < argc; i++)
    {
      cleanup_store struct isola_store *store = NULL;
      cleanup_container struct container *ctr = NULL;
      cleanup_error isola_error_t err = NULL;
      if (cli_load_container (ctx, argv[i], &store, &ctr))
        exit_code = 1;
      else if (container_rm (store, ctr, force, &err) < 0)
        exit_code = cli_fail (&err);
      else
        printf ("%s\n", argv[i]);
    }
  return exit_code;
}

const struct cli_command cmd_rm = {
  .name = "rm",
  .run = run_rm,
  .usage = "isola rm [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Remove one or more containers",
  .options = "  -f, --force   Force the removal of a running container (uses SIGKILL)\n",
};
