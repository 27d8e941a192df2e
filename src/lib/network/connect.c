/* `network connect` and `network disconnect` (connect.h). */
#define _GNU_SOURCE
#include "network/connect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "container/nsmode.h"
#include "network/attach.h"
#include "network/network.h"
#include "network/records.h"

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
  /* IPAMConfig as given: {} without an address (the docker CLI's), absent when the request has none (dockerd's) */
  json_t *ipam = json_object_get (endpoint, "IPAMConfig");
  const char *ip = json_string_value (json_object_get (ipam, "IPv4Address"));
  if (json_is_object (ipam))
    json_object_set_new (e, "IPAMConfig", ip && ip[0] ? json_pack ("{s:s}", "IPv4Address", ip) : json_object ());
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

/* The index in choices (network_choices') of the network of record, or -1. */
static ssize_t
choice_index (const struct isola_store *s, json_t *choices, json_t *record)
{
  size_t i;
  json_t *choice;
  json_array_foreach (choices, i, choice)
  {
    if (same_network (s, json_string_value (json_object_get (choice, "Name")), record))
      return (ssize_t)i;
  }
  return -1;
}

/* Under the network lock: whether the container runs with its networks' namespace, after what a dead monitor left
   is torn down.  A container that runs without it (--network none, or started by an older isola on no network) or
   whose run is starting or ending is refused (EBUSY). */
static int
check_running (const struct isola_store *s, struct container *c, const char *verb, bool *running, isola_error_t *err)
{
  *running = false;
  if (!container_monitor_alive (c))
    {
      network_reap (s, c);
      return 0;
    }
  cleanup_free char *netns = network_netns_path (c), *path = container_path (c, "network.json");
  if (netns == NULL || !path_exists (path))
    return isola_error_fail (err, EBUSY,
                             "container %s is running without a network of isola's, or is starting or stopping: "
                             "isola %ss it once it runs on a network or is stopped",
                             container_name (c), verb);
  *running = true;
  return 0;
}

/* The interface of the container's attachment to network id in its namespace (NULL: none). */
static char *
interface_to (const struct container *c, const char *id)
{
  cleanup_json json_t *atts = network_attachments (c);
  json_t *att = network_attachment_to (atts, id);
  return att ? xstrdup (network_attachment_interface (att)) : NULL;
}

static int
write_choices (struct container *c, json_t *choices, isola_error_t *err)
{
  json_object_set (c->config, "Networks", choices);
  json_object_del (c->config, "Network");
  json_object_del (c->config, "Endpoint");
  return container_write_config (c, err);
}

int
network_connect (const struct isola_store *s, struct container *c, const struct network_limits *limits,
                 const char *what, json_t *endpoint, isola_error_t *err)
{
  bool running = false;
  int ret = network_endpoint_check (endpoint, err);
  cleanup_close int lock = -1, config_lock = -1;
  if (ret == 0)
    ret = network_lock (s, &lock, err);
  if (ret == 0)
    ret = container_lock_config (c, &config_lock, err);
  if (ret < 0)
    return ret;
  /* Docker records a network it cannot find for a stopped container (its start then fails): so does isola. */
  cleanup_json json_t *record = NULL;
  cleanup_error isola_error_t missing = NULL;
  (void)network_get (s, what, true, &record, &missing);
  const char *name = record ? json_string_value (json_object_get (record, "Name")) : what;
  if ((ret = check_mode (c, name, err)) < 0 || (ret = check_running (s, c, "connect", &running, err)) < 0)
    return ret;
  if (running && record == NULL)
    return isola_error_fail (err, ENOENT, "%s", missing ? missing->msg : "network not found");
  cleanup_json json_t *choices = network_choices (c);
  ssize_t at = record ? choice_index (s, choices, record) : -1;
  for (size_t i = 0; record == NULL && i < json_array_size (choices); i++)
    if (strcmp (json_string_value (json_object_get (json_array_get (choices, i), "Name")) ?: "", what) == 0)
      at = (ssize_t)i;
  /* Docker's Forbidden (403 from the API) */
  if (at >= 0 && running)
    return isola_error_fail (err, EPERM, "endpoint with name %s already exists in network %s", container_name (c),
                             name);
  unsigned most = limits->max_networks_of ? limits->max_networks_of (c) : limits->max_networks;
  if (at < 0 && most > 0 && json_array_size (choices) >= most)
    return isola_error_fail (err, EEXIST,
                             "container %s is on %zu networks already, the most a VM container can be on (its guest "
                             "has %u network interfaces, one fewer for each -v share beyond one; disconnect it from "
                             "one first)",
                             container_name (c), json_array_size (choices), most);
  bool user = record && strcmp (name, NETWORK_DEFAULT) != 0;
  json_t *choice = json_pack ("{s:s}", "Name", name);
  json_t *e = endpoint_record (c, endpoint, user);
  if (json_object_size (e) > 0)
    json_object_set_new (choice, "Endpoint", e);
  else
    json_decref (e);
  /* Connecting to the network it is on replaces the aliases and address (a stopped container: Docker's). */
  if (at >= 0)
    json_array_set_new (choices, (size_t)at, choice);
  else
    json_array_append_new (choices, choice);
  const char *id = json_string_value (json_object_get (record, "Id"));
  if (running && (ret = network_attach_running (s, c, choice, err)) < 0)
    return ret;
  if ((ret = write_choices (c, choices, err)) < 0 && running)
    (void)network_detach_running (s, c, id, NULL);
  if (ret < 0 || !running || limits->running_changed == NULL)
    return ret;
  /* The rest without the lock: a VM's monitor, which answers for its guest, takes it when the run ends. */
  cleanup_free char *ifname = interface_to (c, id);
  close (lock);
  lock = -1;
  if ((ret = limits->running_changed (c, ifname, true, err)) == 0)
    return 0;
  /* Undone as a disconnect would: the guest never had it.  The locks are taken again in their order (network, then
     config), so this cannot deadlock with another connect; the record is re-read under them. */
  close (config_lock);
  config_lock = -1;
  if (network_lock (s, &lock, NULL) == 0 && container_lock_config (c, &config_lock, NULL) == 0
      && network_detach_running (s, c, id, NULL) == 0)
    {
      cleanup_json json_t *now = network_choices (c);
      ssize_t added = choice_index (s, now, record);
      if (added >= 0)
        json_array_remove (now, (size_t)added);
      (void)write_choices (c, now, NULL);
    }
  return ret;
}

int
network_disconnect (const struct isola_store *s, struct container *c, const struct network_limits *limits,
                    const char *what, isola_error_t *err)
{
  bool running = false;
  cleanup_close int lock = -1, config_lock = -1;
  int ret = network_lock (s, &lock, err);
  if (ret == 0)
    ret = container_lock_config (c, &config_lock, err);
  cleanup_json json_t *record = NULL;
  if (ret == 0)
    ret = network_get (s, what, true, &record, err);
  if (ret < 0)
    return ret;
  const char *name = json_string_value (json_object_get (record, "Name"));
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode")) ?: "";
  if (strcmp (name, "host") == 0 && strcmp (mode, "host") == 0)
    return isola_error_fail (err, EINVAL,
                             "container cannot be disconnected from host network or connected to host "
                             "network");
  if ((ret = check_running (s, c, "disconnect", &running, err)) < 0)
    return ret;
  cleanup_json json_t *choices = network_choices (c);
  /* --network none: on "none", which Docker lets go (the container stays without a network). */
  bool none = strcmp (name, "none") == 0 && strcmp (mode, "none") == 0 && json_object_get (c->config, "Network") == NULL
              && json_object_get (c->config, "Networks") == NULL;
  ssize_t at = choice_index (s, choices, record);
  if (!none && at < 0)
    return isola_error_fail (err, ENOENT, "container %s is not connected to the network %s", c->id, what);
  const char *id = json_string_value (json_object_get (record, "Id"));
  cleanup_free char *ifname = running ? interface_to (c, id) : NULL;
  if (running && (ret = network_detach_running (s, c, id, err)) < 0)
    return ret;
  if (at >= 0)
    json_array_remove (choices, (size_t)at);
  if ((ret = write_choices (c, choices, err)) < 0 || !running || limits->running_changed == NULL || ifname == NULL)
    return ret;
  close (lock);
  lock = -1;
  return limits->running_changed (c, ifname, false, err);
}
