/* Which networks a container is on, as its records say (records.h). */
#define _GNU_SOURCE
#include "network/records.h"

#include <string.h>

#include "base/json.h"
#include "base/util.h"

const char *
network_mode_network (const char *mode)
{
  if (mode == NULL || mode[0] == '\0' || strcmp (mode, "default") == 0)
    return NETWORK_DEFAULT;
  if (strcmp (mode, "none") == 0 || strcmp (mode, "host") == 0 || str_has_prefix (mode, "container:")
      || str_has_prefix (mode, "ns:"))
    return NULL;
  return mode;
}

/* The legacy record's one network: connect's "Network" (null: none), else NetworkMode's. */
static const char *
recorded_network (const struct container *c)
{
  json_t *chosen = json_object_get (c->config, "Network");
  if (chosen)
    return json_string_value (chosen);
  return network_mode_network (json_string_value (json_object_get (container_host_config (c), "NetworkMode")));
}

const char *
network_of_container (const struct container *c)
{
  json_t *list = json_object_get (c->config, "Networks");
  if (json_is_array (list))
    return json_string_value (json_object_get (json_array_get (list, 0), "Name"));
  return recorded_network (c);
}

json_t *
network_choices (const struct container *c)
{
  json_t *list = json_object_get (c->config, "Networks");
  if (json_is_array (list))
    return json_deep_copy (list);
  json_t *out = json_array ();
  const char *name = recorded_network (c);
  if (name == NULL)
    return out;
  json_t *choice = json_pack ("{s:s}", "Name", name);
  if (container_endpoint (c))
    json_object_set_new (choice, "Endpoint", json_deep_copy (container_endpoint (c)));
  json_array_append_new (out, choice);
  return out;
}

json_t *
network_attachments_of (json_t *file)
{
  json_t *list = json_object_get (file, "Attachments");
  if (json_is_array (list))
    return json_incref (list);
  json_t *out = json_array ();
  /* network.json as isola wrote it before a container could be on several networks: one attachment, eth0. */
  if (json_is_object (file) && json_is_string (json_object_get (file, "Network")))
    json_array_append (out, file);
  return out;
}

json_t *
network_attachments (const struct container *c)
{
  cleanup_free char *path = container_path (c, "network.json");
  cleanup_json json_t *file = json_load_file (path, 0, NULL);
  return network_attachments_of (file);
}

/* The attachment in atts to the network of ID network_id, or NULL. */
json_t *
network_attachment_to (json_t *atts, const char *network_id)
{
  size_t i;
  json_t *att;
  json_array_foreach (atts, i, att)
  {
    if (strcmp (json_string_value (json_object_get (att, "NetworkID")) ?: "", network_id) == 0)
      return att;
  }
  return NULL;
}

const char *
network_attachment_interface (json_t *att)
{
  return json_string_value (json_object_get (att, "Interface")) ?: "eth0";
}
