/* Connecting and disconnecting a container that is not running (network/connect.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "network/attach.h"
#include "network/connect.h"
#include "network/network.h"

static const char *
record_name (json_t *record)
{
  return json_string_value (json_object_get (record, "Name")) ?: "";
}

/* Whether the container's NetworkMode names the network of record (by name or ID, as create took it). */
static bool
on_network (struct container *c, json_t *record)
{
  const char *net
      = network_mode_network (json_string_value (json_object_get (container_host_config (c), "NetworkMode")));
  if (net == NULL)
    return false;
  const char *id = json_string_value (json_object_get (record, "Id")) ?: "";
  return strcmp (net, record_name (record)) == 0 || (strlen (net) >= 12 && str_has_prefix (id, net));
}

static int
refuse_running (struct container *c, const char *what, isola_error_t *err)
{
  int ret = container_refresh (c, err);
  if (ret < 0)
    return ret;
  if (container_is_running (c))
    return isola_error_fail (err, ENOTSUP,
                             "isola cannot %s a running container (%s): it joins its network when it starts", what,
                             container_name (c));
  return 0;
}

/* Docker's EndpointSettings, the part isola takes: {Aliases, IPAMConfig: {IPv4Address}}, checked against the
   network's subnet; NULL in *out when there is nothing to keep. */
static int
endpoint_of (json_t *settings, json_t *record, json_t **out, isola_error_t *err)
{
  *out = NULL;
  if (settings == NULL || json_is_null (settings))
    return 0;
  if (!json_is_object (settings))
    return isola_error_fail (err, EINVAL, "EndpointConfig must be an object");
  json_t *aliases = json_object_get (settings, "Aliases"), *x;
  json_t *ip = json_object_get (json_object_get (settings, "IPAMConfig"), "IPv4Address");
  size_t i;
  if (aliases && !json_is_null (aliases) && !json_is_array (aliases))
    return isola_error_fail (err, EINVAL, "EndpointConfig.Aliases must be a list of strings");
  json_array_foreach (aliases, i, x) if (!json_is_string (x) || !json_string_value (x)[0]) return isola_error_fail (
      err, EINVAL, "invalid network alias: it must be a non-empty string");
  cleanup_json json_t *e = json_object ();
  if (ip && !json_is_null (ip) && !(json_is_string (ip) && json_string_value (ip)[0] == '\0'))
    {
      uint32_t addr;
      struct ipv4_net subnet;
      uint32_t gateway;
      if (!json_is_string (ip) || ipv4_addr_parse (json_string_value (ip), &addr) < 0)
        return isola_error_fail (err, EINVAL, "invalid IPv4 address: %s",
                                 json_is_string (ip) ? json_string_value (ip) : "(not a string)");
      int ret = network_subnet_of (record, &subnet, &gateway, err);
      if (ret < 0)
        return ret;
      if (!ipv4_net_contains (&subnet, addr))
        return isola_error_fail (err, EINVAL, "no configured subnet contains IP address %s", json_string_value (ip));
      json_object_set_new (e, "IPAMConfig", json_pack ("{s:O}", "IPv4Address", ip));
    }
  if (json_array_size (aliases) > 0)
    json_object_set (e, "Aliases", aliases);
  if (json_object_size (e) > 0)
    *out = take_ptr (&e);
  return 0;
}

int
network_connect (const struct isola_store *s, struct container *c, const char *network, json_t *endpoint,
                 isola_error_t *err)
{
  cleanup_json json_t *record = NULL, *e = NULL;
  int ret = network_get (s, network, false, &record, err);
  if (ret == 0)
    ret = refuse_running (c, "connect", err);
  if (ret == 0)
    ret = endpoint_of (endpoint, record, &e, err);
  if (ret < 0)
    return ret;
  if (on_network (c, record))
    return isola_error_fail (err, EEXIST, "endpoint with name %s already exists in network %s", container_name (c),
                             record_name (record));
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  if (network_mode_network (mode) != NULL || (mode && strcmp (mode, "none") != 0))
    return isola_error_fail (err, EEXIST,
                             "container %s is on network %s already, and an isola container is on one network: "
                             "disconnect it first",
                             container_name (c), mode && *mode ? mode : NETWORK_DEFAULT);
  json_object_set_new (container_host_config (c), "NetworkMode", json_string (record_name (record)));
  if (e)
    json_object_set (c->config, "Endpoint", e);
  else
    json_object_del (c->config, "Endpoint");
  return container_write_config (c, err);
}

int
network_disconnect (const struct isola_store *s, struct container *c, const char *network, isola_error_t *err)
{
  cleanup_json json_t *record = NULL;
  int ret = network_get (s, network, false, &record, err);
  if (ret == 0)
    ret = refuse_running (c, "disconnect", err);
  if (ret < 0)
    return ret;
  if (!on_network (c, record))
    return isola_error_fail (err, EINVAL, "container %s is not connected to network %s", container_name (c),
                             record_name (record));
  json_object_set_new (container_host_config (c), "NetworkMode", json_string ("none"));
  json_object_del (c->config, "Endpoint");
  return container_write_config (c, err);
}
