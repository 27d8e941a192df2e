/* System endpoints: /_ping, /version, /info, /events. */
#define _GNU_SOURCE
#include <sys/utsname.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/timestamp.h"
#include "base/util.h"
#include "container/filters.h"
#include "driver/info.h"
#include "filters.h"
#include "serve.h"
#include "store/journal.h"
#include "store/store.h"

#include "git_rev.h"

static enum MHD_Result
ping (struct serve_request *r)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer (2, (void *)"OK", MHD_RESPMEM_PERSISTENT);
  if (resp == NULL)
    return MHD_NO;
  serve_add_headers (resp);
  MHD_add_response_header (resp, "Content-Type", "text/plain; charset=utf-8");
  MHD_add_response_header (resp, "Cache-Control", "no-cache, no-store, must-revalidate");
  MHD_add_response_header (resp, "Pragma", "no-cache");
  enum MHD_Result ret = MHD_queue_response (r->conn, 200, resp);
  MHD_destroy_response (resp);
  return ret;
}

static enum MHD_Result
version (struct serve_request *r)
{
  struct utsname u;
  if (uname (&u) < 0)
    u.release[0] = '\0';
  json_t *details = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ApiVersion", SERVE_API_VERSION, "MinAPIVersion",
                               SERVE_MIN_API_VERSION, "GitCommit", ISOLA_GIT_REV, "GoVersion", "", "Os", "linux",
                               "Arch", "amd64", "KernelVersion", u.release);
  json_t *v = json_pack ("{s:{s:s}, s:[{s:s, s:s, s:o}], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Platform",
                         "Name", "isola", "Components", "Name", "Engine", "Version", ISOLA_VERSION, "Details", details,
                         "Version", ISOLA_VERSION, "ApiVersion", SERVE_API_VERSION, "MinAPIVersion",
                         SERVE_MIN_API_VERSION, "GitCommit", ISOLA_GIT_REV, "GoVersion", "", "Os", "linux", "Arch",
                         "amd64", "KernelVersion", u.release, "BuildTime", "");
  return serve_reply_json (r, 200, v);
}

static enum MHD_Result
info (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  json_t *out = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || engine_info_json (s, &out, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 200, out);
}

/* --- events: the journal (store/journal.h), streamed as JSON lines --------------------------------------------- */

struct events_ctx
{
  struct journal_reader *reader;
  json_t *filters;
  bool has_since, has_until;
  int64_t since, until; /* nanoseconds */
  struct MHD_Connection *conn;
  char *pending; /* a line not sent yet */
  size_t len, pos;
};

static void
events_free (void *cls)
{
  struct events_ctx *e = cls;
  journal_reader_free (e->reader);
  json_decref (e->filters);
  free (e->pending);
  free (e);
}

static int64_t
now_ns (void)
{
  struct timespec t;
  clock_gettime (CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static ssize_t
events_read (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct events_ctx *e = cls;
  for (;;)
    {
      size_t n = serve_stream_take (buf, max, e->pending, e->len, &e->pos);
      if (n > 0)
        return (ssize_t)n;
      json_t *ev = NULL;
      int got = journal_reader_next (e->reader, &ev, NULL);
      if (got < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      if (got == 1)
        {
          cleanup_json json_t *event = ev;
          int64_t t = json_integer_value (json_object_get (event, "timeNano"));
          if (e->has_until && t > e->until)
            return MHD_CONTENT_READER_END_OF_STREAM;
          if ((e->has_since && t < e->since) || !journal_filter_match (e->filters, event))
            continue;
          free (e->pending);
          cleanup_free char *line = json_dumps (event, JSON_COMPACT);
          e->pending = xasprintf ("%s\n", line ? line : "{}");
          e->len = strlen (e->pending), e->pos = 0;
          continue;
        }
      if (e->has_until && now_ns () > e->until)
        return MHD_CONTENT_READER_END_OF_STREAM;
      /* The client that left is noticed within a second. */
      if (serve_client_gone (e->conn))
        return MHD_CONTENT_READER_END_WITH_ERROR;
      (void)journal_reader_wait (e->reader, 1000);
    }
}

/* ?filters= (serve/filters.h) into the journal's filters. */
static int
events_filters (const char *text, json_t *filters, isola_error_t *err)
{
  cleanup_strv char **kv = NULL;
  if (filters_parse (text, &kv) < 0)
    return isola_error_fail (err, EINVAL, "invalid filter '%s'", text);
  for (size_t i = 0; kv && kv[i]; i++)
    if (journal_filter_add (filters, kv[i], err) < 0)
      return -EINVAL;
  return 0;
}

static int
event_time (const char *value, int64_t *out, isola_error_t *err)
{
  struct timestamp t;
  int ret = timestamp_parse (value, time (NULL), &t, err);
  if (ret == 0)
    *out = t.sec * 1000000000 + t.nsec;
  return ret;
}

static enum MHD_Result
events (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  struct events_ctx *e = xcalloc (1, sizeof *e);
  e->filters = json_object ();
  e->conn = r->conn;
  const char *since = serve_query (r, "since"), *until = serve_query (r, "until");
  int ret = events_filters (serve_query (r, "filters"), e->filters, &err);
  if (ret == 0 && since && *since)
    e->has_since = true, ret = event_time (since, &e->since, &err);
  if (ret == 0 && until && *until)
    e->has_until = true, ret = event_time (until, &e->until, &err);
  /* Without since or until, only what happens from now on (as the CLI's events). */
  if (ret == 0)
    ret = journal_reader_open (serve_root ? serve_root : ISOLA_DEFAULT_ROOT, !e->has_since && !e->has_until, &e->reader,
                               &err);
  if (ret < 0)
    {
      events_free (e);
      return serve_reply_error (r, 400, "%s", err ? err->msg : "bad request");
    }
  return serve_reply_stream (r, 200, "application/json", events_read, e, events_free);
}

enum MHD_Result
serve_system (struct serve_request *r)
{
  if (serve_route (r, "GET", "/events"))
    return events (r);
  if (serve_route (r, "GET", "/_ping"))
    return ping (r);
  if (serve_route (r, "GET", "/version"))
    return version (r);
  if (serve_route (r, "GET", "/info"))
    return info (r);
  return SERVE_NOT_MINE;
}
