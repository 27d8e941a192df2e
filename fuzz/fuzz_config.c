/* libFuzzer target for image configs: parse, check the invariants callers rely on, clear. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "base/util.h"
#include "image/oci.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct oci_config c = { 0 };
  cleanup_error isola_error_t err = NULL;
  if (oci_config_parse ((const char *)data, size, &c, &err) < 0)
    {
      if (err == NULL || c.json != NULL)
        abort ();
      return 0;
    }
  if (c.json == NULL || c.architecture == NULL || c.os == NULL || c.n_diff_ids > OCI_MAX_LAYERS)
    abort ();
  for (size_t i = 0; i < c.n_diff_ids; i++)
    if (!digest_hex_valid (c.diff_ids[i]))
      abort ();
  oci_config_clear (&c);
  return 0;
}
