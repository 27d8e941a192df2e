/* libFuzzer target: ctr.log, read by `isola logs` (a file anyone with access to the container's directory, and a
   container's output, shape).  Three properties:
   - the hand-written decoder's fast path accepts only what jansson accepts, with the same values (the input is one
     line; jansson is the reference);
   - log_record_decode never crashes and never writes past its buffer;
   - output of any bytes (the input, cut into pieces for both streams) is written as records that the decoder reads
     back as those bytes, when they are valid UTF-8 (other bytes become U+FFFD, as with Docker). */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/util.h"
#include "container/logfile.h"

static bool
same_string (json_t *s, const char *p, size_t len)
{
  return json_is_string (s) && json_string_length (s) == len && memcmp (json_string_value (s), p, len) == 0;
}

static void
check_against_jansson (const uint8_t *data, size_t size)
{
  char *buf = malloc (size + 1);
  struct log_record r;
  if (log_record_decode_fast ((const char *)data, size, buf, &r) == 0)
    {
      json_t *o = json_loadb ((const char *)data, size, JSON_ALLOW_NUL, NULL);
      json_t *stream = json_object_get (o, "stream");
      if (o == NULL || !same_string (json_object_get (o, "log"), r.text, r.len)
          || !same_string (json_object_get (o, "time"), r.time, r.time_len) || !json_is_string (stream)
          || (r.stream == 2) != same_string (stream, "stderr", 6))
        abort ();
      json_decref (o);
    }
  (void)log_record_decode ((const char *)data, size, buf, &r);
  free (buf);
}

static bool
valid_utf8 (const uint8_t *data, size_t size)
{
  json_t *s = json_stringn ((const char *)data, size);
  json_decref (s);
  return s != NULL;
}

static void
check_round_trip (const uint8_t *data, size_t size)
{
  int fd = memfd_create ("log", 0);
  if (fd < 0)
    return;
  struct log_writer w;
  log_writer_init (&w, fd);
  char *want[2] = { malloc (size + 1), malloc (size + 1) };
  size_t want_len[2] = { 0, 0 };
  /* Pieces of uneven sizes, every third one stderr. */
  size_t off = 0, step = 1, piece = 0;
  while (off < size)
    {
      size_t n = size - off < step ? size - off : step;
      int s = piece++ % 3 == 2;
      log_writer_feed (&w, s + 1, (const char *)data + off, n);
      memcpy (want[s] + want_len[s], data + off, n);
      want_len[s] += n;
      off += n;
      step = step * 5 % 31 + 1;
    }
  log_writer_flush (&w);
  log_writer_clear (&w);
  char *log = NULL;
  size_t len = 0;
  lseek (fd, 0, SEEK_SET);
  if (read_fd_bounded (fd, (size_t)1 << 30, &log, &len, NULL) < 0)
    abort ();
  close (fd);
  char *scratch = malloc (len + 1), *got[2] = { malloc (len + 1), malloc (len + 1) };
  size_t got_len[2] = { 0, 0 };
  for (size_t start = 0; start < len;)
    {
      const char *nl = memchr (log + start, '\n', len - start);
      if (nl == NULL)
        abort (); /* every record ends with a newline */
      struct log_record r;
      if (log_record_decode_fast (log + start, (size_t)(nl - log) - start, scratch, &r) != 0)
        abort (); /* the writer's records are all for the fast path */
      memcpy (got[r.stream == 2] + got_len[r.stream == 2], r.text, r.len);
      got_len[r.stream == 2] += r.len;
      start = (size_t)(nl - log) + 1;
    }
  /* Lines longer than LOG_LINE_MAX are split where they are, maybe inside a character. */
  for (int s = 0; s < 2; s++)
    if (size < LOG_LINE_MAX && valid_utf8 ((const uint8_t *)want[s], want_len[s])
        && (got_len[s] != want_len[s] || memcmp (got[s], want[s], want_len[s]) != 0))
      abort ();
  for (int s = 0; s < 2; s++)
    free (want[s]), free (got[s]);
  free (scratch);
  free (log);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check_against_jansson (data, size);
  check_round_trip (data, size);
  return 0;
}
