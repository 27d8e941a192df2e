/* Times given on the command line as Docker's CLI reads them (`logs --since/--until`, the GetTimestamp of
   docker/api/types/time): a Go duration before now ("10m", "1h30m", "-5s"), an RFC 3339 time or a shorter form of
   it ("2024-01-02", "2024-01-02T15:04", with or without a zone; without one it is local time), or Unix seconds
   with an optional fraction ("1700000000.5"). */
#ifndef ISOLA_TIMESTAMP_H
#define ISOLA_TIMESTAMP_H

#include <stdint.h>

#include "base/error.h"

struct timestamp
{
  int64_t sec;
  int32_t nsec; /* 0 .. 999999999 */
};

/* The time value names, durations counted back from now (whole seconds, as Docker).  EINVAL with Docker's
   message ("failed to parse value as time or duration: \"x\"") for anything else. */
int timestamp_parse (const char *value, int64_t now, struct timestamp *out, isola_error_t *err);

/* A Go duration ("1h2m3.5s", "-10m", "300ms") in nanoseconds; -EINVAL when it is not one (or "0" and such without a
   unit, which Go accepts only as "0"). */
int timestamp_parse_duration (const char *s, int64_t *nanos_out);

/* -1, 0 or 1 as a is before, the same as or after b. */
int timestamp_compare (struct timestamp a, struct timestamp b);

#endif
