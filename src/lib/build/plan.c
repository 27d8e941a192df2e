/* The classic builder's plan (see plan.h), after Docker 20.10's builder/dockerfile: builder.go (stages, meta ARGs,
   --target), buildargs.go (ARG scopes), dispatchers.go (each instruction's effect and commit message),
   imagecontext.go (stages by name or index) and image/cache/compare.go (what a cached step must match). */
#define _GNU_SOURCE
#include "build/plan.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/env.h"
#include "base/util.h"
#include "build/shlex.h"
#include "container/lifecycle.h"

static const char *const predefined_args[] = {
  "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
  "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};

bool
build_arg_is_predefined (const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE (predefined_args); i++)
    if (strcmp (predefined_args[i], name) == 0)
      return true;
  return false;
}

static int
cmp_strp (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* ---- small helpers on "K=V" vectors ----------------------------------------------------------------------------- */

static size_t
key_len (const char *kv)
{
  return strcspn (kv, "=");
}

/* The entry for key, or NULL. */
static const char *
kv_find (char *const *v, const char *key, size_t klen)
{
  for (size_t i = 0; v && v[i]; i++)
    if (key_len (v[i]) == klen && strncmp (v[i], key, klen) == 0)
      return v[i];
  return NULL;
}

/* The value of key in v: NULL when absent or given without "=". */
static const char *
kv_value (char *const *v, const char *key)
{
  const char *e = kv_find (v, key, strlen (key));
  return e && e[key_len (e)] == '=' ? e + key_len (e) + 1 : NULL;
}

/* Sets KEY=VALUE in v, replacing an entry of the same key. */
static void
kv_set (char ***v, const char *key, const char *value)
{
  cleanup_free char *entry = value ? xasprintf ("%s=%s", key, value) : xstrdup (key);
  size_t klen = strlen (key);
  for (size_t i = 0; *v && (*v)[i]; i++)
    if (key_len ((*v)[i]) == klen && strncmp ((*v)[i], key, klen) == 0)
      {
        free ((*v)[i]);
        (*v)[i] = take_ptr (&entry);
        return;
      }
  strv_push (v, entry);
}

/* ---- Go's formatting, as Docker's commit messages print values -------------------------------------------------- */

char *
go_quote_list (char *const *v)
{
  size_t cap = 3;
  for (size_t i = 0; v && v[i]; i++)
    cap += strlen (v[i]) * 4 + 3;
  char *out = xmalloc (cap), *p = out;
  *p++ = '[';
  for (size_t i = 0; v && v[i]; i++)
    {
      cleanup_free char *q = go_quote (v[i]);
      if (i)
        *p++ = ' ';
      p = stpcpy (p, q);
    }
  *p++ = ']';
  *p = '\0';
  return out;
}

char *
go_list (char *const *v)
{
  size_t cap = 3;
  for (size_t i = 0; v && v[i]; i++)
    cap += strlen (v[i]) + 1;
  char *out = xmalloc (cap), *p = out;
  *p++ = '[';
  for (size_t i = 0; v && v[i]; i++)
    {
      if (i)
        *p++ = ' ';
      p = stpcpy (p, v[i]);
    }
  *p++ = ']';
  *p = '\0';
  return out;
}

/* u as an integer part and `digits` decimals with trailing zeros (and a lone point) dropped: Go's fmtFrac+fmtInt. */
static void
put_frac (char *buf, size_t len, uint64_t u, int digits)
{
  uint64_t scale = 1;
  for (int i = 0; i < digits; i++)
    scale *= 10;
  uint64_t frac = u % scale;
  int n = snprintf (buf, len, "%" PRIu64, u / scale);
  if (frac == 0 || n < 0)
    return;
  /* digits is 3, 6 or 9: the fraction, zero-padded, without the leading "1" of scale + frac. */
  char f[32];
  snprintf (f, sizeof f, "%" PRIu64, scale + frac);
  memmove (f, f + 1, strlen (f));
  size_t fl = strlen (f);
  while (fl > 0 && f[fl - 1] == '0')
    f[--fl] = '\0';
  snprintf (buf + n, len - (size_t)n, ".%s", f);
}

char *
go_duration (int64_t ns)
{
  if (ns == 0)
    return xstrdup ("0s");
  bool neg = ns < 0;
  uint64_t u = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
  char num[64];
  if (u < 1000000000ULL)
    {
      const char *unit;
      if (u < 1000)
        {
          snprintf (num, sizeof num, "%" PRIu64, u);
          unit = "ns";
        }
      else if (u < 1000000)
        {
          put_frac (num, sizeof num, u, 3);
          unit = "\xc2\xb5s";
        }
      else
        {
          put_frac (num, sizeof num, u, 6);
          unit = "ms";
        }
      return xasprintf ("%s%s%s", neg ? "-" : "", num, unit);
    }
  put_frac (num, sizeof num, u % 60000000000ULL, 9);
  uint64_t minutes = u / 60000000000ULL;
  if (minutes == 0)
    return xasprintf ("%s%ss", neg ? "-" : "", num);
  uint64_t hours = minutes / 60;
  if (hours == 0)
    return xasprintf ("%s%" PRIu64 "m%ss", neg ? "-" : "", minutes, num);
  return xasprintf ("%s%" PRIu64 "h%" PRIu64 "m%ss", neg ? "-" : "", hours, minutes % 60, num);
}

/* Go's %q of an int: strconv.QuoteRune. */
static char *
go_quote_rune (int r)
{
  switch (r)
    {
    case '\a':
      return xstrdup ("'\\a'");
    case '\b':
      return xstrdup ("'\\b'");
    case '\f':
      return xstrdup ("'\\f'");
    case '\n':
      return xstrdup ("'\\n'");
    case '\r':
      return xstrdup ("'\\r'");
    case '\t':
      return xstrdup ("'\\t'");
    case '\v':
      return xstrdup ("'\\v'");
    case '\'':
      return xstrdup ("'\\''");
    case '\\':
      return xstrdup ("'\\\\'");
    }
  if (r >= 0 && (r < 0x20 || r == 0x7f))
    return xasprintf ("'\\x%02x'", r);
  if (r >= 0x20 && r < 0x7f)
    return xasprintf ("'%c'", r);
  return xasprintf ("'\\u%04x'", (unsigned)r & 0xffff);
}

/* ---- the plan -----------------------------------------------------------------------------------------------------
 */

void
build_plan_clear (struct build_plan *plan)
{
  if (plan == NULL)
    return;
  for (size_t i = 0; i < plan->n_stages; i++)
    {
      free (plan->stages[i].name);
      free (plan->stages[i].base);
    }
  free (plan->stages);
  strv_free (plan->build_args);
  strv_free (plan->meta);
  strv_free (plan->meta_declared);
  strv_free (plan->warnings);
  memset (plan, 0, sizeof *plan);
}

/* An ARG word: its name and its default (NULL without "="). */
static void
split_arg (const char *word, char **name, char **value)
{
  const char *eq = strchr (word, '=');
  *name = eq ? strndup (word, (size_t)(eq - word)) : xstrdup (word);
  *value = eq ? xstrdup (eq + 1) : NULL;
}

/* The meta ARGs (before the first FROM): each default substituted with the meta ARGs so far, a --build-arg
   overriding it (processMetaArg, BuildArgs.GetAllMeta). */
static int
plan_meta_args (struct build_plan *plan, size_t first_from, isola_error_t *err)
{
  plan->meta = xcalloc (1, sizeof (char *));
  plan->meta_declared = xcalloc (1, sizeof (char *));
  for (size_t i = 0; i < first_from; i++)
    {
      const struct df_instruction *ins = &plan->df->ins[i];
      for (size_t a = 0; a < ins->n_args; a++)
        {
          cleanup_free char *name = NULL, *value = NULL;
          split_arg (ins->args[a], &name, &value);
          if (value)
            {
              cleanup_free char *expanded = NULL;
              int ret = shlex_process_word (value, plan->df->escape, plan->meta, &expanded, err);
              if (ret < 0)
                return ret;
              free (value);
              value = take_ptr (&expanded);
            }
          const char *given = kv_value (plan->build_args, name);
          if (given)
            kv_set (&plan->meta, name, given);
          else if (value)
            kv_set (&plan->meta, name, value);
          kv_set (&plan->meta_declared, name, NULL);
        }
    }
  /* The predefined ARGs given on the command line are meta ARGs too. */
  for (size_t i = 0; i < ARRAY_SIZE (predefined_args); i++)
    {
      const char *given = kv_value (plan->build_args, predefined_args[i]);
      if (given && !kv_find (plan->meta, predefined_args[i], strlen (predefined_args[i])))
        kv_set (&plan->meta, predefined_args[i], given);
    }
  return 0;
}

static int
find_stage_by_name (const struct build_plan *plan, size_t before, const char *name)
{
  for (size_t i = 0; i < before; i++)
    if (plan->stages[i].name && strcasecmp (plan->stages[i].name, name) == 0)
      return (int)i;
  return -1;
}

/* The --build-arg values no ARG of the built stages (nor a meta ARG) declared: Docker's warning. */
static void
plan_unused_args (struct build_plan *plan)
{
  cleanup_strv char **unused = xcalloc (1, sizeof (char *));
  for (size_t i = 0; plan->build_args && plan->build_args[i]; i++)
    {
      cleanup_free char *name = strndup (plan->build_args[i], key_len (plan->build_args[i]));
      if (build_arg_is_predefined (name) || kv_find (plan->meta_declared, name, strlen (name)))
        continue;
      bool used = false;
      for (size_t s = 0; s < plan->n_stages && !used; s++)
        for (size_t k = plan->stages[s].first + 1; k < plan->stages[s].end && !used; k++)
          {
            const struct df_instruction *ins = &plan->df->ins[k];
            for (size_t a = 0; ins->kind == DF_ARG && a < ins->n_args && !used; a++)
              used = key_len (ins->args[a]) == strlen (name) && strncmp (ins->args[a], name, strlen (name)) == 0;
          }
      if (!used)
        strv_push (&unused, name);
    }
  if (unused[0])
    {
      cleanup_free char *list = go_list (unused);
      cleanup_free char *w = xasprintf ("[Warning] One or more build-args %s were not consumed", list);
      strv_push (&plan->warnings, w);
    }
}

int
build_plan_make (const struct dockerfile *df, char *const *build_args, const char *target, struct build_plan *out,
                 isola_error_t *err)
{
  memset (out, 0, sizeof *out);
  out->df = df;
  out->warnings = xcalloc (1, sizeof (char *));
  out->build_args = xcalloc (1, sizeof (char *));
  for (size_t i = 0; build_args && build_args[i]; i++)
    {
      cleanup_free char *name = strndup (build_args[i], key_len (build_args[i]));
      const char *eq = strchr (build_args[i], '=');
      kv_set (&out->build_args, name, eq ? eq + 1 : NULL);
    }
  size_t first_from = 0;
  while (first_from < df->n && df->ins[first_from].kind != DF_FROM)
    first_from++;
  int ret = plan_meta_args (out, first_from, err);
  if (ret < 0)
    goto fail;

  size_t n_from = 0;
  for (size_t i = first_from; i < df->n; i++)
    n_from += df->ins[i].kind == DF_FROM;
  out->stages = xcalloc (n_from + 1, sizeof *out->stages);
  for (size_t i = first_from; i < df->n; i++)
    {
      if (df->ins[i].kind != DF_FROM)
        continue;
      struct plan_stage *s = &out->stages[out->n_stages];
      s->from = &df->ins[i];
      s->first = i;
      s->end = i + 1;
      while (s->end < df->n && df->ins[s->end].kind != DF_FROM)
        s->end++;
      s->name = s->from->stage_name ? xstrdup (s->from->stage_name) : NULL;
      s->base_stage = -1;
      out->n_stages++;
    }

  size_t built = out->n_stages;
  if (target && *target)
    {
      size_t t = 0;
      while (t < out->n_stages && !(out->stages[t].name && strcasecmp (out->stages[t].name, target) == 0))
        t++;
      if (t == out->n_stages)
        {
          ret = isola_error_fail (err, EINVAL, "failed to reach build target %s in Dockerfile", target);
          goto fail;
        }
      built = t + 1;
    }
  for (size_t i = built; i < out->n_stages; i++)
    {
      free (out->stages[i].name);
      out->stages[i].name = NULL;
    }
  out->n_stages = built;

  for (size_t i = 0; i < out->n_stages; i++)
    {
      struct plan_stage *s = &out->stages[i];
      const char *written = s->from->args[0];
      ret = shlex_process_word (written, df->escape, out->meta, &s->base, err);
      if (ret < 0)
        goto fail;
      if (*s->base == '\0')
        {
          ret = isola_error_fail (err, EINVAL, "base name (%s) should not be blank", written);
          goto fail;
        }
      s->base_stage = find_stage_by_name (out, i, s->base);
      s->scratch = s->base_stage < 0 && strcmp (s->base, "scratch") == 0;
      if (s->from->flag_platform)
        {
          cleanup_free char *w = xasprintf ("[Warning] FROM --platform=%s is ignored: isola builds for the host's "
                                            "platform (line %d)",
                                            s->from->flag_platform, s->from->line);
          strv_push (&out->warnings, w);
        }
    }
  plan_unused_args (out);
  return 0;
fail:
  build_plan_clear (out);
  return ret;
}

/* ---- a stage's state -----------------------------------------------------------------------------------------------
 */

void
build_state_clear (struct build_state *st)
{
  if (st == NULL)
    return;
  json_decref (st->config);
  free (st->author);
  strv_free (st->args);
  strv_free (st->notes);
  memset (st, 0, sizeof *st);
}

static char **
config_strv (const json_t *config, const char *key)
{
  char **v = xcalloc (1, sizeof (char *));
  json_t *a = json_object_get (config, key);
  size_t i;
  json_t *e;
  json_array_foreach (a, i, e) if (json_is_string (e)) strv_push (&v, json_string_value (e));
  return v;
}

static json_t *
strv_json (char *const *v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, json_string (v[i]));
  return a;
}

int
build_state_begin (struct build_state *st, const struct build_plan *plan, size_t stage, const json_t *base_config,
                   struct df_instruction **triggers, size_t *n_triggers, isola_error_t *err)
{
  memset (st, 0, sizeof *st);
  *triggers = NULL;
  *n_triggers = 0;
  st->plan = plan;
  st->stage = stage;
  st->args = xcalloc (1, sizeof (char *));
  st->notes = xcalloc (1, sizeof (char *));
  st->config = json_is_object (base_config) ? json_deep_copy (base_config) : json_object ();
  cleanup_strv char **env = config_strv (st->config, "Env");
  if (kv_find (env, "PATH", 4) == NULL)
    {
      strv_push (&env, "PATH=" ISOLA_DEFAULT_PATH);
      json_object_set_new (st->config, "Env", strv_json (env));
    }
  cleanup_strv char **onbuild = config_strv (st->config, "OnBuild");
  if (onbuild[0] == NULL)
    return 0;
  /* Docker copies the triggers out and leaves the config's OnBuild empty: the child image does not inherit them. */
  json_object_del (st->config, "OnBuild");
  size_t n = strv_len (onbuild);
  struct df_instruction *t = xcalloc (n, sizeof *t);
  for (size_t i = 0; i < n; i++)
    {
      int ret = dockerfile_parse_instruction (onbuild[i], plan->df->escape, &t[i], err);
      if (ret < 0)
        {
          for (size_t k = 0; k < i; k++)
            df_instruction_clear (&t[k]);
          free (t);
          build_state_clear (st);
          return ret;
        }
    }
  *triggers = t;
  *n_triggers = n;
  return 0;
}

/* An ARG's value in this stage (BuildArgs.getBuildArg): --build-arg, else its default, else the meta ARG's value. */
static const char *
arg_value (const struct build_state *st, const char *entry, const char *name)
{
  const char *given = kv_value (st->plan->build_args, name);
  if (given)
    return given;
  if (entry[key_len (entry)] == '=')
    return entry + key_len (entry) + 1;
  return kv_value (st->plan->meta, name);
}

char **
build_state_env (const struct build_state *st)
{
  char **env = config_strv (st->config, "Env");
  size_t n_env = strv_len (env);
  for (size_t i = 0; st->args[i]; i++)
    {
      cleanup_free char *name = strndup (st->args[i], key_len (st->args[i]));
      const char *v = arg_value (st, st->args[i], name);
      /* FilterAllowed: the Env (as the stage started this step) wins over an ARG of the same name. */
      bool in_env = false;
      for (size_t k = 0; k < n_env && !in_env; k++)
        in_env = key_len (env[k]) == strlen (name) && strncmp (env[k], name, strlen (name)) == 0;
      if (v && !in_env)
        {
          cleanup_free char *kv = xasprintf ("%s=%s", name, v);
          strv_push (&env, kv);
        }
    }
  for (size_t i = 0; i < ARRAY_SIZE (predefined_args); i++)
    {
      const char *v = kv_value (st->plan->build_args, predefined_args[i]);
      if (v && !kv_find (env, predefined_args[i], strlen (predefined_args[i])))
        {
          cleanup_free char *kv = xasprintf ("%s=%s", predefined_args[i], v);
          strv_push (&env, kv);
        }
    }
  return env;
}

/* ---- steps
 * ------------------------------------------------------------------------------------------------------------ */

void
build_step_clear (struct build_step *step)
{
  if (step == NULL)
    return;
  strv_free (step->cache_cmd);
  strv_free (step->run_argv);
  strv_free (step->run_env);
  strv_free (step->srcs);
  free (step->dest);
  free (step->chown);
  free (step->chmod);
  free (step->from_image);
  memset (step, 0, sizeof *step);
}

static char **
state_shell (const struct build_state *st)
{
  char **shell = config_strv (st->config, "Shell");
  if (shell[0] == NULL)
    {
      strv_push (&shell, "/bin/sh");
      strv_push (&shell, "-c");
    }
  return shell;
}

/* withCmdComment: the shell, "#(nop) ", the comment (history shows "#(nop)  ENV a=b", two blanks). */
static char **
comment_cmd (const struct build_state *st, const char *comment)
{
  char **cmd = state_shell (st);
  strv_push (&cmd, "#(nop) ");
  strv_push (&cmd, comment);
  return cmd;
}

/* withCmdCommentString, which WORKDIR, COPY and ADD use: "#(nop) " and the comment as one word. */
static char **
comment_string_cmd (const struct build_state *st, const char *comment)
{
  char **cmd = state_shell (st);
  cleanup_free char *word = xasprintf ("#(nop) %s", comment);
  strv_push (&cmd, word);
  return cmd;
}

/* resolveCmdLine: the JSON form as it is, the shell form through the shell. */
static char **
command_line (const struct build_state *st, const struct df_instruction *ins)
{
  if (ins->json)
    {
      char **v = xcalloc (1, sizeof (char *));
      for (size_t i = 0; i < ins->n_args; i++)
        strv_push (&v, ins->args[i]);
      return v;
    }
  char **v = state_shell (st);
  strv_push (&v, ins->n_args ? ins->args[0] : "");
  return v;
}

static int
expand (const struct build_state *st, char *const *env, const char *word, char **out, isola_error_t *err)
{
  return shlex_process_word (word, st->plan->df->escape, env, out, err);
}

static json_t *
object_member (json_t *config, const char *key)
{
  json_t *o = json_object_get (config, key);
  if (!json_is_object (o))
    {
      o = json_object ();
      json_object_set_new (config, key, o);
    }
  return o;
}

/* ENV and LABEL: every key and value substituted with the env before the instruction. */
static int
step_pairs (struct build_state *st, const struct df_instruction *ins, char *const *env, struct build_step *step,
            isola_error_t *err)
{
  bool is_env = ins->kind == DF_ENV;
  cleanup_strv char **config_env = config_strv (st->config, "Env");
  size_t cap = strlen (ins->original) * 2 + 16;
  cleanup_free char *msg = xmalloc (cap);
  strcpy (msg, is_env ? "ENV" : "LABEL");
  for (size_t i = 0; i + 1 < ins->n_args; i += 2)
    {
      cleanup_free char *key = NULL, *value = NULL;
      int ret = expand (st, env, ins->args[i], &key, err);
      if (ret < 0 || (ret = expand (st, env, ins->args[i + 1], &value, err)) < 0)
        return ret;
      if (is_env)
        kv_set (&config_env, key, value);
      else
        json_object_set_new (object_member (st->config, "Labels"), key, json_string (value));
      cleanup_free char *part = xasprintf (" %s=%s", key, value);
      size_t need = strlen (msg) + strlen (part) + 1;
      if (need > cap)
        {
          cap = need * 2;
          msg = xrealloc (msg, cap);
        }
      strcat (msg, part);
    }
  if (is_env)
    json_object_set_new (st->config, "Env", strv_json (config_env));
  step->cache_cmd = comment_cmd (st, msg);
  return 0;
}

/* ARG: each declared in the stage's scope, its default substituted. */
static int
step_arg (struct build_state *st, const struct df_instruction *ins, char *const *env, struct build_step *step,
          isola_error_t *err)
{
  cleanup_strv char **parts = xcalloc (1, sizeof (char *));
  for (size_t i = 0; i < ins->n_args; i++)
    {
      cleanup_free char *name = NULL, *value = NULL, *expanded = NULL;
      split_arg (ins->args[i], &name, &value);
      if (value)
        {
          int ret = expand (st, env, value, &expanded, err);
          if (ret < 0)
            return ret;
        }
      kv_set (&st->args, name, expanded);
      cleanup_free char *part = expanded ? xasprintf ("%s=%s", name, expanded) : xstrdup (name);
      strv_push (&parts, part);
    }
  cleanup_free char *joined = xstrdup ("ARG");
  for (size_t i = 0; parts[i]; i++)
    {
      char *j = xasprintf ("%s %s", joined, parts[i]);
      free (joined);
      joined = j;
    }
  step->cache_cmd = comment_cmd (st, joined);
  return 0;
}

/* nat.ParsePortSpecs for EXPOSE: PORT[-PORT][/PROTO], each port of a range exposed. */
static int
expose_port (json_t *ports, const char *spec, isola_error_t *err)
{
  cleanup_free char *s = xstrdup (spec);
  char *slash = strchr (s, '/');
  const char *proto = "tcp";
  if (slash)
    {
      *slash = '\0';
      proto = slash + 1;
      for (char *c = slash + 1; *c; c++)
        *c = (char)tolower ((unsigned char)*c);
      if (strcmp (proto, "tcp") != 0 && strcmp (proto, "udp") != 0 && strcmp (proto, "sctp") != 0)
        return isola_error_fail (err, EINVAL, "Invalid proto: %s", proto);
    }
  char *end;
  errno = 0;
  long lo = strtol (s, &end, 10), hi = lo;
  if (end == s || errno || lo < 0 || lo > 65535 || (*end && *end != '-'))
    return isola_error_fail (err, EINVAL, "Invalid containerPort: %s", s);
  if (*end == '-')
    {
      char *hs = end + 1;
      hi = strtol (hs, &end, 10);
      if (end == hs || *end || hi < lo || hi > 65535)
        return isola_error_fail (err, EINVAL, "Invalid range format for --expose: %s", s);
    }
  for (long p = lo; p <= hi; p++)
    {
      char key[32];
      snprintf (key, sizeof key, "%ld/%s", p, proto);
      json_object_set_new (ports, key, json_object ());
    }
  return 0;
}

static int
step_expose (struct build_state *st, const struct df_instruction *ins, char *const *env, struct build_step *step,
             isola_error_t *err)
{
  /* Docker sorts EXPOSE's words as written (instructions.parseExpose), before substituting them. */
  cleanup_strv char **written = xcalloc (ins->n_args + 1, sizeof (char *));
  for (size_t i = 0; i < ins->n_args; i++)
    written[i] = xstrdup (ins->args[i]);
  qsort (written, ins->n_args, sizeof (char *), cmp_strp);
  cleanup_strv char **ports = xcalloc (1, sizeof (char *));
  for (size_t i = 0; i < ins->n_args; i++)
    {
      cleanup_strv char **words = NULL;
      int ret = shlex_process_words (written[i], st->plan->df->escape, env, &words, err);
      if (ret < 0)
        return ret;
      for (size_t k = 0; words[k]; k++)
        strv_push (&ports, words[k]);
    }
  json_t *exposed = object_member (st->config, "ExposedPorts");
  for (size_t i = 0; ports[i]; i++)
    {
      int ret = expose_port (exposed, ports[i], err);
      if (ret < 0)
        return ret;
    }
  cleanup_free char *msg = xstrdup ("EXPOSE");
  for (size_t i = 0; ports[i]; i++)
    {
      char *m = xasprintf ("%s %s", msg, ports[i]);
      free (msg);
      msg = m;
    }
  step->cache_cmd = comment_cmd (st, msg);
  return 0;
}

static int
step_volume (struct build_state *st, const struct df_instruction *ins, char *const *env, struct build_step *step,
             isola_error_t *err)
{
  cleanup_strv char **vols = xcalloc (1, sizeof (char *));
  json_t *volumes = object_member (st->config, "Volumes");
  for (size_t i = 0; i < ins->n_args; i++)
    {
      cleanup_free char *v = NULL;
      int ret = expand (st, env, ins->args[i], &v, err);
      if (ret < 0)
        return ret;
      const char *t = v;
      while (isspace ((unsigned char)*t))
        t++;
      if (*t == '\0')
        return isola_error_fail (err, EINVAL, "VOLUME specified can not be an empty string");
      json_object_set_new (volumes, v, json_object ());
      strv_push (&vols, v);
    }
  cleanup_free char *list = go_list (vols);
  cleanup_free char *msg = xasprintf ("VOLUME %s", list);
  step->cache_cmd = comment_cmd (st, msg);
  return 0;
}

/* normalizeWorkdir: a relative path joins the current one (cleaned, as filepath.Join does); an absolute one is
   taken as written. */
static char *
normalize_workdir (const char *current, const char *requested)
{
  if (requested[0] == '/')
    return xstrdup (requested);
  cleanup_free char *joined = xasprintf ("/%s/%s", current ? current : "", requested);
  /* filepath.Join cleans: collapse "//", ".", "..". */
  char *out = xmalloc (strlen (joined) + 2);
  size_t w = 0;
  const char *p = joined;
  while (*p)
    {
      while (*p == '/')
        p++;
      if (*p == '\0')
        break;
      const char *e = strchrnul (p, '/');
      size_t n = (size_t)(e - p);
      if (n == 1 && p[0] == '.')
        ;
      else if (n == 2 && p[0] == '.' && p[1] == '.')
        {
          while (w > 0 && out[w - 1] != '/')
            w--;
          if (w > 0)
            w--;
        }
      else
        {
          out[w++] = '/';
          memcpy (out + w, p, n);
          w += n;
        }
      p = e;
    }
  if (w == 0)
    out[w++] = '/';
  out[w] = '\0';
  return out;
}

static char *
health_message (const struct df_instruction *ins)
{
  cleanup_free char *test = go_quote_list (ins->health_test);
  if (strcmp (ins->health_test[0], "NONE") == 0)
    return xasprintf ("HEALTHCHECK &{%s \"0s\" \"0s\" \"0s\" '\\x00'}", test);
  cleanup_free char *iv = go_duration (ins->health_interval);
  cleanup_free char *to = go_duration (ins->health_timeout);
  cleanup_free char *sp = go_duration (ins->health_start_period);
  cleanup_free char *rt = go_quote_rune (ins->health_retries);
  return xasprintf ("HEALTHCHECK &{%s \"%s\" \"%s\" \"%s\" %s}", test, iv, to, sp, rt);
}

static void
step_healthcheck (struct build_state *st, const struct df_instruction *ins, struct build_step *step)
{
  json_t *old = json_object_get (st->config, "Healthcheck");
  json_t *old_test = json_object_get (old, "Test");
  if (json_array_size (old_test) > 0 && strcmp (json_string_value (json_array_get (old_test, 0)) ?: "", "NONE") != 0)
    {
      cleanup_strv char **ov = config_strv (old, "Test");
      cleanup_free char *list = go_list (ov);
      cleanup_free char *note = xasprintf ("Note: overriding previous HEALTHCHECK: %s", list);
      strv_push (&st->notes, note);
    }
  json_t *h = json_object ();
  json_object_set_new (h, "Test", strv_json (ins->health_test));
  /* The daemon's commit merges the step's config with its parent's (daemon/commit.go merge): a setting left at
     zero keeps the previous HEALTHCHECK's, even under NONE. */
  const struct
  {
    const char *key;
    int64_t value;
  } fields[] = {
    { "Interval", ins->health_interval },
    { "Timeout", ins->health_timeout },
    { "StartPeriod", ins->health_start_period },
    { "Retries", ins->health_retries },
  };
  for (size_t i = 0; i < ARRAY_SIZE (fields); i++)
    {
      json_t *prev = json_object_get (old, fields[i].key);
      if (fields[i].value)
        json_object_set_new (h, fields[i].key, json_integer (fields[i].value));
      else if (json_is_integer (prev) && json_integer_value (prev) != 0)
        json_object_set (h, fields[i].key, prev);
    }
  json_object_set_new (st->config, "Healthcheck", h);
  cleanup_free char *msg = health_message (ins);
  step->cache_cmd = comment_cmd (st, msg);
}

/* prependEnvOnCmd: the ARG values a RUN sees, sorted, behind "|N", unless they are predefined ARGs that no ARG line
   declared (a proxy setting must not invalidate the cache). */
static char **
run_cache_cmd (const struct build_state *st, char *const *argv)
{
  cleanup_strv char **config_env = config_strv (st->config, "Env");
  cleanup_strv char **env = build_state_env (st);
  cleanup_strv char **args = xcalloc (1, sizeof (char *));
  for (size_t i = strv_len (config_env); env[i]; i++)
    {
      cleanup_free char *name = strndup (env[i], key_len (env[i]));
      if (build_arg_is_predefined (name) && !kv_find (st->args, name, strlen (name)))
        continue;
      strv_push (&args, env[i]);
    }
  char **cmd = xcalloc (1, sizeof (char *));
  size_t n = strv_len (args);
  if (strv_len (env) > strv_len (config_env))
    {
      qsort (args, n, sizeof (char *), cmp_strp);
      cleanup_free char *count = xasprintf ("|%zu", n);
      strv_push (&cmd, count);
      for (size_t i = 0; i < n; i++)
        strv_push (&cmd, args[i]);
    }
  for (size_t i = 0; argv[i]; i++)
    strv_push (&cmd, argv[i]);
  return cmd;
}

static int
step_run (struct build_state *st, const struct df_instruction *ins, struct build_step *step, isola_error_t *err)
{
  if (ins->flag_mount && ins->flag_mount[0])
    return isola_error_fail (err, EINVAL,
                             "the --mount option requires BuildKit. Refer to "
                             "https://docs.docker.com/go/buildkit/ to learn how to build images with "
                             "BuildKit enabled");
  if (ins->flag_network)
    return isola_error_fail (err, EINVAL,
                             "the --network option requires BuildKit. Refer to "
                             "https://docs.docker.com/go/buildkit/ to learn how to build images with "
                             "BuildKit enabled");
  if (ins->flag_security)
    return isola_error_fail (err, EINVAL,
                             "the --security option requires BuildKit. Refer to "
                             "https://docs.docker.com/go/buildkit/ to learn how to build images with "
                             "BuildKit enabled");
  step->action = BUILD_RUN;
  step->run_argv = command_line (st, ins);
  step->run_env = build_state_env (st);
  step->cache_cmd = run_cache_cmd (st, step->run_argv);
  return 0;
}

/* COPY --from: an earlier stage by name, then by index (stagesBuildResults.get), else an image. */
static int
resolve_copy_from (const struct build_state *st, const char *from, struct build_step *step, isola_error_t *err)
{
  step->from_stage = -1;
  if (from == NULL)
    return 0;
  int by_name = find_stage_by_name (st->plan, st->stage, from);
  if (by_name >= 0)
    {
      step->from_stage = by_name;
      return 0;
    }
  char *end;
  errno = 0;
  long long ix = strtoll (from, &end, 10);
  if (*from && *end == '\0' && errno == 0)
    {
      if (ix < 0 || (size_t)ix > st->stage)
        return isola_error_fail (err, EINVAL, "invalid from flag value %s: invalid stage index %lld", from, ix);
      if ((size_t)ix == st->stage)
        return isola_error_fail (err, EINVAL, "invalid from flag value %s: refers to current build stage", from);
      step->from_stage = (int)ix;
      return 0;
    }
  step->from_image = xstrdup (from);
  return 0;
}

/* --chmod: an octal mode (BuildKit's rule; Docker 20.10's classic builder refuses the flag, buildah takes it). */
static int
check_chmod (const char *chmod, isola_error_t *err)
{
  char *end;
  errno = 0;
  unsigned long m = strtoul (chmod, &end, 8);
  if (*chmod == '\0' || *end || errno || m > 07777)
    return isola_error_fail (err, EINVAL,
                             "invalid chmod parameter: '%s'. it should be octal string and between 0 and "
                             "07777",
                             chmod);
  return 0;
}

static int
step_copy (struct build_state *st, const struct df_instruction *ins, char *const *env, struct build_step *step,
           isola_error_t *err)
{
  step->action = BUILD_COPY;
  step->srcs = xcalloc (1, sizeof (char *));
  for (size_t i = 0; i < ins->n_args; i++)
    {
      cleanup_free char *v = NULL;
      int ret = expand (st, env, ins->args[i], &v, err);
      if (ret < 0)
        return ret;
      if (i + 1 == ins->n_args)
        step->dest = take_ptr (&v);
      else
        strv_push (&step->srcs, v);
    }
  if (ins->flag_chown)
    {
      int ret = expand (st, env, ins->flag_chown, &step->chown, err);
      if (ret < 0)
        return ret;
    }
  if (ins->flag_chmod)
    {
      int ret = check_chmod (ins->flag_chmod, err);
      if (ret < 0)
        return ret;
      step->chmod = xstrdup (ins->flag_chmod);
    }
  return resolve_copy_from (st, ins->kind == DF_COPY ? ins->flag_from : NULL, step, err);
}

void
build_step_copy_cmd (struct build_step *step, const struct build_state *st, char *const *src_hashes)
{
  cleanup_free char *hash = NULL;
  if (strv_len (src_hashes) == 1)
    hash = xstrdup (src_hashes[0]);
  else
    {
      size_t len = 1;
      for (size_t i = 0; src_hashes && src_hashes[i]; i++)
        len += strlen (src_hashes[i]) + 1;
      cleanup_free char *joined = xcalloc (1, len);
      for (size_t i = 0; src_hashes && src_hashes[i]; i++)
        {
          if (i)
            strcat (joined, ",");
          strcat (joined, src_hashes[i]);
        }
      digest_hex_t hex;
      digest_buffer (joined, strlen (joined), hex);
      hash = xasprintf ("multi:%s", hex);
    }
  cleanup_free char *chown = step->chown && *step->chown ? xasprintf ("--chown=%s", step->chown) : xstrdup ("");
  cleanup_free char *msg
      = xasprintf ("%s %s%s in %s ", df_kind_name (step->ins->kind), chown, hash, step->dest ? step->dest : "");
  strv_free (step->cache_cmd);
  step->cache_cmd = comment_string_cmd (st, msg);
}

static int
step_simple (struct build_state *st, const struct df_instruction *ins, char *const *env, struct build_step *step,
             isola_error_t *err)
{
  cleanup_free char *v = NULL, *msg = NULL;
  int ret;
  switch (ins->kind)
    {
    case DF_WORKDIR:
      {
        if ((ret = expand (st, env, ins->args[0], &v, err)) < 0)
          return ret;
        if (*v == '\0')
          return isola_error_fail (err, EINVAL, "cannot normalize nothing");
        const char *cur = json_string_value (json_object_get (st->config, "WorkingDir"));
        cleanup_free char *wd = normalize_workdir (cur, v);
        json_object_set_new (st->config, "WorkingDir", json_string (wd));
        step->action = BUILD_WORKDIR;
        cleanup_free char *comment = xasprintf ("WORKDIR %s", wd);
        step->cache_cmd = comment_string_cmd (st, comment);
        return 0;
      }
    case DF_USER:
      if ((ret = expand (st, env, ins->args[0], &v, err)) < 0)
        return ret;
      json_object_set_new (st->config, "User", json_string (v));
      msg = xasprintf ("USER %s", v);
      break;
    case DF_STOPSIGNAL:
      if ((ret = expand (st, env, ins->args[0], &v, err)) < 0)
        return ret;
      if (signal_from_name (v) < 0)
        return isola_error_fail (err, EINVAL, "Invalid signal: %s", v);
      json_object_set_new (st->config, "StopSignal", json_string (v));
      msg = xasprintf ("STOPSIGNAL %s", v);
      break;
    case DF_MAINTAINER:
      free (st->author);
      st->author = xstrdup (ins->args[0]);
      msg = xasprintf ("MAINTAINER %s", ins->args[0]);
      break;
    case DF_ONBUILD:
      {
        json_t *ob = json_object_get (st->config, "OnBuild");
        if (!json_is_array (ob))
          {
            ob = json_array ();
            json_object_set_new (st->config, "OnBuild", ob);
          }
        json_array_append_new (ob, json_string (ins->args[0]));
        msg = xasprintf ("ONBUILD %s", ins->args[0]);
        break;
      }
    case DF_SHELL:
      {
        cleanup_strv char **shell = xcalloc (1, sizeof (char *));
        for (size_t i = 0; i < ins->n_args; i++)
          strv_push (&shell, ins->args[i]);
        json_object_set_new (st->config, "Shell", strv_json (shell));
        cleanup_free char *list = go_list (shell);
        msg = xasprintf ("SHELL %s", list);
        break;
      }
    case DF_CMD:
    case DF_ENTRYPOINT:
      {
        cleanup_strv char **cmd = command_line (st, ins);
        bool is_cmd = ins->kind == DF_CMD;
        json_object_set_new (st->config, is_cmd ? "Cmd" : "Entrypoint", strv_json (cmd));
        if (is_cmd)
          st->cmd_set = true;
        else if (!st->cmd_set)
          /* An ENTRYPOINT drops the base image's CMD unless this stage set one. */
          json_object_del (st->config, "Cmd");
        cleanup_free char *list = go_quote_list (cmd);
        msg = xasprintf ("%s %s", is_cmd ? "CMD" : "ENTRYPOINT", list);
        break;
      }
    default:
      return isola_error_fail (err, EINVAL, "%s is not a step", df_kind_name (ins->kind));
    }
  step->cache_cmd = comment_cmd (st, msg);
  return 0;
}

int
build_step_prepare (struct build_state *st, const struct df_instruction *ins, struct build_step *step,
                    isola_error_t *err)
{
  memset (step, 0, sizeof *step);
  step->ins = ins;
  step->action = BUILD_COMMIT;
  step->from_stage = -1;
  cleanup_strv char **env = build_state_env (st);
  int ret;
  switch (ins->kind)
    {
    case DF_ENV:
    case DF_LABEL:
      ret = step_pairs (st, ins, env, step, err);
      break;
    case DF_ARG:
      ret = step_arg (st, ins, env, step, err);
      break;
    case DF_EXPOSE:
      ret = step_expose (st, ins, env, step, err);
      break;
    case DF_VOLUME:
      ret = step_volume (st, ins, env, step, err);
      break;
    case DF_HEALTHCHECK:
      step_healthcheck (st, ins, step);
      ret = 0;
      break;
    case DF_RUN:
      ret = step_run (st, ins, step, err);
      break;
    case DF_COPY:
    case DF_ADD:
      ret = step_copy (st, ins, env, step, err);
      break;
    case DF_FROM:
      ret = isola_error_fail (err, EINVAL, "FROM begins a stage: build_state_begin");
      break;
    default:
      ret = step_simple (st, ins, env, step, err);
    }
  if (ret < 0)
    build_step_clear (step);
  return ret;
}

/* ---- the cache key --------------------------------------------------------------------------------------------------
 */

void
build_cache_key (const char *parent_id, const json_t *config, char *const *cache_cmd, digest_hex_t out)
{
  static const char *const compared[] = { "Env", "Labels", "ExposedPorts", "Entrypoint", "Volumes", "User" };
  json_t *key = json_object ();
  json_object_set_new (key, "Parent", json_string (parent_id ? parent_id : ""));
  json_object_set_new (key, "Cmd", strv_json (cache_cmd));
  for (size_t i = 0; i < ARRAY_SIZE (compared); i++)
    {
      json_t *v = json_object_get (config, compared[i]);
      /* compare.go looks at lengths and elements: an empty list, an empty map and none are the same. */
      if (v == NULL || json_is_null (v) || (json_is_array (v) && json_array_size (v) == 0)
          || (json_is_object (v) && json_object_size (v) == 0) || (json_is_string (v) && !*json_string_value (v)))
        continue;
      json_object_set (key, compared[i], v);
    }
  char *s = json_dumps (key, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
  digest_buffer (s, strlen (s), out);
  free (s);
  json_decref (key);
}
