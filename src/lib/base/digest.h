/* sha256 digests (OpenSSL libcrypto) and the "sha256:<64 hex>" strings that name blobs and images. */
#ifndef ISOLA_DIGEST_H
#define ISOLA_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define DIGEST_HEX_LEN 64
typedef char digest_hex_t[DIGEST_HEX_LEN + 1];

typedef struct digester digester_t;

digester_t *digester_new (void);
void digester_update (digester_t *d, const void *buf, size_t len);
/* Finishes the digest into out; the digester may not be updated afterwards. */
void digester_final (digester_t *d, digest_hex_t out);
void digester_free (digester_t *d);
static inline void
cleanup_digesterp (digester_t **d)
{
  digester_free (*d);
}
#define cleanup_digester __attribute__ ((cleanup (cleanup_digesterp)))

void digest_buffer (const void *buf, size_t len, digest_hex_t out);
int digest_file (const char *path, digest_hex_t out, isola_error_t *err);

/* A new random ID, 64 lowercase hex characters, as Docker makes them (container, network, exec and anonymous
   volume IDs): never one whose 12-character short form is all decimal digits, which resolvers take for a number, so
   that a container whose hostname it is could not resolve its own name (`hostname -f`: "Unknown host"; moby #3869). */
void random_id_hex (digest_hex_t out);

/* True for exactly 64 lowercase hex characters. */
bool digest_hex_valid (const char *hex);

/* Parses "sha256:<64 lowercase hex>" into its hex part.  Other algorithms are refused with a clear message. */
int digest_parse (const char *s, digest_hex_t out, isola_error_t *err);

#endif
