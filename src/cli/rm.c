#define _GNU_SOURCE
#include <stdio.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "container/volume.h"

struct rm_opts
{
  bool force, volumes;
};

/* With -v, the container's anonymous volumes go with it (named ones stay), as in Docker. */
static int
rm_one (struct isola_store *s, struct container *c, void *arg, isola_error_t *err)
{
  const struct rm_opts *o = arg;
  cleanup_json json_t *mounts = json_incref (container_mounts (c));
  int ret = container_rm (s, c, o->force, err);
  if (ret == 0 && o->volumes)
    (void)volume_release_anonymous (s->root, mounts, NULL);
  return ret;
}

static int
run_rm (struct cli_ctx *ctx, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "force", no_argument, NULL, 'f' },
    { "volumes", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct rm_opts o = { 0 };
  int c, exit_code = 0;
  optind = 0;
  while ((c = cli_getopt (ctx, &cmd_rm, argc, argv, "+fvh", longopts, &exit_code)) != -1)
    switch (c)
      {
      case 'f':
        o.force = true;
        break;
      case 'v':
        o.volumes = true;
        break;
      default:
        return exit_code;
      }
  if (optind >= argc)
    return cli_usage_error (&cmd_rm, "\"isola rm\" requires at least 1 argument.");
  return cli_each_container (ctx, argv + optind, argc - optind, rm_one, &o, true);
}

const struct cli_command cmd_rm = {
  .name = "rm",
  .run = run_rm,
  .usage = "isola rm [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Remove one or more containers",
  .options = "  -f, --force     Force the removal of a running container (uses SIGKILL)\n"
             "  -v, --volumes   Remove anonymous volumes associated with the container\n",
};
