/* Unit tests for registry credentials in Docker's config.json: keys, base64 "auth", other content kept, erase. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/util.h"
#include "image/registry_auth.h"
#include "tap.h"

static char dir[] = "/tmp/isola-test-auth.XXXXXX";

static void
write_config (const char *text)
{
  cleanup_free char *path = registry_auth_file ();
  CHECK (write_file_atomic (path, text, strlen (text), 0600, NULL) == 0, "write %s", path);
}

static json_t *
read_config (void)
{
  cleanup_free char *path = registry_auth_file ();
  return json_load_file (path, 0, NULL);
}

static void
test_file_place (void)
{
  cleanup_free char *path = registry_auth_file ();
  cleanup_free char *want = xasprintf ("%s/config.json", dir);
  CHECK_STR (path, want, "$DOCKER_CONFIG/config.json (got %s)", path);
  cleanup_free char *hub = registry_auth_key ("docker.io");
  CHECK_STR (hub, "https://index.docker.io/v1/", "Docker Hub's key");
  cleanup_free char *other = registry_auth_key ("localhost:5000");
  CHECK_STR (other, "localhost:5000", "another registry's key is HOST:PORT");
}

static void
test_store_get_erase (void)
{
  /* Docker's own file, with keys isola must keep. */
  write_config ("{\"auths\": {\"https://other.test/\": {\"auth\": \"b3RoZXI6c2VjcmV0\"}}, \"psFormat\": \"x\"}");
  cleanup_free char *u = NULL, *p = NULL;
  CHECK (registry_auth_get ("other.test", &u, &p, NULL) == 0 && u && p, "a key written as a URL names its host");
  CHECK (u && strcmp (u, "other") == 0 && p && strcmp (p, "secret") == 0, "decoded other:secret");
  free (u), free (p);
  u = p = NULL;
  CHECK (registry_auth_get ("127.0.0.1:5000", &u, &p, NULL) == 0 && u == NULL && p == NULL, "none for another host");

  CHECK (registry_auth_store ("127.0.0.1:5000", "me", "pa:ss", NULL) == 0, "store");
  cleanup_json json_t *cfg = read_config ();
  const char *b64 = json_string_value (
      json_object_get (json_object_get (json_object_get (cfg, "auths"), "127.0.0.1:5000"), "auth"));
  CHECK_STR (b64, "bWU6cGE6c3M=", "auth is base64(user:password) (got %s)", b64 ? b64 : "(none)");
  CHECK_STR (json_string_value (json_object_get (cfg, "psFormat")), "x", "other settings are kept");
  cleanup_free char *path = registry_auth_file ();
  struct stat st;
  CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600, "the file is 0600");
  CHECK (registry_auth_get ("127.0.0.1:5000", &u, &p, NULL) == 0 && u && strcmp (u, "me") == 0 && p
             && strcmp (p, "pa:ss") == 0,
         "read back, a colon in the password kept");
  free (u), free (p);
  u = p = NULL;

  bool found = false;
  CHECK (registry_auth_erase ("127.0.0.1:5000", &found, NULL) == 0 && found, "erase finds it");
  CHECK (registry_auth_erase ("127.0.0.1:5000", &found, NULL) == 0 && !found, "a second erase finds nothing");
  u = p = NULL;
  CHECK (registry_auth_get ("other.test", &u, &p, NULL) == 0 && u != NULL, "the other registry's entry stays");
  free (u), free (p);
  u = p = NULL;
}

/* Docker's identity tokens: "auth" is base64("user:") beside "identitytoken"; a plain entry has none. */
static void
test_identity_token (void)
{
  write_config ("{\"auths\": {\"id.test\": {\"auth\": \"dTo=\", \"identitytoken\": \"rt-1\"}, "
                "\"tok.test\": {\"identitytoken\": \"rt-2\"}, \"pw.test\": {\"auth\": \"dTpw\"}}}");
  cleanup_free char *u = NULL, *p = NULL, *t = NULL;
  CHECK (registry_auth_get_identity ("id.test", &u, &p, &t, NULL) == 0, "read an identity token entry");
  CHECK (u && strcmp (u, "u") == 0 && p && *p == '\0' && t && strcmp (t, "rt-1") == 0,
         "the user, no password, the token");
  free (u), free (p), free (t);
  u = p = t = NULL;
  CHECK (registry_auth_get_identity ("tok.test", &u, &p, &t, NULL) == 0 && u == NULL && t && strcmp (t, "rt-2") == 0,
         "a token without auth is found");
  free (t), t = NULL;
  CHECK (registry_auth_get ("tok.test", &u, &p, NULL) == 0 && u == NULL && p == NULL,
         "registry_auth_get sees no password in it");
  CHECK (registry_auth_get_identity ("pw.test", &u, &p, &t, NULL) == 0 && t == NULL && p && strcmp (p, "p") == 0,
         "a password entry has no token");
  free (u), free (p);
  u = p = NULL;

  CHECK (registry_auth_store_identity ("new.test", "me", "rt-3", NULL) == 0, "store an identity token");
  cleanup_json json_t *cfg = read_config ();
  json_t *e = json_object_get (json_object_get (cfg, "auths"), "new.test");
  CHECK_STR (json_string_value (json_object_get (e, "auth")), "bWU6", "auth is base64(user:)");
  CHECK_STR (json_string_value (json_object_get (e, "identitytoken")), "rt-3", "identitytoken is the token");
  CHECK (registry_auth_store ("new.test", "me", "pw", NULL) == 0, "a password login replaces it");
  json_decref (cfg);
  cfg = read_config ();
  e = json_object_get (json_object_get (cfg, "auths"), "new.test");
  CHECK (json_object_get (e, "identitytoken") == NULL, "no identitytoken left");
}

/* A helper that keeps one credential in a file beside it and echoes what it was asked: the shape Docker's helpers
   have (a server URL on stdin for get and erase, a JSON object for store). */
static void
test_helper (void)
{
  cleanup_free char *bin = xasprintf ("%s/bin", dir), *helper = xasprintf ("%s/docker-credential-unit", bin);
  cleanup_free char *kept = xasprintf ("%s/kept", dir);
  cleanup_free char *script
      = xasprintf ("#!/bin/sh\n"
                   "case $1 in\n"
                   "store) cat >%s ;;\n"
                   "get) read -r url || true; [ -s %s ] && [ \"$url\" = h.test ] && "
                   "echo '{\"ServerURL\":\"h.test\",\"Username\":\"hu\",\"Secret\":\"hs\"}' && exit 0;"
                   " echo 'credentials not found in native keychain'; exit 1 ;;\n"
                   "erase) rm -f %s ;;\n"
                   "esac\n",
                   kept, kept, kept);
  CHECK (mkdir_p (bin, 0700, NULL) == 0 && write_file_atomic (helper, script, strlen (script), 0700, NULL) == 0,
         "write the helper");
  cleanup_free char *path = xasprintf ("%s:%s", bin, getenv ("PATH") ? getenv ("PATH") : "/usr/bin:/bin");
  setenv ("PATH", path, 1);
  write_config ("{\"credsStore\": \"unit\", \"auths\": {}}");
  cleanup_free char *u = NULL, *p = NULL;
  CHECK (registry_auth_get ("h.test", &u, &p, NULL) == 0 && u == NULL, "not found in the helper: no credentials");
  CHECK (registry_auth_store ("h.test", "hu", "hs", NULL) == 0, "store through the helper");
  cleanup_free char *stored = NULL;
  size_t len = 0;
  CHECK (read_file_bounded (kept, 4096, &stored, &len, NULL) == 0, "the helper got the credentials");
  cleanup_json json_t *o = stored ? json_loads (stored, 0, NULL) : NULL;
  CHECK_STR (json_string_value (json_object_get (o, "ServerURL")), "h.test", "store: ServerURL");
  CHECK_STR (json_string_value (json_object_get (o, "Secret")), "hs", "store: Secret");
  cleanup_json json_t *cfg = read_config ();
  json_t *entry = json_object_get (json_object_get (cfg, "auths"), "h.test");
  CHECK (json_is_object (entry) && json_object_size (entry) == 0, "the file names the registry, without a secret");
  CHECK (registry_auth_get ("h.test", &u, &p, NULL) == 0 && u && strcmp (u, "hu") == 0 && p && strcmp (p, "hs") == 0,
         "get through the helper");
  free (u), free (p);
  u = p = NULL;
  bool found = false;
  CHECK (registry_auth_erase ("h.test", &found, NULL) == 0 && found && !path_exists (kept), "erase through the helper");
  write_config ("{\"credHelpers\": {\"h.test\": \"missing\"}, \"credsStore\": \"unit\"}");
  cleanup_error isola_error_t err = NULL;
  CHECK (registry_auth_get ("h.test", &u, &p, &err) == -ENOENT && err && strstr (err->msg, "docker-credential-missing"),
         "credHelpers comes first; a helper that is not there is an error naming it");
  unlink (helper);
  rmdir (bin);
}

static void
test_bad_file (void)
{
  write_config ("{\"auths\": {\"bad.test\": {\"auth\": \"bm9jb2xvbg==\"}}}"); /* "nocolon" */
  cleanup_free char *u = NULL, *p = NULL;
  cleanup_error isola_error_t err = NULL;
  CHECK (registry_auth_get ("bad.test", &u, &p, &err) == -EINVAL && err && strstr (err->msg, "bad.test"),
         "an auth without user:password is refused, naming the key: %s", err ? err->msg : "");
  isola_error_release (&err);
  write_config ("not json");
  CHECK (registry_auth_get ("bad.test", &u, &p, &err) == -EINVAL, "a file that is not JSON is refused");
}

/* X-Registry-Auth: base64url of the JSON, padded or not, the standard alphabet too; empty or undecodable. */
static void
test_header (void)
{
  struct registry_auth_header h;
  cleanup_error isola_error_t err = NULL;
  /* {"username":"u","password":"p?>","serveraddress":"r:5000"}: '?>' makes a '/' or '_' of the encodings */
  const char *std = "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InA/PiIsInNlcnZlcmFkZHJlc3MiOiJyOjUwMDAifQ==";
  const char *url = "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InA_PiIsInNlcnZlcmFkZHJlc3MiOiJyOjUwMDAifQ==";
  const char *bare = "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InA_PiIsInNlcnZlcmFkZHJlc3MiOiJyOjUwMDAifQ";
  const char *const forms[] = { std, url, bare };
  for (size_t i = 0; i < 3; i++)
    {
      CHECK (registry_auth_header_parse (forms[i], &h, &err) == 0, "form %zu decodes", i);
      CHECK_STR (h.username, "u", "form %zu: username", i);
      CHECK_STR (h.password, "p?>", "form %zu: password", i);
      CHECK_STR (h.serveraddress, "r:5000", "form %zu: serveraddress", i);
      CHECK (h.identitytoken == NULL, "form %zu: no identity token", i);
      registry_auth_header_clear (&h);
    }
  CHECK (registry_auth_header_parse ("", &h, &err) == 0 && h.username == NULL, "an empty header is no credentials");
  CHECK (registry_auth_header_parse ("e30=", &h, &err) == 0 && h.username == NULL, "{} is no credentials");
  const char *const bad[] = { "!!!!", "e30===", "e", "bm90IGpzb24=" /* "not json" */, "WzFd" /* [1] */, "e30=e30=" };
  for (size_t i = 0; i < ARRAY_SIZE (bad); i++)
    {
      CHECK (registry_auth_header_parse (bad[i], &h, &err) == -EINVAL && h.username == NULL, "`%s` is refused", bad[i]);
      isola_error_release (&err);
    }
}

static void
test_server_domain (void)
{
  const char *const cases[][2] = {
    { "https://index.docker.io/v1/", "docker.io" },
    { "registry-1.docker.io", "docker.io" },
    { "127.0.0.1:5000", "127.0.0.1:5000" },
    { "https://r.test:443/v2/", "r.test:443" },
    { "http://r.test", "r.test" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *d = registry_server_domain (cases[i][0]);
      CHECK_STR (d, cases[i][1], "%s is %s", cases[i][0], cases[i][1]);
    }
  cleanup_free char *hub = registry_server_domain (NULL);
  CHECK_STR (hub, "docker.io", "no server is Docker Hub");
}

int
main (void)
{
  if (mkdtemp (dir) == NULL)
    return 1;
  setenv ("DOCKER_CONFIG", dir, 1);
  test_file_place ();
  test_store_get_erase ();
  test_identity_token ();
  test_helper ();
  test_bad_file ();
  test_header ();
  test_server_domain ();
  cleanup_free char *path = registry_auth_file ();
  unlink (path);
  rmdir (dir);
  return tap_done ();
}
