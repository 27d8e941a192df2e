/* External programs: run one, with its standard error turned into the error's message. */
#ifndef ISOLA_SUBPROCESS_H
#define ISOLA_SUBPROCESS_H

#include "base/error.h"

/* Runs argv (looked up in PATH) with stdin and stdout on /dev/null and waits for it.  prepare (may be NULL) runs
   in the child before the exec; a negative return stops it.  Fails when the program cannot run or exits non-zero,
   with the last line of its error output in the message. */
int subprocess_run (char *const argv[], int (*prepare) (void *arg), void *arg, isola_error_t *err);

#endif
