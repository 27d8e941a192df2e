/* libFuzzer target: Docker's command-line times (`logs --since/--until`, `events --since/--until`), which
   timestamp.c parses by hand.  Any input parses or fails with a message; a parsed time has its nanoseconds in range;
   a Unix time and a duration print and parse back to the same value. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timestamp.h"
#include "base/util.h"

#define NOW INT64_C (1700000000)

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_free char *s = strndup ((const char *)data, size);
  if (s == NULL)
    return 0;

  struct timestamp t = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = timestamp_parse (s, NOW, &t, &err);
  if ((ret < 0) != (err != NULL) || (err != NULL && err->msg == NULL))
    abort ();
  if (ret == 0)
    {
      if (t.nsec < 0 || t.nsec > 999999999)
        abort ();
      if (timestamp_compare (t, t) != 0)
        abort ();
      /* Unix seconds with a fraction name the same time. */
      if (t.sec >= 0)
        {
          char again[64];
          snprintf (again, sizeof again, "%" PRId64 ".%09" PRId32, t.sec, t.nsec);
          struct timestamp u = { 0 };
          cleanup_error isola_error_t err2 = NULL;
          if (timestamp_parse (again, NOW, &u, &err2) != 0 || timestamp_compare (t, u) != 0)
            abort ();
        }
    }

  int64_t nanos = 0;
  if (timestamp_parse_duration (s, &nanos) == 0)
    {
      char again[64];
      snprintf (again, sizeof again, "%" PRId64 "ns", nanos);
      int64_t n2 = -1;
      if (timestamp_parse_duration (again, &n2) != 0 || n2 != nanos)
        abort ();
    }
  return 0;
}
