/* Network endpoints (network/network.h): list, inspect, create, remove (prune: prune.c); connect and disconnect
   (network/connect.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "containers.h"
#include "driver/driver.h"
#include "network/connect.h"
#include "network/network.h"
#include "filters.h"
#include "serve.h"
#include "store/store.h"

static enum MHD_Result
list (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_json json_t *records = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || network_list (s, &records, &err) < 0)
    return serve_reply_isola_error (r, err);
  json_t *nets = json_array ();
  size_t i;
  json_t *rec;
  json_array_foreach (records, i, rec)
  {
    json_array_append_new (nets, network_inspect_json (s, rec));
  }
  static const char *const keys[] = { "name", "id", "label", "driver", NULL };
  return serve_reply_list (r, nets, keys, NULL);
}

static enum MHD_Result
inspect (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_json json_t *rec = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || network_get (s, r->arg[0], false, &rec, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 200, network_inspect_json (s, rec));
}

static enum MHD_Result
create (struct serve_request *r)
{
  enum MHD_Result reply;
  cleanup_json json_t *body = serve_body_json (r, &reply);
  if (body == NULL)
    return reply;
  const char *name = json_string_value (json_object_get (body, "Name"));
  if (name == NULL || *name == '\0')
    return serve_reply_error (r, 400, "network name is required");
  struct network_request req = { .name = name,
                                 .driver = json_string_value (json_object_get (body, "Driver")),
                                 .internal = json_is_true (json_object_get (body, "Internal")),
                                 .labels = json_object_get (body, "Labels") };
  if (req.driver && *req.driver == '\0')
    req.driver = NULL;
  json_t *configs = json_object_get (json_object_get (body, "IPAM"), "Config"), *conf;
  if (json_array_size (configs) > 2)
    return serve_reply_error (r, 400, "isola's networks have one IPv4 subnet and, with EnableIPv6, one IPv6 subnet");
  req.ipv6 = json_is_true (json_object_get (body, "EnableIPv6"));
  size_t i;
  json_array_foreach (configs, i, conf)
  {
    const char *subnet = json_string_value (json_object_get (conf, "Subnet"));
    if (subnet && strchr (subnet, ':'))
      {
        req.subnet6 = subnet;
        req.gateway6 = json_string_value (json_object_get (conf, "Gateway"));
        continue;
      }
    req.subnet = subnet;
    req.gateway = json_string_value (json_object_get (conf, "Gateway"));
    req.ip_range = json_string_value (json_object_get (conf, "IPRange"));
  }
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_free char *id = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || network_create (s, &req, &id, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_json (r, 201, json_pack ("{s:s, s:s}", "Id", id, "Warning", ""));
}

static enum MHD_Result
remove_network (struct serve_request *r)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_store struct isola_store *s = NULL;
  cleanup_free char *name = NULL;
  if (store_open (serve_root, STORE_LOCK_SHARED, &s, &err) < 0 || network_remove (s, r->arg[0], &name, &err) < 0)
    return serve_reply_isola_error (r, err);
  return serve_reply_empty (r, 204);
}

/* POST /networks/{id}/connect {"Container", "EndpointConfig"} and /disconnect {"Container", "Force"}. */
static enum MHD_Result
connect_or_disconnect (struct serve_request *r, bool connect)
{
  enum MHD_Result reply;
  cleanup_json json_t *body = serve_body_json (r, &reply);
  if (body == NULL)
    return reply;
  const char *what = json_string_value (json_object_get (body, "Container"));
  if (what == NULL || *what == '\0')
    return serve_reply_error (r, 400, "Container is required");
  cleanup_store struct isola_store *s = NULL;
  cleanup_container struct container *c = NULL;
  if (serve_load_container (r, what, &s, &c, &reply) < 0)
    return reply;
  cleanup_error isola_error_t err = NULL;
  const struct network_limits *limits = &driver_of (c)->networks;
  int ret = connect ? network_connect (s, c, limits, r->arg[0], json_object_get (body, "EndpointConfig"), &err)
                    : network_disconnect (s, c, limits, r->arg[0], &err);
  return ret < 0 ? serve_reply_isola_error (r, err) : serve_reply_empty (r, 200);
}

enum MHD_Result
serve_networks (struct serve_request *r)
{
  if (serve_route (r, "POST", "/networks/*/connect"))
    return connect_or_disconnect (r, true);
  if (serve_route (r, "POST", "/networks/*/disconnect"))
    return connect_or_disconnect (r, false);
  if (serve_route (r, "GET", "/networks"))
    return list (r);
  if (serve_route (r, "POST", "/networks/create"))
    return create (r);
  if (serve_route (r, "GET", "/networks/*"))
    return inspect (r);
  if (serve_route (r, "DELETE", "/networks/*"))
    return remove_network (r);
  return SERVE_NOT_MINE;
}
