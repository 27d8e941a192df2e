/* `isola cp`: Docker's, both directions, either isolation mode (container/copy.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cli.h"
#include "container/copy.h"

/* The docker CLI's splitCpArg: CONTAINER:PATH, unless the argument is an absolute path or starts with "." (a
   local path that may hold a colon). */
static void
split_cp_arg (char *arg, char **container, char **path)
{
  char *colon = strchr (arg, ':');
  if (arg[0] == '/' || colon == NULL || arg[0] == '.')
    {
      *container = NULL, *path = arg;
      return;
    }
  *colon = '\0';
  *container = arg, *path = colon + 1;
}

/* The docker CLI checks paths itself and prints its own errors as they are ("cannot copy directory"); what the
   daemon answers comes with "Error: " (cli_fail). */
static int
cp_fail (isola_error_t *err)
{
  static const char *const client[] = { "cannot copy directory",
                                        "no such directory",
                                        "not a directory",
                                        "copying between containers",
                                        "must specify at least one",
                                        "source can not",
                                        "destination can not",
                                        "destination \"",
                                        "lstat ",
                                        "stat " };
  const char *msg = err && *err ? (*err)->msg : NULL;
  for (size_t i = 0; msg && i < ARRAY_SIZE (client); i++)
    if (str_has_prefix (msg, client[i]))
      {
        fprintf (stderr, "%s\n", msg);
        return EXIT_CMD_FAILED;
      }
  return cli_fail (err);
}

static int
run_cp (struct cli_ctx *ctx, int argc, char **argv)
{
  struct copy_options o = { 0 };
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_cp, argc, argv);
  while ((c = cli_flag_next (&cmd_cp, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        o.archive = p.on;
        break;
      case 'L':
        o.follow_link = p.on;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 2)
    return cli_usage_error (&cmd_cp, "\"isola cp\" requires exactly 2 arguments.");
  char *src_ctr, *src, *dst_ctr, *dst;
  split_cp_arg (p.args[0], &src_ctr, &src);
  split_cp_arg (p.args[1], &dst_ctr, &dst);
  cleanup_error isola_error_t err = NULL;
  if (src_ctr && dst_ctr)
    isola_error_fail (&err, EINVAL, "copying between containers is not supported");
  else if (!src_ctr && !dst_ctr)
    isola_error_fail (&err, EINVAL, "must specify at least one container source");
  else if (src[0] == '\0')
    isola_error_fail (&err, EINVAL, "source can not be empty");
  else if (dst[0] == '\0')
    isola_error_fail (&err, EINVAL, "destination can not be empty");
  if (err)
    return cp_fail (&err);

  o.label = src_ctr ? src_ctr : dst_ctr;
  o.stdio_fd = src_ctr ? STDOUT_FILENO : STDIN_FILENO;
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *ctr = NULL;
  if ((exit_code = cli_load_container (ctx, o.label, &store, &ctr)))
    return exit_code;
  int ret = src_ctr ? container_copy_out (store, ctr, src, dst, &o, &err)
                    : container_copy_in (store, ctr, src, dst, &o, &err);
  return ret < 0 ? cp_fail (&err) : 0;
}

const struct cli_command cmd_cp = {
  .name = "cp",
  .run = run_cp,
  .usage = "isola cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tisola cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
  .summary = "Copy files/folders between a container and the local filesystem",
  .flags = (const struct flag_def[]){
      { "archive", 'a', 'a', NULL, "Archive mode (copy all uid/gid information)" },
      { "follow-link", 'L', 'L', NULL, "Always follow symbol link in SRC_PATH" },
      { 0 },
  },
};
