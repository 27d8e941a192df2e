/* A minimal TAP producer for isola's C unit tests: each check prints "ok N - name" or "not ok N - name". */
#ifndef ISOLA_TAP_H
#define ISOLA_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

#define CHECK(cond, ...)                                                                                               \
  do                                                                                                                   \
    {                                                                                                                  \
      int tap_ok_ = !!(cond);                                                                                          \
      tap_count++;                                                                                                     \
      if (tap_ok_)                                                                                                     \
        printf ("ok %d - ", tap_count);                                                                                \
      else                                                                                                             \
        {                                                                                                              \
          tap_failed++;                                                                                                \
          printf ("not ok %d - ", tap_count);                                                                          \
        }                                                                                                              \
      printf (__VA_ARGS__);                                                                                            \
      printf ("\n");                                                                                                   \
      if (!tap_ok_)                                                                                                    \
        printf ("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);                                               \
      fflush (stdout);                                                                                                 \
    }                                                                                                                  \
  while (0)

#define CHECK_STR(a, b, ...) CHECK ((a) != NULL && (b) != NULL && strcmp ((a), (b)) == 0, __VA_ARGS__)

static inline int
tap_done (void)
{
  printf ("1..%d\n", tap_count);
  return tap_failed ? 1 : 0;
}

#endif
