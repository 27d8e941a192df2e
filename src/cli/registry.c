/* pull, push, login, logout: run by isola-registry, the program beside us that links libcurl (src/registry/main.c),
   with the arguments as given.  $ISOLA_REGISTRY_HELPER overrides where it is. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/sealed_exe.h"
#include "base/util.h"
#include "cli.h"

static char *
helper_path (void)
{
  const char *env = getenv ("ISOLA_REGISTRY_HELPER");
  if (env && env[0])
    return xstrdup (env);
  char *p = path_beside_self ("isola-registry");
  if (p && access (p, X_OK) == 0)
    return p;
  free (p);
  return xstrdup ("isola-registry");
}

/* argv for the helper: [--root ROOT] VERB ARGS… */
static char **
helper_argv (struct cli_ctx *ctx, const char *path, int argc, char **argv)
{
  char **v = xcalloc ((size_t)argc + 4, sizeof (char *));
  size_t n = 0;
  v[n++] = (char *)path;
  if (ctx->root)
    {
      v[n++] = (char *)"--root";
      v[n++] = (char *)ctx->root;
    }
  for (int i = 0; i < argc; i++)
    v[n++] = argv[i];
  return v;
}

static int
exec_helper (struct cli_ctx *ctx, int argc, char **argv)
{
  cleanup_free char *path = helper_path ();
  cleanup_free char **v = helper_argv (ctx, path, argc, argv);
  fflush (NULL);
  execvp (path, v);
  fprintf (stderr, "Error: cannot run %s for `isola %s` (is isola-registry installed beside isola?): %s\n", path,
           argv[0], strerror (errno));
  return errno == ENOENT ? 127 : 126;
}

int
cli_pull_image (struct cli_ctx *ctx, const char *image)
{
  cleanup_free char *path = helper_path ();
  char *args[] = { (char *)"pull", (char *)image, NULL };
  cleanup_free char **v = helper_argv (ctx, path, 2, args);
  fflush (NULL);
  pid_t pid = fork ();
  if (pid < 0)
    {
      fprintf (stderr, "Error: fork: %s\n", strerror (errno));
      return EXIT_USAGE;
    }
  if (pid == 0)
    {
      setenv ("ISOLA_PULL_OUTPUT", "stderr", 1);
      execvp (path, v);
      fprintf (stderr, "Error: cannot run %s to pull %s: %s\n", path, image, strerror (errno));
      _exit (127);
    }
  int status = 0;
  if (waitpid_retry (pid, &status) < 0)
    return EXIT_USAGE;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : EXIT_USAGE;
}

const struct cli_command cmd_pull = {
  .name = "pull",
  .run = exec_helper,
  .usage = "isola pull [OPTIONS] NAME[:TAG|@DIGEST]",
  .summary = "Pull an image or a repository from a registry",
};

const struct cli_command cmd_push = {
  .name = "push",
  .run = exec_helper,
  .usage = "isola push [OPTIONS] NAME[:TAG]",
  .summary = "Push an image to a registry",
};

const struct cli_command cmd_login = {
  .name = "login",
  .run = exec_helper,
  .usage = "isola login [OPTIONS] [SERVER]",
  .summary = "Log in to a registry",
};

const struct cli_command cmd_logout = {
  .name = "logout",
  .run = exec_helper,
  .usage = "isola logout [SERVER]",
  .summary = "Log out from a registry",
};
