#define _GNU_SOURCE
#include <stdio.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "image/image.h"

static int
run_tag (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (&cmd_tag, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  if (p.nargs != 2)
    return cli_usage_error (&cmd_tag, "\"isola tag\" requires exactly 2 arguments.");

  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *refs = NULL;
  digest_hex_t id;
  if (refs_read (store, &refs, &err) < 0 || image_resolve (store, refs, p.args[0], id, &err) < 0
      || image_tag (store, id, p.args[1], &err) < 0)
    return cli_fail (&err);
  return 0;
}

const struct cli_command cmd_tag = {
  .name = "tag",
  .run = run_tag,
  .usage = "isola tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
  .summary = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
};
