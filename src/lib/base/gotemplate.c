#define _GNU_SOURCE
#include "base/gotemplate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

/* Go prints values with fmt's %v: strings bare, slices as [a b], maps as map[k:v], nil as <no value>. */
static void
print_value (FILE *f, json_t *v)
{
  size_t i;
  json_t *x;
  const char *k;
  switch (json_typeof (v))
    {
    case JSON_STRING:
      fputs (json_string_value (v), f);
      break;
    case JSON_INTEGER:
      fprintf (f, "%" JSON_INTEGER_FORMAT, json_integer_value (v));
      break;
    case JSON_REAL:
      fprintf (f, "%g", json_real_value (v));
      break;
    case JSON_TRUE:
      fputs ("true", f);
      break;
    case JSON_FALSE:
      fputs ("false", f);
      break;
    case JSON_NULL:
      fputs ("<no value>", f);
      break;
    case JSON_ARRAY:
      fputc ('[', f);
      json_array_foreach (v, i, x)
      {
        if (i)
          fputc (' ', f);
        print_value (f, x);
      }
      fputc (']', f);
      break;
    case JSON_OBJECT:
      {
        fputs ("map[", f);
        bool first = true;
        json_object_foreach (v, k, x)
        {
          fprintf (f, "%s%s:", first ? "" : " ", k);
          print_value (f, x);
          first = false;
        }
        fputc (']', f);
        break;
      }
    }
}

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

static json_t *
lookup_path (json_t *obj, const char *path, isola_error_t *err, int *ret)
{
  if (strcmp (path, ".") == 0)
    return obj;
  if (path[0] != '.')
    {
      *ret = isola_error_fail (err, EINVAL, "template: unsupported argument `%s`", path);
      return NULL;
    }
  json_t *cur = obj;
  cleanup_free char *copy = xstrdup (path + 1);
  char *save = NULL;
  for (char *k = strtok_r (copy, ".", &save); k; k = strtok_r (NULL, ".", &save))
    {
      if (!json_is_object (cur))
        {
          *ret = isola_error_fail (err, EINVAL, "template: can't evaluate field %s", k);
          return NULL;
        }
      json_t *parent = cur;
      cur = json_object_get (parent, k);
      /* A map without the key gives "<no value>" (Actor.Attributes.exitCode of an event without one), a struct
         an error.  A Go struct's fields are exported, capitalised: an object without such a key is a map. */
      if (cur == NULL && !has_capitalised_key (parent))
        cur = json_null ();
      if (cur == NULL)
        {
          *ret = isola_error_fail (err, EINVAL, "template: can't evaluate field %s", k);
          return NULL;
        }
    }
  return cur;
}

static int
split_args (const char *action, char ***out)
{
  cleanup_strv char **args = xcalloc (1, sizeof (char *));
  const char *p = action;
  while (*p)
    {
      while (isspace ((unsigned char)*p))
        p++;
      if (*p == '\0')
        break;
      const char *start = p;
      if (*p == '"')
        {
          p++;
          while (*p && *p != '"')
            p++;
          if (*p != '"')
            return -EINVAL;
          cleanup_free char *s = strndup (start + 1, (size_t)(p - start - 1));
          strv_push (&args, s);
          p++;
          continue;
        }
      while (*p && !isspace ((unsigned char)*p))
        p++;
      cleanup_free char *s = strndup (start, (size_t)(p - start));
      strv_push (&args, s);
    }
  *out = take_ptr (&args);
  return 0;
}

static int
eval_action (FILE *f, const char *action, json_t *obj, isola_error_t *err)
{
  cleanup_strv char **args = NULL;
  if (split_args (action, &args) < 0 || args[0] == NULL)
    return isola_error_fail (err, EINVAL, "template: cannot parse `{{%s}}`", action);
  int ret = 0;
  size_t n = strv_len (args);
  if (strcmp (args[0], "json") == 0 && n == 2)
    {
      json_t *v = lookup_path (obj, args[1], err, &ret);
      if (v == NULL)
        return ret;
      cleanup_free char *s = json_dumps (v, JSON_ENCODE_ANY | JSON_COMPACT);
      fputs (s, f);
      return 0;
    }
  if (strcmp (args[0], "index") == 0 && n == 3)
    {
      json_t *v = lookup_path (obj, args[1], err, &ret);
      if (v == NULL)
        return ret;
      json_t *x = json_is_object (v) ? json_object_get (v, args[2]) : NULL;
      print_value (f, x ? x : json_null ());
      return 0;
    }
  if (n == 1)
    {
      json_t *v = lookup_path (obj, args[0], err, &ret);
      if (v == NULL)
        return ret;
      print_value (f, v);
      return 0;
    }
  return isola_error_fail (err, EINVAL, "template: unsupported action `{{%s}}`", action);
}

int
gotemplate_render (const char *tmpl, json_t *obj, char **out, isola_error_t *err)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    return isola_error_make (err, errno, "open_memstream");
  int ret = 0;
  const char *p = tmpl;
  while (ret == 0 && *p)
    {
      const char *open = strstr (p, "{{");
      if (open == NULL)
        {
          fputs (p, f);
          break;
        }
      fwrite (p, 1, (size_t)(open - p), f);
      const char *close = strstr (open + 2, "}}");
      if (close == NULL)
        {
          ret = isola_error_fail (err, EINVAL, "template: unclosed action in `%s`", tmpl);
          break;
        }
      cleanup_free char *action = strndup (open + 2, (size_t)(close - open - 2));
      ret = eval_action (f, action, obj, err);
      p = close + 2;
    }
  fclose (f);
  if (ret < 0)
    {
      free (buf);
      return ret;
    }
  *out = buf;
  return 0;
}
