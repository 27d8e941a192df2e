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

/* Sets *err (if err is non-NULL and not already set) and returns -status, with strerror(status) appended to the
   message: for a failed system call, whose errno is status.  The first error set is kept, being the cause. */
int isola_error_make (isola_error_t *err, int status, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* Like isola_error_make but without appending strerror(status): for errors that are not system-call failures. */
int isola_error_fail (isola_error_t *err, int status, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* For a caller propagating a callee's failure: prefixes the message in *err (if any) with "context: " and returns
   ret, the callee's negative errno.  The code travels in ret rather than in *err so that a caller given no error
   object (err NULL) still passes the cause up: EFBIG stays EFBIG.  A ret >= 0 is a caller's bug and still fails
   (with *err's status, else EIO). */
int isola_error_wrap (isola_error_t *err, int ret, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

void isola_error_release (isola_error_t *err);

static inline void
isola_error_cleanup (isola_error_t *err)
{
  isola_error_release (err);
}

#define cleanup_error __attribute__ ((cleanup (isola_error_cleanup)))

#endif
