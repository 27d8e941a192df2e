/* The build plan against what dockerd 20.10's classic builder did with the same Dockerfiles (docker_cases.h): the
   error, or the image config and the history (each step's command), step by step as the builder will drive it;
   then stages, --target, COPY --from, ONBUILD triggers of a base image, ARG scopes and the cache key. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "build/dockerfile.h"
#include "build/plan.h"
#include "tap.h"

#include "docker_cases.h"

#define busybox_config docker_busybox_config

struct run
{
  struct dockerfile df;
  struct build_plan plan;
  json_t *configs[16];
  char **history; /* every step's cache command, joined by blanks */
  char *error;
};

static void
run_clear (struct run *r)
{
  for (size_t i = 0; i < 16; i++)
    json_decref (r->configs[i]);
  build_plan_clear (&r->plan);
  dockerfile_clear (&r->df);
  strv_free (r->history);
  free (r->error);
}

static char *
join (char *const *v)
{
  size_t n = 1;
  for (size_t i = 0; v[i]; i++)
    n += strlen (v[i]) + 1;
  char *s = xcalloc (1, n);
  for (size_t i = 0; v[i]; i++)
    {
      if (i)
        strcat (s, " ");
      strcat (s, v[i]);
    }
  return s;
}

/* Parses, plans and prepares every step of every stage, as the builder will: the stages' configs chain through
   FROM stage, a base image's config is base. */
static int
run_build (struct run *r, const char *text, char *const *build_args, const char *target, const char *base)
{
  memset (r, 0, sizeof *r);
  r->history = xcalloc (1, sizeof (char *));
  cleanup_error isola_error_t err = NULL;
  int ret = dockerfile_parse (text, strlen (text), &r->df, &err);
  if (ret == 0)
    ret = build_plan_make (&r->df, build_args, target, &r->plan, &err);
  for (size_t s = 0; ret == 0 && s < r->plan.n_stages && s < 16; s++)
    {
      const struct plan_stage *ps = &r->plan.stages[s];
      json_t *base_config = NULL;
      if (ps->base_stage >= 0)
        base_config = json_incref (r->configs[ps->base_stage]);
      else if (!ps->scratch && base)
        base_config = json_loads (base, 0, NULL);
      struct build_state st;
      struct df_instruction *triggers = NULL;
      size_t n_triggers = 0;
      ret = build_state_begin (&st, &r->plan, s, base_config, &triggers, &n_triggers, &err);
      json_decref (base_config);
      if (ret < 0)
        break;
      size_t n_steps = n_triggers + ps->end - ps->first - 1;
      for (size_t i = 0; ret == 0 && i < n_steps; i++)
        {
          const struct df_instruction *ins = i < n_triggers ? &triggers[i] : &r->df.ins[ps->first + 1 + i - n_triggers];
          struct build_step step;
          ret = build_step_prepare (&st, ins, &step, &err);
          if (ret == 0 && step.action == BUILD_COPY)
            {
              char *hashes[] = { "file:test", NULL };
              build_step_copy_cmd (&step, &st, hashes);
            }
          if (ret == 0)
            {
              cleanup_free char *h = join (step.cache_cmd);
              strv_push (&r->history, h);
              build_step_clear (&step);
            }
        }
      for (size_t i = 0; i < n_triggers; i++)
        df_instruction_clear (&triggers[i]);
      free (triggers);
      r->configs[s] = json_incref (st.config);
      build_state_clear (&st);
    }
  if (ret < 0)
    r->error = xstrdup (err && err->msg ? err->msg : "?");
  return ret;
}

static char **
split_args (const char *s)
{
  char **v = xcalloc (1, sizeof (char *));
  cleanup_free char *copy = xstrdup (s ? s : "");
  for (char *save = NULL, *t = strtok_r (copy, " ", &save); t; t = strtok_r (NULL, " ", &save))
    strv_push (&v, t);
  return v;
}

static void
test_docker_cases (void)
{
  for (size_t i = 0; i < ARRAY_SIZE (docker_cases); i++)
    {
      const struct docker_case *c = &docker_cases[i];
      cleanup_strv char **args = split_args (c->build_args);
      struct run r;
      int ret = run_build (&r, c->dockerfile, args, NULL, busybox_config);
      if (c->error)
        CHECK (ret < 0 && r.error && strcmp (r.error, c->error) == 0, "%s: Docker's error \"%s\" (isola: \"%s\")",
               c->name, c->error, r.error ? r.error : "none");
      else
        {
          json_t *want = json_loads (c->config, 0, NULL);
          json_t *got = ret == 0 ? r.configs[r.plan.n_stages - 1] : NULL;
          cleanup_free char *got_s = got ? json_dumps (got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
          CHECK (ret == 0 && want && json_equal (want, got), "%s: Docker's config %s (isola: %s)", c->name, c->config,
                 got_s ? got_s : r.error);
          json_decref (want);
          if (c->history)
            {
              /* Docker's history of the last stage: its steps are the last ones planned. */
              size_t n_want = strv_len ((char **)c->history), n_got = strv_len (r.history);
              bool same = n_got >= n_want;
              for (size_t k = 0; same && k < n_want; k++)
                same = strcmp (c->history[k], r.history[n_got - n_want + k]) == 0;
              CHECK (same, "%s: Docker's history, step by step (%zu steps)", c->name, n_want);
              for (size_t k = 0; !same && k < n_want && n_got >= n_want; k++)
                printf ("#   docker: %s\n#   isola:  %s\n", c->history[k], r.history[n_got - n_want + k]);
            }
        }
      run_clear (&r);
    }
}

static void
test_stages_and_target (void)
{
  const char *df = "ARG IMG=busybox\n"
                   "FROM $IMG AS build\nRUN make\n"
                   "FROM build AS Test\nRUN make test\n"
                   "FROM scratch\nCOPY --from=build /out /out\nCOPY --from=1 /r /r\nCOPY --from=alpine:3 /x /x\n"
                   "COPY --from=final /y /y\n";
  struct run r;
  CHECK (run_build (&r, df, NULL, NULL, busybox_config) == 0, "a three-stage build plans");
  CHECK (r.plan.n_stages == 3, "three stages");
  CHECK_STR (r.plan.stages[0].base, "busybox", "FROM $IMG: the meta ARG");
  CHECK (r.plan.stages[1].base_stage == 0, "FROM build: the first stage");
  CHECK_STR (r.plan.stages[1].name, "test", "stage names are lower case");
  CHECK (r.plan.stages[2].scratch && r.plan.stages[2].base_stage == -1, "FROM scratch");
  run_clear (&r);

  CHECK (run_build (&r, df, NULL, "test", busybox_config) == 0 && r.plan.n_stages == 2,
         "--target test: the stages up to it (case-insensitive)");
  run_clear (&r);
  CHECK (run_build (&r, df, NULL, "nope", busybox_config) < 0
             && strcmp (r.error, "failed to reach build target nope in Dockerfile") == 0,
         "--target of no stage: Docker's error");
  run_clear (&r);

  /* COPY --from, step by step in the last stage. */
  cleanup_error isola_error_t err = NULL;
  struct dockerfile d;
  struct build_plan plan;
  CHECK (dockerfile_parse (df, strlen (df), &d, &err) == 0 && build_plan_make (&d, NULL, NULL, &plan, &err) == 0,
         "parsed and planned");
  struct build_state st;
  struct df_instruction *t;
  size_t nt;
  CHECK (build_state_begin (&st, &plan, 2, NULL, &t, &nt, &err) == 0 && nt == 0, "the last stage begins");
  const int want_stage[] = { 0, 1, -1, -1 };
  const char *want_image[] = { NULL, NULL, "alpine:3", "final" };
  for (size_t i = 0; i < 4; i++)
    {
      struct build_step step;
      CHECK (build_step_prepare (&st, &d.ins[plan.stages[2].first + 1 + i], &step, &err) == 0
                 && step.action == BUILD_COPY && step.from_stage == want_stage[i]
                 && ((want_image[i] == NULL && step.from_image == NULL)
                     || (want_image[i] && step.from_image && strcmp (step.from_image, want_image[i]) == 0)),
             "COPY --from %zu: stage %d, image %s", i, want_stage[i], want_image[i] ? want_image[i] : "none");
      build_step_clear (&step);
    }
  build_state_clear (&st);
  build_plan_clear (&plan);
  dockerfile_clear (&d);

  CHECK (run_build (&r, "FROM scratch\nCOPY --from=3 /a /b\n", NULL, NULL, NULL) < 0
             && strcmp (r.error, "invalid from flag value 3: invalid stage index 3") == 0,
         "COPY --from an index past the stages");
  run_clear (&r);
  CHECK (run_build (&r, "ARG B\nFROM ${B}\n", NULL, NULL, NULL) < 0
             && strcmp (r.error, "base name (${B}) should not be blank") == 0,
         "FROM of an empty ARG");
  run_clear (&r);
}

static void
test_onbuild_from_image (void)
{
  const char *base = "{\"Env\":[\"PATH=/bin\"],\"OnBuild\":[\"ENV T=fired\",\"LABEL x=$T\",\"RUN echo hi\"]}";
  struct run r;
  CHECK (run_build (&r, "FROM parent\nENV after=1\n", NULL, NULL, base) == 0, "a base image with ONBUILD triggers");
  json_t *c = r.configs[0];
  CHECK (json_object_get (c, "OnBuild") == NULL, "the triggers are not inherited");
  json_t *want_env = json_pack ("[sss]", "PATH=/bin", "T=fired", "after=1");
  CHECK (json_equal (json_object_get (c, "Env"), want_env), "the triggers ran first, in order");
  json_decref (want_env);
  CHECK_STR (json_string_value (json_object_get (json_object_get (c, "Labels"), "x")), "fired",
             "a trigger's substitution sees the earlier trigger's ENV");
  CHECK (strv_len (r.history) == 4 && strcmp (r.history[2], "/bin/sh -c echo hi") == 0, "RUN triggered");
  run_clear (&r);

  CHECK (run_build (&r, "FROM parent\n", NULL, NULL, "{\"OnBuild\":[\"BOGUS x\"]}") < 0
             && strcmp (r.error, "dockerfile parse error line 1: unknown instruction: BOGUS") == 0,
         "an unknown trigger fails the child build with Docker's error");
  run_clear (&r);
}

static void
test_arg_scopes (void)
{
  const char *df = "ARG M=meta\nARG ONLYMETA=om\nFROM scratch\nARG M\nARG D=def\nARG U\n"
                   "ENV a=$M b=$ONLYMETA c=$D d=${U:-unset} e=$HTTP_PROXY\n"
                   "FROM scratch\nENV a=${M:-none}\n";
  char *args[] = { "D=cli", "HTTP_PROXY=p", "NOTUSED=1", NULL };
  struct run r;
  CHECK (run_build (&r, df, args, NULL, NULL) == 0, "ARG scopes plan");
  json_t *env0 = json_object_get (r.configs[0], "Env");
  cleanup_free char *e0 = json_dumps (env0, JSON_COMPACT);
  CHECK (strstr (e0, "\"a=meta\"") && strstr (e0, "\"b=\"") && strstr (e0, "\"c=cli\"") && strstr (e0, "\"d=unset\"")
             && strstr (e0, "\"e=p\""),
         "redeclared meta ARG, meta-only ARG empty, --build-arg over a default, unset ARG, predefined ARG: %s", e0);
  cleanup_free char *e1 = json_dumps (json_object_get (r.configs[1], "Env"), JSON_COMPACT);
  CHECK (strstr (e1, "\"a=none\""), "a meta ARG not redeclared is not in the second stage: %s", e1);
  CHECK (r.plan.warnings[0]
             && strcmp (r.plan.warnings[0], "[Warning] One or more build-args [NOTUSED] were not "
                                            "consumed")
                    == 0,
         "Docker's warning for an unused --build-arg");
  run_clear (&r);
}

static void
test_cache_key (void)
{
  const char *df = "FROM busybox\nENV A=1\nRUN make\nWORKDIR /w\n";
  struct run r1, r2;
  run_build (&r1, df, NULL, NULL, busybox_config);
  run_build (&r2, df, NULL, NULL, busybox_config);
  json_t *cfg = r1.configs[0];
  char *cmd[] = { "/bin/sh", "-c", "make", NULL };
  char *cmd2[] = { "/bin/sh", "-c", "make all", NULL };
  digest_hex_t k1, k2, k3, k4, k5;
  build_cache_key ("sha256:aa", cfg, cmd, k1);
  build_cache_key ("sha256:aa", r2.configs[0], cmd, k2);
  CHECK (strcmp (k1, k2) == 0 && digest_hex_valid (k1), "the same parent, config and command: the same key");
  build_cache_key ("sha256:bb", cfg, cmd, k3);
  CHECK (strcmp (k1, k3) != 0, "another parent: another key");
  build_cache_key ("sha256:aa", cfg, cmd2, k4);
  CHECK (strcmp (k1, k4) != 0, "another command: another key");
  json_t *other = json_deep_copy (cfg);
  json_object_set_new (other, "WorkingDir", json_string ("/elsewhere"));
  build_cache_key ("sha256:aa", other, cmd, k5);
  CHECK (strcmp (k1, k5) == 0, "WorkingDir is not compared (Docker's compare.go; WORKDIR's command names it)");
  json_array_append_new (json_object_get (other, "Env"), json_string ("B=2"));
  build_cache_key ("sha256:aa", other, cmd, k5);
  CHECK (strcmp (k1, k5) != 0, "another Env: another key");
  json_decref (other);
  run_clear (&r1);
  run_clear (&r2);

  /* A RUN's key moves with a --build-arg it sees, not with an undeclared proxy. */
  const char *dfa = "FROM busybox\nARG V\nRUN make\n";
  char *a1[] = { "V=1", NULL }, *a2[] = { "V=2", NULL }, *p1[] = { "V=1", "http_proxy=x", NULL };
  run_build (&r1, dfa, a1, NULL, busybox_config);
  run_build (&r2, dfa, a2, NULL, busybox_config);
  CHECK_STR (r1.history[1], "|1 V=1 /bin/sh -c make", "RUN's command carries the ARG values (Docker's |N form)");
  CHECK (strcmp (r1.history[1], r2.history[1]) != 0, "another --build-arg value: another RUN command");
  run_clear (&r2);
  run_build (&r2, dfa, p1, NULL, busybox_config);
  CHECK_STR (r2.history[1], r1.history[1], "an undeclared proxy ARG stays out of the cache key");
  run_clear (&r1);
  run_clear (&r2);
}

static void
test_copy_cmd (void)
{
  const char *df = "FROM busybox\nENV D=/dst\nCOPY --chown=1:${D} a $D/\nADD a b /m/\n";
  cleanup_error isola_error_t err = NULL;
  struct dockerfile d;
  struct build_plan plan;
  struct build_state st;
  struct df_instruction *t;
  size_t nt;
  json_t *base = json_loads (busybox_config, 0, NULL);
  CHECK (dockerfile_parse (df, strlen (df), &d, &err) == 0 && build_plan_make (&d, NULL, NULL, &plan, &err) == 0
             && build_state_begin (&st, &plan, 0, base, &t, &nt, &err) == 0,
         "COPY plan");
  struct build_step s;
  build_step_prepare (&st, &d.ins[1], &s, &err);
  build_step_clear (&s);
  CHECK (build_step_prepare (&st, &d.ins[2], &s, &err) == 0 && s.action == BUILD_COPY, "COPY is a copy step");
  CHECK (strv_len (s.srcs) == 1 && strcmp (s.srcs[0], "a") == 0 && strcmp (s.dest, "/dst/") == 0
             && strcmp (s.chown, "1:/dst") == 0,
         "COPY's paths and --chown substituted");
  char *one[] = { "file:abc", NULL };
  build_step_copy_cmd (&s, &st, one);
  cleanup_free char *c1 = join (s.cache_cmd);
  CHECK_STR (c1, "/bin/sh -c #(nop) COPY --chown=1:/dstfile:abc in /dst/ ", "COPY's command, as Docker writes it");
  build_step_clear (&s);
  CHECK (build_step_prepare (&st, &d.ins[3], &s, &err) == 0, "ADD");
  char *two[] = { "file:abc", "dir:def", NULL };
  build_step_copy_cmd (&s, &st, two);
  digest_hex_t multi;
  digest_buffer ("file:abc,dir:def", strlen ("file:abc,dir:def"), multi);
  cleanup_free char *want = xasprintf ("/bin/sh -c #(nop) ADD multi:%s in /m/ ", multi);
  cleanup_free char *c2 = join (s.cache_cmd);
  CHECK_STR (c2, want, "several sources: multi:sha256 of their hashes");
  build_step_clear (&s);
  build_state_clear (&st);
  build_plan_clear (&plan);
  dockerfile_clear (&d);
  json_decref (base);

  struct run r;
  CHECK (run_build (&r, "FROM scratch\nCOPY --chmod=0755 a b\n", NULL, NULL, NULL) == 0, "--chmod in octal");
  run_clear (&r);
  CHECK (run_build (&r, "FROM scratch\nCOPY --chmod=rwx a b\n", NULL, NULL, NULL) < 0 && strstr (r.error, "chmod"),
         "a --chmod that is not octal: %s", r.error ? r.error : "");
  run_clear (&r);
}

static void
test_go_formats (void)
{
  const struct
  {
    int64_t ns;
    const char *s;
  } d[] = { { 0, "0s" },
            { 1, "1ns" },
            { 1500, "1.5\xc2\xb5s" },
            { 500000000, "500ms" },
            { 5000000000, "5s" },
            { 90000000000, "1m30s" },
            { 7200000000000, "2h0m0s" },
            { 1500000000, "1.5s" },
            { -2000000000, "-2s" } };
  for (size_t i = 0; i < ARRAY_SIZE (d); i++)
    {
      cleanup_free char *s = go_duration (d[i].ns);
      CHECK_STR (s, d[i].s, "time.Duration(%lld) is %s", (long long)d[i].ns, d[i].s);
    }
  char *v[] = { "a b", "c\"", NULL };
  cleanup_free char *q = go_quote_list (v);
  cleanup_free char *l = go_list (v);
  CHECK_STR (q, "[\"a b\" \"c\\\"\"]", "%%q of a slice");
  CHECK_STR (l, "[a b c\"]", "%%v of a slice");
}

int
main (void)
{
  test_docker_cases ();
  test_stages_and_target ();
  test_onbuild_from_image ();
  test_arg_scopes ();
  test_cache_key ();
  test_copy_cmd ();
  test_go_formats ();
  return tap_done ();
}
