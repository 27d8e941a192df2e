/* libFuzzer target: the VM protocol decoder, which the host monitor runs on bytes from a VM guest that may be hostile
   (and the agent on bytes from the host).  Each input is decoded as either side's stream, in uneven pieces and in
   reads of VMPROTO_READ_SIZE; every frame goes through its typed decoder and is re-encoded, and everything must agree.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/vmproto.h"

struct record
{
  uint8_t *buf;
  size_t len, cap;
  int result; /* the decoder's last verdict: 0 or -EPROTO */
};

static void
record_append (struct record *r, const uint8_t *p, size_t n)
{
  if (r->len + n > r->cap)
    {
      r->cap = (r->len + n) * 2;
      r->buf = realloc (r->buf, r->cap);
      if (r->buf == NULL)
        abort ();
    }
  memcpy (r->buf + r->len, p, n);
  r->len += n;
}

/* Printed text must be short enough, NUL-terminated, and free of control characters. */
static void
check_text (const char *s, size_t size)
{
  size_t n = strnlen (s, size);
  if (n >= size)
    abort ();
  for (size_t i = 0; i < n; i++)
    {
      uint8_t c = (uint8_t)s[i];
      if ((c < 0x20 && c != '\t') || c == 0x7f || c == 0xc0 || c == 0xc1 || c >= 0xf5)
        abort ();
      if (c == 0xc2 && i + 1 < n && (uint8_t)s[i + 1] < 0xa0)
        abort (); /* C1 control */
    }
}

static void
copy_text (char *dst, const uint8_t *p, size_t n)
{
  memcpy (dst, p, n);
  dst[n] = '\0';
}

/* The typed decoder must accept every frame the decoder returned; the message rebuilt from its values must encode
   to the very same bytes. */
static void
check_frame (const struct vmproto_frame *f, size_t text_size, struct record *rec, struct vmproto_queue *q)
{
  static char text[VMPROTO_TEXT_MAX + 1], small[VMPROTO_TEXT_MAX + 1];
  const uint8_t *p = f->payload;
  struct vmproto_msg m;
  uint32_t a = 0, b = 0;
  int32_t e = 0;
  uint16_t rows = 0, cols = 0;
  int ret = 0;

  if (vmproto_frame_check (f) != 0 || vmproto_type_name (f->type) == NULL)
    abort ();
  switch (f->type)
    {
    case VMPROTO_HELLO:
      ret = vmproto_get_hello (f, &a, small, text_size);
      check_text (small, text_size);
      copy_text (text, p + 8, f->len - 8);
      m = vmproto_msg_hello (text);
      memcpy (m.fixed + 4, p + 4, 4);
      if (a != ((uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24))
        abort ();
      (void)vmproto_check_hello (f, "peer", NULL);
      break;
    case VMPROTO_START:
      m = vmproto_msg_start (p, f->len);
      break;
    case VMPROTO_EXEC:
      m = vmproto_msg_exec (f->stream, p, f->len);
      break;
    case VMPROTO_STDIN:
    case VMPROTO_STDOUT:
    case VMPROTO_STDERR:
      m = vmproto_msg_data (f->type, f->stream, p, f->len);
      break;
    case VMPROTO_CLOSE_STDIN:
      m = vmproto_msg_close_stdin (f->stream);
      break;
    case VMPROTO_PAUSE:
      m = vmproto_msg_pause (f->stream);
      break;
    case VMPROTO_RESUME:
      m = vmproto_msg_resume (f->stream);
      break;
    case VMPROTO_RESIZE:
      ret = vmproto_get_resize (f, &rows, &cols);
      m = vmproto_msg_resize (f->stream, rows, cols);
      break;
    case VMPROTO_SIGNAL:
      ret = vmproto_get_signal (f, &a);
      if (a == 0 || a > VMPROTO_SIGNAL_MAX)
        abort ();
      m = vmproto_msg_signal (f->stream, a);
      break;
    case VMPROTO_PS:
      m = vmproto_msg_ps (f->stream);
      break;
    case VMPROTO_SHUTDOWN:
      m = vmproto_msg_shutdown ();
      break;
    case VMPROTO_STARTED:
      ret = vmproto_get_started (f, &a);
      if (a == 0 || a > VMPROTO_PID_MAX)
        abort ();
      m = vmproto_msg_started (f->stream, a);
      break;
    case VMPROTO_FAILED:
      ret = vmproto_get_failed (f, &e, &b, small, text_size);
      check_text (small, text_size);
      if (e <= 0 || b < 125 || b > 127)
        abort ();
      copy_text (text, p + 8, f->len - 8);
      m = vmproto_msg_failed (f->stream, e, b, text);
      break;
    case VMPROTO_EXIT:
      ret = vmproto_get_exit (f, &a, &b);
      if (a > 0xffff || (a & 0x7f) == 0x7f || (b & ~VMPROTO_EXIT_OOM) != 0)
        abort ();
      m = vmproto_msg_exit (f->stream, a, b);
      break;
    case VMPROTO_STDIN_ACK:
      ret = vmproto_get_stdin_ack (f, &a);
      if (a == 0 || a > VMPROTO_STDIN_WINDOW)
        abort ();
      m = vmproto_msg_stdin_ack (f->stream, a);
      break;
    case VMPROTO_PS_REPLY:
      m = vmproto_msg_ps_reply (f->stream, p, f->len);
      break;
    case VMPROTO_RESOURCES:
      m = vmproto_msg_resources (f->stream, p, f->len);
      break;
    case VMPROTO_RESOURCES_REPLY:
      m = vmproto_msg_resources_reply (f->stream, p, f->len);
      break;
    case VMPROTO_NETWORK:
      m = vmproto_msg_network (f->stream, p, f->len);
      break;
    case VMPROTO_NETWORK_REPLY:
      m = vmproto_msg_network_reply (f->stream, p, f->len);
      break;
    case VMPROTO_LOG:
      ret = vmproto_get_log (f, small, text_size);
      check_text (small, text_size);
      copy_text (text, p, f->len);
      m = vmproto_msg_log (f->stream, text);
      break;
    default:
      abort ();
    }
  if (ret != 0)
    abort ();

  static uint8_t out[VMPROTO_HEADER_SIZE + VMPROTO_PAYLOAD_MAX];
  ssize_t n = vmproto_encode (&m, out, sizeof (out));
  if (n != (ssize_t)(VMPROTO_HEADER_SIZE + f->len) || memcmp (out, p - VMPROTO_HEADER_SIZE, (size_t)n) != 0)
    abort ();
  record_append (rec, out, (size_t)n);
  if (vmproto_queue_push (q, &m) != 0)
    abort ();
}

static void
decode (enum vmproto_side from, const uint8_t *data, size_t size, bool uneven, struct record *rec)
{
  struct vmproto_decoder d;
  struct vmproto_queue q;
  vmproto_decoder_init (&d, from);
  vmproto_queue_init (&q);
  size_t off = 0, step = uneven ? 1 : VMPROTO_READ_SIZE, text_size = size % 40 + 1;
  rec->result = 0;
  while (off < size && rec->result == 0)
    {
      size_t n = size - off < step ? size - off : step;
      if (vmproto_decoder_feed (&d, data + off, n) != 0)
        abort (); /* drained after every feed: never beyond the bound */
      off += n;
      if (uneven)
        step = step * 3 % 17 + 1;
      struct vmproto_frame f;
      int r;
      while ((r = vmproto_decoder_next (&d, &f)) == 1)
        check_frame (&f, text_size, rec, &q);
      if (r != 0 && r != -EPROTO)
        abort ();
      rec->result = r;
      if (d.len > VMPROTO_DECODER_MAX || d.cap > VMPROTO_DECODER_MAX
          || vmproto_decoder_pending (&d) > VMPROTO_HEADER_SIZE + VMPROTO_PAYLOAD_MAX)
        abort ();
    }
  /* The queue holds exactly the frames, re-encoded. */
  if (vmproto_queue_pending (&q) != rec->len || (rec->len && memcmp (q.buf + q.head, rec->buf, rec->len) != 0))
    abort ();
  vmproto_queue_clear (&q);
  vmproto_decoder_clear (&d);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const enum vmproto_side sides[] = { VMPROTO_HOST, VMPROTO_GUEST };
  for (size_t i = 0; i < 2; i++)
    {
      struct record pieces = { 0 }, whole = { 0 };
      decode (sides[i], data, size, true, &pieces);
      decode (sides[i], data, size, false, &whole);
      if (pieces.result != whole.result || pieces.len != whole.len
          || (pieces.len && memcmp (pieces.buf, whole.buf, pieces.len) != 0))
        abort ();
      /* What was decoded is a prefix of the input. */
      if (pieces.len > size || (pieces.len && memcmp (pieces.buf, data, pieces.len) != 0))
        abort ();
      free (pieces.buf);
      free (whole.buf);
    }
  return 0;
}
