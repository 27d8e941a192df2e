/* `network connect` and `network disconnect` of a container that is not running (connect.h). */
#define _GNU_SOURCE
#include "network/connect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/nsmode.h"
#include "network/attach.h"
#include "network/network.h"

int
network_endpoint_check (json_t *endpoint, isola_error_t *err)
{
  if (endpoint == NULL || json_is_null (endpoint))
    return 0;
  if (!json_is_object (endpoint))
    return isola_error_fail (err, EINVAL, "EndpointConfig must be an object");
  json_t *ip = json_object_get (json_object_get (endpoint, "IPAMConfig"), "IPv4Address");
  struct in_addr a;
  if (ip && !json_is_null (ip) && !(json_is_string (ip) && inet_pton (AF_INET, json_string_value (ip), &a) == 1))
    return isola_error_fail (err, EINVAL, "invalid IPv4 address: %s",
                             json_is_string (ip) ? json_string_value (ip) : "(not a string)");
  json_t *aliases = json_object_get (endpoint, "Aliases"), *x;
  size_t i;
  if (aliases && !json_is_null (aliases) && !json_is_array (aliases))
    return isola_error_fail (err, EINVAL, "EndpointConfig.Aliases must be a list of strings");
  json_array_foreach (aliases, i, x) if (!json_is_string (x) || !json_string_value (x)[0]) return isola_error_fail (
      err, EINVAL, "invalid network alias: it must be a non-empty string");
  return 0;
}

/* The record's "Endpoint" for a connect: the address and aliases asked for, and on a user network the short ID
   among the aliases (Docker's). */
static json_t *
endpoint_record (const struct container *c, json_t *endpoint, bool user_network)
{
  json_t *e = json_object ();
  const char *ip = json_string_value (json_object_get (json_object_get (endpoint, "IPAMConfig"), "IPv4Address"));
  if (ip && ip[0])
    json_object_set_new (e, "IPAMConfig", json_pack ("{s:s}", "IPv4Address", ip));
  json_t *aliases = json_array ();
  size_t i;
  json_t *a;
  json_array_foreach (json_object_get (endpoint, "Aliases"), i, a) json_array_append (aliases, a);
  if (user_network)
    json_array_append_new (aliases, json_sprintf ("%.12s", c->id));
  if (json_array_size (aliases) > 0)
    json_object_set_new (e, "Aliases", aliases);
  else
    json_decref (aliases);
  return e;
}

/* Docker's refusals for the modes that have no network of their own to change (daemon/container_operations.go). */
static int
check_mode (const struct container *c, const char *network, isola_error_t *err)
{
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode")) ?: "";
  if (strcmp (mode, "host") == 0 || strcmp (network, "host") == 0)
    return isola_error_fail (err, EINVAL,
                             "container cannot be disconnected from host network or connected to host "
                             "network");
  if (nsmode_container (mode) || str_has_prefix (mode, "ns:"))
    return isola_error_fail (err, EINVAL,
                             "container sharing network namespace with another container or host cannot "
                             "be connected to any other network");
  if (strcmp (mode, "none") == 0 || strcmp (network, "none") == 0)
    return isola_error_fail (err, EINVAL,
                             "container cannot be connected to multiple networks with one of the "
                             "networks in private (none) mode");
  return 0;
}

/* Whether recorded (a network's name or ID as a container's record holds it) names the network of record. */
static bool
same_network (const struct isola_store *s, const char *recorded, json_t *record)
{
  cleanup_json json_t *r = NULL;
  if (recorded == NULL)
    return false;
  if (record == NULL || network_get (s, recorded, true, &r, NULL) < 0)
    return record == NULL ? false : strcmp (recorded, json_string_value (json_object_get (record, "Name"))) == 0;
  return strcmp (json_string_value (json_object_get (r, "Id")), json_string_value (json_object_get (record, "Id")))
         == 0;
}

/* Under the network lock: a container whose monitor runs it keeps its network (connect.h); what a dead monitor
   left is torn down first. */
static int
check_not_running (const struct isola_store *s, struct container *c, const char *verb, isola_error_t *err)
{
  if (container_monitor_alive (c))
    return isola_error_fail (err, EBUSY,
                             "container %s is running: isola %ss a container only while it is stopped (stop it "
                             "first)",
                             container_name (c), verb);
  network_reap (s, c);
  return 0;
}

static int
write_choice (struct container *c, json_t *network, json_t *endpoint, isola_error_t *err)
{
  json_object_set_new (c->config, "Network", network);
  if (endpoint && json_object_size (endpoint) > 0)
    json_object_set_new (c->config, "Endpoint", endpoint);
  else
    {
      json_decref (endpoint);
      json_object_del (c->config, "Endpoint");
    }
  return container_write_config (c, err);
}

int
network_connect (const struct isola_store *s, struct container *c, const char *what, json_t *endpoint,
                 isola_error_t *err)
{
  int ret = network_endpoint_check (endpoint, err);
  cleanup_close int lock = -1;
  if (ret == 0)
    ret = network_lock (s, &lock, err);
  if (ret == 0)
    ret = check_not_running (s, c, "connect", err);
  if (ret < 0)
    return ret;
  /* Docker records a network it cannot find for a stopped container (its start then fails): so does isola. */
  cleanup_json json_t *record = NULL;
  (void)network_get (s, what, true, &record, NULL);
  const char *name = record ? json_string_value (json_object_get (record, "Name")) : what;
  if ((ret = check_mode (c, name, err)) < 0)
    return ret;
  const char *current = network_of_container (c);
  bool same = record ? same_network (s, current, record) : current && strcmp (current, what) == 0;
  if (current && !same)
    return isola_error_fail (err, EEXIST,
                             "container %s is on network %s: isola puts a container on one network at a time "
                             "(disconnect it from %s first)",
                             container_name (c), current, current);
  bool user = record && strcmp (name, NETWORK_DEFAULT) != 0;
  return write_choice (c, json_string (name), endpoint_record (c, endpoint, user), err);
}

int
network_disconnect (const struct isola_store *s, struct container *c, const char *what, isola_error_t *err)
{
  cleanup_close int lock = -1;
  int ret = network_lock (s, &lock, err);
  if (ret == 0)
    ret = check_not_running (s, c, "disconnect", err);
  if (ret < 0)
    return ret;
  cleanup_json json_t *record = NULL;
  if ((ret = network_get (s, what, true, &record, err)) < 0)
    return ret;
  const char *name = json_string_value (json_object_get (record, "Name"));
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode")) ?: "";
  if (strcmp (name, "host") == 0 && strcmp (mode, "host") == 0)
    return isola_error_fail (err, EINVAL,
                             "container cannot be disconnected from host network or connected to host "
                             "network");
  /* --network none: on "none", which Docker lets go (the container stays without a network). */
  bool none
      = strcmp (name, "none") == 0 && strcmp (mode, "none") == 0 && json_object_get (c->config, "Network") == NULL;
  if (!none && !same_network (s, network_of_container (c), record))
    return isola_error_fail (err, ENOENT, "container %s is not connected to the network %s", c->id, what);
  return write_choice (c, json_null (), NULL, err);
}
