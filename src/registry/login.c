/* `isola login` and `isola logout` (run by isola-registry): credentials checked against the registry, then kept in
   Docker's config.json (image/registry_auth.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/util.h"
#include "image/registry.h"
#include "image/registry_auth.h"
#include "registry.h"

#define PASSWORD_MAX 4096

static char *
read_line (FILE *f, bool echo)
{
  struct termios old, quiet;
  bool tty = !echo && isatty (fileno (f)) && tcgetattr (fileno (f), &old) == 0;
  if (tty)
    {
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t)ECHO;
      tcsetattr (fileno (f), TCSAFLUSH, &quiet);
    }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline (&line, &cap, f);
  if (tty)
    {
      tcsetattr (fileno (f), TCSAFLUSH, &old);
      fputc ('\n', stderr);
    }
  if (n < 0)
    {
      free (line);
      return NULL;
    }
  line[strcspn (line, "\r\n")] = '\0';
  return line;
}

static int
run_login (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser fp;
  const char *user = NULL, *password = NULL;
  bool from_stdin = false;
  int c, exit_code = 0;
  cli_flags_init (&fp, &reg_cmd_login, argc, argv);
  while ((c = cli_flag_next (&reg_cmd_login, &fp, &exit_code)) > 0)
    switch (c)
      {
      case 'u':
        user = fp.value;
        break;
      case 'p':
        password = fp.value;
        break;
      case 'S':
        from_stdin = fp.on;
        break;
      }
  if (c < 0)
    return exit_code;
  if (fp.nargs > 1)
    return cli_usage_error (&reg_cmd_login, "\"isola login\" requires at most 1 argument.");
  if (password && from_stdin)
    return cli_usage_error (&reg_cmd_login, "--password and --password-stdin are mutually exclusive");
  if (from_stdin && user == NULL)
    return cli_usage_error (&reg_cmd_login, "Must provide --username with --password-stdin");
  if (password)
    fprintf (stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  cleanup_free char *domain = registry_server_domain (fp.nargs ? fp.args[0] : NULL);
  cleanup_free char *typed_user = NULL, *typed_password = NULL;
  if (user == NULL || (password == NULL && !from_stdin))
    {
      if (!isatty (STDIN_FILENO))
        {
          fprintf (stderr, "Error: Cannot perform an interactive login from a non TTY device\n");
          return EXIT_CMD_FAILED;
        }
      if (user == NULL)
        {
          fprintf (stderr, "Username: ");
          user = typed_user = read_line (stdin, true);
        }
      fprintf (stderr, "Password: ");
      password = typed_password = read_line (stdin, false);
    }
  else if (from_stdin)
    {
      cleanup_error isola_error_t rerr = NULL;
      size_t len = 0;
      if (read_fd_bounded (STDIN_FILENO, PASSWORD_MAX, &typed_password, &len, &rerr) < 0)
        return cli_fail (&rerr);
      while (len > 0 && (typed_password[len - 1] == '\n' || typed_password[len - 1] == '\r'))
        typed_password[--len] = '\0';
      password = typed_password;
    }
  if (user == NULL || *user == '\0')
    {
      fprintf (stderr, "Error: Username is required\n");
      return EXIT_CMD_FAILED;
    }
  if (password == NULL || *password == '\0')
    {
      fprintf (stderr, "Error: Password is required\n");
      return EXIT_CMD_FAILED;
    }
  cleanup_error isola_error_t err = NULL;
  cleanup_free char *identity = NULL;
  if (registry_check_login (ctx->root, domain, user, password, &identity, &err) < 0)
    return cli_fail (&err);
  /* A refresh token from the token service is kept in place of the password, as Docker keeps it. */
  int ret = identity ? registry_auth_store_identity (domain, user, identity, &err)
                     : registry_auth_store (domain, user, password, &err);
  if (identity)
    explicit_bzero (identity, strlen (identity));
  if (ret < 0)
    return cli_fail (&err);
  printf ("Login Succeeded\n");
  return 0;
}

static int
run_logout (struct cli_ctx *ctx, int argc, char **argv)
{
  (void)ctx;
  struct flag_parser fp;
  int exit_code = 0;
  if (cli_flags_parse_all (&reg_cmd_logout, &fp, argc, argv, &exit_code) < 0)
    return exit_code;
  if (fp.nargs > 1)
    return cli_usage_error (&reg_cmd_logout, "\"isola logout\" requires at most 1 argument.");
  cleanup_free char *domain = registry_server_domain (fp.nargs ? fp.args[0] : NULL);
  cleanup_free char *key = registry_auth_key (domain);
  cleanup_error isola_error_t err = NULL;
  bool found = false;
  if (registry_auth_erase (domain, &found, &err) < 0)
    return cli_fail (&err);
  if (!found)
    printf ("Not logged in to %s\n", key);
  else
    printf ("Removing login credentials for %s\n", key);
  return 0;
}

const struct cli_command reg_cmd_login = {
  .name = "login",
  .run = run_login,
  .usage = "isola login [OPTIONS] [SERVER]",
  .summary = "Log in to a registry",
  .flags = (const struct flag_def[]){
      { "password", 'p', 'p', "string", "Password" },
      { "password-stdin", 0, 'S', NULL, "Take the password from stdin" },
      { "username", 'u', 'u', "string", "Username" },
      { 0 },
  },
};

const struct cli_command reg_cmd_logout = {
  .name = "logout",
  .run = run_logout,
  .usage = "isola logout [SERVER]",
  .summary = "Log out from a registry",
  .flags = (const struct flag_def[]){ { 0 } },
};
