/* The container endpoints that stream: attach (hijacked), wait (the answer comes at the exit) and logs (--follow
   streams until the container stops).  Each holds its connection's thread; each notices a client that leaves. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/timestamp.h"
#include "base/util.h"
#include "container/container.h"
#include "container/lifecycle.h"
#include "container/logconfig.h"
#include "container/logfile.h"
#include "container/logreader.h"
#include "store/journal.h"
#include "containers.h"
#include "hijack.h"
#include "serve.h"

/* Blocks until something changes in dir (a state.json renamed in, a file written, the directory removed) or
   timeout_ms pass.  watch is an inotify fd made before the state was read, so no change is missed. */
static int
watch_dir (const char *dir, const char *file)
{
  int fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0)
    return -1;
  (void)inotify_add_watch (fd, dir, IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_MODIFY);
  if (file)
    {
      cleanup_free char *path = xasprintf ("%s/%s", dir, file);
      (void)inotify_add_watch (fd, path, IN_MODIFY);
    }
  return fd;
}

static void
wait_change (int watch, int timeout_ms)
{
  struct pollfd p = { .fd = watch, .events = POLLIN };
  if (poll (&p, 1, watch >= 0 ? timeout_ms : 100) > 0)
    {
      char buf[4096];
      while (read (watch, buf, sizeof buf) > 0)
        ;
    }
}

/* --- logs ----------------------------------------------------------------------------------------------------- */

struct logs_ctx
{
  char id[DIGEST_HEX_LEN + 1];
  char *dir; /* the container's directory */
  struct MHD_Connection *conn;
  bool out, err, follow, timestamps, tty;
  bool has_since, has_until, done;
  struct timestamp since, until;
  struct log_reader reader; /* its ctr.log and the rotated ones (container/logfile.h) */
  char *out_buf;            /* framed output not sent yet */
  size_t out_len, out_pos, out_cap;
};

static void
logs_free (void *cls)
{
  struct logs_ctx *l = cls;
  log_reader_close (&l->reader);
  free (l->out_buf);
  free (l->dir);
  free (l);
}

static void
out_put (struct logs_ctx *l, const void *data, size_t len)
{
  if (l->out_len + len > l->out_cap)
    {
      l->out_cap = (l->out_len + len) * 2;
      l->out_buf = xrealloc (l->out_buf, l->out_cap);
    }
  memcpy (l->out_buf + l->out_len, data, len);
  l->out_len += len;
}

static struct timestamp
record_time (const struct log_record *rec)
{
  struct timestamp t = { 0, 0 };
  char s[64];
  if (rec->time_len == 0 || rec->time_len >= sizeof s)
    return t;
  memcpy (s, rec->time, rec->time_len);
  s[rec->time_len] = '\0';
  if (time_parse_rfc3339 (s, &t.sec) < 0)
    return t;
  const char *dot = strchr (s, '.');
  if (dot)
    {
      int32_t scale = 100000000;
      for (const char *d = dot + 1; *d >= '0' && *d <= '9' && scale > 0; d++, scale /= 10)
        t.nsec += (int32_t)(*d - '0') * scale;
    }
  return t;
}

/* One record of ctr.log to the client, as dockerd frames it; false once past ?until. */
static bool
emit_line (struct logs_ctx *l, const char *line, size_t len)
{
  cleanup_free char *buf = xmalloc (len + 1);
  struct log_record rec;
  if (len == 0 || log_record_decode (line, len, buf, &rec) < 0)
    return true;
  if ((rec.stream == 1 && !l->out) || (rec.stream == 2 && !l->err))
    return true;
  if (l->has_since || l->has_until)
    {
      struct timestamp t = record_time (&rec);
      if (l->has_since && timestamp_compare (t, l->since) < 0)
        return true;
      if (l->has_until && timestamp_compare (t, l->until) > 0)
        return false;
    }
  size_t stamp_len = l->timestamps ? rec.time_len + 1 : 0;
  if (!l->tty)
    {
      uint8_t hdr[8] = { (uint8_t)rec.stream, 0, 0, 0 };
      attach_put_u32 (hdr + 4, (uint32_t)(stamp_len + rec.len));
      out_put (l, hdr, sizeof hdr);
    }
  if (l->timestamps)
    {
      out_put (l, rec.time, rec.time_len);
      out_put (l, " ", 1);
    }
  out_put (l, rec.text, rec.len);
  return true;
}

/* The log's next lines as framed output: 1 when some came, 0 at the end of what is written, -1 past ?until. */
static int
read_more (struct logs_ctx *l)
{
  const char *lines;
  size_t len;
  if (log_reader_next (&l->reader, &lines, &len) == 0)
    return 0;
  for (const char *p = lines, *end = lines + len, *nl; p < end; p = nl + 1)
    {
      nl = memchr (p, '\n', (size_t)(end - p));
      if (!emit_line (l, p, (size_t)(nl - p)))
        return -1;
    }
  return 1;
}

static bool
still_running (struct logs_ctx *l)
{
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  return store_open (serve_root, STORE_LOCK_NONE, &s, NULL) == 0 && container_load (s, l->id, &c, NULL) == 0
         && container_refresh (c, NULL) == 0 && container_is_running (c);
}

static ssize_t
logs_read (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct logs_ctx *l = cls;
  for (;;)
    {
      size_t n = serve_stream_take (buf, max, l->out_buf, l->out_len, &l->out_pos);
      if (n > 0)
        return (ssize_t)n;
      l->out_pos = l->out_len = 0;
      if (l->done)
        return MHD_CONTENT_READER_END_OF_STREAM;
      int got = read_more (l);
      if (got != 0)
        {
          l->done = got < 0; /* past ?until: what is framed still goes out */
          continue;
        }
      if (!l->follow)
        return MHD_CONTENT_READER_END_OF_STREAM;
      /* At the end of the newest file, following: until the container stops (and what it wrote last is read). */
      cleanup_close int watch = watch_dir (l->dir, "ctr.log");
      if (log_reader_follow (&l->reader) || (got = read_more (l)) != 0)
        {
          l->done = got < 0;
          continue;
        }
      if (!still_running (l))
        {
          if ((got = read_more (l)) != 0)
            {
              l->done = got < 0;
              continue;
            }
          return MHD_CONTENT_READER_END_OF_STREAM;
        }
      if (serve_client_gone (l->conn))
        return MHD_CONTENT_READER_END_WITH_ERROR;
      wait_change (watch, 1000);
    }
}

/* A reader of c's log for a client (conn): the streams it wants, framed for c's terminal or not. */
static struct logs_ctx *
logs_new (struct container *c, struct MHD_Connection *conn, bool out, bool err_stream, int max_file)
{
  struct logs_ctx *l = xcalloc (1, sizeof *l);
  memcpy (l->id, c->id, sizeof l->id);
  l->dir = xstrdup (c->dir);
  l->conn = conn;
  l->out = out, l->err = err_stream;
  l->tty = container_tty (c);
  cleanup_free char *path = container_path (c, "ctr.log");
  log_reader_open (&l->reader, path, max_file);
  return l;
}

/* ?tail=: Docker reads a bad one as all. */
static void
logs_tail (struct logs_ctx *l, const char *tail)
{
  if (tail == NULL || *tail == '\0' || strcmp (tail, "all") == 0)
    return;
  char *end;
  long n = strtol (tail, &end, 10);
  if (*end == '\0' && n >= 0)
    (void)log_reader_tail (&l->reader, n);
}

enum MHD_Result
serve_logs (struct serve_request *r, struct isola_store *s, struct container *c)
{
  bool out = serve_query_bool (r, "stdout"), err_stream = serve_query_bool (r, "stderr");
  if (!out && !err_stream)
    return serve_reply_error (r, 400, "Bad parameters: you must choose at least one stream");
  cleanup_error isola_error_t err = NULL;
  struct log_config lc;
  if (log_config_parse (json_object_get (container_host_config (c), "LogConfig"), &lc, &err) < 0)
    return serve_reply_isola_error (r, err);
  if (lc.driver == LOG_DRIVER_NONE)
    return serve_reply_error (r, 501, "configured logging driver does not support reading");
  struct logs_ctx *l = logs_new (c, r->conn, out, err_stream, lc.max_file);
  l->follow = serve_query_bool (r, "follow");
  l->timestamps = serve_query_bool (r, "timestamps");
  int64_t now = time (NULL);
  const char *since = serve_query (r, "since"), *until = serve_query (r, "until");
  if ((since && *since && strcmp (since, "0") != 0
       && (l->has_since = true, timestamp_parse (since, now, &l->since, &err) < 0))
      || (until && *until && strcmp (until, "0") != 0
          && (l->has_until = true, timestamp_parse (until, now, &l->until, &err) < 0)))
    {
      logs_free (l);
      return serve_reply_isola_error (r, err);
    }
  logs_tail (l, serve_query (r, "tail"));
  /* No file (a container never started): an empty log. */
  return serve_reply_stream (r, 200, "application/vnd.docker.raw-stream", logs_read, l, logs_free);
}

/* attach's logs=1: what c wrote so far, to the client's socket as attach frames it. */
static int
replay_logs (struct logs_ctx *l, int sock)
{
  char buf[64 * 1024];
  ssize_t n;
  while ((n = logs_read (l, 0, buf, sizeof buf)) > 0)
    if (send_all (sock, buf, (size_t)n) < 0)
      return -1;
  return 0;
}

/* --- attach --------------------------------------------------------------------------------------------------- */

struct attach_ctx
{
  char id[DIGEST_HEX_LEN + 1];
  struct relay_opts o;
  struct detach_keys keys;
  struct pending_attach *p;
  bool stream;
  struct logs_ctx *logs; /* logs=1: the past output, sent first */
};

static void
attach_free (void *cls)
{
  struct attach_ctx *a = cls;
  if (a->p)
    (void)serve_attach_wait (a->p, -1, false, NULL, NULL);
  if (a->logs)
    logs_free (a->logs);
  free (a);
}

static void
attach_hijacked (void *cls, int sock, const char *extra, size_t extra_len)
{
  struct attach_ctx *a = cls;
  struct pending_attach *p = a->p;
  a->p = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  bool running = store_open (serve_root, STORE_LOCK_NONE, &s, NULL) == 0 && container_load (s, a->id, &c, NULL) == 0
                 && container_refresh (c, NULL) == 0 && container_is_running (c);
  struct attach_decoder dec;
  attach_decoder_init (&dec);
  int fd = -1;
  /* The session first, then the past: what comes between the two is in both rather than in neither. */
  int got = serve_attach_wait (p, sock, !running && a->stream, a->stream ? &fd : NULL, &dec);
  if (a->stream && got == 0 && c && container_refresh (c, NULL) == 0 && container_is_running (c)
      && container_attach_client (c, &fd, &dec, NULL) < 0)
    fd = -1;
  if (a->logs && replay_logs (a->logs, sock) < 0 && fd >= 0)
    {
      close (fd);
      fd = -1;
    }
  if (fd >= 0)
    {
      (void)serve_relay (sock, fd, &dec, &a->o, extra, extra_len);
      close (fd);
    }
  (void)shutdown (sock, SHUT_WR);
  attach_decoder_clear (&dec);
}

enum MHD_Result
serve_attach (struct serve_request *r, struct isola_store *s, struct container *c)
{
  if (container_is_paused (c))
    return serve_reply_error (r, 409, "You cannot attach to a paused container, unpause it first");
  const char *keys = serve_query (r, "detachKeys");
  struct detach_keys parsed;
  if (detach_keys_parse (keys && *keys ? keys : DETACH_KEYS_DEFAULT, &parsed) < 0)
    return serve_reply_error (r, 400, "Invalid detach keys (%s) provided", keys);
  bool out = serve_query_bool (r, "stdout"), err_stream = serve_query_bool (r, "stderr");
  struct attach_ctx *a = xcalloc (1, sizeof *a);
  memcpy (a->id, c->id, sizeof a->id);
  a->stream = serve_query_bool (r, "stream");
  a->keys = parsed;
  a->o = (struct relay_opts){ .tty = container_tty (c),
                              .stdin = serve_query_bool (r, "stdin") && container_open_stdin (c),
                              .stdout = out,
                              .stderr = err_stream,
                              /* as dockerd: the keys detach a terminal's session only */
                              .keys = container_tty (c) ? &a->keys : NULL };
  if (serve_query_bool (r, "logs") && (out || err_stream))
    {
      struct log_config lc;
      if (log_config_parse (json_object_get (container_host_config (c), "LogConfig"), &lc, NULL) == 0
          && lc.driver != LOG_DRIVER_NONE)
        a->logs = logs_new (c, r->conn, out, err_stream, lc.max_file);
    }
  /* Registered before the 101 goes: the client starts the container as soon as it has it, and that start hands
     its session here. */
  a->p = serve_attach_register (c->id);
  return serve_reply_hijack (r, attach_hijacked, a, attach_free);
}

/* --- wait ----------------------------------------------------------------------------------------------------- */

enum wait_condition
{
  WAIT_NOT_RUNNING,
  WAIT_NEXT_EXIT,
  WAIT_REMOVED,
};

struct wait_ctx
{
  char id[DIGEST_HEX_LEN + 1];
  enum wait_condition cond;
  bool running; /* when the request came */
  int code;     /* its ExitCode then */
  /* The journal from the request on: its die event has the exit code, also of a --rm container whose record is
     gone by the time anyone could read it. */
  struct journal_reader *journal;
  struct MHD_Connection *conn;
  char *body;
  size_t len, pos;
};

static void
wait_free (void *cls)
{
  struct wait_ctx *w = cls;
  journal_reader_free (w->journal);
  free (w->body);
  free (w);
}

/* The exit code the condition waits for; -1 when the client left first. */
static int
wait_for_condition (struct wait_ctx *w)
{
  int code = w->code;
  bool exited = false;
  if (w->cond == WAIT_NOT_RUNNING && !w->running)
    return code;
  for (;;)
    {
      json_t *ev = NULL;
      int got;
      while ((got = journal_reader_next (w->journal, &ev, NULL)) == 1)
        {
          json_t *actor = json_object_get (ev, "Actor");
          const char *type = json_string_value (json_object_get (ev, "Type"));
          const char *action = json_string_value (json_object_get (ev, "Action"));
          const char *id = json_string_value (json_object_get (actor, "ID"));
          if (type && action && id && strcmp (type, "container") == 0 && strcmp (id, w->id) == 0)
            {
              if (strcmp (action, "die") == 0)
                {
                  const char *c
                      = json_string_value (json_object_get (json_object_get (actor, "Attributes"), "exitCode"));
                  code = c ? atoi (c) : 0;
                  exited = true;
                }
              else if (strcmp (action, "destroy") == 0)
                {
                  json_decref (ev);
                  return code;
                }
            }
          json_decref (ev);
          ev = NULL;
          if (exited && w->cond != WAIT_REMOVED)
            return code;
        }
      if (got < 0)
        return code;
      if (serve_client_gone (w->conn))
        return -1;
      (void)journal_reader_wait (w->journal, 1000);
    }
}
static ssize_t
wait_read (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct wait_ctx *w = cls;
  if (w->body == NULL)
    {
      int code = wait_for_condition (w);
      if (code < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      w->body = xasprintf ("{\"Error\":null,\"StatusCode\":%d}\n", code);
      w->len = strlen (w->body);
    }
  size_t n = serve_stream_take (buf, max, w->body, w->len, &w->pos);
  return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

enum MHD_Result
serve_wait (struct serve_request *r, struct isola_store *s, struct container *c)
{
  const char *cond = serve_query (r, "condition");
  enum wait_condition wc;
  if (cond == NULL || *cond == '\0' || strcmp (cond, "not-running") == 0)
    wc = WAIT_NOT_RUNNING;
  else if (strcmp (cond, "next-exit") == 0)
    wc = WAIT_NEXT_EXIT;
  else if (strcmp (cond, "removed") == 0)
    wc = WAIT_REMOVED;
  else
    return serve_reply_error (r, 400, "invalid condition: \"%s\"", cond);
  struct wait_ctx *w = xcalloc (1, sizeof *w);
  cleanup_error isola_error_t err = NULL;
  if (journal_reader_open (s->root, true, &w->journal, &err) < 0)
    {
      free (w);
      return serve_reply_isola_error (r, err);
    }
  /* The state after the journal's end: an exit after this read is in the journal. */
  if (container_reload_state (c, NULL) == 0)
    (void)container_refresh (c, NULL);
  memcpy (w->id, c->id, sizeof w->id);
  w->cond = wc;
  w->conn = r->conn;
  w->running = container_is_running (c);
  w->code = (int)json_integer_value (json_object_get (c->state, "ExitCode"));
  /* The headers go at once (the docker CLI starts the container once they came), the body at the exit. */
  return serve_reply_stream (r, 200, "application/json", wait_read, w, wait_free);
}
