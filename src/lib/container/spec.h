/* A container request, checked in one place before anything is made: what `create` refuses.  Only the front ends
   (CLI) link this; it compiles the container's seccomp program, so it carries libseccomp, which the monitor must
   not. */
#ifndef ISOLA_CONTAINER_SPEC_H
#define ISOLA_CONTAINER_SPEC_H

#include <jansson.h>

#include "base/error.h"

/* Checks everything above at create time; the seccomp program it compiles is kept in seccomp_cache (seccomp.h). */
int runspec_validate (json_t *container_config, const char *seccomp_cache, isola_error_t *err);

#endif
