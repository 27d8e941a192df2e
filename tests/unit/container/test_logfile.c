#define _GNU_SOURCE
/* ctr.log: the writer's records (Docker's json-file format, batching, splitting, torn records) and the reader's
   decoding, fast path and fallback. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/util.h"
#include "container/logfile.h"
#include "tap.h"

/* The whole of a memfd. */
static char *
contents (int fd, size_t *len)
{
  char *buf = NULL;
  lseek (fd, 0, SEEK_SET);
  if (read_fd_bounded (fd, (size_t)1 << 30, &buf, len, NULL) < 0)
    return NULL;
  return buf;
}

/* Decodes every line of buf; concatenates the text of each stream into out[0] (stdout) and out[1] (stderr).
   Returns the number of records, or -1 if a line is not one. */
static long
replay (const char *buf, size_t len, char *out[2], size_t out_len[2])
{
  long n = 0;
  char *scratch = xmalloc (len + 1);
  out[0] = xmalloc (len + 1), out[1] = xmalloc (len + 1);
  out_len[0] = out_len[1] = 0;
  for (size_t start = 0; start < len;)
    {
      const char *nl = memchr (buf + start, '\n', len - start);
      size_t end = nl ? (size_t)(nl - buf) : len;
      struct log_record r;
      if (log_record_decode (buf + start, end - start, scratch, &r) < 0)
        {
          n = -1;
          break;
        }
      int s = r.stream == 2;
      memcpy (out[s] + out_len[s], r.text, r.len);
      out_len[s] += r.len;
      n++;
      start = end + 1;
    }
  free (scratch);
  return n;
}

static void
test_records (void)
{
  int fd = memfd_create ("log", 0);
  struct log_writer w;
  log_writer_init (&w, fd);
  log_writer_feed (&w, 1, "hello\nwor", 9);
  log_writer_feed (&w, 2, "oops\n", 5);
  log_writer_feed (&w, 1, "ld\n", 3);
  log_writer_feed (&w, 1, "tail", 4);
  log_writer_flush (&w);
  log_writer_clear (&w);
  size_t len;
  cleanup_free char *buf = contents (fd, &len);
  close (fd);
  const char *want[][2] = { { "hello\n", "1" }, { "oops\n", "2" }, { "world\n", "1" }, { "tail", "1" } };
  char *save = NULL, scratch[256];
  size_t i = 0;
  for (char *line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save), i++)
    {
      struct log_record r;
      int ret = log_record_decode_fast (line, strlen (line), scratch, &r);
      CHECK (ret == 0 && i < 4 && r.len == strlen (want[i][0]) && memcmp (r.text, want[i][0], r.len) == 0
                 && r.stream == atoi (want[i][1]) && r.time_len == 30 && r.time[29] == 'Z',
             "record %zu: stream and text kept, lines reassembled, read by the fast path", i);
    }
  CHECK (i == 4, "four records written");
  struct log_record r;
  CHECK (log_record_decode ("{\"log\":1}", 9, scratch, &r) == -EINVAL, "a record without a string log refused");
}

static char *
escaped (const char *s, size_t len)
{
  char *out = xmalloc (LOG_ESCAPED_MAX (len) + 1);
  out[log_escape (out, s, len)] = '\0';
  return out;
}

static void
test_escape (void)
{
  /* What Docker's json-file writes (jsonlog.ffjsonWriteJSONBytesAsString). */
  static const struct
  {
    const char *in, *out;
  } cases[] = {
    { "plain text 0123456789 abcdefghijklmnopqrstuvwxyz\n", "plain text 0123456789 abcdefghijklmnopqrstuvwxyz\\n" },
    { "a \"quote\" and a \\ backslash", "a \\\"quote\\\" and a \\\\ backslash" },
    { "\r\t\x01\x1f\x7f", "\\r\\u0009\\u0001\\u001f\x7f" },
    { "<a href=x&y>", "\\u003ca href=x\\u0026y\\u003e" },
    { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
    { "line\xe2\x80\xa8para\xe2\x80\xa9", "line\\u2028para\\u2029" },
    { "bad \xff \xc3 \xe2\x82 \xc0\xaf \xed\xa0\x80 end",
      "bad \\ufffd \\ufffd \\ufffd\\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd end" },
    { "sixteen bytes ok|and then a \" after them", "sixteen bytes ok|and then a \\\" after them" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *got = escaped (cases[i].in, strlen (cases[i].in));
      CHECK_STR (got, cases[i].out, "escape case %zu as Docker: %s", i, got);
    }
  char nul[3] = { 'a', '\0', 'b' };
  cleanup_free char *got = escaped (nul, 3);
  CHECK_STR (got, "a\\u0000b", "a NUL byte is \\u0000");
}

static void
test_decode (void)
{
  char buf[512];
  struct log_record r;
  const char *line = "  { \"time\" : \"T\", \"extra\":\"x\", \"stream\":\"stderr\",\"log\":\"a\\u00e9\\ud83d\\ude00"
                     "\\u0000\\/\\b\\f\\t\\\"\" }  ";
  CHECK (log_record_decode_fast (line, strlen (line), buf, &r) == 0 && r.stream == 2 && r.len == 13
             && memcmp (r.text, "a\xc3\xa9\xf0\x9f\x98\x80\0/\b", 10) == 0 && r.time_len == 1 && r.time[0] == 'T',
         "fast path: keys in any order, spaces, other keys, every escape, surrogate pairs, NUL");
  line = "{\"log\":\"first\",\"stream\":\"stdout\",\"time\":\"T\",\"log\":\"second\"}";
  CHECK (log_record_decode_fast (line, strlen (line), buf, &r) == 0 && r.len == 6 && memcmp (r.text, "second", 6) == 0,
         "a repeated key: the last one counts, as in jansson");
  line = "{\"log\":\"x\\n\",\"stream\":\"stdout\",\"attrs\":{\"tag\":\"t\"},\"time\":\"T\"}";
  CHECK (log_record_decode_fast (line, strlen (line), buf, &r) == 1, "a non-string member: not for the fast path");
  CHECK (log_record_decode (line, strlen (line), buf, &r) == 0 && r.len == 2 && r.stream == 1,
         "... which the general parser reads (Docker's attrs)");
  const char *bad[] = {
    "{\"log\":\"torn reco",
    "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"T\"",
    "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"T\"} trailing",
    "{\"log\":\"\\ud800\",\"stream\":\"stdout\",\"time\":\"T\"}",
    "{\"log\":\"\\udc00\",\"stream\":\"stdout\",\"time\":\"T\"}",
    "{\"log\":\"\\x\",\"stream\":\"stdout\",\"time\":\"T\"}",
    "{\"log\":\"a\tb\",\"stream\":\"stdout\",\"time\":\"T\"}",
    "{\"log\":\"\xff\",\"stream\":\"stdout\",\"time\":\"T\"}",
    "{\"log\":\"x\",\"stream\":\"stdout\"}",
    "",
  };
  for (size_t i = 0; i < ARRAY_SIZE (bad); i++)
    CHECK (log_record_decode (bad[i], strlen (bad[i]), buf, &r) == -EINVAL, "not a record: '%s'", bad[i]);
}

/* Many records: more than a batch, lines of every length up to past LOG_LINE_MAX, both streams, fed in pieces of
   every size.  Read back, each stream is what was written. */
static void
test_round_trip (void)
{
  size_t total = 3 * 1024 * 1024;
  char *data = xmalloc (total);
  unsigned seed = 1;
  for (size_t i = 0; i < total;)
    {
      seed = seed * 1103515245 + 12345;
      size_t line = (seed >> 8) % 200 == 0 ? LOG_LINE_MAX + (seed >> 4) % 5000 : (seed >> 8) % 120;
      for (size_t k = 0; k < line && i < total; k++)
        {
          data[i] = (char)(' ' + (i * 7 + k) % 95);
          i++;
        }
      if (i < total)
        data[i++] = '\n';
    }
  int fd = memfd_create ("log", 0);
  struct log_writer w;
  log_writer_init (&w, fd);
  /* Every third piece goes to stderr. */
  size_t off = 0, step = 1, piece = 0;
  while (off < total)
    {
      size_t n = total - off < step ? total - off : step;
      log_writer_feed (&w, piece++ % 3 == 2 ? 2 : 1, data + off, n);
      off += n;
      step = step * 7 % 70001 + 1;
    }
  log_writer_flush (&w);
  log_writer_clear (&w);
  size_t len;
  cleanup_free char *buf = contents (fd, &len);
  close (fd);
  /* What each stream should hold. */
  char *want[2] = { xmalloc (total), xmalloc (total) };
  size_t want_len[2] = { 0, 0 };
  off = 0, step = 1, piece = 0;
  while (off < total)
    {
      size_t n = total - off < step ? total - off : step;
      int s = piece++ % 3 == 2 ? 1 : 0;
      memcpy (want[s] + want_len[s], data + off, n);
      want_len[s] += n;
      off += n;
      step = step * 7 % 70001 + 1;
    }
  char *got[2];
  size_t got_len[2];
  long records = replay (buf, len, got, got_len);
  CHECK (records > 1000, "%ld records read back", records);
  for (int s = 0; s < 2; s++)
    CHECK (got_len[s] == want_len[s] && memcmp (got[s], want[s], want_len[s]) == 0,
           "stream %d: %zu bytes read back as written (%zu)", s + 1, got_len[s], want_len[s]);
  for (int s = 0; s < 2; s++)
    free (got[s]), free (want[s]);
  free (data);
}

/* A line of control characters: \u0001 each, its record is the longest there is (six bytes a byte) and is written
   whole. */
static void
test_big_record (void)
{
  int fd = memfd_create ("log", 0);
  struct log_writer w;
  log_writer_init (&w, fd);
  char *line = xmalloc (LOG_LINE_MAX);
  memset (line, '\x01', LOG_LINE_MAX - 1);
  line[LOG_LINE_MAX - 1] = '\n';
  log_writer_feed (&w, 1, "before\n", 7);
  log_writer_feed (&w, 1, line, LOG_LINE_MAX);
  log_writer_feed (&w, 1, "after\n", 6);
  log_writer_clear (&w);
  size_t len;
  cleanup_free char *buf = contents (fd, &len);
  close (fd);
  char *got[2];
  size_t got_len[2];
  long records = replay (buf, len, got, got_len);
  CHECK (records == 3 && len > 6 * (LOG_LINE_MAX - 1) && got_len[0] == LOG_LINE_MAX + 13
             && memcmp (got[0] + 7, line, LOG_LINE_MAX) == 0 && memcmp (got[0] + 7 + LOG_LINE_MAX, "after\n", 6) == 0,
         "a record of %zu bytes of escapes is written whole and in order", len);
  free (got[0]), free (got[1]);
  free (line);
}

/* The writer encodes lines straight from what it is fed, in one pass that also finds their ends: each record must
   be what log_escape makes of its line, however the output is cut into pieces, whatever the bytes (control
   characters, quotes, U+2028, invalid UTF-8 and sequences cut by a piece or by the LOG_LINE_MAX split), with Docker's
   splitting: a record per line, a line longer than LOG_LINE_MAX in pieces of LOG_LINE_MAX bytes, an unterminated
   last line as a record of its own at the end. */
static void
test_records_are_escaped_lines (void)
{
  static const char *alphabet[] = { "a",
                                    "b",
                                    "\n",
                                    "\"",
                                    "\\",
                                    "\x01",
                                    "\x1f",
                                    "\x7f",
                                    "<",
                                    "&",
                                    "\xc3\xa9",
                                    "\xe2\x80\xa8",
                                    "\xf0\x9f\x98\x80",
                                    "\xc3",
                                    "\xff",
                                    "\xed\xa0\x80",
                                    "\t",
                                    "\r" };
  size_t total = 600 * 1024;
  char *data = xmalloc (total + 8);
  size_t len = 0;
  unsigned seed = 7;
  while (len < total)
    {
      seed = seed * 1103515245 + 12345;
      unsigned r = seed >> 8;
      /* Mostly short lines; now and then a run of plain bytes long enough for the LOG_LINE_MAX split. */
      if (r % 3000 == 0)
        for (size_t k = (r >> 9) % (3 * LOG_LINE_MAX); k > 0 && len < total; k--)
          data[len++] = (char)('A' + k % 26);
      else
        {
          const char *t = alphabet[r % ARRAY_SIZE (alphabet)];
          memcpy (data + len, t, strlen (t));
          len += strlen (t);
        }
    }
  data[len++] = 'z'; /* an unterminated last line */
  int fd = memfd_create ("log", 0);
  struct log_writer w;
  log_writer_init (&w, fd);
  for (size_t off = 0, step = 1; off < len; off += step, step = step * 13 % 40009 + 1)
    log_writer_feed (&w, 1, data + off, len - off < step ? len - off : step);
  log_writer_flush (&w);
  log_writer_clear (&w);
  size_t file_len;
  cleanup_free char *file = contents (fd, &file_len);
  close (fd);
  /* The records, in order, against the lines cut as Docker cuts them. */
  char *want = xmalloc (LOG_ESCAPED_MAX (LOG_LINE_MAX) + 1);
  size_t records = 0, bad = 0, pos = 0;
  for (size_t start = 0; start < file_len; records++)
    {
      const char *nl = memchr (file + start, '\n', file_len - start);
      size_t end = nl ? (size_t)(nl - file) : file_len;
      const char *rec = file + start;
      const char *mid = memmem (rec, end - start, "\",\"stream\":\"stdout\",\"time\":\"", 28);
      const char *line_nl = memchr (data + pos, '\n', len - pos);
      size_t line = line_nl ? (size_t)(line_nl - (data + pos)) + 1 : len - pos;
      if (line > LOG_LINE_MAX)
        line = LOG_LINE_MAX;
      size_t want_len = log_escape (want, data + pos, line);
      bool ok = mid && strncmp (rec, "{\"log\":\"", 8) == 0 && (size_t)(mid - rec - 8) == want_len
                && memcmp (rec + 8, want, want_len) == 0 && end - (size_t)(mid - file) == 28 + 30 + 2
                && memcmp (file + end - 3, "Z\"}", 3) == 0 && mid[28 + 19] == '.';
      if (!ok && bad++ == 0)
        printf ("# record %zu (input at %zu): %.*s\n", records, pos, (int)(end - start < 200 ? end - start : 200), rec);
      pos += line;
      start = end + 1;
    }
  CHECK (bad == 0 && pos == len, "%zu records, each log_escape of its line (%zu bad, %zu of %zu bytes)", records, bad,
         pos, len);
  free (want);
  free (data);
}

/* The time of a record is read once per feed, its seconds formatted only when they change: a feed a second later
   has a new time, and every time is RFC 3339 with nanoseconds. */
static void
test_record_times (void)
{
  int fd = memfd_create ("log", 0);
  struct log_writer w;
  log_writer_init (&w, fd);
  log_writer_feed (&w, 1, "one\n", 4);
  log_writer_feed (&w, 2, "two\n", 4);
  usleep (1100 * 1000);
  log_writer_feed (&w, 1, "three\n", 6);
  log_writer_clear (&w);
  size_t len;
  cleanup_free char *buf = contents (fd, &len);
  close (fd);
  char times[3][31] = { "", "", "" }, scratch[256];
  size_t i = 0;
  for (char *save = NULL, *line = strtok_r (buf, "\n", &save); line && i < 3; line = strtok_r (NULL, "\n", &save), i++)
    {
      struct log_record r;
      if (log_record_decode_fast (line, strlen (line), scratch, &r) == 0 && r.time_len == 30)
        memcpy (times[i], r.time, 30);
    }
  bool shaped = true;
  for (i = 0; i < 3; i++)
    for (size_t k = 0; k < 30; k++)
      shaped &= k == 4 || k == 7     ? times[i][k] == '-'
                : k == 10            ? times[i][k] == 'T'
                : k == 13 || k == 16 ? times[i][k] == ':'
                : k == 19            ? times[i][k] == '.'
                : k == 29            ? times[i][k] == 'Z'
                                     : times[i][k] >= '0' && times[i][k] <= '9';
  CHECK (shaped, "times are RFC 3339 with nanoseconds: %s %s %s", times[0], times[1], times[2]);
  CHECK (strcmp (times[0], times[1]) <= 0 && strncmp (times[1], times[2], 19) < 0,
         "a feed a second later has the new second (%s, %s)", times[1], times[2]);
}

static void
test_long_lines_split (void)
{
  int fd = memfd_create ("log", 0);
  struct log_writer w;
  log_writer_init (&w, fd);
  char *big = xmalloc (LOG_LINE_MAX * 2 + 10);
  memset (big, 'x', LOG_LINE_MAX * 2 + 9);
  big[LOG_LINE_MAX * 2 + 9] = '\n';
  log_writer_feed (&w, 1, big, LOG_LINE_MAX * 2 + 10);
  log_writer_clear (&w);
  free (big);
  size_t len;
  cleanup_free char *buf = contents (fd, &len);
  close (fd);
  size_t lines = 0;
  for (size_t i = 0; i < len; i++)
    lines += buf[i] == '\n';
  CHECK (lines == 3, "a line longer than LOG_LINE_MAX is split into records (%zu)", lines);
}

/* A monitor killed in the middle of a write leaves a torn last record: the next writer ends it with a newline, so
   that the new records are lines of their own. */
static void
test_torn_record (void)
{
  int fd = memfd_create ("log", 0);
  const char *torn = "{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:00.000000000Z\"}\n"
                     "{\"log\":\"tw";
  (void)write_all (fd, torn, strlen (torn));
  struct log_writer w;
  log_writer_init (&w, fd);
  log_writer_feed (&w, 1, "three\n", 6);
  log_writer_clear (&w);
  size_t len;
  cleanup_free char *buf = contents (fd, &len);
  close (fd);
  char scratch[4096];
  long good = 0, bad = 0;
  for (char *save = NULL, *line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      struct log_record r;
      if (log_record_decode (line, strlen (line), scratch, &r) == 0)
        good++;
      else
        bad++;
    }
  CHECK (good == 2 && bad == 1, "the torn record stays a line of its own (%ld good, %ld bad)", good, bad);
  fd = memfd_create ("log", 0);
  log_writer_init (&w, fd);
  log_writer_clear (&w);
  CHECK (lseek (fd, 0, SEEK_END) == 0, "an empty log gets no newline");
  close (fd);
}

/* Rotation: files of at most max-size plus the record that crossed it, every line in exactly one file, in order;
   max-file bounds the files, the oldest dropped. */
static void
test_rotation (void)
{
  char dir[] = "/tmp/isola-test-logrot.XXXXXX";
  if (!mkdtemp (dir))
    return;
  cleanup_free char *path = xasprintf ("%s/ctr.log", dir);
  int fd = open (path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  struct log_writer w;
  log_writer_init (&w, fd);
  log_writer_set_rotation (&w, path, 1000, 4);
  char line[32];
  for (int i = 1; i <= 200; i++)
    {
      int n = snprintf (line, sizeof line, "%d\n", i);
      log_writer_feed (&w, 1, line, (size_t)n);
    }
  /* one feed of many lines: split across files at record boundaries */
  char big[4000];
  size_t blen = 0;
  for (int i = 201; i <= 400; i++)
    blen += (size_t)snprintf (big + blen, sizeof big - blen, "%d\n", i);
  log_writer_feed (&w, 2, big, blen);
  log_writer_clear (&w);
  close (fd);
  /* oldest first: ctr.log.3 .2 .1 ctr.log */
  int expect = -1;
  bool in_order = true, sizes_ok = true;
  int files = 0;
  for (int k = 3; k >= 0; k--)
    {
      cleanup_free char *name = k ? xasprintf ("%s.%d", path, k) : xstrdup (path);
      int f = open (name, O_RDONLY | O_CLOEXEC);
      if (f < 0)
        continue;
      files++;
      size_t len;
      cleanup_free char *buf = contents (f, &len);
      close (f);
      unlink (name);
      if (k && (len < 1000 || len > 1100))
        sizes_ok = false;
      char *out[2];
      size_t out_len[2];
      long n = replay (buf, len, out, out_len);
      char *text = xmalloc (out_len[0] + out_len[1] + 1);
      memcpy (text, out[0], out_len[0]);
      memcpy (text + out_len[0], out[1], out_len[1]);
      text[out_len[0] + out_len[1]] = '\0';
      for (char *save = NULL, *l = strtok_r (text, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
        {
          int v = atoi (l);
          if (expect >= 0 && v != expect)
            in_order = false;
          expect = v + 1;
        }
      free (text);
      free (out[0]), free (out[1]);
      if (n < 0)
        in_order = false;
    }
  rmdir (dir);
  CHECK (files == 4, "max-file 4: ctr.log and three rotated files (%d)", files);
  CHECK (sizes_ok, "each rotated file reached max-size with whole records, by less than one record");
  CHECK (in_order && expect == 401, "the files hold consecutive lines up to the last, none doubled (next %d)", expect);
}

int
main (void)
{
  test_records ();
  test_escape ();
  test_decode ();
  test_round_trip ();
  test_big_record ();
  test_long_lines_split ();
  test_records_are_escaped_lines ();
  test_record_times ();
  test_torn_record ();
  test_rotation ();
  return tap_done ();
}
