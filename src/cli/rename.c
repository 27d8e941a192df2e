#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"

static int
run_rename (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_rename, argc, argv, "+h", longopts, &exit_code)) != -1)
    return exit_code;
  if (argc - optind != 2)
    return cli_usage_error (&cmd_rename, "\"isola rename\" requires exactly 2 arguments.");
  /* The store's exclusive lock makes the name check and the change one step against concurrent creates. */
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  if (container_rename (store, argv[optind], argv[optind + 1], &err) < 0)
    return cli_fail (&err);
  return 0;
}

const struct cli_command cmd_rename = {
  .name = "rename",
  .run = run_rename,
  .usage = "isola rename CONTAINER NEW_NAME",
  .summary = "Rename a container",
};
