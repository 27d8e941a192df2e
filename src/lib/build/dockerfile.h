/* The Dockerfile as Docker 20.10's classic builder reads it (buildkit's frontend/dockerfile parser and instructions
   packages, which dockerd vendors): parser directives, line continuations, comments, JSON and shell forms, and every
   instruction's arguments and flags checked with Docker's messages.  Nothing is substituted here: that happens per
   step with the state of the build (build/plan.h, build/shlex.h). */
#ifndef ISOLA_BUILD_DOCKERFILE_H
#define ISOLA_BUILD_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A Dockerfile larger than this is refused (dockerd reads the whole file too; this bounds untrusted input). */
#define DOCKERFILE_MAX (16 * 1024 * 1024)

enum df_kind
{
  DF_ADD,
  DF_ARG,
  DF_CMD,
  DF_COPY,
  DF_ENTRYPOINT,
  DF_ENV,
  DF_EXPOSE,
  DF_FROM,
  DF_HEALTHCHECK,
  DF_LABEL,
  DF_MAINTAINER,
  DF_ONBUILD,
  DF_RUN,
  DF_SHELL,
  DF_STOPSIGNAL,
  DF_USER,
  DF_VOLUME,
  DF_WORKDIR,
  DF_KIND_MAX
};

/* The instruction's name in upper case ("COPY"). */
const char *df_kind_name (enum df_kind kind);

struct df_instruction
{
  enum df_kind kind;
  /* The instruction's text with its continuation lines joined, as Docker prints it in "Step N/M : ..." (leading
     blanks of the first line gone). */
  char *original;
  int line; /* where it starts, 1-based */
  int end_line;
  /* The flags as written before the arguments ("--from=build"). */
  char **flags;
  /* The arguments, unsubstituted, as Docker's parser leaves them:
     - RUN, CMD, ENTRYPOINT, SHELL: the JSON array's strings (json true), or the rest of the line as one string;
     - ENV, LABEL: key, value, key, value, ... (quotes and escapes still in them: substitution removes them);
     - ARG: one "name" or "name=default" word each;
     - FROM: the image, or the image, "AS", the name; EXPOSE, VOLUME, COPY, ADD: the words (or the JSON array);
     - WORKDIR, USER, STOPSIGNAL, MAINTAINER: the rest of the line;
     - HEALTHCHECK: the type ("CMD", "NONE", as written) then the command as for CMD;
     - ONBUILD: the trigger's expression (the line without "ONBUILD "), with the trigger itself parsed in `trigger`. */
  char **args;
  size_t n_args;
  bool json;

  /* What the flags say, checked (NULL when not given). */
  char *flag_from, *flag_chown, *flag_chmod, *flag_platform; /* COPY --from --chown --chmod, ADD, FROM --platform */
  char **flag_mount;                                         /* RUN --mount (refused when the step is planned) */
  char *flag_network, *flag_security;                        /* RUN's other BuildKit-only flags */
  /* FROM: the base (args[0]) and the stage name, lower case, or NULL. */
  char *stage_name;
  /* HEALTHCHECK: Docker's HealthConfig. test[0] is "NONE", "CMD" or "CMD-SHELL"; durations in nanoseconds, 0 when
     not given; retries 0 when not given. */
  char **health_test;
  int64_t health_interval, health_timeout, health_start_period;
  int health_retries;
  /* ONBUILD: the trigger, parsed as an instruction of its own. */
  struct df_instruction *trigger;
};

struct dockerfile
{
  struct df_instruction *ins;
  size_t n;
  char escape;     /* '\\' or '`' (the escape parser directive) */
  char *syntax;    /* the syntax directive, which the classic builder ignores; NULL if none */
  char **warnings; /* Docker's parser warnings (empty continuation lines), and that a syntax directive is ignored */
};

/* Parses a whole Dockerfile.  Errors are Docker's: "failed to parse Dockerfile: ..." for what its parser refuses
   (a bad directive, a JSON array of non-strings, no instructions), "dockerfile parse error line N: ..." for an
   instruction's arguments or flags ("unknown instruction: FOO"), and "no build stage in current context" for an
   instruction before the first FROM other than ARG.  EINVAL for all of these. */
int dockerfile_parse (const char *buf, size_t len, struct dockerfile *out, isola_error_t *err);

/* Parses one instruction (an ONBUILD trigger of a base image, `commit --change`): a Dockerfile of one line. */
int dockerfile_parse_instruction (const char *text, char escape, struct df_instruction *out, isola_error_t *err);

void df_instruction_clear (struct df_instruction *ins);
void dockerfile_clear (struct dockerfile *df);

/* Go's strconv.Quote of s, which Docker's messages use for %q. */
char *go_quote (const char *s);

#endif
