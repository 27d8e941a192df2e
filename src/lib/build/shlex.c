/* Docker 20.10's shell lexer (shell/lex.go of the buildkit it vendors), function for function: process_stop_on
   reads up to a stop character, with the dollar, single-quote and double-quote readers, and collects both the
   whole result and the blank-separated words. */
#define _GNU_SOURCE
#include "build/shlex.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "build/dockerfile.h"

#define END (-1)

struct buf
{
  char *s;
  size_t len, cap;
};

static void
buf_putn (struct buf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      b->cap = (b->len + n + 1) * 2;
      b->s = xrealloc (b->s, b->cap);
    }
  memcpy (b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void
buf_putc (struct buf *b, char c)
{
  buf_putn (b, &c, 1);
}

static char *
buf_take (struct buf *b)
{
  if (b->s == NULL)
    return xstrdup ("");
  char *s = b->s;
  b->s = NULL;
  b->len = b->cap = 0;
  return s;
}

/* wordsStruct: the words ProcessWords returns. */
struct words
{
  struct buf word;
  bool in_word;
  char **list;
};

static bool
is_space (int c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void
words_add_raw_char (struct words *w, char c)
{
  buf_putc (&w->word, c);
  w->in_word = true;
}

static void
words_add_char (struct words *w, char c)
{
  if (is_space ((unsigned char)c) && w->in_word)
    {
      if (w->word.len != 0)
        {
          strv_push (&w->list, w->word.s);
          w->word.len = 0;
          w->word.s[0] = '\0';
          w->in_word = false;
        }
    }
  else if (!is_space ((unsigned char)c))
    words_add_raw_char (w, c);
}

static void
words_add_string (struct words *w, const char *s)
{
  for (; *s; s++)
    words_add_char (w, *s);
}

static void
words_add_raw_string (struct words *w, const char *s)
{
  buf_putn (&w->word, s, strlen (s));
  w->in_word = true;
}

static char **
words_finish (struct words *w)
{
  if (w->word.len > 0)
    strv_push (&w->list, w->word.s);
  free (w->word.s);
  w->word.s = NULL;
  if (w->list == NULL)
    w->list = xcalloc (1, sizeof (char *));
  return take_ptr (&w->list);
}

struct lexer
{
  const char *p;
  char escape;
  char *const *env;
  char *message; /* the error, without the "failed to process" prefix */
};

static int
peek (struct lexer *lx)
{
  return *lx->p ? (unsigned char)*lx->p : END;
}

static int
next (struct lexer *lx)
{
  return *lx->p ? (unsigned char)*lx->p++ : END;
}

static int
fail (struct lexer *lx, char *message)
{
  if (lx->message == NULL)
    lx->message = message;
  else
    free (message);
  return -EINVAL;
}

/* getEnv: the first entry with the name. */
static const char *
get_env (struct lexer *lx, const char *name, bool *found)
{
  size_t n = strlen (name);
  for (size_t i = 0; lx->env && lx->env[i]; i++)
    {
      const char *e = lx->env[i];
      if (strncmp (e, name, n) == 0 && (e[n] == '=' || e[n] == '\0'))
        {
          *found = true;
          return e[n] == '=' ? e + n + 1 : "";
        }
    }
  *found = false;
  return "";
}

static bool
is_special_param (int c)
{
  return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
}

/* A name of letters (any non-ASCII byte counts as part of one, as unicode.IsLetter does for letters), digits and
   underscores; a leading digit reads only digits; a special parameter is one character. */
static char *
process_name (struct lexer *lx)
{
  struct buf name = { 0 };
  while (peek (lx) != END)
    {
      int ch = peek (lx);
      if (name.len == 0 && isdigit (ch))
        {
          while (peek (lx) != END && isdigit (peek (lx)))
            buf_putc (&name, (char)next (lx));
          return buf_take (&name);
        }
      if (name.len == 0 && is_special_param (ch))
        {
          buf_putc (&name, (char)next (lx));
          return buf_take (&name);
        }
      if (!isalnum (ch) && ch != '_' && ch < 0x80)
        break;
      buf_putc (&name, (char)next (lx));
    }
  return buf_take (&name);
}

static int process_stop_on (struct lexer *lx, int stop, char **result, char ***words);

static int
process_dollar (struct lexer *lx, char **out)
{
  next (lx);
  if (peek (lx) != '{')
    {
      cleanup_free char *name = process_name (lx);
      bool found;
      *out = *name ? xstrdup (get_env (lx, name, &found)) : xstrdup ("$");
      return 0;
    }
  next (lx);
  switch (peek (lx))
    {
    case END:
      return fail (lx, xstrdup ("syntax error: missing '}'"));
    case '{':
    case '}':
    case ':':
      return fail (lx, xstrdup ("syntax error: bad substitution"));
    }
  cleanup_free char *name = process_name (lx);
  int ch = next (lx);
  bool found;
  if (ch == '}')
    {
      *out = xstrdup (get_env (lx, name, &found));
      return 0;
    }
  if (ch != ':')
    return fail (lx, xstrdup ("missing ':' in substitution"));
  int modifier = next (lx);
  cleanup_free char *word = NULL;
  if (process_stop_on (lx, '}', &word, NULL) < 0)
    {
      if (peek (lx) == END)
        {
          free (lx->message);
          lx->message = NULL;
          return fail (lx, xstrdup ("syntax error: missing '}'"));
        }
      return -EINVAL;
    }
  const char *value = get_env (lx, name, &found);
  switch (modifier)
    {
    case '+':
      *out = xstrdup (*value ? word : "");
      return 0;
    case '-':
      *out = xstrdup (*value ? value : word);
      return 0;
    case '?':
      if (!found)
        return fail (lx, xasprintf ("%s: %s", name, *word ? word : "is not allowed to be unset"));
      if (*value == '\0')
        return fail (lx, xasprintf ("%s: %s", name, *word ? word : "is not allowed to be empty"));
      *out = xstrdup (value);
      return 0;
    default:
      if (modifier == END)
        return fail (lx, xstrdup ("syntax error: missing '}'"));
      return fail (lx, xasprintf ("unsupported modifier (%c) in substitution", modifier));
    }
}

static int
process_single_quote (struct lexer *lx, char **out)
{
  struct buf r = { 0 };
  next (lx);
  for (;;)
    {
      int ch = next (lx);
      if (ch == END)
        {
          free (r.s);
          return fail (lx, xstrdup ("unexpected end of statement while looking for matching single-quote"));
        }
      if (ch == '\'')
        break;
      buf_putc (&r, (char)ch);
    }
  *out = buf_take (&r);
  return 0;
}

static int
process_double_quote (struct lexer *lx, char **out)
{
  struct buf r = { 0 };
  next (lx);
  for (;;)
    {
      int ch = peek (lx);
      if (ch == END)
        {
          free (r.s);
          return fail (lx, xstrdup ("unexpected end of statement while looking for matching double-quote"));
        }
      if (ch == '"')
        {
          next (lx);
          break;
        }
      if (ch == '$')
        {
          cleanup_free char *v = NULL;
          if (process_dollar (lx, &v) < 0)
            {
              free (r.s);
              return -EINVAL;
            }
          buf_putn (&r, v, strlen (v));
          continue;
        }
      ch = next (lx);
      if (ch == lx->escape)
        {
          int p = peek (lx);
          if (p == END)
            continue;
          if (p == '"' || p == '$' || p == lx->escape)
            ch = next (lx);
        }
      buf_putc (&r, (char)ch);
    }
  *out = buf_take (&r);
  return 0;
}

static int
process_stop_on (struct lexer *lx, int stop, char **result, char ***words_out)
{
  struct buf r = { 0 };
  struct words w = { 0 };
  int ret = 0;
  while (peek (lx) != END)
    {
      int ch = peek (lx);
      if (stop != END && ch == stop)
        {
          next (lx);
          goto done;
        }
      if (ch == '$' || ch == '\'' || ch == '"')
        {
          cleanup_free char *tmp = NULL;
          ret = ch == '$'    ? process_dollar (lx, &tmp)
                : ch == '\'' ? process_single_quote (lx, &tmp)
                             : process_double_quote (lx, &tmp);
          if (ret < 0)
            goto fail;
          buf_putn (&r, tmp, strlen (tmp));
          if (ch == '$')
            words_add_string (&w, tmp);
          else
            words_add_raw_string (&w, tmp);
          continue;
        }
      ch = next (lx);
      if (ch == lx->escape)
        {
          ch = next (lx);
          if (ch == END)
            break;
          words_add_raw_char (&w, (char)ch);
        }
      else
        words_add_char (&w, (char)ch);
      buf_putc (&r, (char)ch);
    }
  if (stop != END)
    {
      ret = fail (lx, xasprintf ("unexpected end of statement while looking for matching %c", stop));
      goto fail;
    }
done:
  *result = buf_take (&r);
  if (words_out)
    *words_out = words_finish (&w);
  else
    strv_free (words_finish (&w));
  return 0;
fail:
  free (r.s);
  strv_free (words_finish (&w));
  return ret;
}

static int
process (const char *word, char escape, char *const *env, char **out, char ***words, isola_error_t *err)
{
  struct lexer lx = { .p = word, .escape = escape, .env = env };
  cleanup_free char *result = NULL;
  if (process_stop_on (&lx, END, &result, words) < 0)
    {
      cleanup_free char *q = go_quote (word);
      int ret = isola_error_fail (err, EINVAL, "failed to process %s: %s", q, lx.message ? lx.message : "error");
      free (lx.message);
      return ret;
    }
  if (out)
    *out = take_ptr (&result);
  return 0;
}

int
shlex_process_word (const char *word, char escape, char *const *env, char **out, isola_error_t *err)
{
  return process (word, escape, env, out, NULL, err);
}

int
shlex_process_words (const char *word, char escape, char *const *env, char ***out, isola_error_t *err)
{
  return process (word, escape, env, NULL, out, err);
}
