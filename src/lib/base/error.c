#define _GNU_SOURCE
#include "base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
set_error (isola_error_t *err, int status, int with_strerror, const char *fmt, va_list ap)
{
  if (status <= 0)
    status = EIO;
  if (err == NULL || *err != NULL)
    return -status;

  char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  if (msg != NULL && with_strerror)
    {
      char *full = NULL;
      if (asprintf (&full, "%s: %s", msg, strerror (status)) >= 0)
        {
          free (msg);
          msg = full;
        }
    }

  struct isola_error_s *e = calloc (1, sizeof (*e));
  if (e == NULL)
    {
      free (msg);
      return -status;
    }
  e->status = status;
  e->msg = msg ? msg : strdup ("out of memory");
  *err = e;
  return -status;
}

int
isola_error_make (isola_error_t *err, int status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int ret = set_error (err, status, 1, fmt, ap);
  va_end (ap);
  return ret;
}

int
isola_error_fail (isola_error_t *err, int status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int ret = set_error (err, status, 0, fmt, ap);
  va_end (ap);
  return ret;
}

int
isola_error_wrap (isola_error_t *err, int ret, const char *fmt, ...)
{
  if (ret >= 0)
    ret = err && *err ? -(*err)->status : -EIO;
  if (err == NULL || *err == NULL)
    return ret;

  char *prefix = NULL;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&prefix, fmt, ap);
  va_end (ap);
  if (r < 0)
    return ret;
  char *full = NULL;
  if (asprintf (&full, "%s: %s", prefix, (*err)->msg ? (*err)->msg : "") >= 0)
    {
      free ((*err)->msg);
      (*err)->msg = full;
    }
  free (prefix);
  return ret;
}

void
isola_error_release (isola_error_t *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}
