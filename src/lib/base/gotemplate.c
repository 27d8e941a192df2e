#define _GNU_SOURCE
#include "base/gotemplate.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/gotemplate_int.h"
#include "base/util.h"

/* ---- untyped values: plain JSON (ps, events) and Docker's raw fallback ---------------------------------------- */

static int
compare_keys (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys sorted, as Go's fmt and encoding/json order a map's.  Free the array, not the keys. */
const char **
gt_sorted_keys (json_t *obj, size_t *n)
{
  const char **keys = xcalloc (json_object_size (obj) + 1, sizeof (char *));
  const char *k;
  json_t *x;
  size_t i = 0;
  json_object_foreach (obj, k, x)
  {
    keys[i++] = k;
  }
  qsort (keys, i, sizeof (char *), compare_keys);
  *n = i;
  return keys;
}

/* strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v prints a float64: the shortest digits that read back the same,
   with an exponent below 1e-4 and from 1e6 (precision 6 decides for the shortest form). */
void
gt_print_float (FILE *f, double d)
{
  if (isnan (d))
    {
      fputs ("NaN", f);
      return;
    }
  if (isinf (d))
    {
      fputs (d > 0 ? "+Inf" : "-Inf", f);
      return;
    }
  char buf[64];
  int prec;
  for (prec = 1; prec < 17; prec++)
    {
      snprintf (buf, sizeof buf, "%.*e", prec - 1, d);
      if (strtod (buf, NULL) == d)
        break;
    }
  snprintf (buf, sizeof buf, "%.*e", prec - 1, d);
  int exp = atoi (strchr (buf, 'e') + 1);
  if (exp < -4 || exp >= 6)
    fputs (buf, f);
  else
    fprintf (f, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
}

/* Go prints values with fmt's %v: strings bare, slices as [a b], maps as map[k:v] (sorted), nil as <nil>. */
void
gt_print_value (FILE *f, json_t *v)
{
  size_t i, n;
  json_t *x;
  switch (json_typeof (v))
    {
    case JSON_STRING:
      fputs (json_string_value (v), f);
      break;
    case JSON_INTEGER:
      fprintf (f, "%" JSON_INTEGER_FORMAT, json_integer_value (v));
      break;
    case JSON_REAL:
      gt_print_float (f, json_real_value (v));
      break;
    case JSON_TRUE:
      fputs ("true", f);
      break;
    case JSON_FALSE:
      fputs ("false", f);
      break;
    case JSON_NULL:
      fputs ("<nil>", f);
      break;
    case JSON_ARRAY:
      fputc ('[', f);
      json_array_foreach (v, i, x)
      {
        if (i)
          fputc (' ', f);
        gt_print_value (f, x);
      }
      fputc (']', f);
      break;
    case JSON_OBJECT:
      {
        cleanup_free const char **keys = gt_sorted_keys (v, &n);
        fputs ("map[", f);
        for (i = 0; i < n; i++)
          {
            fprintf (f, "%s%s:", i ? " " : "", keys[i]);
            gt_print_value (f, json_object_get (v, keys[i]));
          }
        fputc (']', f);
        break;
      }
    }
}

/* What text/template prints for a value on its own: a nil interface is "<no value>". */
void
gt_print_top (FILE *f, json_t *v)
{
  if (json_is_null (v))
    fputs ("<no value>", f);
  else
    gt_print_value (f, v);
}

/* encoding/json's output: HTML-safe (<, >, & and U+2028/9 escaped), as the `json` function of Go's templates. */
void
gt_print_json (FILE *f, json_t *v, size_t flags)
{
  cleanup_free char *s = json_dumps (v, JSON_ENCODE_ANY | JSON_COMPACT | flags);
  for (const char *p = s; p && *p; p++)
    {
      if (*p == '<' || *p == '>' || *p == '&')
        fprintf (f, "\\u%04x", (unsigned)*p);
      else if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x80
               && ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9))
        {
          fprintf (f, "\\u%04x", (unsigned char)p[2] == 0xa8 ? 0x2028 : 0x2029);
          p += 2;
        }
      else
        fputc (*p, f);
    }
}

/* ---- Go types -------------------------------------------------------------------------------------------------- */

enum kind
gt_kind_of (const char *t)
{
  static const struct
  {
    const char *name;
    enum kind k;
  } names[] = { { "struct", K_STRUCT }, { "string", K_STRING }, { "int", K_INT },           { "uint", K_INT },
                { "float", K_FLOAT },   { "bool", K_BOOL },     { "duration", K_DURATION }, { "time", K_TIME } };
  if (t[0] == '*')
    return K_PTR;
  if (t[0] == '[' && t[1] == ']')
    return K_SLICE;
  if (strncmp (t, MAP_PREFIX, strlen (MAP_PREFIX)) == 0)
    return K_MAP;
  size_t n = strcspn (t, ",");
  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    if (strlen (names[i].name) == n && strncmp (t, names[i].name, n) == 0)
      return names[i].k;
  return K_ANY;
}

static bool
has_flag (const struct gotype_field *e, const char *flag)
{
  if (e == NULL)
    return false;
  size_t n = strlen (flag);
  for (const char *p = strchr (e->type, ','); p; p = strchr (p + 1, ','))
    {
      if (strncmp (p + 1, "fill=", 5) == 0)
        return false;
      if (strncmp (p + 1, flag, n) == 0 && (p[1 + n] == ',' || p[1 + n] == '\0'))
        return true;
    }
  return false;
}

static const char *
fill_of (const struct gotype_field *e)
{
  const char *p = e ? strstr (e->type, ",fill=") : NULL;
  return p ? p + 6 : NULL;
}

/* The field named `name` of the struct at `parent` (its own or an embedded struct's). */
const struct gotype_field *
gt_child_named (const struct gotype_field *types, const char *parent, const char *name)
{
  size_t pn = strlen (parent);
  for (const struct gotype_field *e = types; e->path; e++)
    {
      const char *rest = e->path;
      if (pn)
        {
          if (strncmp (e->path, parent, pn) != 0 || e->path[pn] != '.')
            continue;
          rest = e->path + pn + 1;
        }
      if (strchr (rest, '.'))
        continue;
      if (strcmp (rest, name) == 0)
        return e;
      if (rest[0] == '(')
        {
          const struct gotype_field *x = gt_child_named (types, e->path, name);
          if (x)
            return x;
        }
    }
  return NULL;
}

/* The next field of the struct at `parent` after `after` (NULL: the first). */
static const struct gotype_field *
next_child (const struct gotype_field *types, const char *parent, const struct gotype_field *after)
{
  size_t pn = strlen (parent);
  for (const struct gotype_field *e = after ? after + 1 : types; e->path; e++)
    {
      const char *rest = e->path;
      if (pn)
        {
          if (strncmp (e->path, parent, pn) != 0 || e->path[pn] != '.')
            continue;
          rest = e->path + pn + 1;
        }
      if (!strchr (rest, '.'))
        return e;
    }
  return NULL;
}

/* dst = a + suffix, within PATH_LEN (the tables' paths are far shorter) */
static void
set_path (char *dst, const char *a, const char *suffix)
{
  size_t n = strnlen (a, PATH_LEN - 3);
  memmove (dst, a, n);
  strcpy (dst + n, suffix);
}

void
gt_tv_field (struct tv *out, json_t *obj, const struct gotype_field *e)
{
  const char *name = strrchr (e->path, '.');
  name = name ? name + 1 : e->path;
  /* An embedded struct's fields are the outer object's in JSON. */
  out->v = name[0] == '(' ? obj : json_object_get (obj, name);
  if (json_is_null (out->v))
    out->v = NULL;
  out->t = e->type;
  out->entry = e;
  out->invalid = false;
  set_path (out->path, e->path, "");
}

/* The element type of a pointer, slice or map. */
void
gt_tv_elem (struct tv *out, const struct tv *in, json_t *v)
{
  enum kind k = gt_kind_of (in->t);
  out->t = in->t + (k == K_PTR ? 1 : k == K_SLICE ? 2 : strlen (MAP_PREFIX));
  out->v = json_is_null (v) ? NULL : v;
  out->entry = NULL;
  out->invalid = false;
  set_path (out->path, in->path, k == K_PTR ? "" : ".*");
}

static bool
is_embedded (const struct gotype_field *e)
{
  const char *name = strrchr (e->path, '.');
  return (name ? name[1] : e->path[0]) == '(';
}

/* Go's time.Duration.String: "0s", "1.5s", "1h0m0s", "300ms", "2µs". */
static void
print_duration (FILE *f, int64_t d)
{
  if (d == 0)
    {
      fputs ("0s", f);
      return;
    }
  uint64_t u = d < 0 ? (uint64_t)(-(d + 1)) + 1 : (uint64_t)d;
  if (d < 0)
    fputc ('-', f);
  static const char *const small[] = { "ns", "µs", "ms" };
  uint64_t scale = 1;
  int unit = 0;
  if (u < 1000000000ULL)
    {
      while (u >= scale * 1000)
        scale *= 1000, unit++;
    }
  else
    {
      uint64_t h = u / 3600000000000ULL, m = u / 60000000000ULL % 60;
      if (h)
        fprintf (f, "%" PRIu64 "h", h);
      if (h || m)
        fprintf (f, "%" PRIu64 "m", m);
      u %= 60000000000ULL;
      scale = 1000000000ULL;
    }
  fprintf (f, "%" PRIu64, u / scale);
  uint64_t frac = u % scale;
  if (frac)
    {
      char digits[16];
      int width = scale == 1000 ? 3 : scale == 1000000 ? 6 : 9;
      snprintf (digits, sizeof digits, "%0*" PRIu64, width, frac);
      for (int i = width - 1; i > 0 && digits[i] == '0'; i--)
        digits[i] = '\0';
      fprintf (f, ".%s", digits);
    }
  fputs (u >= 1000000000ULL || scale == 1000000000ULL ? "s" : small[unit], f);
}

/* Go's time.Time.String of an RFC 3339 time: "2006-01-02 15:04:05.999999999 +0000 UTC". */
static void
print_time (FILE *f, const char *s)
{
  int y, mo, d, h, mi, sec, used = 0;
  if (sscanf (s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6)
    {
      fputs (s, f);
      return;
    }
  fprintf (f, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, sec);
  const char *p = s + used;
  if (*p == '.')
    {
      size_t n = strspn (p + 1, "0123456789");
      size_t keep = n;
      while (keep > 0 && p[keep] == '0')
        keep--;
      if (keep)
        fprintf (f, ".%.*s", (int)keep, p + 1);
      p += 1 + n;
    }
  if (*p == 'Z' || *p == '\0')
    fputs (" +0000 UTC", f);
  else
    fprintf (f, " %c%.2s%.2s %c%.2s%.2s", p[0], p + 1, p + 4, p[0], p + 1, p + 4);
}

static void
print_struct_fields (FILE *f, const struct gotype_field *types, const char *path, json_t *obj, int depth)
{
  fputc ('{', f);
  bool first = true;
  for (const struct gotype_field *e = next_child (types, path, NULL); e; e = next_child (types, path, e))
    {
      struct tv c;
      gt_tv_field (&c, obj, e);
      if (!first)
        fputc (' ', f);
      first = false;
      gt_print_go (f, types, &c, depth + 1);
    }
  fputc ('}', f);
}

/* fmt's %v of a typed value; depth 0 is the value a template prints, whose pointer text/template follows. */
void
gt_print_go (FILE *f, const struct gotype_field *types, const struct tv *x, int depth)
{
  struct tv e;
  json_t *v = x->v, *item;
  size_t i, n;
  if (x->invalid)
    {
      fputs ("<no value>", f);
      return;
    }
  switch (gt_kind_of (x->t))
    {
    case K_PTR:
      if (v == NULL)
        fputs ("<nil>", f);
      else if (depth == 0)
        {
          gt_tv_elem (&e, x, v);
          gt_print_go (f, types, &e, depth);
        }
      else /* fmt prints a pointer inside a value as its address, which has no meaning here */
        fputs ("0xc000010000", f);
      break;
    case K_SLICE:
      fputc ('[', f);
      json_array_foreach (json_is_array (v) ? v : NULL, i, item)
      {
        if (i)
          fputc (' ', f);
        gt_tv_elem (&e, x, item);
        gt_print_go (f, types, &e, depth + 1);
      }
      fputc (']', f);
      break;
    case K_MAP:
      {
        fputs ("map[", f);
        cleanup_free const char **keys = json_is_object (v) ? gt_sorted_keys (v, &n) : NULL;
        for (i = 0; keys && i < n; i++)
          {
            fprintf (f, "%s%s:", i ? " " : "", keys[i]);
            gt_tv_elem (&e, x, json_object_get (v, keys[i]));
            gt_print_go (f, types, &e, depth + 1);
          }
        fputc (']', f);
        break;
      }
    case K_STRUCT:
      print_struct_fields (f, types, x->path, json_is_object (v) ? v : NULL, depth);
      break;
    case K_STRING:
      if (v)
        gt_print_value (f, v);
      break;
    case K_INT:
    case K_FLOAT:
      if (v)
        gt_print_value (f, v);
      else
        fputc ('0', f);
      break;
    case K_BOOL:
      fputs (json_is_true (v) ? "true" : "false", f);
      break;
    case K_DURATION:
      print_duration (f, json_is_integer (v) ? json_integer_value (v) : 0);
      break;
    case K_TIME:
      print_time (f, json_is_string (v) ? json_string_value (v) : "0001-01-01T00:00:00Z");
      break;
    case K_ANY:
      if (depth == 0)
        gt_print_top (f, v ? v : json_null ());
      else
        gt_print_value (f, v ? v : json_null ());
      break;
    }
}

bool
gt_is_empty (const struct tv *x)
{
  switch (gt_kind_of (x->t))
    {
    case K_PTR:
    case K_ANY:
      return x->v == NULL;
    case K_SLICE:
      return json_array_size (x->v) == 0;
    case K_MAP:
      return json_object_size (x->v) == 0;
    case K_STRING:
      return x->v == NULL || (json_is_string (x->v) && json_string_length (x->v) == 0);
    case K_INT:
    case K_FLOAT:
    case K_DURATION:
      return x->v == NULL || json_number_value (x->v) == 0;
    case K_BOOL:
      return !json_is_true (x->v);
    case K_STRUCT:
    case K_TIME:
      return false;
    }
  return false;
}

static void
marshal_struct_into (json_t *out, const struct gotype_field *types, const char *path, json_t *obj)
{
  for (const struct gotype_field *e = next_child (types, path, NULL); e; e = next_child (types, path, e))
    {
      struct tv c;
      gt_tv_field (&c, obj, e);
      if (is_embedded (e))
        {
          marshal_struct_into (out, types, e->path, obj);
          continue;
        }
      if (has_flag (e, "omitempty") && gt_is_empty (&c))
        continue;
      const char *name = strrchr (e->path, '.');
      json_object_set_new (out, name ? name + 1 : e->path, gt_marshal_go (types, &c));
    }
}

/* encoding/json of a typed value: a struct's fields in order, omitempty ones only when set, nil as null. */
json_t *
gt_marshal_go (const struct gotype_field *types, const struct tv *x)
{
  struct tv e;
  json_t *v = x->v, *item, *out;
  size_t i, n;
  switch (gt_kind_of (x->t))
    {
    case K_PTR:
      if (v == NULL)
        return json_null ();
      gt_tv_elem (&e, x, v);
      return gt_marshal_go (types, &e);
    case K_SLICE:
      if (!json_is_array (v))
        return json_null ();
      out = json_array ();
      json_array_foreach (v, i, item)
      {
        gt_tv_elem (&e, x, item);
        json_array_append_new (out, gt_marshal_go (types, &e));
      }
      return out;
    case K_MAP:
      {
        if (!json_is_object (v))
          return json_null ();
        out = json_object ();
        cleanup_free const char **keys = gt_sorted_keys (v, &n);
        for (i = 0; i < n; i++)
          {
            gt_tv_elem (&e, x, json_object_get (v, keys[i]));
            json_object_set_new (out, keys[i], gt_marshal_go (types, &e));
          }
        return out;
      }
    case K_STRUCT:
      out = json_object ();
      marshal_struct_into (out, types, x->path, json_is_object (v) ? v : NULL);
      return out;
    case K_STRING:
      return json_is_string (v) ? json_incref (v) : json_string ("");
    case K_INT:
    case K_DURATION:
    case K_FLOAT:
      return json_is_number (v) ? json_incref (v) : json_integer (0);
    case K_BOOL:
      return json_boolean (json_is_true (v));
    case K_TIME:
      return json_is_string (v) ? json_incref (v) : json_string ("0001-01-01T00:00:00Z");
    case K_ANY:
      return v ? json_incref (v) : json_null ();
    }
  return json_null ();
}

/* ---- completing an object as dockerd sends it ------------------------------------------------------------------ */

static json_t *zero_json (const struct gotype_field *types, const struct gotype_field *e);

static void complete_struct (json_t *obj, const struct gotype_field *types, const char *path);

/* Completes the value v of type t whose fields are at path (the elements of slices and maps too). */
static void
complete_value (json_t *v, const struct gotype_field *types, const char *t, const char *path)
{
  char elem_path[PATH_LEN];
  size_t i;
  const char *k;
  json_t *x;
  switch (gt_kind_of (t))
    {
    case K_PTR:
      complete_value (v, types, t + 1, path);
      break;
    case K_SLICE:
      set_path (elem_path, path, ".*");
      json_array_foreach (json_is_array (v) ? v : NULL, i, x)
      {
        complete_value (x, types, t + 2, elem_path);
      }
      break;
    case K_MAP:
      set_path (elem_path, path, ".*");
      json_object_foreach (json_is_object (v) ? v : NULL, k, x)
      {
        complete_value (x, types, t + strlen (MAP_PREFIX), elem_path);
      }
      break;
    case K_STRUCT:
      if (json_is_object (v))
        complete_struct (v, types, path);
      break;
    default:
      break;
    }
}

static void
add_fields (json_t *out, json_t *obj, const struct gotype_field *types, const char *path)
{
  for (const struct gotype_field *e = next_child (types, path, NULL); e; e = next_child (types, path, e))
    {
      if (is_embedded (e))
        {
          add_fields (out, obj, types, e->path);
          continue;
        }
      const char *name = strrchr (e->path, '.');
      name = name ? name + 1 : e->path;
      json_t *v = json_object_get (obj, name);
      if (json_is_null (v) && fill_of (e))
        v = NULL;
      if (v)
        {
          complete_value (v, types, e->type, e->path);
          json_object_set (out, name, v);
        }
      else if (!has_flag (e, "omitempty") || fill_of (e))
        json_object_set_new (out, name, zero_json (types, e));
    }
}

static void
complete_struct (json_t *obj, const struct gotype_field *types, const char *path)
{
  cleanup_json json_t *out = json_object ();
  add_fields (out, obj, types, path);
  const char *k;
  json_t *v;
  json_object_foreach (obj, k, v)
  {
    if (!json_object_get (out, k))
      json_object_set (out, k, v);
  }
  json_object_clear (obj);
  json_object_update (obj, out);
}

static json_t *
zero_json (const struct gotype_field *types, const struct gotype_field *e)
{
  const char *fill = fill_of (e);
  if (fill)
    {
      json_t *v = json_loads (fill, JSON_DECODE_ANY, NULL);
      if (v)
        return v;
    }
  json_t *obj;
  switch (gt_kind_of (e->type))
    {
    case K_STRUCT:
      obj = json_object ();
      complete_struct (obj, types, e->path);
      return obj;
    case K_STRING:
      return json_string ("");
    case K_INT:
    case K_FLOAT:
    case K_DURATION:
      return json_integer (0);
    case K_BOOL:
      return json_false ();
    case K_TIME:
      return json_string ("0001-01-01T00:00:00Z");
    default:
      return json_null ();
    }
}

void
gotype_complete (json_t *obj, const struct gotype_field *types)
{
  complete_struct (obj, types, "");
}
