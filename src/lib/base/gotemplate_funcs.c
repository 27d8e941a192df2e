/* The functions a template calls: Go's text/template builtins (and, or, not, len, index, slice, eq, ne, lt, le,
   gt, ge, print, printf, println, html, js, urlquery) and the docker CLI's (json, join, title, lower, upper,
   split, truncate, pad: docker/cli templates/templates.go), with fmt's formatting of JSON values. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/gotemplate_exec.h"
#include "base/json.h"
#include "base/util.h"

struct call
{
  struct run *r;
  const struct gt_arg *fn;
  size_t pos;                        /* where the call is: its command's (or, as an argument, its name's) */
  const char *text;                  /* the command's text */
  const struct gt_arg *const *nodes; /* the arguments as written (the final one has none) */
  size_t nnodes;
  struct tv *args;
  size_t n;
};

#define FAIL(c, ...) gt_fail_at ((c)->r, ENODATA, (c)->pos, (c)->text, __VA_ARGS__)

/* text/template's evalArg: a literal of the wrong type for the parameter fails at the literal. */
static void
check_literal (struct call *c, size_t i, enum gt_arg_type want, const char *expected)
{
  const struct gt_arg *a = i < c->nnodes ? c->nodes[i] : NULL;
  if (a == NULL || a->type == want || a->type == GA_DOT || a->type == GA_FIELD || a->type == GA_VAR
      || a->type == GA_FUNC || a->type == GA_PIPE)
    return;
  gt_fail_at (c->r, ENODATA, a->pos, a->text, "expected %s; found %s", expected, a->text);
}

/* Go's name of a value's type, for error messages. */
static const char *
type_name (const struct tv *x, json_t *v)
{
  if (x->t && !x->invalid)
    return x->t;
  switch (json_typeof (v ? v : json_null ()))
    {
    case JSON_STRING:
      return "string";
    case JSON_INTEGER:
      return "int";
    case JSON_REAL:
      return "float64";
    case JSON_TRUE:
    case JSON_FALSE:
      return "bool";
    case JSON_ARRAY:
      return "[]interface {}";
    case JSON_OBJECT:
      return "map[string]interface {}";
    default:
      return "<nil>";
    }
}

static const char *
arg_string (struct call *c, size_t i, size_t *len)
{
  check_literal (c, i, GA_STRING, "string");
  json_t *v = gt_plain (c->r, &c->args[i]);
  if (!json_is_string (v))
    FAIL (c, "wrong type for value; expected string; got %s", type_name (&c->args[i], v));
  if (len)
    *len = json_string_length (v);
  return json_string_value (v);
}

static json_int_t
arg_int (struct call *c, size_t i)
{
  check_literal (c, i, GA_INT, "integer");
  json_t *v = gt_plain (c->r, &c->args[i]);
  if (!json_is_integer (v))
    FAIL (c, "wrong type for value; expected int; got %s", type_name (&c->args[i], v));
  return json_integer_value (v);
}

static struct tv
string_result (struct call *c, const char *s, size_t len)
{
  return gt_untyped (gt_keep (c->r, json_stringn_nocheck (s, len)));
}

/* The memstream's text as a string value; the buffer freed. */
static struct tv
stream_result (struct call *c, FILE *f, char **buf, size_t *len)
{
  fclose (f);
  struct tv x = string_result (c, *buf ? *buf : "", *buf ? *len : 0);
  free (*buf);
  return x;
}

/* ---- fmt ------------------------------------------------------------------------------------------------------ */

/* fmt's %v of a value as print and printf give it: a pointer to a struct as &{...}. */
static void
print_v (struct run *r, FILE *f, const struct tv *x)
{
  if (x->t && !x->invalid)
    {
      enum kind k = gt_kind_of (x->t);
      if (k == K_PTR && x->v)
        fputc ('&', f);
      if (k != K_ANY)
        {
          gt_print_go (f, r->types, x, 0);
          return;
        }
    }
  json_t *v = x->invalid ? NULL : x->v;
  if (json_is_real (v))
    gt_print_float (f, json_real_value (v));
  else
    gt_print_value (f, v ? v : json_null ());
}

/* strconv.Quote: Go's escapes, printable UTF-8 kept. */
static void
print_quoted (FILE *f, const char *s, size_t n)
{
  fputc ('"', f);
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char)s[i];
      static const char from[] = "\a\b\f\n\r\t\v", to[] = "abfnrtv";
      const char *k = c ? strchr (from, c) : NULL;
      if (c == '"' || c == '\\')
        fprintf (f, "\\%c", c);
      else if (k)
        fprintf (f, "\\%c", to[k - from]);
      else if (c < 0x20 || c == 0x7f)
        fprintf (f, "\\x%02x", c);
      else
        fputc (c, f);
    }
  fputc ('"', f);
}

struct spec
{
  bool minus, plus, sharp, zero, space;
  int width, prec; /* -1: none */
  char verb;
};

static size_t
utf8_runes (const char *s, size_t n)
{
  size_t runes = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80)
      runes++;
  return runes;
}

/* Writes s padded to the spec's width, in runes as fmt counts. */
static void
pad_out (FILE *f, const struct spec *sp, const char *s, size_t n, bool numeric)
{
  size_t runes = utf8_runes (s, n);
  size_t pad = sp->width > 0 && (size_t)sp->width > runes ? (size_t)sp->width - runes : 0;
  if (!sp->minus && sp->zero && numeric && pad && (s[0] == '-' || s[0] == '+'))
    {
      fputc (s[0], f);
      s++, n--;
    }
  for (size_t i = 0; !sp->minus && i < pad; i++)
    fputc (sp->zero && numeric ? '0' : ' ', f);
  fwrite (s, 1, n, f);
  for (size_t i = 0; sp->minus && i < pad; i++)
    fputc (' ', f);
}

static void
bad_verb (struct run *r, FILE *f, const struct spec *sp, const struct tv *x, json_t *v)
{
  fprintf (f, "%%!%c(", sp->verb);
  if (v == NULL)
    fputs ("<nil>", f);
  else
    {
      fprintf (f, "%s=", type_name (x, v));
      print_v (r, f, x);
    }
  fputc (')', f);
}

/* A C format for one integer or float verb, with the spec's flags. */
static void
c_format (char *fmt, size_t size, const struct spec *sp, const char *conv)
{
  snprintf (fmt, size, "%%%s%s%s%s%s%s%s", sp->minus ? "-" : "", sp->plus ? "+" : "", sp->sharp ? "#" : "",
            sp->zero && !sp->minus ? "0" : "", sp->space ? " " : "", sp->width >= 0 ? "*" : "",
            sp->prec >= 0 ? ".*" : "");
  strncat (fmt, conv, size - strlen (fmt) - 1);
}

static void
print_c (FILE *f, const struct spec *sp, const char *conv, ...)
{
  char fmt[32], *s = NULL;
  c_format (fmt, sizeof fmt, sp, conv);
  va_list ap;
  va_start (ap, conv);
  /* the width and precision, when the format has them, come first in the arguments */
  int n;
  n = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (n >= 0)
    fwrite (s, 1, (size_t)n, f);
  free (s);
}

static void
format_int (FILE *f, const struct spec *sp, long long i)
{
  const char *conv = sp->verb == 'x' ? "llx" : sp->verb == 'X' ? "llX" : sp->verb == 'o' ? "llo" : "lld";
  if (sp->verb == 'b' || sp->verb == 'c' || sp->verb == 'U')
    {
      char buf[80], *w = buf + sizeof buf;
      *--w = '\0';
      if (sp->verb == 'c')
        {
          char u[8], *o = u;
          unsigned long cp = (unsigned long)i;
          if (cp < 0x80)
            *o++ = (char)cp;
          else if (cp < 0x800)
            *o++ = (char)(0xc0 | cp >> 6), *o++ = (char)(0x80 | (cp & 0x3f));
          else
            *o++ = (char)(0xe0 | (cp >> 12 & 0xf)), *o++ = (char)(0x80 | (cp >> 6 & 0x3f)),
            *o++ = (char)(0x80 | (cp & 0x3f));
          pad_out (f, sp, u, (size_t)(o - u), false);
          return;
        }
      if (sp->verb == 'U')
        {
          snprintf (buf, sizeof buf, "U+%04llX", (unsigned long long)i);
          pad_out (f, sp, buf, strlen (buf), false);
          return;
        }
      unsigned long long u = i < 0 ? (unsigned long long)(-(i + 1)) + 1 : (unsigned long long)i;
      do
        *--w = (char)('0' + (u & 1));
      while (u >>= 1);
      if (i < 0)
        *--w = '-';
      pad_out (f, sp, w, strlen (w), true);
      return;
    }
  /* Go prints a negative hex as -ff, as C does not */
  if (i < 0 && conv[2] != 'd')
    {
      char fmt[32], *s = NULL;
      struct spec inner = *sp;
      inner.width = -1;
      c_format (fmt, sizeof fmt, &inner, conv);
      int n = inner.prec >= 0 ? asprintf (&s, fmt, inner.prec, (long long)-i) : asprintf (&s, fmt, (long long)-i);
      if (n >= 0)
        {
          cleanup_free char *neg = xasprintf ("-%s", s);
          pad_out (f, sp, neg, strlen (neg), true);
        }
      free (s);
      return;
    }
  if (sp->width >= 0 && sp->prec >= 0)
    print_c (f, sp, conv, sp->width, sp->prec, i);
  else if (sp->width >= 0)
    print_c (f, sp, conv, sp->width, i);
  else if (sp->prec >= 0)
    print_c (f, sp, conv, sp->prec, i);
  else
    print_c (f, sp, conv, i);
}

static void
format_float (FILE *f, const struct spec *sp, double d)
{
  char conv[2] = { sp->verb == 'F' ? 'f' : sp->verb, 0 };
  if (sp->verb == 'v' || ((sp->verb == 'g' || sp->verb == 'G') && sp->prec < 0))
    {
      char *s = NULL;
      size_t n = 0;
      FILE *m = open_memstream (&s, &n);
      if (m == NULL)
        return;
      gt_print_float (m, d);
      fclose (m);
      if (sp->plus && d >= 0)
        {
          char *p = xasprintf ("+%s", s);
          free (s);
          s = p;
        }
      pad_out (f, sp, s, strlen (s), true);
      free (s);
      return;
    }
  struct spec x = *sp;
  if (x.prec < 0)
    x.prec = 6;
  if (x.width >= 0)
    print_c (f, &x, conv, x.width, x.prec, d);
  else
    print_c (f, &x, conv, x.prec, d);
}

/* One verb over one value, as fmt formats the Go value the JSON stands for. */
static void
format_one (struct run *r, FILE *f, const struct spec *sp, const struct tv *x)
{
  json_t *v = gt_plain (r, x);
  char verb = sp->verb;
  bool structured = json_is_array (v) || json_is_object (v) || (x->t && gt_kind_of (x->t) == K_DURATION);
  if (verb == 'v' || (verb == 's' && structured))
    {
      if (json_is_real (v) && !x->t)
        {
          format_float (f, sp, json_real_value (v));
          return;
        }
      char *s = NULL;
      size_t n = 0;
      FILE *m = open_memstream (&s, &n);
      if (m == NULL)
        return;
      print_v (r, m, x);
      fclose (m);
      pad_out (f, sp, s, n, json_is_number (v));
      free (s);
      return;
    }
  if (json_is_string (v))
    {
      const char *s = json_string_value (v);
      size_t n = json_string_length (v);
      if (verb == 's')
        {
          if (sp->prec >= 0)
            {
              size_t runes = 0, i = 0;
              for (; i < n; i++)
                if (((unsigned char)s[i] & 0xc0) != 0x80 && runes++ == (size_t)sp->prec)
                  break;
              n = i;
            }
          pad_out (f, sp, s, n, false);
        }
      else if (verb == 'q')
        {
          char *q = NULL;
          size_t qn = 0;
          FILE *m = open_memstream (&q, &qn);
          if (m == NULL)
            return;
          print_quoted (m, s, n);
          fclose (m);
          pad_out (f, sp, q, qn, false);
          free (q);
        }
      else if (verb == 'x' || verb == 'X')
        {
          cleanup_free char *hex = xcalloc (2 * n + 1, 1);
          for (size_t i = 0; i < n; i++)
            sprintf (hex + 2 * i, verb == 'x' ? "%02x" : "%02X", (unsigned char)s[i]);
          pad_out (f, sp, hex, 2 * n, false);
        }
      else
        bad_verb (r, f, sp, x, v);
      return;
    }
  if (json_is_integer (v) && strchr ("dboxXcqU", verb))
    {
      if (verb == 'q')
        {
          char u[8] = { (char)json_integer_value (v) };
          char *q = xasprintf ("'%s'", u);
          pad_out (f, sp, q, strlen (q), false);
          free (q);
        }
      else
        format_int (f, sp, json_integer_value (v));
      return;
    }
  if (json_is_number (v) && strchr ("eEfFgG", verb))
    {
      format_float (f, sp, json_number_value (v));
      return;
    }
  if (json_is_boolean (v) && verb == 't')
    {
      const char *s = json_is_true (v) ? "true" : "false";
      pad_out (f, sp, s, strlen (s), false);
      return;
    }
  bad_verb (r, f, sp, x, v);
}

/* fmt.Sprintf over the values. */
static void
go_printf (struct run *r, FILE *f, const char *fmt, size_t flen, const struct tv *args, size_t n)
{
  size_t used = 0;
  for (size_t i = 0; i < flen; i++)
    {
      if (fmt[i] != '%')
        {
          fputc (fmt[i], f);
          continue;
        }
      struct spec sp = { .width = -1, .prec = -1 };
      for (i++; i < flen && strchr ("-+# 0", fmt[i]); i++)
        switch (fmt[i])
          {
          case '-':
            sp.minus = true;
            break;
          case '+':
            sp.plus = true;
            break;
          case '#':
            sp.sharp = true;
            break;
          case ' ':
            sp.space = true;
            break;
          default:
            sp.zero = true;
          }
      for (; i < flen && isdigit ((unsigned char)fmt[i]) && sp.width < 100000; i++)
        sp.width = (sp.width < 0 ? 0 : sp.width * 10) + (fmt[i] - '0');
      if (i < flen && fmt[i] == '.')
        for (sp.prec = 0, i++; i < flen && isdigit ((unsigned char)fmt[i]) && sp.prec < 100000; i++)
          sp.prec = sp.prec * 10 + (fmt[i] - '0');
      if (i >= flen)
        {
          fputs ("%!(NOVERB)", f);
          break;
        }
      sp.verb = fmt[i];
      if (sp.verb == '%')
        {
          fputc ('%', f);
          continue;
        }
      if (used >= n)
        {
          fprintf (f, "%%!%c(MISSING)", sp.verb);
          continue;
        }
      if (!strchr ("vsqdboxXcUeEfFgGt", sp.verb))
        {
          json_t *v = gt_plain (r, &args[used]);
          struct spec bad = sp;
          bad_verb (r, f, &bad, &args[used], v);
          used++;
          continue;
        }
      format_one (r, f, &sp, &args[used++]);
    }
  if (used < n)
    {
      fputs ("%!(EXTRA ", f);
      for (size_t i = used; i < n; i++)
        {
          json_t *v = gt_plain (r, &args[i]);
          fprintf (f, "%s%s=", i > used ? ", " : "", type_name (&args[i], v));
          print_v (r, f, &args[i]);
        }
      fputc (')', f);
    }
}

static bool
is_string_value (struct run *r, const struct tv *x)
{
  return json_is_string (gt_plain (r, x));
}

/* fmt.Sprint: spaces between operands when neither side is a string; Sprintln: always, and a newline. */
static void
go_print (struct run *r, FILE *f, const struct tv *args, size_t n, bool ln)
{
  for (size_t i = 0; i < n; i++)
    {
      if (i > 0 && (ln || (!is_string_value (r, &args[i - 1]) && !is_string_value (r, &args[i]))))
        fputc (' ', f);
      print_v (r, f, &args[i]);
    }
  if (ln)
    fputc ('\n', f);
}

/* ---- the functions -------------------------------------------------------------------------------------------- */

static struct tv
fn_print (struct call *c)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    FAIL (c, "out of memory");
  if (strcmp (c->fn->name, "printf") == 0)
    {
      size_t flen;
      json_t *fmt = gt_plain (c->r, &c->args[0]);
      if (!json_is_string (fmt))
        {
          fclose (f);
          free (buf);
          arg_string (c, 0, &flen);
        }
      go_printf (c->r, f, json_string_value (fmt), json_string_length (fmt), c->args + 1, c->n - 1);
    }
  else
    go_print (c->r, f, c->args, c->n, strcmp (c->fn->name, "println") == 0);
  return stream_result (c, f, &buf, &len);
}

/* The arguments as one string: the string itself when it is the only one, else fmt.Sprint of them (as
   text/template's evalArgs does for html, js and urlquery). */
static char *
args_text (struct call *c, size_t *len)
{
  char *buf = NULL;
  *len = 0;
  FILE *f = open_memstream (&buf, len);
  if (f == NULL)
    FAIL (c, "out of memory");
  if (c->n == 1 && is_string_value (c->r, &c->args[0]))
    {
      json_t *v = gt_plain (c->r, &c->args[0]);
      fwrite (json_string_value (v), 1, json_string_length (v), f);
    }
  else
    go_print (c->r, f, c->args, c->n, false);
  fclose (f);
  return buf;
}

static struct tv
fn_escape (struct call *c)
{
  size_t n;
  char *s = args_text (c, &n);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    {
      free (s);
      FAIL (c, "out of memory");
    }
  char kind = c->fn->name[0]; /* h(tml), j(s), u(rlquery) */
  for (size_t i = 0; i < n; i++)
    {
      unsigned char ch = (unsigned char)s[i];
      if (kind == 'h')
        {
          static const char *const ent[]
              = { ['"'] = "&#34;", ['\''] = "&#39;", ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;" };
          if (ch == 0)
            fputs ("\xef\xbf\xbd", f);
          else if (ch < ARRAY_SIZE (ent) && ent[ch])
            fputs (ent[ch], f);
          else
            fputc (ch, f);
        }
      else if (kind == 'j')
        {
          if (ch == '\\' || ch == '\'' || ch == '"')
            fprintf (f, "\\%c", ch);
          else if (ch == '<' || ch == '>' || ch == '&' || ch == '=' || ch < 0x20)
            fprintf (f, "\\u%04X", ch);
          else
            fputc (ch, f);
        }
      else if (isalnum (ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
        fputc (ch, f);
      else if (ch == ' ')
        fputc ('+', f);
      else
        fprintf (f, "%%%02X", ch);
    }
  free (s);
  return stream_result (c, f, &buf, &len);
}

static struct tv
fn_not (struct call *c)
{
  return gt_untyped (json_boolean (!gt_truth (c->r, &c->args[0])));
}

static struct tv
fn_len (struct call *c)
{
  struct tv *x = &c->args[0];
  json_t *v = gt_plain (c->r, x);
  enum kind k = x->t && !x->invalid ? gt_kind_of (x->t) : K_ANY;
  size_t n;
  if (k == K_STRUCT || k == K_INT || k == K_BOOL || k == K_FLOAT || k == K_TIME || k == K_DURATION)
    FAIL (c, "error calling len: len of type %s", x->t);
  if (k == K_SLICE && v == NULL)
    n = 0;
  else if (k == K_MAP && v == NULL)
    n = 0;
  else if (json_is_string (v))
    n = json_string_length (v);
  else if (json_is_array (v))
    n = json_array_size (v);
  else if (json_is_object (v))
    n = json_object_size (v);
  else if (v == NULL)
    FAIL (c, "error calling len: len of nil pointer");
  else
    FAIL (c, "error calling len: len of type %s", type_name (x, v));
  return gt_untyped (gt_keep (c->r, json_integer ((json_int_t)n)));
}

/* index and slice's integer argument. */
static long long
index_of (struct call *c, size_t i, const char *what)
{
  json_t *v = gt_plain (c->r, &c->args[i]);
  if (!json_is_integer (v))
    FAIL (c, "error calling %s: cannot index slice/array with type %s", what, type_name (&c->args[i], v));
  return json_integer_value (v);
}

static struct tv
fn_index (struct call *c)
{
  struct tv cur = c->args[0];
  for (size_t i = 1; i < c->n; i++)
    {
      if (cur.t && !cur.invalid && gt_kind_of (cur.t) == K_PTR && cur.v)
        gt_tv_elem (&cur, &cur, cur.v);
      enum kind k = cur.t && !cur.invalid ? gt_kind_of (cur.t) : K_ANY;
      json_t *v = cur.invalid ? NULL : cur.v;
      if (k == K_ANY)
        cur = gt_untyped (v);
      /* A typed value indexes by its type, not by the JSON that holds it: a struct is an object too. */
      bool typed = cur.t != NULL;
      if (typed && k != K_MAP && k != K_SLICE && k != K_STRING)
        FAIL (c, "error calling index: can't index item of type %s", cur.t);
      if (typed ? k == K_MAP : json_is_object (v))
        {
          const char *key = NULL;
          json_t *kv = gt_plain (c->r, &c->args[i]);
          if (!json_is_string (kv))
            FAIL (c, "error calling index: value has type %s; should be string", type_name (&c->args[i], kv));
          key = json_string_value (kv);
          json_t *x = json_object_get (v, key);
          if (cur.t)
            gt_tv_elem (&cur, &cur, x);
          else
            cur = gt_untyped (x);
        }
      else if (typed ? k == K_SLICE : json_is_array (v))
        {
          long long x = index_of (c, i, "index");
          if (x < 0 || (size_t)x >= json_array_size (v))
            FAIL (c, "error calling index: index out of range: %lld", x);
          if (cur.t)
            gt_tv_elem (&cur, &cur, json_array_get (v, (size_t)x));
          else
            cur = gt_untyped (json_array_get (v, (size_t)x));
        }
      else if (json_is_string (v))
        {
          long long x = index_of (c, i, "index");
          if (x < 0 || (size_t)x >= json_string_length (v))
            FAIL (c, "error calling index: index out of range: %lld", x);
          cur = gt_untyped (gt_keep (c->r, json_integer ((unsigned char)json_string_value (v)[x])));
        }
      else if (v == NULL)
        FAIL (c, "error calling index: index of untyped nil");
      else
        FAIL (c, "error calling index: can't index item of type %s", type_name (&cur, v));
    }
  return cur;
}

static struct tv
fn_slice (struct call *c)
{
  json_t *v = gt_plain (c->r, &c->args[0]);
  if (c->n > 4)
    FAIL (c, "error calling slice: too many slice indexes: %zu", c->n - 1);
  size_t len = json_is_string (v) ? json_string_length (v) : json_is_array (v) ? json_array_size (v) : 0;
  if (!json_is_string (v) && !json_is_array (v))
    FAIL (c, "error calling slice: can't slice item of type %s", type_name (&c->args[0], v));
  if (json_is_string (v) && c->n == 4)
    FAIL (c, "error calling slice: cannot 3-index slice a string");
  long long idx[3] = { 0, (long long)len, (long long)len };
  for (size_t i = 1; i < c->n; i++)
    {
      idx[i - 1] = index_of (c, i, "slice");
      if (idx[i - 1] < 0 || (size_t)idx[i - 1] > len)
        FAIL (c, "error calling slice: index out of range: %lld", idx[i - 1]);
    }
  if (idx[0] > idx[1])
    FAIL (c, "error calling slice: invalid slice index: %lld > %lld", idx[0], idx[1]);
  if (json_is_string (v))
    return string_result (c, json_string_value (v) + idx[0], (size_t)(idx[1] - idx[0]));
  json_t *out = gt_keep (c->r, json_array ());
  for (long long i = idx[0]; i < idx[1]; i++)
    json_array_append (out, json_array_get (v, (size_t)i));
  if (c->args[0].t && !c->args[0].invalid && gt_kind_of (c->args[0].t) == K_SLICE)
    {
      struct tv x = c->args[0];
      x.v = out;
      return x;
    }
  return gt_untyped (out);
}

/* -1, 0, 1 as a < b, a == b, a > b; 2: not comparable with ordering (bools), -2: incompatible. */
static int
compare (struct call *c, size_t ia, size_t ib, bool ordered)
{
  json_t *a = gt_plain (c->r, &c->args[ia]), *b = gt_plain (c->r, &c->args[ib]);
  for (size_t i = 0; i < 2; i++)
    {
      json_t *x = i ? b : a;
      if (json_is_array (x) || json_is_object (x))
        FAIL (c, "error calling %s: non-comparable type %s", c->fn->name, type_name (&c->args[i ? ib : ia], x));
    }
  if (a == NULL || b == NULL)
    {
      if (ordered)
        FAIL (c, "error calling %s: invalid type for comparison", c->fn->name);
      return a == b ? 0 : 1;
    }
  if (json_is_string (a) && json_is_string (b))
    {
      int d = strcmp (json_string_value (a), json_string_value (b));
      return d < 0 ? -1 : d > 0;
    }
  if (json_is_number (a) && json_is_number (b))
    {
      if (json_is_integer (a) && json_is_integer (b))
        return json_integer_value (a) < json_integer_value (b) ? -1 : json_integer_value (a) > json_integer_value (b);
      double x = json_number_value (a), y = json_number_value (b);
      return x < y ? -1 : x > y;
    }
  if (json_is_boolean (a) && json_is_boolean (b))
    {
      if (ordered)
        FAIL (c, "error calling %s: invalid type for comparison", c->fn->name);
      return json_is_true (a) == json_is_true (b) ? 0 : 1;
    }
  FAIL (c, "error calling %s: incompatible types for comparison", c->fn->name);
}

static struct tv
fn_compare (struct call *c)
{
  const char *name = c->fn->name;
  bool result;
  if (strcmp (name, "eq") == 0)
    {
      /* Go's eq: arg1 == arg2 || arg1 == arg3 ... */
      result = false;
      for (size_t i = 1; i < c->n && !result; i++)
        result = compare (c, 0, i, false) == 0;
    }
  else
    {
      int d = compare (c, 0, 1, strcmp (name, "ne") != 0);
      result = strcmp (name, "ne") == 0   ? d != 0
               : strcmp (name, "lt") == 0 ? d < 0
               : strcmp (name, "le") == 0 ? d <= 0
               : strcmp (name, "gt") == 0 ? d > 0
                                          : d >= 0;
    }
  return gt_untyped (json_boolean (result));
}

/* docker's json: encoding/json of the value */
static struct tv
fn_json (struct call *c)
{
  struct tv *x = &c->args[0];
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    FAIL (c, "out of memory");
  if (x->t)
    {
      json_t *j = gt_keep (c->r, x->invalid ? json_null () : gt_marshal_go (c->r->types, x));
      gt_print_json (f, j, 0);
    }
  else /* the raw fallback marshals a map: its keys sorted */
    gt_print_json (f, x->v ? x->v : json_null (), c->r->mode == MODE_RAW ? JSON_SORT_KEYS : 0);
  return stream_result (c, f, &buf, &len);
}

static struct tv
fn_join (struct call *c)
{
  json_t *a = gt_plain (c->r, &c->args[0]), *item;
  size_t i, seplen;
  const char *sep = arg_string (c, 1, &seplen);
  if (a != NULL && !json_is_array (a))
    FAIL (c, "wrong type for value; expected []string; got %s", type_name (&c->args[0], a));
  json_array_foreach (a, i, item)
  {
    if (!json_is_string (item))
      FAIL (c, "wrong type for value; expected []string; got %s", type_name (&c->args[0], a));
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    FAIL (c, "out of memory");
  json_array_foreach (a, i, item)
  {
    if (i)
      fwrite (sep, 1, seplen, f);
    fwrite (json_string_value (item), 1, json_string_length (item), f);
  }
  return stream_result (c, f, &buf, &len);
}

/* strings.Split: around each separator; an empty separator splits into UTF-8 characters */
static struct tv
fn_split (struct call *c)
{
  size_t n, seplen;
  const char *s = arg_string (c, 0, &n);
  const char *sep = arg_string (c, 1, &seplen);
  json_t *out = gt_keep (c->r, json_array ());
  const char *end = s + n;
  if (seplen == 0)
    {
      for (const char *p = s; p < end;)
        {
          size_t k = 1;
          while (p + k < end && ((unsigned char)p[k] & 0xc0) == 0x80)
            k++;
          json_array_append_new (out, json_stringn_nocheck (p, k));
          p += k;
        }
      return gt_untyped (out);
    }
  for (const char *p = s;;)
    {
      const char *hit = memmem (p, (size_t)(end - p), sep, seplen);
      json_array_append_new (out, json_stringn_nocheck (p, hit ? (size_t)(hit - p) : (size_t)(end - p)));
      if (hit == NULL)
        break;
      p = hit + seplen;
    }
  return gt_untyped (out);
}

static struct tv
fn_case (struct call *c)
{
  size_t n;
  const char *s = arg_string (c, 0, &n);
  char *out = xmalloc (n + 1);
  char kind = c->fn->name[0]; /* l(ower), u(pper), t(itle) */
  bool separated = true;
  for (size_t i = 0; i < n; i++)
    {
      unsigned char ch = (unsigned char)s[i];
      if (kind == 'l')
        out[i] = (char)(ch < 0x80 ? tolower (ch) : ch);
      else if (kind == 'u')
        out[i] = (char)(ch < 0x80 ? toupper (ch) : ch);
      else
        {
          /* strings.Title: a letter after a separator (not a letter, digit or underscore) is upper-cased */
          out[i] = (char)(separated && ch < 0x80 ? toupper (ch) : ch);
          separated = ch < 0x80 && !isalnum (ch) && ch != '_';
        }
    }
  struct tv x = string_result (c, out, n);
  free (out);
  return x;
}

/* docker's truncate: the first n bytes */
static struct tv
fn_truncate (struct call *c)
{
  size_t n;
  const char *s = arg_string (c, 0, &n);
  json_int_t len = arg_int (c, 1);
  if ((json_int_t)n < len)
    return string_result (c, s, n);
  if (len < 0)
    FAIL (c, "error calling truncate: slice bounds out of range [:%" JSON_INTEGER_FORMAT "]", len);
  return string_result (c, s, (size_t)len);
}

/* docker's pad: spaces before and after a non-empty string */
static struct tv
fn_pad (struct call *c)
{
  size_t n;
  const char *s = arg_string (c, 0, &n);
  json_int_t before = arg_int (c, 1), after = arg_int (c, 2);
  if (n == 0)
    return string_result (c, s, n);
  if (before < 0 || after < 0 || before > 1 << 20 || after > 1 << 20)
    FAIL (c, "error calling pad: negative Repeat count");
  size_t total = (size_t)before + n + (size_t)after;
  char *out = xmalloc (total + 1);
  memset (out, ' ', total);
  memcpy (out + before, s, n);
  struct tv x = string_result (c, out, total);
  free (out);
  return x;
}

static const struct func
{
  const char *name;
  struct tv (*fn) (struct call *c);
  int min, max; /* arguments; max -1: any number */
} funcs[] = {
  { "and", NULL, 1, -1 },
  { "or", NULL, 1, -1 },
  { "not", fn_not, 1, 1 },
  { "len", fn_len, 1, 1 },
  { "index", fn_index, 1, -1 },
  { "slice", fn_slice, 1, -1 },
  { "eq", fn_compare, 2, -1 },
  { "ne", fn_compare, 2, 2 },
  { "lt", fn_compare, 2, 2 },
  { "le", fn_compare, 2, 2 },
  { "gt", fn_compare, 2, 2 },
  { "ge", fn_compare, 2, 2 },
  { "print", fn_print, 0, -1 },
  { "printf", fn_print, 1, -1 },
  { "println", fn_print, 0, -1 },
  { "html", fn_escape, 0, -1 },
  { "js", fn_escape, 0, -1 },
  { "urlquery", fn_escape, 0, -1 },
  { "json", fn_json, 1, 1 },
  { "join", fn_join, 2, 2 },
  { "split", fn_split, 2, 2 },
  { "title", fn_case, 1, 1 },
  { "lower", fn_case, 1, 1 },
  { "upper", fn_case, 1, 1 },
  { "truncate", fn_truncate, 2, 2 },
  { "pad", fn_pad, 3, 3 },
};

static const struct func *
find_func (const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE (funcs); i++)
    if (strcmp (funcs[i].name, name) == 0)
      return &funcs[i];
  return NULL;
}

bool
gt_func_exists (const char *name)
{
  return find_func (name) != NULL;
}

struct tv
gt_call (struct run *r, const struct gt_cmd *cmd, const struct gt_arg *fn, const struct gt_arg *const *args,
         size_t nargs, const struct tv *dot, const struct tv *final)
{
  const struct func *f = find_func (fn->name);
  size_t n = nargs + (final != NULL);
  if (f->max >= 0 && f->min == f->max && n != (size_t)f->min)
    gt_fail_at (r, ENODATA, fn->pos, fn->text, "wrong number of args for %s: want %d got %zu", fn->name, f->min, n);
  if ((int)n < f->min)
    gt_fail_at (r, ENODATA, fn->pos, fn->text, "wrong number of args for %s: want at least %d got %zu", fn->name,
                f->min, n);
  if (f->max >= 0 && (int)n > f->max)
    gt_fail_at (r, ENODATA, fn->pos, fn->text, "wrong number of args for %s: want %d got %zu", fn->name, f->max, n);
  if (f->fn == NULL)
    {
      /* and, or: the first operand that decides, evaluated no further (Go 1.18) */
      bool is_and = fn->name[0] == 'a';
      struct tv v = gt_untyped (NULL);
      for (size_t i = 0; i < n; i++)
        {
          v = i < nargs ? gt_eval_arg (r, args[i], dot) : *final;
          if (gt_truth (r, &v) != is_and)
            break;
        }
      return v;
    }
  struct tv *argv = gt_alloc (r, (n ? n : 1) * sizeof *argv);
  for (size_t i = 0; i < nargs; i++)
    argv[i] = gt_eval_arg (r, args[i], dot);
  if (final)
    argv[nargs] = *final;
  struct call c = { .r = r,
                    .fn = fn,
                    .pos = cmd ? cmd->pos : fn->pos,
                    .text = cmd ? cmd->text : fn->text,
                    .nodes = args,
                    .nnodes = nargs,
                    .args = argv,
                    .n = n };
  struct tv out = f->fn (&c);
  return out;
}
