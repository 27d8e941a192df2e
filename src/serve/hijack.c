/* Hijacked connections (serve/hijack.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "hijack.h"

#define STDIN_CHUNK (32 * 1024)

/* One frame of the container's output to the client: raw with a terminal, else behind Docker's header. */
static int
send_output (int client, const struct relay_opts *o, int stream, const uint8_t *data, size_t len)
{
  if ((stream == 1 && !o->stdout) || (stream == 2 && !o->stderr))
    return 0;
  if (!o->tty)
    {
      uint8_t hdr[8] = { (uint8_t)stream, 0, 0, 0 };
      attach_put_u32 (hdr + 4, (uint32_t)len);
      if (send_all (client, hdr, sizeof hdr) < 0)
        return -1;
    }
  return send_all (client, data, len);
}

static int
send_frame (int monitor, const struct relay_opts *o, uint8_t type, const void *data, size_t len)
{
  if (o->send_lock)
    pthread_mutex_lock (o->send_lock);
  int ret = attach_send (monitor, type, data, (uint32_t)len);
  if (o->send_lock)
    pthread_mutex_unlock (o->send_lock);
  return ret;
}

static int
send_stdin_frames (int monitor, const struct relay_opts *o, const char *data, size_t len)
{
  while (len > 0)
    {
      size_t k = len < STDIN_CHUNK ? len : STDIN_CHUNK;
      if (send_frame (monitor, o, ATTACH_STDIN, data, k) < 0)
        return -1;
      data += k, len -= k;
    }
  return 0;
}

/* The client's input to the container, through the detach keys when there are some: 1 when they were typed (what
   came before them sent, the monitor told to let the session go on without us). */
static int
send_stdin (int monitor, const struct relay_opts *o, const char *data, size_t len)
{
  if (o->keys == NULL || o->keys->n == 0)
    return send_stdin_frames (monitor, o, data, len);
  uint8_t out[STDIN_CHUNK + DETACH_KEYS_MAX];
  while (len > 0 || data == NULL)
    {
      size_t k = len < STDIN_CHUNK ? len : STDIN_CHUNK, m = 0;
      bool detached = detach_keys_filter (o->keys, (const uint8_t *)data, k, out, &m);
      if (send_stdin_frames (monitor, o, (const char *)out, m) < 0)
        return -1;
      if (detached)
        return send_frame (monitor, o, ATTACH_DETACH, NULL, 0) < 0 ? -1 : 1;
      if (data == NULL)
        break;
      data += k, len -= k;
    }
  return 0;
}

/* The frames the decoder holds: 1 when the session is over (*code set), -1 when the client is gone. */
static int
drain_frames (int client, struct attach_decoder *dec, const struct relay_opts *o, int *code)
{
  struct attach_frame f;
  int ret;
  while ((ret = attach_decoder_next (dec, &f)) == 1)
    switch (f.type)
      {
      case ATTACH_STDOUT:
      case ATTACH_STDERR:
        if (send_output (client, o, f.type == ATTACH_STDOUT ? 1 : 2, f.payload, f.len) < 0)
          return -1;
        break;
      case ATTACH_EXIT:
        *code = f.len >= 4 ? (int)attach_get_u32 (f.payload) : -1;
        return 1;
      case ATTACH_FAILED:
        if (f.len > 4)
          (void)send_output (client, o, 2, f.payload + 4, f.len - 4);
        *code = f.len >= 4 ? (int)attach_get_u32 (f.payload) : 125;
        return 1;
      default:
        break;
      }
  if (ret < 0)
    {
      *code = -1;
      return 1;
    }
  return 0;
}

int
serve_relay (int client, int monitor, struct attach_decoder *dec, const struct relay_opts *o, const char *extra,
             size_t extra_len)
{
  int code = -1;
  bool stdin_open = o->stdin;
  int sent = stdin_open && extra_len > 0 ? send_stdin (monitor, o, extra, extra_len) : 0;
  if (sent != 0)
    return sent > 0 ? SERVE_RELAY_DETACHED : -1;
  int ret = drain_frames (client, dec, o, &code);
  while (ret == 0)
    {
      /* The client: its stdin while it sends any, else only whether it has gone (POLLHUP: the docker CLI half-closes
         a connection it sends no stdin on, so its end of input is no sign it left). */
      struct pollfd fds[2]
          = { { .fd = monitor, .events = POLLIN }, { .fd = client, .events = (short)(stdin_open ? POLLIN : 0) } };
      if (poll (fds, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        {
          ssize_t n = attach_decoder_read (dec, monitor);
          if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
            break; /* the monitor is gone */
          if ((ret = drain_frames (client, dec, o, &code)) != 0)
            break;
        }
      if (!stdin_open && (fds[1].revents & (POLLHUP | POLLERR)))
        break; /* the client left: the container goes on */
      if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
        {
          char buf[STDIN_CHUNK];
          ssize_t n = read (client, buf, sizeof buf);
          int r = n > 0 ? send_stdin (monitor, o, buf, (size_t)n) : 0;
          if (r > 0)
            return SERVE_RELAY_DETACHED;
          if (r < 0)
            break;
          if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            {
              /* The docker CLI half-closes at the end of its stdin: the container's stdin ends, its output goes on;
                 a partial detach sequence is the container's. */
              if (n == 0 && send_stdin (monitor, o, NULL, 0) < 0)
                break;
              stdin_open = false;
              if (send_frame (monitor, o, ATTACH_CLOSE_STDIN, NULL, 0) < 0)
                break;
              if (n < 0)
                break;
            }
        }
    }
  return ret == 1 ? code : -1;
}

/* --- attaches waiting for a start ----------------------------------------------------------------------------- */

struct pending_attach
{
  char id[65];
  bool woken;
  int fd; /* the start's session, or -1 */
  struct attach_decoder dec;
  pthread_cond_t cond;
  struct pending_attach *next;
};

static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending_attach *pending;

struct pending_attach *
serve_attach_register (const char *id)
{
  struct pending_attach *p = xcalloc (1, sizeof *p);
  snprintf (p->id, sizeof p->id, "%s", id);
  p->fd = -1;
  attach_decoder_init (&p->dec);
  pthread_condattr_t attr;
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&p->cond, &attr);
  pthread_condattr_destroy (&attr);
  pthread_mutex_lock (&pending_lock);
  p->next = pending;
  pending = p;
  pthread_mutex_unlock (&pending_lock);
  return p;
}

static void
unregister (struct pending_attach *p)
{
  for (struct pending_attach **q = &pending; *q; q = &(*q)->next)
    if (*q == p)
      {
        *q = p->next;
        break;
      }
}

/* Gone for good (not half-closed, which the docker CLI does when it has no stdin to send). */
static bool
client_left (int client)
{
  struct pollfd p = { .fd = client, .events = 0 };
  return poll (&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

int
serve_attach_wait (struct pending_attach *p, int client, bool block, int *fd, struct attach_decoder *dec)
{
  int ret = -1;
  pthread_mutex_lock (&pending_lock);
  for (;;)
    {
      if (p->woken)
        {
          ret = p->fd >= 0 ? 1 : 0;
          if (fd == NULL)
            {
              if (p->fd >= 0)
                close (p->fd);
              break;
            }
          *fd = p->fd;
          *dec = p->dec; /* the decoder's buffer changes hands */
          attach_decoder_init (&p->dec);
          break;
        }
      if (!block)
        {
          ret = 0;
          break;
        }
      /* A client that gave up before the start: checked every 200 ms (the start wakes us at once). */
      if (client_left (client))
        break;
      struct timespec t;
      clock_gettime (CLOCK_MONOTONIC, &t);
      t.tv_nsec += 200 * 1000 * 1000;
      if (t.tv_nsec >= 1000000000)
        t.tv_sec++, t.tv_nsec -= 1000000000;
      pthread_cond_timedwait (&p->cond, &pending_lock, &t);
    }
  unregister (p);
  pthread_mutex_unlock (&pending_lock);
  attach_decoder_clear (&p->dec);
  pthread_cond_destroy (&p->cond);
  free (p);
  return ret;
}

bool
serve_attach_waiting (const char *id)
{
  pthread_mutex_lock (&pending_lock);
  bool found = false;
  for (struct pending_attach *p = pending; p && !found; p = p->next)
    found = !p->woken && strcmp (p->id, id) == 0;
  pthread_mutex_unlock (&pending_lock);
  return found;
}

void
serve_attach_started (const char *id, int fd, struct attach_decoder *dec)
{
  pthread_mutex_lock (&pending_lock);
  for (struct pending_attach *p = pending; p; p = p->next)
    {
      if (p->woken || strcmp (p->id, id) != 0)
        continue;
      p->woken = true;
      if (fd >= 0)
        {
          p->fd = fd;
          p->dec = *dec;
          attach_decoder_init (dec);
          fd = -1;
        }
      pthread_cond_signal (&p->cond);
    }
  pthread_mutex_unlock (&pending_lock);
  if (fd >= 0)
    close (fd); /* nobody waited after all (the client left) */
}
