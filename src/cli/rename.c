#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"

static int
run_rename (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (&cmd_rename, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  if (p.nargs != 2)
    return cli_usage_error (&cmd_rename, "\"isola rename\" requires exactly 2 arguments.");
  /* The store's exclusive lock makes the name check and the change one step against concurrent creates. */
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  if (container_rename_logged (store, p.args[0], p.args[1], &err) < 0)
    return cli_fail (&err);
  return 0;
}

const struct cli_command cmd_rename = {
  .name = "rename",
  .run = run_rename,
  .usage = "isola rename CONTAINER NEW_NAME",
  .summary = "Rename a container",
};
