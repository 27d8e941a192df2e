/* The HTTP side of isola-serve: libmicrohttpd's callbacks, the API version in the path, bodies (bounded), routing
   to the endpoint groups, Docker's headers and {"message": ...} errors, streams and hijacked connections. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "serve.h"

/* --- requests ------------------------------------------------------------------------------------------------- */

const char *
serve_query (struct serve_request *r, const char *key)
{
  return MHD_lookup_connection_value (r->conn, MHD_GET_ARGUMENT_KIND, key);
}

bool
serve_query_bool (struct serve_request *r, const char *key)
{
  const char *v = serve_query (r, key);
  /* Docker's boolValue: anything but "", "0", "no", "false", "none" is true. */
  return v
         && !(v[0] == '\0' || strcmp (v, "0") == 0 || strcasecmp (v, "no") == 0 || strcasecmp (v, "false") == 0
              || strcasecmp (v, "none") == 0);
}

long long
serve_query_int (struct serve_request *r, const char *key, long long fallback)
{
  const char *v = serve_query (r, key);
  if (v == NULL || *v == '\0')
    return fallback;
  char *end;
  errno = 0;
  long long n = strtoll (v, &end, 10);
  return errno || *end ? fallback : n;
}

json_t *
serve_body_json (struct serve_request *r, enum MHD_Result *ret)
{
  if (r->body_len == 0)
    return json_object ();
  json_error_t jerr;
  json_t *j = json_loadb (r->body, r->body_len, 0, &jerr);
  if (j == NULL || !json_is_object (j))
    {
      json_decref (j);
      /* dockerd's message for a body that does not decode */
      *ret = serve_reply_error (r, 400, "invalid JSON: %s", j ? "not an object" : jerr.text);
      return NULL;
    }
  return j;
}

bool
serve_route (struct serve_request *r, const char *method, const char *pattern)
{
  if (strcmp (r->method, method) != 0 && !(strcmp (method, "GET") == 0 && strcmp (r->method, "HEAD") == 0))
    return false;
  const char *p = r->path, *q = pattern;
  int n = 0;
  static __thread char args[2][512];
  while (*q)
    {
      if (*q == '*')
        {
          /* A variable: one segment, or with "**" the rest up to the pattern's next literal suffix. */
          bool greedy = q[1] == '*';
          q += greedy ? 2 : 1;
          const char *end;
          if (greedy)
            {
              size_t suffix = strlen (q);
              size_t left = strlen (p);
              if (left < suffix || strcmp (p + left - suffix, q) != 0)
                return false;
              end = p + left - suffix;
            }
          else
            end = p + strcspn (p, "/");
          if (end == p || n >= 2 || (size_t)(end - p) >= sizeof args[0])
            return false;
          memcpy (args[n], p, (size_t)(end - p));
          args[n][end - p] = '\0';
          r->arg[n] = args[n];
          n++;
          p = end;
          continue;
        }
      if (*p != *q)
        return false;
      p++, q++;
    }
  return *p == '\0' || (p[0] == '/' && p[1] == '\0');
}

/* --- responses ------------------------------------------------------------------------------------------------ */

void
serve_add_headers (struct MHD_Response *resp)
{
  MHD_add_response_header (resp, "Api-Version", SERVE_API_VERSION);
  MHD_add_response_header (resp, "Server", "isola/" ISOLA_VERSION " (linux)");
  MHD_add_response_header (resp, "Ostype", "linux");
  MHD_add_response_header (resp, "Docker-Experimental", "false");
}

enum MHD_Result
serve_reply_response (struct serve_request *r, unsigned status, struct MHD_Response *resp)
{
  if (resp == NULL)
    return MHD_NO;
  serve_add_headers (resp);
  enum MHD_Result ret = MHD_queue_response (r->conn, status, resp);
  MHD_destroy_response (resp);
  return ret;
}

enum MHD_Result
serve_reply (struct serve_request *r, unsigned status, const char *type, const void *data, size_t len)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer (len, (void *)data, MHD_RESPMEM_MUST_COPY);
  if (resp && type)
    MHD_add_response_header (resp, "Content-Type", type);
  return serve_reply_response (r, status, resp);
}

enum MHD_Result
serve_reply_pipe (struct serve_request *r, int fd, const char *type)
{
  struct MHD_Response *resp = MHD_create_response_from_pipe (fd);
  if (resp == NULL)
    {
      close (fd);
      return MHD_NO;
    }
  MHD_add_response_header (resp, "Content-Type", type);
  return serve_reply_response (r, 200, resp);
}

enum MHD_Result
serve_reply_json (struct serve_request *r, unsigned status, json_t *body)
{
  cleanup_free char *s = json_dumps (body, JSON_COMPACT);
  json_decref (body);
  /* As Go's json.Encoder: a newline after the document. */
  cleanup_free char *line = xasprintf ("%s\n", s ? s : "null");
  return serve_reply (r, status, "application/json", line, strlen (line));
}

enum MHD_Result
serve_reply_empty (struct serve_request *r, unsigned status)
{
  return serve_reply (r, status, NULL, "", 0);
}

enum MHD_Result
serve_reply_error (struct serve_request *r, unsigned status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  json_t *body = json_pack ("{s:s}", "message", msg ? msg : "error");
  free (msg);
  return serve_reply_json (r, status, body);
}

unsigned
serve_status_of (int e)
{
  switch (e < 0 ? -e : e)
    {
    case ENOENT:
    case ESRCH:
      return 404;
    case EEXIST:
    case EBUSY:
    case EALREADY:
      return 409;
    case EINVAL:
    case ENOTSUP:
    case E2BIG:
    case ERANGE:
      return 400;
    case EACCES:
    case EPERM:
      return 403;
    default:
      return 500;
    }
}

enum MHD_Result
serve_reply_isola_error (struct serve_request *r, isola_error_t err)
{
  if (err == NULL)
    return serve_reply_error (r, 500, "internal error");
  return serve_reply_error (r, serve_status_of (err->status), "%s", err->msg);
}

enum MHD_Result
serve_reply_stream (struct serve_request *r, unsigned status, const char *type, MHD_ContentReaderCallback read,
                    void *cls, MHD_ContentReaderFreeCallback free_cls)
{
  struct MHD_Response *resp = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 64 * 1024, read, cls, free_cls);
  if (resp == NULL)
    {
      if (free_cls)
        free_cls (cls);
      return MHD_NO;
    }
  if (type)
    MHD_add_response_header (resp, "Content-Type", type);
  return serve_reply_response (r, status, resp);
}

size_t
serve_stream_take (char *buf, size_t max, const char *data, size_t len, size_t *pos)
{
  size_t n = *pos < len ? len - *pos : 0;
  if (n > max)
    n = max;
  if (n == 0)
    return 0; /* data may be NULL then */
  memcpy (buf, data + *pos, n);
  *pos += n;
  return n;
}

int
serve_client_fd (struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *info = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  return info ? info->connect_fd : -1;
}

bool
serve_fd_gone (int fd)
{
  if (fd < 0)
    return true;
  struct pollfd p = { .fd = fd, .events = POLLRDHUP };
  return poll (&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

bool
serve_client_gone (struct MHD_Connection *conn)
{
  return serve_fd_gone (serve_client_fd (conn));
}

struct hijack
{
  serve_hijack_fn fn;
  void *cls;
  void (*free_cls) (void *);
};

/* The bytes the client has not read yet of what sock sent: on a unix socket SIOCOUTQ counts them; over TCP only the
   peer's socket knows, which the kernel shows (sock_diag) when the client is on this host: a loopback connection.
   -1 when it cannot be known. */
static bool
is_loopback_addr (const struct sockaddr_storage *ss)
{
  if (ss->ss_family == AF_INET)
    return (ntohl (((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss->ss_family == AF_INET6)
    {
      const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
      return IN6_IS_ADDR_LOOPBACK (a) || (IN6_IS_ADDR_V4MAPPED (a) && a->s6_addr[12] == 127);
    }
  return false;
}

static void
diag_endpoint (const struct sockaddr_storage *ss, __be16 *port, __be32 addr[4])
{
  if (ss->ss_family == AF_INET)
    {
      const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
      *port = in->sin_port;
      addr[0] = in->sin_addr.s_addr;
    }
  else
    {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
      *port = in6->sin6_port;
      memcpy (addr, &in6->sin6_addr, 16);
    }
}

/* The receive queue of the client's end of a loopback TCP connection (its source is our destination). */
static long
loopback_peer_unread (const struct sockaddr_storage *local, const struct sockaddr_storage *peer)
{
  cleanup_close int nl = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0)
    return -1;
  struct
  {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 r;
  } req = { .nlh = { .nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST },
            .r = { .sdiag_family = (__u8)peer->ss_family,
                   .sdiag_protocol = IPPROTO_TCP,
                   .idiag_states = ~0U,
                   .id = { .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } } };
  diag_endpoint (peer, &req.r.id.idiag_sport, req.r.id.idiag_src);
  diag_endpoint (local, &req.r.id.idiag_dport, req.r.id.idiag_dst);
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  if (sendto (nl, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
    return -1;
  union
  {
    struct nlmsghdr h;
    char buf[8192];
  } reply;
  ssize_t n = recv (nl, &reply, sizeof reply, 0);
  for (struct nlmsghdr *h = &reply.h; n > 0 && NLMSG_OK (h, (size_t)n); h = NLMSG_NEXT (h, n))
    if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && h->nlmsg_len >= NLMSG_LENGTH (sizeof (struct inet_diag_msg)))
      return (long)((struct inet_diag_msg *)NLMSG_DATA (h))->idiag_rqueue;
  return -1;
}

static long
client_unread (int sock)
{
  struct sockaddr_storage local, peer;
  socklen_t len = sizeof local, plen = sizeof peer;
  if (getsockname (sock, (struct sockaddr *)&local, &len) < 0)
    return -1;
  if (local.ss_family == AF_UNIX)
    {
      int queued = 0;
      return ioctl (sock, SIOCOUTQ, &queued) < 0 ? -1 : queued;
    }
  if ((local.ss_family != AF_INET && local.ss_family != AF_INET6)
      || getpeername (sock, (struct sockaddr *)&peer, &plen) < 0 || !is_loopback_addr (&peer))
    return -1;
  return loopback_peer_unread (&local, &peer);
}

/* Waits (a second at most) until the client has read the 101 response.  docker-py (through http.client) reads that
   response with a buffered reader, then the stream from the raw socket: output sent along with the headers would be
   lost in that buffer (over TCP, 22 exec_run outputs of 30 were).  dockerd gets away with it as its runc takes long
   enough to start a process; isola's exec output can be there at once.  Known on a unix socket and for a client on
   this host over TCP (client_unread); over TLS, the socket pair's other end is tls.c's relay. */
static void
wait_headers_read (int sock)
{
  for (int i = 0; i < 1000; i++)
    {
      long unread = client_unread (sock);
      if (unread <= 0)
        return;
      struct pollfd p = { .fd = sock, .events = POLLRDHUP };
      if (poll (&p, 1, 1) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return;
    }
}

struct upgraded_session
{
  struct hijack *h;
  int sock;
  char *extra;
  size_t extra_len;
  struct MHD_UpgradeResponseHandle *urh;
};

static void *
run_upgraded (void *arg)
{
  struct upgraded_session *u = arg;
  struct hijack *h = u->h;
  /* MHD hands the socket over non-blocking; the relays poll it and write whole frames. */
  int flags = fcntl (u->sock, F_GETFL);
  if (flags >= 0)
    (void)fcntl (u->sock, F_SETFL, flags & ~O_NONBLOCK);
  wait_headers_read (u->sock);
  h->fn (h->cls, u->sock, u->extra, u->extra_len);
  if (h->free_cls)
    h->free_cls (h->cls);
  free (h);
  MHD_upgrade_action (u->urh, MHD_UPGRADE_ACTION_CLOSE);
  free (u->extra);
  free (u);
  return NULL;
}

static void
upgraded (void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra, size_t extra_len, MHD_socket sock,
          struct MHD_UpgradeResponseHandle *urh)
{
  struct upgraded_session *u = xcalloc (1, sizeof *u);
  *u = (struct upgraded_session){ .h = cls, .sock = sock, .extra_len = extra_len, .urh = urh };
  u->extra = xmalloc (extra_len + 1);
  memcpy (u->extra, extra, extra_len);
  /* The connection's socket as it is (over TLS, a socket pair's end that tls.c relays): the session runs in this
     connection's thread. */
  run_upgraded (u);
}

enum MHD_Result
serve_reply_hijack (struct serve_request *r, serve_hijack_fn fn, void *cls, void (*free_cls) (void *))
{
  struct hijack *h = xmalloc (sizeof *h);
  *h = (struct hijack){ fn, cls, free_cls };
  struct MHD_Response *resp = MHD_create_response_for_upgrade (upgraded, h);
  if (resp == NULL)
    {
      if (free_cls)
        free_cls (cls);
      free (h);
      return MHD_NO;
    }
  MHD_add_response_header (resp, "Content-Type", "application/vnd.docker.raw-stream");
  MHD_add_response_header (resp, MHD_HTTP_HEADER_UPGRADE, "tcp");
  serve_add_headers (resp);
  enum MHD_Result ret = MHD_queue_response (r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
  MHD_destroy_response (resp);
  if (ret != MHD_YES)
    {
      if (free_cls)
        free_cls (cls);
      free (h);
    }
  return ret;
}

/* --- dispatch ------------------------------------------------------------------------------------------------- */

/* "/v1.41/containers/json" → 1, 41 and "/containers/json"; a path without a version is the newest. */
static void
split_version (struct serve_request *r, const char *url)
{
  int major, minor, n = 0;
  r->api_major = 1, r->api_minor = 41;
  if (url[0] == '/' && url[1] == 'v' && sscanf (url + 2, "%d.%d%n", &major, &minor, &n) == 2 && n > 0
      && (url[2 + n] == '/' || url[2 + n] == '\0'))
    {
      r->api_major = major, r->api_minor = minor;
      url += 2 + n;
    }
  r->path = xstrdup (url[0] ? url : "/");
}

static enum MHD_Result
dispatch (struct serve_request *r)
{
  if (r->api_major != 1 || r->api_minor < 24)
    return serve_reply_error (r, 400,
                              "client version %d.%d is too old. Minimum supported API version is %s, please upgrade "
                              "your client to a newer version",
                              r->api_major, r->api_minor, SERVE_MIN_API_VERSION);
  if (r->api_minor > 41)
    return serve_reply_error (r, 400, "client version %d.%d is too new. Maximum supported API version is %s",
                              r->api_major, r->api_minor, SERVE_API_VERSION);
  if (r->body_too_big)
    return serve_reply_error (r, 413, "request body larger than %d bytes", SERVE_BODY_MAX);
  static serve_handler_fn const groups[]
      = { serve_system,   serve_containers, serve_exec,   serve_images, serve_volumes,
          serve_networks, serve_prune,      serve_layers, serve_stats,  serve_auth };
  for (size_t i = 0; i < ARRAY_SIZE (groups); i++)
    {
      enum MHD_Result ret = groups[i](r);
      if (ret != SERVE_NOT_MINE)
        return ret;
    }
  return serve_reply_error (r, 404, "page not found");
}

/* The bodies that are archives of any size (POST /images/load, PUT /containers/{id}/archive) go to a file. */
static bool
body_to_file (const struct serve_request *r)
{
  size_t n = strlen (r->path);
  return (strcmp (r->method, "POST") == 0 && strcmp (r->path, "/images/load") == 0)
         || (strcmp (r->method, "PUT") == 0 && n > 8 && strcmp (r->path + n - 8, "/archive") == 0);
}

static int
open_body_file (struct serve_request *r)
{
  const char *dir = getenv ("TMPDIR");
  r->body_path = xasprintf ("%s/isola-serve-body-XXXXXX", dir && *dir ? dir : "/var/tmp");
  r->body_fd = mkostemp (r->body_path, O_CLOEXEC);
  return r->body_fd;
}

static void
take_body (struct serve_request *r, const char *data, size_t len)
{
  if (r->body_fd >= 0)
    {
      if (write_all (r->body_fd, data, len) < 0)
        r->body_too_big = true;
      return;
    }
  if (r->body_too_big || r->body_len + len > SERVE_BODY_MAX)
    {
      r->body_too_big = true;
      return;
    }
  r->body = xrealloc (r->body, r->body_len + len + 1);
  memcpy (r->body + r->body_len, data, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
}

static enum MHD_Result
access_handler (void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
                const char *upload_data, size_t *upload_data_size, void **con_cls)
{
  struct serve_request *r = *con_cls;
  const struct serve_tls *tls = cls;
  const char *why;
  if (r == NULL && tls && tls->verify && (why = serve_tls_refusal (conn)) != NULL)
    {
      /* dockerd refuses such a client in the handshake; here it gets no further than this, and is told why. */
      struct serve_request refused = { .conn = conn, .method = method };
      return serve_reply_error (&refused, 403, "%s", why);
    }
  if (r == NULL)
    {
      r = xcalloc (1, sizeof *r);
      r->conn = conn;
      r->method = method;
      r->body_fd = -1;
      split_version (r, url);
      if (body_to_file (r) && open_body_file (r) < 0)
        r->body_too_big = true;
      *con_cls = r;
      return MHD_YES;
    }
  if (*upload_data_size)
    {
      take_body (r, upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
  return dispatch (r);
}

static void
request_completed (void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
  struct serve_request *r = *con_cls;
  if (r == NULL)
    return;
  if (r->body_fd >= 0)
    close (r->body_fd);
  if (r->body_path)
    unlink (r->body_path);
  free (r->body_path);
  free (r->body);
  free (r->path);
  free (r);
  *con_cls = NULL;
}

/* MHD's messages, but for those it writes whenever a client left a stream (wait, logs --follow, a tar) before its
   end, which is no error of ours. */
static void
log_message (void *cls, const char *fmt, va_list ap)
{
  char msg[1024];
  vsnprintf (msg, sizeof msg, fmt, ap);
  if (strstr (msg, "application error generating response"))
    return;
  /* A client that has what it wanted closes before the stream's last chunk (the docker CLI stops reading a tar at
     its end-of-archive blocks). */
  if (strstr (msg, "The socket is no longer available for sending"))
    return;
  fputs (msg, stderr);
}

struct MHD_Daemon *
serve_start_daemon (int listen_fd, const struct serve_tls *tls)
{
  /* Over TLS, tls.c accepts the connections and hands MHD their plain streams. */
  struct MHD_OptionItem listen[]
      = { { tls ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL }, { MHD_OPTION_END, 0, NULL } };
  struct MHD_Daemon *d
      = MHD_start_daemon (MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_UPGRADE
                              | MHD_USE_ERROR_LOG | MHD_USE_TURBO | (tls ? MHD_USE_NO_LISTEN_SOCKET : 0),
                          0, NULL, NULL, access_handler, (void *)tls, MHD_OPTION_EXTERNAL_LOGGER, log_message, NULL,
                          MHD_OPTION_ARRAY, listen, MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
                          /* Headers are bounded by the connection's memory (MHD answers 431 beyond). */
                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_CONNECTION_TIMEOUT,
                          (unsigned)0, MHD_OPTION_END);
  if (d && tls && serve_tls_front_start (listen_fd, tls, d) < 0)
    {
      int saved = errno;
      MHD_stop_daemon (d);
      errno = saved;
      return NULL;
    }
  return d;
}
