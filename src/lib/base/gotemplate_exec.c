/* Executing a parsed template (gotemplate_parse.c) as Go's text/template does: over Docker's typed structs
   (struct tv, gotemplate.c) or plain JSON, with variables, if/range/with, pipelines and the functions of
   gotemplate_funcs.c.  Errors unwind with longjmp: everything a run makes is owned by the run (r->keep). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/gotemplate.h"
#include "base/gotemplate_exec.h"
#include "base/util.h"

/* ---- errors --------------------------------------------------------------------------------------------------- */

/* Go's "template: :LINE:COL: executing "" at <NODE>: MSG", COL counted in bytes from 0 as Go does; a chain of
   fields (.A.B) is at its second field. */
void
gt_fail_at (struct run *r, int status, size_t pos, const char *node, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  const char *second = node[0] == '.' ? strchr (node + 1, '.') : NULL;
  if (second)
    pos += (size_t)(second - node);
  /* Go's ErrorContext: a node's text past 20 bytes is cut */
  char context[32];
  if (strlen (node) > 20)
    {
      snprintf (context, sizeof context, "%.20s...", node);
      node = context;
    }
  int line = 1;
  size_t col = pos;
  for (size_t i = 0; i < pos && r->tmpl[i]; i++)
    if (r->tmpl[i] == '\n')
      line++, col = pos - i - 1;
  isola_error_fail (r->err, status, "template: :%d:%zu: executing \"\" at <%s>: %s", line, col, node, msg);
  longjmp (r->fail, status);
}

/* ---- values --------------------------------------------------------------------------------------------------- */

json_t *
gt_keep (struct run *r, json_t *v)
{
  if (v)
    json_array_append_new (r->keep, v);
  return v;
}

void *
gt_alloc (struct run *r, size_t n)
{
  void *x = xcalloc (1, n);
  r->allocs = xrealloc (r->allocs, (r->nallocs + 1) * sizeof (void *));
  r->allocs[r->nallocs++] = x;
  return x;
}

struct tv
gt_untyped (json_t *v)
{
  struct tv x = { .v = json_is_null (v) ? NULL : v };
  return x;
}

/* The value as plain JSON (NULL: nil): a typed value as encoding/json would give it. */
json_t *
gt_plain (struct run *r, const struct tv *x)
{
  if (x->t == NULL)
    return x->v;
  if (x->invalid)
    return NULL;
  enum kind k = gt_kind_of (x->t);
  if (k == K_ANY || (k == K_PTR && x->v == NULL))
    return x->v;
  json_t *j = gt_keep (r, gt_marshal_go (r->types, x));
  return json_is_null (j) ? NULL : j;
}

/* A typed pointer followed to what it points at (text/template's indirect). */
static struct tv
indirect (const struct tv *x)
{
  struct tv cur = *x;
  while (cur.t && !cur.invalid && gt_kind_of (cur.t) == K_PTR && cur.v)
    gt_tv_elem (&cur, &cur, cur.v);
  return cur;
}

bool
gt_truth (struct run *r, const struct tv *x)
{
  if (x->t)
    {
      if (x->invalid)
        return false;
      struct tv d = indirect (x);
      enum kind k = gt_kind_of (d.t);
      if (k == K_PTR)
        return false;
      if (k == K_ANY)
        return gt_truth (r, &(struct tv){ .v = d.v });
      return k == K_STRUCT || k == K_TIME || !gt_is_empty (&d);
    }
  json_t *v = x->v;
  switch (json_typeof (v ? v : json_null ()))
    {
    case JSON_STRING:
      return json_string_length (v) > 0;
    case JSON_INTEGER:
    case JSON_REAL:
      return json_number_value (v) != 0;
    case JSON_TRUE:
      return true;
    case JSON_ARRAY:
      return json_array_size (v) > 0;
    case JSON_OBJECT:
      return json_object_size (v) > 0;
    default:
      return false;
    }
}

/* What text/template prints for a pipeline's value. */
static void
print_result (struct run *r, const struct tv *x)
{
  if (x->t)
    gt_print_go (r->out, r->types, x, 0);
  else
    gt_print_top (r->out, x->v ? x->v : json_null ());
}

/* ---- fields --------------------------------------------------------------------------------------------------- */

static bool
has_capitalised_key (json_t *obj)
{
  const char *k;
  json_t *v;
  json_object_foreach (obj, k, v)
  {
    if (isupper ((unsigned char)k[0]))
      return true;
  }
  return false;
}

/* A field of plain JSON: a lenient object (ps, events) or Docker's raw fallback (a map, missingkey=error). */
static struct tv
field_untyped (struct run *r, const struct tv *in, const char *name, const struct gt_arg *node)
{
  json_t *cur = in->v;
  if (!json_is_object (cur))
    {
      if (r->mode == MODE_LENIENT)
        gt_fail_at (r, EINVAL, node->pos, node->text, "can't evaluate field %s", name);
      if (cur == NULL || json_is_null (cur))
        gt_fail_at (r, ENODATA, node->pos, node->text, "nil pointer evaluating interface {}.%s", name);
      gt_fail_at (r, ENODATA, node->pos, node->text, "can't evaluate field %s in type interface {}", name);
    }
  json_t *x = json_object_get (cur, name);
  if (x == NULL && r->mode != MODE_LENIENT)
    gt_fail_at (r, ENODATA, node->pos, node->text, "map has no entry for key \"%s\"", name);
  /* A map without the key gives "<no value>" (Actor.Attributes.exitCode of an event without one), a struct
     an error.  A Go struct's fields are exported, capitalised: an object without such a key is a map. */
  if (x == NULL && has_capitalised_key (cur))
    gt_fail_at (r, EINVAL, node->pos, node->text, "can't evaluate field %s", name);
  return gt_untyped (x);
}

/* A field of a typed value.  Fails where Go's typed execution fails (a field the struct does not have, a nil
   pointer on the way), which sends the whole template to the raw fallback. */
static struct tv
field_typed (struct run *r, const struct tv *in, const char *name, const struct gt_arg *node)
{
  struct tv cur = *in, out;
  if (cur.invalid)
    gt_fail_at (r, ENODATA, node->pos, node->text, "nil pointer evaluating %s", name);
  while (gt_kind_of (cur.t) == K_PTR)
    {
      if (cur.v == NULL)
        gt_fail_at (r, ENODATA, node->pos, node->text, "nil pointer evaluating *%s.%s", cur.path, name);
      gt_tv_elem (&cur, &cur, cur.v);
    }
  switch (gt_kind_of (cur.t))
    {
    case K_STRUCT:
      {
        const struct gotype_field *e = gt_child_named (r->types, cur.path, name);
        if (e == NULL)
          gt_fail_at (r, ENODATA, node->pos, node->text, "can't evaluate field %s", name);
        gt_tv_field (&out, cur.v, e);
        return out;
      }
    case K_MAP:
      {
        json_t *x = json_object_get (cur.v, name);
        gt_tv_elem (&out, &cur, x);
        out.invalid = x == NULL;
        return out;
      }
    case K_ANY:
      return field_untyped (r, &(struct tv){ .v = cur.v }, name, node);
    default:
      gt_fail_at (r, ENODATA, node->pos, node->text, "can't evaluate field %s in type %s", name, cur.t);
    }
}

static struct tv
eval_chain (struct run *r, struct tv x, const struct gt_arg *node, bool has_args)
{
  for (size_t i = 0; i < node->nfields; i++)
    {
      if (has_args && i + 1 == node->nfields)
        gt_fail_at (r, ENODATA, node->pos, node->text, "%s is not a method but has arguments", node->fields[i]);
      x = x.t ? field_typed (r, &x, node->fields[i], node) : field_untyped (r, &x, node->fields[i], node);
    }
  return x;
}

/* ---- variables ------------------------------------------------------------------------------------------------ */

static void
push_var (struct run *r, const char *name, const struct tv *val)
{
  if (r->nvars == r->cap_vars)
    {
      r->cap_vars = r->cap_vars ? 2 * r->cap_vars : 8;
      r->vars = xrealloc (r->vars, r->cap_vars * sizeof *r->vars);
    }
  r->vars[r->nvars].name = name;
  r->vars[r->nvars++].val = *val;
}

static struct tv *
find_var (struct run *r, const char *name, const struct gt_arg *node)
{
  for (size_t i = r->nvars; i-- > 0;)
    if (strcmp (r->vars[i].name, name) == 0)
      return &r->vars[i].val;
  gt_fail_at (r, ENODATA, node ? node->pos : 0, name, "undefined variable: %s", name);
}

/* ---- pipelines ------------------------------------------------------------------------------------------------ */

static struct tv eval_pipeline (struct run *r, const struct gt_pipe *pipe, const struct tv *dot, bool declare);

static struct tv
literal (struct run *r, const struct gt_arg *a)
{
  switch (a->type)
    {
    case GA_STRING:
      return gt_untyped (gt_keep (r, json_stringn_nocheck (a->str, a->len)));
    case GA_INT:
      return gt_untyped (gt_keep (r, json_integer (a->i)));
    case GA_FLOAT:
      return gt_untyped (gt_keep (r, json_real (a->d)));
    case GA_BOOL:
      return gt_untyped (json_boolean (a->b));
    default:
      return gt_untyped (NULL);
    }
}

struct tv
gt_eval_arg (struct run *r, const struct gt_arg *a, const struct tv *dot)
{
  switch (a->type)
    {
    case GA_DOT:
      return *dot;
    case GA_FIELD:
      return eval_chain (r, *dot, a, false);
    case GA_VAR:
      return eval_chain (r, *find_var (r, a->name, a), a, false);
    case GA_PIPE:
      return eval_chain (r, eval_pipeline (r, a->pipe, dot, true), a, false);
    case GA_FUNC:
      return gt_call (r, NULL, a, NULL, 0, dot, NULL);
    default:
      return literal (r, a);
    }
}

static struct tv
eval_command (struct run *r, const struct gt_cmd *c, const struct tv *dot, const struct tv *final)
{
  const struct gt_arg *first = c->args[0];
  bool has_args = c->nargs > 1 || final;
  switch (first->type)
    {
    case GA_FIELD:
      return eval_chain (r, *dot, first, has_args);
    case GA_VAR:
      return eval_chain (r, *find_var (r, first->name, first), first, has_args);
    case GA_PIPE:
      return eval_chain (r, eval_pipeline (r, first->pipe, dot, true), first, has_args);
    case GA_FUNC:
      return gt_call (r, c, first, (const struct gt_arg *const *)c->args + 1, c->nargs - 1, dot, final);
    case GA_NIL:
      gt_fail_at (r, ENODATA, first->pos, "nil", "nil is not a command");
    default:
      if (has_args)
        gt_fail_at (r, ENODATA, first->pos, first->text, "can't give argument to non-function %s", first->text);
      return first->type == GA_DOT ? *dot : literal (r, first);
    }
}

static struct tv
eval_pipeline (struct run *r, const struct gt_pipe *pipe, const struct tv *dot, bool declare)
{
  struct tv value = gt_untyped (NULL), *final = NULL;
  for (size_t i = 0; i < pipe->ncmds; i++)
    {
      value = eval_command (r, pipe->cmds[i], dot, final);
      final = &value;
    }
  for (size_t i = 0; declare && i < pipe->ndecl; i++)
    {
      if (pipe->assign)
        *find_var (r, pipe->decl[i], NULL) = value;
      else
        push_var (r, pipe->decl[i], &value);
    }
  return value;
}

/* ---- control structures --------------------------------------------------------------------------------------- */

enum flow
{
  FLOW_NEXT,
  FLOW_BREAK,
  FLOW_CONTINUE,
};

static enum flow exec_list (struct run *r, const struct gt_node *n, const struct tv *dot);

/* One iteration of a range: its variables set, its body run in their scope. */
static enum flow
range_body (struct run *r, const struct gt_node *n, const struct tv *key, const struct tv *elem)
{
  size_t scope = r->nvars;
  if (n->pipe->ndecl == 1)
    push_var (r, n->pipe->decl[0], elem);
  else if (n->pipe->ndecl == 2)
    {
      push_var (r, n->pipe->decl[0], key);
      push_var (r, n->pipe->decl[1], elem);
    }
  enum flow f = exec_list (r, n->list, elem);
  r->nvars = scope;
  return f;
}

static void
exec_range (struct run *r, const struct gt_node *n, const struct tv *dot)
{
  struct tv val = eval_pipeline (r, n->pipe, dot, false);
  val = indirect (&val);
  if (val.t && gt_kind_of (val.t) == K_ANY)
    val = gt_untyped (val.v);
  json_t *v = val.invalid ? NULL : val.v;
  enum kind k = val.t ? gt_kind_of (val.t) : json_is_array (v) ? K_SLICE : json_is_object (v) ? K_MAP : K_ANY;
  size_t count = 0;
  if (k == K_SLICE && json_is_array (v))
    for (size_t i = 0; i < json_array_size (v); i++, count++)
      {
        struct tv key = gt_untyped (gt_keep (r, json_integer ((json_int_t)i))), elem;
        if (val.t)
          gt_tv_elem (&elem, &val, json_array_get (v, i));
        else
          elem = gt_untyped (json_array_get (v, i));
        if (range_body (r, n, &key, &elem) == FLOW_BREAK)
          break;
      }
  else if (k == K_MAP && json_is_object (v))
    {
      size_t nkeys;
      const char **keys = gt_sorted_keys (v, &nkeys);
      /* the keys stay alive in r->keep while the body runs (and longjmps) */
      json_t *names = gt_keep (r, json_array ());
      for (size_t i = 0; i < nkeys; i++)
        json_array_append_new (names, json_string_nocheck (keys[i]));
      free (keys);
      for (size_t i = 0; i < nkeys; i++, count++)
        {
          const char *name = json_string_value (json_array_get (names, i));
          struct tv key = gt_untyped (json_array_get (names, i)), elem;
          if (val.t)
            gt_tv_elem (&elem, &val, json_object_get (v, name));
          else
            elem = gt_untyped (json_object_get (v, name));
          if (range_body (r, n, &key, &elem) == FLOW_BREAK)
            break;
        }
    }
  else if (json_is_integer (v) && (val.t == NULL || k == K_INT))
    /* Go 1.22: range over an integer */
    for (json_int_t i = 0; i < json_integer_value (v); i++, count++)
      {
        struct tv x = gt_untyped (gt_keep (r, json_integer (i)));
        if (range_body (r, n, &x, &x) == FLOW_BREAK)
          break;
      }
  else if (v != NULL && k != K_SLICE && k != K_MAP)
    {
      char *text = NULL;
      size_t len = 0;
      FILE *f = open_memstream (&text, &len);
      if (f)
        {
          FILE *out = r->out;
          r->out = f;
          print_result (r, &val);
          r->out = out;
          fclose (f);
        }
      json_t *s = gt_keep (r, json_string (text ? text : ""));
      free (text);
      /* Go names the pipeline by its text */
      char node[32];
      size_t end = n->pipe->end;
      while (end > n->pipe->pos && (r->tmpl[end - 1] == ' ' || r->tmpl[end - 1] == '\t' || r->tmpl[end - 1] == '\n'))
        end--;
      snprintf (node, sizeof node, "%.*s", (int)(end - n->pipe->pos > 24 ? 24 : end - n->pipe->pos),
                r->tmpl + n->pipe->pos);
      gt_fail_at (r, ENODATA, n->pipe->pos, node, "range can't iterate over %s", json_string_value (s) ?: "");
    }
  if (count == 0 && n->elselist)
    exec_list (r, n->elselist, dot);
}

static enum flow
exec_node (struct run *r, const struct gt_node *n, const struct tv *dot)
{
  size_t scope = r->nvars;
  enum flow f = FLOW_NEXT;
  switch (n->type)
    {
    case GN_TEXT:
      fwrite (n->text, 1, n->len, r->out);
      return FLOW_NEXT;
    case GN_ACTION:
      {
        struct tv v = eval_pipeline (r, n->pipe, dot, true);
        if (n->pipe->ndecl == 0)
          print_result (r, &v);
        return FLOW_NEXT; /* a declaration lasts to the end of the enclosing control structure */
      }
    case GN_IF:
    case GN_WITH:
      {
        struct tv v = eval_pipeline (r, n->pipe, dot, true);
        if (gt_truth (r, &v))
          f = exec_list (r, n->list, n->type == GN_WITH ? &v : dot);
        else if (n->elselist)
          f = exec_list (r, n->elselist, dot);
        break;
      }
    case GN_RANGE:
      exec_range (r, n, dot);
      break;
    case GN_BREAK:
      return FLOW_BREAK;
    case GN_CONTINUE:
      return FLOW_CONTINUE;
    }
  r->nvars = scope;
  return f;
}

static enum flow
exec_list (struct run *r, const struct gt_node *n, const struct tv *dot)
{
  size_t scope = r->nvars;
  enum flow f = FLOW_NEXT;
  for (; n && f == FLOW_NEXT; n = n->next)
    f = exec_node (r, n, dot);
  r->nvars = scope;
  return f;
}

/* ---- the entry point ------------------------------------------------------------------------------------------ */

static int
execute (struct run *r, const struct gt_tree *tree, json_t *obj, char **out)
{
  char *buf = NULL;
  size_t len = 0;
  r->out = open_memstream (&buf, &len);
  if (r->out == NULL)
    return isola_error_make (r->err, errno, "open_memstream");
  r->keep = json_array ();
  r->nvars = 0;
  struct tv root = r->mode == MODE_TYPED ? (struct tv){ .v = obj, .t = "struct" } : gt_untyped (obj);
  int ret = setjmp (r->fail);
  if (ret == 0)
    {
      push_var (r, "$", &root);
      exec_list (r, tree->root, &root);
    }
  fclose (r->out);
  json_decref (r->keep);
  free (r->vars);
  r->vars = NULL;
  for (size_t i = 0; i < r->nallocs; i++)
    free (r->allocs[i]);
  free (r->allocs);
  r->allocs = NULL;
  r->nallocs = 0;
  r->cap_vars = r->nvars = 0;
  if (ret)
    {
      free (buf);
      return -ret;
    }
  *out = buf;
  return 0;
}

int
gotemplate_render (const char *tmpl, json_t *obj, const struct gotype_field *types, char **out, isola_error_t *err)
{
  struct gt_tree tree;
  int ret = gt_parse (tmpl, &tree, err);
  if (ret < 0)
    return ret;
  struct run r = { .tmpl = tmpl, .types = types, .mode = types ? MODE_TYPED : MODE_LENIENT, .err = err };
  ret = execute (&r, &tree, obj, out);
  if (ret == -ENODATA && types)
    {
      /* Docker's CLI: what fails over the typed struct runs again over the raw JSON, and that error is shown */
      isola_error_release (err);
      r.mode = MODE_RAW;
      ret = execute (&r, &tree, obj, out);
    }
  gt_tree_free (&tree);
  return ret;
}
