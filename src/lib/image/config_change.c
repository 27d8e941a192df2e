#define _GNU_SOURCE
#include "image/config_change.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "base/util.h"

#define CHANGE_MAX 65536

/* Splits arguments on whitespace, honouring double and single quotes and backslash escapes, as the Dockerfile
   parser does for ENV/LABEL/EXPOSE/VOLUME. */
static int
split_words (const char *s, char ***out)
{
  cleanup_strv char **words = xcalloc (1, sizeof (char *));
  size_t cap = strlen (s) + 1;
  cleanup_free char *buf = xmalloc (cap);
  while (*s)
    {
      while (isspace ((unsigned char)*s))
        s++;
      if (*s == '\0')
        break;
      size_t n = 0;
      char quote = 0;
      for (; *s && (quote || !isspace ((unsigned char)*s)); s++)
        {
          if (quote && *s == quote)
            quote = 0;
          else if (!quote && (*s == '"' || *s == '\''))
            quote = *s;
          else if (*s == '\\' && s[1] && quote != '\'')
            buf[n++] = *++s;
          else
            buf[n++] = *s;
        }
      if (quote)
        return -EINVAL;
      buf[n] = '\0';
      strv_push (&words, buf);
    }
  *out = take_ptr (&words);
  return 0;
}

/* JSON form ["a", "b"] when the argument parses as an array of strings; otherwise NULL. */
static json_t *
json_string_array (const char *arg)
{
  json_t *a = json_loads (arg, JSON_DECODE_ANY, NULL);
  if (!json_is_array (a))
    {
      json_decref (a);
      return NULL;
    }
  size_t i;
  json_t *v;
  json_array_foreach (a, i, v) if (!json_is_string (v))
  {
    json_decref (a);
    return NULL;
  }
  return a;
}

static int
set_command (json_t *config, const char *key, const char *arg)
{
  json_t *a = json_string_array (arg);
  if (a == NULL)
    a = json_pack ("[s, s, s]", "/bin/sh", "-c", arg);
  json_object_set_new (config, key, a);
  return 0;
}

/* KEY=VALUE pairs, or the legacy single "KEY VALUE" form. */
static int
parse_pairs (const char *what, const char *arg, char ***keys, char ***values, isola_error_t *err)
{
  cleanup_strv char **words = NULL;
  if (split_words (arg, &words) < 0)
    return isola_error_fail (err, EINVAL, "invalid change: %s: unterminated quote in `%s`", what, arg);
  *keys = xcalloc (1, sizeof (char *));
  *values = xcalloc (1, sizeof (char *));
  if (words[0] && strchr (words[0], '=') == NULL)
    {
      const char *rest = arg;
      while (isspace ((unsigned char)*rest))
        rest++;
      rest += strcspn (rest, " \t");
      while (isspace ((unsigned char)*rest))
        rest++;
      if (*rest == '\0')
        return isola_error_fail (err, EINVAL, "invalid change: %s requires a value: `%s`", what, arg);
      strv_push (keys, words[0]);
      strv_push (values, rest);
      return 0;
    }
  for (size_t i = 0; words[i]; i++)
    {
      char *eq = strchr (words[i], '=');
      if (eq == NULL || eq == words[i])
        return isola_error_fail (err, EINVAL, "invalid change: %s: `%s` is not KEY=VALUE", what, words[i]);
      *eq = '\0';
      strv_push (keys, words[i]);
      strv_push (values, eq + 1);
    }
  if (words[0] == NULL)
    return isola_error_fail (err, EINVAL, "invalid change: %s requires arguments", what);
  return 0;
}

static void
env_set (json_t *config, const char *key, const char *value)
{
  json_t *env = json_object_get (config, "Env");
  if (!json_is_array (env))
    {
      env = json_array ();
      json_object_set_new (config, "Env", env);
    }
  cleanup_free char *entry = xasprintf ("%s=%s", key, value);
  size_t klen = strlen (key), i;
  json_t *v;
  json_array_foreach (env, i, v)
  {
    const char *s = json_string_value (v);
    if (s && strncmp (s, key, klen) == 0 && s[klen] == '=')
      {
        json_array_set_new (env, i, json_string (entry));
        return;
      }
  }
  json_array_append_new (env, json_string (entry));
}

static json_t *
object_member (json_t *config, const char *key)
{
  json_t *o = json_object_get (config, key);
  if (!json_is_object (o))
    {
      o = json_object ();
      json_object_set_new (config, key, o);
    }
  return o;
}

static int
apply_pairs (json_t *config, const char *what, const char *arg, bool is_env, isola_error_t *err)
{
  cleanup_strv char **keys = NULL, **values = NULL;
  int ret = parse_pairs (what, arg, &keys, &values, err);
  if (ret < 0)
    return ret;
  for (size_t i = 0; keys[i]; i++)
    {
      if (is_env)
        env_set (config, keys[i], values[i]);
      else
        json_object_set_new (object_member (config, "Labels"), keys[i], json_string (values[i]));
    }
  return 0;
}

static bool
valid_port_spec (const char *p)
{
  char *end;
  long port = strtol (p, &end, 10);
  if (end == p || port < 1 || port > 65535)
    return false;
  return *end == '\0' || strcmp (end, "/tcp") == 0 || strcmp (end, "/udp") == 0 || strcmp (end, "/sctp") == 0;
}

static int
apply_expose (json_t *config, const char *arg, isola_error_t *err)
{
  cleanup_strv char **words = NULL;
  if (split_words (arg, &words) < 0 || words[0] == NULL)
    return isola_error_fail (err, EINVAL, "invalid change: EXPOSE requires at least one port");
  for (size_t i = 0; words[i]; i++)
    {
      if (!valid_port_spec (words[i]))
        return isola_error_fail (err, EINVAL, "invalid change: EXPOSE: invalid port `%s`", words[i]);
      cleanup_free char *key = strchr (words[i], '/') ? xstrdup (words[i]) : xasprintf ("%s/tcp", words[i]);
      json_object_set_new (object_member (config, "ExposedPorts"), key, json_object ());
    }
  return 0;
}

static int
apply_volume (json_t *config, const char *arg, isola_error_t *err)
{
  cleanup_strv char **words = NULL;
  json_t *a = json_string_array (arg);
  if (a)
    {
      size_t i;
      json_t *v;
      json_array_foreach (a, i, v) strv_push (&words, json_string_value (v));
      json_decref (a);
    }
  else if (split_words (arg, &words) < 0)
    return isola_error_fail (err, EINVAL, "invalid change: VOLUME: unterminated quote");
  if (words == NULL || words[0] == NULL)
    return isola_error_fail (err, EINVAL, "invalid change: VOLUME requires at least one path");
  for (size_t i = 0; words[i]; i++)
    json_object_set_new (object_member (config, "Volumes"), words[i], json_object ());
  return 0;
}

static int
apply_single (json_t *config, const char *what, const char *key, const char *arg, isola_error_t *err)
{
  if (*arg == '\0')
    return isola_error_fail (err, EINVAL, "invalid change: %s requires an argument", what);
  json_object_set_new (config, key, json_string (arg));
  return 0;
}

int
config_apply_change (json_t *config, const char *change, isola_error_t *err)
{
  if (strlen (change) > CHANGE_MAX)
    return isola_error_fail (err, EINVAL, "invalid change: longer than %d bytes", CHANGE_MAX);
  while (isspace ((unsigned char)*change))
    change++;
  size_t wlen = strcspn (change, " \t");
  cleanup_free char *word = strndup (change, wlen);
  const char *arg = change + wlen;
  while (isspace ((unsigned char)*arg))
    arg++;
  for (char *p = word; *p; p++)
    *p = (char)toupper ((unsigned char)*p);

  if (strcmp (word, "CMD") == 0)
    return set_command (config, "Cmd", arg);
  if (strcmp (word, "ENTRYPOINT") == 0)
    return set_command (config, "Entrypoint", arg);
  if (strcmp (word, "ENV") == 0)
    return apply_pairs (config, "ENV", arg, true, err);
  if (strcmp (word, "LABEL") == 0)
    return apply_pairs (config, "LABEL", arg, false, err);
  if (strcmp (word, "EXPOSE") == 0)
    return apply_expose (config, arg, err);
  if (strcmp (word, "VOLUME") == 0)
    return apply_volume (config, arg, err);
  if (strcmp (word, "WORKDIR") == 0)
    return apply_single (config, "WORKDIR", "WorkingDir", arg, err);
  if (strcmp (word, "USER") == 0)
    return apply_single (config, "USER", "User", arg, err);
  if (strcmp (word, "STOPSIGNAL") == 0)
    return apply_single (config, "STOPSIGNAL", "StopSignal", arg, err);
  return isola_error_fail (err, EINVAL,
                           "invalid change: `%.40s`: only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, "
                           "VOLUME and WORKDIR are supported",
                           word);
}
