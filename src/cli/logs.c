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

/* The log is read in big blocks and printed in big writes: a 100 MB log is a million records or more. */
#define READ_BLOCK (1024 * 1024)
#define OUT_MAX    (256 * 1024)

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
  char since_key[64]; /* --since: the last time parsed, without its fraction, and its seconds */
  int64_t since_seconds;
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

/* The record's time in seconds (0 when it has none).  Records of one second share the parse: the time without its
   fraction is kept with its seconds. */
static int64_t
record_seconds (struct printer *p, const struct log_record *r)
{
  char key[sizeof p->since_key];
  size_t k = 0;
  for (size_t i = 0; i < r->time_len;)
    {
      if (r->time[i] == '.')
        {
          for (i++; i < r->time_len && r->time[i] >= '0' && r->time[i] <= '9'; i++)
            ;
          continue;
        }
      if (k + 1 == sizeof key || r->time[i] == '\0')
        return 0;
      key[k++] = r->time[i++];
    }
  key[k] = '\0';
  if (strcmp (key, p->since_key) != 0)
    {
      if (time_parse_rfc3339 (key, &p->since_seconds) < 0)
        p->since_seconds = 0;
      memcpy (p->since_key, key, k + 1);
    }
  return p->since_seconds;
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
  if (p->o->since && record_seconds (p, &r) < p->o->since)
    return;
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

/* Bytes read but not printed yet: the beginning of a line whose end is not in the file yet (a record being
   written, or a torn one). */
struct pending
{
  char *buf;
  size_t len, cap;
};

/* Prints the records from fd's offset to its end. */
static void
print_to_end (struct printer *p, int fd, struct pending *rest)
{
  while (!p->failed)
    {
      if (rest->cap - rest->len < READ_BLOCK)
        {
          rest->cap = rest->len + READ_BLOCK;
          rest->buf = xrealloc (rest->buf, rest->cap);
        }
      ssize_t n = read (fd, rest->buf + rest->len, READ_BLOCK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      rest->len += (size_t)n;
      size_t used = print_lines (p, rest->buf, rest->len);
      memmove (rest->buf, rest->buf + used, rest->len - used);
      rest->len -= used;
    }
  printer_flush (p);
}

/* Where the last n lines of the file start: after the (n+1)-th newline from its end.  What follows the last
   newline is not a line (yet). */
static off_t
tail_offset (int fd, long n)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return 0;
  char block[65536];
  long seen = 0;
  for (off_t pos = st.st_size; pos > 0;)
    {
      size_t k = pos < (off_t)sizeof block ? (size_t)pos : sizeof block;
      pos -= (off_t)k;
      if (pread (fd, block, k, pos) != (ssize_t)k)
        return 0;
      for (size_t i = k; i-- > 0;)
        if (block[i] == '\n' && ++seen > n)
          return pos + (off_t)i + 1;
    }
  return 0;
}

static void
follow (struct container *c, int fd, struct printer *p, struct pending *rest)
{
  cleanup_close int ino = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  cleanup_free char *path = container_path (c, "ctr.log");
  (void)inotify_add_watch (ino, path, IN_MODIFY);
  bool last_round = false;
  while (!p->failed)
    {
      print_to_end (p, fd, rest);
      if (last_round)
        break;
      /* The monitor holds the running lock until the last output is written: once it is free, read once more. */
      if (!container_monitor_alive (c))
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
  cleanup_free char *path = container_path (c, "ctr.log");
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      fprintf (stderr, "Error: cannot open the logs of %.12s: %s\n", c->id, strerror (errno));
      return 1;
    }
  if (o->tail >= 0 && lseek (fd, tail_offset (fd, o->tail), SEEK_SET) < 0)
    {
      fprintf (stderr, "Error: cannot read the logs of %.12s: %s\n", c->id, strerror (errno));
      return 1;
    }
  cleanup_free char *out = xmalloc (OUT_MAX);
  struct printer p = { .o = o, .out = out, .out_fd = STDOUT_FILENO };
  struct pending rest = { 0 };
  print_to_end (&p, fd, &rest);
  if (o->follow && container_is_running (c))
    follow (c, fd, &p, &rest);
  free (rest.buf);
  free (p.scratch);
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
