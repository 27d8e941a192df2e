/* Byte strings in JSON.  JSON (and jansson) holds only UTF-8 text, but a command line or an environment may hold any
   bytes but NUL.  Two forms:

   shown  what Docker's daemon shows (Go's encoding/json): every byte that is not part of valid UTF-8 becomes U+FFFD;
          for the Docker-shaped records that inspect and ps show (Config.Cmd, Path, Args...)
   exact  a JSON string when the bytes are valid UTF-8, else {"Hex": "<the bytes in hex>"}; for what must reach a
          process byte for byte: the CLI's request, the record's Exact member, the VM channel's START and EXEC */
#ifndef ISOLA_JBYTES_H
#define ISOLA_JBYTES_H

#include <jansson.h>
#include <stdbool.h>

bool utf8_valid (const char *s);

json_t *jbytes_shown (const char *s);
json_t *jbytes_exact (const char *s);
/* The bytes of an exact (or plain string) value, NULL for anything else (or bytes with a NUL). */
char *jbytes_value (json_t *j);

/* Arrays of them: a NULL-terminated vector to a JSON array; and back, skipping what is not a value. */
json_t *jbytes_shown_array (char *const *v);
json_t *jbytes_exact_array (char *const *v);
char **jbytes_strv (json_t *array);
/* Whether any string of v is not valid UTF-8 (then the exact form differs from the shown one). */
bool strv_utf8_valid (char *const *v);

#endif
