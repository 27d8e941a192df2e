#define _GNU_SOURCE
#include <stdio.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"

static int
wait_one (struct isola_store *s, struct container *c, void *arg, isola_error_t *err)
{
  (void)s, (void)arg;
  int ret = container_wait_exit (c, err);
  if (ret == 0)
    printf ("%lld\n", (long long)json_integer_value (json_object_get (c->state, "ExitCode")));
  return ret;
}

/* Blocks until each container stops, then prints its exit code, as docker wait does. */
static int
run_wait (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (&cmd_wait, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_wait, "\"isola wait\" requires at least 1 argument.");
  return cli_each_container (ctx, p.args, p.nargs, wait_one, NULL, false);
}

const struct cli_command cmd_wait = {
  .name = "wait",
  .run = run_wait,
  .usage = "isola wait CONTAINER [CONTAINER...]",
  .summary = "Block until one or more containers stop, then print their exit codes",
};
