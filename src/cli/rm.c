#define _GNU_SOURCE
#include <stdio.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"

static int
rm_one (struct isola_store *s, struct container *c, void *arg, isola_error_t *err)
{
  return container_rm (s, c, *(bool *)arg, err);
}

static int
run_rm (struct cli_ctx *ctx, int argc, char **argv)
{
  bool force = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_rm, argc, argv);
  while ((c = cli_flag_next (&cmd_rm, &p, &exit_code)) > 0)
    if (c == 'f')
      force = p.on;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_rm, "\"isola rm\" requires at least 1 argument.");
  return cli_each_container (ctx, p.args, p.nargs, rm_one, &force, true);
}

const struct cli_command cmd_rm = {
  .name = "rm",
  .run = run_rm,
  .usage = "isola rm [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Remove one or more containers",
  .flags = (const struct flag_def[]){
      { "force", 'f', 'f', NULL, "Force the removal of a running container (uses SIGKILL)" },
      { "volumes", 'v', 'v', NULL, "Remove anonymous volumes associated with the container (isola makes none)" },
      { 0 },
  },
};
