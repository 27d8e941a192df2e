/* The flag parser follows pflag, as the docker CLI shows it: exact long names, booleans with =value only, short
   clusters and attached values, interspersed arguments unless a command follows, and help made from the table. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/flags.h"
#include "base/util.h"
#include "tap.h"

enum
{
  F_DETACH = FLAG_FIRST_ID,
  F_TTY,
  F_INTERACTIVE,
  F_ENV,
  F_MEMORY,
  F_NAME,
  F_PIDS_LIMIT,
  F_TAIL,
};

static const struct flag_def defs[] = {
  { "detach", 'd', F_DETACH, NULL, "Run in the background" },
  { "tty", 't', F_TTY, NULL, "Allocate a pseudo-TTY" },
  { "interactive", 'i', F_INTERACTIVE, NULL, "Keep STDIN open" },
  { "env", 'e', F_ENV, "list", "Set environment variables" },
  { "memory", 'm', F_MEMORY, "bytes", "Memory limit" },
  { "name", 0, F_NAME, "string", "Assign a name\nsecond line" },
  { "pids-limit", 0, F_PIDS_LIMIT, "int", "Tune the pids limit" },
  { "tail", 'n', F_TAIL, "string", "Lines to show" },
  { 0 },
};

/* What a parse saw, as one string: "detach=true env=FOO=bar | args: a b", or "error: MESSAGE", or "help". */
static char *
parse (bool interspersed, const char *line)
{
  char *copy = xstrdup (line);
  char *argv[32] = { "cmd" };
  int argc = 1;
  for (char *save = NULL, *w = strtok_r (copy, " ", &save); w; w = strtok_r (NULL, " ", &save))
    argv[argc++] = strcmp (w, "''") == 0 ? "" : w;
  struct flag_parser p;
  flags_init (&p, defs, interspersed, argc, argv);
  char *out = xstrdup ("");
  int id;
  isola_error_t err = NULL;
  while ((id = flags_next (&p, &err)) > FLAG_HELP)
    {
      char *next = xasprintf ("%s%s=%s ", out, p.flag->name, p.flag->value_type ? p.value : p.on ? "true" : "false");
      free (out);
      out = next;
    }
  char *result;
  if (id == FLAG_HELP)
    result = xstrdup ("help");
  else if (id < 0)
    result = xasprintf ("error: %s", err->msg);
  else
    {
      result = xasprintf ("%s| args:", out);
      for (int i = 0; i < p.nargs; i++)
        {
          char *next = xasprintf ("%s %s", result, p.args[i]);
          free (result);
          result = next;
        }
      if (p.args[p.nargs] != NULL)
        {
          free (result);
          result = xstrdup ("args not NULL-terminated");
        }
    }
  isola_error_release (&err);
  free (out);
  free (copy);
  return result;
}

static void
expect (bool interspersed, const char *line, const char *want)
{
  char *got = parse (interspersed, line);
  CHECK_STR (got, want, "%s `%s` -> %s", interspersed ? "interspersed" : "command follows", line, got);
  free (got);
}

static void
test_long_flags_match_exact_names_only (void)
{
  expect (true, "--pid host", "error: unknown flag: --pid");
  expect (true, "--pids-limit 5", "pids-limit=5 | args:");
  expect (true, "--pids-limit=5", "pids-limit=5 | args:");
  expect (true, "--nam x", "error: unknown flag: --nam");
  expect (true, "--name=", "name= | args:");
  expect (true, "--name --tty", "name=--tty | args:"); /* a value flag takes the next argument, whatever it is */
  expect (true, "--name", "error: flag needs an argument: --name");
}

static void
test_booleans_take_only_attached_values (void)
{
  expect (true, "--tty img", "tty=true | args: img");
  expect (true, "--tty=false img", "tty=false | args: img");
  expect (true, "--detach=true --interactive=0", "detach=true interactive=false | args:");
  expect (true, "--tty=T --detach=FALSE --interactive=f", "tty=true detach=false interactive=false | args:");
  expect (true, "--tty false", "tty=true | args: false");
  expect (true, "--tty=yes",
          "error: invalid argument \"yes\" for \"-t, --tty\" flag: strconv.ParseBool: parsing \"yes\": invalid syntax");
  expect (true, "-d=false", "detach=false | args:");
  expect (true, "-t=1", "tty=true | args:");
}

static void
test_short_flags (void)
{
  expect (true, "-dit", "detach=true interactive=true tty=true | args:");
  expect (true, "-eFOO=bar", "env=FOO=bar | args:");
  expect (true, "-e FOO=bar", "env=FOO=bar | args:");
  expect (true, "-m=64m", "memory=64m | args:");
  expect (true, "-m64m", "memory=64m | args:");
  expect (true, "-e=", "env== | args:"); /* pflag: "=" alone is the value */
  expect (true, "-de X", "detach=true env=X | args:");
  expect (true, "-dex", "detach=true env=x | args:");
  expect (true, "-xit", "error: unknown shorthand flag: 'x' in -xit");
  expect (true, "-dix", "error: unknown shorthand flag: 'x' in -dix");
  expect (true, "-e", "error: flag needs an argument: 'e' in -e");
  expect (true, "-n 1", "tail=1 | args:");
}

static void
test_interspersed_arguments (void)
{
  expect (true, "ctr --tail 1", "tail=1 | args: ctr");
  expect (true, "a -d b --tty c", "detach=true tty=true | args: a b c");
  expect (true, "a -- -d --tty", "| args: a -d --tty");
  expect (true, "- -d", "detach=true | args: -");
  expect (true, "'' -d", "detach=true | args: ");
}

static void
test_command_follows (void)
{
  expect (false, "-d img ls -l --tty", "detach=true | args: img ls -l --tty");
  expect (false, "img --name x", "| args: img --name x");
  expect (false, "-- img -d", "| args: img -d");
  expect (false, "--name n -- img", "name=n | args: img");
}

static void
test_help (void)
{
  expect (true, "--help", "help");
  expect (true, "a -h", "help");
  expect (true, "-dh", "help");
  expect (false, "img --help", "| args: img --help");
  /* A command whose -h is another flag (run's --hostname) still has --help. */
  static const struct flag_def with_h[] = { { "hostname", 'h', FLAG_FIRST_ID, "string", "Host name" }, { 0 } };
  char *argv[] = { "cmd", "-h", "box", "--help", NULL };
  struct flag_parser p;
  flags_init (&p, with_h, true, 4, argv);
  CHECK (flags_next (&p, NULL) == FLAG_FIRST_ID && strcmp (p.value, "box") == 0, "-h is --hostname when defined");
  CHECK (flags_next (&p, NULL) == FLAG_HELP, "--help is help even then");
}

static void
test_usage_lists_every_flag_sorted (void)
{
  char *u = flags_usage (defs);
  CHECK (u != NULL, "usage made");
  size_t n = 0;
  for (const struct flag_def *f = defs; f->name; f++, n++)
    {
      char *head = f->shorthand ? xasprintf ("  -%c, --%s%s%s", f->shorthand, f->name, f->value_type ? " " : "",
                                             f->value_type ? f->value_type : "")
                                : xasprintf ("      --%s%s%s", f->name, f->value_type ? " " : "",
                                             f->value_type ? f->value_type : "");
      char *first_line = strndup (f->usage, strcspn (f->usage, "\n"));
      CHECK (strstr (u, head) != NULL && strstr (u, first_line) != NULL, "usage lists `%s` with its text", head);
      free (first_line);
      free (head);
    }
  CHECK (strstr (u, "  -d, --detach           Run in the background\n") != NULL,
         "three spaces after the longest head (--pids-limit int)");
  CHECK (strstr (u, "      --name string      Assign a name\n                         second line\n") != NULL,
         "a second line is aligned with the text");
  CHECK (strstr (u, "--detach") < strstr (u, "--env") && strstr (u, "--env") < strstr (u, "--interactive")
             && strstr (u, "--tail") < strstr (u, "--tty"),
         "sorted by long name");
  size_t lines = 0;
  for (const char *c = u; *c; c++)
    lines += *c == '\n';
  CHECK (lines == n + 1, "one line per flag (+1 for the two-line text): %zu", lines);
  free (u);
}

int
main (void)
{
  test_long_flags_match_exact_names_only ();
  test_booleans_take_only_attached_values ();
  test_short_flags ();
  test_interspersed_arguments ();
  test_command_follows ();
  test_help ();
  test_usage_lists_every_flag_sorted ();
  return tap_done ();
}
