#define _GNU_SOURCE
#include "base/jbytes.h"

#include <string.h>

#include "base/util.h"

/* The length of the valid UTF-8 sequence at s (Go's rules: shortest form, no surrogates, at most U+10FFFF), or 0. */
static size_t
utf8_sequence (const unsigned char *s)
{
  if (s[0] < 0x80)
    return 1;
  size_t n;
  unsigned int cp;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2, cp = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3, cp = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4, cp = s[0] & 0x07;
  else
    return 0;
  for (size_t i = 1; i < n; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i] & 0x3f);
    }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

bool
utf8_valid (const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p;)
    {
      size_t n = utf8_sequence (p);
      if (n == 0)
        return false;
      p += n;
    }
  return true;
}

json_t *
jbytes_shown (const char *s)
{
  if (utf8_valid (s))
    return json_string (s);
  char *out = xmalloc (3 * strlen (s) + 1), *o = out;
  for (const unsigned char *p = (const unsigned char *)s; *p;)
    {
      size_t n = utf8_sequence (p);
      if (n == 0)
        {
          memcpy (o, "\xef\xbf\xbd", 3); /* U+FFFD, one for each byte as Go writes them */
          o += 3, p++;
          continue;
        }
      memcpy (o, p, n);
      o += n, p += n;
    }
  *o = '\0';
  json_t *j = json_string (out);
  free (out);
  return j;
}

json_t *
jbytes_exact (const char *s)
{
  if (utf8_valid (s))
    return json_string (s);
  static const char hex[] = "0123456789abcdef";
  size_t len = strlen (s);
  char *h = xmalloc (2 * len + 1);
  for (size_t i = 0; i < len; i++)
    {
      h[2 * i] = hex[(unsigned char)s[i] >> 4];
      h[2 * i + 1] = hex[(unsigned char)s[i] & 15];
    }
  h[2 * len] = '\0';
  json_t *j = json_pack ("{s:s}", "Hex", h);
  free (h);
  return j;
}

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

char *
jbytes_value (json_t *j)
{
  if (json_is_string (j))
    return xstrdup (json_string_value (j));
  const char *h = json_string_value (json_object_get (j, "Hex"));
  if (!json_is_object (j) || json_object_size (j) != 1 || h == NULL || strlen (h) % 2 != 0)
    return NULL;
  size_t len = strlen (h) / 2;
  char *out = xmalloc (len + 1);
  for (size_t i = 0; i < len; i++)
    {
      int hi = hex_digit (h[2 * i]), lo = hex_digit (h[2 * i + 1]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        {
          free (out);
          return NULL;
        }
      out[i] = (char)(hi << 4 | lo);
    }
  out[len] = '\0';
  return out;
}

json_t *
jbytes_shown_array (char *const *v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, jbytes_shown (v[i]));
  return a;
}

json_t *
jbytes_exact_array (char *const *v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, jbytes_exact (v[i]));
  return a;
}

char **
jbytes_strv (json_t *array)
{
  char **v = xcalloc (1, sizeof (char *));
  size_t i;
  json_t *x;
  json_array_foreach (array, i, x)
  {
    cleanup_free char *s = jbytes_value (x);
    if (s)
      strv_push (&v, s);
  }
  return v;
}

bool
strv_utf8_valid (char *const *v)
{
  for (size_t i = 0; v && v[i]; i++)
    if (!utf8_valid (v[i]))
      return false;
  return true;
}
