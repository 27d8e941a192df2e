/* Jobs in child processes (serve/job.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "job.h"

int
serve_job_send (int msg, json_t *m)
{
  cleanup_free char *text = json_dumps (m, JSON_COMPACT);
  json_decref (m);
  if (text == NULL)
    return -ENOMEM;
  cleanup_free char *line = xasprintf ("%s\n", text);
  return write_all (msg, line, strlen (line));
}

/* The child keeps stdio, its pipes and keep: no client's socket stays open in it after its connection ends. */
static void
close_others (int a, int b, int keep)
{
  int fds[3] = { a, b, keep }, n = 3;
  for (int i = 0; i < n; i++)
    for (int k = i + 1; k < n; k++)
      if (fds[k] < fds[i])
        {
          int t = fds[i];
          fds[i] = fds[k], fds[k] = t;
        }
  unsigned from = 3;
  for (int i = 0; i < n; i++)
    {
      if (fds[i] < (int)from)
        continue;
      if ((unsigned)fds[i] > from)
        (void)close_range (from, (unsigned)fds[i] - 1, 0);
      from = (unsigned)fds[i] + 1;
    }
  (void)close_range (from, ~0u, 0);
}

static void __attribute__ ((noreturn)) run_child (serve_job_fn fn, void *arg, int msg, int data, int keep)
{
  /* The server's handlers write to its signal pipe: a signal meant for the child must not end the server. */
  signal (SIGTERM, SIG_DFL);
  signal (SIGINT, SIG_DFL);
  close_others (msg, data, keep);
  isola_error_t err = NULL;
  int ret = fn (arg, msg, data, &err);
  if (data >= 0)
    close (data);
  if (ret < 0)
    (void)serve_job_send (
        msg, json_pack ("{s:i, s:s}", "errno", err ? err->status : EIO, "message", err ? err->msg : "the job failed"));
  _exit (ret < 0 ? 1 : 0);
}

int
serve_job_start_keeping (serve_job_fn fn, void *arg, bool with_data, int keep, struct serve_job *j, isola_error_t *err)
{
  *j = (struct serve_job){ .pid = -1, .msg = -1, .data = -1 };
  int m[2], d[2] = { -1, -1 };
  if (pipe2 (m, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  if (with_data && pipe2 (d, O_CLOEXEC) < 0)
    {
      close (m[0]), close (m[1]);
      return isola_error_make (err, errno, "pipe");
    }
  pid_t pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (m[0]), close (m[1]);
      if (with_data)
        close (d[0]), close (d[1]);
      return isola_error_make (err, e, "fork");
    }
  if (pid == 0)
    run_child (fn, arg, m[1], d[1], keep);
  close (m[1]);
  if (with_data)
    close (d[1]);
  j->pid = pid, j->msg = m[0], j->data = d[0];
  return 0;
}

int
serve_job_start (serve_job_fn fn, void *arg, bool with_data, struct serve_job *j, isola_error_t *err)
{
  return serve_job_start_keeping (fn, arg, with_data, -1, j, err);
}

int
serve_job_next (struct serve_job *j, json_t **out)
{
  for (;;)
    {
      char *nl = j->buf ? memchr (j->buf, '\n', j->len) : NULL;
      if (nl)
        {
          size_t n = (size_t)(nl - j->buf);
          *out = json_loadb (j->buf, n, 0, NULL);
          memmove (j->buf, nl + 1, j->len - n - 1);
          j->len -= n + 1;
          if (*out && json_object_get (*out, "errno"))
            {
              /* The child's error: its last message. */
              json_decref (j->error);
              j->error = *out;
              *out = NULL;
              return 0;
            }
          if (*out)
            return 1;
          continue;
        }
      char chunk[65536];
      ssize_t got = read (j->msg, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        return 0;
      j->buf = xrealloc (j->buf, j->len + (size_t)got);
      memcpy (j->buf + j->len, chunk, (size_t)got);
      j->len += (size_t)got;
    }
}

int
serve_job_finish (struct serve_job *j, isola_error_t *err)
{
  int ret = 0;
  json_t *m = NULL;
  if (j->data >= 0)
    close (j->data);
  while (j->msg >= 0 && serve_job_next (j, &m) == 1)
    json_decref (m);
  json_t *last = j->error;
  int status = 0;
  while (j->pid > 0 && waitpid (j->pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (j->pid > 0 && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
    {
      const char *msg = json_string_value (json_object_get (last, "message"));
      int e = (int)json_integer_value (json_object_get (last, "errno"));
      ret = msg ? isola_error_fail (err, e ? e : EIO, "%s", msg)
                : isola_error_fail (err, EIO, "the server's worker process failed (status %d)", status);
    }
  json_decref (last);
  if (j->msg >= 0)
    close (j->msg);
  free (j->buf);
  *j = (struct serve_job){ .pid = -1, .msg = -1, .data = -1 };
  return ret;
}

enum MHD_Result
serve_job_reply_error (struct serve_request *r, struct serve_job *j)
{
  cleanup_error isola_error_t err = NULL;
  if (serve_job_finish (j, &err) == 0)
    return serve_reply_error (r, 500, "the server's worker process ended early");
  return serve_reply_isola_error (r, err);
}

struct job_stream
{
  struct serve_job j;
};

static ssize_t
job_stream_read (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct job_stream *s = cls;
  for (;;)
    {
      ssize_t n = read (s->j.data, buf, max);
      if (n > 0)
        return n;
      if (n < 0 && errno == EINTR)
        continue;
      /* The end: whether the output is whole is the child's to say. */
      cleanup_error isola_error_t err = NULL;
      return serve_job_finish (&s->j, &err) == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

static void
job_stream_free (void *cls)
{
  struct job_stream *s = cls;
  /* A client that left: the child's writes fail (EPIPE) and it ends, undoing what it did (a pause, mounts). */
  if (s->j.pid > 0)
    (void)serve_job_finish (&s->j, NULL);
  free (s);
}

enum MHD_Result
serve_job_reply_stream (struct serve_request *r, struct serve_job *j, const char *type, const char *header,
                        const char *value)
{
  struct job_stream *s = xmalloc (sizeof *s);
  s->j = *j;
  struct MHD_Response *resp
      = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 64 * 1024, job_stream_read, s, job_stream_free);
  if (resp == NULL)
    {
      job_stream_free (s);
      return MHD_NO;
    }
  MHD_add_response_header (resp, "Content-Type", type);
  if (header)
    MHD_add_response_header (resp, header, value);
  return serve_reply_response (r, 200, resp);
}

enum MHD_Result
serve_job_reply_result (struct serve_request *r, serve_job_fn fn, void *arg, unsigned status)
{
  struct serve_job j;
  cleanup_error isola_error_t err = NULL;
  if (serve_job_start (fn, arg, false, &j, &err) < 0)
    return serve_reply_isola_error (r, err);
  json_t *m = NULL, *result = NULL;
  while (serve_job_next (&j, &m) == 1)
    {
      if (result == NULL && json_object_get (m, "result"))
        result = json_incref (json_object_get (m, "result"));
      json_decref (m);
    }
  if (serve_job_finish (&j, &err) < 0)
    {
      json_decref (result);
      return serve_reply_isola_error (r, err);
    }
  if (result == NULL)
    return serve_reply_empty (r, status);
  return serve_reply_json (r, status, result);
}
