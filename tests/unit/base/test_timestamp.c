/* Docker's command-line times (base/timestamp.h): durations, RFC 3339 and its short forms, Unix seconds. */
#include <stdlib.h>
#include <string.h>

#include "base/timestamp.h"
#include "base/util.h"
#include "tap.h"

#define NOW 1700000000

static void
check (const char *value, int64_t sec, int32_t nsec)
{
  struct timestamp t = { -1, -1 };
  cleanup_error isola_error_t err = NULL;
  int ret = timestamp_parse (value, NOW, &t, &err);
  CHECK (ret == 0 && t.sec == sec && t.nsec == nsec, "%s is %lld.%09d (got %d: %lld.%09d %s)", value, (long long)sec,
         nsec, ret, (long long)t.sec, t.nsec, err ? err->msg : "");
}

static void
check_bad (const char *value, const char *msg)
{
  struct timestamp t;
  cleanup_error isola_error_t err = NULL;
  int ret = timestamp_parse (value, NOW, &t, &err);
  CHECK (ret < 0 && err && strstr (err->msg, msg), "%s is refused: %s (got %s)", value, msg, err ? err->msg : "none");
}

int
main (void)
{
  setenv ("TZ", "UTC", 1);
  check ("10m", NOW - 600, 0);
  check ("1h30m", NOW - 5400, 0);
  check ("1.5h", NOW - 5400, 0);
  check ("-10s", NOW + 10, 0);
  check ("300ms", NOW - 1, 0);
  check ("0", 0, 0);
  check ("1700000000", 1700000000, 0);
  check ("1700000000.5", 1700000000, 500000000);
  check ("1700000000.000000001", 1700000000, 1);
  check ("2023-11-14T22:13:20Z", 1700000000, 0);
  check ("2023-11-14T22:13:20.123456789Z", 1700000000, 123456789);
  check ("2023-11-14T23:13:20+01:00", 1700000000, 0);
  check ("2023-11-14T22:13:20", 1700000000, 0); /* local time: TZ is UTC here */
  check ("2023-11-14T22:13", 1700000000 - 20, 0);
  check ("2023-11-14T22", 1700000000 - 13 * 60 - 20, 0);
  check ("2023-11-14", 1699920000, 0);
  check_bad ("yesterday", "failed to parse value as time or duration: \"yesterday\"");
  check_bad ("10x", "failed to parse value as time or duration");
  check_bad ("1700000000.", "failed to parse value as time or duration");
  check_bad ("2023-13-01", "parsing time");
  check_bad ("2023-11-14T25:00:00Z", "parsing time");

  int64_t d;
  CHECK (timestamp_parse_duration ("1h2m3.5s", &d) == 0 && d == 3723500000000LL, "1h2m3.5s");
  CHECK (timestamp_parse_duration ("5", &d) < 0, "a number without a unit is not a duration");
  CHECK (timestamp_parse_duration ("", &d) < 0, "nor is nothing");

  struct timestamp a = { 5, 1 }, b = { 5, 2 }, c = { 6, 0 };
  CHECK (timestamp_compare (a, b) < 0 && timestamp_compare (c, b) > 0 && timestamp_compare (a, a) == 0, "compare");
  return tap_done ();
}
