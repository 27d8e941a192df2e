/* The hijacked connections of attach and exec start: relaying between a client's raw socket and a session with a
   container's monitor (the attach protocol, proto/attach.h), and the attaches that wait for their container's start
   (`docker run` attaches before it starts). */
#ifndef ISOLA_SERVE_HIJACK_H
#define ISOLA_SERVE_HIJACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "proto/attach.h"
#include "proto/detach_keys.h"

#define SERVE_RELAY_DETACHED (-2)

struct relay_opts
{
  bool tty;                   /* raw output; without, Docker's 8-byte frames (stream, 0, 0, 0, length) */
  bool stdin, stdout, stderr; /* the streams the client attached */
  pthread_mutex_t *send_lock; /* NULL, or held around each frame to the monitor (another thread resizes) */
  struct detach_keys *keys;   /* NULL, or the keys that detach (with a terminal, as dockerd: proto/detach_keys.h) */
};

/* Relays until the session's EXIT (its code returned), the monitor's end (-1), the client's (-1), or the client's
   detach keys (SERVE_RELAY_DETACHED, the monitor told: the container or the exec runs on).  extra: what the client
   sent with its request, stdin already.  Closes neither socket: the caller half-closes the client's
   (shutdown SHUT_WR), which ends the client's stream, once it has recorded what the end means. */
int serve_relay (int client, int monitor, struct attach_decoder *dec, const struct relay_opts *o, const char *extra,
                 size_t extra_len);

/* An attach to a container that is not running waits for its start. */
struct pending_attach;
/* Registers one for container id; serve_attach_wait blocks until a start hands it a session (1: *fd, *dec), tells
   it to attach by itself (0: started, or its start failed), or the client went away (-1).  Without block, it returns
   0 at once unless a start came; with fd NULL, a session a start handed is closed.  p is freed. */
struct pending_attach *serve_attach_register (const char *id);
int serve_attach_wait (struct pending_attach *p, int client, bool block, int *fd, struct attach_decoder *dec);
/* The start's side: whether an attach waits for container id (then container_start must hand it a session). */
bool serve_attach_waiting (const char *id);
/* Hands the session of the start (fd -1: the start failed) to the first waiting attach, and wakes the others. */
void serve_attach_started (const char *id, int fd, struct attach_decoder *dec);

#endif
