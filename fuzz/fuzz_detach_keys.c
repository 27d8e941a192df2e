/* libFuzzer target: Docker's detach keys (proto/detach_keys.h), whose spec comes from the API's query string and
   whose input is a client's keystrokes.  The input is a spec, a NUL, then keystrokes fed in chunks whose sizes the
   following bytes choose.  Checks that what passes plus what the keys held back is the input, byte for byte, until
   the keys are typed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/detach_keys.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nul = memchr (data, 0, size);
  if (nul == NULL)
    return 0;
  struct detach_keys k;
  if (detach_keys_parse ((const char *)data, &k) < 0)
    return 0;
  if (k.n == 0 || k.n > DETACH_KEYS_MAX)
    abort ();
  const uint8_t *in = nul + 1;
  size_t left = size - (size_t)(in - data), passed = 0;
  uint8_t *seen = malloc (left + DETACH_KEYS_MAX + 1), out[64 + DETACH_KEYS_MAX];
  size_t consumed = 0;
  while (left > 0)
    {
      size_t chunk = 1 + in[0] % 64;
      if (chunk > left)
        chunk = left;
      size_t m = 0;
      bool detached = detach_keys_filter (&k, in, chunk, out, &m);
      if (m > chunk + DETACH_KEYS_MAX)
        abort ();
      memcpy (seen + passed, out, m);
      passed += m;
      consumed += chunk;
      if (detached)
        {
          free (seen);
          return 0;
        }
      in += chunk, left -= chunk;
    }
  size_t m = 0;
  if (detach_keys_filter (&k, NULL, 0, out, &m) || k.matched != 0)
    abort ();
  memcpy (seen + passed, out, m);
  passed += m;
  /* Without a detach, everything comes out, in order. */
  if (passed != consumed || memcmp (seen, nul + 1, passed) != 0)
    abort ();
  free (seen);
  return 0;
}
