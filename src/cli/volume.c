/* `isola volume create|inspect|ls|prune|rm`: Docker's volume commands, local driver only (container/volume.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/volume.h"

/* --- create --------------------------------------------------------------------------------------------------- */

static int run_volume_create (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_volume_create = {
  .name = "create",
  .run = run_volume_create,
  .usage = "isola volume create [OPTIONS] [VOLUME]",
  .summary = "Create a volume",
  .flags = (const struct flag_def[]){
      { "driver", 'd', 'd', "string", "Specify volume driver name (default \"local\", the only one)" },
      { "label", 'l', 'l', "list", "Set metadata for a volume" },
      { "name", 0, 'n', "string", "Specify volume name" },
      { "opt", 'o', 'o', "map", "Set driver specific options (the local driver here takes none)" },
      { 0 },
  },
};

static int
run_volume_create (struct cli_ctx *ctx, int argc, char **argv)
{
  const char *name = NULL, *driver = "local", *opt = NULL;
  cleanup_json json_t *labels = json_object ();
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_volume_create, argc, argv);
  while ((c = cli_flag_next (&cmd_volume_create, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'd':
        driver = p.value;
        break;
      case 'l':
        {
          cleanup_free char *key = xstrdup (p.value);
          char *value = strchr (key, '=');
          if (value)
            *value++ = '\0';
          json_object_set_new (labels, key, json_string (value ? value : ""));
          break;
        }
      case 'n':
        name = p.value;
        break;
      case 'o':
        opt = p.value;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs > 1)
    return cli_usage_error (&cmd_volume_create, "\"isola volume create\" requires at most 1 argument.");
  if (p.nargs == 1)
    {
      if (name && strcmp (name, p.args[0]) != 0)
        return cli_usage_error (&cmd_volume_create, "conflicting options: either specify --name or provide "
                                                    "positional arg, not both");
      name = p.args[0];
    }
  cleanup_error isola_error_t err = NULL;
  if (strcmp (driver, "local") != 0)
    {
      isola_error_fail (&err, ENOTSUP, "create %s: volume driver \"%s\" is not supported: only \"local\" is",
                        name ? name : "", driver);
      return cli_fail (&err);
    }
  if (opt)
    {
      isola_error_fail (&err, ENOTSUP,
                        "create %s: option \"%s\" is not supported: the local driver here keeps volumes as "
                        "directories in the store and takes no options",
                        name ? name : "", opt);
      return cli_fail (&err);
    }
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  cleanup_free char *created = NULL;
  /* A name given is a named volume even when it looks like a generated one. */
  if (volume_create (store, name, labels, &created, NULL, &err) < 0)
    return cli_fail (&err);
  printf ("%s\n", created);
  return 0;
}

/* --- inspect -------------------------------------------------------------------------------------------------- */

static int run_volume_inspect (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_volume_inspect = {
  .name = "inspect",
  .run = run_volume_inspect,
  .usage = "isola volume inspect [OPTIONS] VOLUME [VOLUME...]",
  .summary = "Display detailed information on one or more volumes",
  .flags = (const struct flag_def[]){
      { "format", 'f', 'f', "string", "Format output using a Go template ({{.Mountpoint}}, {{json .Labels}})" },
      { 0 },
  },
};

/* Docker prints what it found (or "[]") and then fails if any name was unknown. */
static int
run_volume_inspect (struct cli_ctx *ctx, int argc, char **argv)
{
  const char *format = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_volume_inspect, argc, argv);
  while ((c = cli_flag_next (&cmd_volume_inspect, &p, &exit_code)) > 0)
    if (c == 'f')
      format = p.value;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_volume_inspect, "\"isola volume inspect\" requires at least 1 argument.");
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  cleanup_json json_t *items = json_array ();
  for (int i = 0; i < p.nargs; i++)
    {
      cleanup_error isola_error_t one = NULL;
      json_t *obj = NULL;
      if (volume_inspect_json (store, p.args[i], &obj, &one) < 0)
        exit_code = cli_fail (&one);
      else
        json_array_append_new (items, obj);
    }
  return cli_print_inspected (items, format, exit_code);
}

/* --- ls ------------------------------------------------------------------------------------------------------- */

static int run_volume_ls (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_volume_ls = {
  .name = "ls",
  .run = run_volume_ls,
  .usage = "isola volume ls [OPTIONS]",
  .summary = "List volumes",
  .flags = (const struct flag_def[]){
      { "filter", 'f', 'f', "filter",
        "Provide filter values (name=, label=KEY[=VALUE], dangling=true|false, driver=local)" },
      { "format", 0, 'F', "string",
        "Format output using a Go template ({{.Name}}, {{.Driver}}, {{.Mountpoint}}), 'json' or\n'table TEMPLATE'" },
      { "quiet", 'q', 'q', NULL, "Only display volume names" },
      { 0 },
  },
};

struct volume_filter
{
  char **names, **labels, **drivers;
  int dangling; /* -1: any, 0: in use, 1: unused */
};

static void
volume_filter_clear (struct volume_filter *f)
{
  strv_free (f->names);
  strv_free (f->labels);
  strv_free (f->drivers);
}

static int
add_filter (struct volume_filter *f, const char *arg)
{
  const char *eq = strchr (arg, '=');
  if (eq == NULL)
    return -1;
  cleanup_free char *key = strndup (arg, (size_t)(eq - arg));
  const char *value = eq + 1;
  if (strcmp (key, "name") == 0)
    strv_push (&f->names, value);
  else if (strcmp (key, "label") == 0)
    strv_push (&f->labels, value);
  else if (strcmp (key, "driver") == 0)
    strv_push (&f->drivers, value);
  else if (strcmp (key, "dangling") == 0)
    {
      if (strcmp (value, "true") == 0 || strcmp (value, "1") == 0)
        f->dangling = 1;
      else if (strcmp (value, "false") == 0 || strcmp (value, "0") == 0)
        f->dangling = 0;
      else
        return -2;
    }
  else
    return -1;
  return 0;
}

/* Docker matches a name filter as a regular expression anywhere in the name. */
static bool
name_matches (char *const *patterns, const char *name)
{
  if (patterns[0] == NULL)
    return true;
  for (size_t i = 0; patterns[i]; i++)
    {
      regex_t re;
      if (regcomp (&re, patterns[i], REG_EXTENDED | REG_NOSUB) != 0)
        continue;
      bool hit = regexec (&re, name, 0, NULL, 0) == 0;
      regfree (&re);
      if (hit)
        return true;
    }
  return false;
}

/* Every label filter must match: "KEY" has the label, "KEY=VALUE" has it with that value. */
static bool
labels_match (char *const *filters, json_t *labels)
{
  for (size_t i = 0; filters[i]; i++)
    {
      cleanup_free char *key = xstrdup (filters[i]);
      char *value = strchr (key, '=');
      if (value)
        *value++ = '\0';
      json_t *have = json_object_get (labels, key);
      if (have == NULL || (value && strcmp (json_string_value (have) ?: "", value) != 0))
        return false;
    }
  return true;
}

static bool
filter_matches (const struct volume_filter *f, const struct isola_store *s, json_t *v)
{
  const char *name = json_string_value (json_object_get (v, "Name"));
  if (!name_matches (f->names, name) || !labels_match (f->labels, json_object_get (v, "Labels")))
    return false;
  if (f->drivers[0] && !strv_contains (f->drivers, "local"))
    return false;
  if (f->dangling >= 0)
    {
      cleanup_strv char **users = volume_users (s, name);
      if ((users[0] == NULL) != (f->dangling == 1))
        return false;
    }
  return true;
}

/* The fields `volume ls --format` offers, as the docker CLI's: Labels as "k=v,k2=v2". */
static void
add_format_fields (json_t *v)
{
  cleanup_free char *labels = cli_labels_field (json_object_get (v, "Labels"));
  json_object_set_new (v, "Labels", json_string (labels));
  json_object_set_new (v, "Links", json_string ("N/A"));
  json_object_set_new (v, "Size", json_string ("N/A"));
}

static int
run_volume_ls (struct cli_ctx *ctx, int argc, char **argv)
{
  struct volume_filter f = { .names = xcalloc (1, sizeof (char *)),
                             .labels = xcalloc (1, sizeof (char *)),
                             .drivers = xcalloc (1, sizeof (char *)),
                             .dangling = -1 };
  const char *format = NULL;
  bool quiet = false;
  struct flag_parser p;
  int c, exit_code = 0, bad = 0;
  cli_flags_init (&p, &cmd_volume_ls, argc, argv);
  while (bad == 0 && (c = cli_flag_next (&cmd_volume_ls, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'f':
        bad = add_filter (&f, p.value) < 0 ? 1 : 0;
        if (bad)
          exit_code = cli_usage_error (&cmd_volume_ls, "invalid filter '%s'", p.value);
        break;
      case 'F':
        format = p.value;
        break;
      case 'q':
        quiet = p.on;
        break;
      }
  if (bad == 0 && c < 0)
    bad = 1;
  if (bad == 0 && p.nargs != 0)
    bad = 1, exit_code = cli_usage_error (&cmd_volume_ls, "\"isola volume ls\" accepts no arguments.");
  cleanup_store struct isola_store *store = NULL;
  cleanup_strv char **names = NULL;
  cleanup_error isola_error_t err = NULL;
  if (bad == 0 && (exit_code = cli_open_store (ctx, false, &store)) == 0 && volume_list (store, &names, &err) < 0)
    exit_code = cli_fail (&err);
  if (bad || exit_code || names == NULL)
    {
      volume_filter_clear (&f);
      return exit_code;
    }
  cleanup_json json_t *rows = json_array ();
  for (size_t i = 0; names[i]; i++)
    {
      json_t *v = NULL;
      if (volume_inspect_json (store, names[i], &v, NULL) < 0)
        continue;
      if (filter_matches (&f, store, v))
        json_array_append (rows, v);
      json_decref (v);
    }
  volume_filter_clear (&f);
  size_t i;
  json_t *v;
  if (quiet)
    {
      json_array_foreach (rows, i, v) printf ("%s\n", json_string_value (json_object_get (v, "Name")));
      return 0;
    }
  json_array_foreach (rows, i, v) add_format_fields (v);
  if (format && strcmp (format, "table") != 0 && !str_has_prefix (format, "table "))
    return cli_print_each (rows, format, &err) < 0 ? cli_fail (&err) : 0;
  if (format && str_has_prefix (format, "table "))
    {
      /* The header is the template rendered with each field's column title, as the docker CLI prints it. */
      cleanup_json json_t *header = json_pack (
          "[{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}]", "Name", "VOLUME NAME", "Driver", "DRIVER", "Mountpoint",
          "MOUNTPOINT", "Labels", "LABELS", "Scope", "SCOPE", "Links", "LINKS", "Size", "SIZE", "CreatedAt", "CREATED");
      if (cli_print_each (header, format + 6, &err) < 0 || cli_print_each (rows, format + 6, &err) < 0)
        return cli_fail (&err);
      return 0;
    }
  struct table *t = table_new ();
  const char *head[] = { "DRIVER", "VOLUME NAME" };
  table_add (t, head, 2);
  json_array_foreach (rows, i, v)
  {
    const char *cells[] = { "local", json_string_value (json_object_get (v, "Name")) };
    table_add (t, cells, 2);
  }
  table_print (t);
  table_free (t);
  return 0;
}

/* --- rm ------------------------------------------------------------------------------------------------------- */

static int run_volume_rm (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_volume_rm = {
  .name = "rm",
  .run = run_volume_rm,
  .usage = "isola volume rm [OPTIONS] VOLUME [VOLUME...]",
  .summary = "Remove one or more volumes",
  .flags = (const struct flag_def[]){
      { "force", 'f', 'f', NULL,
        "Force the removal of one or more volumes (a missing one is no error; one in use is still kept)" },
      { 0 },
  },
};

static int
run_volume_rm (struct cli_ctx *ctx, int argc, char **argv)
{
  bool force = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_volume_rm, argc, argv);
  while ((c = cli_flag_next (&cmd_volume_rm, &p, &exit_code)) > 0)
    if (c == 'f')
      force = p.on;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_volume_rm, "\"isola volume rm\" requires at least 1 argument.");
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  for (int i = 0; i < p.nargs; i++)
    {
      cleanup_error isola_error_t err = NULL;
      int ret = volume_remove (store, p.args[i], &err);
      if (ret == 0)
        printf ("%s\n", p.args[i]);
      else if (!(force && ret == -ENOENT))
        exit_code = cli_fail (&err);
    }
  return exit_code;
}

/* --- prune ---------------------------------------------------------------------------------------------------- */

static int run_volume_prune (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_volume_prune = {
  .name = "prune",
  .run = run_volume_prune,
  .usage = "isola volume prune [OPTIONS]",
  .summary = "Remove unused local volumes",
  .flags = (const struct flag_def[]){
      { "all", 'a', 'a', NULL, "Remove all unused volumes, not just anonymous ones" },
      { "filter", 0, 'F', "filter", "Provide filter values (not supported yet)" },
      { "force", 'f', 'f', NULL, "Do not prompt for confirmation" },
      { 0 },
  },
};

/* Docker 23 and later (the docker 28 CLI): only anonymous volumes unless --all. */
static int
run_volume_prune (struct cli_ctx *ctx, int argc, char **argv)
{
  bool all = false, force = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_volume_prune, argc, argv);
  while ((c = cli_flag_next (&cmd_volume_prune, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        all = p.on;
        break;
      case 'f':
        force = p.on;
        break;
      case 'F':
        return cli_usage_error (&cmd_volume_prune, "--filter is not supported yet");
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (&cmd_volume_prune, "\"isola volume prune\" accepts no arguments.");
  if (!force
      && !cli_confirm (all ? "WARNING! This will remove all local volumes not used by at least one container."
                           : "WARNING! This will remove anonymous local volumes not used by at least one container."))
    return 0;
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, true, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  cleanup_strv char **removed = NULL;
  int64_t reclaimed = 0;
  if (volume_prune (store, all, &removed, &reclaimed, &err) < 0)
    return cli_fail (&err);
  if (removed[0])
    {
      printf ("Deleted Volumes:\n");
      for (size_t i = 0; removed[i]; i++)
        printf ("%s\n", removed[i]);
      printf ("\n");
    }
  cleanup_free char *size = human_size (reclaimed);
  printf ("Total reclaimed space: %s\n", size);
  return 0;
}

/* --- the group ------------------------------------------------------------------------------------------------ */

static const struct cli_subcommand volume_subcommands[] = {
  { .name = "create", .cmd = &cmd_volume_create },
  { .name = "inspect", .cmd = &cmd_volume_inspect },
  { .name = "ls", .cmd = &cmd_volume_ls },
  { .name = "list", .cmd = &cmd_volume_ls, .alias = true },
  { .name = "prune", .cmd = &cmd_volume_prune },
  { .name = "rm", .cmd = &cmd_volume_rm },
  { .name = "remove", .cmd = &cmd_volume_rm, .alias = true },
};

static int
run_volume (struct cli_ctx *ctx, int argc, char **argv)
{
  return cli_run_subcommand (ctx, &cmd_volume, volume_subcommands, ARRAY_SIZE (volume_subcommands), argc, argv);
}

const struct cli_command cmd_volume = {
  .name = "volume",
  .run = run_volume,
  .usage = "isola volume COMMAND",
  .summary = "Manage volumes",
};
