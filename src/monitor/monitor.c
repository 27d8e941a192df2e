/* isola-monitor: one per running container, started by `isola start`/`run` and detached from it.  It starts the
   container through its isolation driver (becoming the parent of its first process), owns the container's stdio
   (pipes, or a pseudo-terminal with -t), copies the output into ctr.log and to attached clients, takes their input,
   resizes and signals, records the exit status, removes --rm containers, and holds the container's running lock for
   as long as the container runs.

   usage: isola-monitor ROOT CONTAINER-ID CLIENT-FD
   CLIENT-FD is a stream socket to the `isola` that started us; more clients connect to ID/attach.sock.  Both speak
   the attach protocol (attach.h, docs/ATTACH.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/sealed_exe.h"
#include "base/util.h"
#include "container/container.h"
#include "container/logconfig.h"
#include "container/logfile.h"
#include "container/container_event.h"
#include "container/restart.h"
#include "container/volume.h"
#include "driver/driver.h"
#include "exec.h"
#include "health.h"
#include "proto/attach.h"
#include "proto/vmproto.h"
#include "sandbox/spawn.h"
#include "store/store.h"

/* Clients are as many as come (docker logs -f, attach and exec of one container through the API server can be
   dozens), bounded only by the descriptors: these are kept for the monitor's own work (log, channel, health
   probes, an exec's pipes), and a client beyond the rest is told why it is refused (ATTACH_FAILED). */
#define CLIENT_FD_RESERVE 64 /* with a limit of 128 or less, half of it */

struct client
{
  int fd;
  struct attach_decoder dec;
  /* The container's output, a restart's STARTED and FAILED go only to a client that said ATTACH (or the `isola` that
     started us): what a client is for is known only from its first frame, and until then it must get nothing of
     the container's (an exec's session would read the container's output as its command's, before its STARTED). */
  bool attached;
  uint32_t exec_stream;       /* VM: the exec this connection is the session of; 0 for none */
  bool exec_detached;         /* ... started with -d: it outlives the connection */
  uint32_t ps_request;        /* VM: the process listing it waits for; 0 for none */
  uint32_t resources_request; /* VM: the RESOURCES_REPLY it waits for; 0 for none */
  uint32_t network_request;   /* VM: the NETWORK_REPLY it waits for; 0 for none */
  bool done;                  /* its session ended: dropped once its output is out */
  /* VM: what the client has not taken yet of its exec's output and replies (never blocks the monitor).  Above
     CLIENT_QUEUE_HIGH the agent is asked to PAUSE the exec's output, below CLIENT_QUEUE_LOW to RESUME it. */
  uint8_t *out;
  size_t out_head, out_len, out_cap;
  bool paused;
  bool broken;           /* a send failed, or the client let its queue overflow: dropped */
  long long progress_ms; /* when it last took some of its queue */
  int64_t stdin_credit;  /* VM exec: input bytes the agent still takes before it acknowledges some (STDIN_ACK) */
};

#define CLIENT_QUEUE_HIGH (256 * 1024)
#define CLIENT_QUEUE_LOW  (64 * 1024)
/* What a paused exec can still have on its way (the agent's queue, the port, the sockets) stays well below. */
#define CLIENT_QUEUE_MAX (8 * 1024 * 1024)
/* While an attached client has output queued, the container's output waits (as with Docker, a slow client slows
   the container, and nothing is lost); a client that takes nothing for this long is dropped, also once the container
   is over and the clients take the rest of their output. */
#define CLIENT_STALL_MS  30000
#define OUTPUT_PIPE_SIZE (1024 * 1024)
#define OUTPUT_READ_MAX  (256 * 1024)

struct monitor
{
  struct isola_store *store;
  struct container *c;
  const struct isola_driver *driver;
  int lock_fd;
  int listen_fd;
  int out_r, err_r; /* container output (err_r = -1 with a terminal, whose master is out_r) */
  int in_w;         /* container input: pipe or terminal master; -1 without -i */
  bool tty;
  int console_r;          /* receives the terminal master from the container */
  struct client *clients; /* grown as they come; a client is found again by its fd, never kept by address */
  size_t n_clients, clients_cap, clients_max;
  int spare_fd;        /* a descriptor held back to take and refuse a client when there is none left (accept_client) */
  struct pollfd *pfds; /* a loop's poll set: its own descriptors, then one per client */
  size_t pfds_cap;
  struct log_writer log;
  char *out_buf; /* OUTPUT_READ_MAX bytes for the container's output, allocated with the first */
  pid_t pid;

  /* A VM's channel to its agent (-1 for process isolation): stdio, exit, execs and listings travel over it. */
  int chan;
  struct vmproto_decoder *chan_dec;
  struct vmproto_queue chan_q;
  uint32_t next_stream, next_request;
  bool main_exited; /* the agent reported the main process's exit */
  int main_status;  /* its wait status */
  bool main_oom;
  long long kill_deadline_ms; /* after a SIGKILL for the main process: when the VM itself is ended */
  /* The main process's flow: its output is PAUSEd while an attached client is behind (a slow reader slows the
     container down instead of losing output), and its input is read from the clients only while the agent has
     room for it (the window of VMPROTO_STDIN_WINDOW bytes, given back with STDIN_ACK). */
  bool main_paused;
  int64_t main_stdin_credit;

  struct health_probe health; /* the container's health check, when it has one */

  /* VM: the execs running in the guest and their IDs, so that an exec's end is recorded (exec_die) also when its
     client has gone (detached). */
  struct vm_exec
  {
    uint32_t stream;
    char id[65];
  } * execs;
  size_t n_execs;
};

static void vm_exec_remember (struct monitor *m, uint32_t stream, const char *exec_id);

/* --- clients ------------------------------------------------------------------------------------------------- */

/* How many clients the descriptors allow: RLIMIT_NOFILE's soft limit less what the monitor keeps for itself. */
static size_t
clients_max_of_limit (void)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
    return 1024;
  return rl.rlim_cur > 2 * CLIENT_FD_RESERVE ? (size_t)rl.rlim_cur - CLIENT_FD_RESERVE : (size_t)rl.rlim_cur / 2;
}

/* One client too many: a FAILED frame in place of the HELLO says why (attach_client_expect_hello shows it). */
static void
client_refuse (struct monitor *m, int fd)
{
  char msg[160];
  int n = snprintf (msg, sizeof msg, "the monitor of container %.12s serves %zu clients at most (RLIMIT_NOFILE)",
                    m->c ? m->c->id : "", m->clients_max);
  uint8_t frame[4 + sizeof msg];
  attach_put_u32 (frame, 125);
  memcpy (frame + 4, msg, (size_t)n);
  (void)attach_send (fd, ATTACH_FAILED, frame, 4 + (uint32_t)n);
  close (fd);
}

static void
client_add (struct monitor *m, int fd, bool attached)
{
  if (m->n_clients >= m->clients_max)
    {
      client_refuse (m, fd);
      return;
    }
  if (m->n_clients == m->clients_cap)
    {
      m->clients_cap = m->clients_cap ? 2 * m->clients_cap : 16;
      m->clients = xrealloc (m->clients, m->clients_cap * sizeof (*m->clients));
    }
  int big = 1 << 20;
  (void)setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct client *cl = &m->clients[m->n_clients++];
  *cl = (struct client){ .fd = fd, .attached = attached };
  attach_decoder_init (&cl->dec);
  uint8_t version = ATTACH_VERSION;
  (void)attach_send (fd, ATTACH_HELLO, &version, 1);
}

static void chan_queue (struct monitor *m, struct vmproto_msg msg);

/* Whether the last frames of a client that goes say that it detached: it stops reading once it has sent DETACH,
   so a send of ours can fail before we have read them. */
static bool
client_said_detach (struct client *cl)
{
  struct attach_frame f;
  for (;;)
    {
      while (attach_decoder_next (&cl->dec, &f) == 1)
        if (f.type == ATTACH_DETACH)
          return true;
      uint8_t buf[4096];
      ssize_t n = recv (cl->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0)
        return false;
      attach_decoder_feed (&cl->dec, buf, (size_t)n);
    }
}

static void
client_drop (struct monitor *m, size_t i)
{
  struct client *cl = &m->clients[i];
  if (m->chan >= 0 && cl->exec_stream && !cl->done && !cl->exec_detached)
    cl->exec_detached = client_said_detach (cl);
  /* An exec dies with its session, as with process isolation's exec, unless it was detached or is over; detached,
     its output now goes nowhere (as dockerd drops it), so it must not stay paused for this client. */
  if (m->chan >= 0 && cl->exec_stream && !cl->exec_detached && !cl->done)
    chan_queue (m, vmproto_msg_signal (cl->exec_stream, SIGKILL));
  else if (m->chan >= 0 && cl->exec_stream && cl->paused && !cl->done)
    chan_queue (m, vmproto_msg_resume (cl->exec_stream));
  close (m->clients[i].fd);
  attach_decoder_clear (&m->clients[i].dec);
  free (m->clients[i].out);
  m->clients[i] = m->clients[--m->n_clients];
}

static void client_queue (struct monitor *m, struct client *cl, uint8_t type, const void *data, uint32_t len);

static uint8_t *client_queue_space (struct client *cl, size_t n);

/* A frame for a client with nothing queued: sent from where its payload is, what the socket does not take now is
   queued. */
static void
send_or_queue (struct client *cl, const uint8_t *header, const void *data, uint32_t len)
{
  struct iovec iov[2] = { { (void *)header, ATTACH_HEADER_SIZE }, { (void *)data, len } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
  ssize_t n;
  while ((n = sendmsg (cl->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 && errno == EINTR)
    ;
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    {
      cl->broken = true;
      return;
    }
  size_t sent = n < 0 ? 0 : (size_t)n, head = sent < ATTACH_HEADER_SIZE ? ATTACH_HEADER_SIZE - sent : 0;
  size_t body = sent > ATTACH_HEADER_SIZE ? len - (sent - ATTACH_HEADER_SIZE) : len;
  uint8_t *q = head + body ? client_queue_space (cl, head + body) : NULL;
  if (q == NULL)
    return;
  memcpy (q, header + ATTACH_HEADER_SIZE - head, head);
  memcpy (q + head, (const uint8_t *)data + (len - body), body);
  cl->out_len += head + body;
}

/* Output for every attached client.  What a client cannot take right away waits in
   its queue; with process isolation the container's output then waits for it (supervise). */
static void
broadcast (struct monitor *m, uint8_t type, const void *data, uint32_t len)
{
  uint8_t header[ATTACH_HEADER_SIZE];
  attach_encode_header (header, type, len);
  for (size_t i = 0; i < m->n_clients;)
    {
      struct client *cl = &m->clients[i];
      if (!cl->attached)
        {
          i++;
          continue;
        }
      if (cl->out_len)
        client_queue (m, cl, type, data, len);
      else
        send_or_queue (cl, header, data, len);
      if (cl->broken)
        client_drop (m, i);
      else
        i++;
    }
}

static void
chan_queue (struct monitor *m, struct vmproto_msg msg)
{
  (void)vmproto_queue_push (&m->chan_q, &msg);
}

/* A VM's main output goes to every attached client through its queue: nothing is dropped, and
   update_main_flow pauses the container while a client is behind. */
static void
vm_broadcast (struct monitor *m, uint8_t type, const void *data, uint32_t len)
{
  for (size_t i = 0; i < m->n_clients; i++)
    if (m->clients[i].attached)
      client_queue (m, &m->clients[i], type, data, len);
}

/* PAUSE the main process's output past CLIENT_QUEUE_HIGH queued for the slowest attached client, RESUME it below
   CLIENT_QUEUE_LOW (or once that client is gone). */
static void
update_main_flow (struct monitor *m)
{
  size_t behind = 0;
  for (size_t i = 0; i < m->n_clients; i++)
    if (m->clients[i].attached && !m->clients[i].broken && m->clients[i].out_len > behind)
      behind = m->clients[i].out_len;
  if (m->main_exited || (m->main_paused ? behind >= CLIENT_QUEUE_LOW : behind <= CLIENT_QUEUE_HIGH))
    return;
  m->main_paused = !m->main_paused;
  chan_queue (m, m->main_paused ? vmproto_msg_pause (VMPROTO_STREAM_MAIN) : vmproto_msg_resume (VMPROTO_STREAM_MAIN));
}

/* A FAILED frame's payload: the exit code, then the message (cut to 4096 bytes); returns its length. */
#define FAILED_MSG_MAX 4096
static uint32_t
failed_payload (uint8_t buf[4 + FAILED_MSG_MAX], uint32_t code, const char *msg)
{
  /* Not strnlen: GCC then takes the bound for the size of the literal messages. */
  size_t len = strlen (msg);
  if (len > FAILED_MSG_MAX)
    len = FAILED_MSG_MAX;
  attach_put_u32 (buf, code);
  memcpy (buf + 4, msg, len);
  return (uint32_t)(4 + len);
}

static void
client_fail (struct client *cl, uint32_t code, const char *msg)
{
  uint8_t buf[4 + FAILED_MSG_MAX];
  (void)attach_send (cl->fd, ATTACH_FAILED, buf, failed_payload (buf, code, msg));
  cl->done = true;
}

/* Sends what the client can take now; keeps its exec's output flowing or paused accordingly. */
static void
client_flush (struct monitor *m, struct client *cl)
{
  while (cl->out_len && !cl->broken)
    {
      ssize_t n = send (cl->fd, cl->out + cl->out_head, cl->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          cl->broken = errno != EAGAIN && errno != EWOULDBLOCK;
          break;
        }
      cl->out_head += (size_t)n;
      cl->out_len -= (size_t)n;
      cl->progress_ms = monotonic_ms ();
    }
  if (cl->out_len == 0)
    {
      /* An idle session keeps no buffer: the monitor's memory is its containers' overhead. */
      free (cl->out);
      cl->out = NULL;
      cl->out_head = cl->out_cap = 0;
    }
  if (!cl->exec_stream || m->chan < 0)
    return;
  if (!cl->paused && cl->out_len > CLIENT_QUEUE_HIGH)
    chan_queue (m, vmproto_msg_pause (cl->exec_stream));
  else if (cl->paused && cl->out_len < CLIENT_QUEUE_LOW)
    chan_queue (m, vmproto_msg_resume (cl->exec_stream));
  else
    return;
  cl->paused = !cl->paused;
}

/* Room for n more bytes at the end of the client's queue, or NULL when the client is broken or would exceed
   CLIENT_QUEUE_MAX (it is broken then). */
static uint8_t *
client_queue_space (struct client *cl, size_t n)
{
  if (cl->broken)
    return NULL;
  if (cl->out_len + n > CLIENT_QUEUE_MAX)
    {
      cl->broken = true;
      return NULL;
    }
  if (cl->out_head + cl->out_len + n > cl->out_cap)
    {
      if (cl->out_len)
        memmove (cl->out, cl->out + cl->out_head, cl->out_len);
      cl->out_head = 0;
      if (cl->out_len + n > cl->out_cap)
        {
          cl->out_cap = cl->out_len + n + (cl->out_len + n) / 2;
          cl->out = xrealloc (cl->out, cl->out_cap);
        }
    }
  if (cl->out_len == 0)
    cl->progress_ms = monotonic_ms ();
  return cl->out + cl->out_head + cl->out_len;
}

/* A frame for one client, after what it has not taken yet. */
static void
client_queue (struct monitor *m, struct client *cl, uint8_t type, const void *data, uint32_t len)
{
  size_t n = ATTACH_HEADER_SIZE + len;
  uint8_t *q = len <= ATTACH_PAYLOAD_MAX ? client_queue_space (cl, n) : NULL;
  if (q == NULL)
    return;
  attach_encode (q, type, data, len);
  cl->out_len += n;
  client_flush (m, cl);
}

static void
client_queue_u32 (struct monitor *m, struct client *cl, uint8_t type, uint32_t value)
{
  uint8_t p[4];
  attach_put_u32 (p, value);
  client_queue (m, cl, type, p, 4);
}

static void
client_queue_failed (struct monitor *m, struct client *cl, uint32_t code, const char *msg)
{
  uint8_t buf[4 + FAILED_MSG_MAX];
  client_queue (m, cl, ATTACH_FAILED, buf, failed_payload (buf, code, msg));
  cl->done = true;
}

/* A client's frame for a VM: everything goes to the agent, on the stream of the client's exec or the main one. */
static void
handle_vm_frame (struct monitor *m, struct client *cl, const struct attach_frame *f)
{
  uint32_t stream = cl->exec_stream ? cl->exec_stream : VMPROTO_STREAM_MAIN;
  switch (f->type)
    {
    case ATTACH_STDIN:
      /* Within the window (client_wants_input): the queue has room for it. */
      if (vmproto_queue_data (&m->chan_q, VMPROTO_STDIN, stream, f->payload, f->len) == 0)
        {
          if (cl->exec_stream)
            cl->stdin_credit -= f->len;
          else
            m->main_stdin_credit -= f->len;
        }
      break;
    case ATTACH_CLOSE_STDIN:
      chan_queue (m, vmproto_msg_close_stdin (stream));
      break;
    case ATTACH_RESIZE:
      if (f->len == 4)
        chan_queue (m, vmproto_msg_resize (stream, (uint16_t)(f->payload[0] << 8 | f->payload[1]),
                                           (uint16_t)(f->payload[2] << 8 | f->payload[3])));
      break;
    case ATTACH_SIGNAL:
      if (f->len == 4 && attach_get_u32 (f->payload) > 0 && attach_get_u32 (f->payload) <= VMPROTO_SIGNAL_MAX)
        {
          chan_queue (m, vmproto_msg_signal (stream, attach_get_u32 (f->payload)));
          /* A guest that does not respond to SIGKILL still ends: its VM does. */
          if (stream == VMPROTO_STREAM_MAIN && attach_get_u32 (f->payload) == SIGKILL && !m->kill_deadline_ms)
            m->kill_deadline_ms = monotonic_ms () + 3000;
        }
      break;
    case ATTACH_PS:
      cl->ps_request = m->next_request++;
      chan_queue (m, vmproto_msg_ps (cl->ps_request));
      break;
    case ATTACH_RESOURCES:
      if (m->main_exited)
        {
          static const char gone[] = "{\"Error\":\"the container is not running\"}";
          client_queue (m, cl, ATTACH_RESOURCES_REPLY, gone, sizeof gone - 1);
          break;
        }
      cl->resources_request = m->next_request++;
      chan_queue (m, vmproto_msg_resources (cl->resources_request, f->payload, f->len));
      break;
    case ATTACH_NETWORK:
      /* Its NICs, which the agent changes whether the main process runs or not: the VM runs until the run ends. */
      cl->network_request = m->next_request++;
      chan_queue (m, vmproto_msg_network (cl->network_request, f->payload, f->len));
      break;
    case ATTACH_DETACH:
      /* Its client detached (the detach keys): the exec goes on without it */
      if (cl->exec_stream)
        cl->exec_detached = true;
      break;
    case ATTACH_EXEC:
      if (cl->exec_stream || cl->attached || m->main_exited)
        client_queue_failed (m, cl, 126, m->main_exited ? "the container is not running" : "one exec per connection");
      else
        {
          cleanup_json json_t *req = json_loadb ((const char *)f->payload, f->len, 0, NULL);
          cl->exec_detached = json_is_true (json_object_get (req, "Detach"));
          cl->exec_stream = m->next_stream++;
          vm_exec_remember (m, cl->exec_stream, json_string_value (json_object_get (req, "ExecID")));
          cl->stdin_credit = VMPROTO_STDIN_WINDOW;
          chan_queue (m, vmproto_msg_exec (cl->exec_stream, f->payload, f->len));
        }
      break;
    default:
      break;
    }
}

/* A process container's exec runs in a session of its own (exec.c), a child that takes the connection over: the
   monitor's loop never waits for an exec, and the exec can outlive the client that started it. */
static void
exec_session_start (struct client *cl, struct monitor *m, const struct attach_frame *f)
{
  pid_t pid = fork ();
  if (pid == 0)
    monitor_exec_session (m->c, cl->fd, &cl->dec, f);
  if (pid < 0)
    client_fail (cl, 126, "cannot fork the exec's session");
  else
    cl->done = cl->broken = true; /* ours no more: dropped without a word */
}

static void
handle_frame (struct monitor *m, struct client *cl, const struct attach_frame *f)
{
  if (f->type == ATTACH_ATTACH)
    {
      /* Not an exec's session, which carries its command only */
      if (!cl->exec_stream)
        cl->attached = true;
      return;
    }
  if (m->chan >= 0)
    {
      handle_vm_frame (m, cl, f);
      return;
    }
  switch (f->type)
    {
    case ATTACH_STDIN:
      if (m->in_w >= 0 && write_all (m->in_w, f->payload, f->len) < 0)
        {
          close (m->in_w);
          m->in_w = -1;
        }
      break;
    case ATTACH_CLOSE_STDIN:
      /* With a terminal, end of input is a ^D the client sends as data; closing would hang up the terminal. */
      if (!m->tty && m->in_w >= 0)
        {
          close (m->in_w);
          m->in_w = -1;
        }
      break;
    case ATTACH_RESIZE:
      if (m->tty && f->len == 4)
        {
          struct winsize ws = { .ws_row = (unsigned short)(f->payload[0] << 8 | f->payload[1]),
                                .ws_col = (unsigned short)(f->payload[2] << 8 | f->payload[3]) };
          (void)ioctl (m->out_r, TIOCSWINSZ, &ws);
        }
      break;
    case ATTACH_SIGNAL:
      if (f->len == 4)
        (void)m->driver->signal (m->c, (int)attach_get_u32 (f->payload), NULL);
      break;
    case ATTACH_EXEC:
      exec_session_start (cl, m, f);
      break;
    default:
      break;
    }
}

/* Returns false when the client is gone or broke the protocol. */
static bool
client_read (struct monitor *m, struct client *cl)
{
  uint8_t buf[65536];
  ssize_t n = read (cl->fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  attach_decoder_feed (&cl->dec, buf, (size_t)n);
  struct attach_frame f;
  int r;
  while (!cl->done && (r = attach_decoder_next (&cl->dec, &f)) == 1)
    handle_frame (m, cl, &f);
  return r == 0 && !cl->done;
}

/* Clients come and go during a poll round (broadcast drops slow ones): find this one by its fd. */
static void
serve_client (struct monitor *m, int fd)
{
  for (size_t i = 0; i < m->n_clients; i++)
    if (m->clients[i].fd == fd)
      {
        if (!client_read (m, &m->clients[i]))
          client_drop (m, i);
        return;
      }
}

/* Clients come and go during a poll round: find this one by its fd. */
static void
flush_client (struct monitor *m, int fd)
{
  for (size_t i = 0; i < m->n_clients; i++)
    if (m->clients[i].fd == fd)
      client_flush (m, &m->clients[i]);
}

/* attach.sock is bound through /proc/self/fd: the container directory's path can exceed sun_path's 108 bytes. */
static int
listen_on_attach_socket (struct monitor *m, isola_error_t *err)
{
  cleanup_close int dirfd = open (m->c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return isola_error_make (err, errno, "open `%s`", m->c->dir);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach.sock", dirfd);
  (void)unlinkat (dirfd, "attach.sock", 0);
  m->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (m->listen_fd < 0 || bind (m->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0
      || listen (m->listen_fd, 8) < 0)
    return isola_error_make (err, errno, "listen on `%s/attach.sock`", m->c->dir);
  return 0;
}

/* --- the container ------------------------------------------------------------------------------------------- */

static int
take_running_lock (struct monitor *m, isola_error_t *err)
{
  cleanup_free char *p = container_path (m->c, "running.lock");
  m->lock_fd = open (p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (m->lock_fd < 0)
    return isola_error_make (err, errno, "open `%s`", p);
  if (flock (m->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return isola_error_fail (err, EBUSY, "container %.12s is already running", m->c->id);
  return 0;
}

/* A client that starts a container with a terminal sends its window size first: wait briefly for it, so the
   terminal has its size before the command looks. */
static void
initial_window_size (struct monitor *m, unsigned short *rows, unsigned short *cols)
{
  if (m->n_clients == 0)
    return;
  struct client *cl = &m->clients[0];
  struct attach_frame f;
  for (int tries = 0; tries < 20; tries++)
    {
      int r = attach_decoder_next (&cl->dec, &f);
      if (r == 1 && f.type == ATTACH_RESIZE && f.len == 4)
        {
          *rows = (unsigned short)(f.payload[0] << 8 | f.payload[1]);
          *cols = (unsigned short)(f.payload[2] << 8 | f.payload[3]);
          return;
        }
      if (r != 0)
        return;
      struct pollfd p = { .fd = cl->fd, .events = POLLIN };
      uint8_t buf[256];
      ssize_t n;
      if (poll (&p, 1, 50) <= 0 || (n = read (cl->fd, buf, sizeof buf)) <= 0)
        return;
      attach_decoder_feed (&cl->dec, buf, (size_t)n);
    }
}

/* Pipes, or one terminal for all three streams with -t; stdin only with -i. */
static int
make_stdio (struct monitor *m, struct driver_io *io, int child_ends[3], isola_error_t *err)
{
  m->tty = container_tty (m->c);
  bool open_stdin = container_open_stdin (m->c);
  if (m->tty)
    {
      int sv[2];
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return isola_error_make (err, errno, "socketpair");
      m->console_r = sv[0];
      *io = (struct driver_io){
        .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .tty = true, .console_socket = sv[1]
      };
      initial_window_size (m, &io->rows, &io->cols);
      child_ends[0] = sv[1];
      return 0;
    }
  int out[2], errp[2], in[2] = { -1, -1 };
  if (pipe2 (out, O_CLOEXEC) < 0 || pipe2 (errp, O_CLOEXEC) < 0 || (open_stdin && pipe2 (in, O_CLOEXEC) < 0))
    return isola_error_make (err, errno, "pipe");
  m->out_r = out[0], m->err_r = errp[0], m->in_w = in[1];
  /* Room for the container to keep writing while the monitor is not on a CPU: fewer switches between them (1.5x
     the throughput of the default 64 KiB on a busy 2-core host).  Kernel memory, filled only when we lag. */
  (void)fcntl (out[0], F_SETPIPE_SZ, OUTPUT_PIPE_SIZE);
  (void)fcntl (errp[0], F_SETPIPE_SZ, OUTPUT_PIPE_SIZE);
  *io = (struct driver_io){ .stdin_fd = in[0], .stdout_fd = out[1], .stderr_fd = errp[1] };
  child_ends[0] = out[1], child_ends[1] = errp[1], child_ends[2] = in[0];
  return 0;
}

static int
start_container (struct monitor *m, isola_error_t *err)
{
  struct driver_io io;
  int child_ends[3] = { -1, -1, -1 };
  int ret = make_stdio (m, &io, child_ends, err);
  io.channel = -1;
  io.channel_dec = NULL;
  if (ret == 0)
    ret = m->driver->start (m->store, m->c, &io, &m->pid, err);
  /* Our copies of the container's ends must go, or we would never see end-of-file on its output. */
  for (int i = 0; i < 3; i++)
    if (child_ends[i] >= 0)
      close (child_ends[i]);
  if (ret == 0 && io.channel >= 0)
    {
      /* A VM: its stdio comes over the channel, not the pipes or terminal made for a process. */
      int *unused[] = { &m->out_r, &m->err_r, &m->in_w, &m->console_r };
      for (size_t i = 0; i < ARRAY_SIZE (unused); i++)
        if (*unused[i] >= 0)
          {
            close (*unused[i]);
            *unused[i] = -1;
          }
      m->chan = io.channel;
      m->chan_dec = io.channel_dec;
      return 0;
    }
  if (ret == 0 && m->tty)
    {
      int master = fd_receive (m->console_r, true);
      if (master < 0)
        {
          kill (m->pid, SIGKILL);
          return isola_error_make (err, -master, "receive the container's terminal");
        }
      m->out_r = master;
      m->in_w = container_open_stdin (m->c) ? master : -1;
    }
  return ret;
}

/* Returns false at end of file.  Large reads (a system call costs ~20 us on this kind of host): the log gets them
   whole, the clients in frames of at most ATTACH_PAYLOAD_MAX. */
static bool
copy_output (struct monitor *m, int fd, int stream)
{
  if (m->out_buf == NULL)
    m->out_buf = xmalloc (OUTPUT_READ_MAX);
  ssize_t n = read (fd, m->out_buf, OUTPUT_READ_MAX);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0) /* EIO: the terminal's last user closed it */
    return false;
  (void)log_writer_feed (&m->log, stream, m->out_buf, (size_t)n);
  for (size_t off = 0; off < (size_t)n; off += ATTACH_PAYLOAD_MAX)
    {
      size_t len = (size_t)n - off < ATTACH_PAYLOAD_MAX ? (size_t)n - off : ATTACH_PAYLOAD_MAX;
      broadcast (m, stream == 2 ? ATTACH_STDERR : ATTACH_STDOUT, m->out_buf + off, (uint32_t)len);
    }
  return true;
}

enum
{
  P_OUT,
  P_ERR,
  P_SIG,
  P_LISTEN,
  P_HEALTH,
  P_HEALTH_STATUS,
  P_CLIENTS,
};

/* A health check's step: State.Health is written whenever it changes. */
static void
health_step (struct monitor *m)
{
  if (health_probe_step (&m->health, m->c, m->driver))
    (void)container_write_state (m->c, NULL);
}

/* The poll timeout, shortened to the health check's next event. */
static int
with_health_timeout (const struct monitor *m, int timeout)
{
  int h = health_probe_timeout_ms (&m->health);
  return h < 0 ? timeout : timeout < 0 || h < timeout ? h : timeout;
}

static void
accept_client (struct monitor *m)
{
  int fd = accept4 (m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0 && (errno == EMFILE || errno == ENFILE) && m->spare_fd >= 0)
    {
      /* Out of descriptors all the same (the limit lowered, a leak): the spare one lets the client be taken and
         told, rather than left in the backlog, where it would wake the loop again and again. */
      close (m->spare_fd);
      fd = accept4 (m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0)
        client_refuse (m, fd);
      m->spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      return;
    }
  if (fd >= 0)
    client_add (m, fd, false);
}

/* Reaps every child that has ended (health probes, a VM's console copier), noting the status of m->pid when it is
   among them: one loop over waitpid (-1), since a child that ends between a waitpid of m->pid and a catch-all one
   would otherwise be reaped there, its status lost, and the monitor would wait for it forever. */
static void
reap (struct monitor *m, int sigfd, bool *reaped, int *status)
{
  struct signalfd_siginfo si;
  while (read (sigfd, &si, sizeof si) > 0)
    ;
  pid_t pid;
  int st;
  while ((pid = waitpid (-1, &st, WNOHANG)) > 0)
    if (pid == m->pid && !*reaped)
      {
        *status = st;
        *reaped = true;
      }
}

/* Whether an attached client still has output to take; clients that took nothing for CLIENT_STALL_MS are dropped
   on the way. */
static bool
clients_behind (struct monitor *m)
{
  bool behind = false;
  long long now = monotonic_ms ();
  for (size_t i = 0; i < m->n_clients;)
    {
      struct client *cl = &m->clients[i];
      if (cl->broken || (cl->out_len && now - cl->progress_ms > CLIENT_STALL_MS))
        {
          client_drop (m, i);
          continue;
        }
      behind |= cl->out_len > 0;
      i++;
    }
  return behind;
}

/* The poll set of a loop: its `fixed` own entries, zeroed, and room for one per client after them.  Valid until the
   next call: clients that come during an iteration are polled from the next. */
static struct pollfd *
poll_set (struct monitor *m, size_t fixed)
{
  size_t want = fixed + m->n_clients;
  if (want > m->pfds_cap)
    {
      m->pfds_cap = want + 16;
      m->pfds = xrealloc (m->pfds, m->pfds_cap * sizeof (*m->pfds));
    }
  memset (m->pfds, 0, want * sizeof (*m->pfds));
  return m->pfds;
}

/* One loop for output, clients and reaping, until the output is closed, the first process reaped and the clients
   have taken all the output. */
static int
supervise (struct monitor *m, int sigfd)
{
  int status = 0;
  bool reaped = false;
  int out = m->out_r, errfd = m->err_r;
  bool behind = false;
  while (out >= 0 || errfd >= 0 || !reaped || behind)
    {
      /* Output is read only as fast as the clients take it. */
      short output_events = behind ? 0 : POLLIN;
      struct pollfd *fds = poll_set (m, P_CLIENTS);
      fds[P_OUT] = (struct pollfd){ .fd = out, .events = output_events };
      fds[P_ERR] = (struct pollfd){ .fd = errfd, .events = output_events };
      fds[P_SIG] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
      fds[P_LISTEN] = (struct pollfd){ .fd = m->listen_fd, .events = POLLIN };
      int hfds[2];
      health_probe_fds (&m->health, hfds);
      fds[P_HEALTH] = (struct pollfd){ .fd = hfds[0], .events = POLLIN };
      fds[P_HEALTH_STATUS] = (struct pollfd){ .fd = hfds[1], .events = POLLIN };
      size_t n_clients = m->n_clients;
      for (size_t i = 0; i < n_clients; i++)
        fds[P_CLIENTS + i]
            = (struct pollfd){ .fd = m->clients[i].fd, .events = POLLIN | (m->clients[i].out_len ? POLLOUT : 0) };
      /* With a terminal, output can end before the process (its children hold no copy): don't spin on it.  A
         client that is behind is checked for a stall now and then. */
      int timeout = with_health_timeout (m, behind ? 1000 : reaped ? 100 : -1);
      if (poll (fds, P_CLIENTS + n_clients, timeout) < 0 && errno != EINTR)
        break;
      if (!reaped)
        health_step (m);
      if (out >= 0 && (fds[P_OUT].revents & (POLLIN | POLLHUP | POLLERR)) && !copy_output (m, out, 1))
        out = -1;
      if (errfd >= 0 && (fds[P_ERR].revents & (POLLIN | POLLHUP | POLLERR)) && !copy_output (m, errfd, 2))
        errfd = -1;
      if (fds[P_SIG].revents & POLLIN)
        reap (m, sigfd, &reaped, &status);
      if (fds[P_LISTEN].revents & POLLIN)
        accept_client (m);
      for (size_t i = 0; i < n_clients; i++)
        {
          if (fds[P_CLIENTS + i].revents & POLLOUT)
            flush_client (m, fds[P_CLIENTS + i].fd);
          if (fds[P_CLIENTS + i].revents & (POLLIN | POLLHUP | POLLERR))
            serve_client (m, fds[P_CLIENTS + i].fd);
        }
      if (reaped && m->tty && out >= 0)
        {
          /* The terminal may stay open in a background process: drain what is there and stop. */
          struct pollfd p = { .fd = out, .events = POLLIN };
          while (poll (&p, 1, 0) > 0 && copy_output (m, out, 1))
            ;
          out = -1;
        }
      behind = clients_behind (m);
    }
  (void)log_writer_flush (&m->log);
  return exit_code_of_status (status);
}

/* --- a VM's channel ---------------------------------------------------------------------------------------------- */

static struct client *
client_of_stream (struct monitor *m, uint32_t stream)
{
  for (size_t i = 0; i < m->n_clients; i++)
    if (m->clients[i].exec_stream == stream)
      return &m->clients[i];
  return NULL;
}

static void
drop_done_clients (struct monitor *m)
{
  for (size_t i = 0; i < m->n_clients;)
    if (m->clients[i].broken || (m->clients[i].done && m->clients[i].out_len == 0))
      client_drop (m, i);
    else
      i++;
}

static size_t
clients_backlog (const struct monitor *m)
{
  size_t total = 0;
  for (size_t i = 0; i < m->n_clients; i++)
    if (!m->clients[i].broken)
      total += m->clients[i].out_len;
  return total;
}

/* Once the container is over: the clients take the rest of their output at their own pace (a slow reader gets
   every byte, as it would from a pipe); only one that takes nothing for CLIENT_STALL_MS is given up. */
static void
flush_clients_at_end (struct monitor *m)
{
  long long last_progress = monotonic_ms ();
  for (;;)
    {
      struct pollfd *fds = poll_set (m, 0);
      nfds_t n = 0;
      for (size_t i = 0; i < m->n_clients; i++)
        if (m->clients[i].out_len && !m->clients[i].broken)
          fds[n++] = (struct pollfd){ .fd = m->clients[i].fd, .events = POLLOUT };
      long long left = last_progress + CLIENT_STALL_MS - monotonic_ms ();
      if (n == 0 || left <= 0)
        return;
      int r = poll (fds, n, (int)left);
      if (r < 0 && errno != EINTR)
        return;
      size_t before = clients_backlog (m);
      for (nfds_t k = 0; r > 0 && k < n; k++)
        if (fds[k].revents)
          flush_client (m, fds[k].fd);
      if (clients_backlog (m) != before)
        last_progress = monotonic_ms ();
    }
}

static void
vm_exec_remember (struct monitor *m, uint32_t stream, const char *exec_id)
{
  if (exec_id == NULL || strlen (exec_id) >= sizeof m->execs[0].id)
    return;
  m->execs = xrealloc (m->execs, (m->n_execs + 1) * sizeof (*m->execs));
  struct vm_exec *e = &m->execs[m->n_execs++];
  e->stream = stream;
  strcpy (e->id, exec_id);
}

/* An exec of the guest is over: its exec_die when it ran (code >= 0), not when it could not start. */
static void
vm_exec_ended (struct monitor *m, uint32_t stream, int code)
{
  for (size_t i = 0; i < m->n_execs; i++)
    if (m->execs[i].stream == stream)
      {
        if (code >= 0 && m->execs[i].id[0])
          container_exec_died (m->c, m->execs[i].id, code);
        m->execs[i] = m->execs[--m->n_execs];
        return;
      }
}

/* The container's run is over: the execs the guest still had died with it (its PID namespace, then the VM, went
   away) and the agent reports no exit for them.  Their exec_die carries the SIGKILL code dockerd records for an
   exec that outlived its container (and the process driver's sessions see from the kernel). */
static void
vm_execs_end_with_container (struct monitor *m)
{
  for (size_t i = 0; i < m->n_execs; i++)
    if (m->execs[i].id[0])
      container_exec_died (m->c, m->execs[i].id, 128 + SIGKILL);
  m->n_execs = 0;
}

static void
handle_agent_frame (struct monitor *m, const struct vmproto_frame *f)
{
  bool main_stream = f->stream == VMPROTO_STREAM_MAIN;
  struct client *cl = main_stream ? NULL : client_of_stream (m, f->stream);
  uint32_t a, b;
  char text[VMPROTO_TEXT_MAX + 1];
  switch (f->type)
    {
    case VMPROTO_STDOUT:
    case VMPROTO_STDERR:
      {
        uint8_t type = f->type == VMPROTO_STDERR ? ATTACH_STDERR : ATTACH_STDOUT;
        if (main_stream)
          {
            (void)log_writer_feed (&m->log, type == ATTACH_STDERR ? 2 : 1, (const char *)f->payload, f->len);
            vm_broadcast (m, type, f->payload, f->len);
          }
        else if (cl)
          client_queue (m, cl, type, f->payload, f->len);
        break;
      }
    case VMPROTO_STARTED:
      if (cl && vmproto_get_started (f, &a) == 0)
        client_queue_u32 (m, cl, ATTACH_STARTED, a);
      break;
    case VMPROTO_FAILED:
      {
        vm_exec_ended (m, f->stream, -1);
        int32_t errnum;
        if (cl && vmproto_get_failed (f, &errnum, &a, text, sizeof text) == 0)
          client_queue_failed (m, cl, a, text);
        break;
      }
    case VMPROTO_EXIT:
      if (vmproto_get_exit (f, &a, &b) < 0)
        break;
      if (main_stream)
        {
          m->main_exited = true;
          m->main_status = (int)a;
          m->main_oom = (b & VMPROTO_EXIT_OOM) != 0;
          /* EXIT is the agent's last frame: everything is here, and the VM may power off (agent.c await_host). */
          chan_queue (m, vmproto_msg_shutdown ());
        }
      else
        {
          /* Recorded before its client hears of it, which may then look for the event */
          vm_exec_ended (m, f->stream, exit_code_of_status ((int)a));
          if (cl)
            {
              client_queue_u32 (m, cl, ATTACH_EXIT, (uint32_t)exit_code_of_status ((int)a));
              cl->done = true;
            }
        }
      break;
    case VMPROTO_PS_REPLY:
      for (size_t i = 0; i < m->n_clients; i++)
        if (m->clients[i].ps_request == f->stream)
          {
            client_queue (m, &m->clients[i], ATTACH_PS_REPLY, f->payload, f->len);
            m->clients[i].ps_request = 0;
          }
      break;
    case VMPROTO_RESOURCES_REPLY:
      for (size_t i = 0; i < m->n_clients; i++)
        if (m->clients[i].resources_request == f->stream)
          {
            client_queue (m, &m->clients[i], ATTACH_RESOURCES_REPLY, f->payload, f->len);
            m->clients[i].resources_request = 0;
          }
      break;
    case VMPROTO_NETWORK_REPLY:
      for (size_t i = 0; i < m->n_clients; i++)
        if (m->clients[i].network_request == f->stream)
          {
            client_queue (m, &m->clients[i], ATTACH_NETWORK_REPLY, f->payload, f->len);
            m->clients[i].network_request = 0;
          }
      break;
    case VMPROTO_STDIN_ACK:
      if (vmproto_get_stdin_ack (f, &a) < 0)
        break;
      if (main_stream)
        m->main_stdin_credit += a;
      else if (cl)
        cl->stdin_credit += a;
      break;
    case VMPROTO_LOG:
      if (vmproto_get_log (f, text, sizeof text) == 0)
        fprintf (stderr, "agent: %s\n", text);
      break;
    default:
      break;
    }
}

/* False once the channel is over (end of file or a protocol error: the agent is gone or hostile). */
static bool
read_channel (struct monitor *m)
{
  ssize_t n = vmproto_decoder_read (m->chan_dec, m->chan);
  if (n == -EAGAIN || n == -EINTR)
    return true;
  struct vmproto_frame f;
  int r;
  while ((r = vmproto_decoder_next (m->chan_dec, &f)) == 1)
    handle_agent_frame (m, &f);
  return n > 0 && r == 0;
}

/* Once the VM is gone: what QEMU passed on before it ended is all still to be read, up to the end of the channel. */
static void
read_channel_to_end (struct monitor *m)
{
  for (int rounds = 0; rounds < 100000; rounds++)
    {
      ssize_t n = vmproto_decoder_read (m->chan_dec, m->chan);
      if (n == -EINTR)
        continue;
      struct vmproto_frame f;
      int r;
      while ((r = vmproto_decoder_next (m->chan_dec, &f)) == 1)
        handle_agent_frame (m, &f);
      if (n <= 0 || r < 0)
        return;
    }
}

/* Input from a client goes on only while the agent has room for it (the stream's window) and the channel's queue
   is short: otherwise the client waits, as a writer to a full pipe does. */
static bool
client_wants_input (const struct monitor *m, const struct client *cl)
{
  if (vmproto_queue_pending (&m->chan_q) >= VMPROTO_QUEUE_HIGH)
    return false;
  return cl->exec_stream ? cl->stdin_credit > 0 : m->main_stdin_credit > 0;
}

/* Frames that came with the agent's STARTED, before the loop. */
static void
drain_decoder (struct monitor *m)
{
  struct vmproto_frame f;
  while (vmproto_decoder_next (m->chan_dec, &f) == 1)
    handle_agent_frame (m, &f);
}

enum
{
  V_CHAN,
  V_SIG,
  V_LISTEN,
  V_HEALTH,
  V_HEALTH_STATUS,
  V_CLIENTS,
};

/* Until the VM is gone: the agent reports the main process's exit and powers off; a VM that does not (or that
   stops talking) is ended after a grace period.  The wait status is the main process's, or the VM's own when it
   died first (kill -9 of the worker: 137). */
static int
supervise_vm (struct monitor *m, int sigfd)
{
  int qemu_status = 0;
  bool reaped = false, chan_open = true;
  long long end_deadline = 0;
  drain_decoder (m);
  while (!reaped)
    {
      long long now = monotonic_ms ();
      if ((m->main_exited || !chan_open) && !end_deadline)
        end_deadline = now + 5000;
      if ((end_deadline && now >= end_deadline) || (m->kill_deadline_ms && now >= m->kill_deadline_ms))
        {
          (void)kill (m->pid, SIGKILL);
          m->kill_deadline_ms = 0;
          end_deadline = now + 60000;
        }
      struct pollfd *fds = poll_set (m, V_CLIENTS);
      fds[V_CHAN] = (struct pollfd){ .fd = chan_open ? m->chan : -1,
                                     .events = POLLIN | (vmproto_queue_pending (&m->chan_q) ? POLLOUT : 0) };
      fds[V_SIG] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
      fds[V_LISTEN] = (struct pollfd){ .fd = m->listen_fd, .events = POLLIN };
      int hfds[2];
      health_probe_fds (&m->health, hfds);
      fds[V_HEALTH] = (struct pollfd){ .fd = hfds[0], .events = POLLIN };
      fds[V_HEALTH_STATUS] = (struct pollfd){ .fd = hfds[1], .events = POLLIN };
      size_t n_clients = m->n_clients;
      for (size_t i = 0; i < n_clients; i++)
        fds[V_CLIENTS + i] = (struct pollfd){ .fd = m->clients[i].fd,
                                              .events = (short)((client_wants_input (m, &m->clients[i]) ? POLLIN : 0)
                                                                | (m->clients[i].out_len ? POLLOUT : 0)) };
      if (poll (fds, V_CLIENTS + n_clients, with_health_timeout (m, 200)) < 0 && errno != EINTR)
        break;
      if (!m->main_exited)
        health_step (m);
      if (chan_open && (fds[V_CHAN].revents & POLLOUT))
        (void)vmproto_queue_flush (&m->chan_q, m->chan);
      if (chan_open && (fds[V_CHAN].revents & (POLLIN | POLLHUP | POLLERR)) && !read_channel (m))
        chan_open = false;
      if (fds[V_SIG].revents & POLLIN)
        reap (m, sigfd, &reaped, &qemu_status);
      if (fds[V_LISTEN].revents & POLLIN)
        accept_client (m);
      for (size_t i = 0; i < n_clients; i++)
        {
          if (fds[V_CLIENTS + i].revents & POLLOUT)
            flush_client (m, fds[V_CLIENTS + i].fd);
          if (fds[V_CLIENTS + i].revents & (POLLIN | POLLHUP | POLLERR))
            serve_client (m, fds[V_CLIENTS + i].fd);
        }
      drop_done_clients (m);
      update_main_flow (m);
      if (chan_open && vmproto_queue_pending (&m->chan_q))
        (void)vmproto_queue_flush (&m->chan_q, m->chan);
    }
  /* Output that was still on its way; the clients take theirs in finish, once the exit is recorded. */
  if (chan_open)
    read_channel_to_end (m);
  (void)log_writer_flush (&m->log);
  if (m->main_exited)
    return exit_code_of_status (m->main_status);
  return WIFSIGNALED (qemu_status) ? exit_code_of_status (qemu_status) : 255;
}

static bool
auto_remove (const struct monitor *m)
{
  return container_auto_remove (m->c);
}

/* Docker's events of an exit, once the state says so and before anyone waiting hears of it: oom, die with the exit
   code, the volumes' unmount. */
static void
exit_events (struct monitor *m, int code, bool oom)
{
  if (oom)
    container_event (m->c, "oom", NULL);
  char n[16];
  snprintf (n, sizeof n, "%d", code);
  container_event_attr (m->c, "die", "exitCode", n);
  container_volume_events (m->c, "unmount");
}

/* The container is over for good: its state is written (or a --rm container removed), the lock let go, the
   clients told.  oom: the kernel's OOM killer ended its last run. */
static void
finish (struct monitor *m, int code, bool oom, const char *error)
{
  container_set_exited (m->c, code, oom, error);
  /* A --rm container's state is written only where it stays; its clients hear of the exit once it is removed,
     files and all, as the docker CLI's `run --rm` returns only then. */
  cleanup_free char *trash = NULL;
  cleanup_json json_t *mounts = json_incref (container_mounts (m->c));
  bool remove = auto_remove (m);
  if (!remove)
    (void)container_write_state (m->c, NULL);
  exit_events (m, code, oom || m->main_oom);
  bool removed = remove && container_detach (m->store, m->c, &trash, NULL) == 0;
  if (remove && !removed)
    (void)container_write_state (m->c, NULL);
  if (removed)
    container_event (m->c, "destroy", NULL);
  /* Docker's --rm takes the container's anonymous volumes with it, before anyone hears of the exit. */
  if (removed)
    (void)volume_release_anonymous (m->store->root, mounts, NULL);
  /* The container is over: `wait` may return and `start` may run it again now, not once this process has exited
     (which an ASan build's leak check, for one, makes slow). */
  if (m->lock_fd >= 0)
    (void)close (m->lock_fd);
  m->lock_fd = -1;
  if (trash)
    (void)rm_rf (trash, NULL);
  /* Behind the output a client has not taken yet: a frame sent past its queue would cut into a frame. */
  for (size_t i = 0; i < m->n_clients; i++)
    client_queue_u32 (m, &m->clients[i], ATTACH_EXIT, (uint32_t)code);
  flush_clients_at_end (m);
}

/* What the driver set up for a run is released; returns whether the kernel's OOM killer ended it. */
static bool
end_run (struct monitor *m)
{
  cleanup_error isola_error_t err = NULL;
  bool oom = false;
  (void)m->driver->cleanup (m->c, &oom, &err);
  return oom || m->main_oom;
}

static void
report_failure (struct monitor *m, int code, const char *msg)
{
  uint8_t buf[4 + FAILED_MSG_MAX];
  broadcast (m, ATTACH_FAILED, buf, failed_payload (buf, (uint32_t)code, msg));
}

static int
fail_start (struct monitor *m, isola_error_t *err)
{
  int code = spawn_failure_exit_code ((*err)->status);
  /* Docker leaves a container that failed to start in "created" with the error and exit code recorded. */
  json_object_set_new (m->c->state, "ExitCode", json_integer (code));
  json_object_set_new (m->c->state, "Error", json_string ((*err)->msg));
  (void)container_write_state (m->c, NULL);
  report_failure (m, code, (*err)->msg);
  if (auto_remove (m))
    {
      cleanup_json json_t *mounts = json_incref (container_mounts (m->c));
      if (container_remove (m->store, m->c, NULL) == 0)
        {
          container_event (m->c, "destroy", NULL);
          (void)volume_release_anonymous (m->store->root, mounts, NULL);
        }
    }
  return 1;
}

/* --- restarts ------------------------------------------------------------------------------------------------ */

/* Closes what the last run used (its stdio, a VM's channel) and forgets its flow state, for the next run. */
static void
reset_run (struct monitor *m)
{
  /* With a terminal and -i, in_w is the master that out_r is too. */
  if (m->in_w == m->out_r)
    m->in_w = -1;
  int *fds[] = { &m->out_r, &m->err_r, &m->in_w, &m->console_r, &m->chan };
  for (size_t i = 0; i < ARRAY_SIZE (fds); i++)
    {
      if (*fds[i] >= 0)
        close (*fds[i]);
      *fds[i] = -1;
    }
  if (m->chan_dec)
    {
      vmproto_decoder_clear (m->chan_dec);
      free (m->chan_dec);
      m->chan_dec = NULL;
    }
  vmproto_queue_clear (&m->chan_q);
  vmproto_queue_init (&m->chan_q);
  m->main_exited = m->main_oom = m->main_paused = false;
  m->main_status = 0;
  m->kill_deadline_ms = 0;
  m->main_stdin_credit = VMPROTO_STDIN_WINDOW;
  m->pid = 0;
}

/* The clients of a run that ended (attached ones, and execs) hear of its exit and go, as Docker ends an attach when
   the container stops; new ones come once it runs again. */
static void
end_clients (struct monitor *m, int code)
{
  for (size_t i = 0; i < m->n_clients; i++)
    client_queue_u32 (m, &m->clients[i], ATTACH_EXIT, (uint32_t)code);
  flush_clients_at_end (m);
  while (m->n_clients)
    client_drop (m, m->n_clients - 1);
}

/* Waits delay_ms before the next run; false when a user stopped the container meanwhile (the marker appears).
   Connections made meanwhile are closed: `attach` and `exec` refuse a restarting container. */
static bool
restart_delay (struct monitor *m, long long delay_ms)
{
  long long end = monotonic_ms () + delay_ms;
  for (;;)
    {
      if (container_manual_stop (m->c))
        return false;
      long long left = end - monotonic_ms ();
      if (left <= 0)
        return true;
      struct pollfd p = { .fd = m->listen_fd, .events = POLLIN };
      if (poll (&p, 1, (int)(left < 50 ? left : 50)) > 0)
        {
          int fd = accept4 (m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
          if (fd >= 0)
            close (fd);
        }
    }
}

/* SIGKILL for the main process from the monitor itself (not through the driver's signal, which for a VM is a
   client of this very monitor). */
static void
kill_main (struct monitor *m)
{
  if (m->chan < 0)
    {
      (void)kill (m->pid, SIGKILL);
      return;
    }
  chan_queue (m, vmproto_msg_signal (VMPROTO_STREAM_MAIN, SIGKILL));
  m->kill_deadline_ms = monotonic_ms () + 3000;
}

static void
restart_failed (struct monitor *m, int code, isola_error_t *err)
{
  /* Docker: the container stays exited with the last run's code, and the error of the start that failed. */
  finish (m, code, false, (*err)->msg);
}

static int
monitor_run (struct monitor *m)
{
  cleanup_error isola_error_t err = NULL;
  if (take_running_lock (m, &err) < 0 || listen_on_attach_socket (m, &err) < 0)
    {
      report_failure (m, 125, err->msg);
      return 1;
    }
  /* SIGCHLD arrives through a signalfd so that reaping, output and clients share one loop. */
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  sigprocmask (SIG_BLOCK, &set, NULL);
  cleanup_close int sigfd = signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  cleanup_free char *logpath = container_path (m->c, "ctr.log");
  /* create checked the log config: one that does not parse now is json-file's default. */
  struct log_config lc = { .driver = LOG_DRIVER_JSON_FILE, .max_file = 1 };
  (void)log_config_parse (json_object_get (container_host_config (m->c), "LogConfig"), &lc, NULL);
  /* Read too: log_writer_init looks at the last byte for a record torn by a kill -9. */
  cleanup_close int logfd
      = lc.driver == LOG_DRIVER_NONE ? -1 : open (logpath, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lc.driver != LOG_DRIVER_NONE && logfd < 0)
    {
      /* O_NOFOLLOW: the log is never written through a symlink, whatever put one there. */
      isola_error_make (&err, errno, "open the container's log `%s`", logpath);
      report_failure (m, 125, err->msg);
      return 1;
    }
  log_writer_init (&m->log, logfd);
  if (lc.max_size > 0)
    log_writer_set_rotation (&m->log, logpath, lc.max_size, lc.max_file);

  /* A user's start: the restart count and back-off begin anew (Docker's ResetRestartManager). */
  struct restart_policy policy = restart_policy_of (m->c);
  int restarts = 0, code = 0;
  long long delay = 0;
  json_object_set_new (m->c->state, "RestartCount", json_integer (0));
  health_probe_init (&m->health, m->c);
  for (;;)
    {
      trace_mark ("monitor: starting the container");
      if (start_container (m, &err) < 0)
        {
          if (restarts == 0)
            return fail_start (m, &err);
          restart_failed (m, code, &err);
          break;
        }
      trace_mark ("monitor: container running");
      container_set_running (m->c, m->pid, getpid ());
      health_probe_run_started (&m->health, m->c);
      if (container_write_state (m->c, &err) < 0)
        {
          kill (m->pid, SIGKILL);
          report_failure (m, 125, err->msg);
          return 1;
        }
      /* A user who stopped the container while it was restarting either saw this run's state, or is seen here. */
      if (restarts > 0 && container_manual_stop (m->c))
        kill_main (m);
      /* Docker's, at every run: the volumes' mount, then start. */
      container_volume_events (m->c, "mount");
      container_event (m->c, "start", NULL);
      if (restarts == 0)
        {
          uint8_t pid[4];
          attach_put_u32 (pid, (uint32_t)m->pid);
          broadcast (m, ATTACH_STARTED, pid, 4);
        }
      long long started = monotonic_ms ();
      code = m->chan >= 0 ? supervise_vm (m, sigfd) : supervise (m, sigfd);
      trace_mark ("monitor: container exited");
      vm_execs_end_with_container (m);
      health_probe_run_ended (&m->health, m->c);
      bool oom = end_run (m);
      delay = restart_next_delay_ms (delay, monotonic_ms () - started);
      if (!restart_wanted (&policy, code, restarts, container_manual_stop (m->c)))
        {
          finish (m, code, oom, NULL);
          break;
        }
      container_set_restarting (m->c, code, oom, ++restarts);
      (void)container_write_state (m->c, NULL);
      exit_events (m, code, oom);
      (void)log_writer_flush (&m->log);
      end_clients (m, code);
      reset_run (m);
      if (!restart_delay (m, delay))
        {
          finish (m, code, oom, NULL);
          break;
        }
    }
  trace_mark ("monitor: finished");
  health_probe_clear (&m->health);
  log_writer_clear (&m->log);
  return 0;
}

/* Frees what the monitor still holds at its end (clients, the VM channel's queue and decoder, the log writer
   when the start failed), so that the leak check of the ASan build (tests/integration/leaks.bats) reports real
   leaks only. */
static void
monitor_clear (struct monitor *m)
{
  while (m->n_clients)
    client_drop (m, m->n_clients - 1);
  free (m->clients);
  m->clients = NULL;
  m->clients_cap = 0;
  free (m->pfds);
  m->pfds = NULL;
  m->pfds_cap = 0;
  if (m->spare_fd >= 0)
    close (m->spare_fd);
  m->spare_fd = -1;
  log_writer_clear (&m->log);
  free (m->out_buf);
  m->out_buf = NULL;
  free (m->execs);
  m->execs = NULL;
  m->n_execs = 0;
  vmproto_queue_clear (&m->chan_q);
  if (m->chan_dec)
    {
      vmproto_decoder_clear (m->chan_dec);
      free (m->chan_dec);
      m->chan_dec = NULL;
    }
}

int
main (int argc, char **argv)
{
  if (argc != 4)
    {
      fprintf (stderr, "usage: isola-monitor ROOT CONTAINER-ID CLIENT-FD\n");
      return 2;
    }
  trace_mark ("monitor: start");
  /* Before anything else: a re-execution starts over.  The container's first process (and, later, health checks)
     must not be forked from a mapping of the file on the host (sealed_exe.h); a failure is reported once there is
     a client to tell. */
  cleanup_error isola_error_t seal_err = NULL;
  (void)sealed_exe_ensure (argv, &seal_err);
  struct monitor m = { .lock_fd = -1,
                       .listen_fd = -1,
                       .out_r = -1,
                       .err_r = -1,
                       .in_w = -1,
                       .console_r = -1,
                       .chan = -1,
                       .next_stream = VMPROTO_STREAM_EXEC_MIN,
                       .next_request = 1,
                       .main_stdin_credit = VMPROTO_STDIN_WINDOW,
                       .clients_max = clients_max_of_limit (),
                       .spare_fd = -1 };
  vmproto_queue_init (&m.chan_q);
  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  (void)setsid ();
  if (chdir ("/") < 0)
    return 1;
  int client = atoi (argv[3]);
  if (client >= 0 && fcntl (client, F_SETFD, FD_CLOEXEC) == 0)
    client_add (&m, client, true);
  m.spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (seal_err)
    {
      report_failure (&m, 125, seal_err->msg);
      return 1;
    }
  cleanup_error isola_error_t err = NULL;
  if (store_open (argv[1], STORE_LOCK_NONE, &m.store, &err) < 0 || container_load (m.store, argv[2], &m.c, &err) < 0)
    {
      report_failure (&m, 125, err->msg);
      return 1;
    }
  m.driver = driver_of (m.c);
  int ret = monitor_run (&m);
  monitor_clear (&m);
  container_free (m.c);
  store_close (m.store);
  return ret;
}
