/* libFuzzer target: the tar stream reader of the guest agent (proto/tarstream.h), which extracts what `cp` sends
   into a running VM container.  Every entry it returns must have a clean relative name (no "..", not absolute), a
   known type, and data no longer than it said; reading must end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tarstream.h"

struct input
{
  const uint8_t *data;
  size_t len, off;
};

static ssize_t
read_input (void *ctx, void *buf, size_t len)
{
  struct input *in = ctx;
  size_t n = in->len - in->off;
  if (n > len)
    n = len;
  /* uneven reads, as a pipe gives them */
  if (n > 1 && (in->off & 1))
    n = n / 2 + 1;
  memcpy (buf, in->data + in->off, n);
  in->off += n;
  return (ssize_t)n;
}

static void
check_name (const char *p)
{
  if (p[0] == '/' || p[0] == '\0' || strnlen (p, TARSTREAM_NAME_MAX) >= TARSTREAM_NAME_MAX)
    abort ();
  for (const char *s = p; (s = strstr (s, "..")) != NULL; s += 2)
    if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
      abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct input in = { data, size, 0 };
  struct tar_reader r;
  tar_reader_init (&r, read_input, &in);
  struct tar_entry_header *h = malloc (sizeof *h);
  isola_error_t err = NULL;
  int ret;
  for (int entries = 0; (ret = tar_reader_next (&r, h, &err)) == 1; entries++)
    {
      check_name (h->path);
      if (h->type == '1')
        check_name (h->linkpath);
      if (!strchr ("0123456", h->type) || h->size < 0 || (h->type != '0' && h->size != 0) || (h->mode & ~07777u))
        abort ();
      char buf[4096];
      int64_t total = 0;
      ssize_t n;
      while ((n = tar_reader_data (&r, buf, sizeof buf)) > 0)
        total += n;
      if (total > h->size || (n == 0 && total != h->size))
        abort ();
      if (entries > (int)size)
        abort (); /* every entry takes at least a block */
    }
  if (ret < 0 && (err == NULL || err->msg == NULL))
    abort ();
  isola_error_release (&err);
  free (h);
  return 0;
}
