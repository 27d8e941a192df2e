#define _GNU_SOURCE
#include "image/registry_auth.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"

#define AUTH_FILE_MAX   (1024 * 1024)
#define HUB_AUTH_KEY    "https://index.docker.io/v1/"
#define HUB_DOMAIN_NAME "docker.io"

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

static int
decode_auth (const char *b64, char **user, char **password)
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

int
registry_auth_get (const char *domain, char **user, char **password, isola_error_t *err)
{
  *user = *password = NULL;
  cleanup_json json_t *cfg = NULL;
  int ret = load_file (&cfg, err);
  if (ret < 0)
    return ret;
  cleanup_free char *want = registry_auth_key (domain);
  json_t *auths = json_object_get (cfg, "auths");
  const char *key;
  json_t *v;
  json_object_foreach (auths, key, v)
  {
    if (!key_names (key, want))
      continue;
    const char *b64 = json_string_value (json_object_get (v, "auth"));
    if (b64 == NULL || *b64 == '\0')
      continue;
    if (decode_auth (b64, user, password) < 0)
      {
        cleanup_free char *path = registry_auth_file ();
        return isola_error_fail (err, EINVAL, "invalid auth configuration for %s in `%s`", key, path);
      }
    return 0;
  }
  return 0;
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

int
registry_auth_store (const char *domain, const char *user, const char *password, isola_error_t *err)
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
  cleanup_free char *plain = xasprintf ("%s:%s", user, password);
  size_t n = strlen (plain);
  cleanup_free unsigned char *b64 = xcalloc (1, 4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock (b64, (const unsigned char *)plain, (int)n);
  cleanup_free char *key = registry_auth_key (domain);
  json_object_set_new (auths, key, json_pack ("{s:s}", "auth", (const char *)b64));
  return save_file (cfg, err);
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
  return *found ? save_file (cfg, err) : 0;
}
