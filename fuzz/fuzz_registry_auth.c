/* libFuzzer target for the API's X-Registry-Auth header (a client's, untrusted): any input decodes or fails cleanly,
   and what decodes has its fields as strings or NULL. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "image/registry_auth.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_free char *s = strndup ((const char *)data, size);
  if (s == NULL)
    return 0;
  struct registry_auth_header h;
  cleanup_error isola_error_t err = NULL;
  int ret = registry_auth_header_parse (s, &h, &err);
  if (ret < 0 && (err == NULL || h.username || h.password || h.identitytoken || h.serveraddress))
    abort ();
  if (ret == 0)
    {
      const char *fields[] = { h.username, h.password, h.identitytoken, h.serveraddress };
      for (size_t i = 0; i < ARRAY_SIZE (fields); i++)
        if (fields[i] && fields[i][0] == '\0')
          abort (); /* empty fields are NULL */
    }
  registry_auth_header_clear (&h);
  return 0;
}
