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

int
main (void)
{
  if (mkdtemp (dir) == NULL)
    return 1;
  setenv ("DOCKER_CONFIG", dir, 1);
  test_file_place ();
  test_store_get_erase ();
  test_bad_file ();
  cleanup_free char *path = registry_auth_file ();
  unlink (path);
  rmdir (dir);
  return tap_done ();
}
