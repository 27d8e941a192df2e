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
  bool force = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_rmi, argc, argv);
  while ((c = cli_flag_next (&cmd_rmi, &p, &exit_code)) > 0)
    if (c == 'f')
      force = p.on;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_rmi, "\"isola rmi\" requires at least 1 argument.");

  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store_as (ctx, STORE_LOCK_COLLECT, &store)))
    return exit_code;
  for (int i = 0; i < p.nargs; i++)
    {
      cleanup_error isola_error_t err = NULL;
      struct rmi_report rep = { 0 };
      int ret = image_remove (store, p.args[i], force, &rep, &err);
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
  .flags = (const struct flag_def[]){
      { "force", 'f', 'f', NULL, "Force removal of the image" },
      { "no-prune", 0, 'n', NULL, "Do not delete untagged parents (isola keeps no parent images)" },
      { 0 },
  },
};
