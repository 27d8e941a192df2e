/* `isola network connect|create|disconnect|inspect|ls|prune|rm`: Docker's network commands, bridge driver
   (network/network.h, network/connect.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "driver/driver.h"
#include "network/connect.h"
#include "network/network.h"
#include "store/store.h"

/* --- create --------------------------------------------------------------------------------------------------- */

static int run_network_create (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_network_create = {
  .name = "create",
  .run = run_network_create,
  .usage = "isola network create [OPTIONS] NETWORK",
  .summary = "Create a network",
  .flags = (const struct flag_def[]){
      { "driver", 'd', 'd', "string", "Driver to manage the Network (default \"bridge\", the only one)" },
      { "gateway", 0, 'g', "strings", "IPv4 Gateway for the master subnet" },
      { "internal", 0, 'i', NULL, "Restrict external access to the network" },
      { "ipv6", 0, '6', NULL, "Enable IPv6 networking (with an IPv6 --subnet)" },
      { "ip-range", 0, 'r', "strings", "Allocate container ip from a sub-range" },
      { "label", 0, 'l', "list", "Set metadata on a network" },
      { "subnet", 0, 's', "strings", "Subnet in CIDR format that represents a network segment" },
      { 0 },
  },
};

static int
run_network_create (struct cli_ctx *ctx, int argc, char **argv)
{
  struct network_request r = { 0 };
  cleanup_json json_t *labels = json_object ();
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_network_create, argc, argv);
  while ((c = cli_flag_next (&cmd_network_create, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'd':
        r.driver = p.value;
        break;
      case 'g':
        /* --gateway and --subnet once for each family, as Docker's */
        *(strchr (p.value, ':') ? &r.gateway6 : &r.gateway) = p.value;
        break;
      case 'i':
        r.internal = p.on;
        break;
      case '6':
        r.ipv6 = p.on;
        break;
      case 'r':
        r.ip_range = p.value;
        break;
      case 's':
        *(strchr (p.value, ':') ? &r.subnet6 : &r.subnet) = p.value;
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
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 1)
    return cli_usage_error (&cmd_network_create, "\"isola network create\" requires exactly 1 argument.");
  r.name = p.args[0];
  r.labels = labels;
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  cleanup_free char *id = NULL;
  if (network_create (store, &r, &id, &err) < 0)
    return cli_fail (&err);
  printf ("%s\n", id);
  return 0;
}

/* --- inspect -------------------------------------------------------------------------------------------------- */

static int run_network_inspect (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_network_inspect = {
  .name = "inspect",
  .run = run_network_inspect,
  .usage = "isola network inspect [OPTIONS] NETWORK [NETWORK...]",
  .summary = "Display detailed information on one or more networks",
  .flags = (const struct flag_def[]){
      { "format", 'f', 'f', "string", "Format the output using the given Go template" },
      { 0 },
  },
};

static int
run_network_inspect (struct cli_ctx *ctx, int argc, char **argv)
{
  const char *format = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_network_inspect, argc, argv);
  while ((c = cli_flag_next (&cmd_network_inspect, &p, &exit_code)) > 0)
    if (c == 'f')
      format = p.value;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_network_inspect, "\"isola network inspect\" requires at least 1 argument.");
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  cleanup_json json_t *items = json_array ();
  for (int i = 0; i < p.nargs; i++)
    {
      cleanup_error isola_error_t one = NULL;
      cleanup_json json_t *rec = NULL;
      if (network_get (store, p.args[i], false, &rec, &one) < 0)
        {
          isola_error_release (&one);
          isola_error_fail (&one, ENOENT, "No such network: %s", p.args[i]);
          exit_code = cli_fail (&one);
        }
      else
        json_array_append_new (items, network_inspect_json (store, rec));
    }
  return cli_print_inspected (items, format, exit_code);
}

/* --- ls ------------------------------------------------------------------------------------------------------- */

static int run_network_ls (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_network_ls = {
  .name = "ls",
  .run = run_network_ls,
  .usage = "isola network ls [OPTIONS]",
  .summary = "List networks",
  .flags = (const struct flag_def[]){
      { "filter", 'f', 'f', "filter",
        "Provide filter values (driver=, id=, label=KEY[=VALUE], name=, scope=local, type=custom|builtin)" },
      { "format", 0, 'F', "string", "Pretty-print networks using a Go template" },
      { "no-trunc", 0, 'n', NULL, "Do not truncate the output" },
      { "quiet", 'q', 'q', NULL, "Only display network IDs" },
      { 0 },
  },
};

static bool
is_builtin (json_t *r)
{
  const char *n = json_string_value (json_object_get (r, "Name"));
  return strcmp (n, NETWORK_DEFAULT) == 0 || strcmp (n, "host") == 0 || strcmp (n, "none") == 0;
}

/* Docker: name and id match as substrings / prefixes, filters of one key OR together, different keys AND. */
static bool
one_matches (const char *key, const char *value, json_t *r)
{
  const char *name = json_string_value (json_object_get (r, "Name"));
  const char *id = json_string_value (json_object_get (r, "Id"));
  if (strcmp (key, "name") == 0)
    return strstr (name, value) != NULL;
  if (strcmp (key, "id") == 0)
    return str_has_prefix (id, value);
  if (strcmp (key, "driver") == 0)
    return strcmp (json_string_value (json_object_get (r, "Driver")), value) == 0;
  if (strcmp (key, "scope") == 0)
    return strcmp ("local", value) == 0;
  if (strcmp (key, "type") == 0)
    return strcmp (value, "custom") == 0 ? !is_builtin (r) : is_builtin (r);
  /* label */
  cleanup_free char *k = xstrdup (value);
  char *v = strchr (k, '=');
  if (v)
    *v++ = '\0';
  json_t *have = json_object_get (json_object_get (r, "Labels"), k);
  return have && (v == NULL || strcmp (json_string_value (have) ?: "", v) == 0);
}

static bool
filters_match (json_t *filters, json_t *r)
{
  const char *key;
  json_t *values;
  json_object_foreach (filters, key, values)
  {
    bool any = false;
    size_t i;
    json_t *v;
    json_array_foreach (values, i, v) any = any || one_matches (key, json_string_value (v), r);
    if (!any)
      return false;
  }
  return true;
}

static int
add_filter (json_t *filters, const char *arg)
{
  const char *eq = strchr (arg, '=');
  if (eq == NULL)
    return -1;
  cleanup_free char *key = strndup (arg, (size_t)(eq - arg));
  const char *known[] = { "driver", "id", "label", "name", "scope", "type" };
  bool ok = false;
  for (size_t i = 0; i < ARRAY_SIZE (known); i++)
    ok = ok || strcmp (key, known[i]) == 0;
  if (!ok)
    return -1;
  if (strcmp (key, "type") == 0 && strcmp (eq + 1, "custom") != 0 && strcmp (eq + 1, "builtin") != 0)
    return -2;
  json_t *list = json_object_get (filters, key);
  if (list == NULL)
    json_object_set_new (filters, key, list = json_array ());
  json_array_append_new (list, json_string (eq + 1));
  return 0;
}

/* The docker CLI lists networks sorted by name. */
static int
by_name (const void *a, const void *b)
{
  return strcmp (json_string_value (json_object_get (*(json_t *const *)a, "Name")),
                 json_string_value (json_object_get (*(json_t *const *)b, "Name")));
}

static void
sort_by_name (json_t *rows)
{
  size_t n = json_array_size (rows);
  json_t **v = xcalloc (n ? n : 1, sizeof (json_t *));
  for (size_t i = 0; i < n; i++)
    v[i] = json_incref (json_array_get (rows, i));
  qsort (v, n, sizeof (json_t *), by_name);
  json_array_clear (rows);
  for (size_t i = 0; i < n; i++)
    json_array_append_new (rows, v[i]);
  free (v);
}

/* A network as the docker CLI's `network ls --format` sees it: its fields are strings, sorted by name as its
   {{json .}} prints them. */
static json_t *
listing_row (json_t *r, bool no_trunc)
{
  const char *id = json_string_value (json_object_get (r, "Id"));
  cleanup_free char *created = cli_time_string (json_string_value (json_object_get (r, "Created")) ?: "");
  cleanup_free char *labels = cli_labels_field (json_object_get (r, "Labels"));
  return json_pack ("{s:s, s:s, s:s%, s:s, s:s, s:s, s:s, s:s}", "CreatedAt", created, "Driver",
                    json_string_value (json_object_get (r, "Driver")) ?: "bridge", "ID", id,
                    (size_t)(no_trunc ? strlen (id) : 12), "IPv6",
                    json_is_true (json_object_get (r, "EnableIPv6")) ? "true" : "false", "Internal",
                    json_is_true (json_object_get (r, "Internal")) ? "true" : "false", "Labels", labels, "Name",
                    json_string_value (json_object_get (r, "Name")), "Scope",
                    json_string_value (json_object_get (r, "Scope")) ?: "local");
}

static int
run_network_ls (struct cli_ctx *ctx, int argc, char **argv)
{
  cleanup_json json_t *filters = json_object ();
  const char *format = NULL;
  bool quiet = false, no_trunc = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_network_ls, argc, argv);
  while ((c = cli_flag_next (&cmd_network_ls, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'f':
        {
          int bad = add_filter (filters, p.value);
          if (bad == -1)
            return cli_usage_error (&cmd_network_ls, "Invalid filter '%s'", p.value);
          if (bad == -2)
            return cli_usage_error (&cmd_network_ls, "invalid filter: 'type'='%s'", strchr (p.value, '=') + 1);
          break;
        }
      case 'F':
        format = p.value;
        break;
      case 'n':
        no_trunc = p.on;
        break;
      case 'q':
        quiet = p.on;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (&cmd_network_ls, "\"isola network ls\" accepts no arguments.");
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *all = NULL;
  if (network_list (store, &all, &err) < 0)
    return cli_fail (&err);
  cleanup_json json_t *rows = json_array ();
  size_t i;
  json_t *r;
  json_array_foreach (all, i, r) if (filters_match (filters, r))
      json_array_append_new (rows, listing_row (r, no_trunc));
  sort_by_name (rows);
  if (quiet)
    {
      json_array_foreach (rows, i, r) printf ("%s\n", json_string_value (json_object_get (r, "ID")));
      return 0;
    }
  if (cli_format_is_default (format))
    format = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
  cleanup_json json_t *headers = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "CreatedAt", "CREATED AT",
                                            "Driver", "DRIVER", "ID", "NETWORK ID", "IPv6", "IPV6", "Internal",
                                            "INTERNAL", "Labels", "LABELS", "Name", "NAME", "Scope", "SCOPE");
  return cli_print_listing (format, rows, headers, &err) < 0 ? cli_fail (&err) : 0;
}

/* --- rm ------------------------------------------------------------------------------------------------------- */

static int run_network_rm (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_network_rm = {
  .name = "rm",
  .run = run_network_rm,
  .usage = "isola network rm NETWORK [NETWORK...]",
  .summary = "Remove one or more networks",
  .flags = (const struct flag_def[]){ { 0 } },
};

static int
run_network_rm (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_network_rm, argc, argv);
  while ((c = cli_flag_next (&cmd_network_rm, &p, &exit_code)) > 0)
    ;
  if (c < 0)
    return exit_code;
  if (p.nargs < 1)
    return cli_usage_error (&cmd_network_rm, "\"isola network rm\" requires at least 1 argument.");
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  for (int i = 0; i < p.nargs; i++)
    {
      cleanup_error isola_error_t err = NULL;
      cleanup_free char *name = NULL;
      if (network_remove (store, p.args[i], &name, &err) < 0)
        exit_code = cli_fail (&err);
      else
        printf ("%s\n", p.args[i]);
    }
  return exit_code;
}

/* --- prune ---------------------------------------------------------------------------------------------------- */

static int run_network_prune (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_network_prune = {
  .name = "prune",
  .run = run_network_prune,
  .usage = "isola network prune [OPTIONS]",
  .summary = "Remove all unused networks",
  .flags = (const struct flag_def[]){
      { "force", 'f', 'f', NULL, "Do not prompt for confirmation" },
      { 0 },
  },
};

static int
run_network_prune (struct cli_ctx *ctx, int argc, char **argv)
{
  bool force = false;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_network_prune, argc, argv);
  while ((c = cli_flag_next (&cmd_network_prune, &p, &exit_code)) > 0)
    if (c == 'f')
      force = p.on;
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (&cmd_network_prune, "\"isola network prune\" accepts no arguments.");
  if (!force && !cli_confirm ("WARNING! This will remove all custom networks not used by at least one container."))
    return 0;
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  cleanup_strv char **removed = NULL;
  if (network_prune (store, &removed, &err) < 0)
    return cli_fail (&err);
  if (removed[0])
    {
      printf ("Deleted Networks:\n");
      for (size_t i = 0; removed[i]; i++)
        printf ("%s\n", removed[i]);
      printf ("\n");
    }
  return 0;
}

/* --- connect, disconnect ------------------------------------------------------------------------------------- */

static int run_network_connect (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_network_connect = {
  .name = "connect",
  .run = run_network_connect,
  .usage = "isola network connect [OPTIONS] NETWORK CONTAINER",
  .summary = "Connect a container to a network",
  .flags = (const struct flag_def[]){
      { "alias", 0, 'a', "strings", "Add network-scoped alias for the container" },
      { "ip", 0, 'i', "string", "IPv4 address (e.g., 172.30.100.104)" },
      { 0 },
  },
};

static int
run_network_connect (struct cli_ctx *ctx, int argc, char **argv)
{
  cleanup_json json_t *endpoint = json_object ();
  json_t *aliases = json_array (), *ipam = json_object ();
  json_object_set_new (endpoint, "Aliases", aliases);
  /* as the docker CLI sends it: inspect then shows {} without --ip, as dockerd does */
  json_object_set_new (endpoint, "IPAMConfig", ipam);
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_network_connect, argc, argv);
  while ((c = cli_flag_next (&cmd_network_connect, &p, &exit_code)) > 0)
    if (c == 'a')
      json_array_append_new (aliases, json_string (p.value));
    else if (c == 'i')
      json_object_set_new (ipam, "IPv4Address", json_string (p.value));
  if (c < 0)
    return exit_code;
  if (p.nargs != 2)
    return cli_usage_error (&cmd_network_connect, "\"isola network connect\" requires exactly 2 arguments.");
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *ctr = NULL;
  if ((exit_code = cli_load_container (ctx, p.args[1], &store, &ctr)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  if (network_connect (store, ctr, &driver_of (ctr)->networks, p.args[0], endpoint, &err) < 0)
    return cli_fail (&err);
  return 0;
}

static int run_network_disconnect (struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_command cmd_network_disconnect = {
  .name = "disconnect",
  .run = run_network_disconnect,
  .usage = "isola network disconnect [OPTIONS] NETWORK CONTAINER",
  .summary = "Disconnect a container from a network",
  .flags = (const struct flag_def[]){
      { "force", 'f', 'f', NULL, "Force the container to disconnect from a network" },
      { 0 },
  },
};

static int
run_network_disconnect (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_network_disconnect, argc, argv);
  while ((c = cli_flag_next (&cmd_network_disconnect, &p, &exit_code)) > 0)
    ; /* -f: a stopped container has no endpoint to force away */
  if (c < 0)
    return exit_code;
  if (p.nargs != 2)
    return cli_usage_error (&cmd_network_disconnect, "\"isola network disconnect\" requires exactly 2 arguments.");
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *ctr = NULL;
  if ((exit_code = cli_load_container (ctx, p.args[1], &store, &ctr)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  if (network_disconnect (store, ctr, &driver_of (ctr)->networks, p.args[0], &err) < 0)
    return cli_fail (&err);
  return 0;
}

/* --- the group ------------------------------------------------------------------------------------------------ */

static const struct cli_subcommand network_subcommands[] = {
  { .name = "connect", .cmd = &cmd_network_connect },
  { .name = "create", .cmd = &cmd_network_create },
  { .name = "disconnect", .cmd = &cmd_network_disconnect },
  { .name = "inspect", .cmd = &cmd_network_inspect },
  { .name = "ls", .cmd = &cmd_network_ls },
  { .name = "list", .cmd = &cmd_network_ls, .alias = true },
  { .name = "prune", .cmd = &cmd_network_prune },
  { .name = "rm", .cmd = &cmd_network_rm },
  { .name = "remove", .cmd = &cmd_network_rm, .alias = true },
};

static int
run_network (struct cli_ctx *ctx, int argc, char **argv)
{
  return cli_run_subcommand (ctx, &cmd_network, network_subcommands, ARRAY_SIZE (network_subcommands), argc, argv);
}

const struct cli_command cmd_network = {
  .name = "network",
  .run = run_network,
  .usage = "isola network COMMAND",
  .summary = "Manage networks",
};
