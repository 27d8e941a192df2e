/* `isola push` (run by isola-registry): Docker's lines (Preparing, Pushing with a bar on a terminal, Pushed, Layer
   already exists, Mounted from REPO), then "TAG: digest: sha256:… size: N"; only the name with
   -q. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "image/push.h"
#include "image/reference.h"
#include "progress.h"
#include "registry.h"

static void
on_push (void *arg, const struct push_progress *e)
{
  struct progress *p = arg;
  if (p->quiet)
    return;
  switch (e->ev)
    {
    case PUSH_HEADER:
      fprintf (p->out, "%s\n", e->id);
      break;
    case PUSH_LAYER_PREPARING:
      progress_line (p, e->id, "Preparing");
      break;
    case PUSH_LAYER_EXISTS:
      progress_line (p, e->id, "Layer already exists");
      break;
    case PUSH_LAYER_PUSHING:
      progress_bytes (p, e->id, "Pushing", e->done, e->total);
      break;
    case PUSH_LAYER_PUSHED:
      progress_line (p, e->id, "Pushed");
      break;
    case PUSH_LAYER_MOUNTED:
      {
        cleanup_free char *text = xasprintf ("Mounted from %s", e->from);
        progress_line (p, e->id, text);
        break;
      }
    }
}

static int
run_push (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser fp;
  struct progress p = { .out = stdout, .tty = isatty (STDOUT_FILENO) };
  int c, exit_code = 0;
  cli_flags_init (&fp, &reg_cmd_push, argc, argv);
  while ((c = cli_flag_next (&reg_cmd_push, &fp, &exit_code)) > 0)
    if (c == 'q')
      p.quiet = fp.on;
  if (c < 0)
    return exit_code;
  if (fp.nargs != 1)
    return cli_usage_error (&reg_cmd_push, "\"isola push\" requires exactly 1 argument.");
  cleanup_error isola_error_t err = NULL;
  struct push_result res = { 0 };
  int ret = image_push (ctx->root, fp.args[0], NULL, on_push, &p, &res, &err);
  progress_clear (&p);
  if (ret < 0 && !p.quiet)
    {
      /* As the docker CLI prints an error of the push's stream, which has begun: the message alone. */
      fprintf (stderr, "%s\n", err->msg);
      return EXIT_CMD_FAILED;
    }
  if (ret < 0)
    return cli_fail (&err);
  if (p.quiet)
    {
      struct image_ref ref = { 0 };
      if (image_ref_parse_tagged (fp.args[0], &ref, NULL) == 0)
        {
          cleanup_free char *full = image_ref_full_string (&ref);
          printf ("%s\n", full);
        }
      image_ref_clear (&ref);
    }
  else
    printf ("%s: digest: sha256:%s size: %zu\n", res.tag, res.digest, res.size);
  push_result_clear (&res);
  return 0;
}

const struct cli_command reg_cmd_push = {
  .name = "push",
  .run = run_push,
  .usage = "isola push [OPTIONS] NAME[:TAG]",
  .summary = "Push an image to a registry",
  .flags = (const struct flag_def[]){
      { "disable-content-trust", 0, 'Q', NULL, "Skip image signing (default true)" },
      { "quiet", 'q', 'q', NULL, "Suppress verbose output" },
      { 0 },
  },
};
