#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/logfile.h"

struct logs_opts
{
  bool follow, timestamps;
  long tail;     /* -1: all */
  int64_t since; /* 0: all */
};

static void
print_record (const struct log_record *r, const struct logs_opts *o)
{
  if (o->since && r->seconds < o->since)
    return;
  FILE *f = r->stream == 2 ? stderr : stdout;
  if (o->timestamps)
    fprintf (f, "%s ", r->time);
  fwrite (r->text, 1, r->len, f);
  fflush (f);
}

/* Prints complete lines from buf[0..len); returns how many bytes were consumed. */
static size_t
print_lines (const char *buf, size_t len, const struct logs_opts *o, long skip)
{
  size_t start = 0;
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\n')
      {
        struct log_record r;
        if (skip > 0)
          skip--;
        else if (log_record_parse (buf + start, i - start, &r) == 0)
          {
            print_record (&r, o);
            log_record_clear (&r);
          }
        start = i + 1;
      }
  return start;
}

static long
count_lines (const char *buf, size_t len)
{
  long n = 0;
  for (size_t i = 0; i < len; i++)
    n += buf[i] == '\n';
  return n;
}

static void
follow (struct container *c, int fd, const struct logs_opts *o)
{
  cleanup_close int ino = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  cleanup_free char *path = container_path (c, "ctr.log");
  (void)inotify_add_watch (ino, path, IN_MODIFY);
  char *pending = NULL;
  size_t plen = 0;
  bool last_round = false;
  for (;;)
    {
      char buf[65536];
      ssize_t n;
      while ((n = read (fd, buf, sizeof buf)) > 0)
        {
          pending = xrealloc (pending, plen + (size_t)n);
          memcpy (pending + plen, buf, (size_t)n);
          plen += (size_t)n;
        }
      size_t used = print_lines (pending, plen, o, 0);
      if (used > 0)
        memmove (pending, pending + used, plen - used);
      plen -= used;
      if (last_round)
        break;
      /* The monitor holds the running lock until the last output is written: once it is free, read once more. */
      if (!container_monitor_alive (c))
        last_round = true;
      struct pollfd p = { .fd = ino, .events = POLLIN };
      if (!last_round && poll (&p, 1, 200) > 0)
        while (read (ino, buf, sizeof buf) > 0)
          ;
    }
  free (pending);
}

static int
show_logs (struct container *c, const struct logs_opts *o)
{
  cleanup_free char *path = container_path (c, "ctr.log");
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      fprintf (stderr, "Error: cannot open the logs of %.12s: %s\n", c->id, strerror (errno));
      return 1;
    }
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (read_fd_bounded (fd, (size_t)1 << 32, &buf, &len, NULL) < 0)
    return 1;
  long lines = count_lines (buf, len);
  long skip = o->tail >= 0 && o->tail < lines ? lines - o->tail : 0;
  print_lines (buf, len, o, skip);
  if (o->follow && container_is_running (c))
    follow (c, fd, o);
  return 0;
}

/* --since: RFC 3339, Unix seconds, or a duration such as 10m before now. */
static int
parse_since (const char *s, int64_t *out)
{
  if (time_parse_rfc3339 (s, out) == 0)
    return 0;
  char *end;
  double v = strtod (s, &end);
  if (end == s)
    return -EINVAL;
  if (*end == '\0')
    {
      *out = (int64_t)v;
      return 0;
    }
  double unit = strcmp (end, "s") == 0 ? 1 : strcmp (end, "m") == 0 ? 60 : strcmp (end, "h") == 0 ? 3600 : -1;
  if (unit < 0)
    return -EINVAL;
  *out = (int64_t)time (NULL) - (int64_t)(v * unit);
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
        if (parse_since (p.value, &o.since) < 0)
          return cli_usage_error (&cmd_logs, "invalid value for \"since\": %s", p.value);
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
      { 0 },
  },
};
