/* libFuzzer target for what a registry (or whoever answers in its place) sends the client besides manifests and
   blobs: a header line, a WWW-Authenticate challenge's parameters, the token service's JSON, a JSON error body; and
   an "auth" value of config.json.  The same bytes go to each parser. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "image/registry_auth.h"
#include "image/registry_wire.h"

static void
fuzz_header (const char *data, size_t size)
{
  static const char *const names[] = { "WWW-Authenticate", "Content-Type", "Content-Range", "Location" };
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    {
      cleanup_free char *v = registry_header_value (data, size, names[i]);
      if (v && (strlen (v) >= size || v[0] == ' ' || v[0] == '\t'))
        abort ();
    }
}

static void
fuzz_challenge (const char *s)
{
  static const char *const keys[] = { "realm", "service", "scope", "error" };
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    {
      cleanup_free char *v = registry_challenge_param (s, keys[i]);
      if (v && strlen (v) >= strlen (s))
        abort ();
    }
}

static void
fuzz_bodies (const char *data, size_t size)
{
  cleanup_free char *token = registry_token_of (data, size);
  if (token && (token[0] == '\0' || strpbrk (token, "\r\n")))
    abort ();
  cleanup_free char *text = registry_error_text_of (data, size);
  if (text && strlen (text) > size)
    abort ();
}

static void
fuzz_auth (const char *s)
{
  char *user = NULL, *password = NULL;
  if (registry_auth_decode (s, &user, &password) == 0)
    {
      if (user == NULL || password == NULL || strchr (user, ':') || strlen (user) + strlen (password) >= strlen (s))
        abort ();
      free (user);
      free (password);
    }
  else if (user || password)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_free char *s = strndup ((const char *)data, size);
  if (s == NULL)
    return 0;
  fuzz_header ((const char *)data, size);
  fuzz_challenge (s);
  fuzz_bodies ((const char *)data, size);
  fuzz_auth (s);
  return 0;
}
