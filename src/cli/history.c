/* `isola history`: Docker's columns (IMAGE CREATED CREATED BY SIZE COMMENT), -H, --no-trunc, -q, --format. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "image/history.h"
#include "image/image.h"

struct history_opts
{
  bool human, trunc, quiet;
  const char *format;
};

/* The docker CLI's formatter.Ellipsis: at most max characters, the last one "…" when cut. */
static char *
ellipsis (const char *s, size_t max)
{
  size_t chars = 0, cut = 0;
  for (const char *p = s; *p; p++)
    if (((unsigned char)*p & 0xc0) != 0x80)
      {
        if (++chars == max)
          cut = (size_t)(p - s);
      }
  if (chars <= max)
    return xstrdup (s);
  return xasprintf ("%.*s…", (int)cut, s);
}

static char *
row_id (const struct image_history_row *r, const struct history_opts *o)
{
  if (r->id[0] == '\0')
    return xstrdup ("<missing>");
  return o->trunc ? xasprintf ("%.12s", r->id) : xasprintf ("sha256:%s", r->id);
}

static char *
row_created (const struct image_history_row *r, const struct history_opts *o, time_t now)
{
  if (!o->human)
    {
      struct tm tm;
      time_t t = (time_t)r->created;
      char buf[64];
      localtime_r (&t, &tm);
      strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
      /* RFC 3339's offset has a colon (Go's time.RFC3339), "Z" for UTC. */
      size_t n = strlen (buf);
      if (strcmp (buf + n - 5, "+0000") == 0)
        strcpy (buf + n - 5, "Z");
      else
        memmove (buf + n - 1, buf + n - 2, 3), buf[n - 2] = ':';
      return xstrdup (buf);
    }
  cleanup_free char *d = human_duration ((int64_t)now - r->created);
  return xasprintf ("%s ago", d);
}

static char *
row_created_by (const struct image_history_row *r, const struct history_opts *o)
{
  cleanup_free char *s = xstrdup (r->created_by);
  for (char *p = s; *p; p++)
    if (*p == '\t')
      *p = ' ';
  return o->trunc ? ellipsis (s, 45) : take_ptr (&s);
}

static json_t *
row_json (const struct image_history_row *r, const struct history_opts *o, time_t now)
{
  cleanup_free char *id = row_id (r, o), *created = row_created (r, o, now), *by = row_created_by (r, o);
  cleanup_free char *size = o->human ? human_size (r->size) : xasprintf ("%lld", (long long)r->size);
  struct history_opts rfc = *o;
  rfc.human = false;
  cleanup_free char *created_at = row_created (r, &rfc, now);
  return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", id, "CreatedSince", created, "CreatedAt", created_at,
                    "CreatedBy", by, "Size", size, "Comment", r->comment);
}

static int
print_history (const struct image_history_row *rows, size_t n, const struct history_opts *o, isola_error_t *err)
{
  time_t now = time (NULL);
  cleanup_json json_t *list = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (list, row_json (&rows[i], o, now));
  const char *format = o->format;
  if (o->quiet)
    format = "{{.ID}}";
  else if (format == NULL || cli_format_is_default (format))
    format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
  cleanup_json json_t *headers
      = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "IMAGE", "CreatedSince", "CREATED", "CreatedAt",
                   "CREATED AT", "CreatedBy", "CREATED BY", "Size", "SIZE", "Comment", "COMMENT");
  return cli_print_listing (format, list, headers, err);
}

static int
run_history (struct cli_ctx *ctx, int argc, char **argv)
{
  struct history_opts o = { .human = true, .trunc = true };
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_history, argc, argv);
  while ((c = cli_flag_next (&cmd_history, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'H':
        o.human = p.on;
        break;
      case 'n':
        o.trunc = !p.on;
        break;
      case 'q':
        o.quiet = p.on;
        break;
      case 'f':
        o.format = p.value;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 1)
    return cli_usage_error (&cmd_history, "\"isola history\" requires exactly 1 argument.");

  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  cleanup_json json_t *refs = NULL;
  digest_hex_t id;
  struct image_history_row *rows = NULL;
  size_t n = 0;
  if (refs_read (store, &refs, &err) < 0 || image_resolve (store, refs, p.args[0], id, &err) < 0
      || image_history (store, id, &rows, &n, &err) < 0)
    return cli_fail (&err);
  int ret = print_history (rows, n, &o, &err);
  image_history_free (rows, n);
  return ret < 0 ? cli_fail (&err) : 0;
}

const struct cli_command cmd_history = {
  .name = "history",
  .run = run_history,
  .usage = "isola history [OPTIONS] IMAGE",
  .summary = "Show the history of an image",
  .flags = (const struct flag_def[]){
      { "format", 0, 'f', "string", "Pretty-print images using a Go template" },
      { "human", 'H', 'H', NULL, "Print sizes and dates in human readable format (default true)" },
      { "no-trunc", 0, 'n', NULL, "Don't truncate output" },
      { "quiet", 'q', 'q', NULL, "Only show image IDs" },
      { 0 },
  },
};
