/* A build as Docker 20.10's classic builder plans it, without running anything: the stages (names, `FROM stage`,
   `--target`), the ARG scopes (ARGs before the first FROM usable in FROM only, unless a stage declares them again;
   --build-arg values; Docker's predefined proxy ARGs), and each step's substitution, its effect on the image config,
   what a RUN runs, which stage a COPY --from names, and the step's cache key (the parent image and the step's config
   with the command Docker records for it, "#(nop) ENV a=b", "|1 A=b /bin/sh -c make" or "#(nop) COPY file:HASH in
   /dst "). The builder that runs steps drives this: build_state_begin per stage, build_step_prepare per instruction. */
#ifndef ISOLA_BUILD_PLAN_H
#define ISOLA_BUILD_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/digest.h"
#include "base/error.h"
#include "build/dockerfile.h"

struct plan_stage
{
  char *name; /* lower case, NULL when unnamed */
  const struct df_instruction *from;
  size_t first, end; /* the stage's instructions: df->ins[first] is its FROM, [first+1, end) its steps */
  char *base;        /* FROM's image after substitution with the meta ARGs */
  int base_stage;    /* the earlier stage FROM names, or -1 */
  bool scratch;      /* FROM scratch */
};

struct build_plan
{
  const struct dockerfile *df;
  struct plan_stage *stages; /* the stages built: all of them up to --target's, in order */
  size_t n_stages;
  char **build_args;    /* --build-arg K=V (a K without a value is not set) */
  char **meta;          /* the meta ARGs' values ("K=V", --build-arg applied), for FROM */
  char **meta_declared; /* their names, with or without a value: a stage's `ARG K` takes the meta value */
  char **warnings;      /* --platform ignored; build-args not consumed, as Docker prints them */
};

/* Plans the build of df (which must outlive the plan) with --build-arg values and --target (NULL for the last
   stage).  EINVAL with Docker's messages: "failed to reach build target X in Dockerfile", a bad substitution in FROM
   or a meta ARG, "base name (X) should not be blank". */
int build_plan_make (const struct dockerfile *df, char *const *build_args, const char *target, struct build_plan *out,
                     isola_error_t *err);
void build_plan_clear (struct build_plan *plan);

/* Docker's predefined ARGs: usable in every stage without an ARG line when given with --build-arg, and left out of
   RUN's cache key unless declared. */
bool build_arg_is_predefined (const char *name);

/* The state of one stage while its steps are planned: the image config being built (Docker's container Config
   shape: Env, Cmd, Entrypoint, WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal, Healthcheck, OnBuild,
   Shell), the ARGs declared so far, and what the builder reports. */
struct build_state
{
  const struct build_plan *plan;
  size_t stage;
  json_t *config;
  char *author; /* MAINTAINER */
  bool cmd_set; /* CMD given in this stage: ENTRYPOINT then keeps it */
  char **args;  /* the stage's ARGs: "K" (no default) or "K=default", in order */
  char **notes; /* what Docker prints while building ("Note: overriding previous HEALTHCHECK") */
};

/* Begins stage i from its base image's config (NULL for scratch): copies it, adds the default PATH when the Env has
   none, and takes out its ONBUILD triggers (they run first, as Docker runs them), parsed into *triggers (n of them;
   errors are the trigger's parse errors). */
int build_state_begin (struct build_state *st, const struct build_plan *plan, size_t stage, const json_t *base_config,
                       struct df_instruction **triggers, size_t *n_triggers, isola_error_t *err);
void build_state_clear (struct build_state *st);

/* The env a step is substituted with and a RUN runs with: the config's Env, then the ARGs in scope with a value
   that the Env does not set. */
char **build_state_env (const struct build_state *st);

enum build_action
{
  BUILD_COMMIT,  /* only the config changes: Docker commits an image without a container */
  BUILD_WORKDIR, /* the config changes and the directory is made in a container */
  BUILD_RUN,     /* run a command in a container and commit its changes */
  BUILD_COPY,    /* copy sources into the image and commit */
};

struct build_step
{
  const struct df_instruction *ins;
  enum build_action action;
  /* The command the step is cached and recorded under (the image's ContainerConfig.Cmd, history's created_by).
     For COPY/ADD it needs the sources' hashes: build_step_copy_cmd. */
  char **cache_cmd;
  /* RUN: argv (the shell form through the config's Shell, or /bin/sh -c), env (build_state_env). */
  char **run_argv, **run_env;
  /* COPY/ADD: the sources and the destination after substitution, --chown and --chmod, and --from: an earlier
     stage (from_stage >= 0) or an image (from_image) or neither (the context). */
  char **srcs;
  char *dest, *chown, *chmod;
  int from_stage;
  char *from_image;
};

/* Substitutes the instruction where Docker does (not RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD), applies
   it to st->config and fills step.  Errors are Docker's ("failed to process ...", "Invalid signal: X", "invalid from
   flag value 1: refers to current build stage", "the
   --mount option requires BuildKit ..."). */
int build_step_prepare (struct build_state *st, const struct df_instruction *ins, struct build_step *step,
                        isola_error_t *err);
void build_step_clear (struct build_step *step);

/* COPY/ADD's cache command once the sources are hashed (context_source_hash): one source's hash, or
   "multi:sha256(hashes joined by ',')" for several. */
void build_step_copy_cmd (struct build_step *step, const struct build_state *st, char *const *src_hashes);

/* The classic builder's cache key: a child of parent_id ("" for none: FROM scratch) made by a step whose config
   (after the step) has what Docker's image cache compares (Cmd: the step's cache command, Env, Labels,
   ExposedPorts, Entrypoint, Volumes, User) equal.  A pure function. */
void build_cache_key (const char *parent_id, const json_t *config, char *const *cache_cmd, digest_hex_t out);

/* Go's fmt %q of a string slice (["a" "b"]) and %v ([a b]), which Docker's step commands use. */
char *go_quote_list (char *const *v);
char *go_list (char *const *v);
/* Go's time.Duration.String (5m0s, 1.5s, 300ms). */
char *go_duration (int64_t ns);

#endif
