#include "base/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

struct digester
{
  EVP_MD_CTX *ctx;
};

digester_t *
digester_new (void)
{
  digester_t *d = xcalloc (1, sizeof (*d));
  d->ctx = EVP_MD_CTX_new ();
  if (d->ctx == NULL || EVP_DigestInit_ex (d->ctx, EVP_sha256 (), NULL) != 1)
    abort ();
  return d;
}

void
digester_update (digester_t *d, const void *buf, size_t len)
{
  if (len > 0)
    EVP_DigestUpdate (d->ctx, buf, len);
}

void
digester_final (digester_t *d, digest_hex_t out)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex (d->ctx, md, &n);
  static const char hex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < n && i < DIGEST_HEX_LEN / 2; i++)
    {
      out[2 * i] = hex[md[i] >> 4];
      out[2 * i + 1] = hex[md[i] & 0xf];
    }
  out[DIGEST_HEX_LEN] = '\0';
}

void
digester_free (digester_t *d)
{
  if (d == NULL)
    return;
  EVP_MD_CTX_free (d->ctx);
  free (d);
}

void
digest_buffer (const void *buf, size_t len, digest_hex_t out)
{
  cleanup_digester digester_t *d = digester_new ();
  digester_update (d, buf, len);
  digester_final (d, out);
}

int
digest_file (const char *path, digest_hex_t out, isola_error_t *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open `%s`", path);
  cleanup_digester digester_t *d = digester_new ();
  char buf[65536];
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return isola_error_make (err, errno, "read `%s`", path);
        }
      if (n == 0)
        break;
      digester_update (d, buf, (size_t)n);
    }
  digester_final (d, out);
  return 0;
}
