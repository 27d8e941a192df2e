#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/listing.h"
#include "driver/driver.h"
#include "network/attach.h"
#include "network/ports.h"

struct ps_opts
{
  bool all, quiet, no_trunc;
  char **filters;     /* "key=value" */
  const char *format; /* --format, NULL for the default table */
};

/* Characters (code points) of UTF-8 text, and the byte offset of the n-th. */
static size_t
utf8_length (const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

static size_t
utf8_offset (const char *s, size_t n)
{
  size_t i = 0;
  for (; s[i]; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80 && n-- == 0)
      break;
  return i;
}

/* The code point of the UTF-8 sequence at s and its length, or -1 (and length 1) for a byte that starts none. */
static long
utf8_decode (const unsigned char *s, size_t *len)
{
  *len = 1;
  if (s[0] < 0x80)
    return s[0];
  size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;
  if (n == 0 || (s[0] >= 0xf0 && n != 4))
    return -1;
  long cp = s[0] & (0x7f >> n);
  for (size_t i = 1; i < n; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return -1;
      cp = cp << 6 | (s[i] & 0x3f);
    }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
    return -1;
  *len = n;
  return cp;
}

/* Go's unicode.IsPrint, for the code points that matter on a terminal: not the C0 and C1 controls, the spaces but
   ASCII's, the format characters (bidirectional overrides, zero widths, the BOM...), private use and
   noncharacters.  (Unassigned code points, which Go also escapes, are shown.) */
static bool
go_printable (long r)
{
  static const long not_printable[][2] = {
    { 0x00, 0x1f },        { 0x7f, 0xa0 },     { 0xad, 0xad },       { 0x600, 0x605 },     { 0x61c, 0x61c },
    { 0x6dd, 0x6dd },      { 0x70f, 0x70f },   { 0x1680, 0x1680 },   { 0x180e, 0x180e },   { 0x2000, 0x200f },
    { 0x2028, 0x202f },    { 0x205f, 0x206f }, { 0x3000, 0x3000 },   { 0xd800, 0xf8ff },   { 0xfdd0, 0xfdef },
    { 0xfeff, 0xfeff },    { 0xfff9, 0xfffb }, { 0x110bd, 0x110bd }, { 0x1d173, 0x1d17a }, { 0xe0001, 0xe007f },
    { 0xf0000, 0x10ffff },
  };
  if ((r & 0xfffe) == 0xfffe)
    return false;
  for (size_t i = 0; i < ARRAY_SIZE (not_printable); i++)
    if (r >= not_printable[i][0] && r <= not_printable[i][1])
      return false;
  return true;
}

/* Go's strconv.Quote of s: double quotes; backslash escapes for quotes and backslashes, \a \b \f \n \r \t \v, \xNN
   for other ASCII controls and for bytes that are not UTF-8, \uNNNN or \UNNNNNNNN for other code points that are not
   printable; the rest as it is. */
static char *
go_quote (const char *s)
{
  char *out = xmalloc (10 * strlen (s) + 3), *o = out;
  *o++ = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p;)
    {
      size_t len;
      long r = utf8_decode (p, &len);
      static const char named[] = "\a\b\f\n\r\t\v";
      const char *n = r > 0 && r < 0x20 ? strchr (named, (int)r) : NULL;
      if (r == '"' || r == '\\')
        o += sprintf (o, "\\%c", (int)r);
      else if (n)
        o += sprintf (o, "\\%c", "abfnrtv"[n - named]);
      else if (r < 0 || r < 0x20 || r == 0x7f)
        o += sprintf (o, "\\x%02x", *p);
      else if (!go_printable (r))
        o += sprintf (o, r < 0x10000 ? "\\u%04lx" : "\\U%08lx", r);
      else
        {
          memcpy (o, p, len);
          o += len;
        }
      p += len;
    }
  *o++ = '"';
  *o = '\0';
  return out;
}

/* Docker's COMMAND column: the daemon's command line (an argument with a space in single quotes, the path as it
   is), cut to 20 characters with an ellipsis, and quoted as Go quotes a string. */
static char *
command_column (const struct container *c, bool no_trunc)
{
  cleanup_strv char **argv = container_argv_shown (c);
  cleanup_free char *cmd = xstrdup (argv[0] ?: "");
  for (size_t i = 1; argv[0] && argv[i]; i++)
    {
      bool quote = strchr (argv[i], ' ') != NULL;
      char *next = xasprintf (quote ? "%s '%s'" : "%s %s", cmd, argv[i]);
      free (cmd);
      cmd = next;
    }
  if (!no_trunc && utf8_length (cmd) > 20)
    {
      cmd[utf8_offset (cmd, 19)] = '\0';
      char *cut = xasprintf ("%s…", cmd);
      free (cmd);
      cmd = cut;
    }
  return go_quote (cmd);
}

static int64_t
seconds_of (const char *rfc3339)
{
  int64_t t = 0;
  if (rfc3339 == NULL || time_parse_rfc3339 (rfc3339, &t) < 0)
    return 0;
  return t;
}

static int
compare_created (const void *a, const void *b)
{
  struct container *const *x = a, *const *y = b;
  return -strcmp (container_created (*x), container_created (*y));
}

/* Docker's PORTS: the mappings of a container on a network (network/ports.h). */
static char *
ports_column (const struct container *c)
{
  cleanup_json json_t *ports = ports_of_container (c);
  return ports_displayable (ports);
}

/* A container as Docker's ps --format sees it, with isola's Isolation besides. */
static json_t *
container_row (const struct container *c, const struct ps_opts *o, int64_t now)
{
  cleanup_free char *cmd = command_column (c, o->no_trunc);
  int64_t created = seconds_of (container_created (c));
  cleanup_free char *ago = human_duration (now - created);
  cleanup_free char *created_at = cli_created_at (created);
  cleanup_free char *status = container_status_text (c, now);
  cleanup_free char *labels = cli_labels_field (json_object_get (container_config (c), "Labels"));
  cleanup_free char *ports = ports_column (c);
  const char *network = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  /* In the order of Docker's {{json .}}: its fields sorted by name. */
  return json_pack ("{s:s, s:s, s:s%, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s+, s:s, s:s, s:s}", "Command", cmd,
                    "CreatedAt", created_at, "ID", c->id, (size_t)(o->no_trunc ? 64 : 12), "Image",
                    container_image_name (c), "Isolation", container_isolation (c) ?: "process", "Labels", labels,
                    "LocalVolumes", "0", "Mounts", "", "Names", container_name (c), "Networks", network ?: "none",
                    "Ports", ports, "RunningFor", ago, " ago", "Size", "0B", "State", container_status (c), "Status",
                    status);
}

static int
print_formatted (struct container **list, size_t n, const struct ps_opts *o, isola_error_t *err)
{
  int64_t now = (int64_t)time (NULL);
  cleanup_json json_t *rows = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (rows, container_row (list[i], o, now));
  cleanup_json json_t *headers = json_pack (
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "CONTAINER ID", "Image",
      "IMAGE", "Command", "COMMAND", "CreatedAt", "CREATED AT", "RunningFor", "CREATED", "Ports", "PORTS", "State",
      "STATE", "Status", "STATUS", "Size", "SIZE", "Names", "NAMES", "Labels", "LABELS", "Mounts", "MOUNTS", "Networks",
      "NETWORKS", "LocalVolumes", "LOCAL VOLUMES", "Isolation", "ISOLATION");
  return cli_print_listing (o->format, rows, headers, err);
}

static void
print_containers (struct container **list, size_t n, const struct ps_opts *o)
{
  int64_t now = (int64_t)time (NULL);
  struct table *t = table_new ();
  table_add (
      t, (const char *[]){ "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "ISOLATION" }, 8);
  for (size_t i = 0; i < n; i++)
    {
      struct container *c = list[i];
      if (o->quiet)
        {
          printf ("%.*s\n", o->no_trunc ? 64 : 12, c->id);
          continue;
        }
      cleanup_free char *id = xasprintf ("%.*s", o->no_trunc ? 64 : 12, c->id);
      cleanup_free char *cmd = command_column (c, o->no_trunc);
      cleanup_free char *ago = human_duration (now - seconds_of (container_created (c)));
      cleanup_free char *created = xasprintf ("%s ago", ago);
      cleanup_free char *status = container_status_text (c, now);
      const char *image = container_image_name (c);
      const char *iso = container_isolation (c);
      cleanup_free char *ports = ports_column (c);
      table_add (t, (const char *[]){ id, image, cmd, created, status, ports, container_name (c), iso ?: "process" },
                 8);
    }
  if (!o->quiet)
    table_print (t);
  table_free (t);
}

static int
list_containers (struct cli_ctx *ctx, const struct ps_opts *o)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  cleanup_strv char **ids = NULL;
  if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0 || container_list_ids (store, &ids, &err) < 0)
    return cli_fail (&err);
  struct container **list = xcalloc (strv_len (ids) + 1, sizeof (*list));
  size_t n = 0;
  for (size_t i = 0; ids[i]; i++)
    {
      struct container *c = NULL;
      /* A container removed while we list it is simply not listed. */
      if (container_load_any (store, ids[i], &c, NULL) < 0)
        continue;
      (void)container_refresh (c, NULL);
      network_reap (store, c);
      if (container_listed (c, o->all, o->filters))
        list[n++] = c;
      else
        container_free (c);
    }
  qsort (list, n, sizeof (*list), compare_created);
  int ret = 0;
  if (o->quiet || cli_format_is_default (o->format))
    print_containers (list, n, o);
  else
    ret = print_formatted (list, n, o, &err);
  for (size_t i = 0; i < n; i++)
    container_free (list[i]);
  free (list);
  return ret < 0 ? cli_fail (&err) : 0;
}

static int
run_ps (struct cli_ctx *ctx, int argc, char **argv)
{
  struct ps_opts o = { 0 };
  cleanup_strv char **filters = xcalloc (1, sizeof (char *));
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_ps, argc, argv);
  while ((c = cli_flag_next (&cmd_ps, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'a':
        o.all = p.on;
        break;
      case 'q':
        o.quiet = p.on;
        break;
      case 'T':
        o.no_trunc = p.on;
        break;
      case 'F':
        o.format = p.value;
        break;
      case 'f':
        {
          static const char *const keys[] = { "status=", "name=", "id=", "label=", "isolation=", "exited=", "health=" };
          bool known = false;
          for (size_t i = 0; i < ARRAY_SIZE (keys); i++)
            known |= str_has_prefix (p.value, keys[i]);
          if (!known)
            return cli_usage_error (&cmd_ps, "invalid filter '%s'", p.value);
          strv_push (&filters, p.value);
          break;
        }
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 0)
    return cli_usage_error (&cmd_ps, "\"isola ps\" accepts no arguments.");
  o.filters = filters;
  return list_containers (ctx, &o);
}

const struct cli_command cmd_ps = {
  .name = "ps",
  .run = run_ps,
  .usage = "isola ps [OPTIONS]",
  .summary = "List containers",
  .flags = (const struct flag_def[]){
      { "all", 'a', 'a', NULL, "Show all containers (default shows just running)" },
      { "filter", 'f', 'f', "filter",
        "Filter output based on conditions provided (status, name, id, label, isolation, exited, health)" },
      { "format", 0, 'F', "string",
        "Format output using a custom template:\n"
        "'table':            Print output in table format with column headers (default)\n"
        "'table TEMPLATE':   Print output in table format using the given Go template\n"
        "'json':             Print in JSON format\n"
        "'TEMPLATE':         Print output using the given Go template" },
      { "no-trunc", 0, 'T', NULL, "Don't truncate output" },
      { "quiet", 'q', 'q', NULL, "Only display container IDs" },
      { 0 },
  },
};
