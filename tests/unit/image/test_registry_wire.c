/* image/registry_wire.c: header lines, WWW-Authenticate parameters, the token service's answer, JSON error bodies. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "image/registry_auth.h"
#include "image/registry_wire.h"
#include "tap.h"

static void
check_param (const char *params, const char *key, const char *want)
{
  cleanup_free char *v = registry_challenge_param (params, key);
  CHECK (want ? v && strcmp (v, want) == 0 : v == NULL, "%s in %s: %s", key, params, v ? v : "(none)");
}

static void
test_challenge (void)
{
  const char *bearer = "realm=\"https://auth.example/token\",service=\"registry.example\","
                       "scope=\"repository:library/busybox:pull,push\"";
  check_param (bearer, "realm", "https://auth.example/token");
  check_param (bearer, "SERVICE", "registry.example");
  check_param (bearer, "scope", "repository:library/busybox:pull,push");
  check_param (bearer, "error", NULL);
  check_param ("realm=http://127.0.0.1:5000/token, service=reg", "service", "reg");
  check_param ("realm=http://127.0.0.1:5000/token, service=reg", "realm", "http://127.0.0.1:5000/token");
  check_param ("realm=\"unterminated", "realm", NULL);
  check_param ("noequals", "realm", NULL);
  check_param ("", "realm", NULL);
}

static void
test_header (void)
{
  const char line[] = "www-authenticate:  Bearer realm=\"x\" \r\n";
  cleanup_free char *v = registry_header_value (line, strlen (line), "WWW-Authenticate");
  CHECK_STR (v, "Bearer realm=\"x\"", "a header's value, trimmed, its name in any case");
  cleanup_free char *none = registry_header_value (line, strlen (line), "WWW-Authenticat");
  CHECK (none == NULL, "a longer header name is another header");
  cleanup_free char *cut = registry_header_value ("Location:", 9, "Location");
  CHECK_STR (cut, "", "an empty value");
}

static void
test_bodies (void)
{
  const char *both = "{\"token\":\"t1\",\"access_token\":\"t2\"}";
  cleanup_free char *t1 = registry_token_of (both, strlen (both));
  CHECK_STR (t1, "t1", "token before access_token");
  const char *access = "{\"token\":\"\",\"access_token\":\"t2\"}";
  cleanup_free char *t2 = registry_token_of (access, strlen (access));
  CHECK_STR (t2, "t2", "access_token when token is empty");
  const char *split = "{\"token\":\"a\\r\\nX-Injected: 1\"}";
  cleanup_free char *t3 = registry_token_of (split, strlen (split));
  CHECK (t3 == NULL, "a token with a line break never goes into a header");
  cleanup_free char *t4 = registry_token_of (NULL, 0);
  CHECK (t4 == NULL, "no body, no token");

  const char *e = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}";
  cleanup_free char *text = registry_error_text_of (e, strlen (e));
  CHECK_STR (text, "manifest unknown: manifest unknown", "Docker's error text");
  const char *code = "{\"errors\":[{\"code\":\"DENIED\"}]}";
  cleanup_free char *only = registry_error_text_of (code, strlen (code));
  CHECK_STR (only, "denied", "a code alone");
  cleanup_free char *html = registry_error_text_of ("<html>", 6);
  CHECK (html == NULL, "not a JSON error body");
}

static void
test_auth_decode (void)
{
  char *user = NULL, *password = NULL;
  CHECK (registry_auth_decode ("dXNlcjpwYXNzOndvcmQ=", &user, &password) == 0 && strcmp (user, "user") == 0
             && strcmp (password, "pass:word") == 0,
         "user:pass:word");
  free (user), free (password);
  user = password = NULL;
  CHECK (registry_auth_decode ("bm9jb2xvbg==", &user, &password) < 0 && user == NULL, "no colon refused");
  CHECK (registry_auth_decode ("not base64!", &user, &password) < 0 && user == NULL, "not base64 refused");
}

int
main (void)
{
  test_challenge ();
  test_header ();
  test_bodies ();
  test_auth_decode ();
  return tap_done ();
}
