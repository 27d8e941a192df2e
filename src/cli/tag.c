#define _GNU_SOURCE
#include <stdio.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "image/image.h"

static int
run_tag (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_tag, argc, argv, "+h", longopts, &exit_code)) != -1)
    return exit_code;
  if (argc - optind != 2)
    return cli_usage_error (&cmd_tag, "\"isola tag\" requires exactly 2 arguments.");

  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *refs = NULL;
  digest_hex_t id;
  if (refs_read (store, &refs, &err) < 0 || image_resolve (store, refs, argv[optind], id, &err) < 0
      || image_tag (store, id, argv[optind + 1], &err) < 0)
    return cli_fail (&err);
  return 0;
}

const struct cli_command cmd_tag = {
  .name = "tag",
  .run = run_tag,
  .usage = "isola tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
  .summary = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
};
