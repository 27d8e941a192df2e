#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/timestamp.h"
#include "base/util.h"
#include "cli.h"
#include "base/json.h"
#include "container/container.h"
#include "container/logconfig.h"
#include "container/logfile.h"
#include "container/logreader.h"

struct logs_opts
{
  bool follow, timestamps;
  long tail; /* -1: all */
  bool has_since, has_until;
  struct timestamp since, until; /* records before since and after until are not shown */
};

/* The log is printed in big writes: a 100 MB log is a million records or more. */
#define OUT_MAX (256 * 1024)

/* Records go out collected per stream: a record of the other stream first writes out what was collected, so that
   stdout and stderr keep their order when they are one file. */
struct printer
{
  const struct logs_opts *o;
  char *out;
  size_t out_len;
  int out_fd;
  bool failed;   /* a write failed (a closed pipe): nothing more to do */
  char *scratch; /* decoded strings of the record at hand */
  size_t scratch_cap;
  char time_key[64]; /* --since/--until: the last time parsed, without its fraction, and its seconds */
  int64_t time_seconds;
  bool past_until; /* a record after --until was seen: nothing more is printed */
};

static void
printer_flush (struct printer *p)
{
  if (p->out_len && !p->failed && write_all (p->out_fd, p->out, p->out_len) < 0)
    p->failed = true;
  p->out_len = 0;
}

static void
printer_put (struct printer *p, int fd, const char *data, size_t len)
{
  if (fd != p->out_fd)
    {
      printer_flush (p);
      p->out_fd = fd;
    }
  if (len > OUT_MAX - p->out_len)
    printer_flush (p);
  if (len > OUT_MAX)
    {
      if (!p->failed && write_all (fd, data, len) < 0)
        p->failed = true;
      return;
    }
  memcpy (p->out + p->out_len, data, len);
  p->out_len += len;
}

/* The record's time (0 when it has none).  Records of one second share the parse: the time without its fraction
   is kept with its seconds. */
static struct timestamp
record_time (struct printer *p, const struct log_record *r)
{
  char key[sizeof p->time_key];
  size_t k = 0;
  struct timestamp t = { 0 };
  for (size_t i = 0; i < r->time_len;)
    {
      if (r->time[i] == '.')
        {
          int digits = 0;
          for (i++; i < r->time_len && r->time[i] >= '0' && r->time[i] <= '9'; i++)
            if (digits++ < 9)
              t.nsec = t.nsec * 10 + (r->time[i] - '0');
          for (; digits < 9; digits++)
            t.nsec *= 10;
          continue;
        }
      if (k + 1 == sizeof key || r->time[i] == '\0')
        return (struct timestamp){ 0 };
      key[k++] = r->time[i++];
    }
  key[k] = '\0';
  if (strcmp (key, p->time_key) != 0)
    {
      if (time_parse_rfc3339 (key, &p->time_seconds) < 0)
        p->time_seconds = 0;
      memcpy (p->time_key, key, k + 1);
    }
  t.sec = p->time_seconds;
  return t;
}

static void
print_record (struct printer *p, const char *line, size_t len)
{
  if (len > p->scratch_cap)
    {
      p->scratch_cap = len;
      p->scratch = xrealloc (p->scratch, p->scratch_cap);
    }
  struct log_record r;
  if (log_record_decode (line, len, p->scratch, &r) < 0)
    return; /* not a record: a torn one, its writer killed in the middle */
  if (p->past_until)
    return;
  if (p->o->has_since || p->o->has_until)
    {
      struct timestamp t = record_time (p, &r);
      if (p->o->has_since && timestamp_compare (t, p->o->since) < 0)
        return;
      /* Docker stops at the first record after --until. */
      if (p->o->has_until && timestamp_compare (t, p->o->until) > 0)
        {
          p->past_until = true;
          return;
        }
    }
  int fd = r.stream == 2 ? STDERR_FILENO : STDOUT_FILENO;
  if (p->o->timestamps)
    {
      printer_put (p, fd, r.time, r.time_len);
      printer_put (p, fd, " ", 1);
    }
  printer_put (p, fd, r.text, r.len);
}

/* Prints the complete lines of buf[0..len); returns how many bytes they took. */
static size_t
print_lines (struct printer *p, const char *buf, size_t len)
{
  size_t start = 0;
  for (const char *nl; (nl = memchr (buf + start, '\n', len - start)) != NULL;)
    {
      print_record (p, buf + start, (size_t)(nl - buf) - start);
      start = (size_t)(nl - buf) + 1;
    }
  return start;
}

/* Prints what the log has from where the reader is to the end of what is written. */
static void
print_to_end (struct printer *p, struct log_reader *r)
{
  const char *lines;
  size_t len;
  while (!p->failed && log_reader_next (r, &lines, &len) == 1)
    print_lines (p, lines, len);
  printer_flush (p);
}

static bool
until_passed (const struct printer *p)
{
  struct timespec now;
  clock_gettime (CLOCK_REALTIME, &now);
  return p->past_until
         || (p->o->has_until
             && timestamp_compare ((struct timestamp){ now.tv_sec, (int32_t)now.tv_nsec }, p->o->until) > 0);
}

static void
follow (struct container *c, struct log_reader *r, struct printer *p)
{
  cleanup_close int ino = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  cleanup_free char *dir = container_path (c, "");
  (void)inotify_add_watch (ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO);
  bool last_round = false;
  while (!p->failed)
    {
      print_to_end (p, r);
      /* json-file rotated or emptied the file: read on in the next one */
      if (log_reader_follow (r))
        continue;
      if (last_round)
        break;
      /* The monitor holds the running lock until the last output is written: once it is free, read once more.
         With --until, what comes later than that time is not shown: once it is past, so is the following. */
      if (!container_monitor_alive (c) || until_passed (p))
        last_round = true;
      struct pollfd pfd = { .fd = ino, .events = POLLIN };
      char events[4096];
      if (!last_round && poll (&pfd, 1, 200) > 0)
        while (read (ino, events, sizeof events) > 0)
          ;
    }
}

static int
show_logs (struct container *c, const struct logs_opts *o)
{
  struct log_config lc;
  cleanup_error isola_error_t err = NULL;
  if (log_config_parse (json_object_get (container_host_config (c), "LogConfig"), &lc, &err) < 0)
    return cli_fail (&err);
  if (lc.driver == LOG_DRIVER_NONE)
    {
      fprintf (stderr, "Error: configured logging driver does not support reading\n");
      return 1;
    }
  cleanup_free char *path = container_path (c, "ctr.log");
  struct log_reader r;
  log_reader_open (&r, path, lc.max_file);
  if (r.n == 0)
    {
      log_reader_close (&r);
      fprintf (stderr, "Error: cannot open the logs of %.12s: %s\n", c->id, strerror (ENOENT));
      return 1;
    }
  int ret = log_reader_tail (&r, o->tail);
  if (ret < 0)
    {
      log_reader_close (&r);
      fprintf (stderr, "Error: cannot read the logs of %.12s: %s\n", c->id, strerror (-ret));
      return 1;
    }
  cleanup_free char *out = xmalloc (OUT_MAX);
  struct printer p = { .o = o, .out = out, .out_fd = STDOUT_FILENO };
  print_to_end (&p, &r);
  if (o->follow && container_is_running (c))
    follow (c, &r, &p);
  log_reader_close (&r);
  free (p.scratch);
  return 0;
}

/* --since and --until: Docker's times (base/timestamp.h); a bad one fails as the docker CLI's, with 1. */
static int
parse_time_flag (const char *name, const char *value, bool *has, struct timestamp *out)
{
  cleanup_error isola_error_t err = NULL;
  if (timestamp_parse (value, (int64_t)time (NULL), out, &err) < 0)
    {
      fprintf (stderr, "Error: invalid value for \"%s\": %s\n", name, err->msg);
      return 1;
    }
  *has = true;
  return 0;
}

static int
run_logs (struct cli_ctx *ctx, int argc, char **argv)
{
  struct logs_opts o = { .tail = -1 };
  struct flag_parser p;
  int c, exit_code = 0;
  cli_flags_init (&p, &cmd_logs, argc, argv);
  while ((c = cli_flag_next (&cmd_logs, &p, &exit_code)) > 0)
    switch (c)
      {
      case 'f':
        o.follow = p.on;
        break;
      case 't':
        o.timestamps = p.on;
        break;
      case 'n':
        {
          char *end;
          o.tail = strcmp (p.value, "all") == 0 ? -1 : strtol (p.value, &end, 10);
          if (strcmp (p.value, "all") != 0 && (*end || o.tail < 0))
            return cli_flag_invalid (&cmd_logs, &p, NULL);
          break;
        }
      case 'S':
        if (parse_time_flag ("since", p.value, &o.has_since, &o.since))
          return 1;
        break;
      case 'U':
        if (parse_time_flag ("until", p.value, &o.has_until, &o.until))
          return 1;
        break;
      }
  if (c < 0)
    return exit_code;
  if (p.nargs != 1)
    return cli_usage_error (&cmd_logs, "\"isola logs\" requires exactly 1 argument.");
  cleanup_store struct isola_store *store = NULL;
  cleanup_container struct container *ctr = NULL;
  if (cli_load_container (ctx, p.args[0], &store, &ctr))
    return 1;
  return show_logs (ctr, &o);
}

const struct cli_command cmd_logs = {
  .name = "logs",
  .run = run_logs,
  .usage = "isola logs [OPTIONS] CONTAINER",
  .summary = "Fetch the logs of a container",
  .flags = (const struct flag_def[]){
      { "details", 0, 'D', NULL, "Show extra details provided to logs" },
      { "follow", 'f', 'f', NULL, "Follow log output" },
      { "since", 0, 'S', "string", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\"\nfor 42 minutes)" },
      { "tail", 'n', 'n', "string", "Number of lines to show from the end of the logs (default \"all\")" },
      { "timestamps", 't', 't', NULL, "Show timestamps" },
      { "until", 0, 'U', "string", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g.\n\"42m\" for 42 minutes)" },
      { 0 },
  },
};
