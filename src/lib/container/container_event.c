/* A container's events (see container_event.h). */
#define _GNU_SOURCE
#include "container/container_event.h"

#include <stdio.h>
#include <string.h>

#include "base/jbytes.h"
#include "base/json.h"
#include "base/digest.h"
#include "base/util.h"
#include "store/journal.h"

/* Docker's attributes of a container event: its labels, image (Config.Image) and name. */
static json_t *
container_attributes (const struct container *c)
{
  json_t *attrs = json_object ();
  const char *k;
  json_t *v;
  json_object_foreach (json_object_get (container_config (c), "Labels"), k, v)
  {
    if (json_is_string (v))
      json_object_set (attrs, k, v);
  }
  json_object_set_new (attrs, "image", json_string (container_image_name (c)));
  json_object_set_new (attrs, "name", json_string (container_name (c)));
  return attrs;
}

/* ROOT of ROOT/containers/ID. */
static char *
container_root (const struct container *c)
{
  char *root = xstrdup (c->dir);
  for (int i = 0; i < 2; i++)
    {
      char *slash = strrchr (root, '/');
      if (slash && slash != root)
        *slash = '\0';
    }
  return root;
}

void
container_event (const struct container *c, const char *action, json_t *extra)
{
  cleanup_free char *root = container_root (c);
  cleanup_json json_t *attrs = container_attributes (c);
  if (extra)
    json_object_update (attrs, extra);
  json_decref (extra);
  (void)journal_log (root, "container", action, c->id, attrs, NULL);
}

void
container_event_attr (const struct container *c, const char *action, const char *key, const char *value)
{
  container_event (c, action, json_pack ("{s:s}", key, value));
}

void
container_volume_events (const struct container *c, const char *action)
{
  cleanup_free char *root = container_root (c);
  size_t i;
  json_t *m;
  bool mount = strcmp (action, "mount") == 0;
  json_array_foreach (container_mounts (c), i, m)
  {
    const char *type = json_string_value (json_object_get (m, "Type"));
    const char *name = json_string_value (json_object_get (m, "Name"));
    if (type == NULL || strcmp (type, "volume") != 0 || name == NULL)
      continue;
    const char *driver = json_string_value (json_object_get (m, "Driver"));
    cleanup_json json_t *attrs
        = json_pack ("{s:s, s:s}", "driver", driver && driver[0] ? driver : "local", "container", c->id);
    if (mount)
      {
        const char *dst = json_string_value (json_object_get (m, "Destination"));
        const char *prop = json_string_value (json_object_get (m, "Propagation"));
        json_object_set_new (attrs, "destination", json_string (dst ? dst : ""));
        json_object_set_new (attrs, "read/write",
                             json_string (json_is_false (json_object_get (m, "RW")) ? "false" : "true"));
        json_object_set_new (attrs, "propagation", json_string (prop ? prop : ""));
      }
    (void)journal_log (root, "volume", action, name, attrs, NULL);
  }
}

static char *
exec_action (const char *what, char *const *argv)
{
  /* Docker: "exec_create: " + entrypoint + " " + the arguments joined by spaces. */
  size_t n = strlen (what) + 3;
  for (size_t i = 0; argv && argv[i]; i++)
    n += strlen (argv[i]) + 1;
  char *s = xmalloc (n + 1);
  char *p = s + sprintf (s, "%s: %s ", what, argv && argv[0] ? argv[0] : "");
  for (size_t i = 1; argv && argv[i]; i++)
    p += sprintf (p, "%s%s", i > 1 ? " " : "", argv[i]);
  /* As Docker's JSON has it: bytes that are not UTF-8 as U+FFFD */
  cleanup_json json_t *shown = jbytes_shown (s);
  free (s);
  return xstrdup (json_string_value (shown));
}

void
container_exec_started (const struct container *c, char *const *argv, char exec_id[65])
{
  random_id_hex (exec_id);
  cleanup_free char *created = exec_action ("exec_create", argv);
  cleanup_free char *started = exec_action ("exec_start", argv);
  container_event_attr (c, created, "execID", exec_id);
  container_event_attr (c, started, "execID", exec_id);
}

void
container_exec_died (const struct container *c, const char *exec_id, int exit_code)
{
  char code[16];
  snprintf (code, sizeof code, "%d", exit_code);
  container_event (c, "exec_die", json_pack ("{s:s, s:s}", "execID", exec_id, "exitCode", code));
}

void
container_exec_detached (const struct container *c, const char *exec_id)
{
  container_event_attr (c, "exec_detach", "execID", exec_id);
}
