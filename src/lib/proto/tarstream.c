#define _GNU_SOURCE
#include "proto/tarstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512

void
tar_reader_init (struct tar_reader *r, tar_read_fn read, void *ctx)
{
  *r = (struct tar_reader){ .read = read, .ctx = ctx };
}

static int
read_full (struct tar_reader *r, void *buf, size_t len)
{
  size_t got = 0;
  while (got < len)
    {
      ssize_t n = r->read (r->ctx, (char *)buf + got, len - got);
      if (n < 0)
        return (int)n;
      if (n == 0)
        return got == 0 ? 0 : -EIO;
      got += (size_t)n;
    }
  return 1;
}

static int
skip (struct tar_reader *r, int64_t n)
{
  char buf[BLOCK];
  while (n > 0)
    {
      size_t k = n > (int64_t)sizeof buf ? sizeof buf : (size_t)n;
      int ret = read_full (r, buf, k);
      if (ret <= 0)
        return ret < 0 ? ret : -EIO;
      n -= (int64_t)k;
    }
  return 0;
}

/* An octal field: digits after optional spaces, ended by NUL or space; base-256 (GNU) for large values. */
static int
parse_number (const char *f, size_t len, int64_t max, int64_t *out)
{
  if (len > 0 && ((unsigned char)f[0] & 0x80))
    {
      int64_t v = 0;
      if ((unsigned char)f[0] != 0x80)
        return -EINVAL; /* negative */
      for (size_t i = 1; i < len; i++)
        {
          if (v > (max >> 8))
            return -EINVAL;
          v = (v << 8) | (unsigned char)f[i];
        }
      *out = v;
      return 0;
    }
  size_t i = 0;
  while (i < len && f[i] == ' ')
    i++;
  int64_t v = 0;
  bool any = false;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++)
    {
      if (v > (max >> 3))
        return -EINVAL;
      v = v * 8 + (f[i] - '0');
      any = true;
    }
  if (i < len && f[i] != '\0' && f[i] != ' ')
    return -EINVAL;
  if (!any)
    v = 0;
  *out = v;
  return 0;
}

static bool
checksum_ok (const unsigned char *b)
{
  int64_t want;
  if (parse_number ((const char *)b + 148, 8, 1 << 24, &want) < 0)
    return false;
  int64_t sum = 0;
  for (int i = 0; i < BLOCK; i++)
    sum += (i >= 148 && i < 156) ? ' ' : b[i];
  return sum == want;
}

bool
tar_path_clean (char *path)
{
  if (path[0] == '/')
    return false;
  char *out = path;
  const char *p = path;
  while (*p)
    {
      const char *end = strchr (p, '/');
      size_t n = end ? (size_t)(end - p) : strlen (p);
      if (n == 2 && p[0] == '.' && p[1] == '.')
        return false;
      if (n > 0 && !(n == 1 && p[0] == '.'))
        {
          if (out != path)
            *out++ = '/';
          memmove (out, p, n);
          out += n;
        }
      p += n;
      if (*p == '/')
        p++;
    }
  if (out == path)
    *out++ = '.';
  *out = '\0';
  return true;
}

static void
copy_field (char *dst, size_t cap, const char *src, size_t len)
{
  size_t n = strnlen (src, len);
  if (n >= cap)
    n = cap - 1;
  memcpy (dst, src, n);
  dst[n] = '\0';
}

/* pax records: "LEN KEY=VALUE\n", LEN counting the whole record. */
struct pax
{
  bool path, linkpath, size, uid, gid, mtime;
};

static int
apply_pax (char *buf, size_t len, struct tar_entry_header *h, struct pax *seen)
{
  size_t off = 0;
  while (off < len)
    {
      int64_t rec = 0;
      size_t i = off;
      while (i < len && buf[i] >= '0' && buf[i] <= '9' && rec < (int64_t)len)
        rec = rec * 10 + (buf[i++] - '0');
      if (i >= len || buf[i] != ' ' || rec <= (int64_t)(i - off + 1) || off + (size_t)rec > len
          || buf[off + (size_t)rec - 1] != '\n')
        return -EINVAL;
      char *key = buf + i + 1, *end = buf + off + (size_t)rec - 1;
      char *eq = memchr (key, '=', (size_t)(end - key));
      if (eq == NULL)
        return -EINVAL;
      *eq = '\0';
      *end = '\0';
      const char *value = eq + 1;
      size_t vlen = (size_t)(end - value);
      int64_t v;
      if (strcmp (key, "path") == 0 || strcmp (key, "linkpath") == 0)
        {
          if (vlen >= TARSTREAM_NAME_MAX || memchr (value, '\0', vlen))
            return -EINVAL;
          bool path = key[0] == 'p';
          memcpy (path ? h->path : h->linkpath, value, vlen + 1);
          *(path ? &seen->path : &seen->linkpath) = true;
        }
      else if (strcmp (key, "size") == 0 || strcmp (key, "uid") == 0 || strcmp (key, "gid") == 0
               || strcmp (key, "mtime") == 0)
        {
          char *e;
          errno = 0;
          v = strtoll (value, &e, 10);
          if (errno || e == value || (*e != '\0' && *e != '.') || v < 0)
            return -EINVAL;
          if (key[0] == 's')
            {
              if (v > TARSTREAM_SIZE_MAX)
                return -EINVAL;
              h->size = v, seen->size = true;
            }
          else if (key[0] == 'm')
            h->mtime = v, seen->mtime = true;
          else if (v > UINT32_MAX)
            return -EINVAL;
          else if (key[0] == 'u')
            h->uid = (uint32_t)v, seen->uid = true;
          else
            h->gid = (uint32_t)v, seen->gid = true;
        }
      off += (size_t)rec;
    }
  return 0;
}

/* Reads an extension's body (pax records or a GNU long name) into a NUL-terminated buffer. */
static int
read_body (struct tar_reader *r, int64_t size, char **out)
{
  if (size < 0 || size > TARSTREAM_PAX_MAX)
    return -EINVAL;
  char *buf = calloc (1, (size_t)size + 1);
  if (buf == NULL)
    return -ENOMEM;
  int ret = size ? read_full (r, buf, (size_t)size) : 1;
  if (ret == 1)
    ret = skip (r, (BLOCK - size % BLOCK) % BLOCK);
  else if (ret == 0)
    ret = -EIO;
  if (ret < 0)
    {
      free (buf);
      return ret;
    }
  *out = buf;
  return 0;
}

static int
fail (isola_error_t *err, int e, const char *what)
{
  return isola_error_fail (err, e, "malformed tar stream: %s", what);
}

static int
parse_header (const unsigned char *b, struct tar_entry_header *h, const struct pax *seen, isola_error_t *err)
{
  int64_t mode, uid, gid, size, mtime, major, minor;
  if (parse_number ((const char *)b + 100, 8, 07777777, &mode) < 0
      || parse_number ((const char *)b + 108, 8, UINT32_MAX, &uid) < 0
      || parse_number ((const char *)b + 116, 8, UINT32_MAX, &gid) < 0
      || parse_number ((const char *)b + 124, 12, TARSTREAM_SIZE_MAX, &size) < 0
      || parse_number ((const char *)b + 136, 12, INT64_MAX, &mtime) < 0
      || parse_number ((const char *)b + 329, 8, UINT32_MAX, &major) < 0
      || parse_number ((const char *)b + 337, 8, UINT32_MAX, &minor) < 0)
    return fail (err, EINVAL, "a bad number field");
  h->mode = (uint32_t)mode & 07777;
  if (!seen->uid)
    h->uid = (uint32_t)uid;
  if (!seen->gid)
    h->gid = (uint32_t)gid;
  if (!seen->size)
    h->size = size;
  if (!seen->mtime)
    h->mtime = mtime;
  h->devmajor = (uint32_t)major, h->devminor = (uint32_t)minor;
  if (!seen->path)
    {
      char name[101], prefix[156];
      copy_field (name, sizeof name, (const char *)b, 100);
      copy_field (prefix, sizeof prefix, (const char *)b + 345, 155);
      bool ustar = memcmp (b + 257, "ustar", 5) == 0;
      if (ustar && prefix[0])
        snprintf (h->path, sizeof h->path, "%s/%s", prefix, name);
      else
        snprintf (h->path, sizeof h->path, "%s", name);
    }
  if (!seen->linkpath)
    copy_field (h->linkpath, sizeof h->linkpath, (const char *)b + 157, 100);
  h->type = b[156] == '\0' ? '0' : (char)b[156];
  if (h->type == '7')
    h->type = '0';
  if (!strchr ("0123456", h->type))
    return fail (err, EINVAL, "an entry type this reader does not take");
  if (!tar_path_clean (h->path) || (h->type == '1' && !tar_path_clean (h->linkpath)))
    return fail (err, EINVAL, "a name that is absolute or has \"..\"");
  if (h->type != '0')
    h->size = 0; /* only regular files carry data here (a hard link's is its target's) */
  return 0;
}

int
tar_reader_next (struct tar_reader *r, struct tar_entry_header *h, isola_error_t *err)
{
  if (r->done)
    return 0;
  int ret = skip (r, r->data_left + r->pad_left);
  if (ret < 0)
    return isola_error_fail (err, -ret, "read the tar stream");
  r->data_left = r->pad_left = 0;
  memset (h, 0, sizeof *h);
  struct pax seen = { 0 };
  for (int extensions = 0; extensions < 8; extensions++)
    {
      unsigned char b[BLOCK];
      ret = read_full (r, b, BLOCK);
      if (ret < 0)
        return isola_error_fail (err, -ret, "read the tar stream");
      static const unsigned char zero[BLOCK];
      if (ret == 0 || memcmp (b, zero, BLOCK) == 0)
        {
          r->done = true;
          return 0;
        }
      if (!checksum_ok (b))
        return fail (err, EINVAL, "a header checksum does not match");
      int64_t size;
      if (parse_number ((const char *)b + 124, 12, TARSTREAM_SIZE_MAX, &size) < 0)
        return fail (err, EINVAL, "a bad size");
      char type = (char)b[156];
      if (type == 'x' || type == 'g' || type == 'L' || type == 'K')
        {
          char *body = NULL;
          if ((ret = read_body (r, size, &body)) < 0)
            return ret == -EIO ? isola_error_fail (err, EIO, "the tar stream ended early")
                               : fail (err, EINVAL, "an extension header too large or cut");
          if (type == 'x')
            ret = apply_pax (body, (size_t)size, h, &seen);
          else if ((type == 'L' || type == 'K') && strlen (body) >= TARSTREAM_NAME_MAX)
            ret = -EINVAL;
          else if (type == 'L' || type == 'K')
            {
              bool path = type == 'L';
              snprintf (path ? h->path : h->linkpath, TARSTREAM_NAME_MAX, "%s", body);
              *(path ? &seen.path : &seen.linkpath) = true;
            }
          free (body);
          if (ret < 0)
            return fail (err, EINVAL, "a bad pax record");
          continue;
        }
      if ((ret = parse_header (b, h, &seen, err)) < 0)
        return ret;
      r->data_left = h->size;
      r->pad_left = (BLOCK - h->size % BLOCK) % BLOCK;
      return 1;
    }
  return fail (err, EINVAL, "too many extension headers");
}

ssize_t
tar_reader_data (struct tar_reader *r, void *buf, size_t len)
{
  if (r->data_left == 0)
    return 0;
  if ((int64_t)len > r->data_left)
    len = (size_t)r->data_left;
  int ret = read_full (r, buf, len);
  if (ret <= 0)
    return ret < 0 ? ret : -EIO;
  r->data_left -= (int64_t)len;
  return (ssize_t)len;
}
