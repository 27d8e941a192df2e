/* The VM protocol between a container's monitor (host) and the agent that is PID 1 in the container's VM (guest):
   length-prefixed frames, multiplexed by stream id, over one virtio-serial port.  Documented in docs/VMPROTO.md.

   frame = type (u16) | flags (u16, 0) | stream (u32) | length (u32) | payload, all little endian

   The same code is built into the monitor and into the static agent, so it uses nothing but libc (and error.h).
   Everything the peer sends is untrusted: the decoder checks each header before it waits for the payload, bounds
   its buffer, and returns only frames whose type, direction, stream and payload are valid. */
#ifndef ISOLA_VMPROTO_H
#define ISOLA_VMPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

#define VMPROTO_VERSION      5
#define VMPROTO_MAGIC        0x4d565349u /* first HELLO field: the bytes "ISVM" */
#define VMPROTO_HEADER_SIZE  12
#define VMPROTO_PAYLOAD_MAX  (1024 * 1024) /* START, EXEC, PS_REPLY, RESOURCES(_REPLY) (JSON) */
#define VMPROTO_DATA_MAX     (64 * 1024)   /* STDIN, STDOUT, STDERR */
#define VMPROTO_TEXT_MAX     4096          /* FAILED's message, a LOG line */
#define VMPROTO_SOFTWARE_MAX 256           /* HELLO's software version */
#define VMPROTO_FIXED_MAX    8             /* the fixed-size fields that precede a payload's variable part */
#define VMPROTO_READ_SIZE    (64 * 1024)
/* The decoder never holds more than one maximal frame plus one read. */
#define VMPROTO_DECODER_MAX (VMPROTO_HEADER_SIZE + VMPROTO_PAYLOAD_MAX + VMPROTO_READ_SIZE)
/* An output queue refuses frames beyond this: the peer has stopped reading.  Callers stop reading their own sources
   above VMPROTO_QUEUE_HIGH so that it is never reached in normal operation. */
#define VMPROTO_QUEUE_MAX  (4 * 1024 * 1024)
#define VMPROTO_QUEUE_HIGH (256 * 1024)
/* Each process's input window: the host sends at most this many STDIN bytes that the guest has not acknowledged
   (STDIN_ACK) yet, so the guest buffers a bounded amount for a process that reads slowly. */
#define VMPROTO_STDIN_WINDOW (256 * 1024)

#define VMPROTO_STREAM_CONTROL  0 /* HELLO, SHUTDOWN */
#define VMPROTO_STREAM_MAIN     1 /* the container's main process */
#define VMPROTO_STREAM_EXEC_MIN 2 /* each exec: chosen by the host, never reused in a VM's life */

#define VMPROTO_PID_MAX    (4 * 1024 * 1024) /* Linux's PID_MAX_LIMIT */
#define VMPROTO_SIGNAL_MAX 64
#define VMPROTO_EXIT_OOM   1u /* EXIT flags: the process was killed by the OOM killer */

enum vmproto_type /* wire values: never renumber */
{
  VMPROTO_HELLO = 1,            /* both ways, first: magic, version (u32 each), software version (text) */
  VMPROTO_START = 2,            /* host → guest, stream 1: JSON, the container's main process and its setup */
  VMPROTO_EXEC = 3,             /* host → guest, stream ≥ 2: JSON, an extra process */
  VMPROTO_STDIN = 4,            /* host → guest: bytes */
  VMPROTO_CLOSE_STDIN = 5,      /* host → guest: no payload */
  VMPROTO_RESIZE = 6,           /* host → guest: rows, cols (u16 each) */
  VMPROTO_SIGNAL = 7,           /* host → guest: signal number (u32) for the stream's process */
  VMPROTO_PS = 8,               /* host → guest, stream = request id: no payload */
  VMPROTO_SHUTDOWN = 9,         /* host → guest, stream 0: stop everything and power off */
  VMPROTO_STARTED = 10,         /* guest → host: the process's PID in the guest (u32) */
  VMPROTO_FAILED = 11,          /* guest → host: errno (i32), exit code 125/126/127 (u32), message (text) */
  VMPROTO_STDOUT = 12,          /* guest → host: bytes */
  VMPROTO_STDERR = 13,          /* guest → host: bytes */
  VMPROTO_EXIT = 14,            /* guest → host, last on its stream: wait status, flags (u32 each) */
  VMPROTO_PS_REPLY = 15,        /* guest → host, stream = the PS's request id: JSON array */
  VMPROTO_LOG = 16,             /* guest → host, any stream: a line for the monitor's debug log (text) */
  VMPROTO_PAUSE = 17,           /* host → guest: stop reading the process's output (its reader is behind) */
  VMPROTO_RESUME = 18,          /* host → guest: read it again */
  VMPROTO_STDIN_ACK = 19,       /* guest → host: the process took (or dropped) this many more input bytes (u32) */
  VMPROTO_RESOURCES = 20,       /* host → guest, stream = request id: JSON, {"Update": limits} or {} (read usage) */
  VMPROTO_RESOURCES_REPLY = 21, /* guest → host, stream = the request's id: JSON, {"Error": text} or the usage */
  VMPROTO_NETWORK = 22,         /* host → guest, stream = request id: JSON, {"Network": the NICs as in START's} */
  VMPROTO_NETWORK_REPLY = 23,   /* guest → host, stream = the request's id: JSON, {"Error": text} or {} */
  VMPROTO_TYPE_MAX,
};

/* Which end sends: a decoder is told which end it reads from and refuses the other end's messages. */
enum vmproto_side
{
  VMPROTO_HOST = 1,
  VMPROTO_GUEST = 2,
};

/* A received frame.  payload points into the decoder's buffer: valid until the decoder is fed or read again. */
struct vmproto_frame
{
  uint16_t type;
  uint32_t stream;
  uint32_t len;
  const uint8_t *payload;
};

/* An outgoing message: fixed-size fields (encoded little endian by the vmproto_msg_* constructors) then a
   variable part that is not copied until the message is encoded, sent or queued. */
struct vmproto_msg
{
  uint16_t type;
  uint32_t stream;
  uint32_t fixed_len;
  uint8_t fixed[VMPROTO_FIXED_MAX];
  const void *tail;
  uint32_t tail_len;
};

/* The name of a type ("EXIT"), or NULL for an unknown one. */
const char *vmproto_type_name (uint16_t type);

/* Constructors.  Text arguments are NUL-terminated and cut (at a character boundary) to their limit; byte and JSON
   payloads that are too long make encoding fail with -EMSGSIZE. */
struct vmproto_msg vmproto_msg_hello (const char *software);
struct vmproto_msg vmproto_msg_start (const void *json, size_t len);
struct vmproto_msg vmproto_msg_exec (uint32_t stream, const void *json, size_t len);
struct vmproto_msg vmproto_msg_data (uint16_t type, uint32_t stream, const void *data, size_t len);
struct vmproto_msg vmproto_msg_close_stdin (uint32_t stream);
struct vmproto_msg vmproto_msg_pause (uint32_t stream);
struct vmproto_msg vmproto_msg_resume (uint32_t stream);
struct vmproto_msg vmproto_msg_resize (uint32_t stream, uint16_t rows, uint16_t cols);
struct vmproto_msg vmproto_msg_signal (uint32_t stream, uint32_t sig);
struct vmproto_msg vmproto_msg_ps (uint32_t request);
struct vmproto_msg vmproto_msg_resources (uint32_t request, const void *json, size_t len);
struct vmproto_msg vmproto_msg_resources_reply (uint32_t request, const void *json, size_t len);
struct vmproto_msg vmproto_msg_network (uint32_t request, const void *json, size_t len);
struct vmproto_msg vmproto_msg_network_reply (uint32_t request, const void *json, size_t len);
struct vmproto_msg vmproto_msg_shutdown (void);
struct vmproto_msg vmproto_msg_started (uint32_t stream, uint32_t pid);
struct vmproto_msg vmproto_msg_failed (uint32_t stream, int32_t errnum, uint32_t exit_code, const char *message);
struct vmproto_msg vmproto_msg_exit (uint32_t stream, uint32_t status, uint32_t flags);
struct vmproto_msg vmproto_msg_ps_reply (uint32_t request, const void *json, size_t len);
struct vmproto_msg vmproto_msg_log (uint32_t stream, const char *line);
struct vmproto_msg vmproto_msg_stdin_ack (uint32_t stream, uint32_t bytes);

/* Encodes m into out and returns its size; with out NULL, only validates m and returns the size it needs.
   -EINVAL for a message the peer would refuse, -EMSGSIZE for an oversized one, -ENOBUFS when size is too small. */
ssize_t vmproto_encode (const struct vmproto_msg *m, uint8_t *out, size_t size);

/* Writes one frame to fd, retrying on short writes and EINTR, and waiting (poll) when fd is non-blocking.
   Like write(2), it raises SIGPIPE when the peer is gone unless the caller ignores it. */
int vmproto_send (int fd, const struct vmproto_msg *m);

/* Output queue for a non-blocking fd in a poll() loop: push frames, flush what fd accepts, poll for POLLOUT while
   vmproto_queue_pending is non-zero. */
struct vmproto_queue
{
  uint8_t *buf;
  size_t head, len, cap; /* bytes [head, len) of buf are still to be written */
};

void vmproto_queue_init (struct vmproto_queue *q);
void vmproto_queue_clear (struct vmproto_queue *q);
/* 0, or what vmproto_encode returns, or -ENOBUFS beyond VMPROTO_QUEUE_MAX, or -ENOMEM. */
int vmproto_queue_push (struct vmproto_queue *q, const struct vmproto_msg *m);
/* STDIN/STDOUT/STDERR bytes of any length, split into frames of at most VMPROTO_DATA_MAX; all or nothing. */
int vmproto_queue_data (struct vmproto_queue *q, uint16_t type, uint32_t stream, const void *data, size_t len);
/* Writes what fd accepts: 0 when the queue is empty, 1 when bytes remain (fd would block), or -errno. */
int vmproto_queue_flush (struct vmproto_queue *q, int fd);
size_t vmproto_queue_pending (const struct vmproto_queue *q);

/* Incremental decoder for the byte stream that side `from` sends.  The first frame must be HELLO, and only the
   first.  Errors are sticky: after -EPROTO the connection is over. */
struct vmproto_decoder
{
  uint8_t *buf;
  size_t len, cap;
  size_t consumed; /* bytes of buf already returned as frames */
  enum vmproto_side from;
  bool hello_seen;
  int error;
};

void vmproto_decoder_init (struct vmproto_decoder *d, enum vmproto_side from);
void vmproto_decoder_clear (struct vmproto_decoder *d);
/* For a connection that continues an earlier one whose HELLOs were exchanged (a VM restored from a template, which
   greeted the host that saved it): no HELLO comes first. */
void vmproto_decoder_resume (struct vmproto_decoder *d);
/* Appends received bytes: 0, or -ENOBUFS when more than VMPROTO_READ_SIZE is fed without taking the complete frames
   out with vmproto_decoder_next, or -ENOMEM, or the sticky error. */
int vmproto_decoder_feed (struct vmproto_decoder *d, const void *data, size_t len);
/* Reads at most VMPROTO_READ_SIZE bytes from fd into the decoder: the count, 0 at end of file, or -errno (-EAGAIN). */
ssize_t vmproto_decoder_read (struct vmproto_decoder *d, int fd);
/* 1 and a frame, 0 when more bytes are needed, or -EPROTO. */
int vmproto_decoder_next (struct vmproto_decoder *d, struct vmproto_frame *out);
/* Bytes received but not yet returned as frames: non-zero at end of file means the peer stopped mid-frame. */
size_t vmproto_decoder_pending (const struct vmproto_decoder *d);

/* Checks a frame as the decoder does, except for direction and order: 0 or -EPROTO. */
int vmproto_frame_check (const struct vmproto_frame *f);

/* Typed payload decoders: 0, -EINVAL for a frame of another type, -EPROTO for a malformed one; outputs are written
   only on success.  Text is copied NUL-terminated into (buf, size), cut at a character boundary to fit, with
   control characters and malformed UTF-8 replaced by '?': it is safe to print on a terminal.  START, EXEC, STDIN,
   STDOUT, STDERR, PS_REPLY, RESOURCES(_REPLY) and NETWORK(_REPLY) carry their bytes or JSON as the frame's payload
   itself. */
int vmproto_get_hello (const struct vmproto_frame *f, uint32_t *version, char *software, size_t size);
int vmproto_get_started (const struct vmproto_frame *f, uint32_t *pid);
int vmproto_get_failed (const struct vmproto_frame *f, int32_t *errnum, uint32_t *exit_code, char *message,
                        size_t size);
int vmproto_get_resize (const struct vmproto_frame *f, uint16_t *rows, uint16_t *cols);
int vmproto_get_signal (const struct vmproto_frame *f, uint32_t *sig);
int vmproto_get_exit (const struct vmproto_frame *f, uint32_t *status, uint32_t *flags);
int vmproto_get_log (const struct vmproto_frame *f, char *line, size_t size);
int vmproto_get_stdin_ack (const struct vmproto_frame *f, uint32_t *bytes);

/* Checks the peer's first frame: 0 when it is a HELLO of this version; otherwise -EPROTONOSUPPORT (another
   version) or -EPROTO, with a message naming the peer ("guest agent") and both versions. */
int vmproto_check_hello (const struct vmproto_frame *f, const char *peer, isola_error_t *err);

#endif
