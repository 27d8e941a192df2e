#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "cli.h"
#include "image/save.h"

/* Saving to a file goes through a temporary name and a rename: an interrupted save leaves no partial archive. */
static int
save_to_file (struct isola_store *store, char **names, const char *output, isola_error_t *err)
{
  cleanup_free char *tmp = xasprintf ("%s.isola-tmp-XXXXXX", output);
  cleanup_close int fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "create `%s`", output);
  int ret = image_save (store, names, fd, err);
  if (ret == 0 && (fchmod (fd, 0644) < 0 || fsync (fd) < 0))
    ret = isola_error_make (err, errno, "write `%s`", output);
  if (ret == 0 && rename (tmp, output) < 0)
    ret = isola_error_make (err, errno, "rename to `%s`", output);
  if (ret < 0)
    (void)unlink (tmp);
  return ret;
}

static int
run_save (struct cli_ctx *ctx, int argc, char **argv)
{
  const char *output = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_save, argc, argv);
  while ((c = cli_flag_next (&cmd_save, &p, &exit_code)) > 0)
    if (c == 'o')
      output = p.value;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_save, "\"isola save\" requires at least 1 argument.");

  cleanup_error isola_error_t err = NULL;
  if (output == NULL && isatty (STDOUT_FILENO))
    {
      isola_error_fail (&err, EINVAL, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
      return cli_fail (&err);
    }
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  int ret = output ? save_to_file (store, p.args, output, &err) : image_save (store, p.args, STDOUT_FILENO, &err);
  return ret < 0 ? cli_fail (&err) : 0;
}

const struct cli_command cmd_save = {
  .name = "save",
  .run = run_save,
  .usage = "isola save [OPTIONS] IMAGE [IMAGE...]",
  .summary = "Save one or more images to a tar archive (OCI layout, also readable by docker load)",
  .flags = (const struct flag_def[]){
      { "output", 'o', 'o', "string", "Write to a file, instead of STDOUT" },
      { 0 },
  },
};
