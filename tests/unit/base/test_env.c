/* Environment vectors merged as Docker merges them: a process's defaults under Config.Env, an exec's -e, and a
   request's Env with the image's. */
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "base/util.h"
#include "tap.h"

/* The merged vector joined with spaces, for one comparison per case. */
static char *
joined (char **v)
{
  char *s = xstrdup ("");
  for (size_t i = 0; v && v[i]; i++)
    {
      char *next = xasprintf ("%s%s%s", s, i ? " " : "", v[i]);
      free (s);
      s = next;
    }
  return s;
}

static void
check_merge (char *const *base, char *const *overrides, const char *want, const char *what)
{
  cleanup_strv char **out = env_merge (base, overrides);
  cleanup_free char *got = joined (out);
  CHECK_STR (got, want, "%s: \"%s\" (got \"%s\")", what, want, got);
}

static void
test_merge (void)
{
  char *const base[] = { "PATH=/bin", "A=1", "AB=2", NULL };
  check_merge (NULL, NULL, "", "nothing at all");
  check_merge (base, NULL, "PATH=/bin A=1 AB=2", "no overrides");
  check_merge (NULL, (char *const[]){ "X=1", NULL }, "X=1", "overrides only");
  check_merge (base, (char *const[]){ "A=9", NULL }, "PATH=/bin A=9 AB=2", "replaces in place");
  check_merge (base, (char *const[]){ "B=3", NULL }, "PATH=/bin A=1 AB=2 B=3", "appends a new name");
  check_merge (base, (char *const[]){ "AB=", NULL }, "PATH=/bin A=1 AB=", "an empty value is a value");
  check_merge (base, (char *const[]){ "A", NULL }, "PATH=/bin AB=2", "a bare name removes");
  check_merge (base, (char *const[]){ "ZZ", NULL }, "PATH=/bin A=1 AB=2", "removing a missing name");
  check_merge (base, (char *const[]){ "A=x=y", "A=z", NULL }, "PATH=/bin A=z AB=2", "the last -e wins");
  check_merge ((char *const[]){ "AB=2", NULL }, (char *const[]){ "A=5", "A", "AB", "A=6", NULL }, "A=6",
               "a name never matches a longer one");
}

static void
check_image (char *const *request, char *const *image, const char *want, const char *what)
{
  cleanup_strv char **out = env_merge_image (request, image);
  cleanup_free char *got = joined (out);
  CHECK_STR (got, want, "%s: \"%s\" (got \"%s\")", what, want, got);
}

static void
test_merge_image (void)
{
  char *const image[] = { "PATH=/bin", "A=1", "AB=2", NULL };
  check_image (NULL, NULL, "", "nothing at all");
  check_image (NULL, image, "PATH=/bin A=1 AB=2", "no request: the image's");
  check_image ((char *const[]){ "X=1", NULL }, NULL, "X=1", "no image Env");
  check_image ((char *const[]){ "B=3", "A=9", NULL }, image, "B=3 A=9 PATH=/bin AB=2",
               "the request's first, in its order, then the image's it does not set");
  check_image ((char *const[]){ "A", NULL }, image, "A PATH=/bin AB=2", "a bare name hides the image's entry");
  check_image ((char *const[]){ "AB=x", NULL }, (char *const[]){ "A=1", NULL }, "AB=x A=1",
               "a name never matches a longer one");
}

int
main (void)
{
  test_merge ();
  test_merge_image ();
  return tap_done ();
}
