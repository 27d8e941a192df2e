/* The error convention: a caller that adds context keeps the callee's errno, with or without an error object. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/util.h"
#include "tap.h"

static void
test_wrap_without_error_object (void)
{
  CHECK (isola_error_wrap (NULL, -EFBIG, "read `%s`", "x") == -EFBIG, "wrap with a NULL err keeps EFBIG");
  isola_error_t err = NULL;
  CHECK (isola_error_wrap (&err, -ENOSPC, "write") == -ENOSPC && err == NULL,
         "wrap with an unset err keeps ENOSPC and sets nothing");
}

static void
test_wrap_adds_context (void)
{
  cleanup_error isola_error_t err = NULL;
  CHECK (isola_error_fail (&err, EFBIG, "too big") == -EFBIG, "fail returns -status");
  CHECK (isola_error_wrap (&err, -EFBIG, "layer %d", 2) == -EFBIG, "wrap returns the callee's code");
  CHECK_STR (err->msg, "layer 2: too big", "wrap prefixes the message (%s)", err->msg);
  CHECK (err->status == EFBIG, "wrap keeps the status");
}

static void
test_wrap_of_success_still_fails (void)
{
  cleanup_error isola_error_t err = NULL;
  CHECK (isola_error_wrap (NULL, 0, "oops") == -EIO, "wrap of 0 without an error is EIO");
  (void)isola_error_fail (&err, EPERM, "denied");
  CHECK (isola_error_wrap (&err, 0, "oops") == -EPERM, "wrap of 0 takes the error's status");
}

/* read_file_bounded wraps read_fd_bounded's error with the path: the limit's EFBIG must reach its caller, also when
   the caller asked for no message. */
static void
test_callee_code_reaches_caller (void)
{
  char path[] = "/tmp/isola-unit-error-XXXXXX";
  int fd = mkstemp (path);
  CHECK (fd >= 0 && write (fd, "0123456789", 10) == 10, "a 10-byte file");
  close (fd);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  CHECK (read_file_bounded (path, 4, &buf, &len, NULL) == -EFBIG, "over the limit without err: -EFBIG");
  cleanup_error isola_error_t err = NULL;
  CHECK (read_file_bounded (path, 4, &buf, &len, &err) == -EFBIG && err && err->status == EFBIG
             && strstr (err->msg, path) != NULL,
         "over the limit with err: -EFBIG, and the message names the file (%s)", err ? err->msg : "");
  unlink (path);
}

int
main (void)
{
  test_wrap_without_error_object ();
  test_wrap_adds_context ();
  test_wrap_of_success_still_fails ();
  test_callee_code_reaches_caller ();
  return tap_done ();
}
