#define _GNU_SOURCE
#include "proto/attach.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

uint32_t
attach_get_u32 (const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void
attach_put_u32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

void
attach_decoder_init (struct attach_decoder *d)
{
  memset (d, 0, sizeof (*d));
}

void
attach_decoder_clear (struct attach_decoder *d)
{
  free (d->buf);
  memset (d, 0, sizeof (*d));
}

/* Room for len more bytes at d->buf + d->len. */
static void
decoder_room (struct attach_decoder *d, size_t len)
{
  /* Drop what earlier frames used before growing. */
  if (d->consumed > 0)
    {
      memmove (d->buf, d->buf + d->consumed, d->len - d->consumed);
      d->len -= d->consumed;
      d->consumed = 0;
    }
  if (d->len + len > d->cap)
    {
      d->cap = d->len + len + 4096;
      d->buf = xrealloc (d->buf, d->cap);
    }
}

void
attach_decoder_feed (struct attach_decoder *d, const void *data, size_t len)
{
  decoder_room (d, len);
  memcpy (d->buf + d->len, data, len);
  d->len += len;
}

ssize_t
attach_decoder_read (struct attach_decoder *d, int fd)
{
  decoder_room (d, ATTACH_READ_SIZE);
  ssize_t n = read (fd, d->buf + d->len, ATTACH_READ_SIZE);
  if (n > 0)
    d->len += (size_t)n;
  return n;
}

int
attach_decoder_next (struct attach_decoder *d, struct attach_frame *out)
{
  size_t avail = d->len - d->consumed;
  if (avail < ATTACH_HEADER_SIZE)
    return 0;
  const uint8_t *h = d->buf + d->consumed;
  uint32_t len = attach_get_u32 (h + 4);
  if (h[0] == 0 || h[0] >= ATTACH_TYPE_MAX || h[1] || h[2] || h[3] || len > ATTACH_PAYLOAD_MAX)
    return -EPROTO;
  if (avail < ATTACH_HEADER_SIZE + (size_t)len)
    return 0;
  out->type = h[0];
  out->len = len;
  out->payload = h + ATTACH_HEADER_SIZE;
  d->consumed += ATTACH_HEADER_SIZE + len;
  return 1;
}

void
attach_encode_header (uint8_t out[ATTACH_HEADER_SIZE], uint8_t type, uint32_t len)
{
  out[0] = type;
  out[1] = out[2] = out[3] = 0;
  attach_put_u32 (out + 4, len);
}

size_t
attach_encode (uint8_t *out, uint8_t type, const void *payload, uint32_t len)
{
  attach_encode_header (out, type, len);
  if (len)
    memcpy (out + ATTACH_HEADER_SIZE, payload, len);
  return ATTACH_HEADER_SIZE + len;
}

int
attach_send (int fd, uint8_t type, const void *payload, uint32_t len)
{
  if (len > ATTACH_PAYLOAD_MAX)
    return -EMSGSIZE;
  uint8_t *frame = xmalloc (ATTACH_HEADER_SIZE + len);
  size_t n = attach_encode (frame, type, payload, len);
  int ret = send_all (fd, frame, n);
  free (frame);
  return ret;
}

int
attach_send_u32 (int fd, uint8_t type, uint32_t value)
{
  uint8_t p[4];
  attach_put_u32 (p, value);
  return attach_send (fd, type, p, 4);
}
