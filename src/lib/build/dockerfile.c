/* The Dockerfile parser of Docker 20.10's classic builder, in two passes as Docker has them: the parser proper
   (lines, directives, continuations, comments, each instruction's arguments split by its own rule: parser.go and
   line_parsers.go), whose errors read "failed to parse Dockerfile: ...", then each instruction's checks (flags,
   argument counts, HEALTHCHECK, ONBUILD, FROM's stage name: instructions/parse.go), whose errors carry the line. */
#define _GNU_SOURCE
#include "build/dockerfile.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timestamp.h"
#include "base/util.h"

/* bufio.Scanner's limit: Docker refuses longer lines. */
#define LINE_MAX_BYTES 65535

static const char *const kind_names[DF_KIND_MAX] = {
  [DF_ADD] = "ADD",
  [DF_ARG] = "ARG",
  [DF_CMD] = "CMD",
  [DF_COPY] = "COPY",
  [DF_ENTRYPOINT] = "ENTRYPOINT",
  [DF_ENV] = "ENV",
  [DF_EXPOSE] = "EXPOSE",
  [DF_FROM] = "FROM",
  [DF_HEALTHCHECK] = "HEALTHCHECK",
  [DF_LABEL] = "LABEL",
  [DF_MAINTAINER] = "MAINTAINER",
  [DF_ONBUILD] = "ONBUILD",
  [DF_RUN] = "RUN",
  [DF_SHELL] = "SHELL",
  [DF_STOPSIGNAL] = "STOPSIGNAL",
  [DF_USER] = "USER",
  [DF_VOLUME] = "VOLUME",
  [DF_WORKDIR] = "WORKDIR",
};

const char *
df_kind_name (enum df_kind kind)
{
  return kind >= 0 && kind < DF_KIND_MAX ? kind_names[kind] : "?";
}

/* Go's unicode.IsSpace for the bytes Dockerfiles hold (UTF-8 continuation bytes are never spaces). */
static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Docker's reWhitespace, [\t\v\f\r ]+: no newline (there is none in a joined line anyway). */
static bool
is_blank (char c)
{
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

char *
go_quote (const char *s)
{
  size_t n = strlen (s);
  char *out = xmalloc (n * 4 + 3), *p = out;
  *p++ = '"';
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    {
      switch (*c)
        {
        case '"':
          p = stpcpy (p, "\\\"");
          break;
        case '\\':
          p = stpcpy (p, "\\\\");
          break;
        case '\n':
          p = stpcpy (p, "\\n");
          break;
        case '\t':
          p = stpcpy (p, "\\t");
          break;
        case '\r':
          p = stpcpy (p, "\\r");
          break;
        default:
          if (*c < 0x20 || *c == 0x7f)
            p += sprintf (p, "\\x%02x", *c);
          else
            *p++ = (char)*c;
        }
    }
  *p++ = '"';
  *p = '\0';
  return out;
}

static char *
trim_dup (const char *s, size_t n)
{
  while (n > 0 && is_space (*s))
    s++, n--;
  while (n > 0 && is_space (s[n - 1]))
    n--;
  return strndup (s, n);
}

/* ---- the parser proper --------------------------------------------------------------------------------------- */

struct directives
{
  char escape;
  bool done;
  bool seen_escape, seen_syntax;
  char *syntax;
};

/* possibleParserDirective: `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, escape and syntax only, each once;
   the first line that is not one ends the directives. */
static int
parser_directive (struct directives *d, const char *line, isola_error_t *err)
{
  if (d->done)
    return 0;
  const char *p = line;
  if (*p++ != '#')
    goto not_directive;
  while (is_space (*p))
    p++;
  const char *name = p;
  if (!isalpha ((unsigned char)*p))
    goto not_directive;
  while (isalnum ((unsigned char)*p))
    p++;
  size_t name_len = (size_t)(p - name);
  while (is_space (*p))
    p++;
  if (*p++ != '=')
    goto not_directive;
  while (is_space (*p))
    p++;
  size_t vlen = strlen (p);
  while (vlen > 0 && is_space (p[vlen - 1]))
    vlen--;
  if (vlen == 0)
    goto not_directive;
  if (name_len == 6 && strncasecmp (name, "escape", 6) == 0)
    {
      if (d->seen_escape)
        return isola_error_fail (err, EINVAL,
                                 "failed to parse Dockerfile: only one escape parser directive can be used");
      d->seen_escape = true;
      if (vlen != 1 || (p[0] != '`' && p[0] != '\\'))
        return isola_error_fail (err, EINVAL,
                                 "failed to parse Dockerfile: invalid escape token '%.*s' does not match ` or \\",
                                 (int)vlen, p);
      d->escape = p[0];
      return 0;
    }
  if (name_len == 6 && strncasecmp (name, "syntax", 6) == 0)
    {
      if (d->seen_syntax)
        return isola_error_fail (err, EINVAL,
                                 "failed to parse Dockerfile: only one syntax parser directive can be used");
      d->seen_syntax = true;
      d->syntax = strndup (p, vlen);
      return 0;
    }
not_directive:
  d->done = true;
  return 0;
}

static const char *
skip_space (const char *s)
{
  while (is_space (*s))
    s++;
  return s;
}

static bool
is_comment_line (const char *line)
{
  return *skip_space (line) == '#';
}

/* trimContinuationCharacter: the escape character followed only by blanks at the end of the line. Cuts it off
   and returns true when the line continues. */
static bool
trim_continuation (char *line, char escape)
{
  size_t n = strlen (line);
  while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
    n--;
  if (n > 0 && line[n - 1] == escape)
    {
      line[n - 1] = '\0';
      return true;
    }
  return false;
}

/* One line of input at a time, as bufio.ScanLines gives them: without "\n" nor a "\r" before it. */
struct line_reader
{
  const char *p, *end;
  int number;
};

/* 1 with a line in *out, 0 at the end, negative on a line longer than Docker takes. */
static int
next_line (struct line_reader *r, char **out, isola_error_t *err)
{
  if (r->p >= r->end)
    return 0;
  const char *nl = memchr (r->p, '\n', (size_t)(r->end - r->p));
  const char *stop = nl ? nl : r->end;
  size_t n = (size_t)(stop - r->p);
  if (n > LINE_MAX_BYTES)
    return isola_error_fail (
        err, EINVAL, "failed to parse Dockerfile: dockerfile line greater than max allowed size of %d", LINE_MAX_BYTES);
  if (n > 0 && r->p[n - 1] == '\r')
    n--;
  if (r->number == 0 && n >= 3 && memcmp (r->p, "\xEF\xBB\xBF", 3) == 0)
    *out = strndup (r->p + 3, n - 3);
  else
    *out = strndup (r->p, n);
  r->p = nl ? nl + 1 : r->end;
  r->number++;
  return 1;
}

/* How a word of an instruction is scanned: parseWords keeps quotes and escapes in it (substitution removes them
   later) and honours the escape character outside single quotes; extractBuilderFlags removes them and takes a
   backslash anywhere. */
struct word_rules
{
  char escape;
  bool keep_quotes;
  bool escape_in_single_quotes;
};

/* One word from line[*pos] (not a blank): blanks end it outside quotes; *pos ends after it.  Whether it counts:
   not empty, or quoted (`""` is a word). */
static bool
scan_word (const char *line, size_t len, size_t *pos, const struct word_rules *r, char *word)
{
  size_t n = 0;
  char quote = 0;
  bool in_quote = false, quoted = false;
  for (; *pos < len; (*pos)++)
    {
      char ch = line[*pos];
      if (!in_quote && is_space (ch))
        break;
      if (!in_quote && (ch == '\'' || ch == '"'))
        {
          quote = ch;
          in_quote = quoted = true;
          if (r->keep_quotes)
            word[n++] = ch;
          continue;
        }
      if (in_quote && ch == quote)
        {
          in_quote = false;
          if (r->keep_quotes)
            word[n++] = ch;
          continue;
        }
      if (ch == r->escape && (!in_quote || quote != '\'' || r->escape_in_single_quotes))
        {
          if (*pos + 1 == len) /* a trailing escape is dropped */
            continue;
          if (r->keep_quotes)
            word[n++] = ch;
          ch = line[++*pos];
        }
      word[n++] = ch;
    }
  word[n] = '\0';
  return quoted || n > 0;
}

/* Docker's parseWords: words split on blanks, quotes kept in them (substitution removes them later), the escape
   character and what follows kept together. */
static void
parse_words (const char *rest, char escape, char ***out)
{
  const struct word_rules rules = { .escape = escape, .keep_quotes = true };
  size_t len = strlen (rest), pos = 0;
  cleanup_free char *word = xmalloc (len + 1);
  for (;;)
    {
      while (pos < len && is_space (rest[pos]))
        pos++;
      if (pos == len)
        return;
      if (scan_word (rest, len, &pos, &rules, word))
        strv_push (out, word);
    }
}

/* reWhitespace.Split(rest, -1), rest being trimmed. */
static void
split_blanks (const char *rest, char ***out)
{
  const char *p = rest;
  while (*p)
    {
      const char *start = p;
      while (*p && !is_blank (*p))
        p++;
      cleanup_free char *w = strndup (start, (size_t)(p - start));
      strv_push (out, w);
      while (is_blank (*p))
        p++;
    }
}

enum json_result
{
  JSON_NOT_ARRAY,
  JSON_OK,
  JSON_NOT_STRINGS
};

/* parseJSON: a JSON array of strings (after leading blanks), or not JSON at all, or an array with something else
   in it, which Docker refuses. */
static enum json_result
parse_json_array (const char *rest, char ***out)
{
  rest = skip_space (rest);
  if (*rest != '[')
    return JSON_NOT_ARRAY;
  json_t *a = json_loads (rest, JSON_DECODE_ANY, NULL);
  if (!json_is_array (a))
    {
      json_decref (a);
      return JSON_NOT_ARRAY;
    }
  size_t i;
  json_t *v;
  json_array_foreach (a, i, v)
  {
    if (!json_is_string (v))
      {
        json_decref (a);
        return JSON_NOT_STRINGS;
      }
  }
  *out = xcalloc (1, sizeof (char *));
  json_array_foreach (a, i, v) strv_push (out, json_string_value (v));
  json_decref (a);
  return JSON_OK;
}

static int
not_strings (isola_error_t *err)
{
  return isola_error_fail (err, EINVAL,
                           "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of "
                           "strings only");
}

/* parseMaybeJSON: RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK's command. */
static int
parse_maybe_json (const char *rest, struct df_instruction *ins, isola_error_t *err)
{
  if (*rest == '\0')
    return 0;
  cleanup_strv char **a = NULL;
  switch (parse_json_array (rest, &a))
    {
    case JSON_OK:
      for (size_t i = 0; a[i]; i++)
        strv_push (&ins->args, a[i]);
      ins->json = true;
      return 0;
    case JSON_NOT_STRINGS:
      return not_strings (err);
    default:
      strv_push (&ins->args, rest);
      return 0;
    }
}

/* parseMaybeJSONToList: COPY, ADD, VOLUME. */
static int
parse_maybe_json_list (const char *rest, struct df_instruction *ins, isola_error_t *err)
{
  cleanup_strv char **a = NULL;
  switch (parse_json_array (rest, &a))
    {
    case JSON_OK:
      for (size_t i = 0; a[i]; i++)
        strv_push (&ins->args, a[i]);
      ins->json = true;
      return 0;
    case JSON_NOT_STRINGS:
      return not_strings (err);
    default:
      split_blanks (rest, &ins->args);
      return 0;
    }
}

/* parseNameVal: ENV and LABEL, "KEY value with spaces" (the old form, when the first word has no "=") or
   KEY=VALUE words. */
static int
parse_name_val (const char *rest, const char *what, char escape, struct df_instruction *ins, isola_error_t *err)
{
  cleanup_strv char **words = NULL;
  parse_words (rest, escape, &words);
  if (words == NULL || words[0] == NULL)
    return 0;
  if (strchr (words[0], '=') == NULL)
    {
      const char *p = rest;
      while (*p && !is_blank (*p))
        p++;
      if (*p == '\0')
        return isola_error_fail (err, EINVAL, "failed to parse Dockerfile: %s must have two arguments", what);
      cleanup_free char *key = strndup (rest, (size_t)(p - rest));
      while (is_blank (*p))
        p++;
      strv_push (&ins->args, key);
      strv_push (&ins->args, p);
      return 0;
    }
  for (size_t i = 0; words[i]; i++)
    {
      char *eq = strchr (words[i], '=');
      if (eq == NULL)
        {
          cleanup_free char *q = go_quote (words[i]);
          return isola_error_fail (
              err, EINVAL,
              "failed to parse Dockerfile: Syntax error - can't find = in %s. Must be of the form: "
              "name=value",
              q);
        }
      *eq = '\0';
      strv_push (&ins->args, words[i]);
      strv_push (&ins->args, eq + 1);
    }
  return 0;
}

/* extractBuilderFlags: the leading words that begin with "--" (quotes and backslashes processed in them), up to
   the first word that does not or a lone "--". */
static const char *
extract_flags (const char *line, char ***flags)
{
  const struct word_rules rules = { .escape = '\\', .escape_in_single_quotes = true };
  size_t len = strlen (line), pos = 0;
  cleanup_free char *word = xmalloc (len + 1);
  for (;;)
    {
      while (pos < len && is_space (line[pos]))
        pos++;
      if (pos == len || line[pos] != '-' || pos + 1 == len || line[pos + 1] != '-')
        return line + pos;
      bool counts = scan_word (line, len, &pos, &rules, word);
      if (strcmp (word, "--") == 0)
        return line + pos;
      if (counts)
        strv_push (flags, word);
    }
}

static int
kind_of (const char *lower)
{
  for (int k = 0; k < DF_KIND_MAX; k++)
    if (strcasecmp (kind_names[k], lower) == 0)
      return k;
  return -1;
}

/* newNodeFromLine: the instruction's name, its flags, then its arguments by the instruction's own rule.  An
   unknown name is returned as -ENOENT with *name set, for the second pass to report at its line. */
static int node_from_line (const char *line, char escape, struct df_instruction *ins, char **unknown,
                           isola_error_t *err);

static int
parse_arguments (const char *rest, char escape, struct df_instruction *ins, isola_error_t *err)
{
  switch (ins->kind)
    {
    case DF_ADD:
    case DF_COPY:
    case DF_VOLUME:
      return parse_maybe_json_list (rest, ins, err);
    case DF_ARG:
      parse_words (rest, escape, &ins->args);
      return 0;
    case DF_CMD:
    case DF_ENTRYPOINT:
    case DF_RUN:
    case DF_SHELL:
      return parse_maybe_json (rest, ins, err);
    case DF_ENV:
    case DF_LABEL:
      return parse_name_val (rest, ins->kind == DF_ENV ? "ENV" : "LABEL", escape, ins, err);
    case DF_EXPOSE:
    case DF_FROM:
      split_blanks (rest, &ins->args);
      return 0;
    case DF_HEALTHCHECK:
      {
        size_t sep = 0;
        while (rest[sep] && !is_space (rest[sep]))
          sep++;
        if (sep == 0)
          return 0;
        cleanup_free char *typ = strndup (rest, sep);
        strv_push (&ins->args, typ);
        return parse_maybe_json (skip_space (rest + sep), ins, err);
      }
    case DF_ONBUILD:
      {
        if (*rest == '\0')
          return 0;
        ins->trigger = xcalloc (1, sizeof *ins->trigger);
        cleanup_free char *unknown = NULL;
        int ret = node_from_line (rest, escape, ins->trigger, &unknown, err);
        if (ret == -ENOENT)
          {
            /* Docker keeps an unknown trigger (it fails in the child build): only its name is checked here. */
            df_instruction_clear (ins->trigger);
            free (ins->trigger);
            ins->trigger = NULL;
            strv_push (&ins->args, unknown);
            return 0;
          }
        if (ret < 0)
          return ret;
        strv_push (&ins->args, df_kind_name (ins->trigger->kind));
        return 0;
      }
    case DF_MAINTAINER:
    case DF_STOPSIGNAL:
    case DF_USER:
    case DF_WORKDIR:
      if (*rest)
        strv_push (&ins->args, rest);
      return 0;
    default:
      return 0;
    }
}

static int
node_from_line (const char *line, char escape, struct df_instruction *ins, char **unknown, isola_error_t *err)
{
  cleanup_free char *trimmed = trim_dup (line, strlen (line));
  char *p = trimmed;
  while (*p && !is_blank (*p))
    p++;
  cleanup_free char *name = strndup (trimmed, (size_t)(p - trimmed));
  while (is_blank (*p))
    p++;
  cleanup_strv char **flags = NULL;
  const char *after_flags = *p ? extract_flags (p, &flags) : p;
  cleanup_free char *rest = trim_dup (after_flags, strlen (after_flags));

  ins->original = xstrdup (trimmed);
  ins->flags = take_ptr (&flags);
  int kind = kind_of (name);
  if (kind < 0)
    {
      for (char *c = name; *c; c++)
        *c = (char)toupper ((unsigned char)*c);
      *unknown = take_ptr (&name);
      return -ENOENT;
    }
  ins->kind = (enum df_kind)kind;
  return parse_arguments (rest, escape, ins, err);
}

/* ---- the second pass: each instruction's flags and arguments --------------------------------------------------- */

struct flag_spec
{
  const char *name;
  char **slot;     /* a string flag */
  char ***strings; /* a repeatable one (RUN --mount) */
};

static int line_error (isola_error_t *err, int line, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static int
line_error (isola_error_t *err, int line, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  return isola_error_fail (err, EINVAL, "dockerfile parse error line %d: %s", line, msg ? msg : "?");
}

/* BFlags.Parse: "--name=value" for the flags the instruction knows. */
static int
parse_flags (struct df_instruction *ins, const struct flag_spec *spec, size_t n_spec, isola_error_t *err)
{
  for (size_t i = 0; ins->flags && ins->flags[i]; i++)
    {
      const char *arg = ins->flags[i];
      if (strcmp (arg, "--") == 0)
        return 0;
      arg += 2;
      const char *eq = strchr (arg, '=');
      cleanup_free char *name = eq ? strndup (arg, (size_t)(eq - arg)) : xstrdup (arg);
      const struct flag_spec *f = NULL;
      for (size_t k = 0; k < n_spec; k++)
        if (strcmp (spec[k].name, name) == 0)
          f = &spec[k];
      if (f == NULL)
        return line_error (err, ins->line, "Unknown flag: %s", name);
      if (eq == NULL)
        return line_error (err, ins->line, "Missing a value on flag: %s", name);
      if (f->strings)
        strv_push (f->strings, eq + 1);
      else
        {
          if (*f->slot)
            return line_error (err, ins->line, "Duplicate flag specified: %s", name);
          *f->slot = xstrdup (eq + 1);
        }
    }
  return 0;
}

/* ^[a-z][a-z0-9-_\.]*$ */
static bool
valid_stage_name (const char *s)
{
  if (!(*s >= 'a' && *s <= 'z'))
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
      return false;
  return true;
}

static int
check_from (struct df_instruction *ins, isola_error_t *err)
{
  if (ins->n_args == 3 && strcasecmp (ins->args[1], "as") == 0)
    {
      cleanup_free char *lower = xstrdup (ins->args[2]);
      for (char *c = lower; *c; c++)
        *c = (char)tolower ((unsigned char)*c);
      if (!valid_stage_name (lower))
        {
          cleanup_free char *q = go_quote (ins->args[2]);
          return line_error (err, ins->line,
                             "invalid name for build stage: %s, name can't start with a number or contain symbols", q);
        }
      ins->stage_name = take_ptr (&lower);
      return 0;
    }
  if (ins->n_args != 1)
    return line_error (err, ins->line, "FROM requires either one or three arguments");
  return 0;
}

/* parseOptInterval: a Go duration of at least 1ms. */
static int
health_duration (struct df_instruction *ins, const char *name, const char *value, int64_t *out, isola_error_t *err)
{
  if (value == NULL || *value == '\0')
    return 0;
  if (timestamp_parse_duration (value, out) < 0)
    {
      cleanup_free char *q = go_quote (value);
      return line_error (err, ins->line, "time: invalid duration %s", q);
    }
  if (*out < 1000000)
    return line_error (err, ins->line, "Interval \"%s\" cannot be less than 1ms", name);
  return 0;
}

static int
check_healthcheck (struct df_instruction *ins, isola_error_t *err)
{
  if (ins->n_args == 0)
    return line_error (err, ins->line, "HEALTHCHECK requires at least one argument");
  cleanup_free char *typ = xstrdup (ins->args[0]);
  for (char *c = typ; *c; c++)
    *c = (char)toupper ((unsigned char)*c);
  if (strcmp (typ, "NONE") == 0)
    {
      if (ins->n_args > 1)
        return line_error (err, ins->line, "HEALTHCHECK NONE takes no arguments");
      strv_push (&ins->health_test, "NONE");
      return 0;
    }
  cleanup_free char *interval = NULL, *timeout = NULL, *start_period = NULL, *retries = NULL;
  const struct flag_spec spec[] = {
    { "interval", &interval, NULL },
    { "timeout", &timeout, NULL },
    { "start-period", &start_period, NULL },
    { "retries", &retries, NULL },
  };
  int ret = parse_flags (ins, spec, ARRAY_SIZE (spec), err);
  if (ret < 0)
    return ret;
  if (strcmp (typ, "CMD") != 0)
    {
      cleanup_free char *q = go_quote (typ);
      return line_error (err, ins->line, "Unknown type %s in HEALTHCHECK (try CMD)", q);
    }
  if (ins->n_args < 2)
    return line_error (err, ins->line, "Missing command after HEALTHCHECK CMD");
  strv_push (&ins->health_test, ins->json ? "CMD" : "CMD-SHELL");
  for (size_t i = 1; i < ins->n_args; i++)
    strv_push (&ins->health_test, ins->args[i]);
  if ((ret = health_duration (ins, "interval", interval, &ins->health_interval, err)) < 0
      || (ret = health_duration (ins, "timeout", timeout, &ins->health_timeout, err)) < 0
      || (ret = health_duration (ins, "start-period", start_period, &ins->health_start_period, err)) < 0)
    return ret;
  if (retries && *retries)
    {
      char *end;
      errno = 0;
      long long r = strtoll (retries, &end, 10);
      if (*end || end == retries || errno || r > INT32_MAX || r < INT32_MIN)
        {
          cleanup_free char *q = go_quote (retries);
          return line_error (err, ins->line, "strconv.ParseInt: parsing %s: %s", q,
                             errno == ERANGE || (*end == '\0' && end != retries) ? "value out of range"
                                                                                 : "invalid syntax");
        }
      if (r < 1)
        return line_error (err, ins->line, "--retries must be at least 1 (not %lld)", r);
      ins->health_retries = (int)r;
    }
  return 0;
}

static int
check_onbuild (struct df_instruction *ins, isola_error_t *err)
{
  if (ins->n_args == 0)
    return line_error (err, ins->line, "ONBUILD requires at least one argument");
  int ret = parse_flags (ins, NULL, 0, err);
  if (ret < 0)
    return ret;
  const char *t = ins->args[0];
  if (strcasecmp (t, "ONBUILD") == 0)
    return line_error (err, ins->line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (strcasecmp (t, "MAINTAINER") == 0 || strcasecmp (t, "FROM") == 0)
    return line_error (err, ins->line, "%s isn't allowed as an ONBUILD trigger", t);
  /* The expression stored in the image: the line without `(?i)^\s*ONBUILD\s*`. */
  const char *expr = ins->original + strlen ("ONBUILD");
  expr = skip_space (expr);
  free (ins->args[0]);
  ins->args[0] = xstrdup (expr);
  if (ins->trigger)
    {
      ins->trigger->n_args = strv_len (ins->trigger->args);
      ins->trigger->line = ins->line;
      ins->trigger->end_line = ins->end_line;
    }
  return 0;
}

static int
at_least_one (struct df_instruction *ins, isola_error_t *err)
{
  if (ins->n_args == 0)
    return line_error (err, ins->line, "%s requires at least one argument", df_kind_name (ins->kind));
  return 0;
}

static int
exactly_one (struct df_instruction *ins, isola_error_t *err)
{
  if (ins->n_args != 1)
    return line_error (err, ins->line, "%s requires exactly one argument", df_kind_name (ins->kind));
  return 0;
}

static int
blank_names (struct df_instruction *ins, size_t step, isola_error_t *err)
{
  for (size_t i = 0; i < ins->n_args; i += step)
    {
      size_t klen = step == 2 ? strlen (ins->args[i]) : strcspn (ins->args[i], "=");
      if (klen == 0)
        return line_error (err, ins->line, "%s names can not be blank", df_kind_name (ins->kind));
    }
  return 0;
}

/* A heredoc ("<<EOF", "<<-'EOF'") is BuildKit's syntax: the classic builder would read its body as instructions. */
static bool
has_heredoc (const struct df_instruction *ins)
{
  if (ins->json)
    return false;
  for (size_t i = 0; i < ins->n_args; i++)
    for (const char *p = strstr (ins->args[i], "<<"); p; p = strstr (p + 2, "<<"))
      {
        const char *q = p + 2;
        if (*q == '-')
          q++;
        if (*q == '"' || *q == '\'')
          q++;
        if (isalpha ((unsigned char)*q) || *q == '_')
          return true;
      }
  return false;
}

static int
check_instruction (struct df_instruction *ins, isola_error_t *err)
{
  ins->n_args = strv_len (ins->args);
  if ((ins->kind == DF_RUN || ins->kind == DF_COPY || ins->kind == DF_ADD) && has_heredoc (ins))
    return line_error (err, ins->line,
                       "heredocs (<<EOF) are BuildKit's Dockerfile syntax, which the classic builder does not "
                       "support: write the file into the context and COPY it, or use RUN with printf");
  switch (ins->kind)
    {
    case DF_FROM:
      {
        const struct flag_spec spec[] = { { "platform", &ins->flag_platform, NULL } };
        int ret = parse_flags (ins, spec, ARRAY_SIZE (spec), err);
        return ret < 0 ? ret : check_from (ins, err);
      }
    case DF_COPY:
    case DF_ADD:
      {
        const struct flag_spec spec[] = {
          { "chown", &ins->flag_chown, NULL },
          { "chmod", &ins->flag_chmod, NULL },
          { "from", &ins->flag_from, NULL },
        };
        if (ins->n_args < 2)
          return line_error (err, ins->line,
                             "%s requires at least two arguments, but only one was provided. Destination could not "
                             "be determined",
                             df_kind_name (ins->kind));
        return parse_flags (ins, spec, ins->kind == DF_COPY ? 3 : 2, err);
      }
    case DF_RUN:
      {
        const struct flag_spec spec[] = {
          { "mount", NULL, &ins->flag_mount },
          { "network", &ins->flag_network, NULL },
          { "security", &ins->flag_security, NULL },
        };
        return parse_flags (ins, spec, ARRAY_SIZE (spec), err);
      }
    case DF_HEALTHCHECK:
      return check_healthcheck (ins, err);
    case DF_ONBUILD:
      return check_onbuild (ins, err);
    default:
      break;
    }
  int ret = parse_flags (ins, NULL, 0, err);
  if (ret < 0)
    return ret;
  switch (ins->kind)
    {
    case DF_ENV:
    case DF_LABEL:
      if ((ret = at_least_one (ins, err)) < 0)
        return ret;
      return blank_names (ins, 2, err);
    case DF_ARG:
      if ((ret = at_least_one (ins, err)) < 0)
        return ret;
      return blank_names (ins, 1, err);
    case DF_EXPOSE:
      return at_least_one (ins, err);
    case DF_VOLUME:
      if ((ret = at_least_one (ins, err)) < 0)
        return ret;
      for (size_t i = 0; i < ins->n_args; i++)
        {
          cleanup_free char *t = trim_dup (ins->args[i], strlen (ins->args[i]));
          if (*t == '\0')
            return line_error (err, ins->line, "VOLUME specified can not be an empty string");
        }
      return 0;
    case DF_SHELL:
      if (ins->n_args == 0)
        return line_error (err, ins->line, "SHELL requires at least one argument");
      if (!ins->json)
        return line_error (err, ins->line, "SHELL requires the arguments to be in JSON form");
      return 0;
    case DF_MAINTAINER:
    case DF_USER:
    case DF_WORKDIR:
    case DF_STOPSIGNAL:
      return exactly_one (ins, err);
    default:
      return 0;
    }
}

/* ---- the whole file -------------------------------------------------------------------------------------------- */

void
df_instruction_clear (struct df_instruction *ins)
{
  if (ins == NULL)
    return;
  free (ins->original);
  strv_free (ins->flags);
  strv_free (ins->args);
  free (ins->flag_from);
  free (ins->flag_chown);
  free (ins->flag_chmod);
  free (ins->flag_platform);
  strv_free (ins->flag_mount);
  free (ins->flag_network);
  free (ins->flag_security);
  free (ins->stage_name);
  strv_free (ins->health_test);
  if (ins->trigger)
    {
      df_instruction_clear (ins->trigger);
      free (ins->trigger);
    }
  memset (ins, 0, sizeof *ins);
}

void
dockerfile_clear (struct dockerfile *df)
{
  if (df == NULL)
    return;
  for (size_t i = 0; i < df->n; i++)
    df_instruction_clear (&df->ins[i]);
  free (df->ins);
  free (df->syntax);
  strv_free (df->warnings);
  memset (df, 0, sizeof *df);
}

struct raw_node
{
  char *line;
  int start, end;
};

/* Parser.Parse: joins continuation lines (skipping comment lines and blank lines inside them, as Docker does, with
   its warning for the blank ones) into one logical line per instruction. */
static int
join_lines (const char *buf, size_t len, struct directives *d, struct raw_node **nodes, size_t *n_nodes,
            char ***warnings, isola_error_t *err)
{
  struct line_reader r = { .p = buf, .end = buf + len };
  size_t cap = 0;
  for (;;)
    {
      cleanup_free char *raw = NULL;
      int got = next_line (&r, &raw, err);
      if (got <= 0)
        return got;
      char *line = (char *)skip_space (raw);
      int ret = parser_directive (d, line, err);
      if (ret < 0)
        return ret;
      if (*line == '#')
        *line = '\0';
      int start = r.number;
      bool more = trim_continuation (line, d->escape);
      if (!more && *line == '\0')
        continue;
      /* Grown by doubling: a file of continuation lines costs linear time. */
      size_t jlen = strlen (line), jcap = jlen + 64;
      char *joined = xmalloc (jcap);
      memcpy (joined, line, jlen + 1);
      bool empty_continuation = false;
      while (more)
        {
          cleanup_free char *next = NULL;
          got = next_line (&r, &next, err);
          if (got < 0)
            {
              free (joined);
              return got;
            }
          if (got == 0)
            break;
          if ((ret = parser_directive (d, next, err)) < 0)
            {
              free (joined);
              return ret;
            }
          if (is_comment_line (next))
            continue;
          if (*skip_space (next) == '\0')
            {
              empty_continuation = true;
              continue;
            }
          more = trim_continuation (next, d->escape);
          size_t nlen = strlen (next);
          if (jlen + nlen + 1 > jcap)
            {
              jcap = (jlen + nlen + 1) * 2;
              joined = xrealloc (joined, jcap);
            }
          memcpy (joined + jlen, next, nlen + 1);
          jlen += nlen;
        }
      if (empty_continuation)
        {
          cleanup_free char *w = xasprintf ("[WARNING]: Empty continuation line found in:\n    %s", joined);
          strv_push (warnings, w);
        }
      if (*n_nodes == cap)
        {
          cap = cap ? cap * 2 : 16;
          *nodes = xrealloc (*nodes, cap * sizeof **nodes);
        }
      (*nodes)[(*n_nodes)++] = (struct raw_node){ .line = joined, .start = start, .end = r.number };
    }
}

static void
raw_nodes_free (struct raw_node *nodes, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (nodes[i].line);
  free (nodes);
}

int
dockerfile_parse (const char *buf, size_t len, struct dockerfile *out, isola_error_t *err)
{
  memset (out, 0, sizeof *out);
  if (len > DOCKERFILE_MAX)
    return isola_error_fail (err, EFBIG, "the Dockerfile is larger than %d bytes", DOCKERFILE_MAX);
  struct directives d = { .escape = '\\' };
  struct raw_node *nodes = NULL;
  size_t n_nodes = 0;
  cleanup_strv char **warnings = xcalloc (1, sizeof (char *));
  int ret = join_lines (buf, len, &d, &nodes, &n_nodes, &warnings, err);
  if (ret < 0)
    goto out;
  if (warnings[0])
    strv_push (&warnings, "[WARNING]: Empty continuation lines will become errors in a future release.");
  if (n_nodes == 0)
    {
      ret = isola_error_fail (err, EINVAL, "failed to parse Dockerfile: file with no instructions");
      goto out;
    }

  /* Docker's parser reads every line before its second pass looks at any instruction: the first pass's errors
     come first, whatever their line. */
  struct df_instruction *ins = xcalloc (n_nodes, sizeof *ins);
  char **unknown = xcalloc (n_nodes, sizeof (char *));
  for (size_t i = 0; i < n_nodes && ret == 0; i++)
    {
      ret = node_from_line (nodes[i].line, d.escape, &ins[i], &unknown[i], err);
      ins[i].line = nodes[i].start;
      ins[i].end_line = nodes[i].end;
      if (ret == -ENOENT)
        ret = 0;
    }
  bool seen_from = false;
  for (size_t i = 0; i < n_nodes && ret == 0; i++)
    {
      if (unknown[i])
        ret = line_error (err, ins[i].line, "unknown instruction: %s", unknown[i]);
      else if ((ret = check_instruction (&ins[i], err)) == 0 && !seen_from && ins[i].kind != DF_ARG)
        {
          if (ins[i].kind != DF_FROM)
            ret = isola_error_fail (err, EINVAL, "no build stage in current context");
          seen_from = true;
        }
    }
  for (size_t i = 0; i < n_nodes; i++)
    free (unknown[i]);
  free (unknown);
  out->ins = ins;
  out->n = n_nodes;
  out->escape = d.escape;
  out->syntax = take_ptr (&d.syntax);
  if (out->syntax)
    {
      cleanup_free char *w = xasprintf (
          "[WARNING]: the syntax parser directive (%s) is ignored: the classic builder has one syntax", out->syntax);
      strv_push (&warnings, w);
    }
  out->warnings = take_ptr (&warnings);
  if (ret < 0)
    dockerfile_clear (out);
out:
  free (d.syntax);
  raw_nodes_free (nodes, n_nodes);
  return ret;
}

int
dockerfile_parse_instruction (const char *text, char escape, struct df_instruction *out, isola_error_t *err)
{
  memset (out, 0, sizeof *out);
  if (strchr (text, '\n'))
    return isola_error_fail (err, EINVAL, "onbuild trigger should be a single expression");
  cleanup_free char *unknown = NULL;
  int ret = node_from_line (text, escape, out, &unknown, err);
  out->line = out->end_line = 1;
  if (ret == -ENOENT)
    ret = line_error (err, 1, "unknown instruction: %s", unknown);
  else if (ret == 0)
    ret = check_instruction (out, err);
  if (ret < 0)
    df_instruction_clear (out);
  return ret;
}
