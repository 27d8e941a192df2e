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
  struct rm_opts o = { 0 };
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_rm, argc, argv);
  while ((c = cli_flag_next (&cmd_rm, &p, &exit_code)) > 0)
    if (c == 'f')
      o.force = p.on;
    else if (c == 'v')
      o.volumes = p.on;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_rm, "\"isola rm\" requires at least 1 argument.");
  return cli_each_container_any (ctx, p.args, p.nargs, rm_one, &o, true);
}

const struct cli_command cmd_rm = {
  .name = "rm",
  .run = run_rm,
  .usage = "isola rm [OPTIONS] CONTAINER [CONTAINER...]",
  .summary = "Remove one or more containers",
  .flags = (const struct flag_def[]){
      { "force", 'f', 'f', NULL, "Force the removal of a running container (uses SIGKILL)" },
      { "volumes", 'v', 'v', NULL, "Remove anonymous volumes associated with the container" },
      { 0 },
  },
};
