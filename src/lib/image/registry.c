#define _GNU_SOURCE
#include "image/registry.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "image/oci.h"
#include "image/reference.h"
#include "image/registry_auth.h"
#include "image/registry_wire.h"
#include "store/store.h"

#define TOKEN_MAX             (1024 * 1024)
#define ERROR_BODY_MAX        (64 * 1024)
#define HEADER_MAX            8192
#define MAX_REDIRECTS         10
#define DEFAULT_TIMEOUT       30
#define REQUEST_ATTEMPTS      3
#define TAGS_LIST_MAX         (16 * 1024 * 1024)
#define OAUTH_CLIENT_ID       "docker"                /* what Docker names itself to token services */
#define REGISTRY_SCHEME_CACHE "cache/registry-scheme" /* under the root: HOST → "http" or "https" */

#define MANIFEST_ACCEPT                                                                                                \
  "Accept: " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_LIST                             \
  ", application/vnd.docker.distribution.manifest.v1+prettyjws, application/json"

struct registry_client
{
  char *root;         /* holds config.json and the scheme cache, or NULL for the default */
  char *domain;       /* as the reference names it */
  char *host;         /* HOST[:PORT] contacted: the domain's registry, or a mirror's */
  char *base;         /* "https://HOST" */
  bool plain_allowed; /* loopback or listed insecure: plain HTTP when HTTPS does not answer */
  bool scheme_cached; /* base comes from the scheme cache and no answer has confirmed it yet */
  char *repo;         /* path in the registry */
  char *actions;      /* token scope actions */
  char **scopes;      /* more token scopes ("repository:OTHER:pull", for a cross-repository mount), or NULL */
  char *user;         /* credentials, or NULL */
  char *password;
  char *identity;           /* an identity token (OAuth2 refresh token), used instead of the password */
  bool identity_given;      /* it came with the request (registry_login), not from config.json */
  bool want_identity;       /* login: ask the token service for a refresh token (offline_token=true) */
  char *got_identity;       /* the refresh token it gave */
  char *authz;              /* "Authorization: …" once known, or NULL */
  char *ca_file;            /* the registry's own CA, or NULL */
  long timeout;             /* seconds without a byte before a request fails */
  bool (*gone) (void *arg); /* the caller left: requests end (registry_login) */
  void *gone_arg;
};

/* --- requests ------------------------------------------------------------------------------------------------- */

struct response
{
  long status;
  char *body;
  size_t len;
  size_t max; /* body bound: the transfer fails beyond it */
  bool too_large;
  char *content_type;
  char *challenge; /* WWW-Authenticate */
};

static void
response_clear (struct response *r)
{
  free (r->body);
  free (r->content_type);
  free (r->challenge);
  memset (r, 0, sizeof (*r));
}

static size_t
on_body (char *data, size_t size, size_t n, void *arg)
{
  struct response *r = arg;
  size_t len = size * n;
  if (r->len + len > r->max)
    {
      r->too_large = true;
      return 0;
    }
  r->body = xrealloc (r->body, r->len + len + 1);
  memcpy (r->body + r->len, data, len);
  r->len += len;
  r->body[r->len] = '\0';
  return len;
}

static size_t
on_header (char *data, size_t size, size_t n, void *arg)
{
  struct response *r = arg;
  size_t len = size * n;
  if (len > HEADER_MAX)
    return len;
  /* Each response of a redirect chain starts over: only the last one's headers count. */
  if (len > 5 && strncmp (data, "HTTP/", 5) == 0)
    {
      free (r->content_type), free (r->challenge);
      r->content_type = r->challenge = NULL;
      return len;
    }
  char *v;
  if ((v = registry_header_value (data, len, "Content-Type")))
    free (r->content_type), r->content_type = v;
  else if ((v = registry_header_value (data, len, "WWW-Authenticate")))
    free (r->challenge), r->challenge = v;
  return len;
}

static bool host_is_loopback (const char *domain);

static bool
url_is_loopback (const char *url)
{
  CURLU *u = curl_url ();
  char *host = NULL;
  bool loop = false;
  if (u && curl_url_set (u, CURLUPART_URL, url, 0) == CURLUE_OK
      && curl_url_get (u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
    loop = host_is_loopback (host);
  curl_free (host);
  curl_url_cleanup (u);
  return loop;
}

/* libcurl calls it as a transfer goes and while it waits (about once a second at least): non-zero ends it. */
static int
on_progress_check_gone (void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  const struct registry_client *c = arg;
  return c->gone (c->gone_arg) ? 1 : 0;
}

/* An easy handle with what every request has: bounds, timeouts, redirects within http(s), the CA; a caller that
   can leave ends it then. */
static CURL *
easy_new (const struct registry_client *c, const char *url, struct curl_slist *headers)
{
  CURL *h = curl_easy_init ();
  if (h == NULL)
    return NULL;
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (h, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
  /* curl drops a custom Authorization header when a redirect leads to another host (UNRESTRICTED_AUTH off). */
  curl_easy_setopt (h, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, c->timeout);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, c->timeout);
  curl_easy_setopt (h, CURLOPT_USERAGENT, "isola/" ISOLA_VERSION);
  if (c->ca_file)
    curl_easy_setopt (h, CURLOPT_CAINFO, c->ca_file);
  /* libcurl takes proxies from the environment (http_proxy, https_proxy, no_proxy); a loopback host is never
     reached through one. */
  if (url_is_loopback (url))
    curl_easy_setopt (h, CURLOPT_PROXY, "");
  if (c->gone)
    {
      curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, on_progress_check_gone);
      curl_easy_setopt (h, CURLOPT_XFERINFODATA, c);
    }
  return h;
}

static inline void
cleanup_curlp (CURL **h)
{
  if (*h)
    curl_easy_cleanup (*h);
}
#define cleanup_curl __attribute__ ((cleanup (cleanup_curlp)))

static inline void
cleanup_slistp (struct curl_slist **l)
{
  curl_slist_free_all (*l);
}
#define cleanup_slist __attribute__ ((cleanup (cleanup_slistp)))

/* EKEYREJECTED: the server speaks TLS but its certificate is not trusted (no fallback to plain HTTP then). */
static int
transfer_error (CURLcode rc, const char *detail, const char *url, isola_error_t *err)
{
  /* Only the caller's having gone (on_progress_check_gone) aborts a transfer from a progress callback. */
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return isola_error_fail (err, ECANCELED, "%s: the client went away", url);
  int e = rc == CURLE_OPERATION_TIMEDOUT         ? ETIMEDOUT
          : rc == CURLE_TOO_MANY_REDIRECTS       ? ELOOP
          : rc == CURLE_PEER_FAILED_VERIFICATION ? EKEYREJECTED
                                                 : EIO;
  return isola_error_fail (err, e, "Get \"%s\": %s", url, detail && *detail ? detail : curl_easy_strerror (rc));
}

/* One request; a transport failure or a 429/5xx is tried again after a pause (1 s, 2 s). */
static int
request_retried (const struct registry_client *c, const char *url, const char *method, const char *accept, size_t max,
                 struct response *out, isola_error_t *err)
{
  cleanup_slist struct curl_slist *headers = NULL;
  if (accept)
    headers = curl_slist_append (headers, accept);
  if (c->authz)
    headers = curl_slist_append (headers, c->authz);
  for (int attempt = 1;; attempt++)
    {
      response_clear (out);
      out->max = max;
      cleanup_curl CURL *h = easy_new (c, url, headers);
      if (h == NULL)
        return isola_error_fail (err, ENOMEM, "cannot make an HTTP request");
      if (strcmp (method, "HEAD") == 0)
        curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
      curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, on_body);
      curl_easy_setopt (h, CURLOPT_WRITEDATA, out);
      curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, on_header);
      curl_easy_setopt (h, CURLOPT_HEADERDATA, out);
      char detail[CURL_ERROR_SIZE] = "";
      curl_easy_setopt (h, CURLOPT_ERRORBUFFER, detail);
      CURLcode rc = curl_easy_perform (h);
      if (out->too_large)
        return isola_error_fail (err, EFBIG, "Get \"%s\": response is larger than %zu bytes", url, max);
      if (rc == CURLE_OK)
        curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &out->status);
      bool retry = (rc != CURLE_OK && rc != CURLE_TOO_MANY_REDIRECTS && rc != CURLE_OPERATION_TIMEDOUT
                    && rc != CURLE_SSL_CONNECT_ERROR && rc != CURLE_PEER_FAILED_VERIFICATION
                    && rc != CURLE_ABORTED_BY_CALLBACK)
                   || out->status == 429 || out->status >= 500;
      if (!retry || attempt == REQUEST_ATTEMPTS)
        return rc == CURLE_OK ? 0 : transfer_error (rc, detail, url, err);
      sleep ((unsigned)attempt);
    }
}

static int redetect_scheme (struct registry_client *c, isola_error_t *err);

/* A request whose scheme may come from the cache: when the registry does not answer in it (a transport failure, or
   the 400 a TLS server gives a plain request), the cache is stale: the scheme is found again and the request sent
   once more. */
static int
request (struct registry_client *c, const char *url, const char *method, const char *accept, size_t max,
         struct response *out, isola_error_t *err)
{
  if (!c->scheme_cached)
    return request_retried (c, url, method, accept, max, out, err);
  cleanup_error isola_error_t first = NULL;
  int ret = request_retried (c, url, method, accept, max, out, &first);
  if ((ret == 0 && out->status != 400) || ret == -EFBIG || ret == -ETIMEDOUT || ret == -ELOOP
      || !str_has_prefix (url, c->base))
    {
      c->scheme_cached = false;
      if (ret < 0)
        return isola_error_fail (err, -ret, "%s", first->msg);
      return 0;
    }
  size_t old_len = strlen (c->base);
  cleanup_free char *path = xstrdup (url + old_len);
  ret = redetect_scheme (c, err);
  if (ret < 0)
    return ret;
  cleanup_free char *again = xasprintf ("%s%s", c->base, path);
  return request_retried (c, again, method, accept, max, out, err);
}

/* "code: message" of a registry's JSON error body, or NULL. */
static char *
registry_error_text (const struct response *r)
{
  return registry_error_text_of (r->body, r->len);
}

static int
status_error (const struct response *r, const char *what, isola_error_t *err)
{
  cleanup_free char *text = registry_error_text (r);
  int e = r->status == 404 ? ENOENT : r->status == 401 || r->status == 403 ? EACCES : EIO;
  if (text)
    return isola_error_fail (err, e, "%s: %s", what, text);
  return isola_error_fail (err, e, "%s: unexpected status from the registry: %ld", what, r->status);
}

/* --- authentication ------------------------------------------------------------------------------------------- */

static char *
basic_header (const char *user, const char *password)
{
  cleanup_free char *plain = xasprintf ("%s:%s", user, password);
  size_t n = strlen (plain);
  cleanup_free unsigned char *b64 = xcalloc (1, 4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock (b64, (const unsigned char *)plain, (int)n);
  return xasprintf ("Authorization: Basic %s", (char *)b64);
}

static char *
url_escape (const char *s)
{
  char *e = curl_easy_escape (NULL, s, 0);
  char *r = xstrdup (e ? e : "");
  curl_free (e);
  return r;
}

static int fetch_token_refresh (struct registry_client *c, const char *realm, const char *service, isola_error_t *err);

/* The access token in a token service's answer (registry_token_of); with want_identity, the refresh token that
   comes with it is kept. */
static int
take_token (struct registry_client *c, const char *body, size_t len, isola_error_t *err)
{
  cleanup_free char *token = registry_token_of (body, len);
  if (token == NULL)
    return isola_error_fail (err, EPROTO, "%s: the token service answered without a token", c->domain);
  cleanup_json json_t *o = json_loadb (body ? body : "", body ? len : 0, 0, NULL);
  const char *refresh = json_string_value (json_object_get (o, "refresh_token"));
  if (refresh && *refresh && c->want_identity)
    {
      free (c->got_identity);
      c->got_identity = xstrdup (refresh);
    }
  else if (refresh && *refresh && c->identity && strcmp (refresh, c->identity) != 0)
    {
      /* A service that rotates refresh tokens: the new one is for this client's next token. */
      free (c->identity);
      c->identity = xstrdup (refresh);
    }
  c->authz = xasprintf ("Authorization: Bearer %s", token);
  return 0;
}

/* The Bearer flow: a token for the repository's scope from the realm, with the credentials when there are some;
   with an identity token, OAuth2's refresh grant instead (fetch_token_refresh), as Docker does. */
static int
fetch_token (struct registry_client *c, const char *params, isola_error_t *err)
{
  cleanup_free char *realm = registry_challenge_param (params, "realm");
  cleanup_free char *service = registry_challenge_param (params, "service");
  if (realm == NULL || !(str_has_prefix (realm, "https://") || str_has_prefix (realm, "http://")))
    return isola_error_fail (err, EPROTO, "%s: the registry's Bearer challenge has no usable realm", c->domain);
  if (c->identity)
    return fetch_token_refresh (c, realm, service, err);
  cleanup_free char *esc_service = service ? url_escape (service) : NULL;
  cleanup_free char *scope = c->repo ? xasprintf ("repository:%s:%s", c->repo, c->actions) : NULL;
  cleanup_free char *esc_scope = scope ? url_escape (scope) : NULL;
  cleanup_free char *url
      = xasprintf ("%s%s%s%s%s%s", realm, strchr (realm, '?') ? "&" : "?", esc_service ? "service=" : "",
                   esc_service ? esc_service : "", esc_scope ? (esc_service ? "&scope=" : "scope=") : "",
                   esc_scope ? esc_scope : "");
  for (size_t i = 0; c->scopes && c->scopes[i]; i++)
    {
      cleanup_free char *esc = url_escape (c->scopes[i]);
      char *longer = xasprintf ("%s&scope=%s", url, esc);
      free (url);
      url = longer;
    }
  if (c->want_identity && c->user)
    {
      /* Docker's login asks for a refresh token to keep in place of the password. */
      char *longer
          = xasprintf ("%s%soffline_token=true&client_id=" OAUTH_CLIENT_ID, url, strchr (url, '?') ? "&" : "?");
      free (url);
      url = longer;
    }
  /* The token service gets the credentials as Basic, never a previous token. */
  free (c->authz);
  c->authz = c->user ? basic_header (c->user, c->password) : NULL;
  struct response r = { 0 };
  int ret = request (c, url, "GET", NULL, TOKEN_MAX, &r, err);
  free (c->authz);
  c->authz = NULL;
  if (ret == 0 && r.status != 200)
    {
      cleanup_free char *text = registry_error_text (&r);
      ret = isola_error_fail (err, EACCES, "Get \"%s\": %s", realm,
                              r.status == 401 ? "unauthorized: incorrect username or password"
                              : text          ? text
                                              : "the token service refused");
    }
  if (ret == 0)
    ret = take_token (c, r.body, r.len, err);
  response_clear (&r);
  return ret;
}

/* Answers a 401's challenge: a token (Bearer) or the credentials (Basic). */
static int
authenticate (struct registry_client *c, const char *challenge, isola_error_t *err)
{
  if (challenge && strncasecmp (challenge, "Bearer ", 7) == 0)
    return fetch_token (c, challenge + 7, err);
  if (challenge && strncasecmp (challenge, "Basic", 5) == 0)
    {
      if (c->user == NULL)
        return isola_error_fail (err, EACCES, "%s: unauthorized: authentication required (isola login %s)", c->domain,
                                 c->domain);
      free (c->authz);
      c->authz = basic_header (c->user, c->password);
      return 0;
    }
  return isola_error_fail (err, EACCES, "%s: unauthorized, and the registry names no way to authenticate", c->domain);
}

/* A request that answers a 401 once by authenticating and asking again. */
static int
request_authed (struct registry_client *c, const char *url, const char *method, const char *accept, size_t max,
                struct response *out, isola_error_t *err)
{
  int ret = request (c, url, method, accept, max, out, err);
  if (ret < 0 || out->status != 401)
    return ret;
  cleanup_free char *challenge = out->challenge ? xstrdup (out->challenge) : NULL;
  ret = authenticate (c, challenge, err);
  if (ret < 0)
    return ret;
  return request (c, url, method, accept, max, out, err);
}

/* --- opening ----------------------------------------------------------------------------------------------------- */

static bool
host_is_loopback (const char *domain)
{
  cleanup_free char *host = NULL;
  if (domain[0] == '[')
    host = strndup (domain + 1, strcspn (domain + 1, "]"));
  else
    host = strndup (domain, strcspn (domain, ":"));
  if (host == NULL)
    return false;
  if (strcmp (host, "localhost") == 0)
    return true;
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton (AF_INET, host, &a4) == 1)
    return (ntohl (a4.s_addr) >> 24) == 127;
  return inet_pton (AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK (&a6);
}

static bool
listed_insecure (const char *root, const char *domain)
{
  cleanup_json json_t *cfg = NULL;
  if (root == NULL || store_config_load (root, &cfg, NULL) < 0)
    return false;
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (cfg, "insecure-registries"), i, v)
  {
    if (json_is_string (v) && strcmp (json_string_value (v), domain) == 0)
      return true;
  }
  return false;
}

static char *
find_ca (const char *domain)
{
  const char *dirs[] = { getenv ("ISOLA_CERTS_DIR"), "/etc/isola/certs.d", "/etc/docker/certs.d" };
  for (size_t i = 0; i < ARRAY_SIZE (dirs); i++)
    {
      if (dirs[i] == NULL || *dirs[i] == '\0')
        continue;
      char *p = xasprintf ("%s/%s/ca.crt", dirs[i], domain);
      if (path_exists (p))
        return p;
      free (p);
    }
  return NULL;
}

/* Which scheme a loopback or insecure registry speaks, found once and kept under the root (a cache: safe to delete),
   so that a pull of an image that is here costs one request and no TLS handshake that will fail. */
static char *
scheme_cache_path (const struct registry_client *c)
{
  return xasprintf ("%s/%s/%s", c->root ? c->root : ISOLA_DEFAULT_ROOT, REGISTRY_SCHEME_CACHE, c->host);
}

static char *
scheme_cache_read (const struct registry_client *c)
{
  cleanup_free char *path = scheme_cache_path (c), *text = NULL;
  size_t len = 0;
  if (read_file_bounded (path, 16, &text, &len, NULL) < 0)
    return NULL;
  text[strcspn (text, "\n")] = '\0';
  if (strcmp (text, "http") != 0 && strcmp (text, "https") != 0)
    return NULL;
  return take_ptr (&text);
}

static void
scheme_cache_write (const struct registry_client *c, const char *scheme)
{
  cleanup_free char *path = scheme_cache_path (c);
  cleanup_free char *dir = xstrdup (path);
  *strrchr (dir, '/') = '\0';
  cleanup_free char *line = xasprintf ("%s\n", scheme);
  /* Only a cache: a root we cannot write to costs the next pull a second try, nothing else. */
  if (mkdir_p (dir, 0700, NULL) == 0)
    (void)write_file_atomic (path, line, strlen (line), 0600, NULL);
}

/* GET /v2/: which scheme answers (HTTPS first, then plain HTTP where allowed), and what the registry asks for. */
static int
ping (struct registry_client *c, struct response *r, isola_error_t *err)
{
  const char *host = c->host;
  free (c->base);
  c->base = xasprintf ("https://%s", host);
  cleanup_free char *url = xasprintf ("%s/v2/", c->base);
  cleanup_error isola_error_t tls_err = NULL;
  int ret = request_retried (c, url, "GET", NULL, ERROR_BODY_MAX, r, c->plain_allowed ? &tls_err : err);
  if (ret == 0 && c->plain_allowed)
    scheme_cache_write (c, "https");
  if (ret == 0 || !c->plain_allowed)
    return ret;
  if (ret == -EKEYREJECTED)
    return isola_error_fail (err, EKEYREJECTED, "%s", tls_err->msg);
  free (c->base);
  c->base = xasprintf ("http://%s", host);
  free (url);
  url = xasprintf ("%s/v2/", c->base);
  ret = request_retried (c, url, "GET", NULL, ERROR_BODY_MAX, r, err);
  if (ret == 0)
    scheme_cache_write (c, "http");
  return ret;
}

/* Pings the registry and answers what it asks for. */
static int
ping_and_authenticate (struct registry_client *c, isola_error_t *err)
{
  struct response r = { 0 };
  int ret = ping (c, &r, err);
  if (ret == 0 && r.status == 401)
    ret = authenticate (c, r.challenge, err);
  else if (ret == 0 && r.status != 200)
    ret = status_error (&r, c->domain, err);
  response_clear (&r);
  return ret;
}

static int
redetect_scheme (struct registry_client *c, isola_error_t *err)
{
  c->scheme_cached = false;
  cleanup_free char *path = scheme_cache_path (c);
  (void)unlink (path);
  return ping_and_authenticate (c, err);
}

/* The registry of a domain: Docker Hub's for docker.io, where $ISOLA_DOCKER_IO_REGISTRY (HOST:PORT, for tests that
   must not leave the machine) may point instead. */
static const char *
registry_host_of (const char *domain)
{
  const char *over = getenv ("ISOLA_DOCKER_IO_REGISTRY");
  if (over && *over && strcmp (image_ref_registry_host (domain), image_ref_registry_host ("docker.io")) == 0)
    return over;
  return image_ref_registry_host (domain);
}

static long
timeout_setting (void)
{
  const char *s = getenv ("ISOLA_REGISTRY_TIMEOUT");
  long v = s ? strtol (s, NULL, 10) : 0;
  return v > 0 ? v : DEFAULT_TIMEOUT;
}

static void
global_init (void)
{
  static bool done;
  if (!done)
    curl_global_init (CURL_GLOBAL_DEFAULT);
  done = true;
}

/* No /v2/ ping unless asked for (login) or the scheme is not known: the first request's 401 starts the token flow. */
static int
client_new (const char *root, const char *domain, const char *repo, const char *actions, const char *user,
            const char *password, bool use_stored, bool ping_now, bool want_identity,
            const struct registry_login *login, struct registry_client **out, isola_error_t *err)
{
  global_init ();
  struct registry_client *c = xcalloc (1, sizeof (*c));
  c->root = root ? xstrdup (root) : NULL;
  c->domain = xstrdup (domain);
  c->repo = repo ? xstrdup (repo) : NULL;
  c->actions = xstrdup (actions);
  c->timeout = timeout_setting ();
  c->want_identity = want_identity;
  c->host = xstrdup (registry_host_of (domain));
  c->ca_file = find_ca (c->host);
  c->plain_allowed = host_is_loopback (c->host) || listed_insecure (root, domain);
  if (login)
    c->gone = login->gone, c->gone_arg = login->gone_arg;
  int ret = 0;
  if (user)
    c->user = xstrdup (user), c->password = xstrdup (password);
  else if (login && login->identity)
    c->identity = xstrdup (login->identity), c->identity_given = true;
  else if (use_stored)
    ret = registry_auth_get_identity (domain, &c->user, &c->password, &c->identity, err);
  cleanup_free char *scheme = c->plain_allowed ? scheme_cache_read (c) : xstrdup ("https");
  if (scheme)
    {
      c->base = xasprintf ("%s://%s", scheme, c->host);
      c->scheme_cached = c->plain_allowed;
    }
  if (ret == 0 && (ping_now || scheme == NULL))
    ret = ping_and_authenticate (c, err);
  if (ret < 0)
    {
      registry_close (c);
      return ret;
    }
  *out = c;
  return 0;
}

int
registry_open (const char *root, const char *domain, const char *repo, const char *actions,
               struct registry_client **out, isola_error_t *err)
{
  return client_new (root, domain, repo, actions, NULL, NULL, true, false, false, NULL, out, err);
}

int
registry_open_as (const char *root, const char *domain, const char *repo, const char *actions,
                  const struct registry_login *login, struct registry_client **out, isola_error_t *err)
{
  if (login == NULL)
    return registry_open (root, domain, repo, actions, out, err);
  return client_new (root, domain, repo, actions, login->user, login->password,
                     login->user == NULL && login->identity == NULL, false, false, login, out, err);
}

int
registry_mirrors (const char *root, const char *domain, char ***out, isola_error_t *err)
{
  *out = xcalloc (1, sizeof (char *));
  if (strcmp (image_ref_registry_host (domain), image_ref_registry_host ("docker.io")) != 0)
    return 0;
  cleanup_json json_t *cfg = NULL;
  int ret = store_config_load (root ? root : ISOLA_DEFAULT_ROOT, &cfg, err);
  if (ret < 0)
    return ret;
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (cfg, "registry-mirrors"), i, v)
  {
    const char *url = json_string_value (v);
    if (url == NULL || !(str_has_prefix (url, "http://") || str_has_prefix (url, "https://")))
      return isola_error_fail (err, EINVAL,
                               "registry-mirrors in the root's config.json: `%.200s` is not an "
                               "http:// or https:// URL",
                               url ? url : "(not a string)");
    strv_push (out, url);
  }
  return 0;
}

int
registry_open_mirror (const char *root, const char *domain, const char *mirror, const char *repo,
                      struct registry_client **out, isola_error_t *err)
{
  global_init ();
  bool tls = str_has_prefix (mirror, "https://");
  const char *hostpart = mirror + (tls ? strlen ("https://") : strlen ("http://"));
  size_t n = strcspn (hostpart, "/");
  if (n == 0 || strspn (hostpart + n, "/") != strlen (hostpart + n))
    return isola_error_fail (err, EINVAL, "registry mirror `%.200s`: a mirror is a scheme and a host, no path", mirror);
  struct registry_client *c = xcalloc (1, sizeof (*c));
  c->root = root ? xstrdup (root) : NULL;
  c->domain = xstrdup (domain);
  c->host = strndup (hostpart, n);
  c->base = xasprintf ("%s://%s", tls ? "https" : "http", c->host);
  c->repo = xstrdup (repo);
  c->actions = xstrdup ("pull");
  c->timeout = timeout_setting ();
  c->ca_file = find_ca (c->host);
  /* No credentials: those of the domain are for its own registry, not for a mirror. */
  *out = c;
  return 0;
}

void
registry_close (struct registry_client *c)
{
  if (c == NULL)
    return;
  strv_free (c->scopes);
  free (c->root), free (c->domain), free (c->host), free (c->base), free (c->repo), free (c->actions), free (c->user),
      free (c->authz);
  free (c->ca_file);
  if (c->password)
    explicit_bzero (c->password, strlen (c->password));
  free (c->password);
  if (c->identity)
    explicit_bzero (c->identity, strlen (c->identity));
  free (c->identity);
  if (c->got_identity)
    explicit_bzero (c->got_identity, strlen (c->got_identity));
  free (c->got_identity);
  free (c);
}

int
registry_check_login (const char *root, const char *domain, const char *user, const char *password, char **identity,
                      isola_error_t *err)
{
  if (identity)
    *identity = NULL;
  cleanup_registry struct registry_client *c = NULL;
  int ret = client_new (root, domain, NULL, "pull", user, password, false, true, identity != NULL, NULL, &c, err);
  if (ret < 0)
    return ret;
  /* A Basic registry took the credentials on trust: /v2/ with them must now answer 200. */
  cleanup_free char *url = xasprintf ("%s/v2/", c->base);
  struct response r = { 0 };
  ret = request_retried (c, url, "GET", NULL, ERROR_BODY_MAX, &r, err);
  if (ret == 0 && r.status != 200)
    ret = isola_error_fail (err, EACCES, "login to %s failed: unauthorized: incorrect username or password", domain);
  response_clear (&r);
  if (ret == 0 && identity)
    *identity = take_ptr (&c->got_identity);
  return ret;
}

int
registry_check_identity (const char *root, const char *domain, const char *token, char **identity, isola_error_t *err)
{
  *identity = NULL;
  cleanup_registry struct registry_client *c = NULL;
  const struct registry_login login = { .identity = token };
  int ret = client_new (root, domain, NULL, "pull", NULL, NULL, false, true, false, &login, &c, err);
  if (ret < 0)
    return ret;
  if (c->authz == NULL)
    return isola_error_fail (err, EACCES, "login to %s failed: the registry takes no identity token", domain);
  *identity = xstrdup (c->identity);
  return 0;
}

/* --- manifests and blobs ------------------------------------------------------------------------------------- */

void
registry_manifest_clear (struct registry_manifest *m)
{
  free (m->body);
  free (m->media_type);
  memset (m, 0, sizeof (*m));
}

int
registry_get_manifest (struct registry_client *c, const char *reference, struct registry_manifest *out,
                       isola_error_t *err)
{
  cleanup_free char *url = xasprintf ("%s/v2/%s/manifests/%s", c->base, c->repo, reference);
  cleanup_free char *what = xasprintf ("manifest for %s/%s%s%s not found", c->domain, c->repo,
                                       str_has_prefix (reference, "sha256:") ? "@" : ":", reference);
  struct response r = { 0 };
  int ret = request_authed (c, url, "GET", MANIFEST_ACCEPT, REGISTRY_MANIFEST_MAX, &r, err);
  if (ret == -EFBIG)
    isola_error_release (err);
  if (ret == -EFBIG)
    ret = isola_error_fail (err, EFBIG, "manifest for %s/%s is larger than %d bytes: refused", c->domain, c->repo,
                            REGISTRY_MANIFEST_MAX);
  else if (ret == 0 && r.status == 404)
    {
      cleanup_free char *text = registry_error_text (&r);
      ret = isola_error_fail (err, ENOENT, "%s: %s", what, text ? text : "manifest unknown");
    }
  else if (ret == 0 && r.status != 200)
    ret = status_error (&r, c->domain, err);
  if (ret == 0)
    {
      digest_buffer (r.body ? r.body : "", r.len, out->hex);
      if (str_has_prefix (reference, "sha256:") && strcmp (reference + 7, out->hex) != 0)
        ret = isola_error_fail (err, EINVAL, "manifest verification failed for digest %s: its content is sha256:%s",
                                reference, out->hex);
    }
  if (ret == 0)
    {
      out->body = r.body ? take_ptr (&r.body) : xstrdup ("");
      out->len = r.len;
      out->media_type = r.content_type ? take_ptr (&r.content_type) : xstrdup ("");
    }
  response_clear (&r);
  return ret;
}

int
registry_get_blob (struct registry_client *c, const char *hex, int64_t size, size_t max, char **out, size_t *len,
                   isola_error_t *err)
{
  if (size < 0 || (uint64_t)size > max)
    return isola_error_fail (err, EFBIG, "blob sha256:%s is %lld bytes, more than %zu", hex, (long long)size, max);
  cleanup_free char *url = xasprintf ("%s/v2/%s/blobs/sha256:%s", c->base, c->repo, hex);
  struct response r = { 0 };
  int ret = request_authed (c, url, "GET", NULL, (size_t)size, &r, err);
  if (ret == -EFBIG)
    isola_error_release (err);
  if (ret == -EFBIG)
    ret = isola_error_fail (err, EINVAL, "blob sha256:%s is larger than its descriptor's %lld bytes", hex,
                            (long long)size);
  else if (ret == 0 && r.status != 200)
    ret = status_error (&r, url, err);
  digest_hex_t got;
  if (ret == 0)
    digest_buffer (r.body ? r.body : "", r.len, got);
  if (ret == 0 && (r.len != (size_t)size || strcmp (got, hex) != 0))
    ret = isola_error_fail (err, EINVAL, "blob sha256:%s failed verification: %zu bytes with digest sha256:%s", hex,
                            r.len, got);
  if (ret == 0)
    {
      *out = r.body ? take_ptr (&r.body) : xstrdup ("");
      *len = r.len;
    }
  response_clear (&r);
  return ret;
}

/* One blob download of registry_fetch_blobs.  An attempt that fails on the way (a reset, a truncated body, a 429 or
   5xx) is tried again after a pause, from where it stopped (Range) when the registry honours that and from the
   start otherwise; the digest covers the whole blob either way. */
struct transfer
{
  const struct registry_blob *blob;
  size_t index;
  int fd;
  int64_t done;
  digester_t *digest;
  int attempts;
  long long retry_at;  /* monotonic ms, when waiting to try again; 0 else */
  int64_t range_from;  /* the offset this attempt asked for */
  long status;         /* of this attempt's response, once its body starts */
  int64_t range_start; /* its Content-Range start (206) */
  bool discard;        /* its body is an error's, not the blob's */
  bool too_long;
  bool retryable; /* set by transfer_finish: the failure may pass */
  int write_errno;
  CURL *h;
  char *url;
  char detail[CURL_ERROR_SIZE];
  registry_progress_fn fn;
  void *arg;
};

static int
transfer_restart_content (struct transfer *t)
{
  if (ftruncate (t->fd, 0) < 0 || lseek (t->fd, 0, SEEK_SET) < 0)
    return -errno;
  digester_free (t->digest);
  t->digest = digester_new ();
  t->done = 0;
  return 0;
}

/* The first bytes of an attempt's body: what it answered decides where they go. */
static bool
on_blob_body_start (struct transfer *t)
{
  curl_easy_getinfo (t->h, CURLINFO_RESPONSE_CODE, &t->status);
  if (t->status == 206 && t->range_start == t->range_from)
    return true;
  if (t->status == 200)
    {
      /* The whole blob again: a registry that ignores Range. */
      int e = t->done > 0 ? transfer_restart_content (t) : 0;
      if (e < 0)
        t->write_errno = -e;
      return e == 0;
    }
  t->discard = true;
  return true;
}

static size_t
on_blob_data (char *data, size_t size, size_t n, void *arg)
{
  struct transfer *t = arg;
  size_t len = size * n;
  if (t->status == 0 && !on_blob_body_start (t))
    return 0;
  if (t->discard)
    return len; /* an error body; the status decides */
  if (t->status == 206 && t->range_start != t->range_from)
    return 0;
  if (t->done + (int64_t)len > t->blob->size)
    {
      t->too_long = true;
      return 0;
    }
  if (write_all (t->fd, data, len) < 0)
    {
      t->write_errno = errno;
      return 0;
    }
  digester_update (t->digest, data, len);
  t->done += (int64_t)len;
  if (t->fn)
    t->fn (t->arg, t->index, REGISTRY_BLOB_PROGRESS, t->done);
  return len;
}

static size_t
on_blob_header (char *data, size_t size, size_t n, void *arg)
{
  struct transfer *t = arg;
  size_t len = size * n;
  cleanup_free char *v = len <= HEADER_MAX ? registry_header_value (data, len, "Content-Range") : NULL;
  long long from = -1;
  if (v && sscanf (v, "bytes %lld-", &from) == 1)
    t->range_start = from;
  return len;
}

static int
transfer_open (struct transfer *t, isola_error_t *err)
{
  t->fd = open (t->blob->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (t->fd < 0)
    return isola_error_make (err, errno, "create `%s`", t->blob->path);
  t->digest = digester_new ();
  return 0;
}

/* One attempt: from the start, or from what the previous ones got. */
static int
transfer_begin (struct registry_client *c, CURLM *m, struct curl_slist *headers, struct transfer *t, isola_error_t *err)
{
  if (t->url == NULL)
    t->url = xasprintf ("%s/v2/%s/blobs/sha256:%s", c->base, c->repo, t->blob->hex);
  t->h = easy_new (c, t->url, headers);
  if (t->h == NULL)
    return isola_error_fail (err, ENOMEM, "cannot make an HTTP request");
  t->attempts++;
  t->retry_at = 0;
  t->status = 0;
  t->range_start = -1;
  t->discard = false;
  t->range_from = t->done;
  t->detail[0] = '\0';
  char range[32];
  if (t->done > 0)
    {
      snprintf (range, sizeof range, "%lld-", (long long)t->done);
      curl_easy_setopt (t->h, CURLOPT_RANGE, range);
    }
  curl_easy_setopt (t->h, CURLOPT_WRITEFUNCTION, on_blob_data);
  curl_easy_setopt (t->h, CURLOPT_WRITEDATA, t);
  curl_easy_setopt (t->h, CURLOPT_HEADERFUNCTION, on_blob_header);
  curl_easy_setopt (t->h, CURLOPT_HEADERDATA, t);
  curl_easy_setopt (t->h, CURLOPT_PRIVATE, t);
  curl_easy_setopt (t->h, CURLOPT_ERRORBUFFER, t->detail);
  curl_multi_add_handle (m, t->h);
  if (t->fn && t->attempts == 1)
    t->fn (t->arg, t->index, REGISTRY_BLOB_STARTED, 0);
  return 0;
}

static bool
transport_may_pass (CURLcode rc)
{
  return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING
         || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT || rc == CURLE_HTTP2
         || rc == CURLE_HTTP2_STREAM || rc == CURLE_WRITE_ERROR;
}

static int
transfer_finish (struct transfer *t, CURLcode rc, isola_error_t *err)
{
  const char *hex = t->blob->hex;
  long status = t->status;
  if (rc == CURLE_OK && status == 0)
    curl_easy_getinfo (t->h, CURLINFO_RESPONSE_CODE, &status);
  t->retryable = false;
  if (t->too_long)
    return isola_error_fail (err, EINVAL, "blob sha256:%.12s is longer than its descriptor's %lld bytes: refused", hex,
                             (long long)t->blob->size);
  if (t->write_errno)
    return isola_error_make (err, t->write_errno, "write `%s`", t->blob->path);
  if (status == 206 && t->range_start != t->range_from)
    {
      /* A range other than the one asked for: start over. */
      t->retryable = transfer_restart_content (t) == 0;
      return isola_error_fail (err, EIO, "blob sha256:%.12s: the registry answered a Range request with bytes %lld-",
                               hex, (long long)t->range_start);
    }
  if (status == 416)
    t->retryable = transfer_restart_content (t) == 0;
  else if (status == 429 || status >= 500)
    t->retryable = true;
  else if (rc != CURLE_OK)
    t->retryable = transport_may_pass (rc) && rc != CURLE_WRITE_ERROR;
  if (rc != CURLE_OK)
    return transfer_error (rc, t->detail, t->url, err);
  if (status != 200 && status != 206)
    return isola_error_fail (err, status == 404 ? ENOENT : EIO, "blob sha256:%.12s: the registry answered %ld", hex,
                             status);
  if (t->done != t->blob->size)
    {
      t->retryable = true;
      return isola_error_fail (err, EIO, "blob sha256:%.12s is truncated: %lld of %lld bytes", hex, (long long)t->done,
                               (long long)t->blob->size);
    }
  digest_hex_t got;
  digester_final (t->digest, got);
  if (strcmp (got, hex) != 0)
    return isola_error_fail (err, EINVAL,
                             "filesystem layer verification failed for digest sha256:%s: the content "
                             "has digest sha256:%s",
                             hex, got);
  if (fsync (t->fd) < 0)
    return isola_error_make (err, errno, "write `%s`", t->blob->path);
  if (t->fn)
    t->fn (t->arg, t->index, REGISTRY_BLOB_VERIFIED, t->done);
  return 0;
}

static void
transfer_end_attempt (CURLM *m, struct transfer *t)
{
  if (t->h)
    {
      curl_multi_remove_handle (m, t->h);
      curl_easy_cleanup (t->h);
      t->h = NULL;
    }
}

static void
transfer_clear (CURLM *m, struct transfer *t)
{
  transfer_end_attempt (m, t);
  if (t->fd >= 0)
    close (t->fd);
  digester_free (t->digest);
  free (t->url);
  memset (t, 0, sizeof (*t));
  t->fd = -1;
}

/* An attempt ended: done (0), waiting to try again (1), or failed for good (< 0). */
static int
transfer_settle (CURLM *m, struct transfer *t, CURLcode rc, isola_error_t *err)
{
  cleanup_error isola_error_t attempt_err = NULL;
  int ret = transfer_finish (t, rc, &attempt_err);
  transfer_end_attempt (m, t);
  if (ret == 0)
    return 0;
  if (t->retryable && t->attempts < REQUEST_ATTEMPTS)
    {
      t->retry_at = monotonic_ms () + 1000LL * t->attempts;
      return 1;
    }
  int e = -ret;
  if (t->attempts > 1)
    return isola_error_fail (err, e, "downloading blob sha256:%.12s failed %d times, the last: %s", t->blob->hex,
                             t->attempts, attempt_err->msg);
  return isola_error_fail (err, e, "%s", attempt_err->msg);
}

/* How long the loop may wait for the network: until the next attempt is due, a second at most. */
static int
poll_timeout (const struct transfer *ts, size_t n)
{
  long long now = monotonic_ms (), wait = 1000;
  for (size_t i = 0; i < n; i++)
    if (ts[i].retry_at && ts[i].retry_at - now < wait)
      wait = ts[i].retry_at > now ? ts[i].retry_at - now : 0;
  return (int)wait;
}

int
registry_fetch_blobs (struct registry_client *c, const struct registry_blob *blobs, size_t n, int parallel,
                      registry_progress_fn fn, void *arg, isola_error_t *err)
{
  if (n == 0)
    return 0;
  /* A blob request may be the first after a token expired: one authenticated HEAD renews it for all. */
  cleanup_free char *probe = xasprintf ("%s/v2/%s/blobs/sha256:%s", c->base, c->repo, blobs[0].hex);
  struct response r = { 0 };
  int ret = request_authed (c, probe, "HEAD", NULL, 0, &r, err);
  response_clear (&r);
  if (ret < 0)
    return ret;
  cleanup_slist struct curl_slist *headers = c->authz ? curl_slist_append (NULL, c->authz) : NULL;
  CURLM *m = curl_multi_init ();
  struct transfer *ts = xcalloc (n, sizeof (*ts));
  for (size_t i = 0; i < n; i++)
    ts[i] = (struct transfer){ .blob = &blobs[i], .index = i, .fd = -1, .fn = fn, .arg = arg };
  size_t next = 0, finished = 0;
  int running = 0;
  while (ret == 0 && finished < n)
    {
      long long now = monotonic_ms ();
      for (size_t i = 0; ret == 0 && i < next; i++)
        if (ts[i].retry_at && ts[i].retry_at <= now)
          ret = transfer_begin (c, m, headers, &ts[i], err);
      while (ret == 0 && next < n && next - finished < (size_t)(parallel > 0 ? parallel : 1))
        {
          ret = transfer_open (&ts[next], err);
          if (ret == 0)
            ret = transfer_begin (c, m, headers, &ts[next], err);
          next++;
        }
      if (ret < 0)
        break;
      CURLMcode mc = curl_multi_perform (m, &running);
      if (mc != CURLM_OK)
        {
          ret = isola_error_fail (err, EIO, "downloading layers: %s", curl_multi_strerror (mc));
          break;
        }
      CURLMsg *msg;
      int left;
      bool settled = false;
      while (ret == 0 && (msg = curl_multi_info_read (m, &left)))
        {
          if (msg->msg != CURLMSG_DONE)
            continue;
          settled = true;
          struct transfer *t = NULL;
          curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
          ret = transfer_settle (m, t, msg->data.result, err);
          if (ret == 0)
            {
              transfer_clear (m, t);
              finished++;
            }
          else if (ret > 0)
            ret = 0;
        }
      /* A transfer that ended frees a place for the next layer (or set its retry): back to the top to start it
         before waiting; waiting first slept out poll's whole timeout with nothing running (a second a layer). */
      if (ret == 0 && !settled && finished < n
          && (mc = curl_multi_poll (m, NULL, 0, poll_timeout (ts, next), NULL)) != CURLM_OK)
        ret = isola_error_fail (err, EIO, "downloading layers: %s", curl_multi_strerror (mc));
    }
  for (size_t i = 0; i < n; i++)
    if (ts[i].h || ts[i].fd >= 0)
      transfer_clear (m, &ts[i]);
  free (ts);
  curl_multi_cleanup (m);
  return ret;
}

int
registry_list_tags (struct registry_client *c, char ***out, isola_error_t *err)
{
  cleanup_free char *url = xasprintf ("%s/v2/%s/tags/list", c->base, c->repo);
  struct response r = { 0 };
  int ret = request_authed (c, url, "GET", NULL, TAGS_LIST_MAX, &r, err);
  if (ret == 0 && r.status != 200)
    ret = status_error (&r, c->repo, err);
  cleanup_json json_t *o = ret == 0 ? json_loadb (r.body ? r.body : "", r.len, 0, NULL) : NULL;
  response_clear (&r);
  if (ret < 0)
    return ret;
  json_t *tags = json_object_get (o, "tags");
  if (!json_is_array (tags))
    return isola_error_fail (err, EPROTO, "%s/%s: the registry's tag list is not valid", c->domain, c->repo);
  *out = xcalloc (1, sizeof (char *));
  size_t i;
  json_t *v;
  json_array_foreach (tags, i, v)
  {
    if (json_is_string (v))
      strv_push (out, json_string_value (v));
  }
  return 0;
}

/* --- push ----------------------------------------------------------------------------------------------------- */

int
registry_blob_exists (struct registry_client *c, const char *hex, bool *exists, isola_error_t *err)
{
  cleanup_free char *url = xasprintf ("%s/v2/%s/blobs/sha256:%s", c->base, c->repo, hex);
  struct response r = { 0 };
  int ret = request_authed (c, url, "HEAD", NULL, 0, &r, err);
  if (ret == 0 && r.status != 200 && r.status != 404)
    ret = status_error (&r, c->repo, err);
  *exists = ret == 0 && r.status == 200;
  response_clear (&r);
  return ret;
}

/* What a request with a body sends: len bytes from memory (data) or from a file (fd >= 0, from offset), with one
   more header if extra is not NULL; fn (if not NULL) sees base + the bytes sent. */
struct body
{
  const char *content_type;
  const void *data;
  size_t len;
  int fd;
  off_t offset;
  const char *extra;
  registry_upload_fn fn;
  void *arg;
  int64_t base;
};

struct upload
{
  const struct registry_client *c;
  struct response *r;
  char *location;
  const struct body *b;
};

/* Shows the bytes sent, and ends the upload when the caller has gone (as on_progress_check_gone, which it
   replaces on the handle). */
static int
on_upload_progress (void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  struct upload *u = arg;
  u->b->fn (u->b->arg, u->b->base + (int64_t)ulnow);
  return u->c->gone ? on_progress_check_gone ((void *)u->c, dltotal, dlnow, ultotal, ulnow) : 0;
}

static size_t
on_upload_header (char *data, size_t size, size_t n, void *arg)
{
  struct upload *u = arg;
  size_t len = size * n;
  char *v = len <= HEADER_MAX ? registry_header_value (data, len, "Location") : NULL;
  if (v)
    free (u->location), u->location = v;
  return on_header (data, size, n, u->r);
}

/* Feeds curl a file's range: the bytes it asked for, at most what remains of the body. */
struct file_range
{
  int fd;
  size_t left;
};

static size_t
on_read_range (char *buf, size_t size, size_t n, void *arg)
{
  struct file_range *f = arg;
  size_t want = size * n < f->left ? size * n : f->left;
  if (want == 0)
    return 0;
  ssize_t got;
  do
    got = read (f->fd, buf, want);
  while (got < 0 && errno == EINTR);
  if (got <= 0)
    return CURL_READFUNC_ABORT; /* the blob is shorter than the store says */
  f->left -= (size_t)got;
  return (size_t)got;
}

/* One request with a body (POST, PUT, PATCH). */
static int
send_once (struct registry_client *c, const char *url, const char *method, const struct body *b, struct response *r,
           char **location, isola_error_t *err)
{
  cleanup_slist struct curl_slist *headers = NULL;
  cleanup_free char *ct = xasprintf ("Content-Type: %s", b->content_type);
  headers = curl_slist_append (headers, ct);
  if (b->extra)
    headers = curl_slist_append (headers, b->extra);
  if (c->authz)
    headers = curl_slist_append (headers, c->authz);
  cleanup_curl CURL *h = easy_new (c, url, headers);
  if (h == NULL)
    return isola_error_fail (err, ENOMEM, "cannot make an HTTP request");
  response_clear (r);
  r->max = ERROR_BODY_MAX;
  struct upload u = { .c = c, .r = r, .b = b };
  struct file_range range = { .fd = b->fd, .left = b->len };
  if (b->fn)
    {
      curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, on_upload_progress);
      curl_easy_setopt (h, CURLOPT_XFERINFODATA, &u);
    }
  curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 0L);
  if (b->fd >= 0)
    {
      if (lseek (b->fd, b->offset, SEEK_SET) < 0)
        return isola_error_make (err, errno, "read blob");
      curl_easy_setopt (h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt (h, CURLOPT_READFUNCTION, on_read_range);
      curl_easy_setopt (h, CURLOPT_READDATA, &range);
      curl_easy_setopt (h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)b->len);
    }
  else
    {
      curl_easy_setopt (h, CURLOPT_POSTFIELDS, b->data ? b->data : "");
      curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    }
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, r);
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, on_upload_header);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, &u);
  char detail[CURL_ERROR_SIZE] = "";
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, detail);
  CURLcode rc = curl_easy_perform (h);
  if (rc == CURLE_OK)
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &r->status);
  if (location)
    *location = u.location;
  else
    free (u.location);
  if (rc == CURLE_ABORTED_BY_CALLBACK && b->fd >= 0 && range.left > 0 && !(c->gone && c->gone (c->gone_arg)))
    return isola_error_fail (err, EIO, "read blob: it is shorter than its size");
  if (rc != CURLE_OK && !r->too_large)
    return transfer_error (rc, detail, url, err);
  return 0;
}

/* A request with a body; a transport failure or a 429/5xx is tried again after a pause (1 s, 2 s), the body sent
   from its start. */
static int
send_request_with (struct registry_client *c, const char *url, const char *method, const struct body *b,
                   struct response *r, char **location, isola_error_t *err)
{
  for (int attempt = 1;; attempt++)
    {
      if (location)
        {
          free (*location);
          *location = NULL;
        }
      cleanup_error isola_error_t once = NULL;
      int ret = send_once (c, url, method, b, r, location, &once);
      bool retry = ret == -EIO || (ret == 0 && (r->status == 429 || r->status >= 500));
      if (!retry || attempt == REQUEST_ATTEMPTS)
        return ret < 0 ? isola_error_fail (err, -ret, "%s", once->msg) : 0;
      sleep ((unsigned)attempt);
    }
}

/* A Location header made absolute. */
static char *
absolute_url (const struct registry_client *c, const char *location)
{
  if (str_has_prefix (location, "http://") || str_has_prefix (location, "https://"))
    return xstrdup (location);
  return xasprintf ("%s%s", c->base, location);
}

/* A Location header made absolute, with the digest parameter the upload's closing PUT needs. */
static char *
upload_url (const struct registry_client *c, const char *location, const char *hex)
{
  cleanup_free char *abs = absolute_url (c, location);
  return xasprintf ("%s%sdigest=sha256%%3A%s", abs, strchr (location, '?') ? "&" : "?", hex);
}

/* OAuth2's refresh grant (RFC 6749 section 6), as Docker's token handler sends it: POST to the realm, a form with
   the identity token, the service and the scopes (space-separated); the answer's access_token is the token. */
static int
fetch_token_refresh (struct registry_client *c, const char *realm, const char *service, isola_error_t *err)
{
  cleanup_free char *scopes = c->repo ? xasprintf ("repository:%s:%s", c->repo, c->actions) : xstrdup ("");
  for (size_t i = 0; c->scopes && c->scopes[i]; i++)
    {
      char *longer = xasprintf ("%s%s%s", scopes, *scopes ? " " : "", c->scopes[i]);
      free (scopes);
      scopes = longer;
    }
  cleanup_free char *esc_token = url_escape (c->identity);
  cleanup_free char *esc_service = url_escape (service ? service : "");
  cleanup_free char *esc_scope = url_escape (scopes);
  cleanup_free char *form
      = xasprintf ("grant_type=refresh_token&refresh_token=%s&service=%s%s%s&client_id=%s", esc_token, esc_service,
                   *scopes ? "&scope=" : "", *scopes ? esc_scope : "", OAUTH_CLIENT_ID);
  free (c->authz);
  c->authz = NULL;
  const struct body b
      = { .content_type = "application/x-www-form-urlencoded", .data = form, .len = strlen (form), .fd = -1 };
  struct response r = { 0 };
  r.max = TOKEN_MAX;
  int ret = send_request_with (c, realm, "POST", &b, &r, NULL, err);
  explicit_bzero (form, strlen (form));
  if (ret == 0 && r.status != 200)
    {
      cleanup_free char *text = registry_error_text (&r);
      cleanup_json json_t *e = r.body ? json_loadb (r.body, r.len, 0, NULL) : NULL;
      const char *oauth = json_string_value (json_object_get (e, "error"));
      ret = isola_error_fail (
          err, EACCES, "Post \"%s\": %s%.100s: the identity token %s was refused (%s login %s again)", realm,
          text    ? text
          : oauth ? ""
                  : "unexpected status",
          text    ? ""
          : oauth ? oauth
                  : "",
          c->identity_given ? "of the request" : "in config.json", c->identity_given ? "docker" : "isola", c->domain);
    }
  if (ret == 0)
    ret = take_token (c, r.body, r.len, err);
  response_clear (&r);
  return ret;
}

void
registry_add_pull_scope (struct registry_client *c, const char *repo)
{
  cleanup_free char *scope = xasprintf ("repository:%s:pull", repo);
  if (c->scopes == NULL)
    c->scopes = xcalloc (1, sizeof (char *));
  if (strv_contains (c->scopes, scope))
    return;
  strv_push (&c->scopes, scope);
  /* A token has the scopes it was asked for: the next request gets one with this scope too. */
  if (c->authz && str_has_prefix (c->authz, "Authorization: Bearer "))
    {
      free (c->authz);
      c->authz = NULL;
    }
}

/* send_request_with, answering a 401 once by authenticating (a token may expire during a long push). */
static int
send_authed (struct registry_client *c, const char *url, const char *method, const struct body *b, struct response *r,
             char **location, isola_error_t *err)
{
  int ret = send_request_with (c, url, method, b, r, location, err);
  if (ret < 0 || r->status != 401)
    return ret;
  cleanup_free char *challenge = r->challenge ? xstrdup (r->challenge) : NULL;
  ret = authenticate (c, challenge, err);
  if (ret == 0)
    ret = send_request_with (c, url, method, b, r, location, err);
  return ret;
}

/* Blobs larger than this go up in PATCH chunks of this size rather than in one PUT: a proxy in front of a
   registry often bounds a request's body (100 MB is common), and a failed chunk costs less than a failed blob. */
#define UPLOAD_CHUNK_DEFAULT (64 * 1024 * 1024)

static int64_t
upload_chunk_size (void)
{
  const char *v = getenv ("ISOLA_PUSH_CHUNK_SIZE");
  char *end = NULL;
  long long n = v && *v ? strtoll (v, &end, 10) : 0;
  return n > 0 && end && *end == '\0' ? (int64_t)n : UPLOAD_CHUNK_DEFAULT;
}

/* A status with which a registry (or the proxy in front of it) refuses a blob in one request. */
static bool
refuses_monolithic (long status)
{
  return status == 413 || status == 405 || status == 501;
}

/* POST to start an upload session: *location is where it goes on.  With mount_from, a 201 means the registry
   mounted the blob instead (*mounted). */
static int
upload_start (struct registry_client *c, const char *hex, const char *mount_from, bool *mounted, char **location,
              isola_error_t *err)
{
  cleanup_free char *esc_from = mount_from ? url_escape (mount_from) : NULL;
  cleanup_free char *start
      = mount_from ? xasprintf ("%s/v2/%s/blobs/uploads/?mount=sha256:%s&from=%s", c->base, c->repo, hex, esc_from)
                   : xasprintf ("%s/v2/%s/blobs/uploads/", c->base, c->repo);
  const struct body b = { .content_type = "application/octet-stream", .fd = -1 };
  struct response r = { 0 };
  int ret = send_authed (c, start, "POST", &b, &r, location, err);
  /* 201: the registry mounted the blob from the other repository; 202: an upload starts (no mount). */
  if (ret == 0 && mount_from && r.status == 201)
    *mounted = true;
  else if (ret == 0 && (r.status != 202 || *location == NULL))
    ret = status_error (&r, c->repo, err);
  response_clear (&r);
  return ret;
}

/* The distribution spec's chunked upload: PATCH chunks in order, each with its Content-Range, each answered 202
   with the Location of the next; then the closing PUT with the digest and no body. */
static int
upload_chunked (struct registry_client *c, char **location, const char *hex, int fd, int64_t size, int64_t chunk,
                registry_upload_fn fn, void *arg, struct response *r, isola_error_t *err)
{
  for (int64_t off = 0; off < size;)
    {
      int64_t n = size - off < chunk ? size - off : chunk;
      cleanup_free char *url = absolute_url (c, *location);
      cleanup_free char *range = xasprintf ("Content-Range: %lld-%lld", (long long)off, (long long)(off + n - 1));
      const struct body b = { .content_type = "application/octet-stream",
                              .fd = fd,
                              .offset = off,
                              .len = (size_t)n,
                              .extra = range,
                              .fn = fn,
                              .arg = arg,
                              .base = off };
      char *next = NULL;
      int ret = send_authed (c, url, "PATCH", &b, r, &next, err);
      if (ret == 0 && (r->status != 202 || next == NULL))
        ret = status_error (r, c->repo, err);
      if (ret < 0)
        {
          free (next);
          return ret;
        }
      free (*location);
      *location = next;
      off += n;
    }
  cleanup_free char *put = upload_url (c, *location, hex);
  const struct body b = { .content_type = "application/octet-stream", .fd = -1 };
  int ret = send_authed (c, put, "PUT", &b, r, NULL, err);
  if (ret == 0 && r->status != 201)
    ret = status_error (r, c->repo, err);
  return ret;
}

int
registry_upload_blob (struct registry_client *c, const char *hex, const char *path, int64_t size,
                      const char *mount_from, bool *mounted, registry_upload_fn fn, void *arg, isola_error_t *err)
{
  *mounted = false;
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open blob `%s`", path);
  cleanup_free char *location = NULL;
  int ret = upload_start (c, hex, mount_from, mounted, &location, err);
  if (ret < 0 || *mounted)
    return ret;
  int64_t chunk = upload_chunk_size ();
  struct response r = { 0 };
  if (size > chunk)
    ret = upload_chunked (c, &location, hex, fd, size, chunk, fn, arg, &r, err);
  else
    {
      cleanup_free char *put = upload_url (c, location, hex);
      const struct body b
          = { .content_type = "application/octet-stream", .fd = fd, .len = (size_t)size, .fn = fn, .arg = arg };
      ret = send_authed (c, put, "PUT", &b, &r, NULL, err);
      if (ret == 0 && refuses_monolithic (r.status) && size > 0)
        {
          /* Refused in one piece: a new session, in chunks (half the blob at most, so that there are two). */
          free (location), location = NULL;
          ret = upload_start (c, hex, NULL, mounted, &location, err);
          if (ret == 0)
            ret = upload_chunked (c, &location, hex, fd, size, size > 1 ? (size + 1) / 2 : 1, fn, arg, &r, err);
        }
      else if (ret == 0 && r.status != 201)
        ret = status_error (&r, c->repo, err);
    }
  response_clear (&r);
  return ret;
}

int
registry_put_manifest (struct registry_client *c, const char *reference, const char *media_type, const char *body,
                       size_t len, isola_error_t *err)
{
  cleanup_free char *url = xasprintf ("%s/v2/%s/manifests/%s", c->base, c->repo, reference);
  struct response r = { 0 };
  const struct body b = { .content_type = media_type, .data = body, .len = len, .fd = -1 };
  int ret = send_authed (c, url, "PUT", &b, &r, NULL, err);
  if (ret == 0 && r.status != 201)
    ret = status_error (&r, c->repo, err);
  response_clear (&r);
  return ret;
}
