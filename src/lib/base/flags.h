/* Command-line flags parsed as Docker's CLI parses them (spf13/pflag under cobra), from one table per command that
   also makes the command's help, so the two cannot disagree:
   - long flags match their exact name only (`--pid` is not `--pids-limit`): `--name VALUE`, `--name=VALUE`;
   - a boolean never takes the next argument; `--tty=false`, `-d=true` take Go's strconv.ParseBool values;
   - short flags cluster (`-dit`) and take attached values: `-eFOO=bar`, `-e FOO=bar`, `-m=64m` (value "64m");
   - flags may follow positional arguments, except in commands whose rest is a command line (run, exec), where the
     first positional argument ends the flags; `--` ends them everywhere.
   `--help` (and `-h` unless a flag has that shorthand) asks for the help. */
#ifndef ISOLA_FLAGS_H
#define ISOLA_FLAGS_H

#include <stdbool.h>

#include "base/error.h"

struct flag_def
{
  const char *name;       /* the long name, without "--"; NULL ends a table */
  char shorthand;         /* the one-letter name, or 0 */
  int id;                 /* what flags_next returns for it: >= FLAG_FIRST_ID */
  const char *value_type; /* the value's name in the help ("string", "list", "bytes"), or NULL for a boolean */
  const char *usage;      /* the help text; a '\n' continues it on a line of its own, aligned */
};

/* What flags_next returns besides a flag's id (and a negative errno). */
enum
{
  FLAG_END = 0,  /* no more flags: the positional arguments are in args[0..nargs) */
  FLAG_HELP = 1, /* --help or -h */
  FLAG_FIRST_ID = 2,
};

struct flag_parser
{
  const struct flag_def *defs;
  bool interspersed; /* flags may follow positional arguments */
  int argc;
  char **argv;         /* argv[0] is the command's name; positional arguments are moved to argv[1..] as they are met */
  int next;            /* the next argument to look at */
  const char *cluster; /* the rest of a cluster of short flags ("it" of "-dit"), or NULL */
  const char *cluster_word; /* the whole cluster, for messages ("dit") */
  bool done;
  /* The flag flags_next returned, its value as given ("true" for a bare boolean) and, for a boolean, that value. */
  const struct flag_def *flag;
  const char *value;
  bool on;
  /* The positional arguments, NULL-terminated once flags_next returned FLAG_END. */
  char **args;
  int nargs;
};

void flags_init (struct flag_parser *p, const struct flag_def *defs, bool interspersed, int argc, char **argv);

/* The next flag: its id, FLAG_HELP, FLAG_END, or -EINVAL with pflag's message ("unknown flag: --pid", "flag needs
   an argument: 'e' in -e", "invalid argument \"x\" for \"-t, --tty\" flag: …"). */
int flags_next (struct flag_parser *p, isola_error_t *err);

/* "-m, --memory" or "--cpus", as pflag names a flag in its messages. */
char *flags_display_name (const struct flag_def *f);

/* Go's strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False. */
bool flags_parse_bool (const char *s, bool *out);

/* The help's option lines, as pflag prints them: sorted by long name, values named, texts in one column. */
char *flags_usage (const struct flag_def *defs);

#endif
