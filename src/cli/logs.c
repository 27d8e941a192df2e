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

struct logs_opts
{
  bool follow, timestamps;
  long tail; /* -1: all */
  bool has_since, has_until;
  struct timestamp since, until; /* records before since and after until are not shown */
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

/* --- the files of a log: ctr.log and, rotated (json-file's max-file), ctr.log.1 (the newest) … ------------------ */

struct log_files
{
  int *fds; /* oldest first; the last is the current ctr.log (when it exists) */
  ino_t *inos;
  size_t n;
};

static void
log_files_clear (struct log_files *f)
{
  for (size_t i = 0; i < f->n; i++)
    close (f->fds[i]);
  free (f->fds);
  free (f->inos);
  memset (f, 0, sizeof (*f));
}

/* Opens ctr.log, then ctr.log.1, ctr.log.2 …: a rotation while we do so shifts the names by one, and then a file
   we already hold comes again under its next name and is skipped, so that the files are each held once, in order,
   whatever the monitor does meanwhile (the oldest may be rotated away, as with Docker). */
static void
log_files_open (const char *path, int max_file, struct log_files *f)
{
  size_t cap = (size_t)(max_file > 0 ? max_file : 1);
  int *fds = xcalloc (cap, sizeof (int));
  ino_t *inos = xcalloc (cap, sizeof (ino_t));
  size_t n = 0;
  for (int i = 0; i < max_file || i == 0; i++)
    {
      cleanup_free char *name = log_config_file (path, i);
      int fd = open (name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      struct stat st;
      if (fd < 0)
        continue;
      bool again = fstat (fd, &st) < 0;
      for (size_t j = 0; j < n && !again; j++)
        again = inos[j] == st.st_ino;
      if (again)
        {
          close (fd);
          continue;
        }
      fds[n] = fd, inos[n] = st.st_ino, n++;
    }
  /* Newest first so far: reverse. */
  for (size_t i = 0; i < n / 2; i++)
    {
      int t = fds[i];
      fds[i] = fds[n - 1 - i], fds[n - 1 - i] = t;
      ino_t u = inos[i];
      inos[i] = inos[n - 1 - i], inos[n - 1 - i] = u;
    }
  *f = (struct log_files){ .fds = fds, .inos = inos, .n = n };
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

/* After a rotation: the file that came after the one we read (ino), opened, or -1 when it is not there (yet). */
static int
next_log_file (const char *path, int max_file, ino_t ino)
{
  struct log_files f;
  log_files_open (path, max_file, &f);
  size_t i = 0;
  while (i < f.n && f.inos[i] != ino)
    i++;
  /* Not there: rotated away already, so the oldest there is comes next. */
  size_t next = i < f.n ? i + 1 : 0;
  int fd = -1;
  if (next < f.n)
    {
      fd = f.fds[next];
      f.fds[next] = f.fds[--f.n];
    }
  log_files_clear (&f);
  return fd;
}

/* Whether the file at path is no longer the one fd reads (rotated: renamed, or not made again yet). */
static bool
rotated (const char *path, int fd)
{
  struct stat a, b;
  return fstat (fd, &a) == 0 && (stat (path, &b) < 0 || a.st_ino != b.st_ino);
}

static void
follow (struct container *c, const char *path, int max_file, int fd, struct printer *p, struct pending *rest)
{
  cleanup_close int ino = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  cleanup_free char *dir = container_path (c, "");
  (void)inotify_add_watch (ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO);
  bool last_round = false;
  while (!p->failed)
    {
      print_to_end (p, fd, rest);
      struct stat st;
      /* With max-file 1 the file is emptied instead: start again from its beginning. */
      if (fstat (fd, &st) == 0 && lseek (fd, 0, SEEK_CUR) > st.st_size)
        {
          (void)lseek (fd, 0, SEEK_SET);
          rest->len = 0;
          continue;
        }
      if (rotated (path, fd))
        {
          /* Nothing is written to a file once it is renamed: what it has now is all it will have. */
          print_to_end (p, fd, rest);
          int next = next_log_file (path, max_file, st.st_ino);
          if (next >= 0)
            {
              close (fd);
              fd = next;
              rest->len = 0;
              continue;
            }
        }
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
  close (fd);
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
  struct log_files files;
  log_files_open (path, lc.max_file, &files);
  if (files.n == 0)
    {
      fprintf (stderr, "Error: cannot open the logs of %.12s: %s\n", c->id, strerror (ENOENT));
      return 1;
    }
  /* --tail: from the newest file back, until the lines are found. */
  size_t first = 0;
  off_t *starts = xcalloc (files.n, sizeof (off_t));
  if (o->tail >= 0)
    {
      long want = o->tail, got;
      first = files.n;
      while (first > 0 && (first == files.n || want > 0))
        {
          first--;
          starts[first] = log_tail_offset (files.fds[first], want, &got);
          want -= got;
        }
    }
  cleanup_free char *out = xmalloc (OUT_MAX);
  struct printer p = { .o = o, .out = out, .out_fd = STDOUT_FILENO };
  struct pending rest = { 0 };
  for (size_t i = first; i < files.n && !p.failed; i++)
    {
      rest.len = 0; /* a rotated file ends with a whole record */
      if (lseek (files.fds[i], starts[i], SEEK_SET) < 0)
        {
          fprintf (stderr, "Error: cannot read the logs of %.12s: %s\n", c->id, strerror (errno));
          free (starts);
          log_files_clear (&files);
          return 1;
        }
      print_to_end (&p, files.fds[i], &rest);
    }
  free (starts);
  if (o->follow && container_is_running (c))
    {
      /* follow takes the newest file */
      int fd = files.fds[--files.n];
      follow (c, path, lc.max_file, fd, &p, &rest);
    }
  log_files_clear (&files);
  free (rest.buf);
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
