#define _GNU_SOURCE
#include <stdio.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "driver/driver.h"

static int
run_top (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (&cmd_top, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  if (p.nargs != 1)
    return cli_usage_error (&cmd_top, "\"isola top\" requires exactly 1 argument.");
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *ctr = NULL;
  if (cli_load_container (ctx, p.args[0], &store, &ctr))
    return 1;
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *rows = NULL;
  if (!container_is_running (ctr))
    {
      isola_error_fail (&err, 1, "container %s is not running", ctr->id);
      return cli_fail (&err);
    }
  if (driver_of (ctr)->top (ctr, &rows, &err) < 0)
    return cli_fail (&err);
  struct table *t = table_new ();
  size_t i;
  json_t *row;
  json_array_foreach (rows, i, row)
  {
    const char *cells[8];
    for (int k = 0; k < 8; k++)
      cells[k] = json_string_value (json_array_get (row, (size_t)k)) ?: "";
    table_add (t, cells, 8);
  }
  table_print (t);
  table_free (t);
  return 0;
}

const struct cli_command cmd_top = {
  .name = "top",
  .run = run_top,
  .usage = "isola top CONTAINER",
  .summary = "Display the running processes of a container",
};
