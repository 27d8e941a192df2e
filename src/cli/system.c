/* `isola system SUBCOMMAND`: Docker's management command for the engine: df, events, info, prune. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/system.h"
#include "container/volume.h"
#include "image/remove.h"

static int64_t
int_of (json_t *o, const char *key)
{
  return (int64_t)json_integer_value (json_object_get (o, key));
}

/* "SIZE (P%)" when there is anything at all, as the docker CLI's Reclaimable. */
static char *
reclaimable (int64_t bytes, int64_t total)
{
  cleanup_free char *h = human_size_digits (bytes, 4);
  if (total > 0)
    return xasprintf ("%s (%lld%%)", h, (long long)(bytes * 100 / total));
  return xstrdup (h);
}

static json_t *
df_row (const char *type, size_t total, size_t active, int64_t size, char *reclaim)
{
  cleanup_free char *t = xasprintf ("%zu", total), *a = xasprintf ("%zu", active), *sz = human_size_digits (size, 4);
  cleanup_free char *r = reclaim;
  /* keys in Go's order of a map: sorted */
  return json_pack ("{s:s, s:s, s:s, s:s, s:s}", "Active", a, "Reclaimable", r, "Size", sz, "TotalCount", t, "Type",
                    type);
}

/* The summary's four rows, computed as the docker CLI computes them from the daemon's df. */
static json_t *
df_summary (json_t *df)
{
  json_t *rows = json_array ();
  size_t i, active = 0;
  json_t *v;
  int64_t layers = int_of (df, "LayersSize"), used = 0;
  json_t *images = json_object_get (df, "Images");
  json_array_foreach (images, i, v)
  {
    if (int_of (v, "Containers") > 0)
      {
        active++;
        used += int_of (v, "Size") - int_of (v, "SharedSize");
      }
  }
  json_array_append_new (
      rows, df_row ("Images", json_array_size (images), active, layers, reclaimable (layers - used, layers)));
  json_t *containers = json_object_get (df, "Containers");
  int64_t total = 0, free_bytes = 0;
  active = 0;
  json_array_foreach (containers, i, v)
  {
    const char *state = json_string_value (json_object_get (v, "State"));
    bool on = state && (strcmp (state, "running") == 0 || strcmp (state, "paused") == 0);
    active += on;
    total += int_of (v, "SizeRw");
    if (!on)
      free_bytes += int_of (v, "SizeRw");
  }
  json_array_append_new (
      rows, df_row ("Containers", json_array_size (containers), active, total, reclaimable (free_bytes, total)));
  json_t *volumes = json_object_get (df, "Volumes");
  total = free_bytes = 0;
  active = 0;
  json_array_foreach (volumes, i, v)
  {
    json_t *u = json_object_get (v, "UsageData");
    bool on = int_of (u, "RefCount") > 0;
    active += on;
    total += int_of (u, "Size");
    if (!on)
      free_bytes += int_of (u, "Size");
  }
  json_array_append_new (
      rows, df_row ("Local Volumes", json_array_size (volumes), active, total, reclaimable (free_bytes, total)));
  json_array_append_new (rows, df_row ("Build Cache", 0, 0, 0, xstrdup ("0B")));
  return rows;
}

static char *
ago (int64_t t)
{
  cleanup_free char *d = human_duration ((int64_t)time (NULL) - t);
  return xasprintf ("%s ago", d);
}

static void
print_table (struct table *t)
{
  table_print (t);
  table_free (t);
}

/* `df -v`: the docker CLI's verbose listing, a table for each kind. */
static void
print_df_verbose (json_t *df)
{
  size_t i;
  json_t *v;
  printf ("Images space usage:\n\n");
  struct table *t = table_new ();
  table_add (t,
             (const char *const[]){ "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
                                    "CONTAINERS" },
             8);
  json_array_foreach (json_object_get (df, "Images"), i, v)
  {
    json_t *tags = json_object_get (v, "RepoTags");
    size_t n = json_array_size (tags) ? json_array_size (tags) : 1;
    for (size_t k = 0; k < n; k++)
      {
        const char *tag = json_string_value (json_array_get (tags, k));
        cleanup_free char *repo = xstrdup (tag ? tag : "<none>:<none>");
        char *colon = strrchr (repo, ':');
        const char *tagname = "<none>";
        if (colon && !strchr (colon, '/'))
          *colon = '\0', tagname = colon + 1;
        const char *id = json_string_value (json_object_get (v, "Id")) + strlen ("sha256:");
        cleanup_free char *short_id = strndup (id, 12), *created = ago (int_of (v, "Created"));
        cleanup_free char *size = human_size_digits (int_of (v, "Size"), 4),
                          *shared = human_size_digits (int_of (v, "SharedSize"), 4);
        cleanup_free char *unique = human_size_digits (int_of (v, "Size") - int_of (v, "SharedSize"), 4);
        cleanup_free char *users = xasprintf ("%lld", (long long)int_of (v, "Containers"));
        table_add (t, (const char *const[]){ repo, tagname, short_id, created, size, shared, unique, users }, 8);
      }
  }
  print_table (t);
  printf ("\nContainers space usage:\n\n");
  t = table_new ();
  table_add (t,
             (const char *const[]){ "CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS",
                                    "NAMES" },
             8);
  json_array_foreach (json_object_get (df, "Containers"), i, v)
  {
    const char *cmd = json_string_value (json_object_get (v, "Command"));
    cleanup_free char *quoted = strlen (cmd) > 20 ? xasprintf ("\"%.19s…\"", cmd) : xasprintf ("\"%s\"", cmd);
    size_t k, n_volumes = 0;
    json_t *m;
    json_array_foreach (json_object_get (v, "Mounts"), k, m)
    {
      const char *type = json_string_value (json_object_get (m, "Type"));
      n_volumes += type && strcmp (type, "volume") == 0;
    }
    cleanup_free char *id = strndup (json_string_value (json_object_get (v, "Id")), 12);
    cleanup_free char *vols = xasprintf ("%zu", n_volumes), *size = human_size_digits (int_of (v, "SizeRw"), 4);
    cleanup_free char *created = ago (int_of (v, "Created"));
    const char *name = json_string_value (json_array_get (json_object_get (v, "Names"), 0));
    table_add (t,
               (const char *const[]){ id, json_string_value (json_object_get (v, "Image")), quoted, vols, size, created,
                                      json_string_value (json_object_get (v, "Status")), name ? name + 1 : "" },
               8);
  }
  print_table (t);
  printf ("\nLocal Volumes space usage:\n\n");
  t = table_new ();
  table_add (t, (const char *const[]){ "VOLUME NAME", "LINKS", "SIZE" }, 3);
  json_array_foreach (json_object_get (df, "Volumes"), i, v)
  {
    json_t *u = json_object_get (v, "UsageData");
    cleanup_free char *links = xasprintf ("%lld", (long long)int_of (u, "RefCount"));
    cleanup_free char *size = human_size_digits (int_of (u, "Size"), 4);
    table_add (t, (const char *const[]){ json_string_value (json_object_get (v, "Name")), links, size }, 3);
  }
  print_table (t);
  printf ("\nBuild cache usage: 0B\n\n");
  t = table_new ();
  table_add (t, (const char *const[]){ "CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED" },
             7);
  print_table (t);
}

static const struct cli_command cmd_system_df;

static int
run_system_df (struct cli_ctx *ctx, int argc, char **argv)
{
  const struct cli_command *cmd = &cmd_system_df;
  const char *format = NULL;
  bool verbose = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'F':
        format = p.value;
        break;
      case 'v':
        verbose = p.on;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (cmd, "\"isola system df\" accepts no arguments.");
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  cleanup_json json_t *df = NULL;
  if (store_open (ctx->root, STORE_LOCK_SHARED, &store, &err) < 0 || system_df (store, &df, &err) < 0)
    return cli_fail (&err);
  if (verbose && cli_format_is_default (format))
    {
      print_df_verbose (df);
      return 0;
    }
  cleanup_json json_t *rows = df_summary (df);
  cleanup_json json_t *headers = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "Type", "TYPE", "TotalCount", "TOTAL",
                                            "Active", "ACTIVE", "Size", "SIZE", "Reclaimable", "RECLAIMABLE");
  const char *f = cli_format_is_default (format) ? "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{"
                                                   ".Reclaimable}}"
                                                 : format;
  if (cli_print_listing (f, rows, headers, &err) < 0)
    return cli_fail (&err);
  return 0;
}

static const struct cli_command cmd_system_df = {
  .name = "df",
  .run = run_system_df,
  .usage = "isola system df [OPTIONS]",
  .summary = "Show isola disk usage",
  .flags = (const struct flag_def[]){
      { "format", 0, 'F', "string", "Format output using a custom template ('table', 'table TEMPLATE', 'json', or a "
                                    "Go template)" },
      { "verbose", 'v', 'v', NULL, "Show detailed information on space usage" },
      { 0 },
  },
};

/* --- prune ---------------------------------------------------------------------------------------------------- */

static const struct cli_command cmd_system_prune;

/* The docker CLI's warning (its current wording), then its question. */
static bool
confirm_system_prune (bool all, bool volumes, char **filters)
{
  printf ("WARNING! This will remove:\n  - all stopped containers\n");
  if (volumes)
    printf ("  - all anonymous volumes not used by at least one container\n");
  printf (all ? "  - all images without at least one container associated to them\n" : "  - all dangling images\n");
  if (filters && filters[0])
    {
      printf ("\n  Items to be pruned will be filtered with:\n");
      for (size_t i = 0; filters[i]; i++)
        printf ("  - %s\n", filters[i]);
    }
  return cli_confirm ("");
}

static void
print_list (const char *title, char **items)
{
  if (items == NULL || items[0] == NULL)
    return;
  printf ("%s:\n", title);
  for (size_t i = 0; items[i]; i++)
    printf ("%s\n", items[i]);
  printf ("\n");
}

static void
cleanup_prune_filterp (struct prune_filter *f)
{
  prune_filter_clear (f);
}
#define cleanup_prune_filter __attribute__ ((cleanup (cleanup_prune_filterp)))

/* until=TIMESTAMP (Docker's timestamps), label=KEY[=VALUE], label!=KEY[=VALUE]; 0, else the exit code. */
static int
add_prune_filter (struct prune_filter *f, const char *arg)
{
  if (str_has_prefix (arg, "until="))
    {
      int64_t t;
      struct timespec now;
      clock_gettime (CLOCK_REALTIME, &now);
      if (cli_parse_timestamp (arg + 6, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, &t) < 0)
        {
          fprintf (stderr, "Error: failed to parse value as time or duration: \"%s\"\n", arg + 6);
          return EXIT_CMD_FAILED;
        }
      f->has_until = true;
      f->until = t / 1000000000;
      return 0;
    }
  cleanup_error isola_error_t err = NULL;
  return prune_filter_add_label (f, arg, &err) < 0 ? cli_fail (&err) : 0;
}

static int
run_system_prune (struct cli_ctx *ctx, int argc, char **argv)
{
  const struct cli_command *cmd = &cmd_system_prune;
  bool all = false, force = false, volumes = false;
  cleanup_prune_filter struct prune_filter filter = { 0 };
  cleanup_strv char **filters = xcalloc (1, sizeof (char *));
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        all = p.on;
        break;
      case 'f':
        force = p.on;
        break;
      case 'V':
        volumes = p.on;
        break;
      case 'F':
        if (!strchr (p.value, '='))
          return cli_flag_invalid (cmd, &p, "bad format of filter (expected name=value)");
        strv_push (&filters, p.value);
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (cmd, "\"isola system prune\" accepts no arguments.");
  cleanup_error isola_error_t err = NULL;
  for (size_t i = 0; filters[i]; i++)
    if ((exit_code = add_prune_filter (&filter, filters[i])))
      return exit_code;
  if (!force && !confirm_system_prune (all, volumes, filters))
    return 0;
  int64_t total = 0, bytes = 0;
  /* Containers first, without the store's lock (container verbs lock only their container); then what they
     released: volumes and images, under the exclusive lock. */
  {
    cleanup_store struct isola_store *store = NULL;
    cleanup_strv char **removed = NULL;
    if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0
        || container_prune (store, &filter, &removed, &bytes, &err) < 0)
      return cli_fail (&err);
    print_list ("Deleted Containers", removed);
    total += bytes;
  }
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store_as (ctx, STORE_LOCK_COLLECT, &store)))
    return exit_code;
  if (volumes)
    {
      cleanup_strv char **removed = NULL;
      if (volume_prune_filtered (store, false, &filter, &removed, &bytes, &err) < 0)
        return cli_fail (&err);
      print_list ("Deleted Volumes", removed);
      total += bytes;
    }
  struct rmi_report rep = { 0 };
  bytes = 0;
  int ret = image_prune_filtered (store, all, &filter, &rep, &bytes, &err);
  if (rep.deleted || rep.untagged)
    {
      printf ("Deleted Images:\n");
      for (size_t i = 0; rep.untagged && rep.untagged[i]; i++)
        printf ("untagged: %s\n", rep.untagged[i]);
      for (size_t i = 0; rep.deleted && rep.deleted[i]; i++)
        printf ("deleted: %s\n", rep.deleted[i]);
      printf ("\n");
    }
  rmi_report_clear (&rep);
  if (ret < 0)
    return cli_fail (&err);
  total += bytes;
  cleanup_free char *size = human_size_digits (total, 4);
  printf ("Total reclaimed space: %s\n", size);
  return 0;
}

static const struct cli_command cmd_system_prune = {
  .name = "prune",
  .run = run_system_prune,
  .usage = "isola system prune [OPTIONS]",
  .summary = "Remove unused data",
  .flags = (const struct flag_def[]){
      { "all", 'a', 'a', NULL, "Remove all unused images not just dangling ones" },
      { "filter", 0, 'F', "filter", "Provide filter values (e.g. \"label=<key>=<value>\", \"until=24h\")" },
      { "force", 'f', 'f', NULL, "Do not prompt for confirmation" },
      { "volumes", 0, 'V', NULL, "Prune anonymous volumes" },
      { 0 },
  },
};

static const struct cli_subcommand system_subcommands[] = {
  { .name = "df", .cmd = &cmd_system_df },
  { .name = "events", .cmd = &cmd_events },
  { .name = "info", .cmd = &cmd_info },
  { .name = "prune", .cmd = &cmd_system_prune },
  { .name = "service", .cmd = &cmd_system_service },
};

static int
run_system (struct cli_ctx *ctx, int argc, char **argv)
{
  return cli_run_subcommand (ctx, &cmd_system, system_subcommands, ARRAY_SIZE (system_subcommands), argc, argv);
}

const struct cli_command cmd_system = {
  .name = "system",
  .run = run_system,
  .usage = "isola system COMMAND",
  .summary = "Manage isola",
};
