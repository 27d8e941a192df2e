/* libFuzzer target: what QEMU says on QMP while a VM template is saved (qmp.c), line by line.  QEMU runs only
   isola's own guest then, but its replies are still parsed, never assumed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/qmp.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *p = (const char *)data, *end = p + size;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', (size_t)(end - p));
      size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
      json_t *ret = NULL;
      char *desc = NULL;
      int kind = qmp_classify (p, len, &ret, &desc);
      if ((kind == QMP_REPLY) != (ret != NULL) || (kind == QMP_ERROR) != (desc != NULL))
        abort ();
      json_decref (ret);
      free (desc);
      p += len + 1;
    }
  return 0;
}
