/* libFuzzer target: the attach protocol decoder, which reads frames from peers that may be hostile (a monitor reads
   clients; later, the host reads a VM guest). */
#include <stdint.h>
#include <stdlib.h>

#include "proto/attach.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct attach_decoder d;
  attach_decoder_init (&d);
  /* Feed in uneven pieces, as a socket delivers them. */
  size_t off = 0, step = 1;
  while (off < size)
    {
      size_t n = size - off < step ? size - off : step;
      attach_decoder_feed (&d, data + off, n);
      off += n;
      step = step * 3 % 17 + 1;
      struct attach_frame f;
      int r;
      while ((r = attach_decoder_next (&d, &f)) == 1)
        if (f.len > ATTACH_PAYLOAD_MAX || f.type == 0 || f.type >= ATTACH_TYPE_MAX)
          abort ();
      if (r < 0)
        break;
    }
  attach_decoder_clear (&d);
  return 0;
}
