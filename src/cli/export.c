/* `isola export`: a container's file system as a tar, in either isolation mode (container/layer.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "cli.h"
#include "container/layer.h"

/* -o FILE: written aside and renamed, so that a failed export leaves no partial file under the name. */
static int
export_to_file (struct isola_store *s, struct container *c, const char *output, isola_error_t *err)
{
  cleanup_free char *tmp = xasprintf ("%s.isola-tmp-XXXXXX", output);
  cleanup_close int fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "failed to export container: open %s", output);
  int ret = container_export (s, c, fd, err);
  if (ret == 0 && (fchmod (fd, 0644) < 0 || rename (tmp, output) < 0))
    ret = isola_error_make (err, errno, "failed to export container: write %s", output);
  if (ret < 0)
    (void)unlink (tmp);
  return ret;
}

static int
run_export (struct cli_ctx *ctx, int argc, char **argv)
{
  const char *output = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_export, argc, argv);
  while ((c = cli_flag_next (&cmd_export, &p, &exit_code)) > 0)
    if (c == 'o')
      output = p.value;
  if (c < 0)
    return exit_code;
  if (p.nargs != 1)
    return cli_usage_error (&cmd_export, "\"isola export\" requires exactly 1 argument.");
  cleanup_error isola_error_t err = NULL;
  if (output == NULL && isatty (STDOUT_FILENO))
    {
      isola_error_fail (&err, EINVAL, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
      return cli_fail (&err);
    }
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *ctr = NULL;
  if ((exit_code = cli_load_container (ctx, p.args[0], &store, &ctr)))
    return exit_code;
  int ret = output ? export_to_file (store, ctr, output, &err) : container_export (store, ctr, STDOUT_FILENO, &err);
  return ret < 0 ? cli_fail (&err) : 0;
}

const struct cli_command cmd_export = {
  .name = "export",
  .run = run_export,
  .usage = "isola export [OPTIONS] CONTAINER",
  .summary = "Export a container's filesystem as a tar archive",
  .flags = (const struct flag_def[]){
      { "output", 'o', 'o', "string", "Write to a file, instead of STDOUT" },
      { 0 },
  },
};
