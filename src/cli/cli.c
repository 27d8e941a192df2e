#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/gotemplate.h"
#include "base/util.h"
#include "container/container.h"
#include "store/store.h"

void
cli_usage (const struct cli_command *cmd, bool to_stderr)
{
  FILE *f = to_stderr ? stderr : stdout;
  fprintf (f, "\nUsage:  %s\n\n%s\n", cmd->usage, cmd->summary);
  if (cmd->flags && cmd->flags[0].name)
    {
      cleanup_free char *options = flags_usage (cmd->flags);
      fprintf (f, "\nOptions:\n%s", options);
    }
  fprintf (f, "\n");
}

/* Docker's listing: names padded to 11 columns, as cobra's minimum. */
static void
group_usage (const struct cli_command *group, const struct cli_subcommand *subs, size_t n_subs, FILE *f)
{
  fprintf (f, "\nUsage:  %s\n\n%s\n\nCommands:\n", group->usage, group->summary);
  for (size_t i = 0; i < n_subs; i++)
    if (!subs[i].alias)
      fprintf (f, "  %-11s %s\n", subs[i].name, subs[i].summary ? subs[i].summary : subs[i].cmd->summary);
  fprintf (f, "\nRun '%s --help' for more information on a command.\n", group->usage);
}

int
cli_run_subcommand (struct cli_ctx *ctx, const struct cli_command *group, const struct cli_subcommand *subs,
                    size_t n_subs, int argc, char **argv)
{
  if (argc < 2)
    {
      group_usage (group, subs, n_subs, stderr);
      return EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      group_usage (group, subs, n_subs, stdout);
      return 0;
    }
  for (size_t i = 0; i < n_subs; i++)
    if (strcmp (argv[1], subs[i].name) == 0)
      return subs[i].cmd->run (ctx, argc - 1, argv + 1);
  fprintf (stderr, "isola: '%s %s' is not an isola command.\nSee 'isola %s --help'\n", group->name, argv[1],
           group->name);
  return EXIT_USAGE;
}

int
cli_usage_error (const struct cli_command *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "isola: ");
  vfprintf (stderr, fmt, ap);
  fprintf (stderr, "\n");
  va_end (ap);
  int name_len = (int)strcspn (cmd->usage, "[A-Z");
  while (name_len > 0 && cmd->usage[name_len - 1] == ' ')
    name_len--;
  fprintf (stderr, "See '%.*s --help'.\n", name_len, cmd->usage);
  cli_usage (cmd, true);
  return EXIT_USAGE;
}

/* containerd's platform syntax: OS[/ARCH[/VARIANT]], lower-case letters, digits, '_' and '-'. */
static bool
platform_well_formed (const char *s)
{
  int parts = 1;
  size_t len = 0;
  for (const char *c = s;; c++)
    {
      if (*c == '/' || *c == '\0')
        {
          if (len == 0)
            return false;
          if (*c == '\0')
            return parts <= 3;
          parts++, len = 0;
        }
      else if ((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')
        len++;
      else
        return false;
    }
}

int
cli_check_platform (const char *platform)
{
  static const char *const ours[] = { "linux", "linux/amd64", "linux/x86_64", "linux/x86-64", "linux/amd64/v1" };
  for (size_t i = 0; i < ARRAY_SIZE (ours); i++)
    if (strcmp (platform, ours[i]) == 0)
      return 0;
  if (!platform_well_formed (platform))
    fprintf (stderr, "Error: \"%s\": unknown operating system or architecture: invalid argument\n", platform);
  else
    fprintf (stderr, "Error: platform %s is not supported: isola runs linux/amd64 images only\n", platform);
  return EXIT_USAGE;
}

int
cli_fail (isola_error_t *err)
{
  fprintf (stderr, "Error: %s\n", err && *err && (*err)->msg ? (*err)->msg : "unknown error");
  return EXIT_CMD_FAILED;
}

void
cli_flags_init (struct flag_parser *p, const struct cli_command *cmd, int argc, char **argv)
{
  flags_init (p, cmd->flags, !cmd->command_follows, argc, argv);
}

int
cli_flag_next (const struct cli_command *cmd, struct flag_parser *p, int *exit_code)
{
  cleanup_error isola_error_t err = NULL;
  int id = flags_next (p, &err);
  if (id == FLAG_HELP)
    {
      cli_usage (cmd, false);
      *exit_code = 0;
      return -1;
    }
  if (id < 0)
    {
      *exit_code = cli_usage_error (cmd, "%s", err->msg);
      return -1;
    }
  return id;
}

int
cli_flags_parse_all (const struct cli_command *cmd, struct flag_parser *p, int argc, char **argv, int *exit_code)
{
  int c;
  cli_flags_init (p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, p, exit_code)) > 0)
    ;
  return c;
}

int
cli_flag_invalid (const struct cli_command *cmd, const struct flag_parser *p, const char *fmt, ...)
{
  cleanup_free char *name = flags_display_name (p->flag);
  cleanup_free char *why = NULL;
  if (fmt)
    {
      va_list ap;
      va_start (ap, fmt);
      if (vasprintf (&why, fmt, ap) < 0)
        why = NULL;
      va_end (ap);
    }
  return cli_usage_error (cmd, "invalid argument \"%s\" for \"%s\" flag%s%s", p->value, name, why ? ": " : "",
                          why ? why : "");
}

struct table
{
  char ***rows;
  int *ncells;
  size_t n;
};

struct table *
table_new (void)
{
  return xcalloc (1, sizeof (struct table));
}

void
table_add (struct table *t, const char *const *cells, int n)
{
  t->rows = xrealloc (t->rows, (t->n + 1) * sizeof (char **));
  t->ncells = xrealloc (t->ncells, (t->n + 1) * sizeof (int));
  t->rows[t->n] = xcalloc ((size_t)n + 1, sizeof (char *));
  for (int i = 0; i < n; i++)
    t->rows[t->n][i] = xstrdup (cells[i]);
  t->ncells[t->n] = n;
  t->n++;
}

void
table_print (struct table *t)
{
  int maxcols = 0;
  for (size_t r = 0; r < t->n; r++)
    if (t->ncells[r] > maxcols)
      maxcols = t->ncells[r];
  size_t *width = xcalloc ((size_t)maxcols + 1, sizeof (size_t));
  for (size_t r = 0; r < t->n; r++)
    for (int c = 0; c < t->ncells[r]; c++)
      if (strlen (t->rows[r][c]) + 3 > width[c])
        width[c] = strlen (t->rows[r][c]) + 3;
  for (size_t r = 0; r < t->n; r++)
    {
      for (int c = 0; c < t->ncells[r]; c++)
        {
          size_t w = width[c] < 10 ? 10 : width[c];
          if (c + 1 < t->ncells[r])
            printf ("%-*s", (int)w, t->rows[r][c]);
          else
            printf ("%s", t->rows[r][c]);
        }
      printf ("\n");
    }
  free (width);
}

void
table_free (struct table *t)
{
  if (t == NULL)
    return;
  for (size_t r = 0; r < t->n; r++)
    strv_free (t->rows[r]);
  free (t->rows);
  free (t->ncells);
  free (t);
}

int
cli_open_store (struct cli_ctx *ctx, bool exclusive, struct isola_store **out)
{
  return cli_open_store_as (ctx, exclusive ? STORE_LOCK_EXCLUSIVE : STORE_LOCK_SHARED, out);
}

int
cli_open_store_as (struct cli_ctx *ctx, enum store_lock_mode mode, struct isola_store **out)
{
  cleanup_error isola_error_t err = NULL;
  if (store_open (ctx->root, mode, out, &err) < 0)
    return cli_fail (&err);
  return 0;
}

static int
load_container (struct cli_ctx *ctx, const char *what, struct isola_store **store, struct container **c, bool any)
{
  cleanup_error isola_error_t err = NULL;
  char id[DIGEST_HEX_LEN + 1];
  if (store_open (ctx->root, STORE_LOCK_NONE, store, &err) < 0 || container_resolve (*store, what, id, &err) < 0
      || (any ? container_load_any : container_load) (*store, id, c, &err) < 0 || container_refresh (*c, &err) < 0)
    return cli_fail (&err);
  return 0;
}

int
cli_load_container (struct cli_ctx *ctx, const char *what, struct isola_store **store, struct container **c)
{
  return load_container (ctx, what, store, c, false);
}

int
cli_load_container_any (struct cli_ctx *ctx, const char *what, struct isola_store **store, struct container **c)
{
  return load_container (ctx, what, store, c, true);
}

/* -e NAME=VALUE sets; -e NAME takes the value from our environment and is dropped when unset, as docker does. */
void
cli_env_add (char ***env, const char *e)
{
  if (strchr (e, '=') != NULL)
    {
      strv_push (env, e);
      return;
    }
  const char *v = getenv (e);
  if (v == NULL)
    return;
  cleanup_free char *kv = xasprintf ("%s=%s", e, v);
  strv_push (env, kv);
}

int
cli_lines_file (const char *path, char ***out, isola_error_t *err)
{
  cleanup_free char *buf = NULL;
  int ret = read_file_bounded (path, 1024 * 1024, &buf, NULL, err);
  if (ret < 0)
    return ret;
  char **lines = xcalloc (1, sizeof (char *));
  char *save = NULL;
  for (char *line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      line += strspn (line, " \t");
      size_t n = strlen (line);
      if (n && line[n - 1] == '\r')
        line[n - 1] = '\0';
      if (*line != '\0' && *line != '#')
        strv_push (&lines, line);
    }
  *out = lines;
  return 0;
}

/* Docker's env file: one NAME=VALUE or NAME per line. */
int
cli_env_file_add (char ***env, const char *path, isola_error_t *err)
{
  cleanup_strv char **lines = NULL;
  int ret = cli_lines_file (path, &lines, err);
  for (size_t i = 0; ret == 0 && lines[i]; i++)
    {
      if (lines[i][0] == '=')
        return isola_error_fail (err, EINVAL, "invalid environment variable: %s", lines[i]);
      cli_env_add (env, lines[i]);
    }
  return ret;
}

static int
each_container (struct cli_ctx *ctx, char **names, int n, cli_container_action act, void *arg, bool echo, bool any)
{
  int exit_code = 0;
  for (int i = 0; i < n; i++)
    {
      cleanup_store struct isola_store *store = NULL;
      cleanup_container struct container *ctr = NULL;
      cleanup_error isola_error_t err = NULL;
      if (load_container (ctx, names[i], &store, &ctr, any))
        exit_code = 1;
      else if (act (store, ctr, arg, &err) < 0)
        exit_code = err ? cli_fail (&err) : 1;
      else if (echo)
        printf ("%s\n", names[i]);
    }
  return exit_code;
}

int
cli_each_container (struct cli_ctx *ctx, char **names, int n, cli_container_action act, void *arg, bool echo)
{
  return each_container (ctx, names, n, act, arg, echo, false);
}

int
cli_each_container_any (struct cli_ctx *ctx, char **names, int n, cli_container_action act, void *arg, bool echo)
{
  return each_container (ctx, names, n, act, arg, echo, true);
}

bool
cli_format_is_default (const char *format)
{
  return format == NULL || format[strspn (format, " ")] == '\0' || strcmp (format, "table") == 0;
}

char *
cli_created_at (int64_t seconds)
{
  time_t t = (time_t)seconds;
  struct tm tm;
  char buf[64];
  gmtime_r (&t, &tm);
  strftime (buf, sizeof buf, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
  return xstrdup (buf);
}

char *
cli_time_string (const char *rfc3339)
{
  /* Go prints the fraction with its trailing zeros dropped (".999999999"), and no dot for a whole second. */
  const char *t = strchr (rfc3339, 'T');
  size_t date = t ? (size_t)(t - rfc3339) : 0;
  if (date != 10 || strlen (rfc3339) < date + 9)
    return xstrdup (rfc3339);
  const char *time = rfc3339 + date + 1, *end = time + 8;
  size_t frac = 0;
  if (*end == '.')
    {
      frac = 1 + strspn (end + 1, "0123456789");
      while (frac > 1 && end[frac - 1] == '0')
        frac--;
      if (frac == 1)
        frac = 0;
    }
  const char *zone = end + (*end == '.' ? 1 + strspn (end + 1, "0123456789") : 0);
  if (strcmp (zone, "Z") != 0)
    return xstrdup (rfc3339);
  return xasprintf ("%.*s %.8s%.*s +0000 UTC", (int)date, rfc3339, time, (int)frac, end);
}

char *
cli_labels_field (json_t *labels)
{
  char *out = xstrdup ("");
  const char *k;
  json_t *v;
  json_object_foreach (labels, k, v)
  {
    char *next = xasprintf ("%s%s%s=%s", out, out[0] ? "," : "", k, json_string_value (v) ?: "");
    free (out);
    out = next;
  }
  return out;
}

/* The template as Docker's formatter takes it: without "table", trimmed, with the \t and \n escapes. */
static char *
listing_template (const char *format, bool *table)
{
  *table = str_has_prefix (format, "table");
  const char *t = *table ? format + 5 : format;
  t += strspn (t, " ");
  char *out = xstrdup (t);
  size_t len = strlen (out);
  while (len && out[len - 1] == ' ')
    out[--len] = '\0';
  char *w = out;
  for (const char *r = out; *r; r++)
    if (r[0] == '\\' && (r[1] == 't' || r[1] == 'n'))
      *w++ = *++r == 't' ? '\t' : '\n';
    else
      *w++ = *r;
  *w = '\0';
  return out;
}

/* Adds a rendered line to the table, its \t-separated parts (empty ones too) as cells. */
static void
table_add_rendered (struct table *t, char *line)
{
  cleanup_free const char **cells = xcalloc (strlen (line) + 2, sizeof (char *));
  int n = 0;
  for (char *c = line;; c++)
    {
      char *tab = strchr (c, '\t');
      cells[n++] = c;
      if (tab == NULL)
        break;
      *tab = '\0';
      c = tab;
    }
  table_add (t, cells, n);
}

int
cli_print_listing (const char *format, json_t *rows, json_t *headers, isola_error_t *err)
{
  size_t i;
  json_t *row;
  if (strcmp (format, "json") == 0)
    {
      json_array_foreach (rows, i, row)
      {
        cleanup_free char *s = json_dumps (row, JSON_COMPACT | JSON_SORT_KEYS);
        printf ("%s\n", s);
      }
      return 0;
    }
  bool table;
  cleanup_free char *tmpl = listing_template (format, &table);
  struct table *t = table ? table_new () : NULL;
  cleanup_free char *header = NULL;
  int ret = table ? gotemplate_render (tmpl, headers, NULL, &header, err) : 0;
  if (ret == 0 && table)
    table_add_rendered (t, header);
  json_array_foreach (rows, i, row)
  {
    cleanup_free char *line = NULL;
    if (ret == 0)
      ret = gotemplate_render (tmpl, row, NULL, &line, err);
    if (ret < 0)
      break;
    if (table)
      table_add_rendered (t, line);
    else
      printf ("%s\n", line);
  }
  if (ret == 0 && table)
    table_print (t);
  table_free (t);
  return ret;
}

int
cli_print_each (json_t *items, const char *format, isola_error_t *err)
{
  size_t i;
  json_t *item;
  json_array_foreach (items, i, item)
  {
    cleanup_free char *text = NULL;
    if (strcmp (format, "json") == 0)
      text = json_dumps (item, JSON_COMPACT);
    else if (gotemplate_render (format, item, NULL, &text, err) < 0)
      return -EINVAL;
    printf ("%s\n", text);
  }
  return 0;
}

int
cli_print_inspected (json_t *items, const char *format, int exit_code)
{
  cleanup_error isola_error_t err = NULL;
  if (format)
    return cli_print_each (items, format, &err) < 0 ? cli_fail (&err) : exit_code;
  cleanup_free char *text = json_dumps (items, JSON_INDENT (4));
  printf ("%s\n", text);
  return exit_code;
}

bool
cli_confirm (const char *warning)
{
  printf ("%s\nAre you sure you want to continue? [y/N] ", warning);
  fflush (stdout);
  char answer[16] = "";
  if (fgets (answer, sizeof answer, stdin) == NULL)
    {
      printf ("\n");
      return false;
    }
  return answer[0] == 'y' || answer[0] == 'Y';
}
