/* `isola commit`: a new image from a container's changes, in either isolation mode (container/layer.h). */
#define _GNU_SOURCE
#include <stdio.h>

#include "base/util.h"
#include "cli.h"
#include "container/layer.h"
#include "image/reference.h"

static int
run_commit (struct cli_ctx *ctx, int argc, char **argv)
{
  cleanup_strv char **changes = xcalloc (1, sizeof (char *));
  struct commit_options o = { 0 };
  bool pause = true;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_commit, argc, argv);
  while ((c = cli_flag_next (&cmd_commit, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        o.author = p.value;
        break;
      case 'c':
        strv_push (&changes, p.value);
        break;
      case 'm':
        o.comment = p.value;
        break;
      case 'p':
        pause = p.on;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs < 1 || p.nargs > 2)
    return cli_usage_error (&cmd_commit, "\"isola commit\" requires at least 1 and at most 2 arguments.");
  o.changes = changes;

  cleanup_error isola_error_t err = NULL;
  cleanup_free char *tag = NULL;
  if (p.nargs > 1)
    {
      struct image_ref r = { 0 };
      if (image_ref_parse_tagged (p.args[1], &r, &err) < 0)
        return cli_fail (&err);
      tag = image_ref_string (&r);
      image_ref_clear (&r);
      o.tag = tag;
    }
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *ctr = NULL;
  if ((exit_code = cli_load_container (ctx, p.args[0], &store, &ctr)))
    return exit_code;
  digest_hex_t id;
  if (container_commit (store, ctr, pause, &o, id, &err) < 0)
    return cli_fail (&err);
  printf ("sha256:%s\n", id);
  return 0;
}

const struct cli_command cmd_commit = {
  .name = "commit",
  .run = run_commit,
  .usage = "isola commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
  .summary = "Create a new image from a container's changes",
  .flags = (const struct flag_def[]){
      { "author", 'a', 'a', "string", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")" },
      { "change", 'c', 'c', "list", "Apply Dockerfile instruction to the created image" },
      { "message", 'm', 'm', "string", "Commit message" },
      { "pause", 'p', 'p', NULL, "Pause container during commit (default true)" },
      { 0 },
  },
};
