/* `isola pull` (run by isola-registry): Docker's progress, one line per layer redrawn in place on a terminal, the
   status changes as plain lines otherwise, only the name with -q. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "image/pull_remote.h"
#include "image/reference.h"
#include "progress.h"
#include "registry.h"

static void
on_progress (void *arg, enum pull_event ev, const char *id, int64_t done, int64_t total)
{
  struct progress *p = arg;
  if (p->quiet)
    return;
  if (ev == PULL_HEADER)
    {
      fprintf (p->out, "%s\n", id);
      return;
    }
  if (ev == PULL_LAYER_DOWNLOADING)
    {
      progress_bytes (p, id, "Downloading", done, total);
      return;
    }
  if (ev == PULL_LAYER_EXTRACTING)
    {
      if (p->tty)
        progress_line (p, id, "Extracting");
      return;
    }
  const char *texts[2] = { NULL, NULL };
  switch (ev)
    {
    case PULL_LAYER_EXISTS:
      texts[0] = "Already exists";
      break;
    case PULL_LAYER_WAITING:
      texts[0] = "Pulling fs layer";
      break;
    case PULL_LAYER_VERIFIED:
      texts[0] = "Verifying Checksum";
      texts[1] = "Download complete";
      break;
    case PULL_LAYER_COMPLETE:
      texts[0] = "Pull complete";
      break;
    default:
      return;
    }
  for (size_t i = 0; i < 2 && texts[i]; i++)
    progress_line (p, id, texts[i]);
}

static int
pull_one (struct cli_ctx *ctx, const char *name, const struct pull_options *opts, struct progress *p, bool last_line)
{
  cleanup_error isola_error_t err = NULL;
  struct pull_result res = { 0 };
  if (image_pull_remote (ctx->root, name, opts, on_progress, p, &res, &err) < 0)
    {
      progress_clear (p);
      return cli_fail (&err);
    }
  progress_clear (p);
  if (!p->quiet)
    {
      fprintf (p->out, "Digest: sha256:%s\n", res.repo_digest);
      fprintf (p->out, "Status: %s for %s\n", res.up_to_date ? "Image is up to date" : "Downloaded newer image",
               res.familiar);
    }
  if (last_line)
    fprintf (p->out, "%s\n", res.full_name);
  pull_result_clear (&res);
  return 0;
}

static int
pull_all_tags (struct cli_ctx *ctx, const char *name, const struct pull_options *opts, struct progress *p)
{
  cleanup_error isola_error_t err = NULL;
  struct image_ref ref = { 0 };
  if (image_ref_parse (name, &ref, &err) < 0)
    return cli_fail (&err);
  bool tagged = strchr (name + (strrchr (name, '/') ? strrchr (name, '/') - name : 0), ':') != NULL;
  if (tagged || ref.digest)
    {
      image_ref_clear (&ref);
      fprintf (stderr, "Error: tag can't be used with --all-tags/-a\n");
      return EXIT_USAGE;
    }
  cleanup_strv char **tags = NULL;
  int ret = image_list_remote_tags (ctx->root, name, &tags, &err);
  if (ret < 0)
    {
      image_ref_clear (&ref);
      return cli_fail (&err);
    }
  for (size_t i = 0; tags[i] && ret == 0; i++)
    {
      cleanup_free char *one = xasprintf ("%s:%s", ref.name, tags[i]);
      ret = pull_one (ctx, one, opts, p, false);
    }
  if (ret == 0)
    {
      free (ref.tag);
      ref.tag = NULL;
      cleanup_free char *full = image_ref_full_string (&ref);
      fprintf (p->out, "%s\n", full);
    }
  image_ref_clear (&ref);
  return ret;
}

static int
run_pull (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser fp;
  struct pull_options opts = { 0 };
  struct progress p = { .out = stdout };
  bool all = false;
  int c, exit_code = 0;
  cli_flags_init (&fp, &reg_cmd_pull, argc, argv);
  while ((c = cli_flag_next (&reg_cmd_pull, &fp, &exit_code)) > 0)
    switch (c)
      {
      case 'q':
        p.quiet = fp.on;
        break;
      case 'a':
        all = fp.on;
        break;
      case 'P':
        opts.platform = fp.value;
        break;
      case 'Q': /* --disable-content-trust: there is no content trust to disable */
        break;
      }
  if (c < 0)
    return exit_code;
  if (fp.nargs != 1)
    return cli_usage_error (&reg_cmd_pull, "\"isola pull\" requires exactly 1 argument.");
  /* `run` and `create` show the pull on stderr: their stdout is the container's. */
  const char *to = getenv ("ISOLA_PULL_OUTPUT");
  if (to && strcmp (to, "stderr") == 0)
    p.out = stderr;
  p.tty = isatty (fileno (p.out));
  if (all)
    return pull_all_tags (ctx, fp.args[0], &opts, &p);
  const char *name = fp.args[0];
  const char *last = strrchr (name, '/') ? strrchr (name, '/') : name;
  if (!p.quiet && strchr (last, ':') == NULL && strchr (name, '@') == NULL)
    fprintf (p.out, "Using default tag: latest\n");
  /* Docker's `run` shows no final name line: that is the pull command's. */
  return pull_one (ctx, name, &opts, &p, p.out == stdout);
}

const struct cli_command reg_cmd_pull = {
  .name = "pull",
  .run = run_pull,
  .usage = "isola pull [OPTIONS] NAME[:TAG|@DIGEST]",
  .summary = "Pull an image or a repository from a registry",
  .flags = (const struct flag_def[]){
      { "all-tags", 'a', 'a', NULL, "Download all tagged images in the repository" },
      { "disable-content-trust", 0, 'Q', NULL, "Skip image verification (default true)" },
      { "platform", 0, 'P', "string", "Set platform if server is multi-platform capable" },
      { "quiet", 'q', 'q', NULL, "Suppress verbose output" },
      { 0 },
  },
};
