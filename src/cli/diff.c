/* `isola diff`: a container's changes to its image, as Docker prints them (container/layer.h). */
#define _GNU_SOURCE
#include <stdio.h>

#include "cli.h"
#include "container/layer.h"

static int
run_diff (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (&cmd_diff, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  if (p.nargs != 1)
    return cli_usage_error (&cmd_diff, "\"isola diff\" requires exactly 1 argument.");
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *c = NULL;
  if ((exit_code = cli_load_container (ctx, p.args[0], &store, &c)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  struct layer_change *changes = NULL;
  size_t n = 0;
  if (container_changes (store, c, &changes, &n, &err) < 0)
    return cli_fail (&err);
  static const char kinds[] = { [LAYER_CHANGE_MODIFY] = 'C', [LAYER_CHANGE_ADD] = 'A', [LAYER_CHANGE_DELETE] = 'D' };
  for (size_t i = 0; i < n; i++)
    printf ("%c %s\n", kinds[changes[i].kind], changes[i].path);
  layer_changes_free (changes, n);
  return 0;
}

const struct cli_command cmd_diff = {
  .name = "diff",
  .run = run_diff,
  .usage = "isola diff CONTAINER",
  .summary = "Inspect changes to files or directories on a container's filesystem",
  .flags = (const struct flag_def[]){ { 0 } },
};
