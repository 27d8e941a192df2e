/* Docker's detach keys: the --detach-keys / detachKeys syntax ("ctrl-p,ctrl-q", "ctrl-a,x", "ctrl-@", "DEL":
   moby/term's ToBytes) and its escape proxy over what a client types: the keys, typed in a row, detach and are not
   passed on; a partial sequence is passed on as soon as the next key does not continue it.  The CLI's attach (with a
   terminal) and the Engine API's attach and exec start (isola serve) filter stdin through it. */
#ifndef ISOLA_DETACH_KEYS_H
#define ISOLA_DETACH_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DETACH_KEYS_DEFAULT "ctrl-p,ctrl-q"
#define DETACH_KEYS_MAX     16

struct detach_keys
{
  uint8_t keys[DETACH_KEYS_MAX];
  size_t n;       /* 0: nothing detaches */
  size_t matched; /* how many of the keys the last bytes of the input were */
};

/* -EINVAL for a spec that is not Docker's syntax. */
int detach_keys_parse (const char *spec, struct detach_keys *out);

/* Passes n bytes of input through: out (room for n + DETACH_KEYS_MAX bytes) gets what goes on.  True when the keys
   were typed: out has what came before them, and the rest of in is dropped.  n 0 (the input ended) flushes a
   partial sequence. */
bool detach_keys_filter (struct detach_keys *k, const uint8_t *in, size_t n, uint8_t *out, size_t *out_len);

#endif
