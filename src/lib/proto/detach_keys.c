/* Docker's detach keys (see detach_keys.h). */
#define _GNU_SOURCE
#include "proto/detach_keys.h"

#include <errno.h>
#include <string.h>

/* A single character stands for itself, "ctrl-@" .. "ctrl-_" for 0 .. 31, "DEL" for 127. */
static int
detach_key (const char *name, size_t len)
{
  static const char ctrl[] = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
  if (len == 1)
    return (unsigned char)name[0];
  if (len == 6 && strncmp (name, "ctrl-", 5) == 0 && name[5] != '\0' && strchr (ctrl, name[5]))
    return (int)(strchr (ctrl, name[5]) - ctrl);
  if (len == 3 && strncmp (name, "DEL", 3) == 0)
    return 127;
  return -1;
}

int
detach_keys_parse (const char *spec, struct detach_keys *out)
{
  struct detach_keys k = { 0 };
  for (const char *p = spec;; p++)
    {
      size_t len = strcspn (p, ",");
      int key = detach_key (p, len);
      if (key < 0 || k.n == DETACH_KEYS_MAX)
        return -EINVAL;
      k.keys[k.n++] = (uint8_t)key;
      p += len;
      if (*p == '\0')
        break;
    }
  *out = k;
  return 0;
}

bool
detach_keys_filter (struct detach_keys *k, const uint8_t *in, size_t n, uint8_t *out, size_t *out_len)
{
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (k->n > 0 && in[i] == k->keys[k->matched])
        {
          if (++k->matched == k->n)
            {
              k->matched = 0;
              *out_len = m;
              return true;
            }
          continue;
        }
      if (k->matched)
        {
          memcpy (out + m, k->keys, k->matched);
          m += k->matched;
          k->matched = 0;
        }
      out[m++] = in[i];
    }
  if (n == 0 && k->matched)
    {
      memcpy (out, k->keys, k->matched);
      m = k->matched;
      k->matched = 0;
    }
  *out_len = m;
  return false;
}
