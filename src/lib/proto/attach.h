/* The attach protocol between a container's monitor and its clients (isola run/start/attach): length-prefixed
   frames over a stream socket, in both directions.  Documented in docs/ATTACH.md.

   frame = type (1 byte) | 3 zero bytes | payload length (4 bytes, big endian, at most ATTACH_PAYLOAD_MAX) | payload

   Everything a peer sends is untrusted: lengths are bounded, unknown types are refused. */
#ifndef ISOLA_ATTACH_H
#define ISOLA_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ATTACH_VERSION     2
#define ATTACH_HEADER_SIZE 8
#define ATTACH_PAYLOAD_MAX (64 * 1024)

enum attach_type
{
  ATTACH_HELLO = 1,   /* both ways: payload = protocol version (1 byte) */
  ATTACH_STARTED,     /* monitor → client: payload = pid (4 bytes, big endian) */
  ATTACH_FAILED,      /* monitor → client: exit code (4 bytes) + message */
  ATTACH_STDIN,       /* client → monitor: bytes for the container's stdin */
  ATTACH_STDOUT,      /* monitor → client */
  ATTACH_STDERR,      /* monitor → client */
  ATTACH_CLOSE_STDIN, /* client → monitor: the client's stdin ended */
  ATTACH_RESIZE,      /* client → monitor: rows, cols (2 bytes each, big endian) */
  ATTACH_SIGNAL,      /* client → monitor: signal number (4 bytes) for the container's main process */
  ATTACH_EXIT,        /* monitor → client: the container's exit code (4 bytes) */
  ATTACH_PS,          /* client → monitor: list the container's processes (a VM's, which only the monitor reaches) */
  ATTACH_PS_REPLY,    /* monitor → client: JSON array of `ps -ef` rows */
  ATTACH_EXEC,        /* client → monitor, first: JSON, a process to run (VM); the connection is then its session */
  ATTACH_RESOURCES,   /* client → monitor: JSON for the agent's cgroup of the container (a VM's): {"Update": limits}
                         changes its limits, {} reads its usage */
  ATTACH_RESOURCES_REPLY, /* monitor → client: JSON, {"Error": text} or what the agent read */
  ATTACH_DETACH,          /* client → monitor: it leaves (detach keys); the exec it is the session of goes on */
  ATTACH_ATTACH,          /* client → monitor, first: it is attached: the container's output comes to it from now */
  ATTACH_NETWORK,         /* client → monitor: JSON for the agent, {"Network": the guest's NICs} (a VM's) */
  ATTACH_NETWORK_REPLY,   /* monitor → client: JSON, {"Error": text} or {} */
  ATTACH_TYPE_MAX,
};

struct attach_frame
{
  uint8_t type;
  uint32_t len;
  const uint8_t *payload; /* points into the decoder's buffer; valid until the next call */
};

/* Incremental decoder for a byte stream. */
struct attach_decoder
{
  uint8_t *buf;
  size_t len, cap;
  size_t consumed; /* bytes of buf already returned as frames */
};

void attach_decoder_init (struct attach_decoder *d);
void attach_decoder_clear (struct attach_decoder *d);
/* Appends received bytes. */
void attach_decoder_feed (struct attach_decoder *d, const void *data, size_t len);
/* Reads at most ATTACH_READ_SIZE bytes from fd straight into the decoder's buffer (no copy on the way): read(2)'s
   result, -1 with errno set. */
#define ATTACH_READ_SIZE (256 * 1024)
ssize_t attach_decoder_read (struct attach_decoder *d, int fd);
/* 1 and a frame when one is complete, 0 when more bytes are needed, -EPROTO for a malformed stream. */
int attach_decoder_next (struct attach_decoder *d, struct attach_frame *out);

/* Encodes a frame into out (ATTACH_HEADER_SIZE + len bytes); returns its size. */
size_t attach_encode (uint8_t *out, uint8_t type, const void *payload, uint32_t len);
/* Only the header of a frame whose payload is sent from where it is (writev, sendmsg). */
void attach_encode_header (uint8_t out[ATTACH_HEADER_SIZE], uint8_t type, uint32_t len);
/* Writes one frame to the socket fd (blocking); -EPIPE, not SIGPIPE, when the peer has gone. */
int attach_send (int fd, uint8_t type, const void *payload, uint32_t len);
int attach_send_u32 (int fd, uint8_t type, uint32_t value);

uint32_t attach_get_u32 (const uint8_t *p);
void attach_put_u32 (uint8_t *p, uint32_t v);

#endif
