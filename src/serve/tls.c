/* isola serve's TLS, as dockerd's --tlsverify: the server's certificate and key, and client certificates that must
   chain to the given CA.  libmicrohttpd does the TLS (GnuTLS); it asks the client for a certificate when it has a
   trust list but does not require one, so each request's connection is checked here before it is served. */
#define _GNU_SOURCE
#include <errno.h>
#include <gnutls/gnutls.h>
#include <string.h>

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
  gnutls_certificate_free_credentials (cred);
  tls->verify = ret >= 0;
  return ret < 0 ? -1 : 0;
}

bool
serve_tls_client_ok (struct MHD_Connection *conn, const char **why)
{
  const union MHD_ConnectionInfo *info = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == NULL || info->tls_session == NULL)
    {
      *why = "not a TLS connection";
      return false;
    }
  gnutls_session_t session = info->tls_session;
  unsigned n = 0, status = 0;
  if (gnutls_certificate_get_peers (session, &n) == NULL || n == 0)
    {
      *why = "a client certificate is required (--tlsverify)";
      return false;
    }
  if (gnutls_certificate_verify_peers2 (session, &status) < 0 || status != 0)
    {
      *why = "the client certificate is not signed by a trusted CA";
      return false;
    }
  return true;
}
