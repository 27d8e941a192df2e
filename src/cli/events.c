/* `isola events`: the store's event journal (store/journal.h) as Docker's CLI prints its daemon's events: those
   since --since, then new ones as they come until --until or ^C. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/gotemplate.h"
#include "base/json.h"
#include "base/timestamp.h"
#include "base/util.h"
#include "cli.h"
#include "store/journal.h"
#include "store/store.h"

#define NS 1000000000LL

static const struct flag_def events_flags[] = {
  { "filter", 'f', 'f', "filter",
    "Filter output based on conditions provided (container=, image=, event=, type=, label=, volume=)" },
  { "format", 0, 'F', "string", "Format the output using the given Go template" },
  { "since", 0, 's', "string", "Show all events created since timestamp" },
  { "until", 0, 'u', "string", "Stream events until this timestamp" },
  { 0 },
};

static int64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

int
cli_parse_timestamp (const char *value, int64_t now, int64_t *out)
{
  struct timestamp t;
  if (timestamp_parse (value, now / NS, &t, NULL) < 0)
    return -EINVAL;
  *out = t.sec * NS + t.nsec;
  return 0;
}

/* Docker's CLI: TIME TYPE ACTION ID (k=v, …), the time in the local zone as "2006-01-02T15:04:05.000000000Z07:00". */
static void
print_event (json_t *ev)
{
  int64_t t = json_integer_value (json_object_get (ev, "timeNano"));
  time_t secs = (time_t)(t / NS);
  struct tm tm;
  localtime_r (&secs, &tm);
  char date[32], zone[16] = "Z";
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  if (tm.tm_gmtoff != 0)
    {
      int off = (int)((tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff) % 86400);
      snprintf (zone, sizeof zone, "%c%02d:%02d", tm.tm_gmtoff < 0 ? '-' : '+', off / 3600, off / 60 % 60);
    }
  json_t *actor = json_object_get (ev, "Actor");
  printf ("%s.%09lld%s %s %s %s", date, (long long)(t % NS), zone, json_string_value (json_object_get (ev, "Type")),
          json_string_value (json_object_get (ev, "Action")), json_string_value (json_object_get (actor, "ID")));
  json_t *attrs = json_object_get (actor, "Attributes");
  if (json_object_size (attrs) > 0)
    {
      /* the journal keeps them sorted by key, as Docker prints them */
      const char *k;
      json_t *v;
      bool first = true;
      printf (" (");
      json_object_foreach (attrs, k, v)
      {
        printf ("%s%s=%s", first ? "" : ", ", k, json_string_value (v));
        first = false;
      }
      printf (")");
    }
  printf ("\n");
}

/* What a template sees: Go's events.Message, whose fields are named Status, ID, From, Type, Action, Actor, Scope,
   Time and TimeNano (the JSON names the legacy ones in lower case). */
static json_t *
go_message (json_t *ev)
{
  static const char *const names[][2] = { { "status", "Status" }, { "id", "ID" },         { "from", "From" },
                                          { "Type", "Type" },     { "Action", "Action" }, { "Actor", "Actor" },
                                          { "scope", "Scope" },   { "time", "Time" },     { "timeNano", "TimeNano" } };
  json_t *o = json_object ();
  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    {
      json_t *v = json_object_get (ev, names[i][0]);
      json_object_set_new (o, names[i][1], v ? json_incref (v) : json_string (""));
    }
  return o;
}

/* "json" and "{{json .}}" print the message as Docker's daemon sends it. */
static bool
format_is_whole_json (const char *format)
{
  if (strcmp (format, "json") == 0)
    return true;
  const char *p = format;
  while (isspace ((unsigned char)*p))
    p++;
  if (!str_has_prefix (p, "{{"))
    return false;
  p += 2;
  while (isspace ((unsigned char)*p))
    p++;
  if (!str_has_prefix (p, "json"))
    return false;
  p += 4;
  while (isspace ((unsigned char)*p))
    p++;
  if (*p++ != '.')
    return false;
  while (isspace ((unsigned char)*p))
    p++;
  if (!str_has_prefix (p, "}}"))
    return false;
  for (p += 2; isspace ((unsigned char)*p); p++)
    ;
  return *p == '\0';
}

static int
show_event (json_t *ev, const char *format, isola_error_t *err)
{
  if (format == NULL || format[0] == '\0')
    {
      print_event (ev);
      return 0;
    }
  cleanup_free char *text = NULL;
  cleanup_json json_t *go = NULL;
  if (format_is_whole_json (format))
    text = json_dumps (ev, JSON_COMPACT);
  else if (gotemplate_render (format, go = go_message (ev), NULL, &text, err) < 0)
    return -EINVAL;
  printf ("%s\n", text);
  return 0;
}

struct events_opts
{
  json_t *filters;
  const char *format;
  bool has_since, has_until;
  int64_t since, until;
};

/* Prints the events of the journal that match, following it until --until (forever without). */
static int
stream_events (const char *root, const struct events_opts *o, isola_error_t *err)
{
  cleanup_journal_reader struct journal_reader *r = NULL;
  /* Without --since or --until, only what happens from now on (Docker replays its buffer for either). */
  int ret = journal_reader_open (root, !o->has_since && !o->has_until, &r, err);
  if (ret < 0)
    return ret;
  for (;;)
    {
      json_t *ev = NULL;
      while ((ret = journal_reader_next (r, &ev, err)) == 1)
        {
          cleanup_json json_t *e = ev;
          int64_t t = json_integer_value (json_object_get (e, "timeNano"));
          if (o->has_until && t > o->until)
            return 0;
          if ((o->has_since && t < o->since) || !journal_filter_match (o->filters, e))
            continue;
          if ((ret = show_event (e, o->format, err)) < 0)
            return ret;
        }
      if (ret < 0)
        return ret;
      (void)fflush (stdout);
      int timeout = -1;
      if (o->has_until)
        {
          int64_t left = o->until - now_ns ();
          if (left < 0)
            return 0;
          timeout = (int)(left / 1000000 + 1);
        }
      ret = journal_reader_wait (r, timeout);
      if (ret < 0 && ret != -EINTR)
        return isola_error_make (err, -ret, "wait for events");
    }
}

static int
run_events (struct cli_ctx *ctx, int argc, char **argv)
{
  const struct cli_command *cmd = &cmd_events;
  cleanup_json json_t *filters = json_object ();
  struct events_opts o = { .filters = filters };
  const char *since = NULL, *until = NULL;
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, cmd, argc, argv);
  while ((c = cli_flag_next (cmd, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'f':
        {
          cleanup_error isola_error_t ferr = NULL;
          if (journal_filter_add (filters, p.value, &ferr) < 0)
            {
              if (ferr->status == EINVAL && str_has_prefix (ferr->msg, "bad format"))
                return cli_flag_invalid (cmd, &p, "%s", ferr->msg);
              return cli_fail (&ferr);
            }
          break;
        }
      case 'F':
        o.format = p.value;
        break;
      case 's':
        since = p.value;
        break;
      case 'u':
        until = p.value;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs > 0)
    return cli_usage_error (cmd, "\"isola events\" accepts no arguments.");
  int64_t now = now_ns ();
  if (since && since[0])
    {
      if (cli_parse_timestamp (since, now, &o.since) < 0)
        {
          fprintf (stderr, "Error: failed to parse value as time or duration: \"%s\"\n", since);
          return EXIT_CMD_FAILED;
        }
      o.has_since = true;
    }
  if (until && until[0])
    {
      if (cli_parse_timestamp (until, now, &o.until) < 0)
        {
          fprintf (stderr, "Error: failed to parse value as time or duration: \"%s\"\n", until);
          return EXIT_CMD_FAILED;
        }
      o.has_until = true;
    }
  if (o.has_since && o.has_until && o.since > o.until)
    {
      fprintf (stderr, "Error: since time (%s) cannot be after until time (%s)\n", since, until);
      return EXIT_CMD_FAILED;
    }
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *store = NULL;
  /* No lock: a stream would hold it for as long as it runs. */
  if (store_open (ctx->root, STORE_LOCK_NONE, &store, &err) < 0 || stream_events (store->root, &o, &err) < 0)
    return cli_fail (&err);
  return 0;
}

const struct cli_command cmd_events = {
  .name = "events",
  .run = run_events,
  .usage = "isola events [OPTIONS]",
  .summary = "Get real time events from the server",
  .flags = events_flags,
};
