#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cli.h"
#include "image/import.h"
#include "image/reference.h"

static int
run_import (struct cli_ctx *ctx, int argc, char **argv)
{
  cleanup_strv char **changes = xcalloc (1, sizeof (char *));
  const char *message = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_import, argc, argv);
  while ((c = cli_flag_next (&cmd_import, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'c':
        strv_push (&changes, p.value);
        break;
      case 'm':
        message = p.value;
        break;
      case 'p':
        if (cli_check_platform (p.value))
          return EXIT_USAGE;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs < 1 || p.nargs > 2)
    return cli_usage_error (&cmd_import, "\"isola import\" requires at least 1 and at most 2 arguments.");
  const char *source = p.args[0];
  const char *repo = p.nargs > 1 ? p.args[1] : NULL;

  cleanup_error isola_error_t err = NULL;
  cleanup_free char *tag = NULL;
  if (repo)
    {
      struct image_ref r = { 0 };
      if (image_ref_parse_tagged (repo, &r, &err) < 0)
        return cli_fail (&err);
      tag = image_ref_string (&r);
      image_ref_clear (&r);
    }
  if (strstr (source, "://"))
    {
      isola_error_fail (&err, ENOTSUP, "importing from a URL is not supported: download `%s` first", source);
      return cli_fail (&err);
    }
  bool from_stdin = strcmp (source, "-") == 0;
  cleanup_close int fd = from_stdin ? dup (STDIN_FILENO) : open (source, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      isola_error_make (&err, errno, "open `%s`", source);
      return cli_fail (&err);
    }

  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store_as (ctx, STORE_LOCK_NONE, &store)))
    return exit_code;
  struct import_options opts = { .tag = tag, .changes = changes, .message = message, .source_label = source };
  digest_hex_t id;
  if (image_import (store, fd, &opts, id, &err) < 0)
    return cli_fail (&err);
  printf ("sha256:%s\n", id);
  return 0;
}

const struct cli_command cmd_import = {
  .name = "import",
  .run = run_import,
  .usage = "isola import [OPTIONS] file|- [REPOSITORY[:TAG]]",
  .summary = "Import the contents from a tarball to create a filesystem image",
  .flags = (const struct flag_def[]){
      { "change", 'c', 'c', "list", "Apply Dockerfile instruction to the created image" },
      { "message", 'm', 'm', "string", "Set commit message for imported image" },
      { "platform", 0, 'p', "string", "Set platform if server is multi-platform capable (only linux/amd64)" },
      { 0 },
  },
};
