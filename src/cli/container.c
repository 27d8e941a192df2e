/* `isola container SUBCOMMAND`: docker's management command for containers, and `container prune`. */
#define _GNU_SOURCE
#include <stdio.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "container/system.h"

static int run_container_prune (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_container_prune = {
  .name = "prune",
  .run = run_container_prune,
  .usage = "isola container prune [OPTIONS]",
  .summary = "Remove all stopped containers",
  .flags = (const struct flag_def[]){
      { "filter", 0, 'F', "filter", "Provide filter values (not supported yet)" },
      { "force", 'f', 'f', NULL, "Do not prompt for confirmation" },
      { 0 },
  },
};

static int
run_container_prune (struct cli_ctx *ctx, int argc, char **argv)
{
  bool force = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_container_prune, argc, argv);
  while ((c = cli_flag_next (&cmd_container_prune, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'f':
        force = p.on;
        break;
      case 'F':
        return cli_usage_error (&cmd_container_prune, "--filter is not supported yet");
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (&cmd_container_prune, "\"isola container prune\" accepts no arguments.");
  if (!force && !cli_confirm ("WARNING! This will remove all stopped containers."))
    return 0;
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  cleanup_strv char **removed = NULL;
  int64_t reclaimed = 0;
  if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0
      || container_prune (store, NULL, &removed, &reclaimed, &err) < 0)
    return cli_fail (&err);
  for (size_t i = 0; removed[i]; i++)
    printf ("%s%s\n", i ? "" : "Deleted Containers:\n", removed[i]);
  cleanup_free char *size = human_size (reclaimed);
  printf ("%sTotal reclaimed space: %s\n", removed[0] ? "\n" : "", size);
  return 0;
}

static const struct cli_subcommand container_subcommands[] = {
  { .name = "attach", .cmd = &cmd_attach },
  { .name = "commit", .cmd = &cmd_commit },
  { .name = "cp", .cmd = &cmd_cp },
  { .name = "create", .cmd = &cmd_create },
  { .name = "diff", .cmd = &cmd_diff },
  { .name = "exec", .cmd = &cmd_exec },
  { .name = "export", .cmd = &cmd_export },
  { .name = "inspect", .cmd = &cmd_container_inspect },
  { .name = "kill", .cmd = &cmd_kill },
  { .name = "logs", .cmd = &cmd_logs },
  { .name = "ls", .cmd = &cmd_ps },
  { .name = "list", .cmd = &cmd_ps, .alias = true },
  { .name = "ps", .cmd = &cmd_ps, .alias = true },
  { .name = "port", .cmd = &cmd_port },
  { .name = "prune", .cmd = &cmd_container_prune },
  { .name = "rename", .cmd = &cmd_rename },
  { .name = "restart", .cmd = &cmd_restart },
  { .name = "rm", .cmd = &cmd_rm },
  { .name = "remove", .cmd = &cmd_rm, .alias = true },
  { .name = "run", .cmd = &cmd_run },
  { .name = "start", .cmd = &cmd_start },
  { .name = "stop", .cmd = &cmd_stop },
  { .name = "top", .cmd = &cmd_top },
  { .name = "wait", .cmd = &cmd_wait },
};

static int
run_container (struct cli_ctx *ctx, int argc, char **argv)
{
  return cli_run_subcommand (ctx, &cmd_container, container_subcommands, ARRAY_SIZE (container_subcommands), argc,
                             argv);
}

const struct cli_command cmd_container = {
  .name = "container",
  .run = run_container,
  .usage = "isola container COMMAND",
  .summary = "Manage containers",
};
