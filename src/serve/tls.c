/* isola serve's TLS, as dockerd's --tlsverify: the server's certificate and key, and client certificates that must
   chain to the given CA.  The TLS is ours (GnuTLS), in front of a plain libmicrohttpd daemon: each connection's
   thread does the handshake, then relays between the TLS session and one end of a socket pair whose other end MHD
   serves (MHD_add_connection).  MHD's own TLS cannot pass on a client's half-close to a hijacked stream (its relay
   of an upgraded TLS connection stops reading at the client's end of input and never tells the application's end),
   so `docker run -i … < file` over TLS never saw the end of its stdin.  The client is asked for a certificate but
   not required to show one: a request on a connection without a good one gets dockerd's 403 from the access handler
   (serve_tls_refusal), which says why. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/util.h"
#include "serve.h"

static int
read_pem (const char *path, char **out, char **why)
{
  size_t len = 0;
  cleanup_error isola_error_t err = NULL;
  /* PEM files of a certificate chain or a key: a megabyte is plenty. */
  if (read_file_bounded (path, 1024 * 1024, out, &len, &err) < 0)
    {
      *why = xstrdup (err->msg);
      return -1;
    }
  return 0;
}

int
serve_tls_load (struct serve_tls *tls, const char *ca, const char *cert, const char *key, char **why)
{
  if (ca == NULL || cert == NULL || key == NULL)
    {
      *why = xstrdup ("--tlsverify needs --tlscacert, --tlscert and --tlskey");
      return -1;
    }
  if (read_pem (ca, &tls->ca, why) < 0 || read_pem (cert, &tls->cert, why) < 0 || read_pem (key, &tls->key, why) < 0)
    return -1;
  /* The files' contents are checked now rather than by the first client: MHD would only say it cannot start. */
  gnutls_certificate_credentials_t cred;
  if (gnutls_certificate_allocate_credentials (&cred) < 0)
    {
      *why = xstrdup ("cannot allocate TLS credentials");
      return -1;
    }
  gnutls_datum_t c = { (unsigned char *)tls->cert, strlen (tls->cert) };
  gnutls_datum_t k = { (unsigned char *)tls->key, strlen (tls->key) };
  gnutls_datum_t a = { (unsigned char *)tls->ca, strlen (tls->ca) };
  int ret = gnutls_certificate_set_x509_key_mem (cred, &c, &k, GNUTLS_X509_FMT_PEM);
  if (ret < 0)
    *why = xasprintf ("%s, %s: %s", cert, key, gnutls_strerror (ret));
  else if ((ret = gnutls_certificate_set_x509_trust_mem (cred, &a, GNUTLS_X509_FMT_PEM)) <= 0)
    {
      *why = xasprintf ("%s: %s", ca, ret < 0 ? gnutls_strerror (ret) : "no CA certificate in it");
      ret = -1;
    }
  if (ret < 0)
    {
      gnutls_certificate_free_credentials (cred);
      return -1;
    }
  tls->cred = cred;
  tls->verify = true;
  return 0;
}

/* Why the client of a handshaken session may not use the API, or NULL. */
static const char *
client_refusal (gnutls_session_t session)
{
  unsigned n = 0, status = 0;
  if (gnutls_certificate_get_peers (session, &n) == NULL || n == 0)
    return "a client certificate is required (--tlsverify)";
  if (gnutls_certificate_verify_peers2 (session, &status) < 0 || status != 0)
    return "the client certificate is not signed by a trusted CA";
  return NULL;
}

/* The refusal of each connection MHD serves, by its descriptor (MHD's end of the pair): set before MHD has it, so a
   reused descriptor's old entry is never read. */
static pthread_mutex_t refusals_lock = PTHREAD_MUTEX_INITIALIZER;
static const char **refusals;
static size_t n_refusals;

static void
set_refusal (int fd, const char *why)
{
  pthread_mutex_lock (&refusals_lock);
  if ((size_t)fd >= n_refusals)
    {
      size_t n = (size_t)fd * 2 + 64;
      refusals = xrealloc (refusals, n * sizeof *refusals);
      memset (refusals + n_refusals, 0, (n - n_refusals) * sizeof *refusals);
      n_refusals = n;
    }
  refusals[fd] = why;
  pthread_mutex_unlock (&refusals_lock);
}

const char *
serve_tls_refusal (struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *info = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info == NULL)
    return "not a TLS connection";
  pthread_mutex_lock (&refusals_lock);
  const char *why = (size_t)info->connect_fd < n_refusals ? refusals[info->connect_fd] : "not a TLS connection";
  pthread_mutex_unlock (&refusals_lock);
  return why;
}

/* One direction's bytes on their way. */
struct pending
{
  char buf[64 * 1024];
  size_t len;
  bool eof;    /* the sender's end came */
  bool closed; /* and was passed on */
};

struct tls_conn
{
  int sock; /* the client's TCP connection (non-blocking after the handshake) */
  int pair; /* our end of MHD's socket pair (non-blocking) */
  gnutls_session_t session;
  struct pending in, out; /* client → MHD, MHD → client */
};

/* Client → MHD: the client's end of input (its close_notify, or the TCP half-close the docker CLI sends) becomes the
   pair's, which MHD's upgraded socket hands to the hijacked stream as it is.  0 to go on, -1 when the client is gone
   for good. */
static int
client_to_pair (struct tls_conn *c)
{
  if (c->in.len == 0 && !c->in.eof)
    {
      ssize_t n = gnutls_record_recv (c->session, c->in.buf, sizeof c->in.buf);
      if (n > 0)
        c->in.len = (size_t)n;
      else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
        c->in.eof = true;
      else if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
        return -1;
    }
  if (c->in.len > 0)
    {
      ssize_t n = send (c->pair, c->in.buf, c->in.len, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
      if (n > 0)
        {
          memmove (c->in.buf, c->in.buf + n, c->in.len - (size_t)n);
          c->in.len -= (size_t)n;
        }
    }
  if (c->in.eof && c->in.len == 0 && !c->in.closed)
    {
      (void)shutdown (c->pair, SHUT_WR);
      c->in.closed = true;
    }
  return 0;
}

/* MHD → client; MHD's end of the stream becomes the client's (close_notify, then the TCP half-close). */
static int
pair_to_client (struct tls_conn *c)
{
  if (c->out.len == 0 && !c->out.eof)
    {
      ssize_t n = recv (c->pair, c->out.buf, sizeof c->out.buf, 0);
      if (n > 0)
        c->out.len = (size_t)n;
      else if (n == 0)
        c->out.eof = true;
      else if (errno != EAGAIN && errno != EINTR)
        return -1;
    }
  while (c->out.len > 0)
    {
      /* After GNUTLS_E_AGAIN, GnuTLS wants the same data again: it stays at the front of the buffer. */
      ssize_t n = gnutls_record_send (c->session, c->out.buf, c->out.len);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        return 0;
      if (n < 0)
        return -1;
      memmove (c->out.buf, c->out.buf + n, c->out.len - (size_t)n);
      c->out.len -= (size_t)n;
    }
  if (c->out.eof && !c->out.closed)
    {
      (void)gnutls_bye (c->session, GNUTLS_SHUT_WR);
      (void)shutdown (c->sock, SHUT_WR);
      c->out.closed = true;
    }
  return 0;
}

static void
relay (struct tls_conn *c)
{
  bool client_hup = false;
  while (!(c->in.closed && c->out.closed))
    {
      bool want_client = c->in.len == 0 && !c->in.eof;
      bool want_pair = c->out.len == 0 && !c->out.eof;
      /* Records GnuTLS has read but not handed out yet: no poll for those. */
      bool buffered = want_client && gnutls_record_check_pending (c->session) > 0;
      struct pollfd p[2] = {
        /* A client that hung up is left out while what it sent goes on to MHD. */
        { .fd = client_hup && c->in.len > 0 ? -1 : c->sock,
          .events = (short)((want_client ? POLLIN : 0) | (c->out.len > 0 ? POLLOUT : 0)) },
        { .fd = c->pair, .events = (short)((want_pair ? POLLIN : 0) | (c->in.len > 0 ? POLLOUT : 0)) },
      };
      if (!buffered && poll (p, 2, -1) < 0 && errno != EINTR)
        return;
      if ((p[0].revents | p[1].revents) & (POLLERR | POLLNVAL))
        return;
      /* The client is gone (reset, or both ways closed): what it sent before still goes to MHD, which then sees its
         end of the pair hang up (serve_client_gone). */
      if (p[0].revents & POLLHUP)
        {
          client_hup = true;
          if (c->in.len == 0 && !(want_client && (p[0].revents & POLLIN)))
            return;
        }
      /* MHD closed the connection and all it wrote went out: nothing more can go to it. */
      if ((p[1].revents & POLLHUP) && c->out.closed)
        return;
      if (client_to_pair (c) < 0 || pair_to_client (c) < 0)
        return;
    }
}

struct front
{
  struct MHD_Daemon *daemon;
  const struct serve_tls *tls;
  int listen_fd;
};

struct accepted
{
  const struct front *front;
  int sock;
};

static int
handshake (struct tls_conn *c, const struct serve_tls *tls)
{
  if (gnutls_init (&c->session, GNUTLS_SERVER | GNUTLS_NO_SIGNAL) < 0)
    return -1;
  if (gnutls_set_default_priority (c->session) < 0
      || gnutls_credentials_set (c->session, GNUTLS_CRD_CERTIFICATE, tls->cred) < 0)
    return -1;
  gnutls_certificate_server_set_request (c->session, GNUTLS_CERT_REQUEST);
  gnutls_transport_set_int (c->session, c->sock);
  /* A client that connects and never finishes its handshake does not hold the thread for ever. */
  gnutls_handshake_set_timeout (c->session, 60 * 1000);
  int ret;
  do
    ret = gnutls_handshake (c->session);
  while (ret < 0 && !gnutls_error_is_fatal (ret));
  return ret < 0 ? -1 : 0;
}

static void *
serve_tls_connection (void *arg)
{
  struct accepted *a = arg;
  struct tls_conn *c = xcalloc (1, sizeof *c);
  c->sock = a->sock;
  c->pair = -1;
  int pair[2];
  if (handshake (c, a->front->tls) == 0 && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0)
    {
      c->pair = pair[1];
      set_refusal (pair[0], client_refusal (c->session));
      struct sockaddr_un addr = { .sun_family = AF_UNIX };
      /* MHD closes pair[0] when it fails to take it too. */
      if (MHD_add_connection (a->front->daemon, pair[0], (struct sockaddr *)&addr, sizeof (sa_family_t)) == MHD_YES)
        {
          (void)fcntl (c->sock, F_SETFL, fcntl (c->sock, F_GETFL) | O_NONBLOCK);
          (void)fcntl (c->pair, F_SETFL, fcntl (c->pair, F_GETFL) | O_NONBLOCK);
          relay (c);
        }
    }
  if (c->session)
    gnutls_deinit (c->session);
  if (c->pair >= 0)
    close (c->pair);
  close (c->sock);
  free (c);
  free (a);
  return NULL;
}

static void *
accept_loop (void *arg)
{
  const struct front *f = arg;
  for (;;)
    {
      int sock = accept4 (f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (sock < 0)
        {
          if (errno == EINTR || errno == ECONNABORTED)
            continue;
          /* Out of descriptors or memory: the next try may find some. */
          poll (NULL, 0, 100);
          continue;
        }
      struct accepted *a = xmalloc (sizeof *a);
      *a = (struct accepted){ f, sock };
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      if (pthread_create (&t, &attr, serve_tls_connection, a) != 0)
        {
          close (sock);
          free (a);
        }
      pthread_attr_destroy (&attr);
    }
  return NULL;
}

int
serve_tls_front_start (int listen_fd, const struct serve_tls *tls, struct MHD_Daemon *daemon)
{
  struct front *f = xmalloc (sizeof *f); /* lives as long as the server */
  *f = (struct front){ daemon, tls, listen_fd };
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  int ret = pthread_create (&t, &attr, accept_loop, f);
  pthread_attr_destroy (&attr);
  if (ret != 0)
    {
      free (f);
      errno = ret;
      return -1;
    }
  return 0;
}
