/* isola-registry: the registry verbs of isola (pull, push, login, logout).  They need libcurl, which the static `isola`
   does not carry (its Debian build needs Kerberos and LDAP, which have no static libraries); `isola pull` and the
   others, and `run`/`create --pull`, execute this program beside it with the same arguments (src/cli/registry.c).
   Invoked as: isola-registry [--root ROOT] VERB [ARGS…]. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "registry.h"

static const struct cli_command *const verbs[] = { &reg_cmd_pull, &reg_cmd_push, &reg_cmd_login, &reg_cmd_logout };

int
main (int argc, char **argv)
{
  struct cli_ctx ctx = { .root = getenv ("ISOLA_ROOT"), .argv = argv };
  if (ctx.root && ctx.root[0] == '\0')
    ctx.root = NULL;
  int i = 1;
  if (i + 1 < argc && strcmp (argv[i], "--root") == 0)
    {
      ctx.root = argv[i + 1];
      i += 2;
    }
  if (i >= argc)
    {
      fprintf (stderr, "usage: isola-registry [--root ROOT] pull|push|login|logout [ARGS...]\n");
      return EXIT_USAGE;
    }
  setvbuf (stdout, NULL, _IOLBF, 0);
  for (size_t v = 0; v < ARRAY_SIZE (verbs); v++)
    if (strcmp (verbs[v]->name, argv[i]) == 0)
      {
        ctx.command = verbs[v]->name;
        return verbs[v]->run (&ctx, argc - i, argv + i);
      }
  fprintf (stderr, "isola: '%s' is not an isola command.\nSee 'isola --help'\n", argv[i]);
  return EXIT_USAGE;
}
