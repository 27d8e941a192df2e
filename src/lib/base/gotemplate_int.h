/* gotemplate's own parts, shared by its files: Go's typed values over JSON (gotemplate.c), the template's tree
   (gotemplate_parse.c), its execution (gotemplate_exec.c) and its functions (gotemplate_funcs.c). */
#ifndef ISOLA_GOTEMPLATE_INT_H
#define ISOLA_GOTEMPLATE_INT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "base/error.h"

struct gotype_field; /* base/gotemplate.h */

/* ---- Go's types over JSON (gotemplate.c) ---- */

enum kind
{
  K_PTR,
  K_SLICE,
  K_MAP,
  K_STRUCT,
  K_STRING,
  K_INT,
  K_FLOAT,
  K_BOOL,
  K_DURATION,
  K_TIME,
  K_ANY,
};

#define MAP_PREFIX "map[string]"
#define PATH_LEN   256

/* A typed value: JSON (NULL when missing), its type's text up to the flags, where its fields are in the table. */
struct tv
{
  json_t *v;
  const char *t;
  const struct gotype_field *entry; /* the field it came from (flags), or NULL */
  bool invalid;                     /* a map's missing key: "<no value>" */
  char path[PATH_LEN];
};

enum kind gt_kind_of (const char *t);
/* An object's keys sorted, as Go orders a map's.  Free the array, not the keys. */
const char **gt_sorted_keys (json_t *obj, size_t *n);
/* fmt's %v of untyped JSON; gt_print_top: as a template prints a value (a nil interface is "<no value>") */
void gt_print_value (FILE *f, json_t *v);
void gt_print_float (FILE *f, double d);
void gt_print_top (FILE *f, json_t *v);
/* encoding/json's HTML-safe output */
void gt_print_json (FILE *f, json_t *v, size_t flags);
const struct gotype_field *gt_child_named (const struct gotype_field *types, const char *parent, const char *name);
void gt_tv_field (struct tv *out, json_t *obj, const struct gotype_field *e);
void gt_tv_elem (struct tv *out, const struct tv *in, json_t *v);
void gt_print_go (FILE *f, const struct gotype_field *types, const struct tv *x, int depth);
bool gt_is_empty (const struct tv *x);
json_t *gt_marshal_go (const struct gotype_field *types, const struct tv *x);

/* ---- the template's tree (gotemplate_parse.c), as Go's text/template/parse ---- */

enum gt_node_type
{
  GN_TEXT,
  GN_ACTION,
  GN_IF,
  GN_RANGE,
  GN_WITH,
  GN_BREAK,
  GN_CONTINUE,
};

enum gt_arg_type
{
  GA_DOT,    /* . */
  GA_FIELD,  /* .A.B: fields of dot */
  GA_VAR,    /* $x.A: a variable and its fields */
  GA_FUNC,   /* an identifier: a function */
  GA_PIPE,   /* (pipeline).A */
  GA_STRING, /* "..." or `...` */
  GA_INT,    /* 3, 0x1f, 'a' */
  GA_FLOAT,  /* 1.5 */
  GA_BOOL,   /* true, false */
  GA_NIL,    /* nil */
};

struct gt_pipe;

struct gt_arg
{
  enum gt_arg_type type;
  size_t pos;
  char *text;    /* as written, for error messages */
  char *name;    /* the variable ("$x") or function */
  char **fields; /* the chain of fields after the operand */
  size_t nfields;
  char *str; /* a string's value */
  size_t len;
  long long i;
  double d;
  bool b;
  struct gt_pipe *pipe;
};

struct gt_cmd
{
  size_t pos;
  char *text; /* as written, for error messages */
  struct gt_arg **args;
  size_t nargs;
};

struct gt_pipe
{
  size_t pos, end; /* its text in the template */
  char *decl[2];   /* variables declared or assigned ($x := / $k, $v := / $x =) */
  size_t ndecl;
  bool assign;
  struct gt_cmd **cmds;
  size_t ncmds;
};

struct gt_node
{
  enum gt_node_type type;
  size_t pos;
  const char *text; /* GN_TEXT: a piece of the template */
  size_t len;
  struct gt_pipe *pipe;
  struct gt_node *list, *elselist;
  struct gt_node *next;
};

struct gt_tree
{
  struct gt_node *root;
  void **allocs; /* everything the tree holds, freed at once */
  size_t nallocs;
};

/* Parses tmpl; -EINVAL with Go's message ("template: :1: unexpected EOF") when it does not parse. */
int gt_parse (const char *tmpl, struct gt_tree *tree, isola_error_t *err);
void gt_tree_free (struct gt_tree *tree);
/* The names of the functions a template may call (gotemplate_funcs.c). */
bool gt_func_exists (const char *name);

#endif
