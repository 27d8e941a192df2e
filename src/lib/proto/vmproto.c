#define _GNU_SOURCE
#include "proto/vmproto.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Which streams a type may use. */
enum
{
  STREAM_CONTROL, /* 0 */
  STREAM_MAIN,    /* 1 */
  STREAM_EXEC,    /* ≥ 2 */
  STREAM_SOME,    /* ≥ 1: a process or a request id */
  STREAM_ANY,
};

/* What follows the fixed-size fields. */
enum
{
  TAIL_NONE,
  TAIL_BYTES, /* bytes or JSON, opaque here */
  TAIL_TEXT,  /* UTF-8 without NUL */
};

struct rule
{
  const char *name;
  uint8_t from; /* enum vmproto_side bits */
  uint8_t stream;
  uint8_t fixed;
  uint8_t tail;
  uint32_t tail_min, tail_max;
};

/* The whole protocol in one table.  HELLO's row never changes, so that any two versions can tell each other
   apart. */
static const struct rule rules[VMPROTO_TYPE_MAX] = {
  [VMPROTO_HELLO] = { "HELLO", VMPROTO_HOST | VMPROTO_GUEST, STREAM_CONTROL, 8, TAIL_TEXT, 0, VMPROTO_SOFTWARE_MAX },
  [VMPROTO_START] = { "START", VMPROTO_HOST, STREAM_MAIN, 0, TAIL_BYTES, 1, VMPROTO_PAYLOAD_MAX },
  [VMPROTO_EXEC] = { "EXEC", VMPROTO_HOST, STREAM_EXEC, 0, TAIL_BYTES, 1, VMPROTO_PAYLOAD_MAX },
  [VMPROTO_STDIN] = { "STDIN", VMPROTO_HOST, STREAM_SOME, 0, TAIL_BYTES, 1, VMPROTO_DATA_MAX },
  [VMPROTO_CLOSE_STDIN] = { "CLOSE_STDIN", VMPROTO_HOST, STREAM_SOME, 0, TAIL_NONE, 0, 0 },
  [VMPROTO_RESIZE] = { "RESIZE", VMPROTO_HOST, STREAM_SOME, 4, TAIL_NONE, 0, 0 },
  [VMPROTO_SIGNAL] = { "SIGNAL", VMPROTO_HOST, STREAM_SOME, 4, TAIL_NONE, 0, 0 },
  [VMPROTO_PS] = { "PS", VMPROTO_HOST, STREAM_SOME, 0, TAIL_NONE, 0, 0 },
  [VMPROTO_SHUTDOWN] = { "SHUTDOWN", VMPROTO_HOST, STREAM_CONTROL, 0, TAIL_NONE, 0, 0 },
  [VMPROTO_STARTED] = { "STARTED", VMPROTO_GUEST, STREAM_SOME, 4, TAIL_NONE, 0, 0 },
  [VMPROTO_FAILED] = { "FAILED", VMPROTO_GUEST, STREAM_SOME, 8, TAIL_TEXT, 0, VMPROTO_TEXT_MAX },
  [VMPROTO_STDOUT] = { "STDOUT", VMPROTO_GUEST, STREAM_SOME, 0, TAIL_BYTES, 1, VMPROTO_DATA_MAX },
  [VMPROTO_STDERR] = { "STDERR", VMPROTO_GUEST, STREAM_SOME, 0, TAIL_BYTES, 1, VMPROTO_DATA_MAX },
  [VMPROTO_EXIT] = { "EXIT", VMPROTO_GUEST, STREAM_SOME, 8, TAIL_NONE, 0, 0 },
  [VMPROTO_PS_REPLY] = { "PS_REPLY", VMPROTO_GUEST, STREAM_SOME, 0, TAIL_BYTES, 1, VMPROTO_PAYLOAD_MAX },
  [VMPROTO_LOG] = { "LOG", VMPROTO_GUEST, STREAM_ANY, 0, TAIL_TEXT, 1, VMPROTO_TEXT_MAX },
  [VMPROTO_PAUSE] = { "PAUSE", VMPROTO_HOST, STREAM_SOME, 0, TAIL_NONE, 0, 0 },
  [VMPROTO_RESUME] = { "RESUME", VMPROTO_HOST, STREAM_SOME, 0, TAIL_NONE, 0, 0 },
  [VMPROTO_STDIN_ACK] = { "STDIN_ACK", VMPROTO_GUEST, STREAM_SOME, 4, TAIL_NONE, 0, 0 },
  [VMPROTO_RESOURCES] = { "RESOURCES", VMPROTO_HOST, STREAM_SOME, 0, TAIL_BYTES, 1, VMPROTO_PAYLOAD_MAX },
  [VMPROTO_RESOURCES_REPLY] = { "RESOURCES_REPLY", VMPROTO_GUEST, STREAM_SOME, 0, TAIL_BYTES, 1, VMPROTO_PAYLOAD_MAX },
  [VMPROTO_NETWORK] = { "NETWORK", VMPROTO_HOST, STREAM_SOME, 0, TAIL_BYTES, 1, VMPROTO_PAYLOAD_MAX },
  [VMPROTO_NETWORK_REPLY] = { "NETWORK_REPLY", VMPROTO_GUEST, STREAM_SOME, 0, TAIL_BYTES, 1, VMPROTO_PAYLOAD_MAX },
};

static uint16_t
get_u16 (const uint8_t *p)
{
  return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get_u32 (const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_u16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

static void
put_u32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

const char *
vmproto_type_name (uint16_t type)
{
  return type > 0 && type < VMPROTO_TYPE_MAX ? rules[type].name : NULL;
}

/* Type, stream and length against the table: all a header tells before its payload arrives. */
static bool
header_valid (uint16_t type, uint32_t stream, uint32_t len)
{
  if (type == 0 || type >= VMPROTO_TYPE_MAX)
    return false;
  const struct rule *r = &rules[type];
  bool stream_ok = false;
  switch (r->stream)
    {
    case STREAM_CONTROL:
      stream_ok = stream == VMPROTO_STREAM_CONTROL;
      break;
    case STREAM_MAIN:
      stream_ok = stream == VMPROTO_STREAM_MAIN;
      break;
    case STREAM_EXEC:
      stream_ok = stream >= VMPROTO_STREAM_EXEC_MIN;
      break;
    case STREAM_SOME:
      stream_ok = stream != VMPROTO_STREAM_CONTROL;
      break;
    default:
      stream_ok = true;
    }
  return stream_ok && len >= r->fixed && len - r->fixed >= r->tail_min && len - r->fixed <= r->tail_max;
}

/* A raw wait status of a process that ended: exited (code in bits 8-15) or killed by a signal (bits 0-6, core dump
   bit 7); never stopped or continued. */
static bool
wait_status_valid (uint32_t status)
{
  uint32_t sig = status & 0x7f;
  if (status > 0xffff)
    return false;
  if (sig == 0)
    return (status & 0x80) == 0;
  return sig <= VMPROTO_SIGNAL_MAX && (status >> 8) == 0;
}

/* The values in the fixed fields, and text without NUL.  The lengths are already checked. */
static bool
content_valid (uint16_t type, const uint8_t *fixed, const uint8_t *tail, size_t tail_len)
{
  switch (type)
    {
    case VMPROTO_HELLO:
      if (get_u32 (fixed) != VMPROTO_MAGIC)
        return false;
      break;
    case VMPROTO_SIGNAL:
      if (get_u32 (fixed) == 0 || get_u32 (fixed) > VMPROTO_SIGNAL_MAX)
        return false;
      break;
    case VMPROTO_STARTED:
      if (get_u32 (fixed) == 0 || get_u32 (fixed) > VMPROTO_PID_MAX)
        return false;
      break;
    case VMPROTO_STDIN_ACK:
      /* Never more than a window: the host sends no more than that unacknowledged. */
      if (get_u32 (fixed) == 0 || get_u32 (fixed) > VMPROTO_STDIN_WINDOW)
        return false;
      break;
    case VMPROTO_FAILED:
      if (get_u32 (fixed) == 0 || get_u32 (fixed) > 4095 || get_u32 (fixed + 4) < 125 || get_u32 (fixed + 4) > 127)
        return false;
      break;
    case VMPROTO_EXIT:
      if (!wait_status_valid (get_u32 (fixed)) || (get_u32 (fixed + 4) & ~VMPROTO_EXIT_OOM) != 0)
        return false;
      break;
    default:
      break;
    }
  return rules[type].tail != TAIL_TEXT || tail_len == 0 || memchr (tail, '\0', tail_len) == NULL;
}

int
vmproto_frame_check (const struct vmproto_frame *f)
{
  if (!header_valid (f->type, f->stream, f->len) || (f->len > 0 && f->payload == NULL))
    return -EPROTO;
  const struct rule *r = &rules[f->type];
  if (!content_valid (f->type, f->payload, f->payload + r->fixed, f->len - r->fixed))
    return -EPROTO;
  return 0;
}

/* Length of the character at s (n > 0 bytes available) when it is well-formed UTF-8 and printable, else 0. */
static size_t
printable_char (const uint8_t *s, size_t n)
{
  uint8_t c = s[0];
  size_t len;
  uint32_t cp, min;
  if (c < 0x80)
    return (c >= 0x20 && c != 0x7f) || c == '\t' ? 1 : 0;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, cp = c & 0x1f, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, cp = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i] & 0x3f);
    }
  /* Overlong forms, surrogates, beyond Unicode, and C1 controls (U+0080..U+009F, which terminals obey). */
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
    return 0;
  return len;
}

static void
text_copy (char *dst, size_t size, const uint8_t *src, size_t len)
{
  if (dst == NULL || size == 0)
    return;
  size_t o = 0;
  for (size_t i = 0; i < len;)
    {
      size_t n = printable_char (src + i, len - i);
      if (o + (n ? n : 1) >= size)
        break;
      if (n == 0)
        dst[o++] = '?', i++;
      else
        memcpy (dst + o, src + i, n), o += n, i += n;
    }
  dst[o] = '\0';
}

/* strlen bounded by max, cut back to a character boundary when the string is longer. */
static uint32_t
text_len (const char *s, size_t max)
{
  size_t n = s ? strnlen (s, max + 1) : 0;
  if (n > max)
    for (n = max; n > 0 && ((uint8_t)s[n] & 0xc0) == 0x80;)
      n--;
  return (uint32_t)n;
}

static uint32_t
clamp_len (size_t len)
{
  return len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
}

static struct vmproto_msg
msg_new (uint16_t type, uint32_t stream, const void *tail, uint32_t tail_len)
{
  struct vmproto_msg m = { .type = type, .stream = stream, .tail = tail, .tail_len = tail_len };
  return m;
}

static struct vmproto_msg
msg_fixed (uint16_t type, uint32_t stream, uint32_t a, uint32_t b, uint32_t fixed_len)
{
  struct vmproto_msg m = msg_new (type, stream, NULL, 0);
  m.fixed_len = fixed_len;
  put_u32 (m.fixed, a);
  put_u32 (m.fixed + 4, b);
  return m;
}

struct vmproto_msg
vmproto_msg_hello (const char *software)
{
  struct vmproto_msg m = msg_fixed (VMPROTO_HELLO, VMPROTO_STREAM_CONTROL, VMPROTO_MAGIC, VMPROTO_VERSION, 8);
  m.tail = software;
  m.tail_len = text_len (software, VMPROTO_SOFTWARE_MAX);
  return m;
}

struct vmproto_msg
vmproto_msg_start (const void *json, size_t len)
{
  return msg_new (VMPROTO_START, VMPROTO_STREAM_MAIN, json, clamp_len (len));
}

struct vmproto_msg
vmproto_msg_exec (uint32_t stream, const void *json, size_t len)
{
  return msg_new (VMPROTO_EXEC, stream, json, clamp_len (len));
}

struct vmproto_msg
vmproto_msg_data (uint16_t type, uint32_t stream, const void *data, size_t len)
{
  return msg_new (type, stream, data, clamp_len (len));
}

struct vmproto_msg
vmproto_msg_close_stdin (uint32_t stream)
{
  return msg_new (VMPROTO_CLOSE_STDIN, stream, NULL, 0);
}

struct vmproto_msg
vmproto_msg_pause (uint32_t stream)
{
  return msg_new (VMPROTO_PAUSE, stream, NULL, 0);
}

struct vmproto_msg
vmproto_msg_resume (uint32_t stream)
{
  return msg_new (VMPROTO_RESUME, stream, NULL, 0);
}

struct vmproto_msg
vmproto_msg_stdin_ack (uint32_t stream, uint32_t bytes)
{
  return msg_fixed (VMPROTO_STDIN_ACK, stream, bytes, 0, 4);
}

struct vmproto_msg
vmproto_msg_resize (uint32_t stream, uint16_t rows, uint16_t cols)
{
  struct vmproto_msg m = msg_new (VMPROTO_RESIZE, stream, NULL, 0);
  m.fixed_len = 4;
  put_u16 (m.fixed, rows);
  put_u16 (m.fixed + 2, cols);
  return m;
}

struct vmproto_msg
vmproto_msg_signal (uint32_t stream, uint32_t sig)
{
  return msg_fixed (VMPROTO_SIGNAL, stream, sig, 0, 4);
}

struct vmproto_msg
vmproto_msg_ps (uint32_t request)
{
  return msg_new (VMPROTO_PS, request, NULL, 0);
}

struct vmproto_msg
vmproto_msg_resources (uint32_t request, const void *json, size_t len)
{
  return msg_new (VMPROTO_RESOURCES, request, json, clamp_len (len));
}

struct vmproto_msg
vmproto_msg_resources_reply (uint32_t request, const void *json, size_t len)
{
  return msg_new (VMPROTO_RESOURCES_REPLY, request, json, clamp_len (len));
}

struct vmproto_msg
vmproto_msg_network (uint32_t request, const void *json, size_t len)
{
  return msg_new (VMPROTO_NETWORK, request, json, clamp_len (len));
}

struct vmproto_msg
vmproto_msg_network_reply (uint32_t request, const void *json, size_t len)
{
  return msg_new (VMPROTO_NETWORK_REPLY, request, json, clamp_len (len));
}

struct vmproto_msg
vmproto_msg_shutdown (void)
{
  return msg_new (VMPROTO_SHUTDOWN, VMPROTO_STREAM_CONTROL, NULL, 0);
}

struct vmproto_msg
vmproto_msg_started (uint32_t stream, uint32_t pid)
{
  return msg_fixed (VMPROTO_STARTED, stream, pid, 0, 4);
}

struct vmproto_msg
vmproto_msg_failed (uint32_t stream, int32_t errnum, uint32_t exit_code, const char *message)
{
  struct vmproto_msg m = msg_fixed (VMPROTO_FAILED, stream, (uint32_t)errnum, exit_code, 8);
  m.tail = message;
  m.tail_len = text_len (message, VMPROTO_TEXT_MAX);
  return m;
}

struct vmproto_msg
vmproto_msg_exit (uint32_t stream, uint32_t status, uint32_t flags)
{
  return msg_fixed (VMPROTO_EXIT, stream, status, flags, 8);
}

struct vmproto_msg
vmproto_msg_ps_reply (uint32_t request, const void *json, size_t len)
{
  return msg_new (VMPROTO_PS_REPLY, request, json, clamp_len (len));
}

struct vmproto_msg
vmproto_msg_log (uint32_t stream, const char *line)
{
  return msg_new (VMPROTO_LOG, stream, line, text_len (line, VMPROTO_TEXT_MAX));
}

/* The frame size of a message the peer will accept, or -EINVAL / -EMSGSIZE. */
static ssize_t
msg_size (const struct vmproto_msg *m)
{
  if (m->type == 0 || m->type >= VMPROTO_TYPE_MAX)
    return -EINVAL;
  const struct rule *r = &rules[m->type];
  if (m->fixed_len != r->fixed || (m->tail_len > 0 && m->tail == NULL))
    return -EINVAL;
  if (m->tail_len > r->tail_max)
    return -EMSGSIZE;
  if (!header_valid (m->type, m->stream, m->fixed_len + m->tail_len)
      || !content_valid (m->type, m->fixed, m->tail, m->tail_len))
    return -EINVAL;
  return (ssize_t)(VMPROTO_HEADER_SIZE + m->fixed_len + m->tail_len);
}

static void
put_header (uint8_t *out, const struct vmproto_msg *m)
{
  put_u16 (out, m->type);
  put_u16 (out + 2, 0);
  put_u32 (out + 4, m->stream);
  put_u32 (out + 8, m->fixed_len + m->tail_len);
  memcpy (out + VMPROTO_HEADER_SIZE, m->fixed, m->fixed_len);
}

ssize_t
vmproto_encode (const struct vmproto_msg *m, uint8_t *out, size_t size)
{
  ssize_t n = msg_size (m);
  if (n < 0 || out == NULL)
    return n;
  if (size < (size_t)n)
    return -ENOBUFS;
  put_header (out, m);
  if (m->tail_len > 0)
    memcpy (out + VMPROTO_HEADER_SIZE + m->fixed_len, m->tail, m->tail_len);
  return n;
}

int
vmproto_send (int fd, const struct vmproto_msg *m)
{
  ssize_t size = msg_size (m);
  if (size < 0)
    return (int)size;
  uint8_t head[VMPROTO_HEADER_SIZE + VMPROTO_FIXED_MAX];
  put_header (head, m);
  struct iovec iov[2] = {
    { .iov_base = head, .iov_len = VMPROTO_HEADER_SIZE + m->fixed_len },
    { .iov_base = (void *)m->tail, .iov_len = m->tail_len },
  };
  size_t left = (size_t)size;
  int i = 0;
  while (left > 0)
    {
      ssize_t n = writev (fd, iov + i, 2 - i);
      if (n < 0)
        {
          struct pollfd p = { .fd = fd, .events = POLLOUT };
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
          if (poll (&p, 1, -1) < 0 && errno != EINTR)
            return -errno;
          continue;
        }
      left -= (size_t)n;
      for (size_t done = (size_t)n; done > 0 && i < 2;)
        if (done >= iov[i].iov_len)
          done -= iov[i++].iov_len;
        else
          {
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + done;
            iov[i].iov_len -= done;
            done = 0;
          }
    }
  return 0;
}

void
vmproto_queue_init (struct vmproto_queue *q)
{
  memset (q, 0, sizeof (*q));
}

void
vmproto_queue_clear (struct vmproto_queue *q)
{
  free (q->buf);
  memset (q, 0, sizeof (*q));
}

size_t
vmproto_queue_pending (const struct vmproto_queue *q)
{
  return q->len - q->head;
}

/* Room for n more bytes at buf + len. */
static int
queue_reserve (struct vmproto_queue *q, size_t n)
{
  if (n > VMPROTO_QUEUE_MAX - vmproto_queue_pending (q))
    return -ENOBUFS;
  if (q->cap - q->len >= n)
    return 0;
  if (q->head > 0)
    {
      memmove (q->buf, q->buf + q->head, q->len - q->head);
      q->len -= q->head;
      q->head = 0;
      if (q->cap - q->len >= n)
        return 0;
    }
  size_t cap = q->cap ? q->cap : 4096;
  while (cap - q->len < n)
    cap *= 2;
  uint8_t *buf = realloc (q->buf, cap);
  if (buf == NULL)
    return -ENOMEM;
  q->buf = buf;
  q->cap = cap;
  return 0;
}

int
vmproto_queue_push (struct vmproto_queue *q, const struct vmproto_msg *m)
{
  ssize_t n = msg_size (m);
  if (n < 0)
    return (int)n;
  int ret = queue_reserve (q, (size_t)n);
  if (ret < 0)
    return ret;
  q->len += (size_t)vmproto_encode (m, q->buf + q->len, q->cap - q->len);
  return 0;
}

int
vmproto_queue_data (struct vmproto_queue *q, uint16_t type, uint32_t stream, const void *data, size_t len)
{
  if (type != VMPROTO_STDIN && type != VMPROTO_STDOUT && type != VMPROTO_STDERR)
    return -EINVAL;
  struct vmproto_msg probe = vmproto_msg_data (type, stream, "", 1);
  ssize_t valid = msg_size (&probe);
  if (valid < 0)
    return (int)valid;
  if (len == 0)
    return 0;
  if (len > VMPROTO_QUEUE_MAX)
    return -ENOBUFS;
  size_t frames = len / VMPROTO_DATA_MAX + (len % VMPROTO_DATA_MAX != 0);
  int ret = queue_reserve (q, len + frames * VMPROTO_HEADER_SIZE);
  if (ret < 0)
    return ret;
  const uint8_t *p = data;
  for (size_t off = 0; off < len; off += VMPROTO_DATA_MAX)
    {
      size_t n = len - off < VMPROTO_DATA_MAX ? len - off : VMPROTO_DATA_MAX;
      struct vmproto_msg m = vmproto_msg_data (type, stream, p + off, n);
      q->len += (size_t)vmproto_encode (&m, q->buf + q->len, q->cap - q->len);
    }
  return 0;
}

int
vmproto_queue_flush (struct vmproto_queue *q, int fd)
{
  while (q->head < q->len)
    {
      ssize_t n = write (fd, q->buf + q->head, q->len - q->head);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -errno;
        }
      q->head += (size_t)n;
    }
  q->head = q->len = 0;
  return 0;
}

void
vmproto_decoder_init (struct vmproto_decoder *d, enum vmproto_side from)
{
  memset (d, 0, sizeof (*d));
  d->from = from;
}

void
vmproto_decoder_resume (struct vmproto_decoder *d)
{
  d->hello_seen = true;
}

void
vmproto_decoder_clear (struct vmproto_decoder *d)
{
  free (d->buf);
  memset (d, 0, sizeof (*d));
}

size_t
vmproto_decoder_pending (const struct vmproto_decoder *d)
{
  return d->len - d->consumed;
}

/* Drops the frames already returned and makes room for n more bytes, within VMPROTO_DECODER_MAX. */
static int
decoder_reserve (struct vmproto_decoder *d, size_t n)
{
  if (d->error)
    return d->error;
  if (d->consumed > 0)
    {
      memmove (d->buf, d->buf + d->consumed, d->len - d->consumed);
      d->len -= d->consumed;
      d->consumed = 0;
    }
  if (n > VMPROTO_DECODER_MAX - d->len)
    return -ENOBUFS;
  if (d->cap - d->len >= n)
    return 0;
  size_t cap = d->cap ? d->cap : 4096;
  while (cap - d->len < n)
    cap *= 2;
  if (cap > VMPROTO_DECODER_MAX)
    cap = VMPROTO_DECODER_MAX;
  uint8_t *buf = realloc (d->buf, cap);
  if (buf == NULL)
    return -ENOMEM;
  d->buf = buf;
  d->cap = cap;
  return 0;
}

int
vmproto_decoder_feed (struct vmproto_decoder *d, const void *data, size_t len)
{
  if (len == 0)
    return d->error;
  int ret = decoder_reserve (d, len);
  if (ret < 0)
    return ret;
  memcpy (d->buf + d->len, data, len);
  d->len += len;
  return 0;
}

ssize_t
vmproto_decoder_read (struct vmproto_decoder *d, int fd)
{
  size_t room = VMPROTO_DECODER_MAX - vmproto_decoder_pending (d);
  size_t n = room < VMPROTO_READ_SIZE ? room : VMPROTO_READ_SIZE;
  int ret = decoder_reserve (d, n ? n : 1);
  if (ret < 0)
    return ret;
  ssize_t r;
  do
    r = read (fd, d->buf + d->len, n);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return -errno;
  d->len += (size_t)r;
  return r;
}

int
vmproto_decoder_next (struct vmproto_decoder *d, struct vmproto_frame *out)
{
  if (d->error)
    return d->error;
  size_t avail = d->len - d->consumed;
  if (avail < VMPROTO_HEADER_SIZE)
    return 0;
  const uint8_t *h = d->buf + d->consumed;
  struct vmproto_frame f
      = { .type = get_u16 (h), .stream = get_u32 (h + 4), .len = get_u32 (h + 8), .payload = h + VMPROTO_HEADER_SIZE };
  /* Everything the header tells is checked before waiting for a payload that may never come. */
  bool ok = get_u16 (h + 2) == 0 && header_valid (f.type, f.stream, f.len) && (rules[f.type].from & d->from);
  if (ok && d->hello_seen == (f.type == VMPROTO_HELLO))
    ok = false; /* HELLO comes first, and only once */
  if (!ok)
    return d->error = -EPROTO;
  if (avail - VMPROTO_HEADER_SIZE < f.len)
    return 0;
  if (vmproto_frame_check (&f) < 0)
    return d->error = -EPROTO;
  d->consumed += VMPROTO_HEADER_SIZE + f.len;
  d->hello_seen = true;
  *out = f;
  return 1;
}

static int
typed_check (const struct vmproto_frame *f, uint16_t type)
{
  return f->type != type ? -EINVAL : vmproto_frame_check (f);
}

int
vmproto_get_hello (const struct vmproto_frame *f, uint32_t *version, char *software, size_t size)
{
  int ret = typed_check (f, VMPROTO_HELLO);
  if (ret < 0)
    return ret;
  *version = get_u32 (f->payload + 4);
  text_copy (software, size, f->payload + 8, f->len - 8);
  return 0;
}

int
vmproto_get_started (const struct vmproto_frame *f, uint32_t *pid)
{
  int ret = typed_check (f, VMPROTO_STARTED);
  if (ret < 0)
    return ret;
  *pid = get_u32 (f->payload);
  return 0;
}

int
vmproto_get_failed (const struct vmproto_frame *f, int32_t *errnum, uint32_t *exit_code, char *message, size_t size)
{
  int ret = typed_check (f, VMPROTO_FAILED);
  if (ret < 0)
    return ret;
  *errnum = (int32_t)get_u32 (f->payload); /* checked: 1..4095 */
  *exit_code = get_u32 (f->payload + 4);
  text_copy (message, size, f->payload + 8, f->len - 8);
  return 0;
}

int
vmproto_get_resize (const struct vmproto_frame *f, uint16_t *rows, uint16_t *cols)
{
  int ret = typed_check (f, VMPROTO_RESIZE);
  if (ret < 0)
    return ret;
  *rows = get_u16 (f->payload);
  *cols = get_u16 (f->payload + 2);
  return 0;
}

int
vmproto_get_signal (const struct vmproto_frame *f, uint32_t *sig)
{
  int ret = typed_check (f, VMPROTO_SIGNAL);
  if (ret < 0)
    return ret;
  *sig = get_u32 (f->payload);
  return 0;
}

int
vmproto_get_exit (const struct vmproto_frame *f, uint32_t *status, uint32_t *flags)
{
  int ret = typed_check (f, VMPROTO_EXIT);
  if (ret < 0)
    return ret;
  *status = get_u32 (f->payload);
  *flags = get_u32 (f->payload + 4);
  return 0;
}

int
vmproto_get_stdin_ack (const struct vmproto_frame *f, uint32_t *bytes)
{
  int ret = typed_check (f, VMPROTO_STDIN_ACK);
  if (ret < 0)
    return ret;
  *bytes = get_u32 (f->payload);
  return 0;
}

int
vmproto_get_log (const struct vmproto_frame *f, char *line, size_t size)
{
  int ret = typed_check (f, VMPROTO_LOG);
  if (ret < 0)
    return ret;
  text_copy (line, size, f->payload, f->len);
  return 0;
}

int
vmproto_check_hello (const struct vmproto_frame *f, const char *peer, isola_error_t *err)
{
  uint32_t version = 0;
  char software[VMPROTO_SOFTWARE_MAX + 1];
  if (f->type != VMPROTO_HELLO)
    return isola_error_fail (err, EPROTO, "%s sent %s before HELLO", peer,
                             vmproto_type_name (f->type) ? vmproto_type_name (f->type) : "an unknown frame");
  if (vmproto_get_hello (f, &version, software, sizeof (software)) < 0)
    return isola_error_fail (err, EPROTO, "%s sent a malformed HELLO: not an isola VM agent", peer);
  if (version != VMPROTO_VERSION)
    return isola_error_fail (err, EPROTONOSUPPORT,
                             "%s (%s) speaks VM protocol version %u, this side speaks version %u: the VM image's "
                             "agent and isola must come from the same build",
                             peer, software[0] ? software : "unknown software", version, VMPROTO_VERSION);
  return 0;
}
