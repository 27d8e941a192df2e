#define _GNU_SOURCE
#include "image/registry_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"

#define AUTH_FILE_MAX    (1024 * 1024)
#define HELPER_OUT_MAX   (64 * 1024)
#define HELPER_NOT_FOUND "credentials not found in native keychain"
#define HUB_AUTH_KEY     "https://index.docker.io/v1/"
#define HUB_DOMAIN_NAME  "docker.io"

char *
registry_auth_file (void)
{
  const char *dir = getenv ("DOCKER_CONFIG");
  if (dir && *dir)
    return xasprintf ("%s/config.json", dir);
  const char *home = getenv ("HOME");
  return xasprintf ("%s/.docker/config.json", home && *home ? home : "/root");
}

char *
registry_server_domain (const char *server)
{
  if (server == NULL || *server == '\0')
    return xstrdup (HUB_DOMAIN_NAME);
  const char *p = server;
  if (str_has_prefix (p, "https://"))
    p += strlen ("https://");
  else if (str_has_prefix (p, "http://"))
    p += strlen ("http://");
  char *d = strndup (p, strcspn (p, "/"));
  if (d == NULL)
    abort ();
  if (strcmp (d, "index.docker.io") == 0 || strcmp (d, "registry-1.docker.io") == 0)
    {
      free (d);
      d = xstrdup (HUB_DOMAIN_NAME);
    }
  return d;
}

char *
registry_auth_key (const char *domain)
{
  return xstrdup (strcmp (domain, HUB_DOMAIN_NAME) == 0 ? HUB_AUTH_KEY : domain);
}

static int
load_file (json_t **out, isola_error_t *err)
{
  cleanup_free char *path = registry_auth_file ();
  cleanup_free char *buf = NULL;
  size_t len = 0;
  int ret = read_file_bounded (path, AUTH_FILE_MAX, &buf, &len, NULL);
  if (ret == -ENOENT)
    {
      *out = json_object ();
      return 0;
    }
  if (ret < 0)
    return isola_error_make (err, -ret, "read `%s`", path);
  json_error_t jerr;
  *out = json_loadb (buf, len, 0, &jerr);
  if (*out == NULL || !json_is_object (*out))
    {
      json_decref (*out);
      *out = NULL;
      return isola_error_fail (err, EINVAL, "`%s` is not valid JSON: %s", path, jerr.text);
    }
  return 0;
}

/* "https://HOST/" and "http://HOST" name HOST too, as the docker CLI reads keys. */
static bool
key_names (const char *key, const char *want)
{
  if (strcmp (key, want) == 0)
    return true;
  const char *p = key;
  if (str_has_prefix (p, "https://"))
    p += strlen ("https://");
  else if (str_has_prefix (p, "http://"))
    p += strlen ("http://");
  else
    return false;
  size_t n = strcspn (p, "/");
  return strlen (want) == n && strncmp (p, want, n) == 0;
}

int
registry_auth_decode (const char *b64, char **user, char **password)
{
  size_t n = strlen (b64);
  cleanup_free unsigned char *raw = xcalloc (1, n + 4);
  int len = EVP_DecodeBlock (raw, (const unsigned char *)b64, (int)n);
  if (len < 0)
    return -EINVAL;
  /* EVP_DecodeBlock counts the padding as zero bytes. */
  while (n > 0 && b64[n - 1] == '=' && len > 0)
    n--, len--;
  raw[len] = '\0';
  char *colon = strchr ((char *)raw, ':');
  if (colon == NULL || strlen ((char *)raw) != (size_t)len)
    return -EINVAL;
  *colon = '\0';
  *user = xstrdup ((char *)raw);
  *password = xstrdup (colon + 1);
  return 0;
}

/* --- credential helpers ---------------------------------------------------------------------------------------- */

/* "HOST[:PORT]" of a key, as Docker's credHelpers are keyed ("index.docker.io" for Docker Hub). */
static char *
key_hostname (const char *key)
{
  const char *p = key;
  if (str_has_prefix (p, "https://"))
    p += strlen ("https://");
  else if (str_has_prefix (p, "http://"))
    p += strlen ("http://");
  char *h = strndup (p, strcspn (p, "/"));
  if (h == NULL)
    abort ();
  return h;
}

/* The helper for key: credHelpers' entry for its host, else credsStore; NULL for the file itself. */
static const char *
helper_for (json_t *cfg, const char *key)
{
  cleanup_free char *host = key_hostname (key);
  const char *name = json_string_value (json_object_get (json_object_get (cfg, "credHelpers"), host));
  if (name == NULL || *name == '\0')
    name = json_string_value (json_object_get (cfg, "credsStore"));
  if (name == NULL || *name == '\0' || strchr (name, '/'))
    return NULL;
  return name;
}

/* Runs docker-credential-NAME ACTION with input on its stdin, as Docker does: *out is what it printed, *code its
   exit status.  Its stderr is dropped. */
static int
run_helper (const char *name, const char *action, const char *input, char **out, int *code, isola_error_t *err)
{
  cleanup_free char *prog = xasprintf ("docker-credential-%s", name);
  int in[2], outp[2];
  if (pipe2 (in, O_CLOEXEC) < 0)
    return isola_error_make (err, errno, "pipe");
  if (pipe2 (outp, O_CLOEXEC) < 0)
    {
      int e = errno;
      close (in[0]), close (in[1]);
      return isola_error_make (err, e, "pipe");
    }
  pid_t pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (in[0]), close (in[1]), close (outp[0]), close (outp[1]);
      return isola_error_make (err, e, "fork");
    }
  if (pid == 0)
    {
      int null = open ("/dev/null", O_WRONLY);
      if (dup2 (in[0], 0) < 0 || dup2 (outp[1], 1) < 0 || (null >= 0 && dup2 (null, 2) < 0))
        _exit (126);
      execlp (prog, prog, action, (char *)NULL);
      _exit (errno == ENOENT ? 127 : 126);
    }
  close (in[0]);
  close (outp[1]);
  /* The input is a line or a small JSON object: it fits in the pipe, written before the output is read. */
  struct sigaction ign = { .sa_handler = SIG_IGN }, old;
  sigaction (SIGPIPE, &ign, &old);
  (void)write_all (in[1], input, strlen (input));
  close (in[1]);
  sigaction (SIGPIPE, &old, NULL);
  size_t len = 0;
  int ret = read_fd_bounded (outp[0], HELPER_OUT_MAX, out, &len, err);
  close (outp[0]);
  int status = 0;
  if (waitpid_retry (pid, &status) < 0)
    status = 0xff00;
  if (ret < 0)
    return ret;
  *code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  if (*code == 127)
    return isola_error_fail (err, ENOENT, "%s: executable file not found in $PATH", prog);
  return 0;
}

static int
helper_failed (const char *name, const char *action, int code, const char *out, isola_error_t *err)
{
  size_t n = strcspn (out ? out : "", "\n");
  return isola_error_fail (err, EIO, "error %s credentials - docker-credential-%s: exit status %d, out: `%.*s`",
                           strcmp (action, "get") == 0     ? "getting"
                           : strcmp (action, "store") == 0 ? "storing"
                                                           : "erasing",
                           name, code, (int)(n > 200 ? 200 : n), out ? out : "");
}

static int
helper_get (const char *name, const char *key, char **user, char **password, char **identity, isola_error_t *err)
{
  cleanup_free char *out = NULL;
  int code = 0;
  int ret = run_helper (name, "get", key, &out, &code, err);
  if (ret < 0)
    return ret;
  if (code != 0 && strstr (out, HELPER_NOT_FOUND))
    return 0;
  if (code != 0)
    return helper_failed (name, "get", code, out, err);
  cleanup_json json_t *o = json_loads (out, 0, NULL);
  const char *u = json_string_value (json_object_get (o, "Username"));
  const char *secret = json_string_value (json_object_get (o, "Secret"));
  if (u == NULL || secret == NULL)
    return isola_error_fail (err, EINVAL, "docker-credential-%s get: its answer is not credentials", name);
  /* "<token>" names an identity token (an OAuth2 refresh token), as Docker stores one: not a password. */
  if (strcmp (u, "<token>") == 0)
    {
      if (identity && *secret)
        *identity = xstrdup (secret);
      return 0;
    }
  if (*u == '\0')
    return 0;
  *user = xstrdup (u);
  *password = xstrdup (secret);
  return 0;
}

static int
helper_store (const char *name, const char *key, const char *user, const char *password, isola_error_t *err)
{
  cleanup_json json_t *o = json_pack ("{s:s, s:s, s:s}", "ServerURL", key, "Username", user, "Secret", password);
  cleanup_free char *input = json_dumps (o, JSON_COMPACT);
  cleanup_free char *out = NULL;
  int code = 0;
  int ret = run_helper (name, "store", input, &out, &code, err);
  explicit_bzero (input, strlen (input));
  if (ret == 0 && code != 0)
    ret = helper_failed (name, "store", code, out, err);
  return ret;
}

static int
helper_erase (const char *name, const char *key, isola_error_t *err)
{
  cleanup_free char *out = NULL;
  int code = 0;
  int ret = run_helper (name, "erase", key, &out, &code, err);
  if (ret == 0 && code != 0 && strstr (out, HELPER_NOT_FOUND) == NULL)
    ret = helper_failed (name, "erase", code, out, err);
  return ret;
}

int
registry_auth_get_identity (const char *domain, char **user, char **password, char **identity, isola_error_t *err)
{
  *user = *password = NULL;
  if (identity)
    *identity = NULL;
  cleanup_json json_t *cfg = NULL;
  int ret = load_file (&cfg, err);
  if (ret < 0)
    return ret;
  cleanup_free char *want = registry_auth_key (domain);
  const char *helper = helper_for (cfg, want);
  if (helper)
    return helper_get (helper, want, user, password, identity, err);
  json_t *auths = json_object_get (cfg, "auths");
  const char *key;
  json_t *v;
  json_object_foreach (auths, key, v)
  {
    if (!key_names (key, want))
      continue;
    const char *b64 = json_string_value (json_object_get (v, "auth"));
    const char *token = json_string_value (json_object_get (v, "identitytoken"));
    bool has_token = identity && token && *token;
    if ((b64 == NULL || *b64 == '\0') && !has_token)
      continue;
    if (b64 && *b64 && registry_auth_decode (b64, user, password) < 0)
      {
        cleanup_free char *path = registry_auth_file ();
        return isola_error_fail (err, EINVAL, "invalid auth configuration for %s in `%s`", key, path);
      }
    if (has_token)
      *identity = xstrdup (token);
    return 0;
  }
  return 0;
}

int
registry_auth_get (const char *domain, char **user, char **password, isola_error_t *err)
{
  return registry_auth_get_identity (domain, user, password, NULL, err);
}

static int
save_file (json_t *cfg, isola_error_t *err)
{
  cleanup_free char *path = registry_auth_file ();
  cleanup_free char *dir = xstrdup (path);
  char *slash = strrchr (dir, '/');
  if (slash)
    {
      *slash = '\0';
      int ret = mkdir_p (dir, 0700, err);
      if (ret < 0)
        return ret;
    }
  cleanup_free char *text = json_dumps (cfg, JSON_INDENT (1));
  cleanup_free char *line = xasprintf ("%s\n", text);
  return write_file_atomic (path, line, strlen (line), 0600, err);
}

/* An entry of "auths": the password, or with an identity token "user:" and the token, as Docker writes them. */
static int
store_entry (const char *domain, const char *user, const char *password, const char *identity, isola_error_t *err)
{
  cleanup_json json_t *cfg = NULL;
  int ret = load_file (&cfg, err);
  if (ret < 0)
    return ret;
  json_t *auths = json_object_get (cfg, "auths");
  if (!json_is_object (auths))
    {
      auths = json_object ();
      json_object_set_new (cfg, "auths", auths);
    }
  cleanup_free char *key = registry_auth_key (domain);
  const char *helper = helper_for (cfg, key);
  if (helper)
    {
      /* The helper keeps the secret; the file names the registry, with no credentials, as Docker writes it. */
      ret = identity ? helper_store (helper, key, "<token>", identity, err)
                     : helper_store (helper, key, user, password, err);
      if (ret == 0)
        json_object_set_new (auths, key, json_object ());
      return ret < 0 ? ret : save_file (cfg, err);
    }
  cleanup_free char *plain = xasprintf ("%s:%s", user, identity ? "" : password);
  size_t n = strlen (plain);
  cleanup_free unsigned char *b64 = xcalloc (1, 4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock (b64, (const unsigned char *)plain, (int)n);
  explicit_bzero (plain, n);
  json_t *entry = json_pack ("{s:s}", "auth", (const char *)b64);
  if (identity)
    json_object_set_new (entry, "identitytoken", json_string (identity));
  json_object_set_new (auths, key, entry);
  return save_file (cfg, err);
}

int
registry_auth_store (const char *domain, const char *user, const char *password, isola_error_t *err)
{
  return store_entry (domain, user, password, NULL, err);
}

int
registry_auth_store_identity (const char *domain, const char *user, const char *identity, isola_error_t *err)
{
  return store_entry (domain, user, NULL, identity, err);
}

int
registry_auth_erase (const char *domain, bool *found, isola_error_t *err)
{
  *found = false;
  cleanup_json json_t *cfg = NULL;
  int ret = load_file (&cfg, err);
  if (ret < 0)
    return ret;
  cleanup_free char *want = registry_auth_key (domain);
  json_t *auths = json_object_get (cfg, "auths");
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe (auths, tmp, key, v)
  {
    if (key_names (key, want))
      {
        json_object_del (auths, key);
        *found = true;
      }
  }
  const char *helper = helper_for (cfg, want);
  if (helper && *found)
    {
      ret = helper_erase (helper, want, err);
      if (ret < 0)
        return ret;
    }
  return *found ? save_file (cfg, err) : 0;
}

void
registry_auth_header_clear (struct registry_auth_header *h)
{
  if (h->password)
    explicit_bzero (h->password, strlen (h->password));
  if (h->identitytoken)
    explicit_bzero (h->identitytoken, strlen (h->identitytoken));
  free (h->username), free (h->password), free (h->identitytoken), free (h->serveraddress);
  *h = (struct registry_auth_header){ 0 };
}

/* base64 in either alphabet, padding optional (Go's URLEncoding pads, other clients do not): *len bytes in out. */
static int
base64_decode_any (const char *in, unsigned char **out, size_t *len)
{
  size_t n = strcspn (in, "=");
  if (strspn (in + n, "=") != strlen (in + n) || strlen (in + n) > 2)
    return -1;
  cleanup_free char *std = xmalloc (n + 4);
  for (size_t i = 0; i < n; i++)
    {
      char c = in[i];
      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
        return -1;
      std[i] = c;
    }
  if (n % 4 == 1)
    return -1;
  size_t pad = (4 - n % 4) % 4;
  memset (std + n, '=', pad);
  std[n + pad] = '\0';
  *out = xmalloc ((n + pad) / 4 * 3 + 1);
  int m = EVP_DecodeBlock (*out, (const unsigned char *)std, (int)(n + pad));
  if (m < 0)
    {
      free (*out);
      *out = NULL;
      return -1;
    }
  /* EVP_DecodeBlock counts the padding's bytes as zeros. */
  *len = (size_t)m - pad;
  return 0;
}

static char *
string_field (json_t *obj, const char *key)
{
  const char *v = json_string_value (json_object_get (obj, key));
  return v && *v ? xstrdup (v) : NULL;
}

int
registry_auth_header_parse (const char *header, struct registry_auth_header *out, isola_error_t *err)
{
  *out = (struct registry_auth_header){ 0 };
  if (header == NULL || *header == '\0')
    return 0;
  if (strlen (header) > REGISTRY_AUTH_HEADER_MAX)
    return isola_error_fail (err, EINVAL, "X-Registry-Auth: longer than %d bytes", REGISTRY_AUTH_HEADER_MAX);
  cleanup_free unsigned char *plain = NULL;
  size_t len = 0;
  if (base64_decode_any (header, &plain, &len) < 0)
    return isola_error_fail (err, EINVAL, "X-Registry-Auth: not base64");
  json_error_t jerr;
  cleanup_json json_t *obj = json_loadb ((const char *)plain, len, 0, &jerr);
  explicit_bzero (plain, len);
  if (obj == NULL || !json_is_object (obj))
    return isola_error_fail (err, EINVAL, "X-Registry-Auth: not a JSON object");
  out->username = string_field (obj, "username");
  out->password = string_field (obj, "password");
  out->identitytoken = string_field (obj, "identitytoken");
  out->serveraddress = string_field (obj, "serveraddress");
  return 0;
}
