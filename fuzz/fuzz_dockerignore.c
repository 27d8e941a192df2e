/* libFuzzer target: a .dockerignore (build/context.c) read, compiled and matched against paths made from the input
   itself.  Any input reads to patterns that compile or fail with a message; matching never fails; the last pattern,
   when it is a plain path (no special character), excludes that path. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "build/context.h"

static bool
plain (const char *s)
{
  return *s && strpbrk (s, "*?[]\\!") == NULL && strstr (s, "..") == NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 4096)
    return 0;
  cleanup_strv char **patterns = dockerignore_read ((const char *)data, size);
  struct dockerignore ig;
  cleanup_error isola_error_t err = NULL;
  int ret = dockerignore_compile (patterns, &ig, &err);
  if ((ret < 0) != (err != NULL) || (err && (err->msg == NULL || !*err->msg)))
    abort ();
  if (ret < 0)
    return 0;
  for (size_t i = 0; patterns[i]; i++)
    {
      cleanup_free char *clean = path_clean (patterns[i]);
      (void)dockerignore_matches (&ig, clean);
      (void)dockerignore_glob (patterns[i], patterns[0]);
    }
  /* The last pattern decides for the path it names: an inclusion of a plain path excludes it. */
  if (ig.n > 0)
    {
      const struct ignore_pattern *last = &ig.p[ig.n - 1];
      if (!last->exclusion && plain (last->text) && strcmp (last->text, ".") != 0 && last->text[0] != '/'
          && !dockerignore_matches (&ig, last->text))
        abort ();
    }
  cleanup_strv char **keep = dockerignore_read ((const char *)data, size);
  cleanup_error isola_error_t e2 = NULL;
  (void)dockerignore_keep_build_files (&keep, "Dockerfile", &e2);
  dockerignore_clear (&ig);
  return 0;
}
