#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli.h"
#include "git_rev.h"

static const struct cli_command *const commands[] = {
  &cmd_attach,  &cmd_container, &cmd_create,  &cmd_events,  &cmd_exec,   &cmd_image,   &cmd_images, &cmd_import,
  &cmd_info,    &cmd_inspect,   &cmd_kill,    &cmd_load,    &cmd_logs,   &cmd_pause,   &cmd_ps,     &cmd_rename,
  &cmd_restart, &cmd_rm,        &cmd_rmi,     &cmd_run,     &cmd_save,   &cmd_start,   &cmd_stats,  &cmd_stop,
  &cmd_system,  &cmd_tag,       &cmd_top,     &cmd_unpause, &cmd_update, &cmd_version, &cmd_volume, &cmd_wait,
  &cmd_network, &cmd_serve,     &cmd_history, &cmd_diff,    &cmd_commit, &cmd_export,  &cmd_cp,     &cmd_port,
  &cmd_pull,    &cmd_push,      &cmd_login,   &cmd_logout,  &cmd_build,
};

static void
main_usage (FILE *f)
{
  fprintf (f, "\nUsage:  isola [OPTIONS] COMMAND\n\n"
              "A container engine that runs OCI images with process or VM isolation\n\n"
              "Options:\n"
              "      --root string   Root directory of the store (default \"/var/lib/isola\", or $ISOLA_ROOT)\n"
              "  -v, --version       Print version information and quit\n"
              "  -h, --help          Print usage\n\n"
              "Commands:\n");
  for (size_t i = 0; i < ARRAY_SIZE (commands); i++)
    fprintf (f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
  fprintf (f, "\nRun 'isola COMMAND --help' for more information on a command.\n");
}

static const struct cli_command *
find_command (const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE (commands); i++)
    if (strcmp (commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

/* Global options come before the command, as with docker. */
static int
parse_global (int argc, char **argv, struct cli_ctx *ctx, int *exit_code)
{
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--root") == 0)
        {
          if (i + 1 >= argc)
            {
              fprintf (stderr, "isola: flag needs an argument: --root\nSee 'isola --help'.\n");
              *exit_code = EXIT_USAGE;
              return -1;
            }
          ctx->root = argv[++i];
        }
      else if (str_has_prefix (a, "--root="))
        ctx->root = a + 7;
      else if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0)
        {
          main_usage (stdout);
          *exit_code = 0;
          return -1;
        }
      else if (strcmp (a, "-v") == 0 || strcmp (a, "--version") == 0)
        {
          printf ("isola version %s, build %s\n", ISOLA_VERSION, ISOLA_GIT_REV);
          *exit_code = 0;
          return -1;
        }
      else
        {
          fprintf (stderr, "isola: unknown flag: %s\nSee 'isola --help'.\n", a);
          main_usage (stderr);
          *exit_code = EXIT_USAGE;
          return -1;
        }
    }
  return i;
}

int
main (int argc, char **argv)
{
  trace_mark ("cli: start");
  /* A copy of the command line as given: parsing reorders argv (flags after arguments), and a re-execution
     (exec.c) must see what the user typed. */
  cleanup_strv char **given = xcalloc ((size_t)argc + 1, sizeof *given);
  for (int i = 0; i < argc; i++)
    given[i] = xstrdup (argv[i]);
  struct cli_ctx ctx = { .root = getenv ("ISOLA_ROOT"), .argv = given };
  if (ctx.root && ctx.root[0] == '\0')
    ctx.root = NULL;
  int exit_code = 0;
  int first = parse_global (argc, argv, &ctx, &exit_code);
  if (first < 0)
    return exit_code;
  if (first >= argc)
    {
      main_usage (stderr);
      return EXIT_USAGE;
    }
  const struct cli_command *cmd = find_command (argv[first]);
  if (cmd == NULL)
    {
      fprintf (stderr, "isola: '%s' is not an isola command.\nSee 'isola --help'\n", argv[first]);
      return EXIT_USAGE;
    }
  ctx.command = cmd->name;
  /* Library output must reach the terminal in order with ours, also when stdout is a pipe. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  return cmd->run (&ctx, argc - first, argv + first);
}
