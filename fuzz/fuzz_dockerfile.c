/* libFuzzer target: a Dockerfile from the build context (build/dockerfile.c), then its plan and every step's
   substitution (build/plan.c, build/shlex.c) as the builder will drive them.  Any input parses or fails with a
   message; a parsed file has instructions with their lines in order; each instruction's text parses again alone to
   the same instruction; planning and every step succeed or fail with a message, and leave a config object. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "build/dockerfile.h"
#include "build/plan.h"

static void
check_error (int ret, isola_error_t err)
{
  if ((ret < 0) != (err != NULL) || (err != NULL && (err->msg == NULL || *err->msg == '\0')))
    abort ();
}

static void
plan_all (const struct dockerfile *df)
{
  static char *build_args[] = { "A=1", "HTTP_PROXY=p", "B", NULL };
  static const char base[] = "{\"Env\":[\"PATH=/bin\"],\"OnBuild\":[\"ENV T=1\",\"RUN x\"]}";
  struct build_plan plan;
  cleanup_error isola_error_t err = NULL;
  int ret = build_plan_make (df, build_args, NULL, &plan, &err);
  check_error (ret, err);
  if (ret < 0)
    return;
  for (size_t s = 0; s < plan.n_stages; s++)
    {
      json_t *base_config = plan.stages[s].scratch ? NULL : json_loads (base, 0, NULL);
      struct build_state st;
      struct df_instruction *triggers;
      size_t n_triggers;
      cleanup_error isola_error_t e2 = NULL;
      ret = build_state_begin (&st, &plan, s, base_config, &triggers, &n_triggers, &e2);
      json_decref (base_config);
      check_error (ret, e2);
      if (ret < 0)
        continue;
      for (size_t i = 0; i < n_triggers + plan.stages[s].end - plan.stages[s].first - 1; i++)
        {
          const struct df_instruction *ins
              = i < n_triggers ? &triggers[i] : &df->ins[plan.stages[s].first + 1 + i - n_triggers];
          struct build_step step;
          cleanup_error isola_error_t e3 = NULL;
          ret = build_step_prepare (&st, ins, &step, &e3);
          check_error (ret, e3);
          if (ret < 0)
            break;
          if (step.action == BUILD_COPY)
            {
              char *hashes[] = { "file:0", "dir:1", NULL };
              build_step_copy_cmd (&step, &st, hashes);
            }
          if (step.cache_cmd == NULL || !json_is_object (st.config))
            abort ();
          digest_hex_t key;
          build_cache_key ("sha256:0", st.config, step.cache_cmd, key);
          build_step_clear (&step);
        }
      for (size_t i = 0; i < n_triggers; i++)
        df_instruction_clear (&triggers[i]);
      free (triggers);
      build_state_clear (&st);
    }
  build_plan_clear (&plan);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct dockerfile df;
  cleanup_error isola_error_t err = NULL;
  int ret = dockerfile_parse ((const char *)data, size, &df, &err);
  check_error (ret, err);
  if (ret < 0)
    return 0;
  int prev = 0;
  for (size_t i = 0; i < df.n; i++)
    {
      const struct df_instruction *ins = &df.ins[i];
      if (ins->line <= prev || ins->end_line < ins->line || ins->kind < 0 || ins->kind >= DF_KIND_MAX)
        abort ();
      prev = ins->end_line;
      /* The joined text of an instruction is one line of its own: it parses to the same instruction. */
      struct df_instruction again;
      cleanup_error isola_error_t e2 = NULL;
      if (strchr (ins->original, '\n') == NULL
          && dockerfile_parse_instruction (ins->original, df.escape, &again, &e2) == 0)
        {
          if (again.kind != ins->kind || again.n_args != ins->n_args || again.json != ins->json)
            abort ();
          df_instruction_clear (&again);
        }
    }
  plan_all (&df);
  dockerfile_clear (&df);
  return 0;
}
