/* Go's text/template language for `--format` (pipelines, if/else, range, with, variables, trim markers, comments,
   Go's builtin functions and the docker CLI's json, join, split, title, lower, upper, truncate, pad): parsed by
   gotemplate_parse.c, run by gotemplate_exec.c with gotemplate_funcs.c.

   Docker's CLI runs a template over its typed Go structs, and when that fails, over the raw JSON (a map, with
   missingkey=error).  Typed, what is null or missing prints as Go prints the zero value of the field's type: a nil
   pointer "<nil>", a nil slice "[]", a nil map "map[]", a struct "{a b}" (fmt's %v), and `json` marshals the struct
   (every field, in order; omitempty ones only when set).  A `struct gotype_field` table describes the types. */
#ifndef ISOLA_GOTEMPLATE_H
#define ISOLA_GOTEMPLATE_H

#include <jansson.h>

#include "base/error.h"

/* One field of a Go struct, in declaration order.  path: the field's place from the root, dot-separated
   ("State.Health"); the elements of a slice or map are "*" ("Mounts.*.Type", "NetworkSettings.Ports.*.*.HostIp");
   an embedded struct is "(Name)" and its fields are under it ("HostConfig.(Resources).Memory").
   type: Go's spelling over the kinds string int uint float bool duration time any struct, with *, [] and
   map[string] before them ("*struct", "[]string", "map[string]*struct"); then flags, comma-separated: omitempty,
   embed, and last fill=JSON (what dockerd sends when isola has nothing: gotype_complete). */
struct gotype_field
{
  const char *path;
  const char *type;
};

/* Renders tmpl against obj into *out.  types: the Go struct obj stands for (its fields, ending with { 0 }), or NULL
   for a plain JSON object (ps, events: lenient, a missing capitalised key is an error, a missing other key
   "<no value>").  -EINVAL for a template it cannot parse ("template: :1: unclosed action"), -ENODATA for one that
   fails on this object ("template: :1:13: executing \"\" at <.State.Health>: map has no entry for key \"Health\"").
   */
int gotemplate_render (const char *tmpl, json_t *obj, const struct gotype_field *types, char **out, isola_error_t *err);

/* Adds to obj (in place) every field of types that dockerd sends and obj lacks, with its fill value or Go's zero
   value, and orders obj's keys as the struct's fields (keys it does not know stay, after them).  For a new object
   in Docker's exact key set; obj must be an object. */
void gotype_complete (json_t *obj, const struct gotype_field *types);

#endif
