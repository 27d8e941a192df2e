/* One error convention for all of isola: a function that can fail returns a negative errno and, when given an
   error object, fills it with that errno and a message.  Callers add context with isola_error_wrap and
   propagate.  Library code never prints; the CLI decides what to say. */
#ifndef ISOLA_ERROR_H
#define ISOLA_ERROR_H

#include <stdarg.h>

struct isola_error_s
{
  int status; /* errno-style code, > 0 */
  char *msg;
};
typedef struct isola_error_s *isola_error_t;

/* Sets *err (if err is non-NULL and not already set) and returns -status.  When status is an errno value that
   comes from a failed system call, pass it so its text is appended; use ISOLA_ERR_NOSTR in status bits to omit. */
int isola_error_make (isola_error_t *err, int status, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* Like isola_error_make but without appending strerror(status): for errors that are not system-call failures. */
int isola_error_fail (isola_error_t *err, int status, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* Prefixes the message in *err with "context: " and returns -status. */
int isola_error_wrap (isola_error_t *err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

void isola_error_release (isola_error_t *err);

static inline void
isola_error_cleanup (isola_error_t *err)
{
  isola_error_release (err);
}

#define cleanup_error __attribute__ ((cleanup (isola_error_cleanup)))

#endif
