/* Docker's detach keys (proto/detach_keys.h): the syntax moby/term's ToBytes reads, and the escape proxy: keys
   that detach are held back, a partial sequence goes on when the next key breaks it or the input ends. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "../tap.h"
#include "proto/detach_keys.h"

static void
test_parse (void)
{
  struct detach_keys k;
  CHECK (detach_keys_parse ("ctrl-p,ctrl-q", &k) == 0 && k.n == 2 && k.keys[0] == 16 && k.keys[1] == 17,
         "ctrl-p,ctrl-q is 16 17");
  CHECK (detach_keys_parse ("ctrl-a,x", &k) == 0 && k.n == 2 && k.keys[0] == 1 && k.keys[1] == 'x',
         "a single character is itself");
  CHECK (detach_keys_parse ("ctrl-@,ctrl-_,DEL", &k) == 0 && k.n == 3 && k.keys[0] == 0 && k.keys[1] == 31
             && k.keys[2] == 127,
         "ctrl-@, ctrl-_ and DEL");
  CHECK (detach_keys_parse ("ctrl-", &k) == -EINVAL, "ctrl- alone is refused");
  CHECK (detach_keys_parse ("ab", &k) == -EINVAL, "two characters are not a key");
  CHECK (detach_keys_parse ("", &k) == -EINVAL, "an empty spec is refused");
  CHECK (detach_keys_parse ("x,", &k) == -EINVAL, "an empty key is refused");
  CHECK (detach_keys_parse ("a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a", &k) == -EINVAL, "at most 16 keys");
}

static void
test_filter (void)
{
  struct detach_keys k;
  uint8_t out[64];
  size_t m;
  (void)detach_keys_parse ("ctrl-p,ctrl-q", &k);
  CHECK (!detach_keys_filter (&k, (const uint8_t *)"abc", 3, out, &m) && m == 3 && memcmp (out, "abc", 3) == 0,
         "plain input passes");
  CHECK (detach_keys_filter (&k, (const uint8_t *)"ab\x10\x11zz", 6, out, &m) && m == 2 && memcmp (out, "ab", 2) == 0,
         "the keys detach; what came before them passes, what follows is dropped");
  CHECK (!detach_keys_filter (&k, (const uint8_t *)"x\x10", 2, out, &m) && m == 1 && k.matched == 1,
         "the start of the sequence is held back");
  CHECK (detach_keys_filter (&k, (const uint8_t *)"\x11", 1, out, &m) && m == 0,
         "a sequence split across reads detaches");
  CHECK (!detach_keys_filter (&k, (const uint8_t *)"\x10y", 2, out, &m) && m == 2 && memcmp (out, "\x10y", 2) == 0,
         "a broken sequence passes on with the key that broke it");
  CHECK (!detach_keys_filter (&k, (const uint8_t *)"\x10", 1, out, &m) && m == 0, "held at the end of a read");
  CHECK (!detach_keys_filter (&k, NULL, 0, out, &m) && m == 1 && out[0] == 0x10 && k.matched == 0,
         "the end of the input flushes a partial sequence");
  struct detach_keys none = { 0 };
  CHECK (!detach_keys_filter (&none, (const uint8_t *)"\x10\x11", 2, out, &m) && m == 2,
         "without keys nothing detaches");
}

int
main (void)
{
  test_parse ();
  test_filter ();
  return tap_done ();
}
