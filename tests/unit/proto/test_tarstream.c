/* The agent's tar reader (proto/tarstream.h): ustar and pax headers, data, and what it refuses. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "proto/tarstream.h"

struct buf
{
  unsigned char *data;
  size_t len, off;
};

static ssize_t
read_buf (void *ctx, void *out, size_t len)
{
  struct buf *b = ctx;
  size_t n = b->len - b->off < len ? b->len - b->off : len;
  memcpy (out, b->data + b->off, n);
  b->off += n;
  return (ssize_t)n;
}

static void
append (struct buf *b, const void *p, size_t n)
{
  b->data = realloc (b->data, b->len + n);
  memcpy (b->data + b->len, p, n);
  b->len += n;
}

/* A ustar header (and its data, padded) as tar writes it. */
static void
add_entry (struct buf *b, const char *name, char type, const char *link, const char *data, size_t size, int corrupt)
{
  unsigned char h[512] = { 0 };
  snprintf ((char *)h, 100, "%s", name);
  snprintf ((char *)h + 100, 8, "%07o", 0644);
  snprintf ((char *)h + 108, 8, "%07o", 1000);
  snprintf ((char *)h + 116, 8, "%07o", 1001);
  snprintf ((char *)h + 124, 12, "%011zo", size);
  snprintf ((char *)h + 136, 12, "%011o", 1234567);
  h[156] = (unsigned char)type;
  if (link)
    snprintf ((char *)h + 157, 100, "%s", link);
  memcpy (h + 257,
          "ustar\0"
          "00",
          8);
  memset (h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++)
    sum += h[i];
  snprintf ((char *)h + 148, 8, "%06o", sum + (unsigned)corrupt);
  append (b, h, 512);
  if (size)
    {
      append (b, data, size);
      static const char zero[512];
      append (b, zero, (512 - size % 512) % 512);
    }
}

static void
add_pax (struct buf *b, const char *records)
{
  add_entry (b, "PaxHeader", 'x', NULL, records, strlen (records), 0);
}

static void
add_end (struct buf *b)
{
  static const char zero[1024];
  append (b, zero, sizeof zero);
}

static int
next (struct tar_reader *r, struct tar_entry_header *h)
{
  isola_error_t err = NULL;
  int ret = tar_reader_next (r, h, &err);
  isola_error_release (&err);
  return ret;
}

static void
test_entries (void)
{
  struct buf b = { 0 };
  add_entry (&b, "./d/", '5', NULL, NULL, 0, 0);
  add_entry (&b, "d//f", '0', NULL, "hello", 5, 0);
  add_entry (&b, "d/l", '2', "/etc/passwd", NULL, 0, 0);
  add_pax (&b, "29 path=d/a-long-name-by-pax\n12 size=600\n");
  char big[600];
  memset (big, 'z', sizeof big);
  add_entry (&b, "short", '0', NULL, big, sizeof big, 0);
  add_entry (&b, "skipped", '0', NULL, "unread", 6, 0);
  add_entry (&b, "d/h", '1', "d/f", NULL, 0, 0);
  add_end (&b);
  struct tar_reader r;
  tar_reader_init (&r, read_buf, &b);
  struct tar_entry_header h;
  CHECK (next (&r, &h) == 1 && h.type == '5', "a directory");
  CHECK_STR (h.path, "d", "its name made canonical");
  CHECK (next (&r, &h) == 1 && h.type == '0' && h.size == 5 && h.uid == 1000 && h.gid == 1001 && h.mode == 0644
             && h.mtime == 1234567,
         "a file's fields");
  CHECK_STR (h.path, "d/f", "its name without the empty component");
  char data[16] = { 0 };
  CHECK (tar_reader_data (&r, data, sizeof data) == 5 && memcmp (data, "hello", 5) == 0, "its data");
  CHECK (tar_reader_data (&r, data, sizeof data) == 0, "then its end");
  CHECK (next (&r, &h) == 1 && h.type == '2', "a symlink");
  CHECK_STR (h.linkpath, "/etc/passwd", "its target as it is");
  CHECK (next (&r, &h) == 1 && h.size == 600, "pax records override the size");
  CHECK_STR (h.path, "d/a-long-name-by-pax", "and the name");
  char got[700];
  ssize_t n, total = 0;
  while ((n = tar_reader_data (&r, got + total, 100)) > 0)
    total += n;
  CHECK (total == 600 && memcmp (got, big, 600) == 0, "600 bytes of data across blocks");
  CHECK (next (&r, &h) == 1, "an entry whose data is not read");
  CHECK (next (&r, &h) == 1 && h.type == '1', "is skipped: the next is a hard link");
  CHECK_STR (h.linkpath, "d/f", "to its target");
  CHECK (next (&r, &h) == 0, "the end");
  CHECK (next (&r, &h) == 0, "and it stays ended");
  free (b.data);
}

static void
expect_refused (const char *what, struct buf *b, int err_no)
{
  struct tar_reader r;
  tar_reader_init (&r, read_buf, b);
  struct tar_entry_header h;
  isola_error_t err = NULL;
  int ret = tar_reader_next (&r, &h, &err);
  const char *msg = err ? err->msg : NULL;
  CHECK (ret == -err_no && msg && strstr (msg, "tar stream"), "%s is refused (%d: %s)", what, ret, msg ? msg : "");
  isola_error_release (&err);
  free (b->data);
  *b = (struct buf){ 0 };
}

static void
test_refusals (void)
{
  struct buf b = { 0 };
  add_entry (&b, "../x", '0', NULL, NULL, 0, 0);
  expect_refused ("a name with ..", &b, EINVAL);
  add_entry (&b, "/etc/x", '0', NULL, NULL, 0, 0);
  expect_refused ("an absolute name", &b, EINVAL);
  add_entry (&b, "a/../../x", '0', NULL, NULL, 0, 0);
  expect_refused ("a .. further in", &b, EINVAL);
  add_entry (&b, "h", '1', "../../etc/shadow", NULL, 0, 0);
  expect_refused ("a hard link out", &b, EINVAL);
  add_entry (&b, "x", '0', NULL, NULL, 0, 1);
  expect_refused ("a bad checksum", &b, EINVAL);
  add_entry (&b, "x", 'S', NULL, NULL, 0, 0);
  expect_refused ("an unknown type", &b, EINVAL);
  add_pax (&b, "99 path=x\n");
  add_entry (&b, "x", '0', NULL, NULL, 0, 0);
  expect_refused ("a pax record longer than its header", &b, EINVAL);
  add_pax (&b, "16 path=/abs/x\n");
  add_entry (&b, "x", '0', NULL, NULL, 0, 0);
  expect_refused ("an absolute pax path", &b, EINVAL);
  for (int i = 0; i < 10; i++)
    add_entry (&b, "x", 'x', NULL, NULL, 0, 0);
  expect_refused ("ten extension headers in a row", &b, EINVAL);

  /* data cut short */
  add_entry (&b, "x", '0', NULL, "12345678", 8, 0);
  b.len -= 510;
  struct tar_reader r;
  tar_reader_init (&r, read_buf, &b);
  struct tar_entry_header h;
  CHECK (next (&r, &h) == 1, "a file whose data is cut");
  char d[16];
  CHECK (tar_reader_data (&r, d, sizeof d) == -EIO, "reads as an error, not a short file");
  free (b.data);
}

static void
test_clean (void)
{
  struct
  {
    const char *in, *out;
  } cases[] = { { "a/b", "a/b" }, { "./a//b/", "a/b" }, { ".", "." },   { "./", "." },     { "a/./b/.", "a/b" },
                { "..", NULL },   { "a/..", NULL },     { "/a", NULL }, { "a/../b", NULL } };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      char buf[64];
      snprintf (buf, sizeof buf, "%s", cases[i].in);
      bool ok = tar_path_clean (buf);
      if (cases[i].out)
        CHECK (ok && strcmp (buf, cases[i].out) == 0, "clean '%s' → '%s' (got '%s')", cases[i].in, cases[i].out, buf);
      else
        CHECK (!ok, "'%s' is refused", cases[i].in);
    }
}

int
main (void)
{
  test_entries ();
  test_refusals ();
  test_clean ();
  return tap_done ();
}
