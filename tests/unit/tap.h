/* A minimal TAP producer for isola's C unit tests: each check prints "ok N - name" or "not ok N - name". */
#ifndef ISOLA_TAP_H
#define ISOLA_TAP_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The wait status of child pid, or -1 when it has not ended within seconds (then it is killed): for a check that
   must not block, run in a child. */
static inline int
tap_wait_child (pid_t pid, int seconds)
{
  int status = -1;
  pid_t got = 0;
  for (int i = 0; i < seconds * 10 && (got = waitpid (pid, &status, WNOHANG)) == 0; i++)
    usleep (100 * 1000);
  if (got != 0)
    return got == pid ? status : -1;
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  return -1;
}

static inline int
tap_done (void)
{
  printf ("1..%d\n", tap_count);
  return tap_failed ? 1 : 0;
}

#endif
