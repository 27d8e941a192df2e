#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "base/util.h"
#include "cli.h"
#include "image/load.h"

static int
run_load (struct cli_ctx *ctx, int argc, char **argv)
{
  const char *input = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_load, argc, argv);
  while ((c = cli_flag_next (&cmd_load, &p, &exit_code)) > 0)
    if (c == 'i')
      input = p.value;
  /* like docker: --quiet only hides progress, which isola does not print */
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (&cmd_load, "\"isola load\" accepts no arguments.");

  cleanup_error isola_error_t err = NULL;
  cleanup_close int fd = input ? open (input, O_RDONLY | O_CLOEXEC) : dup (STDIN_FILENO);
  if (fd < 0)
    {
      isola_error_make (&err, errno, "open `%s`", input ? input : "stdin");
      return cli_fail (&err);
    }
  if (input == NULL && isatty (fd))
    {
      isola_error_fail (&err, EINVAL, "requested load from stdin, but stdin is empty (a terminal); use -i FILE");
      return cli_fail (&err);
    }

  cleanup_store struct isola_store *store = NULL;
  /* The archive is staged without the store lock (ingest_staging): `images` and the others go on meanwhile. */
  if ((exit_code = cli_open_store_as (ctx, STORE_LOCK_NONE, &store)))
    return exit_code;
  struct load_result res = { 0 };
  if (image_load (store, fd, &res, &err) < 0)
    return cli_fail (&err);
  for (size_t i = 0; i < res.n_images; i++)
    {
      if (res.images[i].tags[0] == NULL)
        printf ("Loaded image ID: sha256:%s\n", res.images[i].id);
      for (size_t j = 0; res.images[i].tags[j]; j++)
        printf ("Loaded image: %s\n", res.images[i].tags[j]);
    }
  load_result_clear (&res);
  return 0;
}

const struct cli_command cmd_load = {
  .name = "load",
  .run = run_load,
  .usage = "isola load [OPTIONS]",
  .summary = "Load an image from a tar archive (docker save or OCI layout) or STDIN",
  .flags = (const struct flag_def[]){
      { "input", 'i', 'i', "string", "Read from tar archive file, instead of STDIN" },
      { "quiet", 'q', 'q', NULL, "Suppress the load output" },
      { 0 },
  },
};
