#define _GNU_SOURCE
#include <archive.h>
#include <jansson.h>
#include <openssl/opensslv.h>
#include <stdio.h>

#include "cli.h"
#include "git_rev.h"
#include "store/store.h"

static int
run_version (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (&cmd_version, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (&cmd_version, "\"isola version\" accepts no arguments.");
  printf ("isola version %s\n", ISOLA_VERSION);
  printf (" Git commit:   %s\n", ISOLA_GIT_REV);
  printf (" OS/Arch:      linux/amd64\n");
  printf (" Root:         %s\n", ctx->root ? ctx->root : ISOLA_DEFAULT_ROOT);
  printf (" Libraries:    %s, jansson %s, %s\n", archive_version_string (), JANSSON_VERSION, OPENSSL_VERSION_TEXT);
  return 0;
}

const struct cli_command cmd_version = {
  .name = "version",
  .run = run_version,
  .usage = "isola version",
  .summary = "Show the isola version information",
};
