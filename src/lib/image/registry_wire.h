/* What a registry sends that the client reads besides manifests and blobs (oci.h): response header lines, a 401's
   WWW-Authenticate challenge, the token service's answer and the distribution API's JSON error bodies.  All of it is
   untrusted; pure functions, so that fuzz/fuzz_registry.c reaches them without a network. */
#ifndef ISOLA_REGISTRY_WIRE_H
#define ISOLA_REGISTRY_WIRE_H

#include <stddef.h>

/* The value of header `name` (case-insensitive) in one header line of len bytes (not NUL-terminated, as libcurl
   hands it), blanks and the line end trimmed; NULL when the line is another header. */
char *registry_header_value (const char *line, size_t len, const char *name);

/* The value of key (case-insensitive) in a challenge's parameters: `realm="https://…",service="x",scope=y` after
   "Bearer "; quoted or bare; NULL when absent or malformed. */
char *registry_challenge_param (const char *params, const char *key);

/* The token of a token service's JSON answer ("token", else "access_token"): newly allocated, or NULL when there is
   none that can go into a header (empty, or holding a line break). */
char *registry_token_of (const char *body, size_t len);

/* "code: message" of a registry's JSON error body ({"errors": [{"code": "MANIFEST_UNKNOWN", "message": …}]}) as
   Docker shows it, "manifest unknown: manifest unknown", the message cut at 200 bytes; NULL when it is not one. */
char *registry_error_text_of (const char *body, size_t len);

#endif
