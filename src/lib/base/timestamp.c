/* Docker's command-line times (timestamp.h). */
#define _GNU_SOURCE
#include "base/timestamp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NANOS 1000000000LL

static bool
digit (char c)
{
  return c >= '0' && c <= '9';
}

/* n digits at *p as a number (advancing *p), or -1 when they are not all there. */
static int
fixed_digits (const char **p, int n)
{
  int v = 0;
  for (int i = 0; i < n; i++)
    {
      if (!digit ((*p)[i]))
        return -1;
      v = v * 10 + ((*p)[i] - '0');
    }
  *p += n;
  return v;
}

/* ".ddd" at *p as nanoseconds (digits beyond the ninth ignored); 0 when there is no fraction. */
static int32_t
fraction (const char **p)
{
  int32_t n = 0;
  int k = 0;
  if (**p != '.')
    return 0;
  for ((*p)++; digit (**p); (*p)++)
    if (k++ < 9)
      n = n * 10 + (**p - '0');
  for (; k < 9; k++)
    n *= 10;
  return n;
}

static const struct
{
  const char *name;
  int64_t nanos;
} duration_units[] = {
  { "ns", 1 },       { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 },
  { "ms", 1000000 }, { "s", NANOS }, { "m", 60 * NANOS },   { "h", 3600 * NANOS },
};

int
timestamp_parse_duration (const char *s, int64_t *nanos_out)
{
  if (strcmp (s, "0") == 0)
    {
      *nanos_out = 0;
      return 0;
    }
  int sign = 1;
  if (*s == '-' || *s == '+')
    sign = *s++ == '-' ? -1 : 1;
  if (*s == '\0')
    return -EINVAL;
  long double total = 0;
  while (*s)
    {
      const char *start = s;
      long double v = 0, scale = 1;
      while (digit (*s))
        v = v * 10 + (*s++ - '0');
      bool whole = s > start;
      bool frac = false;
      if (*s == '.')
        for (s++; digit (*s); s++, frac = true)
          v += (*s - '0') * (scale /= 10);
      if (!whole && !frac)
        return -EINVAL;
      size_t ulen = 0;
      while (s[ulen] && s[ulen] != '.' && !digit (s[ulen]))
        ulen++;
      int64_t unit = 0;
      for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++)
        if (strlen (duration_units[i].name) == ulen && strncmp (s, duration_units[i].name, ulen) == 0)
          unit = duration_units[i].nanos;
      if (unit == 0)
        return -EINVAL;
      total += v * unit;
      s += ulen;
      if (total > (long double)INT64_MAX)
        return -EINVAL;
    }
  *nanos_out = sign * (int64_t)total;
  return 0;
}

/* YYYY-MM-DD[THH[:MM[:SS[.F]]]][Z|±HH:MM]: the layouts GetTimestamp tries, by what the value contains. */
static int
parse_time (const char *s, struct timestamp *out)
{
  const char *p = s;
  struct tm tm = { .tm_isdst = -1 };
  int y = fixed_digits (&p, 4), mo = -1, d = -1;
  if (y >= 0 && *p++ == '-' && (mo = fixed_digits (&p, 2)) >= 0 && *p++ == '-')
    d = fixed_digits (&p, 2);
  if (d < 1 || mo < 1 || mo > 12 || d > 31)
    return -EINVAL;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  int32_t nsec = 0;
  if (*p == 'T')
    {
      p++;
      if ((tm.tm_hour = fixed_digits (&p, 2)) < 0 || tm.tm_hour > 23)
        return -EINVAL;
      if (*p == ':' && (p++, (tm.tm_min = fixed_digits (&p, 2)) < 0 || tm.tm_min > 59))
        return -EINVAL;
      if (*p == ':' && (p++, (tm.tm_sec = fixed_digits (&p, 2)) < 0 || tm.tm_sec > 59))
        return -EINVAL;
      nsec = fraction (&p);
    }
  bool local = true;
  int64_t offset = 0;
  if (*p == 'Z')
    local = false, p++;
  else if (*p == '+' || *p == '-')
    {
      int sign = *p++ == '-' ? -1 : 1, hh = fixed_digits (&p, 2), mm = -1;
      if (hh >= 0 && *p++ == ':')
        mm = fixed_digits (&p, 2);
      if (mm < 0 || hh > 23 || mm > 59)
        return -EINVAL;
      local = false;
      offset = sign * (hh * 3600 + mm * 60);
    }
  if (*p != '\0')
    return -EINVAL;
  out->sec = local ? (int64_t)mktime (&tm) : (int64_t)timegm (&tm) - offset;
  out->nsec = nsec;
  return 0;
}

/* Unix seconds with an optional fraction: what the docker CLI passes on as it is. */
static int
parse_unix (const char *s, struct timestamp *out)
{
  char *end;
  errno = 0;
  long long sec = strtoll (s, &end, 10);
  if (end == s || errno || (*end != '\0' && *end != '.'))
    return -EINVAL;
  const char *p = end;
  if (*p == '.' && !digit (p[1]))
    return -EINVAL;
  int32_t nsec = fraction (&p);
  if (*p != '\0')
    return -EINVAL;
  out->sec = sec;
  out->nsec = nsec;
  return 0;
}

int
timestamp_parse (const char *value, int64_t now, struct timestamp *out, isola_error_t *err)
{
  int64_t nanos;
  if (strcmp (value, "0") != 0 && timestamp_parse_duration (value, &nanos) == 0)
    {
      /* Go's reference.Add(-d).Unix(): whole seconds, rounded down. */
      int64_t back_sec = nanos / NANOS, back_nsec = nanos % NANOS;
      out->sec = now - back_sec - (back_nsec > 0 ? 1 : 0);
      out->nsec = 0;
      return 0;
    }
  if (parse_time (value, out) == 0)
    return 0;
  if (strchr (value, '-'))
    return isola_error_fail (err, EINVAL, "parsing time \"%s\": not a time of the form 2006-01-02T15:04:05Z07:00",
                             value);
  if (parse_unix (value, out) == 0)
    return 0;
  return isola_error_fail (err, EINVAL, "failed to parse value as time or duration: \"%s\"", value);
}

int
timestamp_compare (struct timestamp a, struct timestamp b)
{
  if (a.sec != b.sec)
    return a.sec < b.sec ? -1 : 1;
  if (a.nsec != b.nsec)
    return a.nsec < b.nsec ? -1 : 1;
  return 0;
}
