/* QMP client (see qmp.h). */
#define _GNU_SOURCE
#include "proto/qmp.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"

int
qmp_classify (const char *line, size_t len, json_t **ret, char **desc)
{
  *ret = NULL;
  *desc = NULL;
  json_error_t jerr;
  cleanup_json json_t *j = json_loadb (line, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object (j))
    return -EPROTO;
  json_t *error = json_object_get (j, "error");
  if (error)
    {
      const char *d = json_string_value (json_object_get (error, "desc"));
      *desc = xstrdup (d ? d : "an error without a description");
      return QMP_ERROR;
    }
  json_t *r = json_object_get (j, "return");
  if (r == NULL)
    return QMP_OTHER;
  *ret = json_incref (r);
  return QMP_REPLY;
}

/* The next line, without its newline, in *line (valid until the next call). */
static int
read_line (struct qmp *q, char **line, size_t *len, isola_error_t *err)
{
  for (;;)
    {
      char *nl = memchr (q->buf, '\n', q->len);
      if (nl)
        {
          /* The line stays at the front of buf until the next call moves the rest down. */
          *line = q->buf;
          *len = (size_t)(nl - q->buf);
          return 1;
        }
      if (q->len == sizeof q->buf)
        return isola_error_fail (err, EPROTO, "QEMU sent a QMP line longer than %d bytes", QMP_LINE_MAX);
      long long left = q->deadline_ms - monotonic_ms ();
      if (left <= 0)
        return isola_error_fail (err, ETIMEDOUT, "QEMU did not answer on QMP in time");
      struct pollfd p = { .fd = q->fd, .events = POLLIN };
      int n = poll (&p, 1, (int)left);
      if (n < 0 && errno != EINTR)
        return isola_error_make (err, errno, "poll QMP");
      if (n <= 0)
        continue;
      ssize_t got = read (q->fd, q->buf + q->len, sizeof q->buf - q->len);
      if (got < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (got < 0)
        return isola_error_make (err, errno, "read QMP");
      if (got == 0)
        return isola_error_fail (err, EPIPE, "QEMU closed its QMP connection");
      q->len += (size_t)got;
    }
}

static void
consume_line (struct qmp *q, size_t len)
{
  size_t used = len + 1;
  memmove (q->buf, q->buf + used, q->len - used);
  q->len -= used;
}

static int
next_reply (struct qmp *q, json_t **ret, isola_error_t *err)
{
  for (;;)
    {
      char *line;
      size_t len;
      int r = read_line (q, &line, &len, err);
      if (r < 0)
        return r;
      json_t *value = NULL;
      cleanup_free char *desc = NULL;
      int kind = qmp_classify (line, len, &value, &desc);
      consume_line (q, len);
      if (kind < 0)
        return isola_error_fail (err, EPROTO, "QEMU sent a QMP line that is not a JSON object");
      if (kind == QMP_ERROR)
        return isola_error_fail (err, EIO, "QEMU: %s", desc);
      if (kind == QMP_REPLY)
        {
          if (ret)
            *ret = value;
          else
            json_decref (value);
          return 0;
        }
    }
}

/* A command is one line; getfd's fd travels with it. */
static int
send_line (int fd, const char *text, int pass_fd)
{
  cleanup_free char *line = xasprintf ("%s\n", text);
  size_t len = strlen (line);
  if (pass_fd >= 0)
    return fd_send_with (fd, pass_fd, line, len);
  /* No SIGPIPE for the CLI when QEMU is gone: the error says so instead. */
  ssize_t n;
  do
    n = send (fd, line, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)len ? 0 : -(n < 0 ? errno : EIO);
}

int
qmp_execute (struct qmp *q, const char *command, json_t *arguments, int pass_fd, json_t **ret, isola_error_t *err)
{
  if (ret)
    *ret = NULL;
  cleanup_json json_t *cmd = json_pack ("{s:s}", "execute", command);
  if (arguments)
    json_object_set_new (cmd, "arguments", arguments);
  cleanup_free char *text = json_dumps (cmd, JSON_COMPACT);
  if (text == NULL)
    return isola_error_fail (err, ENOMEM, "QMP command %s", command);
  int r = send_line (q->fd, text, pass_fd);
  if (r < 0)
    return isola_error_make (err, -r, "send QMP command %s", command);
  r = next_reply (q, ret, err);
  return r < 0 ? isola_error_wrap (err, r, "QMP command %s", command) : 0;
}

int
qmp_connect (struct qmp *q, int fd, int timeout_ms, isola_error_t *err)
{
  q->fd = fd;
  q->len = 0;
  q->deadline_ms = monotonic_ms () + timeout_ms;
  /* The greeting is the one line that is neither a reply nor an event: {"QMP": {...}}. */
  char *line;
  size_t len;
  int r = read_line (q, &line, &len, err);
  if (r < 0)
    return r;
  cleanup_json json_t *greeting = json_loadb (line, len, 0, NULL);
  consume_line (q, len);
  if (!json_is_object (json_object_get (greeting, "QMP")))
    return isola_error_fail (err, EPROTO, "QEMU did not greet with QMP");
  return qmp_execute (q, "qmp_capabilities", NULL, -1, NULL, err);
}
