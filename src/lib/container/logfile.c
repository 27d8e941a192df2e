#define _GNU_SOURCE
#include "container/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "base/json.h"
#include "base/util.h"

/* --- writing ----------------------------------------------------------------------------------------------------- */

/* {"log":"","stream":"stdout","time":""} and a newline around the escaped text and the time (< 40 bytes). */
#define RECORD_OVERHEAD 128

static const char HEX[] = "0123456789abcdef";

/* For each byte: 0 when it stands for itself in a JSON string being read. */
static const uint8_t string_plain_inverse[256] = {
  [0x00 ... 0x1f] = 1,
  ['"'] = 1,
  ['\\'] = 1,
  [0x80 ... 0xff] = 1,
};

/* For each byte: 0 when it goes into a JSON string as is, 1 when it is escaped, 2 when it starts (or is not part
   of) a UTF-8 sequence that must be checked. */
static const uint8_t byte_class[256] = {
  [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, ['<'] = 1, ['>'] = 1, ['&'] = 1, [0x80 ... 0xff] = 2,
};

/* How many bytes at s need no attention from the JSON encoder (escape = true) or decoder (escape = false): not a
   control character, quote, backslash or non-ASCII byte, nor (encoding) '<' '>' '&'.  Sixteen bytes at a time:
   output is mostly such bytes, and this is the inner loop of both directions (a line's '\n' is where the encoder
   stops too).  The last bytes are a last vector overlapping the one before. */
typedef signed char bytes16 __attribute__ ((vector_size (16)));

/* A bit for each of the 16 bytes at s that needs attention. */
static inline unsigned
stop_mask (const unsigned char *s, bool escape)
{
  bytes16 v;
  memcpy (&v, s, 16);
  /* Signed: bytes from 0x80 up are negative, below 0x20 too. */
  bytes16 stop = (v < 0x20) | (v == '"') | (v == '\\');
  if (escape)
    stop |= (v == '<') | (v == '>') | (v == '&');
#ifdef __SSE2__
  return (unsigned)_mm_movemask_epi8 ((__m128i)stop);
#else
  unsigned mask = 0;
  for (int k = 0; k < 16; k++)
    mask |= (unsigned)(stop[k] != 0) << k;
  return mask;
#endif
}

static size_t
plain_run (const unsigned char *s, size_t len, bool escape)
{
  size_t i = 0;
  for (; i + 16 <= len; i += 16)
    {
      unsigned mask = stop_mask (s + i, escape);
      if (mask)
        return i + (size_t)__builtin_ctz (mask);
    }
  if (i == len)
    return len;
  if (len >= 16)
    {
      /* The last 16 bytes, less those already seen. */
      size_t j = len - 16;
      unsigned mask = stop_mask (s + j, escape) & ~((1u << (i - j)) - 1);
      return mask ? j + (size_t)__builtin_ctz (mask) : len;
    }
  const uint8_t *table = escape ? byte_class : string_plain_inverse;
  while (i < len && table[s[i]] == 0)
    i++;
  return i;
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0 when there is none: what jansson and Go
   accept (no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t
utf8_sequence_length (const unsigned char *s, size_t n)
{
  unsigned char b = s[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
  if (b < 0x80)
    return 1;
  if (b >= 0xc2 && b <= 0xdf)
    len = 2;
  else if (b >= 0xe0 && b <= 0xef)
    {
      len = 3;
      if (b == 0xe0)
        lo = 0xa0;
      else if (b == 0xed)
        hi = 0x9f;
    }
  else if (b >= 0xf0 && b <= 0xf4)
    {
      len = 4;
      if (b == 0xf0)
        lo = 0x90;
      else if (b == 0xf4)
        hi = 0x8f;
    }
  else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return len;
}

static char *
put_u_escape (char *o, unsigned v)
{
  *o++ = '\\';
  *o++ = 'u';
  *o++ = HEX[(v >> 12) & 0xf];
  *o++ = HEX[(v >> 8) & 0xf];
  *o++ = HEX[(v >> 4) & 0xf];
  *o++ = HEX[v & 0xf];
  return o;
}

/* log_escape's loop; with stop_at_newline, it ends after the first '\n' (escaped), and *taken says how many bytes of
   src that was (all of them when there is none).  One pass finds the end of a line and escapes it: '\n' is one of
   the bytes the scan stops at anyway. */
static inline __attribute__ ((always_inline)) size_t
escape_until (char *dst, const char *src, size_t len, bool stop_at_newline, size_t *taken)
{
  const unsigned char *s = (const unsigned char *)src;
  char *o = dst;
  size_t i = 0, run = 0; /* s[run..i) goes out as is */
  while (i < len)
    {
      i += plain_run (s + i, len - i, true);
      if (i == len)
        break;
      unsigned char b = s[i];
      size_t seq = b < 0x80 ? 1 : utf8_sequence_length (s + i, len - i);
      /* Valid multi-byte UTF-8 stays as it is, except the two line separators JavaScript does not allow. */
      if (seq > 1 && !(seq == 3 && b == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)))
        {
          i += seq;
          continue;
        }
      memcpy (o, s + run, i - run);
      o += i - run;
      if (seq == 0)
        o = put_u_escape (o, 0xfffd);
      else if (seq == 3)
        o = put_u_escape (o, s[i + 2] == 0xa8 ? 0x2028 : 0x2029);
      else if (b == '"' || b == '\\')
        *o++ = '\\', *o++ = (char)b;
      else if (b == '\n')
        {
          *o++ = '\\', *o++ = 'n';
          if (stop_at_newline)
            {
              *taken = i + 1;
              return (size_t)(o - dst);
            }
        }
      else if (b == '\r')
        *o++ = '\\', *o++ = 'r';
      else
        o = put_u_escape (o, b);
      i += seq ? seq : 1;
      run = i;
    }
  memcpy (o, s + run, i - run);
  *taken = len;
  return (size_t)(o + (i - run) - dst);
}

size_t
log_escape (char *dst, const char *src, size_t len)
{
  size_t taken;
  return escape_until (dst, src, len, false, &taken);
}

static const char RECORD_HEAD[] = "{\"log\":\"";

static size_t
encode_record (char *dst, const struct log_writer *w, int stream, const char *text, size_t len)
{
  char *o = dst;
  memcpy (o, RECORD_HEAD, sizeof RECORD_HEAD - 1);
  o += sizeof RECORD_HEAD - 1;
  o += log_escape (o, text, len);
  memcpy (o, w->tail[stream == 2], w->tail_len);
  return (size_t)(o + w->tail_len - dst);
}

/* Whole records in one write(2) to a file opened with O_APPEND: a concurrent reader sees complete records (and
   at worst, after a kill -9 in the middle of a write, a torn last line, which it skips). */
static int write_records (struct log_writer *w, const char *data, size_t n);

static int
write_batch (struct log_writer *w)
{
  size_t n = w->batch_len;
  w->batch_len = 0;
  return n ? write_records (w, w->batch, n) : 0;
}

/* json-file's rotation, as Docker's: PATH.(max_file-2) → PATH.(max_file-1) (replacing the oldest) … PATH → PATH.1,
   then a new PATH, which keeps the writer's descriptor number; with max_file 1 the file is emptied instead.  Each
   step is a rename, so every record is in exactly one file at any time (a kill -9 in the middle leaves a gap in
   the numbers at worst, which readers skip). */
static int
rotate (struct log_writer *w)
{
  if (w->max_file < 2)
    {
      if (ftruncate (w->fd, 0) < 0)
        return -errno;
      w->size = 0;
      return 0;
    }
  for (int i = w->max_file - 1; i >= 1; i--)
    {
      cleanup_free char *from = i == 1 ? xstrdup (w->path) : xasprintf ("%s.%d", w->path, i - 1);
      cleanup_free char *to = xasprintf ("%s.%d", w->path, i);
      if (rename (from, to) < 0 && errno != ENOENT)
        return -errno;
    }
  int fd = open (w->path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  int ret = dup3 (fd, w->fd, O_CLOEXEC) < 0 ? -errno : 0;
  close (fd);
  w->size = 0;
  return ret;
}

/* Whole records to the file; with a maximum size, the file is rotated once it has reached it, so that it ends
   with the record that took it past the maximum (as Docker's json-file does). */
static int
write_records (struct log_writer *w, const char *data, size_t n)
{
  if (w->fd < 0)
    return 0; /* the none driver */
  if (w->max_size <= 0)
    return write_all (w->fd, data, n);
  while (n > 0)
    {
      int ret = w->size >= w->max_size ? rotate (w) : 0;
      if (ret < 0)
        return ret;
      size_t take = 0;
      while (take < n && w->size + (int64_t)take < w->max_size)
        {
          const char *nl = memchr (data + take, '\n', n - take);
          take = nl ? (size_t)(nl - data) + 1 : n;
        }
      if ((ret = write_all (w->fd, data, take)) < 0)
        return ret;
      w->size += (int64_t)take;
      data += take;
      n -= take;
    }
  return 0;
}

void
log_writer_set_rotation (struct log_writer *w, const char *path, int64_t max_size, int max_file)
{
  struct stat st;
  free (w->path);
  w->path = xstrdup (path);
  w->max_size = max_size;
  w->max_file = max_file;
  w->size = w->fd >= 0 && fstat (w->fd, &st) == 0 ? st.st_size : 0;
}

_Static_assert(LOG_ESCAPED_MAX (LOG_LINE_MAX) + RECORD_OVERHEAD <= LOG_BATCH_MAX, "a batch holds any record");

/* Makes room in the batch for a record of len bytes of text. */
static int
batch_room (struct log_writer *w, size_t len)
{
  return LOG_BATCH_MAX - w->batch_len < LOG_ESCAPED_MAX (len) + RECORD_OVERHEAD ? write_batch (w) : 0;
}

static int
emit (struct log_writer *w, int stream, const char *text, size_t len)
{
  int ret = batch_room (w, len);
  if (ret == 0)
    w->batch_len += encode_record (w->batch + w->batch_len, w, stream, text, len);
  return ret;
}

static void
read_clock (struct log_writer *w)
{
  static const char mid[2][29] = { "\",\"stream\":\"stdout\",\"time\":\"", "\",\"stream\":\"stderr\",\"time\":\"" };
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  char *t = w->tail[0] + sizeof mid[0] - 1; /* the time: 2024-01-02T03:04:05.123456789Z */
  if (w->tail_len == 0 || ts.tv_sec != w->tail_sec)
    {
      memcpy (w->tail[0], mid[0], sizeof mid[0] - 1);
      memcpy (w->tail[1], mid[1], sizeof mid[1] - 1);
      struct tm tm;
      gmtime_r (&ts.tv_sec, &tm);
      size_t n = strftime (t, 24, "%Y-%m-%dT%H:%M:%S.", &tm);
      w->tail_len = sizeof mid[0] - 1 + n + 9 + 4;
      w->tail_sec = ts.tv_sec;
    }
  /* The nanoseconds, and the end of the record. */
  char *ns = w->tail[0] + w->tail_len - 13;
  long v = ts.tv_nsec;
  for (int i = 8; i >= 0; i--, v /= 10)
    ns[i] = (char)('0' + v % 10);
  memcpy (ns + 9, "Z\"}\n", 4);
  memcpy (w->tail[1] + sizeof mid[0] - 1, t, w->tail_len - (sizeof mid[0] - 1));
}

void
log_writer_init (struct log_writer *w, int fd)
{
  memset (w, 0, sizeof (*w));
  w->fd = fd;
  struct stat st;
  char last;
  if (fd >= 0 && fstat (fd, &st) == 0 && st.st_size > 0 && pread (fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
    (void)write_all (fd, "\n", 1);
}

void
log_writer_clear (struct log_writer *w)
{
  free (w->partial[0]);
  free (w->partial[1]);
  free (w->batch);
  free (w->path);
  memset (w, 0, sizeof (*w));
}

/* Output of a stream with nothing pending: its complete lines (and LOG_LINE_MAX pieces of longer ones) are encoded
   straight from buf into the batch, each in one pass; an unterminated last line is kept for later.  Returns how much
   of buf was used. */
static size_t
feed_lines (struct log_writer *w, int stream, const char *buf, size_t len, int *ret)
{
  const char *tail = w->tail[stream == 2];
  size_t used = 0;
  while (used < len)
    {
      size_t max = len - used < LOG_LINE_MAX ? len - used : LOG_LINE_MAX;
      if ((*ret = batch_room (w, max)) < 0)
        return used;
      char *o = w->batch + w->batch_len;
      memcpy (o, RECORD_HEAD, sizeof RECORD_HEAD - 1);
      size_t taken, n = sizeof RECORD_HEAD - 1;
      n += escape_until (o + n, buf + used, max, true, &taken);
      if (buf[used + taken - 1] != '\n' && taken < LOG_LINE_MAX)
        {
          /* The rest of buf, without a newline: encoded again once the line is complete. */
          int s = stream == 2;
          if (w->partial[s] == NULL)
            w->partial[s] = xmalloc (LOG_LINE_MAX);
          memcpy (w->partial[s], buf + used, taken);
          w->partial_len[s] = taken;
          return len;
        }
      memcpy (o + n, tail, w->tail_len);
      w->batch_len += n + w->tail_len;
      used += taken;
    }
  return used;
}

/* Output that continues an unterminated line of its stream.  Returns how much of buf was used. */
static size_t
feed_partial (struct log_writer *w, int stream, const char *buf, size_t len, int *ret)
{
  int s = stream == 2 ? 1 : 0;
  const char *nl = memchr (buf, '\n', len);
  size_t take = nl ? (size_t)(nl - buf) + 1 : len;
  if (w->partial_len[s] + take > LOG_LINE_MAX)
    take = LOG_LINE_MAX - w->partial_len[s];
  memcpy (w->partial[s] + w->partial_len[s], buf, take);
  w->partial_len[s] += take;
  if (w->partial[s][w->partial_len[s] - 1] == '\n' || w->partial_len[s] == LOG_LINE_MAX)
    {
      *ret = emit (w, stream, w->partial[s], w->partial_len[s]);
      w->partial_len[s] = 0;
    }
  return take;
}

int
log_writer_feed (struct log_writer *w, int stream, const char *buf, size_t len)
{
  if (len == 0 || w->fd < 0)
    return 0;
  if (w->batch == NULL)
    w->batch = xmalloc (LOG_BATCH_MAX);
  read_clock (w);
  int ret = 0;
  while (len > 0 && ret == 0)
    {
      size_t used = w->partial_len[stream == 2 ? 1 : 0] ? feed_partial (w, stream, buf, len, &ret)
                                                        : feed_lines (w, stream, buf, len, &ret);
      buf += used;
      len -= used;
    }
  int wret = write_batch (w);
  return ret < 0 ? ret : wret;
}

int
log_writer_flush (struct log_writer *w)
{
  int ret = 0;
  if (w->batch == NULL && (w->partial_len[0] || w->partial_len[1]))
    w->batch = xmalloc (LOG_BATCH_MAX);
  read_clock (w);
  for (int s = 0; s < 2 && ret == 0; s++)
    if (w->partial_len[s] > 0)
      {
        ret = emit (w, s + 1, w->partial[s], w->partial_len[s]);
        w->partial_len[s] = 0;
      }
  int wret = write_batch (w);
  return ret < 0 ? ret : wret;
}

/* --- reading ----------------------------------------------------------------------------------------------------- */

static const char *
skip_space (const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* The 4 hex digits of a \u escape at p (after the "\u"), or -1. */
static long
hex4 (const char *p, const char *end)
{
  if (end - p < 4)
    return -1;
  long v = 0;
  for (int i = 0; i < 4; i++)
    {
      int d = hex_digit_value (p[i]);
      if (d < 0)
        return -1;
      v = v << 4 | d;
    }
  return v;
}

static char *
put_utf8 (char *o, unsigned long c)
{
  if (c < 0x80)
    *o++ = (char)c;
  else if (c < 0x800)
    *o++ = (char)(0xc0 | c >> 6), *o++ = (char)(0x80 | (c & 0x3f));
  else if (c < 0x10000)
    *o++ = (char)(0xe0 | c >> 12), *o++ = (char)(0x80 | (c >> 6 & 0x3f)), *o++ = (char)(0x80 | (c & 0x3f));
  else
    *o++ = (char)(0xf0 | c >> 18), *o++ = (char)(0x80 | (c >> 12 & 0x3f)), *o++ = (char)(0x80 | (c >> 6 & 0x3f)),
    *o++ = (char)(0x80 | (c & 0x3f));
  return o;
}

/* The code point of the \u escape at p (at its backslash), a surrogate pair taking two; -1 for what jansson refuses
   (bad digits, lone or mismatched surrogates).  *next is set after the escape. */
static long
unicode_escape (const char *p, const char *end, const char **next)
{
  long c = hex4 (p + 2, end);
  *next = p + 6;
  if (c < 0 || (c >= 0xdc00 && c <= 0xdfff))
    return -1;
  if (c < 0xd800 || c > 0xdbff)
    return c;
  if (end - *next < 2 || (*next)[0] != '\\' || (*next)[1] != 'u')
    return -1;
  long lo = hex4 (*next + 2, end);
  if (lo < 0xdc00 || lo > 0xdfff)
    return -1;
  *next += 6;
  return 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
}

/* The byte a one-character escape (\n, \" ...) stands for, or 0 for one that JSON does not have. */
static char
simple_escape (char e)
{
  switch (e)
    {
    case '"':
    case '\\':
    case '/':
      return e;
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
    }
}

static void
put (char **o, size_t *n, const void *bytes, size_t len)
{
  if (*o)
    {
      memcpy (*o, bytes, len);
      *o += len;
    }
  *n += len;
}

/* Decodes the JSON string whose opening quote is at p into dst (NULL: only checks it), as jansson does with
   JSON_ALLOW_NUL.  Returns the position after the closing quote, or NULL for what jansson refuses. */
static const char *
decode_string (const char *p, const char *end, char *dst, size_t *dst_len)
{
  char *o = dst;
  size_t n = 0;
  p++;
  for (;;)
    {
      const char *run = p;
      p += plain_run ((const unsigned char *)p, (size_t)(end - p), false);
      put (&o, &n, run, (size_t)(p - run));
      if (p == end)
        return NULL;
      unsigned char b = (unsigned char)*p;
      if (b == '"')
        break;
      if (b < 0x20)
        return NULL;
      if (b >= 0x80)
        {
          size_t seq = utf8_sequence_length ((const unsigned char *)p, (size_t)(end - p));
          if (seq == 0)
            return NULL;
          put (&o, &n, p, seq);
          p += seq;
          continue;
        }
      /* A backslash. */
      if (end - p < 2)
        return NULL;
      if (p[1] == 'u')
        {
          const char *next;
          long cp = unicode_escape (p, end, &next);
          if (cp < 0)
            return NULL;
          char u[4];
          put (&o, &n, u, (size_t)(put_utf8 (u, (unsigned long)cp) - u));
          p = next;
          continue;
        }
      char c = simple_escape (p[1]);
      if (c == 0)
        return NULL;
      put (&o, &n, &c, 1);
      p += 2;
    }
  *dst_len = n;
  return p + 1;
}

enum record_key
{
  KEY_OTHER,
  KEY_LOG,
  KEY_STREAM,
  KEY_TIME,
};

/* Which of the record's keys the string at p is; NULL for a key jansson refuses (it refuses NUL in keys). */
static const char *
decode_key (const char *p, const char *end, enum record_key *key)
{
  size_t len;
  const char *next = decode_string (p, end, NULL, &len);
  if (next == NULL)
    return NULL;
  char k[8];
  *key = KEY_OTHER;
  if (len <= sizeof k)
    {
      (void)decode_string (p, end, k, &len);
      if (memchr (k, '\0', len))
        return NULL;
      *key = len == 3 && memcmp (k, "log", 3) == 0      ? KEY_LOG
             : len == 6 && memcmp (k, "stream", 6) == 0 ? KEY_STREAM
             : len == 4 && memcmp (k, "time", 4) == 0   ? KEY_TIME
                                                        : KEY_OTHER;
    }
  else if (memchr (p, '\\', (size_t)(next - p)))
    {
      /* A long key with escapes may hide a NUL: rare, let the general parser judge. */
      return NULL;
    }
  return next;
}

/* The writer's own shape, {"log":"…","stream":"stdout","time":"…"} with nothing else: the prefix, the two strings
   and the fixed middle compared as bytes, no keys decoded.  0 and the record, or 1 for any other line. */
static int
decode_own_record (const char *line, size_t len, char *buf, struct log_record *out)
{
  static const char head[] = "{\"log\":\"", mid[] = ",\"stream\":\"std", mid2[] = "\",\"time\":";
  const char *end = line + len, *p = line;
  if (len < sizeof head - 1 || memcmp (p, head, sizeof head - 1) != 0)
    return 1;
  size_t n;
  if ((p = decode_string (p + sizeof head - 2, end, buf, &n)) == NULL)
    return 1;
  out->text = buf, out->len = n;
  if ((size_t)(end - p) < sizeof mid - 1 + 3 + sizeof mid2 - 1 || memcmp (p, mid, sizeof mid - 1) != 0)
    return 1;
  p += sizeof mid - 1;
  if (memcmp (p, "out", 3) == 0)
    out->stream = 1;
  else if (memcmp (p, "err", 3) == 0)
    out->stream = 2;
  else
    return 1;
  p += 3;
  if (memcmp (p, mid2, sizeof mid2 - 1) != 0)
    return 1;
  p += sizeof mid2 - 1;
  if (p == end || *p != '"' || (p = decode_string (p, end, buf + n, &out->time_len)) == NULL)
    return 1;
  out->time = buf + n;
  return p + 1 == end && *p == '}' ? 0 : 1;
}

int
log_record_decode_fast (const char *line, size_t len, char *buf, struct log_record *out)
{
  if (decode_own_record (line, len, buf, out) == 0)
    return 0;
  const char *end = line + len, *p = skip_space (line, end);
  const char *stream = NULL;
  size_t stream_len = 0, used = 0;
  bool have_log = false, have_time = false;
  if (p == end || *p != '{')
    return 1;
  p = skip_space (p + 1, end);
  for (;;)
    {
      enum record_key key;
      if (p == end || *p != '"' || (p = decode_key (p, end, &key)) == NULL)
        return 1;
      p = skip_space (p, end);
      if (p == end || *p != ':')
        return 1;
      p = skip_space (p + 1, end);
      if (p == end || *p != '"')
        return 1;
      /* A repeated key: the last one counts, as in jansson. */
      size_t n;
      p = decode_string (p, end, key == KEY_OTHER ? NULL : buf + used, &n);
      if (p == NULL)
        return 1;
      if (key == KEY_LOG)
        out->text = buf + used, out->len = n, have_log = true;
      else if (key == KEY_STREAM)
        stream = buf + used, stream_len = n;
      else if (key == KEY_TIME)
        out->time = buf + used, out->time_len = n, have_time = true;
      if (key != KEY_OTHER)
        used += n;
      p = skip_space (p, end);
      if (p < end && *p == ',')
        {
          p = skip_space (p + 1, end);
          continue;
        }
      if (p < end && *p == '}')
        break;
      return 1;
    }
  if (skip_space (p + 1, end) != end || !have_log || !have_time || stream == NULL)
    return 1;
  out->stream = stream_len == 6 && memcmp (stream, "stderr", 6) == 0 ? 2 : 1;
  return 0;
}

/* Anything else that is valid JSON: jansson.  Slow, but only for lines the fast path has not seen before. */
static int
decode_general (const char *line, size_t len, char *buf, struct log_record *out)
{
  cleanup_json json_t *o = json_loadb (line, len, JSON_ALLOW_NUL, NULL);
  json_t *log = json_object_get (o, "log"), *stream = json_object_get (o, "stream"),
         *time = json_object_get (o, "time");
  if (!json_is_string (log) || !json_is_string (stream) || !json_is_string (time))
    return -EINVAL;
  out->len = json_string_length (log);
  out->time_len = json_string_length (time);
  memcpy (buf, json_string_value (log), out->len);
  memcpy (buf + out->len, json_string_value (time), out->time_len);
  out->text = buf;
  out->time = buf + out->len;
  out->stream = json_string_length (stream) == 6 && memcmp (json_string_value (stream), "stderr", 6) == 0 ? 2 : 1;
  return 0;
}

int
log_record_decode (const char *line, size_t len, char *buf, struct log_record *out)
{
  int r = log_record_decode_fast (line, len, buf, out);
  return r == 0 ? 0 : decode_general (line, len, buf, out);
}

/* Where the last n lines of the file start: after the (n+1)-th newline from its end.  What follows the last
   newline is not a line (yet).  *lines: how many lines start from there (fewer than n when the file has fewer). */
off_t
log_tail_offset (int fd, long n, long *lines)
{
  struct stat st;
  *lines = 0;
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
          {
            *lines = n;
            return pos + (off_t)i + 1;
          }
    }
  *lines = seen;
  return 0;
}
