#define _GNU_SOURCE
#include "container/logfile.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

void
log_writer_init (struct log_writer *w, int fd)
{
  memset (w, 0, sizeof (*w));
  w->fd = fd;
}

void
log_writer_clear (struct log_writer *w)
{
  free (w->partial[0]);
  free (w->partial[1]);
  memset (w, 0, sizeof (*w));
}

static int
emit (struct log_writer *w, int stream, const char *text, size_t len)
{
  cleanup_free char *now = time_rfc3339_now ();
  cleanup_json json_t *o
      = json_pack ("{s:s#, s:s, s:s}", "log", text, len, "stream", stream == 2 ? "stderr" : "stdout", "time", now);
  if (o == NULL)
    return -EINVAL;
  cleanup_free char *line = json_dumps (o, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (line == NULL)
    return -ENOMEM;
  size_t n = strlen (line);
  line[n] = '\n';
  /* One write per record: O_APPEND keeps records whole for concurrent readers. */
  return write_all (w->fd, line, n + 1);
}

int
log_writer_feed (struct log_writer *w, int stream, const char *buf, size_t len)
{
  int s = stream == 2 ? 1 : 0;
  while (len > 0)
    {
      const char *nl = memchr (buf, '\n', len);
      size_t take = nl ? (size_t)(nl - buf) + 1 : len;
      if (w->partial_len[s] + take > LOG_LINE_MAX)
        take = LOG_LINE_MAX - w->partial_len[s];
      w->partial[s] = xrealloc (w->partial[s], w->partial_len[s] + take);
      memcpy (w->partial[s] + w->partial_len[s], buf, take);
      w->partial_len[s] += take;
      buf += take;
      len -= take;
      bool complete = w->partial[s][w->partial_len[s] - 1] == '\n' || w->partial_len[s] >= LOG_LINE_MAX;
      if (complete)
        {
          int ret = emit (w, stream, w->partial[s], w->partial_len[s]);
          w->partial_len[s] = 0;
          if (ret < 0)
            return ret;
        }
    }
  return 0;
}

int
log_writer_flush (struct log_writer *w)
{
  for (int s = 0; s < 2; s++)
    if (w->partial_len[s] > 0)
      {
        int ret = emit (w, s + 1, w->partial[s], w->partial_len[s]);
        w->partial_len[s] = 0;
        if (ret < 0)
          return ret;
      }
  return 0;
}

int
log_record_parse (const char *line, size_t len, struct log_record *out)
{
  cleanup_json json_t *o = json_loadb (line, len, 0, NULL);
  json_t *log = json_object_get (o, "log");
  const char *stream = json_string_value (json_object_get (o, "stream"));
  const char *time = json_string_value (json_object_get (o, "time"));
  if (!json_is_string (log) || stream == NULL || time == NULL)
    return -EINVAL;
  memset (out, 0, sizeof (*out));
  out->stream = strcmp (stream, "stderr") == 0 ? 2 : 1;
  out->len = json_string_length (log);
  out->text = xmalloc (out->len + 1);
  memcpy (out->text, json_string_value (log), out->len);
  out->text[out->len] = '\0';
  out->time = xstrdup (time);
  if (time_parse_rfc3339 (time, &out->seconds) < 0)
    out->seconds = 0;
  return 0;
}

void
log_record_clear (struct log_record *r)
{
  free (r->text);
  free (r->time);
  memset (r, 0, sizeof (*r));
}
