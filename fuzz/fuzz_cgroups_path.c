/* libFuzzer target for isola-runtime's reading of a bundle's linux.cgroupsPath (runtime/state.c): any input is
   refused or becomes a path that cannot climb out of the cgroup hierarchies (no "." or ".." component), since the
   runtime creates, kills the members of and removes what it names.  The first byte says whether --systemd-cgroup
   was given. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "runtime/state.h"

static bool
climbs (const char *path)
{
  cleanup_free char *copy = xstrdup (path);
  char *save = NULL;
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    if (strcmp (c, "..") == 0 || strcmp (c, ".") == 0)
      return true;
  return false;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  bool systemd = data[0] & 1;
  cleanup_free char *s = strndup ((const char *)data + 1, size - 1);
  if (s == NULL)
    return 0;
  cleanup_free char *out = NULL;
  cleanup_error isola_error_t err = NULL;
  if (rt_cgroup_path ("c1", s, systemd, &out, &err) < 0)
    {
      if (err == NULL || out != NULL)
        abort ();
      return 0;
    }
  if (out == NULL || out[0] == '\0' || climbs (out) || strstr (out, "//"))
    abort ();
  if (systemd && s[0] && out[0] != '/')
    abort ();
  return 0;
}
