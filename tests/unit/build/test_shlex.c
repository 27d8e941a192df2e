/* Docker's Dockerfile substitution, word by word: the expected values are what dockerd 20.10 put in the image for
   the same words in ENV (tests/unit/build/docker_cases.h has the whole Dockerfiles). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "build/shlex.h"
#include "tap.h"

static char *env[] = { "e1=m1", "EMPTY=", "sp=a b", "dup=first", "dup=second", "BARE", NULL };

static void
test_words (void)
{
  const struct
  {
    const char *in, *out;
  } cases[] = {
    { "$e1", "m1" },
    { "${e1}", "m1" },
    { "x${e1}y$e1-z", "xm1ym1-z" },
    { "$nope|${nope}", "|" },
    { "${e1:+set}|${nope:+x}|${EMPTY:+x}", "set||" },
    { "${nope:-dflt}|${EMPTY:-dflt}|${e1:-dflt}", "dflt|dflt|m1" },
    { "${nope:-${e1}}", "m1" },
    { "${e1:?must}", "m1" },
    { "$", "$" },
    { "a$", "a$" },
    { "$1x", "x" },
    { "\\$e1", "$e1" },
    { "'$e1'", "$e1" },
    { "\"$e1\"", "m1" },
    { "\"a\\$b\"", "a$b" },
    { "\"q\\\"q\"", "q\"q" },
    { "\"a\\b\"", "a\\b" },
    { "a\\ b", "a b" },
    { "'a\\ b'", "a\\ b" },
    { "x\\\\y", "x\\y" },
    { "${dup}", "first" },
    { "${BARE}x", "x" },
    { "${e1:+\"pl us\"}", "pl us" },
    { "trailing\\", "trailing" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *out = NULL;
      cleanup_error isola_error_t err = NULL;
      int ret = shlex_process_word (cases[i].in, '\\', env, &out, &err);
      CHECK (ret == 0 && strcmp (out, cases[i].out) == 0, "%s -> %s (got %s)", cases[i].in, cases[i].out,
             ret == 0 ? out : err->msg);
    }
  cleanup_free char *bt = NULL;
  cleanup_error isola_error_t err = NULL;
  CHECK (shlex_process_word ("C:\\dir`$x`", '`', env, &bt, &err) == 0 && strcmp (bt, "C:\\dir$x") == 0,
         "with ` as the escape character, \\ is plain");
}

static void
test_errors (void)
{
  const struct
  {
    const char *in, *error;
  } cases[] = {
    { "${b", "failed to process \"${b\": missing ':' in substitution" },
    { "${:b}", "failed to process \"${:b}\": syntax error: bad substitution" },
    { "${}", "failed to process \"${}\": syntax error: bad substitution" },
    { "${", "failed to process \"${\": syntax error: missing '}'" },
    { "${x-w}", "failed to process \"${x-w}\": missing ':' in substitution" },
    { "${x:?must}", "failed to process \"${x:?must}\": x: must" },
    { "${x:?}", "failed to process \"${x:?}\": x: is not allowed to be unset" },
    { "${EMPTY:?}", "failed to process \"${EMPTY:?}\": EMPTY: is not allowed to be empty" },
    { "${x:=y}", "failed to process \"${x:=y}\": unsupported modifier (=) in substitution" },
    { "${x:-abc", "failed to process \"${x:-abc\": syntax error: missing '}'" },
    { "\"open", "failed to process \"\\\"open\": unexpected end of statement while looking for matching double-quote" },
    { "'open", "failed to process \"'open\": unexpected end of statement while looking for matching single-quote" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *out = NULL;
      cleanup_error isola_error_t err = NULL;
      int ret = shlex_process_word (cases[i].in, '\\', env, &out, &err);
      CHECK (ret == -EINVAL && strcmp (err->msg, cases[i].error) == 0, "%s: %s (got %s)", cases[i].in, cases[i].error,
             ret == 0 ? out : err->msg);
    }
}

static void
test_split (void)
{
  cleanup_strv char **w = NULL;
  cleanup_error isola_error_t err = NULL;
  CHECK (shlex_process_words ("$sp \"c d\" '' e\\ f 9000", '\\', env, &w, &err) == 0, "words");
  CHECK (strv_len (w) == 5 && strcmp (w[0], "a") == 0 && strcmp (w[1], "b") == 0 && strcmp (w[2], "c d") == 0
             && strcmp (w[3], "e f") == 0 && strcmp (w[4], "9000") == 0,
         "a variable's value splits, quotes and escapes do not, an empty quote is no word");
}

int
main (void)
{
  test_words ();
  test_errors ();
  test_split ();
  return tap_done ();
}
