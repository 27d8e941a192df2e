/* pflag's parsing rules (flags.h), written from its behaviour as the docker CLI shows it. */
#define _GNU_SOURCE
#include "base/flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void
flags_init (struct flag_parser *p, const struct flag_def *defs, bool interspersed, int argc, char **argv)
{
  memset (p, 0, sizeof (*p));
  p->defs = defs;
  p->interspersed = interspersed;
  p->argc = argc;
  p->argv = argv;
  p->next = 1;
  p->args = argv + 1;
}

bool
flags_parse_bool (const char *s, bool *out)
{
  static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
  static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
  for (size_t i = 0; i < ARRAY_SIZE (yes); i++)
    if (strcmp (s, yes[i]) == 0 || strcmp (s, no[i]) == 0)
      {
        *out = strcmp (s, yes[i]) == 0;
        return true;
      }
  return false;
}

char *
flags_display_name (const struct flag_def *f)
{
  if (f->shorthand)
    return xasprintf ("-%c, --%s", f->shorthand, f->name);
  return xasprintf ("--%s", f->name);
}

/* A positional argument moves down to argv[1 + nargs]: every slot below next is free to reuse. */
static void
keep_arg (struct flag_parser *p, char *arg)
{
  p->args[p->nargs++] = arg;
}

static int
finish (struct flag_parser *p)
{
  while (p->next < p->argc)
    keep_arg (p, p->argv[p->next++]);
  p->args[p->nargs] = NULL;
  p->done = true;
  return FLAG_END;
}

static const struct flag_def *
find_long (const struct flag_parser *p, const char *name, size_t len)
{
  for (const struct flag_def *f = p->defs; f && f->name; f++)
    if (strlen (f->name) == len && strncmp (f->name, name, len) == 0)
      return f;
  return NULL;
}

static const struct flag_def *
find_short (const struct flag_parser *p, char c)
{
  for (const struct flag_def *f = p->defs; f && f->name; f++)
    if (f->shorthand == c)
      return f;
  return NULL;
}

/* Sets the flag's value, checking a boolean's; returns its id. */
static int
take_value (struct flag_parser *p, const struct flag_def *f, const char *value, isola_error_t *err)
{
  p->flag = f;
  p->value = value;
  p->on = false;
  if (f->value_type == NULL && !flags_parse_bool (value, &p->on))
    {
      cleanup_free char *name = flags_display_name (f);
      return isola_error_fail (err, EINVAL,
                               "invalid argument \"%s\" for \"%s\" flag: strconv.ParseBool: parsing \"%s\": "
                               "invalid syntax",
                               value, name, value);
    }
  return f->id;
}

/* "--name", "--name=value" or "--name value". */
static int
long_flag (struct flag_parser *p, const char *arg, isola_error_t *err)
{
  const char *name = arg + 2;
  const char *eq = strchr (name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen (name);
  const struct flag_def *f = find_long (p, name, len);
  if (f == NULL)
    {
      if (len == 4 && strncmp (name, "help", 4) == 0)
        return FLAG_HELP;
      return isola_error_fail (err, EINVAL, "unknown flag: --%.*s", (int)len, name);
    }
  if (eq)
    return take_value (p, f, eq + 1, err);
  if (f->value_type == NULL)
    return take_value (p, f, "true", err);
  if (p->next >= p->argc)
    return isola_error_fail (err, EINVAL, "flag needs an argument: --%s", f->name);
  return take_value (p, f, p->argv[p->next++], err);
}

/* The first letter of p->cluster, the short flags after a '-': "-f=arg", "-farg", "-f arg", "-abc". */
static int
short_flag (struct flag_parser *p, isola_error_t *err)
{
  const char *s = p->cluster, *word = p->cluster_word;
  p->cluster = s[1] ? s + 1 : NULL;
  const struct flag_def *f = find_short (p, s[0]);
  if (f == NULL)
    {
      if (s[0] == 'h')
        return FLAG_HELP;
      return isola_error_fail (err, EINVAL, "unknown shorthand flag: '%c' in -%s", s[0], word);
    }
  if (s[1] == '=' && s[2] != '\0')
    {
      p->cluster = NULL;
      return take_value (p, f, s + 2, err);
    }
  if (f->value_type == NULL)
    return take_value (p, f, "true", err);
  if (s[1] != '\0')
    {
      p->cluster = NULL;
      return take_value (p, f, s + 1, err);
    }
  if (p->next >= p->argc)
    return isola_error_fail (err, EINVAL, "flag needs an argument: '%c' in -%s", s[0], word);
  return take_value (p, f, p->argv[p->next++], err);
}

int
flags_next (struct flag_parser *p, isola_error_t *err)
{
  if (p->done)
    return FLAG_END;
  if (p->cluster)
    return short_flag (p, err);
  while (p->next < p->argc)
    {
      char *arg = p->argv[p->next];
      if (strcmp (arg, "--") == 0)
        {
          p->next++;
          return finish (p);
        }
      if (arg[0] != '-' || arg[1] == '\0')
        {
          if (!p->interspersed)
            return finish (p);
          keep_arg (p, arg);
          p->next++;
          continue;
        }
      p->next++;
      if (arg[1] == '-')
        return long_flag (p, arg, err);
      p->cluster = p->cluster_word = arg + 1;
      return short_flag (p, err);
    }
  return finish (p);
}

static int
compare_names (const void *a, const void *b)
{
  const struct flag_def *const *x = a, *const *y = b;
  return strcmp ((*x)->name, (*y)->name);
}

/* "  -m, --memory bytes" or "      --cpus decimal". */
static char *
usage_head (const struct flag_def *f)
{
  const char *sep = f->value_type ? " " : "";
  const char *type = f->value_type ? f->value_type : "";
  if (f->shorthand)
    return xasprintf ("  -%c, --%s%s%s", f->shorthand, f->name, sep, type);
  return xasprintf ("      --%s%s%s", f->name, sep, type);
}

char *
flags_usage (const struct flag_def *defs)
{
  size_t n = 0;
  while (defs && defs[n].name)
    n++;
  const struct flag_def **sorted = xcalloc (n + 1, sizeof (*sorted));
  size_t width = 0;
  for (size_t i = 0; i < n; i++)
    {
      sorted[i] = &defs[i];
      cleanup_free char *head = usage_head (&defs[i]);
      if (strlen (head) > width)
        width = strlen (head);
    }
  qsort (sorted, n, sizeof (*sorted), compare_names);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&out, &len);
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *head = usage_head (sorted[i]);
      /* pflag's column: three spaces after the longest head. */
      fprintf (f, "%-*s   ", (int)width, head);
      for (const char *u = sorted[i]->usage; *u; u++)
        {
          fputc (*u, f);
          if (*u == '\n')
            fprintf (f, "%*s", (int)width + 3, "");
        }
      fputc ('\n', f);
    }
  fclose (f);
  free (sorted);
  return out;
}
