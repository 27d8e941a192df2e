/* libFuzzer target for seccomp profiles: arbitrary bytes as the content of a profile file, parsed into a
   libseccomp filter (never loaded) for a container with and without CAP_SYS_ADMIN, then released. */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/util.h"
#include "sandbox/caps.h"
#include "sandbox/seccomp_profile.h"

static void
parse_once (const uint8_t *data, size_t size, uint64_t caps)
{
  scmp_filter_ctx f = NULL;
  cleanup_error isola_error_t err = NULL;
  int ret = seccomp_profile_parse ((const char *)data, size, caps, &f, &err);
  /* A failure always explains itself and never hands out a filter; a success never leaves an error behind. */
  if (ret < 0 ? err == NULL || err->msg == NULL || f != NULL : err != NULL)
    abort ();
  seccomp_profile_release (f);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  parse_once (data, size, caps_docker_default ());
  parse_once (data, size, caps_docker_default () | UINT64_C (1) << CAP_SYS_ADMIN);
  return 0;
}
