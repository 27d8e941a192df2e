#define _GNU_SOURCE
#include <stdio.h>

#include "base/util.h"
#include "cli.h"
#include "image/image.h"
#include "image/remove.h"

static void
print_report (const struct rmi_report *rep)
{
  for (size_t i = 0; rep->untagged && rep->untagged[i]; i++)
    printf ("Untagged: %s\n", rep->untagged[i]);
  for (size_t i = 0; rep->deleted && rep->deleted[i]; i++)
    printf ("Deleted: %s\n", rep->deleted[i]);
}

/* Like docker, every argument is tried; the exit code says whether any failed. */
static int
run_rmi (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "force", no_argument, NULL, 'f' },
    { "no-prune", no_argument, NULL, 'n' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool force = false;
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_rmi, argc, argv, "+fh", longopts, &exit_code)) != -1)
    switch (c)
      {
      case 'f':
        force = true;
        break;
      case 'n':
        break;
      default:
        return exit_code;
      }
  if (optind >= argc)
    return cli_usage_error (&cmd_rmi, "\"isola rmi\" requires at least 1 argument.");

  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  for (int i = optind; i < argc; i++)
    {
      cleanup_error isola_error_t err = NULL;
      struct rmi_report rep = { 0 };
      int ret = image_remove (store, argv[i], force, &rep, &err);
      print_report (&rep);
      rmi_report_clear (&rep);
      if (ret < 0)
        exit_code = cli_fail (&err);
    }
  return exit_code;
}

const struct cli_command cmd_rmi = {
  .name = "rmi",
  .run = run_rmi,
  .usage = "isola rmi [OPTIONS] IMAGE [IMAGE...]",
  .summary = "Remove one or more images",
  .options = "  -f, --force      Force removal of the image\n"
             "      --no-prune   Accepted for compatibility\n",
};
