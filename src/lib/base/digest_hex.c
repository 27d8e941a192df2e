/* Digest strings without hashing: kept apart from digest.c so that code which only names blobs (the monitor) does not
   link libcrypto. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/digest.h"
#include "base/util.h"

static bool
short_id_all_digits (const char *hex)
{
  for (size_t i = 0; i < 12; i++)
    if (hex[i] > '9')
      return false;
  return true;
}

void
random_id_hex (digest_hex_t out)
{
  static const char digits[] = "0123456789abcdef";
  do
    {
      unsigned char raw[DIGEST_HEX_LEN / 2];
      if (getrandom (raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        abort ();
      for (size_t i = 0; i < sizeof raw; i++)
        {
          out[2 * i] = digits[raw[i] >> 4];
          out[2 * i + 1] = digits[raw[i] & 15];
        }
      out[DIGEST_HEX_LEN] = '\0';
    }
  while (short_id_all_digits (out));
}

bool
digest_hex_valid (const char *hex)
{
  if (hex == NULL || strlen (hex) != DIGEST_HEX_LEN)
    return false;
  for (const char *p = hex; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

int
digest_parse (const char *s, digest_hex_t out, isola_error_t *err)
{
  if (s == NULL)
    return isola_error_fail (err, EINVAL, "missing digest");
  if (!str_has_prefix (s, "sha256:"))
    {
      const char *colon = strchr (s, ':');
      if (colon && colon != s)
        return isola_error_fail (err, ENOTSUP, "unsupported digest algorithm in `%.80s`: only sha256 is supported", s);
      return isola_error_fail (err, EINVAL, "invalid digest `%.80s`", s);
    }
  if (!digest_hex_valid (s + 7))
    return isola_error_fail (err, EINVAL, "invalid digest `%.80s`", s);
  memcpy (out, s + 7, DIGEST_HEX_LEN + 1);
  return 0;
}
