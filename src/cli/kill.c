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
  int sig = SIGKILL, c, exit_code = 0;
  struct flag_parser p;
  cli_flags_init (&p, &cmd_kill, argc, argv);
  while ((c = cli_flag_next (&cmd_kill, &p, &exit_code)) > 0)
    if (c == 's' && (sig = signal_from_name (p.value)) < 0)
      return cli_usage_error (&cmd_kill, "invalid signal: %s", p.value);
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_kill, "\"isola kill\" requires at least 1 argument.");
  return cli_each_container_any (ctx, p.args, p.nargs, kill_one, &sig, true);
}

const struct cli_command cmd_kill = {
  .name = "kill",
  .run = run_kill,
  .usage = "isola kill [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Kill one or more running containers",
  .flags = (const struct flag_def[]){
      { "signal", 's', 's', "string", "Signal to send to the container (default \"KILL\")" },
      { 0 },
  },
};
