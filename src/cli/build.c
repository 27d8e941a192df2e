/* `isola build`: an image from a Dockerfile (build/executor.h), its progress printed as Docker's classic builder
   prints it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "build/executor.h"
#include "cli.h"
#include "image/reference.h"

struct build_cli
{
  struct cli_ctx *ctx;
  bool quiet;
};

static void
print_progress (const struct build_event *ev, void *arg)
{
  const struct build_cli *bc = arg;
  if (bc->quiet)
    return;
  switch (ev->kind)
    {
    case BUILD_EVENT_CONTEXT:
      {
        cleanup_free char *size = human_size_digits ((int64_t)ev->len, 4);
        printf ("Sending build context to Docker daemon  %s\r\r\n", size); /* the docker CLI's progress line */
        break;
      }
    case BUILD_EVENT_STEP:
      printf ("Step %d/%d : %s\n", ev->step, ev->n_steps, ev->text);
      break;
    case BUILD_EVENT_TRIGGERS:
      printf ("# Executing %d build trigger%s\n", ev->step, ev->step == 1 ? "" : "s");
      break;
    case BUILD_EVENT_RUNNING:
      printf (" ---> Running in %.12s\n", ev->text);
      break;
    case BUILD_EVENT_OUTPUT:
      fflush (stdout);
      (void)write_all (STDOUT_FILENO, ev->text, ev->len);
      break;
    case BUILD_EVENT_REMOVED:
      printf ("Removing intermediate container %.12s\n", ev->text);
      break;
    case BUILD_EVENT_CACHED:
      printf (" ---> Using cache\n");
      break;
    case BUILD_EVENT_IMAGE:
      printf (" ---> %s\n", ev->text);
      break;
    case BUILD_EVENT_WARNING:
      printf ("%s\n", ev->text);
      break;
    }
  fflush (stdout);
}

/* The builder pulls a base image that is missing (and every one with --pull) as `pull` does. */
static int
pull_for_build (const char *name, void *arg)
{
  const struct build_cli *bc = arg;
  return cli_pull_image (bc->ctx, name);
}

static int
write_iidfile (const char *path, const char *id)
{
  cleanup_free char *text = xasprintf ("sha256:%s", id);
  cleanup_error isola_error_t err = NULL;
  if (write_file_atomic (path, text, strlen (text), 0644, &err) < 0)
    {
      fprintf (stderr, "Error: failed to write the image ID file: %s\n", err->msg);
      return 1;
    }
  return 0;
}

static bool
isolation_valid (const char *v)
{
  return strcmp (v, "process") == 0 || strcmp (v, "vm") == 0 || strcmp (v, "hyperv") == 0 || strcmp (v, "default") == 0;
}

static int
run_build (struct cli_ctx *ctx, int argc, char **argv)
{
  cleanup_strv char **tags = xcalloc (1, sizeof (char *));
  cleanup_strv char **build_args = xcalloc (1, sizeof (char *));
  cleanup_strv char **labels = xcalloc (1, sizeof (char *));
  struct build_options o = { .context_tar_fd = -1 };
  struct build_cli bc = { .ctx = ctx };
  const char *iidfile = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_build, argc, argv);
  while ((c = cli_flag_next (&cmd_build, &p, &exit_code)) > 0)
    switch (c)
      {
      case 't':
        {
          struct image_ref r = { 0 };
          cleanup_error isola_error_t err = NULL;
          if (image_ref_parse_tagged (p.value, &r, &err) < 0)
            return cli_flag_invalid (&cmd_build, &p, "invalid reference format");
          cleanup_free char *tag = image_ref_string (&r);
          image_ref_clear (&r);
          strv_push (&tags, tag);
          break;
        }
      case 'f':
        o.dockerfile = p.value;
        break;
      case 'a':
        strv_push (&build_args, p.value);
        break;
      case 'T':
        o.target = p.value;
        break;
      case 'n':
        o.no_cache = p.on;
        break;
      case 'p':
        o.pull = p.on;
        break;
      case 'i':
        if (!isolation_valid (p.value))
          return cli_flag_invalid (&cmd_build, &p, "unsupported isolation: %s", p.value);
        o.isolation = strcmp (p.value, "default") == 0 ? NULL : p.value;
        break;
      case 'l':
        strv_push (&labels, p.value);
        break;
      case 'q':
        bc.quiet = p.on;
        break;
      case 'I':
        iidfile = p.value;
        break;
      case 'N':
        o.network = strcmp (p.value, "default") == 0 ? NULL : p.value;
        break;
      case 'r': /* --rm, --force-rm: intermediate containers are always removed */
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 1)
    return cli_usage_error (&cmd_build, "\"isola build\" requires exactly 1 argument.");
  if (strcmp (p.args[0], "-") == 0)
    o.context_tar_fd = STDIN_FILENO;
  else
    o.context_dir = p.args[0];
  o.tags = tags;
  o.build_args = build_args;
  o.labels = labels;
  o.progress = print_progress;
  o.progress_arg = &bc;
  o.pull_image = pull_for_build;
  o.pull_arg = &bc;

  struct build_result res;
  cleanup_error isola_error_t err = NULL;
  if (build_run (ctx->root, &o, &res, &err) < 0)
    {
      fflush (stdout);
      if (res.in_step)
        fprintf (stderr, "%s\n", err->msg);
      else
        fprintf (stderr, "Error: %s\n", err->msg);
      return res.exit_code;
    }
  if (bc.quiet)
    printf ("sha256:%s\n", res.id);
  else
    {
      printf ("Successfully built %.12s\n", res.id);
      for (size_t i = 0; tags[i]; i++)
        printf ("Successfully tagged %s\n", tags[i]);
    }
  fflush (stdout);
  return iidfile ? write_iidfile (iidfile, res.id) : 0;
}

const struct cli_command cmd_build = {
  .name = "build",
  .run = run_build,
  .usage = "isola build [OPTIONS] PATH | -",
  .summary = "Build an image from a Dockerfile",
  .flags = (const struct flag_def[]){
      { "build-arg", 0, 'a', "list", "Set build-time variables" },
      { "file", 'f', 'f', "string", "Name of the Dockerfile (Default is 'PATH/Dockerfile')" },
      { "force-rm", 0, 'r', NULL, "Always remove intermediate containers" },
      { "iidfile", 0, 'I', "string", "Write the image ID to the file" },
      { "isolation", 0, 'i', "string", "Container isolation technology (process, vm or hyperv)" },
      { "label", 0, 'l', "list", "Set metadata for an image" },
      { "network", 0, 'N', "string", "Set the networking mode for the RUN instructions during build (default \"default\")" },
      { "no-cache", 0, 'n', NULL, "Do not use cache when building the image" },
      { "pull", 0, 'p', NULL, "Always attempt to pull a newer version of the image" },
      { "quiet", 'q', 'q', NULL, "Suppress the build output and print image ID on success" },
      { "rm", 0, 'r', NULL, "Remove intermediate containers after a successful build (default true)" },
      { "tag", 't', 't', "list", "Name and optionally a tag in the 'name:tag' format" },
      { "target", 0, 'T', "string", "Set the target build stage to build." },
      { 0 },
  },
};
