/* A template's execution (gotemplate_exec.c) as its functions (gotemplate_funcs.c) see it. */
#ifndef ISOLA_GOTEMPLATE_EXEC_H
#define ISOLA_GOTEMPLATE_EXEC_H

#include <setjmp.h>

#include "base/gotemplate_int.h"

enum mode
{
  MODE_LENIENT, /* plain JSON: ps, events */
  MODE_TYPED,   /* Docker's CLI over its Go structs */
  MODE_RAW,     /* Docker's CLI over the raw JSON, missingkey=error */
};

struct var
{
  const char *name;
  struct tv val;
};

struct run
{
  const char *tmpl;
  const struct gotype_field *types;
  enum mode mode;
  isola_error_t *err;
  FILE *out;
  json_t *keep; /* owns every value the run makes */
  struct var *vars;
  size_t nvars, cap_vars;
  void **allocs; /* and every buffer */
  size_t nallocs;
  jmp_buf fail;
};

/* Fails the run with Go's "executing" message at a node; status EINVAL or ENODATA.  Does not return. */
void gt_fail_at (struct run *r, int status, size_t pos, const char *node, const char *fmt, ...)
    __attribute__ ((noreturn, format (printf, 5, 6)));
/* Hands v to the run (freed when it ends); returns v. */
json_t *gt_keep (struct run *r, json_t *v);
/* Zeroed memory the run frees when it ends. */
void *gt_alloc (struct run *r, size_t n);
struct tv gt_untyped (json_t *v);
json_t *gt_plain (struct run *r, const struct tv *x);
bool gt_truth (struct run *r, const struct tv *x);
struct tv gt_eval_arg (struct run *r, const struct gt_arg *a, const struct tv *dot);
/* Calls the function fn with the arguments args (unevaluated: and/or evaluate them lazily) and, in a pipeline,
   the previous command's value final last; cmd: the command it is (errors name it), NULL for an argument. */
struct tv gt_call (struct run *r, const struct gt_cmd *cmd, const struct gt_arg *fn, const struct gt_arg *const *args,
                   size_t nargs, const struct tv *dot, const struct tv *final);

#endif
