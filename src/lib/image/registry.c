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
#include "store/store.h"

#define TOKEN_MAX        (1024 * 1024)
#define ERROR_BODY_MAX   (64 * 1024)
#define HEADER_MAX       8192
#define MAX_REDIRECTS    10
#define DEFAULT_TIMEOUT  30
#define REQUEST_ATTEMPTS 3
#define TAGS_LIST_MAX    (16 * 1024 * 1024)

#define MANIFEST_ACCEPT                                                                                                \
  "Accept: " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_LIST                             \
  ", application/vnd.docker.distribution.manifest.v1+prettyjws, application/json"

struct registry_client
{
  char *domain;  /* as the reference names it */
  char *base;    /* "https://HOST" */
  char *repo;    /* path in the registry */
  char *actions; /* token scope actions */
  char *user;    /* credentials, or NULL */
  char *password;
  char *authz;   /* "Authorization: …" once known, or NULL */
  char *ca_file; /* the registry's own CA, or NULL */
  long timeout;  /* seconds without a byte before a request fails */
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

/* The value of header `name` in one header line, trimmed, or NULL. */
static char *
header_value (const char *line, size_t len, const char *name)
{
  size_t n = strlen (name);
  if (len <= n || strncasecmp (line, name, n) != 0 || line[n] != ':')
    return NULL;
  const char *v = line + n + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  return strndup (v, (size_t)(end - v));
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
  if ((v = header_value (data, len, "Content-Type")))
    free (r->content_type), r->content_type = v;
  else if ((v = header_value (data, len, "WWW-Authenticate")))
    free (r->challenge), r->challenge = v;
  return len;
}

/* An easy handle with what every request has: bounds, timeouts, redirects within http(s), the CA. */
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
  int e = rc == CURLE_OPERATION_TIMEDOUT         ? ETIMEDOUT
          : rc == CURLE_TOO_MANY_REDIRECTS       ? ELOOP
          : rc == CURLE_PEER_FAILED_VERIFICATION ? EKEYREJECTED
                                                 : EIO;
  return isola_error_fail (err, e, "Get \"%s\": %s", url, detail && *detail ? detail : curl_easy_strerror (rc));
}

/* One request; a transport failure or a 429/5xx is tried again after a pause (1 s, 2 s). */
static int
request (const struct registry_client *c, const char *url, const char *method, const char *accept, size_t max,
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
                    && rc != CURLE_SSL_CONNECT_ERROR && rc != CURLE_PEER_FAILED_VERIFICATION)
                   || out->status == 429 || out->status >= 500;
      if (!retry || attempt == REQUEST_ATTEMPTS)
        return rc == CURLE_OK ? 0 : transfer_error (rc, detail, url, err);
      sleep ((unsigned)attempt);
    }
}

/* "code: message" of a registry's JSON error body, Docker's "manifest unknown: manifest unknown"; NULL else. */
static char *
registry_error_text (const struct response *r)
{
  cleanup_json json_t *o = r->body ? json_loadb (r->body, r->len, 0, NULL) : NULL;
  json_t *e = json_array_get (json_object_get (o, "errors"), 0);
  const char *code = json_string_value (json_object_get (e, "code"));
  const char *msg = json_string_value (json_object_get (e, "message"));
  if (code == NULL)
    return NULL;
  cleanup_free char *lower = xstrdup (code);
  for (char *p = lower; *p; p++)
    *p = *p == '_' ? ' ' : (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
  return msg ? xasprintf ("%s: %.200s", lower, msg) : xstrdup (lower);
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

/* The value of key in a challenge's parameters (key="value", …). */
static char *
challenge_param (const char *params, const char *key)
{
  size_t n = strlen (key);
  for (const char *p = params; p && *p;)
    {
      while (*p == ' ' || *p == ',')
        p++;
      const char *eq = strchr (p, '=');
      if (eq == NULL)
        return NULL;
      bool match = (size_t)(eq - p) == n && strncasecmp (p, key, n) == 0;
      const char *v = eq + 1, *end;
      if (*v == '"')
        {
          v++;
          end = strchr (v, '"');
          if (end == NULL)
            return NULL;
          if (match)
            return strndup (v, (size_t)(end - v));
          p = end + 1;
        }
      else
        {
          end = v + strcspn (v, ",");
          if (match)
            return strndup (v, (size_t)(end - v));
          p = end;
        }
    }
  return NULL;
}

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

/* The Bearer flow: a token for the repository's scope from the realm, with the credentials when there are some. */
static int
fetch_token (struct registry_client *c, const char *params, isola_error_t *err)
{
  cleanup_free char *realm = challenge_param (params, "realm");
  cleanup_free char *service = challenge_param (params, "service");
  if (realm == NULL || !(str_has_prefix (realm, "https://") || str_has_prefix (realm, "http://")))
    return isola_error_fail (err, EPROTO, "%s: the registry's Bearer challenge has no usable realm", c->domain);
  cleanup_free char *esc_service = service ? url_escape (service) : NULL;
  cleanup_free char *scope = c->repo ? xasprintf ("repository:%s:%s", c->repo, c->actions) : NULL;
  cleanup_free char *esc_scope = scope ? url_escape (scope) : NULL;
  cleanup_free char *url
      = xasprintf ("%s%s%s%s%s%s", realm, strchr (realm, '?') ? "&" : "?", esc_service ? "service=" : "",
                   esc_service ? esc_service : "", esc_scope ? (esc_service ? "&scope=" : "scope=") : "",
                   esc_scope ? esc_scope : "");
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
  cleanup_json json_t *o = ret == 0 ? json_loadb (r.body ? r.body : "", r.len, 0, NULL) : NULL;
  response_clear (&r);
  if (ret < 0)
    return ret;
  const char *token = json_string_value (json_object_get (o, "token"));
  if (token == NULL || *token == '\0')
    token = json_string_value (json_object_get (o, "access_token"));
  if (token == NULL || *token == '\0' || strpbrk (token, "\r\n"))
    return isola_error_fail (err, EPROTO, "%s: the token service answered without a token", c->domain);
  c->authz = xasprintf ("Authorization: Bearer %s", token);
  return 0;
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

/* GET /v2/: which scheme answers, and what the registry asks for. */
static int
ping (struct registry_client *c, bool plain_http_allowed, struct response *r, isola_error_t *err)
{
  const char *host = image_ref_registry_host (c->domain);
  c->base = xasprintf ("https://%s", host);
  cleanup_free char *url = xasprintf ("%s/v2/", c->base);
  cleanup_error isola_error_t tls_err = NULL;
  int ret = request (c, url, "GET", NULL, ERROR_BODY_MAX, r, plain_http_allowed ? &tls_err : err);
  if (ret == 0 || !plain_http_allowed)
    return ret;
  if (ret == -EKEYREJECTED)
    return isola_error_fail (err, EKEYREJECTED, "%s", tls_err->msg);
  free (c->base);
  c->base = xasprintf ("http://%s", host);
  free (url);
  url = xasprintf ("%s/v2/", c->base);
  return request (c, url, "GET", NULL, ERROR_BODY_MAX, r, err);
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

static int
client_new (const char *root, const char *domain, const char *repo, const char *actions, const char *user,
            const char *password, bool use_stored, struct registry_client **out, isola_error_t *err)
{
  global_init ();
  struct registry_client *c = xcalloc (1, sizeof (*c));
  c->domain = xstrdup (domain);
  c->repo = repo ? xstrdup (repo) : NULL;
  c->actions = xstrdup (actions);
  c->timeout = timeout_setting ();
  c->ca_file = find_ca (image_ref_registry_host (domain));
  int ret = 0;
  if (user)
    c->user = xstrdup (user), c->password = xstrdup (password);
  else if (use_stored)
    ret = registry_auth_get (domain, &c->user, &c->password, err);
  struct response r = { 0 };
  if (ret == 0)
    ret = ping (c, host_is_loopback (domain) || listed_insecure (root, domain), &r, err);
  if (ret == 0 && r.status == 401)
    ret = authenticate (c, r.challenge, err);
  else if (ret == 0 && r.status != 200)
    ret = status_error (&r, domain, err);
  response_clear (&r);
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
  return client_new (root, domain, repo, actions, NULL, NULL, true, out, err);
}

void
registry_close (struct registry_client *c)
{
  if (c == NULL)
    return;
  free (c->domain), free (c->base), free (c->repo), free (c->actions), free (c->user), free (c->authz);
  free (c->ca_file);
  if (c->password)
    explicit_bzero (c->password, strlen (c->password));
  free (c->password);
  free (c);
}

int
registry_check_login (const char *root, const char *domain, const char *user, const char *password, isola_error_t *err)
{
  cleanup_registry struct registry_client *c = NULL;
  int ret = client_new (root, domain, NULL, "pull", user, password, false, &c, err);
  if (ret < 0)
    return ret;
  /* A Basic registry took the credentials on trust: /v2/ with them must now answer 200. */
  cleanup_free char *url = xasprintf ("%s/v2/", c->base);
  struct response r = { 0 };
  ret = request (c, url, "GET", NULL, ERROR_BODY_MAX, &r, err);
  if (ret == 0 && r.status != 200)
    ret = isola_error_fail (err, EACCES, "login to %s failed: unauthorized: incorrect username or password", domain);
  response_clear (&r);
  return ret;
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

/* One blob download of registry_fetch_blobs. */
struct transfer
{
  const struct registry_blob *blob;
  size_t index;
  int fd;
  int64_t done;
  digester_t *digest;
  bool too_long;
  int write_errno;
  CURL *h;
  char *url;
  char detail[CURL_ERROR_SIZE];
  registry_progress_fn fn;
  void *arg;
};

static size_t
on_blob_data (char *data, size_t size, size_t n, void *arg)
{
  struct transfer *t = arg;
  size_t len = size * n;
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

static int
transfer_start (struct registry_client *c, CURLM *m, struct curl_slist *headers, struct transfer *t, isola_error_t *err)
{
  t->fd = open (t->blob->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (t->fd < 0)
    return isola_error_make (err, errno, "create `%s`", t->blob->path);
  t->digest = digester_new ();
  t->url = xasprintf ("%s/v2/%s/blobs/sha256:%s", c->base, c->repo, t->blob->hex);
  t->h = easy_new (c, t->url, headers);
  if (t->h == NULL)
    return isola_error_fail (err, ENOMEM, "cannot make an HTTP request");
  curl_easy_setopt (t->h, CURLOPT_WRITEFUNCTION, on_blob_data);
  curl_easy_setopt (t->h, CURLOPT_WRITEDATA, t);
  curl_easy_setopt (t->h, CURLOPT_PRIVATE, t);
  curl_easy_setopt (t->h, CURLOPT_ERRORBUFFER, t->detail);
  curl_multi_add_handle (m, t->h);
  if (t->fn)
    t->fn (t->arg, t->index, REGISTRY_BLOB_STARTED, 0);
  return 0;
}

static int
transfer_finish (struct transfer *t, CURLcode rc, isola_error_t *err)
{
  const char *hex = t->blob->hex;
  long status = 0;
  if (rc == CURLE_OK)
    curl_easy_getinfo (t->h, CURLINFO_RESPONSE_CODE, &status);
  if (t->too_long)
    return isola_error_fail (err, EINVAL, "blob sha256:%.12s is longer than its descriptor's %lld bytes: refused", hex,
                             (long long)t->blob->size);
  if (t->write_errno)
    return isola_error_make (err, t->write_errno, "write `%s`", t->blob->path);
  if (rc != CURLE_OK)
    return transfer_error (rc, t->detail, t->url, err);
  if (status != 200)
    return isola_error_fail (err, status == 404 ? ENOENT : EIO, "blob sha256:%.12s: the registry answered %ld", hex,
                             status);
  if (t->done != t->blob->size)
    return isola_error_fail (err, EIO, "blob sha256:%.12s is truncated: %lld of %lld bytes", hex, (long long)t->done,
                             (long long)t->blob->size);
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
transfer_clear (CURLM *m, struct transfer *t)
{
  if (t->h)
    {
      curl_multi_remove_handle (m, t->h);
      curl_easy_cleanup (t->h);
    }
  if (t->fd >= 0)
    close (t->fd);
  digester_free (t->digest);
  free (t->url);
  memset (t, 0, sizeof (*t));
  t->fd = -1;
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
      while (ret == 0 && next < n && next - finished < (size_t)(parallel > 0 ? parallel : 1))
        ret = transfer_start (c, m, headers, &ts[next++], err);
      if (ret < 0)
        break;
      CURLMcode mc = curl_multi_perform (m, &running);
      if (mc == CURLM_OK)
        mc = curl_multi_poll (m, NULL, 0, 1000, NULL);
      if (mc != CURLM_OK)
        {
          ret = isola_error_fail (err, EIO, "downloading layers: %s", curl_multi_strerror (mc));
          break;
        }
      CURLMsg *msg;
      int left;
      while (ret == 0 && (msg = curl_multi_info_read (m, &left)))
        {
          if (msg->msg != CURLMSG_DONE)
            continue;
          struct transfer *t = NULL;
          curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
          ret = transfer_finish (t, msg->data.result, err);
          transfer_clear (m, t);
          finished++;
        }
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

struct upload
{
  struct response *r;
  char *location;
};

static size_t
on_upload_header (char *data, size_t size, size_t n, void *arg)
{
  struct upload *u = arg;
  size_t len = size * n;
  char *v = len <= HEADER_MAX ? header_value (data, len, "Location") : NULL;
  if (v)
    free (u->location), u->location = v;
  return on_header (data, size, n, u->r);
}

/* One request with a body (POST, PUT): from memory (data) or a file (fd >= 0). */
static int
send_request (struct registry_client *c, const char *url, const char *method, const char *content_type,
              const void *data, size_t len, int fd, struct response *r, char **location, isola_error_t *err)
{
  cleanup_slist struct curl_slist *headers = NULL;
  cleanup_free char *ct = xasprintf ("Content-Type: %s", content_type);
  headers = curl_slist_append (headers, ct);
  if (c->authz)
    headers = curl_slist_append (headers, c->authz);
  cleanup_curl CURL *h = easy_new (c, url, headers);
  if (h == NULL)
    return isola_error_fail (err, ENOMEM, "cannot make an HTTP request");
  response_clear (r);
  r->max = ERROR_BODY_MAX;
  struct upload u = { .r = r };
  cleanup_file FILE *f = NULL;
  curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 0L);
  if (fd >= 0)
    {
      f = fdopen (dup (fd), "rb");
      if (f == NULL)
        return isola_error_make (err, errno, "read blob");
      curl_easy_setopt (h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt (h, CURLOPT_READDATA, f);
      curl_easy_setopt (h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    }
  else
    {
      curl_easy_setopt (h, CURLOPT_POSTFIELDS, data ? data : "");
      curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
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
  if (rc != CURLE_OK && !r->too_large)
    return transfer_error (rc, detail, url, err);
  return 0;
}

/* A Location header made absolute, with the digest parameter the upload's PUT needs. */
static char *
upload_url (const struct registry_client *c, const char *location, const char *hex)
{
  const char *sep = strchr (location, '?') ? "&" : "?";
  if (str_has_prefix (location, "http://") || str_has_prefix (location, "https://"))
    return xasprintf ("%s%sdigest=sha256%%3A%s", location, sep, hex);
  return xasprintf ("%s%s%sdigest=sha256%%3A%s", c->base, location, sep, hex);
}

int
registry_upload_blob (struct registry_client *c, const char *hex, const char *path, int64_t size, isola_error_t *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open blob `%s`", path);
  cleanup_free char *start = xasprintf ("%s/v2/%s/blobs/uploads/", c->base, c->repo);
  struct response r = { 0 };
  cleanup_free char *location = NULL;
  int ret = send_request (c, start, "POST", "application/octet-stream", NULL, 0, -1, &r, &location, err);
  if (ret == 0 && r.status == 401)
    {
      cleanup_free char *challenge = r.challenge ? xstrdup (r.challenge) : NULL;
      free (location), location = NULL;
      ret = authenticate (c, challenge, err);
      if (ret == 0)
        ret = send_request (c, start, "POST", "application/octet-stream", NULL, 0, -1, &r, &location, err);
    }
  if (ret == 0 && (r.status != 202 || location == NULL))
    ret = status_error (&r, c->repo, err);
  if (ret == 0)
    {
      cleanup_free char *put = upload_url (c, location, hex);
      ret = send_request (c, put, "PUT", "application/octet-stream", NULL, (size_t)size, fd, &r, NULL, err);
      if (ret == 0 && r.status != 201)
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
  int ret = send_request (c, url, "PUT", media_type, body, len, -1, &r, NULL, err);
  if (ret == 0 && r.status == 401)
    {
      cleanup_free char *challenge = r.challenge ? xstrdup (r.challenge) : NULL;
      ret = authenticate (c, challenge, err);
      if (ret == 0)
        ret = send_request (c, url, "PUT", media_type, body, len, -1, &r, NULL, err);
    }
  if (ret == 0 && r.status != 201)
    ret = status_error (&r, c->repo, err);
  response_clear (&r);
  return ret;
}
