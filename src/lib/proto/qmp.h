/* A client of the QEMU Machine Protocol (QMP), just enough to save a VM (driver/vm_template.c): the greeting, commands
   as JSON lines with an optional fd passed alongside (getfd), and their replies, skipping asynchronous events.

   QEMU is not trusted more than it must be: lines are bounded (QMP_LINE_MAX) and replies are parsed, not
   assumed. */
#ifndef ISOLA_QMP_H
#define ISOLA_QMP_H

#include <jansson.h>
#include <stddef.h>

#include "base/error.h"

#define QMP_LINE_MAX (64 * 1024)

struct qmp
{
  int fd;
  long long deadline_ms; /* CLOCK_MONOTONIC; every read gives up then */
  size_t len;
  char buf[QMP_LINE_MAX];
};

/* What one line from QEMU is: QMP_REPLY with *ret its "return" value (owned by the caller), QMP_ERROR with *desc the
   error's description (owned), or QMP_OTHER (the greeting, an event).  -EPROTO when it is not a JSON object. */
enum
{
  QMP_OTHER = 0,
  QMP_REPLY = 1,
  QMP_ERROR = 2,
};
int qmp_classify (const char *line, size_t len, json_t **ret, char **desc);

/* Reads the greeting and enters command mode (qmp_capabilities).  timeout_ms bounds every later call too. */
int qmp_connect (struct qmp *q, int fd, int timeout_ms, isola_error_t *err);

/* Runs command with arguments (stolen; NULL for none), passing pass_fd (>= 0) with it as SCM_RIGHTS, and stores
   its "return" value in *ret (NULL: dropped).  An error reply fails with its description. */
int qmp_execute (struct qmp *q, const char *command, json_t *arguments, int pass_fd, json_t **ret, isola_error_t *err);

#endif
