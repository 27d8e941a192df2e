/* `isola container SUBCOMMAND`: docker's management command for containers, and `container prune`. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"

static bool
confirm_prune (void)
{
  printf ("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
  fflush (stdout);
  char answer[16] = "";
  if (fgets (answer, sizeof answer, stdin) == NULL)
    return false;
  return answer[0] == 'y' || answer[0] == 'Y';
}

static int run_container_prune (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_container_prune = {
  .name = "prune",
  .run = run_container_prune,
  .usage = "isola container prune [OPTIONS]",
  .summary = "Remove all stopped containers",
  .options = "  -f, --force   Do not prompt for confirmation\n",
};

static int
run_container_prune (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "force", no_argument, NULL, 'f' },
    { "filter", required_argument, NULL, 'F' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool force = false;
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_container_prune, argc, argv, "+fh", longopts, &exit_code)) != -1)
    switch (c)
      {
      case 'f':
        force = true;
        break;
      case 'F':
        return cli_usage_error (&cmd_container_prune, "--filter is not supported yet");
      default:
        return exit_code;
      }
  if (!force && !confirm_prune ())
    return 0;
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  cleanup_strv char **ids = NULL;
  if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0 || container_list_ids (store, &ids, &err) < 0)
    return cli_fail (&err);
  bool any = false;
  int64_t reclaimed = 0;
  for (size_t i = 0; ids[i]; i++)
    {
      cleanup_container struct container *ctr = NULL;
      if (container_load (store, ids[i], &ctr, NULL) < 0 || container_refresh (ctr, NULL) < 0
          || container_is_running (ctr))
        continue;
      if (container_rm (store, ctr, false, NULL) < 0)
        continue;
      if (!any)
        printf ("Deleted Containers:\n");
      any = true;
      printf ("%s\n", ctr->id);
    }
  cleanup_free char *size = human_size (reclaimed);
  printf ("%sTotal reclaimed space: %s\n", any ? "\n" : "", size);
  return 0;
}

static const struct
{
  const char *name;
  const struct cli_command *cmd;
} container_subcommands[] = {
  { "attach", &cmd_attach }, { "create", &cmd_create },
  { "exec", &cmd_exec },     { "inspect", &cmd_inspect },
  { "kill", &cmd_kill },     { "logs", &cmd_logs },
  { "ls", &cmd_ps },         { "list", &cmd_ps },
  { "ps", &cmd_ps },         { "prune", &cmd_container_prune },
  { "rename", &cmd_rename }, { "restart", &cmd_restart },
  { "rm", &cmd_rm },         { "run", &cmd_run },
  { "start", &cmd_start },   { "stop", &cmd_stop },
  { "top", &cmd_top },       { "wait", &cmd_wait },
};

static void
container_usage (FILE *f)
{
  fprintf (f, "\nUsage:  isola container COMMAND\n\nManage containers\n\nCommands:\n");
  for (size_t i = 0; i < ARRAY_SIZE (container_subcommands); i++)
    if (strcmp (container_subcommands[i].name, "list") != 0 && strcmp (container_subcommands[i].name, "ps") != 0)
      fprintf (f, "  %-10s %s\n", container_subcommands[i].name, container_subcommands[i].cmd->summary);
  fprintf (f, "\nRun 'isola container COMMAND --help' for more information on a command.\n");
}

static int
run_container (struct cli_ctx *ctx, int argc, char **argv)
{
  if (argc < 2)
    {
      container_usage (stderr);
      return EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      container_usage (stdout);
      return 0;
    }
  for (size_t i = 0; i < ARRAY_SIZE (container_subcommands); i++)
    if (strcmp (argv[1], container_subcommands[i].name) == 0)
      return container_subcommands[i].cmd->run (ctx, argc - 1, argv + 1);
  fprintf (stderr, "isola: 'container %s' is not an isola command.\nSee 'isola container --help'\n", argv[1]);
  return EXIT_USAGE;
}

const struct cli_command cmd_container = {
  .name = "container",
  .run = run_container,
  .usage = "isola container COMMAND",
  .summary = "Manage containers",
};
