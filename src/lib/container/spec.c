/* A container request checked before anything is made (see spec.h). */
#define _GNU_SOURCE
#include "container/spec.h"

#include <errno.h>

#include "base/util.h"
#include "container/runspec.h"
#include "sandbox/caps.h"
#include "sandbox/seccomp_profile.h"

int
runspec_validate (json_t *container_config, const char *seccomp_cache, isola_error_t *err)
{
  json_t *host = json_object_get (container_config, "HostConfig");
  struct runspec_mounts m = { 0 };
  struct runspec_rlimits r = { 0 };
  uint64_t caps;
  int ret = runspec_mounts_parse (host, &m, err);
  if (ret == 0)
    ret = runspec_rlimits_parse (host, &r, err);
  if (ret == 0)
    ret = caps_for_host_config (host, &caps, err);
  if (ret == 0)
    {
      /* Compiles the filter once to refuse a bad profile at create time, not at every start; the program waits
         in the cache for the start. */
      struct seccomp_program *prog = NULL;
      ret = seccomp_program_for_host_config (host, caps, seccomp_cache, &prog, err);
      seccomp_program_free (prog);
    }
  runspec_mounts_clear (&m);
  runspec_rlimits_clear (&r);
  if (ret == 0)
    {
      cleanup_strv char **argv = runspec_argv (container_config);
      if (argv[0] == NULL)
        ret = isola_error_fail (err, EINVAL, "no command specified");
    }
  return ret;
}
