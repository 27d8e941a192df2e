/* libFuzzer target for image reference parsing: any input must parse or fail cleanly, and whatever parses must
   print and re-parse to the same reference (the store keys images by these strings). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "image/reference.h"

static void
check_roundtrip (const struct image_ref *r)
{
  cleanup_free char *s = image_ref_string (r);
  cleanup_free char *full = image_ref_full_string (r);
  struct image_ref again = { 0 };
  cleanup_error isola_error_t err = NULL;
  if (image_ref_parse (s, &again, &err) < 0)
    abort ();
  cleanup_free char *s2 = image_ref_string (&again);
  if (strcmp (s, s2) != 0)
    abort ();
  image_ref_clear (&again);
  /* The qualified form names the same repository. */
  if (image_ref_parse (full, &again, &err) < 0)
    abort ();
  cleanup_free char *s3 = image_ref_string (&again);
  if (strcmp (s, s3) != 0)
    abort ();
  image_ref_clear (&again);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_free char *s = strndup ((const char *)data, size);
  if (s == NULL)
    return 0;
  (void)image_ref_looks_like_id (s);

  struct image_ref r = { 0 };
  cleanup_error isola_error_t err = NULL;
  if (image_ref_parse (s, &r, &err) == 0)
    {
      check_roundtrip (&r);
      image_ref_clear (&r);
    }
  isola_error_release (&err);
  if (image_ref_parse_tagged (s, &r, &err) == 0)
    {
      if (r.digest != NULL || r.tag == NULL)
        abort ();
      image_ref_clear (&r);
    }
  return 0;
}
