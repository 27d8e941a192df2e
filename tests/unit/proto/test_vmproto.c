/* The VM protocol: every message round-trips through encoder and decoder in any chunking, every malformed frame is
   refused, text from the guest is made safe to print, and the output queue survives a full non-blocking socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "proto/vmproto.h"
#include "tap.h"

#define TEXT_OF(x)       #x
#define TEXT_OF_VALUE(x) TEXT_OF (x)
#define VERSION_TEXT     TEXT_OF_VALUE (VMPROTO_VERSION) /* "3": this build's version, as the messages print it */

static void
put_header (uint8_t *p, uint16_t type, uint16_t flags, uint32_t stream, uint32_t len)
{
  p[0] = (uint8_t)type, p[1] = (uint8_t)(type >> 8);
  p[2] = (uint8_t)flags, p[3] = (uint8_t)(flags >> 8);
  for (int i = 0; i < 4; i++)
    p[4 + i] = (uint8_t)(stream >> (8 * i)), p[8 + i] = (uint8_t)(len >> (8 * i));
}

static const uint8_t hello_frame[] = {
  1, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 'I', 'S', 'V', 'M', 1, 0, 0, 0, 't', 'e', 's', 't',
};

/* Decodes bytes that side `from` sent, after a HELLO, feeding them in pieces of chunk bytes; returns the last
   decoder result and stores up to max frames, their payloads copied (the next feed moves the decoder's buffer). */
static int
decode (enum vmproto_side from, const uint8_t *bytes, size_t len, size_t chunk, struct vmproto_decoder *d,
        struct vmproto_frame *frames, size_t max, size_t *count)
{
  static uint8_t arena[8192];
  size_t used = 0;
  vmproto_decoder_init (d, from);
  *count = 0;
  int r = vmproto_decoder_feed (d, hello_frame, sizeof (hello_frame));
  struct vmproto_frame f;
  if (r == 0)
    r = vmproto_decoder_next (d, &f);
  if (r != 1)
    return -1000;
  for (size_t off = 0; off < len; off += chunk)
    {
      size_t n = len - off < chunk ? len - off : chunk;
      r = vmproto_decoder_feed (d, bytes + off, n);
      if (r < 0)
        return r;
      while ((r = vmproto_decoder_next (d, &f)) == 1)
        if (*count < max && f.len <= sizeof (arena) - used)
          {
            memcpy (arena + used, f.payload, f.len);
            f.payload = arena + used;
            used += f.len;
            frames[(*count)++] = f;
          }
      if (r < 0)
        return r;
    }
  return 0;
}

/* A stream of one HELLO-less frame: the decoder's verdict on it. */
static int
verdict (enum vmproto_side from, const uint8_t *bytes, size_t len)
{
  struct vmproto_decoder d;
  struct vmproto_frame f;
  size_t count;
  int r = decode (from, bytes, len, len ? len : 1, &d, &f, 1, &count);
  if (r == 0)
    r = count ? 1 : 0;
  vmproto_decoder_clear (&d);
  return r;
}

static int
verdict_header (enum vmproto_side from, uint16_t type, uint16_t flags, uint32_t stream, uint32_t len,
                const void *payload, size_t payload_len)
{
  uint8_t buf[VMPROTO_HEADER_SIZE + 64];
  put_header (buf, type, flags, stream, len);
  if (payload_len)
    memcpy (buf + VMPROTO_HEADER_SIZE, payload, payload_len);
  return verdict (from, buf, VMPROTO_HEADER_SIZE + payload_len);
}

static size_t
encode_all (const struct vmproto_msg *msgs, size_t n, uint8_t *out, size_t size)
{
  size_t off = 0;
  for (size_t i = 0; i < n; i++)
    {
      ssize_t r = vmproto_encode (&msgs[i], out + off, size - off);
      if (r < 0)
        return 0;
      off += (size_t)r;
    }
  return off;
}

static const char start_json[] = "{\"args\":[\"sh\"],\"tty\":true}";
static const char exec_json[] = "{\"args\":[\"ls\",\"-l\"]}";
static const char ps_json[] = "[{\"pid\":1,\"cmd\":\"sh\"}]";

static void
test_host_messages (void)
{
  struct vmproto_msg msgs[] = {
    vmproto_msg_start (start_json, strlen (start_json)),
    vmproto_msg_exec (2, exec_json, strlen (exec_json)),
    vmproto_msg_data (VMPROTO_STDIN, 1, "hello\n", 6),
    vmproto_msg_close_stdin (1),
    vmproto_msg_resize (2, 24, 80),
    vmproto_msg_signal (1, 15),
    vmproto_msg_ps (7),
    vmproto_msg_shutdown (),
    vmproto_msg_pause (2),
    vmproto_msg_resume (2),
  };
  uint8_t buf[1024];
  size_t len = encode_all (msgs, ARRAY_SIZE (msgs), buf, sizeof (buf));
  CHECK (len > 0, "host messages encode (%zu bytes)", len);
  static const size_t chunks[] = { 1, 2, 3, 7, 13, 1024 };
  for (size_t c = 0; c < ARRAY_SIZE (chunks); c++)
    {
      struct vmproto_decoder d;
      struct vmproto_frame f[16];
      size_t n;
      int r = decode (VMPROTO_HOST, buf, len, chunks[c], &d, f, 16, &n);
      CHECK (r == 0 && n == ARRAY_SIZE (msgs), "host stream in %zu-byte pieces: %zu frames (r=%d)", chunks[c], n, r);
      if (r != 0 || n != ARRAY_SIZE (msgs))
        {
          vmproto_decoder_clear (&d);
          continue;
        }
      bool same = true;
      for (size_t i = 0; i < n; i++)
        same = same && f[i].type == msgs[i].type && f[i].stream == msgs[i].stream;
      CHECK (same, "types and streams survive (%zu-byte pieces)", chunks[c]);
      CHECK (f[0].len == strlen (start_json) && memcmp (f[0].payload, start_json, f[0].len) == 0, "START's JSON");
      CHECK (f[1].len == strlen (exec_json) && memcmp (f[1].payload, exec_json, f[1].len) == 0, "EXEC's JSON");
      CHECK (f[2].len == 6 && memcmp (f[2].payload, "hello\n", 6) == 0, "STDIN's bytes");
      CHECK (f[3].len == 0, "CLOSE_STDIN is empty");
      uint16_t rows = 0, cols = 0;
      CHECK (vmproto_get_resize (&f[4], &rows, &cols) == 0 && rows == 24 && cols == 80, "RESIZE 24x80");
      uint32_t sig = 0;
      CHECK (vmproto_get_signal (&f[5], &sig) == 0 && sig == 15, "SIGNAL 15");
      CHECK (f[6].stream == 7 && f[6].len == 0, "PS with request id 7");
      CHECK (f[7].stream == 0 && f[7].len == 0, "SHUTDOWN on stream 0");
      CHECK (f[8].type == VMPROTO_PAUSE && f[9].type == VMPROTO_RESUME && f[8].stream == 2 && f[9].len == 0,
             "PAUSE and RESUME of stream 2");
      vmproto_decoder_clear (&d);
    }
  CHECK (verdict (VMPROTO_GUEST, buf, len) == -EPROTO, "the guest may not send what the host sends");
}

static void
test_guest_messages (void)
{
  struct vmproto_msg msgs[] = {
    vmproto_msg_started (1, 4242),
    vmproto_msg_failed (2, ENOENT, 127, "exec: \"nope\": executable file not found in $PATH"),
    vmproto_msg_data (VMPROTO_STDOUT, 1, "out", 3),
    vmproto_msg_data (VMPROTO_STDERR, 1, "err", 3),
    vmproto_msg_exit (1, 137 - 128, VMPROTO_EXIT_OOM), /* killed by SIGKILL */
    vmproto_msg_exit (3, 3 << 8, 0),                   /* exited 3 */
    vmproto_msg_ps_reply (7, ps_json, strlen (ps_json)),
    vmproto_msg_log (0, "agent: mounted /dev"),
    vmproto_msg_stdin_ack (2, 65536),
  };
  uint8_t buf[1024];
  size_t len = encode_all (msgs, ARRAY_SIZE (msgs), buf, sizeof (buf));
  CHECK (len > 0, "guest messages encode (%zu bytes)", len);
  static const size_t chunks[] = { 1, 5, 11, 1024 };
  for (size_t c = 0; c < ARRAY_SIZE (chunks); c++)
    {
      struct vmproto_decoder d;
      struct vmproto_frame f[16];
      size_t n;
      int r = decode (VMPROTO_GUEST, buf, len, chunks[c], &d, f, 16, &n);
      CHECK (r == 0 && n == ARRAY_SIZE (msgs), "guest stream in %zu-byte pieces: %zu frames", chunks[c], n);
      if (r != 0 || n != ARRAY_SIZE (msgs))
        {
          vmproto_decoder_clear (&d);
          continue;
        }
      uint32_t pid = 0, exit_code = 0, status = 0, flags = 0;
      int32_t errnum = 0;
      char msg[VMPROTO_TEXT_MAX + 1];
      CHECK (vmproto_get_started (&f[0], &pid) == 0 && pid == 4242 && f[0].stream == 1, "STARTED 4242");
      CHECK (vmproto_get_failed (&f[1], &errnum, &exit_code, msg, sizeof (msg)) == 0 && errnum == ENOENT
                 && exit_code == 127 && strcmp (msg, "exec: \"nope\": executable file not found in $PATH") == 0,
             "FAILED ENOENT 127 with its message");
      CHECK (f[2].type == VMPROTO_STDOUT && f[2].len == 3 && memcmp (f[2].payload, "out", 3) == 0, "STDOUT");
      CHECK (f[3].type == VMPROTO_STDERR && f[3].len == 3 && memcmp (f[3].payload, "err", 3) == 0, "STDERR");
      CHECK (vmproto_get_exit (&f[4], &status, &flags) == 0 && WIFSIGNALED (status) && WTERMSIG (status) == 9
                 && flags == VMPROTO_EXIT_OOM,
             "EXIT killed by SIGKILL, OOM");
      CHECK (vmproto_get_exit (&f[5], &status, &flags) == 0 && WIFEXITED (status) && WEXITSTATUS (status) == 3
                 && flags == 0 && f[5].stream == 3,
             "EXIT 3 on an exec stream");
      CHECK (f[6].stream == 7 && f[6].len == strlen (ps_json) && memcmp (f[6].payload, ps_json, f[6].len) == 0,
             "PS_REPLY with the request's id");
      CHECK (vmproto_get_log (&f[7], msg, sizeof (msg)) == 0 && strcmp (msg, "agent: mounted /dev") == 0, "LOG");
      uint32_t acked = 0;
      CHECK (vmproto_get_stdin_ack (&f[8], &acked) == 0 && acked == 65536 && f[8].stream == 2,
             "STDIN_ACK of 64 KiB on an exec stream");
      CHECK (vmproto_get_exit (&f[0], &status, &flags) == -EINVAL, "a typed decoder refuses another type");
      vmproto_decoder_clear (&d);
    }
  CHECK (verdict (VMPROTO_HOST, buf, len) == -EPROTO, "the host may not send what the guest sends");
}

static void
test_hello (void)
{
  uint8_t buf[512];
  struct vmproto_msg m = vmproto_msg_hello ("isola-agent 0.1.0");
  ssize_t n = vmproto_encode (&m, buf, sizeof (buf));
  CHECK (n == VMPROTO_HEADER_SIZE + 8 + 17, "HELLO encodes to %zd bytes", n);
  struct vmproto_decoder d;
  vmproto_decoder_init (&d, VMPROTO_GUEST);
  struct vmproto_frame f;
  CHECK (vmproto_decoder_feed (&d, buf, (size_t)n) == 0 && vmproto_decoder_next (&d, &f) == 1, "HELLO decodes");
  uint32_t version = 0;
  char sw[VMPROTO_SOFTWARE_MAX + 1];
  CHECK (vmproto_get_hello (&f, &version, sw, sizeof (sw)) == 0 && version == VMPROTO_VERSION
             && strcmp (sw, "isola-agent 0.1.0") == 0,
         "HELLO carries version %u and the software version", version);
  isola_error_t err = NULL;
  CHECK (vmproto_check_hello (&f, "guest agent", &err) == 0 && err == NULL, "same version is accepted");
  CHECK (vmproto_decoder_feed (&d, buf, (size_t)n) == 0 && vmproto_decoder_next (&d, &f) == -EPROTO,
         "a second HELLO is refused");
  CHECK (vmproto_decoder_next (&d, &f) == -EPROTO && vmproto_decoder_feed (&d, "x", 1) == -EPROTO, "errors are sticky");
  vmproto_decoder_clear (&d);

  /* A future agent: version 9, with an escape sequence in its software version. */
  uint8_t v2[VMPROTO_HEADER_SIZE + 8 + 12];
  put_header (v2, VMPROTO_HELLO, 0, 0, 8 + 12);
  memcpy (v2 + VMPROTO_HEADER_SIZE, "ISVM\11\0\0\0agent\033[2J2.0", 8 + 12);
  vmproto_decoder_init (&d, VMPROTO_GUEST);
  CHECK (vmproto_decoder_feed (&d, v2, sizeof (v2)) == 0 && vmproto_decoder_next (&d, &f) == 1,
         "another version's HELLO decodes");
  CHECK (vmproto_get_hello (&f, &version, sw, sizeof (sw)) == 0 && version == 9 && strcmp (sw, "agent?[2J2.0") == 0,
         "its software version is made printable (got %s)", sw);
  CHECK (vmproto_check_hello (&f, "guest agent", &err) == -EPROTONOSUPPORT && err != NULL
             && strstr (err->msg, "guest agent (agent?[2J2.0) speaks VM protocol version 9") != NULL
             && strstr (err->msg, "this side speaks version " VERSION_TEXT) != NULL,
         "a version mismatch is reported clearly: %s", err ? err->msg : "(no error)");
  isola_error_release (&err);
  vmproto_decoder_clear (&d);

  /* Not an isola agent at all. */
  uint8_t bad[VMPROTO_HEADER_SIZE + 8];
  put_header (bad, VMPROTO_HELLO, 0, 0, 8);
  memcpy (bad + VMPROTO_HEADER_SIZE, "XSVM\1\0\0\0", 8);
  struct vmproto_frame fb = { .type = VMPROTO_HELLO, .stream = 0, .len = 8, .payload = bad + VMPROTO_HEADER_SIZE };
  CHECK (vmproto_check_hello (&fb, "guest agent", &err) == -EPROTO && err != NULL, "a HELLO without magic: %s",
         err ? err->msg : "(no error)");
  isola_error_release (&err);
  vmproto_decoder_init (&d, VMPROTO_GUEST);
  CHECK (vmproto_decoder_feed (&d, bad, sizeof (bad)) == 0 && vmproto_decoder_next (&d, &f) == -EPROTO,
         "the decoder refuses it too");
  vmproto_decoder_clear (&d);
  struct vmproto_frame fs = { .type = VMPROTO_STARTED, .stream = 1, .len = 4, .payload = (const uint8_t *)"\1\0\0\0" };
  CHECK (vmproto_check_hello (&fs, "guest agent", &err) == -EPROTO && err != NULL
             && strstr (err->msg, "STARTED before HELLO") != NULL,
         "a first frame that is not HELLO: %s", err ? err->msg : "(no error)");
  isola_error_release (&err);

  vmproto_decoder_init (&d, VMPROTO_GUEST);
  uint8_t started[VMPROTO_HEADER_SIZE + 4];
  put_header (started, VMPROTO_STARTED, 0, 1, 4);
  memcpy (started + VMPROTO_HEADER_SIZE, "\1\0\0\0", 4);
  CHECK (vmproto_decoder_feed (&d, started, sizeof (started)) == 0 && vmproto_decoder_next (&d, &f) == -EPROTO,
         "the decoder refuses any first frame but HELLO");
  vmproto_decoder_clear (&d);

  char longsw[400];
  memset (longsw, 'a', sizeof (longsw) - 1);
  longsw[sizeof (longsw) - 1] = '\0';
  m = vmproto_msg_hello (longsw);
  CHECK (m.tail_len == VMPROTO_SOFTWARE_MAX && vmproto_encode (&m, NULL, 0) > 0, "a long software version is cut");
}

static void
test_rejects (void)
{
  enum vmproto_side H = VMPROTO_HOST, G = VMPROTO_GUEST;
  CHECK (verdict_header (G, VMPROTO_STDOUT, 0, 1, 2, "ok", 2) == 1, "a valid frame passes (baseline)");
  CHECK (verdict_header (VMPROTO_HOST, VMPROTO_PAUSE, 0, 2, 0, NULL, 0) == 1
             && verdict_header (VMPROTO_HOST, VMPROTO_PAUSE, 0, 0, 0, NULL, 0) == -EPROTO
             && verdict_header (VMPROTO_HOST, VMPROTO_RESUME, 0, 2, 1, "x", 1) == -EPROTO,
         "PAUSE/RESUME: a process stream, no payload");
  CHECK (verdict_header (G, VMPROTO_STDIN_ACK, 0, 1, 4, "\0\0\4\0", 4) == 1
             && verdict_header (G, VMPROTO_STDIN_ACK, 0, 2, 4, "\x01\0\0\0", 4) == 1,
         "STDIN_ACK of 1 byte up to a whole window");
  CHECK (verdict_header (G, VMPROTO_STDIN_ACK, 0, 1, 4, "\0\0\0\0", 4) == -EPROTO
             && verdict_header (G, VMPROTO_STDIN_ACK, 0, 1, 4, "\x01\0\4\0", 4) == -EPROTO
             && verdict_header (G, VMPROTO_STDIN_ACK, 0, 0, 4, "\x01\0\0\0", 4) == -EPROTO
             && verdict_header (H, VMPROTO_STDIN_ACK, 0, 1, 4, "\x01\0\0\0", 4) == -EPROTO,
         "STDIN_ACK: not 0, not beyond the window, a process stream, from the guest only");
  CHECK (verdict_header (G, VMPROTO_STDOUT, 0, 1, 3, "ok", 2) == 0, "an incomplete frame waits");
  CHECK (verdict_header (G, VMPROTO_STDOUT, 1, 1, 2, "ok", 2) == -EPROTO, "non-zero flags");
  CHECK (verdict_header (G, VMPROTO_STDOUT, 0x8000, 1, 2, "ok", 2) == -EPROTO, "high flag bit");
  CHECK (verdict_header (G, 0, 0, 1, 0, NULL, 0) == -EPROTO, "type 0");
  CHECK (verdict_header (G, VMPROTO_TYPE_MAX, 0, 1, 0, NULL, 0) == -EPROTO, "type past the last");
  CHECK (verdict_header (G, 0xffff, 0, 1, 0, NULL, 0) == -EPROTO, "type 0xffff");
  CHECK (verdict_header (G, VMPROTO_STDOUT, 0, 1, VMPROTO_DATA_MAX + 1, NULL, 0) == -EPROTO,
         "oversized data, refused from its header alone");
  CHECK (verdict_header (G, VMPROTO_PS_REPLY, 0, 1, VMPROTO_PAYLOAD_MAX + 1, NULL, 0) == -EPROTO,
         "oversized JSON, refused from its header alone");
  CHECK (verdict_header (G, VMPROTO_PS_REPLY, 0, 1, UINT32_MAX, NULL, 0) == -EPROTO, "length 2^32-1");
  CHECK (verdict_header (G, VMPROTO_PS_REPLY, 0, 1, VMPROTO_PAYLOAD_MAX, NULL, 0) == 0, "maximal JSON waits");
  CHECK (verdict_header (G, VMPROTO_STDOUT, 0, 1, 0, NULL, 0) == -EPROTO, "empty data");
  CHECK (verdict_header (G, VMPROTO_STDOUT, 0, 0, 2, "ok", 2) == -EPROTO, "STDOUT on stream 0");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 0, 8, "\0\0\0\0\0\0\0\0", 8) == -EPROTO, "EXIT on stream 0");
  CHECK (verdict_header (G, VMPROTO_STARTED, 0, 0, 4, "\1\0\0\0", 4) == -EPROTO, "STARTED on stream 0");
  CHECK (verdict_header (G, VMPROTO_PS_REPLY, 0, 0, 2, "[]", 2) == -EPROTO, "PS_REPLY with request id 0");
  CHECK (verdict_header (H, VMPROTO_PS, 0, 0, 0, NULL, 0) == -EPROTO, "PS with request id 0");
  CHECK (verdict_header (H, VMPROTO_NETWORK, 0, 4, 2, "{}", 2) == 1
             && verdict_header (H, VMPROTO_NETWORK, 0, 0, 2, "{}", 2) == -EPROTO
             && verdict_header (H, VMPROTO_NETWORK, 0, 4, 0, NULL, 0) == -EPROTO
             && verdict_header (G, VMPROTO_NETWORK, 0, 4, 2, "{}", 2) == -EPROTO,
         "NETWORK: JSON from the host with a request id");
  CHECK (verdict_header (G, VMPROTO_NETWORK_REPLY, 0, 4, 2, "{}", 2) == 1
             && verdict_header (H, VMPROTO_NETWORK_REPLY, 0, 4, 2, "{}", 2) == -EPROTO,
         "NETWORK_REPLY: from the guest only");
  CHECK (verdict_header (H, VMPROTO_SIGNAL, 0, 0, 4, "\x0f\0\0\0", 4) == -EPROTO, "SIGNAL on stream 0");
  CHECK (verdict_header (H, VMPROTO_START, 0, 2, 2, "{}", 2) == -EPROTO, "START on stream 2");
  CHECK (verdict_header (H, VMPROTO_EXEC, 0, 1, 2, "{}", 2) == -EPROTO, "EXEC on stream 1");
  CHECK (verdict_header (H, VMPROTO_EXEC, 0, 0, 2, "{}", 2) == -EPROTO, "EXEC on stream 0");
  CHECK (verdict_header (H, VMPROTO_START, 0, 1, 0, NULL, 0) == -EPROTO, "START without JSON");
  CHECK (verdict_header (H, VMPROTO_SHUTDOWN, 0, 1, 0, NULL, 0) == -EPROTO, "SHUTDOWN on stream 1");
  CHECK (verdict_header (H, VMPROTO_HELLO, 0, 3, 8, "ISVM\1\0\0\0", 8) == -EPROTO, "HELLO on stream 3");
  CHECK (verdict_header (H, VMPROTO_SHUTDOWN, 0, 0, 1, "x", 1) == -EPROTO, "SHUTDOWN with a payload");
  CHECK (verdict_header (H, VMPROTO_CLOSE_STDIN, 0, 1, 1, "x", 1) == -EPROTO, "CLOSE_STDIN with a payload");
  CHECK (verdict_header (G, VMPROTO_STARTED, 0, 1, 3, "\1\0\0", 3) == -EPROTO, "short STARTED");
  CHECK (verdict_header (G, VMPROTO_STARTED, 0, 1, 5, "\1\0\0\0\0", 5) == -EPROTO, "long STARTED");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 1, 7, "\0\0\0\0\0\0\0", 7) == -EPROTO, "short EXIT");
  CHECK (verdict_header (H, VMPROTO_RESIZE, 0, 1, 2, "\x18\0", 2) == -EPROTO, "short RESIZE");
  CHECK (verdict_header (H, VMPROTO_SIGNAL, 0, 1, 0, NULL, 0) == -EPROTO, "empty SIGNAL");
  CHECK (verdict_header (G, VMPROTO_FAILED, 0, 1, 7, "\2\0\0\0\x7f\0\0", 7) == -EPROTO, "short FAILED");
  CHECK (verdict_header (G, VMPROTO_HELLO, 0, 0, 4, "ISVM", 4) == -EPROTO, "short HELLO (as a second HELLO too)");
  /* Values in fixed fields. */
  CHECK (verdict_header (G, VMPROTO_STARTED, 0, 1, 4, "\0\0\0\0", 4) == -EPROTO, "PID 0");
  CHECK (verdict_header (G, VMPROTO_STARTED, 0, 1, 4, "\xff\xff\xff\xff", 4) == -EPROTO, "PID 2^32-1");
  CHECK (verdict_header (H, VMPROTO_SIGNAL, 0, 1, 4, "\0\0\0\0", 4) == -EPROTO, "signal 0");
  CHECK (verdict_header (H, VMPROTO_SIGNAL, 0, 1, 4, "\x41\0\0\0", 4) == -EPROTO, "signal 65");
  CHECK (verdict_header (H, VMPROTO_SIGNAL, 0, 1, 4, "\x40\0\0\0", 4) == 1, "signal 64");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 1, 8, "\0\0\0\0\2\0\0\0", 8) == -EPROTO, "unknown EXIT flag");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 1, 8, "\x7f\x13\0\0\0\0\0\0", 8) == -EPROTO, "a stopped status");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 1, 8, "\xff\xff\0\0\0\0\0\0", 8) == -EPROTO, "a continued status");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 1, 8, "\0\0\1\0\0\0\0\0", 8) == -EPROTO, "a status above 16 bits");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 1, 8, "\x80\0\0\0\0\0\0\0", 8) == -EPROTO, "core bit on an exit");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 1, 8, "\x09\1\0\0\0\0\0\0", 8) == -EPROTO, "code bits on a signal");
  CHECK (verdict_header (G, VMPROTO_EXIT, 0, 1, 8, "\x8b\0\0\0\0\0\0\0", 8) == 1, "SIGSEGV with core dump");
  CHECK (verdict_header (G, VMPROTO_FAILED, 0, 1, 8, "\2\0\0\0\x7c\0\0\0", 8) == -EPROTO, "FAILED exit code 124");
  CHECK (verdict_header (G, VMPROTO_FAILED, 0, 1, 8, "\2\0\0\0\x80\0\0\0", 8) == -EPROTO, "FAILED exit code 128");
  CHECK (verdict_header (G, VMPROTO_FAILED, 0, 1, 8, "\0\0\0\0\x7d\0\0\0", 8) == -EPROTO, "FAILED errno 0");
  CHECK (verdict_header (G, VMPROTO_FAILED, 0, 1, 8, "\xfe\xff\xff\xff\x7d\0\0\0", 8) == -EPROTO,
         "FAILED negative errno");
  CHECK (verdict_header (G, VMPROTO_FAILED, 0, 1, 8, "\2\0\0\0\x7d\0\0\0", 8) == 1, "FAILED without a message");
  CHECK (verdict_header (G, VMPROTO_FAILED, 0, 1, 11, "\2\0\0\0\x7d\0\0\0a\0b", 11) == -EPROTO, "NUL in a message");
  CHECK (verdict_header (G, VMPROTO_LOG, 0, 0, 0, NULL, 0) == -EPROTO, "empty LOG");
  CHECK (verdict_header (G, VMPROTO_LOG, 0, 9, 2, "\0x", 2) == -EPROTO, "NUL in a LOG line");
  CHECK (verdict_header (G, VMPROTO_LOG, 0, 0, VMPROTO_TEXT_MAX + 1, NULL, 0) == -EPROTO, "oversized LOG");

  /* Hand-made frames given straight to typed decoders. */
  uint32_t v = 77, w = 77;
  struct vmproto_frame f = { .type = VMPROTO_EXIT, .stream = 1, .len = 4, .payload = (const uint8_t *)"\0\0\0\0" };
  CHECK (vmproto_get_exit (&f, &v, &w) == -EPROTO && v == 77 && w == 77, "short EXIT: outputs untouched");
  f = (struct vmproto_frame){ .type = VMPROTO_STARTED, .stream = 1, .len = 4, .payload = NULL };
  CHECK (vmproto_get_started (&f, &v) == -EPROTO, "a frame without its payload");
  f = (struct vmproto_frame){ .type = VMPROTO_STARTED, .stream = 0, .len = 4, .payload = (const uint8_t *)"\1\0\0\0" };
  CHECK (vmproto_get_started (&f, &v) == -EPROTO && vmproto_frame_check (&f) == -EPROTO, "STARTED on stream 0");
}

static void
test_encoder_rejects (void)
{
  static char big[VMPROTO_PAYLOAD_MAX + 1];
  struct vmproto_msg m = vmproto_msg_data (VMPROTO_STDOUT, 1, big, VMPROTO_DATA_MAX + 1);
  CHECK (vmproto_encode (&m, NULL, 0) == -EMSGSIZE, "oversized data: -EMSGSIZE");
  m = vmproto_msg_start (big, sizeof (big));
  CHECK (vmproto_encode (&m, NULL, 0) == -EMSGSIZE, "oversized START: -EMSGSIZE");
  m = vmproto_msg_start (big, (size_t)UINT32_MAX + 2);
  CHECK (vmproto_encode (&m, NULL, 0) == -EMSGSIZE, "a length beyond 32 bits: -EMSGSIZE");
  m = vmproto_msg_start (big, VMPROTO_PAYLOAD_MAX);
  CHECK (vmproto_encode (&m, NULL, 0) == VMPROTO_HEADER_SIZE + VMPROTO_PAYLOAD_MAX, "maximal START");
  m = vmproto_msg_data (VMPROTO_STDOUT, 0, "x", 1);
  CHECK (vmproto_encode (&m, NULL, 0) == -EINVAL, "STDOUT on stream 0: -EINVAL");
  m = vmproto_msg_exec (1, "{}", 2);
  CHECK (vmproto_encode (&m, NULL, 0) == -EINVAL, "EXEC on the main stream: -EINVAL");
  m = vmproto_msg_data (VMPROTO_EXIT, 1, "x", 1);
  CHECK (vmproto_encode (&m, NULL, 0) == -EINVAL, "EXIT without its fixed fields: -EINVAL");
  m = vmproto_msg_data (0, 1, "x", 1);
  CHECK (vmproto_encode (&m, NULL, 0) == -EINVAL, "type 0: -EINVAL");
  m = vmproto_msg_signal (1, 0);
  CHECK (vmproto_encode (&m, NULL, 0) == -EINVAL, "signal 0: -EINVAL");
  m = vmproto_msg_exit (1, 0x137f, 0);
  CHECK (vmproto_encode (&m, NULL, 0) == -EINVAL, "a stopped status: -EINVAL");
  m = vmproto_msg_failed (1, 2, 1, "x");
  CHECK (vmproto_encode (&m, NULL, 0) == -EINVAL, "FAILED with exit code 1: -EINVAL");
  m = vmproto_msg_started (1, 1);
  uint8_t small[8];
  CHECK (vmproto_encode (&m, small, sizeof (small)) == -ENOBUFS, "too small a buffer: -ENOBUFS");
  m = vmproto_msg_log (0, "");
  CHECK (vmproto_encode (&m, NULL, 0) == -EINVAL, "an empty LOG line: -EINVAL");
  CHECK (strcmp (vmproto_type_name (VMPROTO_PS_REPLY), "PS_REPLY") == 0 && vmproto_type_name (0) == NULL
             && vmproto_type_name (VMPROTO_TYPE_MAX) == NULL,
         "type names");
}

static const char *
sanitized (const char *raw, size_t size)
{
  static char out[VMPROTO_TEXT_MAX + 1];
  uint8_t buf[VMPROTO_HEADER_SIZE + VMPROTO_TEXT_MAX];
  struct vmproto_msg m = vmproto_msg_log (1, raw);
  ssize_t n = vmproto_encode (&m, buf, sizeof (buf));
  struct vmproto_frame f = {
    .type = VMPROTO_LOG, .stream = 1, .len = (uint32_t)(n - VMPROTO_HEADER_SIZE), .payload = buf + VMPROTO_HEADER_SIZE
  };
  strcpy (out, "(error)");
  if (n < 0 || vmproto_get_log (&f, out, size) < 0)
    return "(error)";
  return out;
}

static void
test_text (void)
{
  CHECK_STR (sanitized ("plain\ttab", 100), "plain\ttab", "tabs and ASCII pass");
  CHECK_STR (sanitized ("a\033]0;pwned\007b\r\n", 100), "a?]0;pwned?b??", "C0 controls become ?");
  CHECK_STR (sanitized ("x\x7fy", 100), "x?y", "DEL becomes ?");
  CHECK_STR (sanitized ("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", 100), "café € 🐳", "UTF-8 passes");
  CHECK_STR (sanitized ("c1\xc2\x9b"
                        "2J",
                        100),
             "c1??2J", "C1 controls (CSI) become ?");
  CHECK_STR (sanitized ("\xc0\xaf\xe0\x80\xaf", 100), "?????", "overlong forms become ?");
  CHECK_STR (sanitized ("\xed\xa0\x80", 100), "???", "surrogates become ?");
  CHECK_STR (sanitized ("\xf4\x90\x80\x80", 100), "????", "beyond U+10FFFF becomes ?");
  CHECK_STR (sanitized ("\xe2\x82", 100), "??", "a cut sequence becomes ?");
  CHECK_STR (sanitized ("\xff\xfe", 100), "??", "invalid bytes become ?");
  CHECK_STR (sanitized ("ab\xe2\x82\xac", 5), "ab", "output is cut at a character boundary");
  CHECK_STR (sanitized ("abcdef", 4), "abc", "output is cut to fit with its NUL");
  CHECK_STR (sanitized ("a", 1), "", "a 1-byte buffer holds the NUL");

  static char long_msg[VMPROTO_TEXT_MAX + 10];
  memset (long_msg, 'x', sizeof (long_msg) - 1);
  memcpy (long_msg + VMPROTO_TEXT_MAX - 1, "\xe2\x82\xac", 3); /* € straddles the limit */
  struct vmproto_msg m = vmproto_msg_failed (1, 2, 127, long_msg);
  CHECK (m.tail_len == VMPROTO_TEXT_MAX - 1 && vmproto_encode (&m, NULL, 0) > 0,
         "a long message is cut before a straddling character (%u bytes)", m.tail_len);
}

static void
test_decoder_bounds (void)
{
  struct vmproto_decoder d;
  vmproto_decoder_init (&d, VMPROTO_HOST);
  static uint8_t junk[VMPROTO_DECODER_MAX];
  CHECK (vmproto_decoder_feed (&d, junk, sizeof (junk)) == 0, "the decoder takes up to its bound");
  CHECK (vmproto_decoder_feed (&d, junk, 1) == -ENOBUFS, "and not a byte more");
  CHECK (d.cap <= VMPROTO_DECODER_MAX, "its buffer stays within the bound (%zu)", d.cap);
  vmproto_decoder_clear (&d);

  /* A maximal START read from a pipe, 64 KiB at a time. */
  int p[2];
  if (pipe2 (p, O_NONBLOCK) < 0)
    return;
  static char json[VMPROTO_PAYLOAD_MAX];
  memset (json, ' ', sizeof (json));
  json[0] = '{', json[sizeof (json) - 1] = '}';
  pid_t child = fork ();
  if (child == 0)
    {
      close (p[0]);
      struct vmproto_msg hello = vmproto_msg_hello ("host"), start = vmproto_msg_start (json, sizeof (json)),
                         ps = vmproto_msg_ps (1);
      _exit (vmproto_send (p[1], &hello) == 0 && vmproto_send (p[1], &start) == 0 && vmproto_send (p[1], &ps) == 0 ? 0
                                                                                                                   : 1);
    }
  close (p[1]);
  vmproto_decoder_init (&d, VMPROTO_HOST);
  size_t frames = 0, maxcap = 0;
  bool got_start = false;
  int r = 0;
  for (;;)
    {
      struct pollfd pfd = { .fd = p[0], .events = POLLIN };
      (void)poll (&pfd, 1, 5000);
      ssize_t n = vmproto_decoder_read (&d, p[0]);
      if (n == -EAGAIN)
        continue;
      if (n <= 0)
        break;
      struct vmproto_frame f;
      while ((r = vmproto_decoder_next (&d, &f)) == 1)
        {
          frames++;
          if (f.type == VMPROTO_START)
            got_start = f.len == sizeof (json) && memcmp (f.payload, json, sizeof (json)) == 0;
        }
      if (d.cap > maxcap)
        maxcap = d.cap;
      if (r < 0)
        break;
    }
  int status;
  waitpid (child, &status, 0);
  CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0, "vmproto_send writes to a non-blocking pipe");
  CHECK (r == 0 && frames == 3 && got_start, "a maximal START arrives whole through a pipe (%zu frames)", frames);
  CHECK (maxcap <= VMPROTO_DECODER_MAX, "the decoder held at most one frame and one read (%zu bytes)", maxcap);
  CHECK (vmproto_decoder_pending (&d) == 0, "nothing pending at end of file");
  close (p[0]);
  vmproto_decoder_clear (&d);

  /* End of file in the middle of a frame. */
  vmproto_decoder_init (&d, VMPROTO_GUEST);
  struct vmproto_frame f;
  CHECK (vmproto_decoder_feed (&d, hello_frame, sizeof (hello_frame) - 1) == 0 && vmproto_decoder_next (&d, &f) == 0
             && vmproto_decoder_pending (&d) == sizeof (hello_frame) - 1,
         "a cut frame stays pending");
  vmproto_decoder_clear (&d);
}

static void
test_queue (void)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
    return;
  int small = 4096;
  (void)setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof (small));
  (void)setsockopt (sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof (small));

  struct vmproto_queue q;
  vmproto_queue_init (&q);
  struct vmproto_msg hello = vmproto_msg_hello ("agent");
  CHECK (vmproto_queue_push (&q, &hello) == 0 && vmproto_queue_flush (&q, sv[0]) == 0
             && vmproto_queue_pending (&q) == 0,
         "a small frame flushes at once");

  static uint8_t data[200 * 1024];
  for (size_t i = 0; i < sizeof (data); i++)
    data[i] = (uint8_t)(i * 7 + i / 251);
  CHECK (vmproto_queue_data (&q, VMPROTO_STDOUT, 1, data, sizeof (data)) == 0, "200 KiB of output queued");
  CHECK (vmproto_queue_pending (&q) == sizeof (data) + 4 * VMPROTO_HEADER_SIZE, "as 4 frames");
  struct vmproto_msg exit_msg = vmproto_msg_exit (1, 0, 0);
  CHECK (vmproto_queue_push (&q, &exit_msg) == 0, "then EXIT");
  CHECK (vmproto_queue_data (&q, VMPROTO_STDOUT, 0, data, 10) == -EINVAL, "data on stream 0 is refused");
  CHECK (vmproto_queue_data (&q, VMPROTO_EXIT, 1, data, 10) == -EINVAL, "queue_data takes only data types");
  CHECK (vmproto_queue_data (&q, VMPROTO_STDOUT, 1, data, 0) == 0, "no bytes, no frame");
  int r = vmproto_queue_flush (&q, sv[0]);
  CHECK (r == 1 && vmproto_queue_pending (&q) > 0, "the socket fills up: flush says so (pending %zu)",
         vmproto_queue_pending (&q));

  struct vmproto_decoder d;
  vmproto_decoder_init (&d, VMPROTO_GUEST);
  size_t got = 0, frames = 0, rounds = 0;
  bool exited = false, intact = true;
  int dr = 0;
  while (!exited && rounds++ < 100000)
    {
      ssize_t n = vmproto_decoder_read (&d, sv[1]);
      if (n < 0 && n != -EAGAIN)
        break;
      struct vmproto_frame f;
      while ((dr = vmproto_decoder_next (&d, &f)) == 1)
        {
          frames++;
          if (f.type == VMPROTO_STDOUT)
            {
              intact = intact && got + f.len <= sizeof (data) && memcmp (f.payload, data + got, f.len) == 0;
              got += f.len;
            }
          exited = exited || f.type == VMPROTO_EXIT;
        }
      if (dr < 0)
        break;
      r = vmproto_queue_flush (&q, sv[0]);
      if (r < 0)
        break;
    }
  CHECK (exited && dr == 0 && r == 0, "draining the reader lets the queue flush to the end");
  CHECK (got == sizeof (data) && intact && frames == 6, "every byte arrives, in order (%zu frames)", frames);
  CHECK (vmproto_queue_pending (&q) == 0, "the queue is empty");

  /* A peer that never reads: the queue refuses to grow without bound. */
  int ret = 0;
  size_t pushed = 0;
  while ((ret = vmproto_queue_data (&q, VMPROTO_STDIN, 1, data, sizeof (data))) == 0)
    pushed++;
  CHECK (ret == -ENOBUFS && vmproto_queue_pending (&q) <= VMPROTO_QUEUE_MAX, "-ENOBUFS at the bound (%zu pushes)",
         pushed);
  r = vmproto_queue_flush (&q, sv[0]);
  CHECK (r == 1, "flushing to a full socket would block");
  close (sv[1]);
  signal (SIGPIPE, SIG_IGN);
  do
    r = vmproto_queue_flush (&q, sv[0]);
  while (r == 1);
  CHECK (r == -EPIPE, "a closed peer is -EPIPE");
  vmproto_queue_clear (&q);
  vmproto_decoder_clear (&d);
  close (sv[0]);
}

int
main (void)
{
  test_host_messages ();
  test_guest_messages ();
  test_hello ();
  test_rejects ();
  test_encoder_rejects ();
  test_text ();
  test_decoder_bounds ();
  test_queue ();
  return tap_done ();
}
