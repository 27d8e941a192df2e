/* `isola pause` and `isola unpause`: Docker's, for every isolation mode (container/lifecycle.h). */
#define _GNU_SOURCE
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"

static int
pause_one (struct isola_store *s, struct container *c, void *arg, isola_error_t *err)
{
  (void)s;
  return *(bool *)arg ? container_pause (c, err) : container_unpause (c, err);
}

static int
run_pause_or_unpause (struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv, bool paused)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (cmd, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (cmd, "\"isola %s\" requires at least 1 argument.", cmd->name);
  return cli_each_container (ctx, p.args, p.nargs, pause_one, &paused, true);
}

static int
run_pause (struct cli_ctx *ctx, int argc, char **argv)
{
  return run_pause_or_unpause (ctx, &cmd_pause, argc, argv, true);
}

static int
run_unpause (struct cli_ctx *ctx, int argc, char **argv)
{
  return run_pause_or_unpause (ctx, &cmd_unpause, argc, argv, false);
}

const struct cli_command cmd_pause = {
  .name = "pause",
  .run = run_pause,
  .usage = "isola pause CONTAINER [CONTAINER...]",
  .summary = "Pause all processes within one or more containers",
  .flags = (const struct flag_def[]){ { 0 } },
};

const struct cli_command cmd_unpause = {
  .name = "unpause",
  .run = run_unpause,
  .usage = "isola unpause CONTAINER [CONTAINER...]",
  .summary = "Unpause all processes within one or more containers",
  .flags = (const struct flag_def[]){ { 0 } },
};
