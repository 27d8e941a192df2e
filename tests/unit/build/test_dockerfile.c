/* The Dockerfile parser: what it makes of directives, continuations, comments, both forms, flags and every
   instruction, and its errors with their lines (Docker's wording; test_plan checks them against dockerd too). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "build/dockerfile.h"
#include "tap.h"

static int
parse (const char *text, struct dockerfile *df, char **error)
{
  cleanup_error isola_error_t err = NULL;
  int ret = dockerfile_parse (text, strlen (text), df, &err);
  *error = ret < 0 ? xstrdup (err->msg) : NULL;
  return ret;
}

/* The error of text, or "" when it parses. */
static char *
error_of (const char *text)
{
  struct dockerfile df;
  char *error;
  if (parse (text, &df, &error) == 0)
    {
      dockerfile_clear (&df);
      return xstrdup ("");
    }
  return error;
}

static bool
args_are (const struct df_instruction *ins, const char *const *want)
{
  size_t n = 0;
  while (want[n])
    n++;
  if (ins->n_args != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (strcmp (ins->args[i], want[i]) != 0)
      return false;
  return true;
}

static void
test_forms (void)
{
  const char *text = "\xEF\xBB\xBF"
                     "from busybox AS Build\r\n"
                     "run echo a \\\n"
                     "  && echo b\n"
                     "CMD [\"/bin/echo\", \"x y\"]\n"
                     "ENTRYPOINT [not json]\n"
                     "COPY --from=build --chown=1:1 a b /dst/\n"
                     "COPY [\"with space\", \"/d\"]\n"
                     "ENV a=1 b=\"two words\"\n"
                     "ENV old value with spaces\n"
                     "LABEL \"k 1\"=v\n"
                     "ARG x=1 y\n"
                     "EXPOSE 80   443/udp\n"
                     "VOLUME /a /b\n"
                     "HEALTHCHECK --interval=30s --retries=3 CMD curl -f x\n"
                     "ONBUILD RUN make\n"
                     "MAINTAINER Someone <a@b>\n";
  struct dockerfile df;
  char *error;
  CHECK (parse (text, &df, &error) == 0, "a Dockerfile of every form parses (%s)", error ? error : "");
  free (error);
  if (df.n != 15)
    {
      CHECK (false, "15 instructions (got %zu)", df.n);
      dockerfile_clear (&df);
      return;
    }
  CHECK (df.ins[0].kind == DF_FROM && df.ins[0].line == 1 && strcmp (df.ins[0].stage_name, "build") == 0,
         "FROM, lower-case name and stage (BOM and CRLF skipped)");
  CHECK (df.ins[1].kind == DF_RUN && !df.ins[1].json && strcmp (df.ins[1].args[0], "echo a   && echo b") == 0
             && df.ins[1].line == 2 && df.ins[1].end_line == 3,
         "RUN: the continuation joined as Docker joins it (\"%s\"), lines 2-3", df.ins[1].args[0]);
  CHECK (df.ins[2].json && args_are (&df.ins[2], (const char *[]){ "/bin/echo", "x y", NULL }), "CMD's JSON form");
  CHECK (!df.ins[3].json && args_are (&df.ins[3], (const char *[]){ "[not json]", NULL }), "not JSON: the shell form");
  CHECK (strcmp (df.ins[4].flag_from, "build") == 0 && strcmp (df.ins[4].flag_chown, "1:1") == 0
             && args_are (&df.ins[4], (const char *[]){ "a", "b", "/dst/", NULL }),
         "COPY's flags and words");
  CHECK (df.ins[5].json && args_are (&df.ins[5], (const char *[]){ "with space", "/d", NULL }), "COPY's JSON form");
  CHECK (args_are (&df.ins[6], (const char *[]){ "a", "1", "b", "\"two words\"", NULL }),
         "ENV pairs, quotes kept for substitution");
  CHECK (args_are (&df.ins[7], (const char *[]){ "old", "value with spaces", NULL }), "ENV's old form");
  CHECK (args_are (&df.ins[8], (const char *[]){ "\"k 1\"", "v", NULL }), "LABEL with a quoted key");
  CHECK (args_are (&df.ins[9], (const char *[]){ "x=1", "y", NULL }), "ARG words");
  CHECK (args_are (&df.ins[10], (const char *[]){ "80", "443/udp", NULL }), "EXPOSE words");
  CHECK (args_are (&df.ins[11], (const char *[]){ "/a", "/b", NULL }), "VOLUME's list form");
  CHECK (df.ins[12].health_interval == 30000000000LL && df.ins[12].health_retries == 3 && df.ins[12].health_test
             && strcmp (df.ins[12].health_test[0], "CMD-SHELL") == 0
             && strcmp (df.ins[12].health_test[1], "curl -f x") == 0,
         "HEALTHCHECK's options and shell command");
  CHECK (df.ins[13].kind == DF_ONBUILD && strcmp (df.ins[13].args[0], "RUN make") == 0 && df.ins[13].trigger
             && df.ins[13].trigger->kind == DF_RUN,
         "ONBUILD keeps its expression and parses its trigger");
  CHECK (strcmp (df.ins[14].args[0], "Someone <a@b>") == 0, "MAINTAINER's whole line");
  CHECK (df.escape == '\\' && df.warnings[0] == NULL, "default escape, no warning");
  dockerfile_clear (&df);
}

static void
test_directives_and_continuations (void)
{
  const char *text = "# ESCAPE = `\n"
                     "#syntax=docker/dockerfile:1\n"
                     "FROM scratch\n"
                     "ENV a=C:\\dir b=\"x`\n"
                     "# a comment inside\n"
                     "\n"
                     "   y\"\n"
                     "RUN one `\n"
                     "  # indented comment\n"
                     "two\n";
  struct dockerfile df;
  char *error;
  CHECK (parse (text, &df, &error) == 0 && df.n == 3, "escape and syntax directives (%s)", error ? error : "");
  free (error);
  if (df.n != 3)
    {
      dockerfile_clear (&df);
      return;
    }
  CHECK (df.escape == '`' && df.syntax && strcmp (df.syntax, "docker/dockerfile:1") == 0, "escape ` and the syntax");
  CHECK (args_are (&df.ins[1], (const char *[]){ "a", "C:\\dir", "b", "\"x   y\"", NULL }),
         "with ` as escape, \\ is plain; comment and blank lines inside a continuation skipped");
  CHECK (df.ins[1].line == 4 && df.ins[1].end_line == 7, "ENV spans lines 4-7");
  CHECK (strcmp (df.ins[2].args[0], "one two") == 0, "an indented comment inside a continuation is skipped");
  CHECK (df.warnings[0] && strstr (df.warnings[0], "Empty continuation line found in:") && df.warnings[1]
             && strstr (df.warnings[1], "Empty continuation lines will become errors") && df.warnings[2]
             && strstr (df.warnings[2], "syntax parser directive"),
         "Docker's warnings, and the syntax directive's note");
  dockerfile_clear (&df);

  /* A directive after anything else is a comment. */
  CHECK (parse ("# hello\n# escape=`\nFROM scratch\nENV a=\"x\\\n  y\"\n", &df, &error) == 0 && df.escape == '\\'
             && strcmp (df.ins[1].args[1], "\"x  y\"") == 0,
         "a directive after a comment is a comment");
  free (error);
  dockerfile_clear (&df);
}

static void
test_errors (void)
{
  const struct
  {
    const char *text, *error;
  } cases[] = {
    { "FROM scratch\nFOO bar\n", "dockerfile parse error line 2: unknown instruction: FOO" },
    { "FROM scratch\n\n\nbogus\n", "dockerfile parse error line 4: unknown instruction: BOGUS" },
    { "# nothing\n\n", "failed to parse Dockerfile: file with no instructions" },
    { "ENV a=b\nFROM scratch\n", "no build stage in current context" },
    { "ARG x\nFROM scratch\n", "" },
    { "FROM scratch\nCOPY a\n",
      "dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination "
      "could not be determined" },
    { "FROM scratch\nADD --from=x a b\n", "dockerfile parse error line 2: Unknown flag: from" },
    { "FROM scratch\nCOPY --chown a b\n", "dockerfile parse error line 2: Missing a value on flag: chown" },
    { "FROM scratch\nCOPY --from=a --from=b x y\n", "dockerfile parse error line 2: Duplicate flag specified: from" },
    { "FROM --platform=linux/arm64 scratch AS x\n", "" },
    { "FROM a b\n", "dockerfile parse error line 1: FROM requires either one or three arguments" },
    { "FROM a AS b.c-d_e\n", "" },
    { "FROM a AS B$\n",
      "dockerfile parse error line 1: invalid name for build stage: \"B$\", name can't start with a number or contain "
      "symbols" },
    { "FROM scratch\nENV\n", "dockerfile parse error line 2: ENV requires at least one argument" },
    { "FROM scratch\nENV =x\n", "dockerfile parse error line 2: ENV names can not be blank" },
    { "FROM scratch\nUSER\n", "dockerfile parse error line 2: USER requires exactly one argument" },
    { "FROM scratch\nEXPOSE\n", "dockerfile parse error line 2: EXPOSE requires at least one argument" },
    { "FROM scratch\nSHELL [\"a\"]\n", "" },
    { "FROM scratch\nHEALTHCHECK --interval=5 CMD x\n", "dockerfile parse error line 2: time: invalid duration \"5\"" },
    { "FROM scratch\nHEALTHCHECK --retries=x CMD y\n",
      "dockerfile parse error line 2: strconv.ParseInt: parsing \"x\": invalid syntax" },
    { "FROM scratch\nHEALTHCHECK --timeout=1s NONE\n", "" },
    { "FROM scratch\nHEALTHCHECK --bogus=1 CMD y\n", "dockerfile parse error line 2: Unknown flag: bogus" },
    { "FROM scratch\nONBUILD\n", "dockerfile parse error line 2: ONBUILD requires at least one argument" },
    { "FROM scratch\nONBUILD maintainer x\n",
      "dockerfile parse error line 2: MAINTAINER isn't allowed as an ONBUILD trigger" },
    { "FROM scratch\nONBUILD CMD [1]\n",
      "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only" },
    { "FROM scratch\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t true\n", "" },
    { "FROM scratch\nRUN cat <<EOF\n",
      "dockerfile parse error line 2: heredocs (<<EOF) are BuildKit's Dockerfile syntax, which the classic builder "
      "does not support: write the file into the context and COPY it, or use RUN with printf" },
    { "FROM scratch\nCOPY <<-\"EOT\" /x\n", "dockerfile parse error line 2: heredocs (<<EOF) are BuildKit's "
                                            "Dockerfile syntax, which the classic builder does not support: write "
                                            "the file into the context and COPY it, or use RUN with printf" },
    { "FROM scratch\nRUN echo $((1<<2))\n", "" },
    { "FROM scratch\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\n", "" },
    { "# escape=`\n# escape=`\nFROM scratch\n",
      "failed to parse Dockerfile: only one escape parser directive can be used" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cases); i++)
    {
      cleanup_free char *e = error_of (cases[i].text);
      CHECK_STR (e, cases[i].error, "%zu: %s", i, *cases[i].error ? cases[i].error : "parses");
    }

  /* A line longer than Docker's scanner takes. */
  size_t n = 70000;
  cleanup_free char *big = xmalloc (n + 32);
  strcpy (big, "FROM scratch\nENV a=");
  memset (big + strlen (big), 'x', n);
  big[19 + n] = '\0';
  cleanup_free char *e = error_of (big);
  CHECK_STR (e, "failed to parse Dockerfile: dockerfile line greater than max allowed size of 65535",
             "a line over 64 KiB");
}

static void
test_single_instruction (void)
{
  struct df_instruction ins;
  cleanup_error isola_error_t err = NULL;
  CHECK (dockerfile_parse_instruction ("copy --from=a x y", '\\', &ins, &err) == 0 && ins.kind == DF_COPY
             && strcmp (ins.flag_from, "a") == 0,
         "one instruction (an ONBUILD trigger)");
  df_instruction_clear (&ins);
  CHECK (dockerfile_parse_instruction ("RUN a\nRUN b", '\\', &ins, &err) < 0
             && strcmp (err->msg, "onbuild trigger should be a single expression") == 0,
         "a trigger of two lines is refused");
}

/* Flags and words with quotes and escapes: extractBuilderFlags removes them (a backslash even inside single
   quotes), parseWords keeps them for substitution; "--" ends the flags. */
static void
test_quoted_words (void)
{
  struct dockerfile df;
  char *error = NULL;
  const char *text = "FROM busybox\n"
                     "COPY --chown=\"a b\" --from=x\\'y --chmod='7\\55' -- --notflag src /d/\n"
                     "LABEL k=\"v \\\" w\" l='x y'\n";
  CHECK (parse (text, &df, &error) == 0, "quoted flags and words parse (%s)", error ? error : "");
  if (error == NULL)
    {
      const struct df_instruction *c = &df.ins[1];
      CHECK (strv_len (c->flags) == 3 && strcmp (c->flags[0], "--chown=a b") == 0
                 && strcmp (c->flags[1], "--from=x'y") == 0 && strcmp (c->flags[2], "--chmod=755") == 0,
             "flags lose their quotes and backslashes");
      CHECK (args_are (c, (const char *const[]){ "--notflag", "src", "/d/", NULL }), "-- ends the flags");
      CHECK (args_are (&df.ins[2], (const char *const[]){ "k", "\"v \\\" w\"", "l", "'x y'", NULL }),
             "LABEL's words keep theirs");
      dockerfile_clear (&df);
    }
  free (error);
}

int
main (void)
{
  test_quoted_words ();
  test_forms ();
  test_directives_and_continuations ();
  test_errors ();
  test_single_instruction ();
  return tap_done ();
}
