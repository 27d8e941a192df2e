/* Go's text/template language parsed into a tree (gotemplate_int.h): text, actions with pipelines, if/else if/
   else, range, with, break/continue, variables, trim markers and comments; its errors as Go words them
   ("template: :LINE: MSG").  A hand-written lexer over the action's text, a recursive-descent parser. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/gotemplate_int.h"
#include "base/util.h"

#define MAX_NESTING 200

enum tok_type
{
  T_EOF,
  T_RDELIM,
  T_PIPE,
  T_LPAREN,
  T_RPAREN,
  T_DECLARE,
  T_ASSIGN,
  T_COMMA,
  T_DOT,
  T_FIELD,
  T_VAR,
  T_IDENT,
  T_STRING,
  T_RAW,
  T_CHAR,
  T_NUMBER,
};

struct tok
{
  enum tok_type type;
  size_t pos, len;
  bool spaced; /* white space before it */
  bool trim;   /* T_RDELIM: " -}}" */
};

struct parser
{
  const char *src;
  size_t pos;
  struct gt_tree *tree;
  isola_error_t *err;
  jmp_buf fail;
  char **vars; /* declared variables in scope, for "undefined variable" */
  size_t nvars, cap_vars;
  int range_depth;
  int nesting; /* of parentheses and control structures: bounded, as the C stack is */
  bool trim_next_text;
  struct tok peeked;
  bool has_peek;
};

static void *
arena_alloc (struct parser *p, size_t n)
{
  void *x = xcalloc (1, n);
  p->tree->allocs = xrealloc (p->tree->allocs, (p->tree->nallocs + 1) * sizeof (void *));
  p->tree->allocs[p->tree->nallocs++] = x;
  return x;
}

static char *
arena_strndup (struct parser *p, const char *s, size_t n)
{
  char *x = arena_alloc (p, n + 1);
  memcpy (x, s, n);
  return x;
}

static void
push_ptr (struct parser *p, void ***arr, size_t *n, void *x)
{
  void **grown = arena_alloc (p, (*n + 1) * sizeof (void *));
  if (*n)
    memcpy (grown, *arr, *n * sizeof (void *));
  grown[(*n)++] = x;
  *arr = grown;
}

static int
line_of (const char *src, size_t pos)
{
  int line = 1;
  for (size_t i = 0; i < pos && src[i]; i++)
    if (src[i] == '\n')
      line++;
  return line;
}

static void __attribute__ ((noreturn, format (printf, 3, 4))) fail (struct parser *p, size_t pos, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  isola_error_fail (p->err, EINVAL, "template: :%d: %s", line_of (p->src, pos), msg);
  longjmp (p->fail, 1);
}

/* ---- lexer ---------------------------------------------------------------------------------------------------- */

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alnum (char c)
{
  return isalnum ((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* A chain of fields: ".A.B" from s (at a '.'); its length. */
static size_t
scan_chain (const char *s)
{
  size_t n = 0;
  while (s[n] == '.' && is_alnum (s[n + 1]))
    {
      n++;
      while (is_alnum (s[n]))
        n++;
    }
  return n;
}

static size_t
scan_quoted (struct parser *p, size_t start, char quote)
{
  size_t i = start + 1;
  for (;;)
    {
      char c = p->src[i];
      if (c == '\\' && quote != '`' && p->src[i + 1] && p->src[i + 1] != '\n')
        i += 2;
      else if (c == quote)
        return i + 1 - start;
      else if (c == '\0' || (c == '\n' && quote != '`'))
        fail (p, start,
              quote == '`'   ? "unterminated raw quoted string"
              : quote == '"' ? "unterminated quoted string"
                             : "unterminated character constant");
      else
        i++;
    }
}

static size_t
scan_number (const char *s)
{
  size_t n = 0;
  if (s[n] == '+' || s[n] == '-')
    n++;
  while (isalnum ((unsigned char)s[n]) || s[n] == '_' || s[n] == '.'
         || ((s[n] == '+' || s[n] == '-') && n > 0 && strchr ("eEpP", s[n - 1])))
    n++;
  return n;
}

static struct tok
lex (struct parser *p)
{
  if (p->has_peek)
    {
      p->has_peek = false;
      return p->peeked;
    }
  struct tok t = { .pos = p->pos };
  const char *s = p->src;
  while (is_space (s[p->pos]))
    {
      if (s[p->pos + 1] == '-' && s[p->pos + 2] == '}' && s[p->pos + 3] == '}')
        {
          t = (struct tok){ .type = T_RDELIM, .pos = p->pos, .len = 4, .spaced = true, .trim = true };
          p->pos += 4;
          return t;
        }
      p->pos++;
      t.spaced = true;
    }
  size_t i = t.pos = p->pos;
  char c = s[i];
  size_t n = 1;
  if (c == '\0')
    t.type = T_EOF, n = 0;
  else if (c == '}' && s[i + 1] == '}')
    t.type = T_RDELIM, n = 2;
  else if (c == '|')
    t.type = T_PIPE;
  else if (c == '(')
    t.type = T_LPAREN;
  else if (c == ')')
    t.type = T_RPAREN;
  else if (c == ',')
    t.type = T_COMMA;
  else if (c == ':' && s[i + 1] == '=')
    t.type = T_DECLARE, n = 2;
  else if (c == '=')
    t.type = T_ASSIGN;
  else if (c == '"' || c == '`' || c == '\'')
    {
      t.type = c == '"' ? T_STRING : c == '`' ? T_RAW : T_CHAR;
      n = scan_quoted (p, i, c);
    }
  else if (isdigit ((unsigned char)c) || ((c == '-' || c == '+' || c == '.') && isdigit ((unsigned char)s[i + 1])))
    t.type = T_NUMBER, n = scan_number (s + i);
  else if (c == '.')
    {
      n = scan_chain (s + i);
      t.type = n ? T_FIELD : T_DOT;
      n = n ? n : 1;
    }
  else if (c == '$')
    {
      n = 1;
      while (is_alnum (s[i + n]))
        n++;
      n += scan_chain (s + i + n);
      t.type = T_VAR;
    }
  else if (is_alnum (c))
    {
      while (is_alnum (s[i + n]))
        n++;
      t.type = T_IDENT;
    }
  else if (c == '}')
    fail (p, i, "unexpected \"}\" in command");
  else
    {
      unsigned char u = (unsigned char)c;
      if (isprint (u))
        fail (p, i, "unexpected bad character U+%04X '%c' in command", u, c);
      fail (p, i, "unexpected bad character U+%04X in command", u);
    }
  t.len = n;
  p->pos = i + n;
  return t;
}

static struct tok
peek (struct parser *p)
{
  if (!p->has_peek)
    {
      p->peeked = lex (p);
      p->has_peek = true;
    }
  return p->peeked;
}

static bool
tok_is (struct parser *p, const struct tok *t, const char *word)
{
  return t->type == T_IDENT && t->len == strlen (word) && strncmp (p->src + t->pos, word, t->len) == 0;
}

/* ---- literals ------------------------------------------------------------------------------------------------- */

static void
put_utf8 (char **w, unsigned long cp)
{
  char *o = *w;
  if (cp < 0x80)
    *o++ = (char)cp;
  else if (cp < 0x800)
    *o++ = (char)(0xc0 | cp >> 6), *o++ = (char)(0x80 | (cp & 0x3f));
  else if (cp < 0x10000)
    *o++ = (char)(0xe0 | cp >> 12), *o++ = (char)(0x80 | (cp >> 6 & 0x3f)), *o++ = (char)(0x80 | (cp & 0x3f));
  else
    *o++ = (char)(0xf0 | cp >> 18), *o++ = (char)(0x80 | (cp >> 12 & 0x3f)), *o++ = (char)(0x80 | (cp >> 6 & 0x3f)),
    *o++ = (char)(0x80 | (cp & 0x3f));
  *w = o;
}

/* strconv.Unquote of a "..." or '...' body: the escapes of Go's string literals. */
static char *
unquote (struct parser *p, const struct tok *t, size_t *len)
{
  const char *s = p->src + t->pos + 1, *end = p->src + t->pos + t->len - 1;
  char *out = arena_alloc (p, t->len * 4 + 1), *w = out;
  while (s < end)
    {
      if (*s != '\\')
        {
          *w++ = *s++;
          continue;
        }
      s++;
      static const char from[] = "abfnrtv\\'\"", to[] = "\a\b\f\n\r\t\v\\'\"";
      const char *k = strchr (from, *s);
      if (*s && k)
        {
          *w++ = to[k - from];
          s++;
          continue;
        }
      int digits = *s == 'x' ? 2 : *s == 'u' ? 4 : *s == 'U' ? 8 : (*s >= '0' && *s <= '7') ? 3 : 0;
      int base = (*s >= '0' && *s <= '7') ? 8 : 16;
      const char *d = base == 8 ? s : s + 1;
      unsigned long cp = 0;
      for (int i = 0; i < digits; i++)
        {
          int v = base == 8 ? (d[i] >= '0' && d[i] <= '7' ? d[i] - '0' : -1) : hex_digit_value (d[i]);
          if (d + i >= end || v < 0 || digits == 0)
            fail (p, t->pos, "invalid syntax");
          cp = cp * (unsigned long)base + (unsigned long)v;
        }
      if (digits == 0)
        fail (p, t->pos, "invalid syntax");
      if (*s == 'x' || base == 8)
        *w++ = (char)cp;
      else
        put_utf8 (&w, cp);
      s = d + digits;
    }
  *len = (size_t)(w - out);
  return out;
}

static void
number_literal (struct parser *p, const struct tok *t, struct gt_arg *a)
{
  char *text = a->text, *end;
  if (t->type == T_CHAR)
    {
      size_t n;
      char *s = unquote (p, t, &n);
      unsigned char *u = (unsigned char *)s;
      long long cp = u[0];
      if (n >= 2 && u[0] >= 0xc0)
        cp = u[0] >= 0xf0   ? (u[0] & 7) << 18 | (u[1] & 0x3f) << 12 | (u[2] & 0x3f) << 6 | (u[3] & 0x3f)
             : u[0] >= 0xe0 ? (u[0] & 0xf) << 12 | (u[1] & 0x3f) << 6 | (u[2] & 0x3f)
                            : (u[0] & 0x1f) << 6 | (u[1] & 0x3f);
      a->type = GA_INT;
      a->i = cp;
      return;
    }
  char *clean = arena_strndup (p, text, strlen (text));
  char *w = clean;
  for (char *r = text; *r; r++)
    if (*r != '_')
      *w++ = *r;
  *w = '\0';
  errno = 0;
  bool octal = clean[0 + (clean[0] == '-' || clean[0] == '+')] == '0'
               && (clean[1 + (clean[0] == '-' || clean[0] == '+')] == 'o'
                   || clean[1 + (clean[0] == '-' || clean[0] == '+')] == 'O');
  if (octal)
    {
      char *o = strpbrk (clean, "oO");
      memmove (o, o + 1, strlen (o));
    }
  long long i = strtoll (clean, &end, 0);
  if (*end == '\0' && errno == 0)
    {
      a->type = GA_INT;
      a->i = i;
      return;
    }
  if (clean[0 + (clean[0] == '-' || clean[0] == '+')] == '0'
      && (clean[1 + (clean[0] == '-' || clean[0] == '+')] == 'b'))
    {
      char *b = clean + 2 + (clean[0] == '-' || clean[0] == '+');
      i = strtoll (b, &end, 2);
      if (*end == '\0' && *b)
        {
          a->type = GA_INT;
          a->i = clean[0] == '-' ? -i : i;
          return;
        }
    }
  errno = 0;
  double d = strtod (clean, &end);
  if (*end != '\0' || errno || strchr (clean, 'x') || strchr (clean, 'X'))
    fail (p, t->pos, "bad number syntax: \"%s\"", text);
  a->type = GA_FLOAT;
  a->d = d;
}

/* ---- variables in scope --------------------------------------------------------------------------------------- */

static void
declare (struct parser *p, char *name)
{
  if (p->nvars == p->cap_vars)
    {
      p->cap_vars = p->cap_vars ? 2 * p->cap_vars : 8;
      char **grown = arena_alloc (p, p->cap_vars * sizeof (char *));
      if (p->nvars)
        memcpy (grown, p->vars, p->nvars * sizeof (char *));
      p->vars = grown;
    }
  p->vars[p->nvars++] = name;
}

static void
check_declared (struct parser *p, const char *name, size_t pos)
{
  for (size_t i = p->nvars; i-- > 0;)
    if (strcmp (p->vars[i], name) == 0)
      return;
  fail (p, pos, "undefined variable \"%s\"", name);
}

/* ---- pipelines ------------------------------------------------------------------------------------------------ */

static struct gt_pipe *parse_pipeline (struct parser *p, const char *context, enum tok_type end);

static void
split_chain (struct parser *p, struct gt_arg *a, const char *chain)
{
  for (const char *s = chain; *s == '.';)
    {
      size_t n = strcspn (s + 1, ".");
      push_ptr (p, (void ***)&a->fields, &a->nfields, arena_strndup (p, s + 1, n));
      s += 1 + n;
    }
}

/* An operand: a term and the chain of fields after it; NULL at the end of the command. */
static struct gt_arg *
parse_operand (struct parser *p)
{
  struct tok t = peek (p);
  struct gt_arg *a = arena_alloc (p, sizeof *a);
  a->pos = t.pos;
  switch (t.type)
    {
    case T_DOT:
      lex (p);
      a->type = GA_DOT;
      break;
    case T_FIELD:
      lex (p);
      a->type = GA_FIELD;
      split_chain (p, a, a->text = arena_strndup (p, p->src + t.pos, t.len));
      return a;
    case T_VAR:
      {
        lex (p);
        a->type = GA_VAR;
        a->text = arena_strndup (p, p->src + t.pos, t.len);
        size_t n = strcspn (a->text + 1, ".") + 1;
        a->name = arena_strndup (p, a->text, n);
        check_declared (p, a->name, t.pos);
        split_chain (p, a, a->text + n);
        return a;
      }
    case T_IDENT:
      lex (p);
      a->text = arena_strndup (p, p->src + t.pos, t.len);
      if (strcmp (a->text, "true") == 0 || strcmp (a->text, "false") == 0)
        {
          a->type = GA_BOOL;
          a->b = a->text[0] == 't';
        }
      else if (strcmp (a->text, "nil") == 0)
        a->type = GA_NIL;
      else if (gt_func_exists (a->text))
        {
          a->type = GA_FUNC;
          a->name = a->text;
        }
      else
        fail (p, t.pos, "function \"%s\" not defined", a->text);
      break;
    case T_STRING:
    case T_RAW:
      lex (p);
      a->type = GA_STRING;
      a->text = arena_strndup (p, p->src + t.pos, t.len);
      if (t.type == T_RAW)
        {
          a->len = t.len - 2;
          a->str = arena_strndup (p, p->src + t.pos + 1, a->len);
        }
      else
        a->str = unquote (p, &t, &a->len);
      break;
    case T_NUMBER:
    case T_CHAR:
      lex (p);
      a->text = arena_strndup (p, p->src + t.pos, t.len);
      number_literal (p, &t, a);
      break;
    case T_LPAREN:
      {
        lex (p);
        a->type = GA_PIPE;
        if (++p->nesting > MAX_NESTING)
          fail (p, t.pos, "nested too deeply");
        a->pipe = parse_pipeline (p, "parenthesized pipeline", T_RPAREN);
        p->nesting--;
        a->text = arena_strndup (p, p->src + t.pos, p->pos - t.pos);
        break;
      }
    default:
      return NULL;
    }
  /* a chain after the term: (.A).B, $x.B is lexed with the variable */
  if (p->src[p->pos] == '.' && is_alnum (p->src[p->pos + 1]) && !p->has_peek)
    {
      size_t n = scan_chain (p->src + p->pos);
      if (a->type != GA_PIPE && a->type != GA_DOT)
        fail (p, p->pos, "unexpected . after term \"%s\"", a->text ? a->text : ".");
      split_chain (p, a, arena_strndup (p, p->src + p->pos, n));
      p->pos += n;
      a->text = arena_strndup (p, p->src + a->pos, p->pos - a->pos);
    }
  if (a->text == NULL)
    a->text = arena_strndup (p, p->src + a->pos, p->pos - a->pos);
  return a;
}

static const char *
tok_name (struct parser *p, const struct tok *t, char *buf, size_t size)
{
  switch (t->type)
    {
    case T_EOF:
      return "EOF";
    case T_RDELIM:
      return "}}";
    default:
      snprintf (buf, size, "%.*s", (int)(t->len > 40 ? 40 : t->len), p->src + t->pos);
      return buf;
    }
}

static struct gt_cmd *
parse_command (struct parser *p, enum tok_type end)
{
  struct gt_cmd *c = arena_alloc (p, sizeof *c);
  c->pos = peek (p).pos;
  for (;;)
    {
      struct tok t = peek (p);
      if (c->nargs && !t.spaced && t.type != T_PIPE && t.type != T_RPAREN && t.type != T_RDELIM && t.type != T_EOF)
        {
          char buf[64];
          fail (p, t.pos, "missing space? unexpected %s in operand", tok_name (p, &t, buf, sizeof buf));
        }
      struct gt_arg *a = parse_operand (p);
      if (a == NULL)
        break;
      push_ptr (p, (void ***)&c->args, &c->nargs, a);
    }
  struct tok t = peek (p);
  if (t.type == T_EOF || (t.type == T_RDELIM && end == T_RPAREN))
    fail (p, t.pos, end == T_RPAREN ? "unclosed left paren" : "unclosed action");
  if (t.type != T_PIPE && t.type != end)
    {
      char buf[64];
      if (t.type == T_RPAREN)
        fail (p, t.pos, "unexpected right paren");
      fail (p, t.pos, "unexpected \"%s\" in operand", tok_name (p, &t, buf, sizeof buf));
    }
  if (c->nargs == 0)
    fail (p, t.pos, "missing value for command");
  size_t stop = t.pos;
  while (stop > c->pos && is_space (p->src[stop - 1]))
    stop--;
  c->text = arena_strndup (p, p->src + c->pos, stop - c->pos);
  return c;
}

/* Declarations: "$x :=", "$k, $v :=", "$x =". */
static void
parse_declarations (struct parser *p, struct gt_pipe *pipe, const char *context)
{
  struct tok t = peek (p);
  if (t.type != T_VAR)
    return;
  size_t save_pos = p->pos;
  struct tok save_peek = p->peeked;
  lex (p);
  struct tok next = peek (p);
  char *name = arena_strndup (p, p->src + t.pos, t.len);
  bool chain = strchr (name + 1, '.') != NULL;
  if (!chain && (next.type == T_DECLARE || next.type == T_ASSIGN || next.type == T_COMMA))
    {
      lex (p);
      pipe->decl[pipe->ndecl++] = name;
      if (next.type == T_COMMA)
        {
          struct tok v = lex (p);
          if (strcmp (context, "range") != 0 || v.type != T_VAR)
            fail (p, next.pos, "too many declarations in %s", context);
          pipe->decl[pipe->ndecl++] = arena_strndup (p, p->src + v.pos, v.len);
          next = lex (p);
          if (next.type != T_DECLARE && next.type != T_ASSIGN)
            fail (p, next.pos, "missing := in %s", context);
        }
      pipe->assign = next.type == T_ASSIGN;
      for (size_t i = 0; i < pipe->ndecl; i++)
        if (pipe->assign)
          check_declared (p, pipe->decl[i], t.pos);
        else
          declare (p, pipe->decl[i]);
      return;
    }
  /* not a declaration: back to the variable as an operand */
  p->pos = save_pos;
  p->peeked = save_peek;
  p->has_peek = true;
}

static struct gt_pipe *
parse_pipeline (struct parser *p, const char *context, enum tok_type end)
{
  struct gt_pipe *pipe = arena_alloc (p, sizeof *pipe);
  pipe->pos = peek (p).pos;
  parse_declarations (p, pipe, context);
  for (;;)
    {
      struct tok t = peek (p);
      if (t.type == end)
        {
          pipe->end = t.pos;
          lex (p);
          if (end == T_RDELIM)
            p->trim_next_text = t.trim;
          break;
        }
      if (t.type == T_EOF)
        fail (p, t.pos, end == T_RPAREN ? "unclosed left paren" : "unclosed action");
      struct gt_cmd *c = parse_command (p, end);
      push_ptr (p, (void ***)&pipe->cmds, &pipe->ncmds, c);
      if (peek (p).type == T_PIPE)
        {
          lex (p);
          if (peek (p).type == end)
            fail (p, peek (p).pos, "missing command after |"); /* Go: "unexpected \"}}\"..." wording varies */
        }
    }
  if (pipe->ncmds == 0)
    fail (p, pipe->pos, "missing value for %s", context);
  /* only the first command's first operand may be a value that is not a function */
  for (size_t i = 1; i < pipe->ncmds; i++)
    {
      enum gt_arg_type first = pipe->cmds[i]->args[0]->type;
      if (first != GA_FUNC && first != GA_FIELD && first != GA_VAR && first != GA_PIPE && first != GA_DOT)
        fail (p, pipe->cmds[i]->pos, "non executable command in pipeline stage %zu", i + 1);
    }
  return pipe;
}

/* ---- actions and lists ---------------------------------------------------------------------------------------- */

enum list_end
{
  END_EOF,
  END_END,
  END_ELSE,
};

static struct gt_node *parse_list (struct parser *p, enum list_end *how, struct gt_node **else_action);

static void
expect_rdelim (struct parser *p, const char *what)
{
  struct tok t = lex (p);
  if (t.type != T_RDELIM)
    fail (p, t.pos, t.type == T_EOF ? "unclosed action" : "unexpected %s in %s", "token", what);
  p->trim_next_text = t.trim;
}

/* if/range/with: the pipeline, the list, an optional else (an "else if" is an if inside the else list). */
static struct gt_node *
parse_control (struct parser *p, enum gt_node_type type, size_t pos, const char *context)
{
  struct gt_node *n = arena_alloc (p, sizeof *n);
  n->type = type;
  n->pos = pos;
  if (++p->nesting > MAX_NESTING)
    fail (p, pos, "nested too deeply");
  size_t scope = p->nvars;
  n->pipe = parse_pipeline (p, context, T_RDELIM);
  if (type == GN_RANGE)
    p->range_depth++;
  enum list_end how;
  struct gt_node *else_action = NULL;
  n->list = parse_list (p, &how, &else_action);
  if (type == GN_RANGE)
    p->range_depth--;
  if (how == END_EOF)
    fail (p, strlen (p->src), "unexpected EOF");
  if (how == END_ELSE)
    {
      if (else_action)
        /* {{else if ...}} / {{else with ...}}: a nested control that ends at this one's {{end}} */
        n->elselist = else_action;
      else
        {
          n->elselist = parse_list (p, &how, &else_action);
          if (how == END_EOF)
            fail (p, strlen (p->src), "unexpected EOF");
          if (how == END_ELSE)
            fail (p, p->pos, "expected end; found {{else}}");
        }
    }
  p->nvars = scope;
  p->nesting--;
  return n;
}

/* One action after its "{{": a control structure's start or a pipeline.  *how is set when it ends a list. */
static struct gt_node *
parse_action (struct parser *p, size_t pos, enum list_end *how, struct gt_node **else_action)
{
  struct tok t = peek (p);
  if (tok_is (p, &t, "end"))
    {
      lex (p);
      expect_rdelim (p, "end");
      *how = END_END;
      return NULL;
    }
  if (tok_is (p, &t, "else"))
    {
      lex (p);
      struct tok next = peek (p);
      *how = END_ELSE;
      if (tok_is (p, &next, "if") || tok_is (p, &next, "with"))
        {
          lex (p);
          *else_action = parse_control (p, tok_is (p, &next, "if") ? GN_IF : GN_WITH, next.pos,
                                        tok_is (p, &next, "if") ? "if" : "with");
          return NULL;
        }
      expect_rdelim (p, "else");
      return NULL;
    }
  if (tok_is (p, &t, "if") || tok_is (p, &t, "range") || tok_is (p, &t, "with"))
    {
      lex (p);
      enum gt_node_type type = tok_is (p, &t, "if") ? GN_IF : tok_is (p, &t, "range") ? GN_RANGE : GN_WITH;
      return parse_control (p, type, pos, type == GN_IF ? "if" : type == GN_RANGE ? "range" : "with");
    }
  if (tok_is (p, &t, "break") || tok_is (p, &t, "continue"))
    {
      lex (p);
      bool brk = tok_is (p, &t, "break");
      if (p->range_depth == 0)
        fail (p, t.pos, "{{%s}} outside {{range}}", brk ? "break" : "continue");
      struct tok r = lex (p);
      if (r.type != T_RDELIM)
        fail (p, r.pos, "unexpected token in {{%s}}", brk ? "break" : "continue");
      p->trim_next_text = r.trim;
      struct gt_node *n = arena_alloc (p, sizeof *n);
      n->type = brk ? GN_BREAK : GN_CONTINUE;
      n->pos = pos;
      return n;
    }
  if (tok_is (p, &t, "define") || tok_is (p, &t, "template") || tok_is (p, &t, "block"))
    fail (p, t.pos, "{{%.*s}} is not supported", (int)t.len, p->src + t.pos);
  struct gt_node *n = arena_alloc (p, sizeof *n);
  n->type = GN_ACTION;
  n->pos = pos;
  n->pipe = parse_pipeline (p, "command", T_RDELIM);
  return n;
}

static bool
left_trim_marker (const char *s)
{
  return s[0] == '-' && is_space (s[1]);
}

/* A comment ("/" "*" ... "*" "/" in the delimiters) at start (after "{{" and a trim marker): returns the position after
 * it. */
static size_t
skip_comment (struct parser *p, size_t start)
{
  const char *close = strstr (p->src + start + 2, "*/");
  if (close == NULL)
    fail (p, start, "unclosed comment");
  size_t i = (size_t)(close - p->src) + 2;
  bool trim = false;
  if (p->src[i] == ' ' && p->src[i + 1] == '-' && p->src[i + 2] == '}' && p->src[i + 3] == '}')
    trim = true, i += 2;
  if (p->src[i] != '}' || p->src[i + 1] != '}')
    fail (p, start, "comment ends before closing delimiter");
  p->trim_next_text = trim;
  return i + 2;
}

static void
append (struct gt_node ***tail, struct gt_node *n)
{
  **tail = n;
  *tail = &n->next;
}

static struct gt_node *
parse_list (struct parser *p, enum list_end *how, struct gt_node **else_action)
{
  struct gt_node *head = NULL, **tail = &head;
  for (;;)
    {
      const char *s = p->src + p->pos;
      const char *open = strstr (s, "{{");
      size_t text_len = open ? (size_t)(open - s) : strlen (s);
      bool trim_left = open && left_trim_marker (open + 2);
      const char *text = s;
      if (p->trim_next_text)
        while (text_len && is_space (*text))
          text++, text_len--;
      if (trim_left)
        while (text_len && is_space (text[text_len - 1]))
          text_len--;
      p->trim_next_text = false;
      if (text_len)
        {
          struct gt_node *n = arena_alloc (p, sizeof *n);
          n->type = GN_TEXT;
          n->pos = (size_t)(text - p->src);
          n->text = text;
          n->len = text_len;
          append (&tail, n);
        }
      if (open == NULL)
        {
          p->pos += strlen (s);
          *how = END_EOF;
          return head;
        }
      size_t pos = (size_t)(open - p->src) + 2 + (trim_left ? 2 : 0);
      if (p->src[pos] == '/' && p->src[pos + 1] == '*')
        {
          p->pos = skip_comment (p, pos);
          continue;
        }
      p->pos = pos;
      p->has_peek = false;
      struct gt_node *n = parse_action (p, pos, how, else_action);
      if (n == NULL)
        return head;
      append (&tail, n);
    }
}

int
gt_parse (const char *tmpl, struct gt_tree *tree, isola_error_t *err)
{
  *tree = (struct gt_tree){ 0 };
  struct parser p = { .src = tmpl, .tree = tree, .err = err };
  if (setjmp (p.fail))
    {
      gt_tree_free (tree);
      return -EINVAL;
    }
  enum list_end how;
  struct gt_node *else_action = NULL;
  declare (&p, arena_strndup (&p, "$", 1));
  tree->root = parse_list (&p, &how, &else_action);
  if (how == END_END)
    fail (&p, p.pos, "unexpected {{end}}");
  if (how == END_ELSE)
    fail (&p, p.pos, "unexpected {{else}}");
  return 0;
}

void
gt_tree_free (struct gt_tree *tree)
{
  for (size_t i = 0; i < tree->nallocs; i++)
    free (tree->allocs[i]);
  free (tree->allocs);
  *tree = (struct gt_tree){ 0 };
}
