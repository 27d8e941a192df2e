#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/container_event.h"
#include "container/lifecycle.h"

static int
parse_timeout (const struct cli_command *cmd, const char *arg, int *out)
{
  char *end;
  long t = strtol (arg, &end, 10);
  if (*end || end == arg || t < -1)
    return cli_usage_error (cmd, "invalid argument \"%s\" for \"-t, --time\" flag", arg);
  *out = (int)t;
  return 0;
}

struct stop_args
{
  int timeout, sig;
  bool restart;
  struct cli_ctx *ctx;
};

static int
stop_one (struct isola_store *s, struct container *c, void *arg, isola_error_t *err)
{
  (void)s;
  const struct stop_args *a = arg;
  if (a->sig > 0 && container_is_running (c))
    (void)container_kill (c, a->sig, NULL);
  int ret = container_stop (c, a->timeout, err);
  if (ret == 0 && a->restart && cli_start_container (a->ctx, c, NULL) != 0)
    return -EIO; /* cli_start_container has said why */
  /* dockerd's last event of a restart, after its stop's and its start's */
  if (ret == 0 && a->restart)
    container_event (c, "restart", NULL);
  return ret;
}

/* stop and restart share their flags and their loop over containers. */
static int
stop_or_restart (struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv, bool restart)
{
  int timeout = -1, sig = 0, c, exit_code = 0;
  struct flag_parser p;
  cli_flags_init (&p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, &p, &exit_code)) > 0)
    switch (c)
      {
      case 't':
        if ((exit_code = parse_timeout (cmd, p.value, &timeout)))
          return exit_code;
        break;
      case 's':
        if ((sig = signal_from_name (p.value)) < 0)
          return cli_usage_error (cmd, "invalid signal: %s", p.value);
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (cmd, "\"%s\" requires at least 1 argument.", restart ? "isola restart" : "isola stop");
  struct stop_args a = { .timeout = timeout, .sig = sig, .restart = restart, .ctx = ctx };
  return cli_each_container_any (ctx, p.args, p.nargs, stop_one, &a, true);
}

static int
run_stop (struct cli_ctx *ctx, int argc, char **argv)
{
  return stop_or_restart (ctx, &cmd_stop, argc, argv, false);
}

static int
run_restart (struct cli_ctx *ctx, int argc, char **argv)
{
  return stop_or_restart (ctx, &cmd_restart, argc, argv, true);
}

static const struct flag_def stop_flags[] = {
  { "signal", 's', 's', "string", "Signal to send to the container" },
  { "timeout", 't', 't', "int", "Seconds to wait before killing the container" },
  { "time", 0, 't', "int", "Seconds to wait before killing the container (deprecated: --timeout)" },
  { 0 },
};

const struct cli_command cmd_stop = {
  .name = "stop",
  .run = run_stop,
  .usage = "isola stop [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Stop one or more running containers",
  .flags = stop_flags,
};

const struct cli_command cmd_restart = {
  .name = "restart",
  .run = run_restart,
  .usage = "isola restart [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Restart one or more containers",
  .flags = stop_flags,
};
