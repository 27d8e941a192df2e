/* Networks and leases (network.h): records written temp + rename under ROOT/networks/lock. */
#define _GNU_SOURCE
#include "network/network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/digest.h"
#include "base/util.h"
#include "network/records.h"

/* --- IPv4 ----------------------------------------------------------------------------------------------------- */

static uint32_t
prefix_mask (int prefix)
{
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

int
ipv4_addr_parse (const char *s, uint32_t *out)
{
  struct in_addr a;
  if (s == NULL || inet_pton (AF_INET, s, &a) != 1)
    return -EINVAL;
  *out = ntohl (a.s_addr);
  return 0;
}

/* The length after a subnet's '/', as Go's net.ParseCIDR (Docker's) reads it: decimal digits only (leading zeros
   allowed), no sign, no space, at most max.  strtol took "/ 8" and "/+8". */
static int
prefix_parse (const char *s, int max, int *out)
{
  int n = 0;
  if (*s == '\0')
    return -EINVAL;
  for (; *s; s++)
    {
      if (*s < '0' || *s > '9')
        return -EINVAL;
      n = n * 10 + (*s - '0');
      if (n > max)
        return -EINVAL;
    }
  *out = n;
  return 0;
}

int
ipv4_net_parse (const char *s, bool exact, struct ipv4_net *out)
{
  const char *slash = s ? strchr (s, '/') : NULL;
  int prefix;
  if (slash == NULL || prefix_parse (slash + 1, 32, &prefix) < 0)
    return -EINVAL;
  cleanup_free char *addr = strndup (s, (size_t)(slash - s));
  uint32_t a;
  if (ipv4_addr_parse (addr, &a) < 0)
    return -EINVAL;
  if (exact && (a & ~prefix_mask ((int)prefix)))
    return -EINVAL;
  *out = (struct ipv4_net){ .addr = a & prefix_mask ((int)prefix), .prefix = (int)prefix };
  return 0;
}

char *
ipv4_addr_format (uint32_t a)
{
  return xasprintf ("%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

char *
ipv4_net_format (const struct ipv4_net *n)
{
  cleanup_free char *a = ipv4_addr_format (n->addr);
  return xasprintf ("%s/%d", a, n->prefix);
}

bool
ipv4_net_contains (const struct ipv4_net *n, uint32_t a)
{
  return (a & prefix_mask (n->prefix)) == n->addr;
}

bool
ipv4_net_overlap (const struct ipv4_net *a, const struct ipv4_net *b)
{
  int p = a->prefix < b->prefix ? a->prefix : b->prefix;
  return (a->addr & prefix_mask (p)) == (b->addr & prefix_mask (p));
}

/* --- paths, lock ---------------------------------------------------------------------------------------------- */

int
network_lock (const struct isola_store *s, int *fd_out, isola_error_t *err)
{
  cleanup_free char *dir = store_path (s, "networks");
  int ret = mkdir_p (dir, 0700, err);
  if (ret < 0)
    return ret;
  cleanup_free char *path = store_path (s, "networks/lock");
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return isola_error_make (err, errno, "open %s", path);
  if (flock (fd, LOCK_EX) < 0)
    {
      int e = errno;
      close (fd);
      return isola_error_make (err, e, "lock %s", path);
    }
  *fd_out = fd;
  return 0;
}

static char *
record_path (const struct isola_store *s, const char *id)
{
  return store_path (s, "networks/%s.json", id);
}

static int
write_record (const struct isola_store *s, json_t *record, isola_error_t *err)
{
  const char *id = json_string_value (json_object_get (record, "Id"));
  cleanup_free char *path = record_path (s, id);
  cleanup_free char *text = json_dumps (record, JSON_INDENT (2));
  return write_file_atomic (path, text, strlen (text), 0644, err);
}

static bool
is_record_name (const char *name)
{
  return strlen (name) == DIGEST_HEX_LEN + 5 && str_has_suffix (name, ".json");
}

/* Every record on disk (without the default's making). */
static json_t *
read_records (const struct isola_store *s)
{
  json_t *all = json_array ();
  cleanup_free char *dir = store_path (s, "networks");
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;
  while (d && (e = readdir (d)))
    {
      if (!is_record_name (e->d_name))
        continue;
      cleanup_free char *path = xasprintf ("%s/%s", dir, e->d_name);
      json_t *r = json_load_file (path, 0, NULL);
      if (json_is_object (r))
        json_array_append_new (all, r);
      else
        json_decref (r);
    }
  return all;
}

/* --- subnets -------------------------------------------------------------------------------------------------- */

static int
record_subnet (json_t *record, struct ipv4_net *out)
{
  json_t *cfg = json_array_get (json_object_get (json_object_get (record, "IPAM"), "Config"), 0);
  return ipv4_net_parse (json_string_value (json_object_get (cfg, "Subnet")), false, out);
}

int
network_subnet_of (json_t *record, struct ipv4_net *subnet, uint32_t *gateway, isola_error_t *err)
{
  json_t *cfg = json_array_get (json_object_get (json_object_get (record, "IPAM"), "Config"), 0);
  if (record_subnet (record, subnet) < 0
      || ipv4_addr_parse (json_string_value (json_object_get (cfg, "Gateway")), gateway) < 0)
    return isola_error_fail (err, EINVAL, "network %s: its record has no IPv4 subnet and gateway",
                             json_string_value (json_object_get (record, "Name")));
  return 0;
}

int
ipv6_net_parse (const char *s, struct ipv6_net *out)
{
  const char *slash = s ? strchr (s, '/') : NULL;
  if (slash == NULL || slash - s >= INET6_ADDRSTRLEN)
    return -EINVAL;
  char addr[INET6_ADDRSTRLEN];
  snprintf (addr, sizeof addr, "%.*s", (int)(slash - s), s);
  int prefix;
  if (inet_pton (AF_INET6, addr, &out->addr) != 1 || prefix_parse (slash + 1, 96, &prefix) < 0 || prefix < 1)
    return -EINVAL;
  out->prefix = prefix;
  for (int bit = out->prefix; bit < 128; bit++)
    out->addr.s6_addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
  return 0;
}

struct in6_addr
ipv6_addr_offset (const struct in6_addr *base, uint32_t offset)
{
  struct in6_addr a = *base;
  uint32_t low;
  memcpy (&low, &a.s6_addr[12], 4);
  low = htonl (ntohl (low) + offset);
  memcpy (&a.s6_addr[12], &low, 4);
  return a;
}

char *
ipv6_addr_format (const struct in6_addr *a)
{
  char text[INET6_ADDRSTRLEN];
  return xstrdup (inet_ntop (AF_INET6, a, text, sizeof text) ? text : "");
}

int
network_subnet6_of (json_t *record, struct ipv6_net *subnet, struct in6_addr *gateway)
{
  size_t i;
  json_t *cfg;
  json_array_foreach (json_object_get (json_object_get (record, "IPAM"), "Config"), i, cfg)
  {
    const char *gw = json_string_value (json_object_get (cfg, "Gateway"));
    if (ipv6_net_parse (json_string_value (json_object_get (cfg, "Subnet")), subnet) == 0 && gw
        && inet_pton (AF_INET6, gw, gateway) == 1)
      return 0;
  }
  return -ENOENT;
}

int
network_bridge_spec (json_t *record, struct bridge_spec *out, isola_error_t *err)
{
  struct ipv4_net subnet;
  uint32_t gateway;
  int ret = network_subnet_of (record, &subnet, &gateway, err);
  if (ret < 0)
    return ret;
  *out = (struct bridge_spec){ .id = json_string_value (json_object_get (record, "Id")),
                               .device = json_string_value (json_object_get (record, "IsolaBridge")),
                               .subnet = subnet.addr,
                               .gateway = gateway,
                               .prefix = subnet.prefix,
                               .internal = json_is_true (json_object_get (record, "Internal")) };
  struct ipv6_net subnet6;
  if (network_subnet6_of (record, &subnet6, &out->gateway6) == 0)
    out->has6 = true, out->prefix6 = subnet6.prefix;
  if (out->id == NULL || out->device == NULL)
    return isola_error_fail (err, EINVAL, "network %s: its record names no bridge",
                             json_string_value (json_object_get (record, "Name")));
  return 0;
}

/* The next route of /proc/net/route (F, past its header line) that is not a default one: its device and
   destination. */
static bool
next_route (FILE *f, char dev[64], struct ipv4_net *r)
{
  char line[512];
  while (fgets (line, sizeof line, f))
    {
      unsigned dst, gw, flags, refcnt, use, metric, mask;
      if (sscanf (line, "%63s %x %x %x %u %u %u %x", dev, &dst, &gw, &flags, &refcnt, &use, &metric, &mask) != 8
          || mask == 0)
        continue;
      /* /proc/net/route prints the addresses in network byte order as read by a little-endian host. */
      uint32_t m = ntohl (mask);
      *r = (struct ipv4_net){ .addr = ntohl (dst) & m, .prefix = __builtin_popcount (m) };
      return true;
    }
  return false;
}

static FILE *
open_routes (void)
{
  FILE *f = fopen ("/proc/net/route", "re");
  char header[512];
  if (f && fgets (header, sizeof header, f) == NULL)
    {
      fclose (f);
      f = NULL;
    }
  return f;
}

/* The routes of the current network namespace but the default one: a bridge there must not shadow them. */
static bool
overlaps_route (const struct ipv4_net *n, char **which)
{
  cleanup_file FILE *f = open_routes ();
  char dev[64];
  struct ipv4_net r;
  while (f && next_route (f, dev, &r))
    if (ipv4_net_overlap (n, &r))
      {
        if (which)
          {
            cleanup_free char *net = ipv4_net_format (&r);
            *which = xasprintf ("%s (dev %s)", net, dev);
          }
        return true;
      }
  return false;
}

/* The bridge devices and subnets of other networks: a route to our own bridge is not a conflict. */
static bool
overlaps_network (json_t *records, const struct ipv4_net *n, const char *skip_device)
{
  size_t i;
  json_t *r;
  json_array_foreach (records, i, r)
  {
    struct ipv4_net other;
    const char *dev = json_string_value (json_object_get (r, "IsolaBridge"));
    if (skip_device && dev && strcmp (dev, skip_device) == 0)
      continue;
    if (record_subnet (r, &other) == 0 && ipv4_net_overlap (n, &other))
      return true;
  }
  return false;
}

/* Whether every route overlapping N is on a bridge of ours (a network's, or also_ours when not NULL): such a route
   is that network's, not the host's. */
static bool
route_is_own_bridge (json_t *records, const struct ipv4_net *n, const char *also_ours)
{
  cleanup_file FILE *f = open_routes ();
  if (f == NULL)
    return false;
  char dev[64];
  struct ipv4_net r;
  while (next_route (f, dev, &r))
    {
      if (!ipv4_net_overlap (n, &r))
        continue;
      size_t i;
      json_t *rec;
      bool ours = also_ours && strcmp (dev, also_ours) == 0;
      json_array_foreach (records, i, rec)
      {
        const char *d = json_string_value (json_object_get (rec, "IsolaBridge"));
        ours = ours || (d && strcmp (d, dev) == 0);
      }
      if (!ours)
        return false;
    }
  return true;
}

static bool
subnet_free (json_t *records, const struct ipv4_net *n, const char *also_ours)
{
  return !overlaps_network (records, n, NULL)
         && (!overlaps_route (n, NULL) || route_is_own_bridge (records, n, also_ours));
}

/* Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
static bool
next_free_subnet (json_t *records, const char *also_ours, struct ipv4_net *out)
{
  for (uint32_t b = 17; b <= 31; b++)
    {
      struct ipv4_net n = { .addr = (172u << 24) | (b << 16), .prefix = 16 };
      if (subnet_free (records, &n, also_ours))
        return (*out = n), true;
    }
  for (uint32_t c = 0; c < 256; c += 16)
    {
      struct ipv4_net n = { .addr = (192u << 24) | (168u << 16) | (c << 8), .prefix = 20 };
      if (subnet_free (records, &n, also_ours))
        return (*out = n), true;
    }
  return false;
}

/* --- records -------------------------------------------------------------------------------------------------- */

static json_t *
new_record (const char *name, const char *device, const struct ipv4_net *subnet, uint32_t gateway, const char *ip_range,
            bool internal, json_t *labels, json_t *options)
{
  char id[DIGEST_HEX_LEN + 1];
  random_id_hex (id);
  cleanup_free char *created = time_rfc3339_now ();
  cleanup_free char *sub = ipv4_net_format (subnet), *gw = ipv4_addr_format (gateway);
  /* Docker's order: Subnet, IPRange, Gateway. */
  json_t *cfg = json_pack ("{s:s}", "Subnet", sub);
  if (ip_range)
    json_object_set_new (cfg, "IPRange", json_string (ip_range));
  json_object_set_new (cfg, "Gateway", json_string (gw));
  return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:o, s:[o]}, s:b, s:b, s:b, s:{s:s}, s:b, s:o, s:o, "
                    "s:s}",
                    "Name", name, "Id", id, "Created", created, "Scope", "local", "Driver", "bridge", "EnableIPv6", 0,
                    "IPAM", "Driver", "default", "Options", json_object (), "Config", cfg, "Internal", internal,
                    "Attachable", 0, "Ingress", 0, "ConfigFrom", "Network", "", "ConfigOnly", 0, "Options",
                    options ? options : json_object (), "Labels", labels ? json_deep_copy (labels) : json_object (),
                    "IsolaBridge", device);
}

/* ROOT/config.json's "network": {"subnet", "gateway"}, else a free pool. */
static int
default_subnet (const struct isola_store *s, json_t *records, struct ipv4_net *subnet, uint32_t *gateway,
                isola_error_t *err)
{
  cleanup_json json_t *config = NULL;
  int ret = store_config_load (s->root, &config, err);
  if (ret < 0)
    return ret;
  json_t *net = json_object_get (config, "network");
  const char *sub = json_string_value (json_object_get (net, "subnet"));
  const char *gw = json_string_value (json_object_get (net, "gateway"));
  if (sub)
    {
      if (ipv4_net_parse (sub, false, subnet) < 0 || subnet->prefix > 30)
        return isola_error_fail (err, EINVAL, "%s/config.json: network.subnet: invalid CIDR address: %s", s->root, sub);
      cleanup_free char *route = NULL;
      if (overlaps_route (subnet, &route) && !route_is_own_bridge (records, subnet, NETWORK_DEFAULT_DEVICE))
        return isola_error_fail (err, EEXIST, "%s/config.json: network.subnet %s overlaps the host's route to %s",
                                 s->root, sub, route);
    }
  /* isola0 outlives the stores that made it (bridge.h): its route is the default network's, not the host's. */
  else if (!next_free_subnet (records, NETWORK_DEFAULT_DEVICE, subnet))
    return isola_error_fail (err, ENOSPC,
                             "no free subnet for the default network: set network.subnet in %s/config.json", s->root);
  *gateway = subnet->addr + 1;
  if (gw && (ipv4_addr_parse (gw, gateway) < 0 || !ipv4_net_contains (subnet, *gateway)))
    return isola_error_fail (err, EINVAL, "%s/config.json: network.gateway %s is not an address of %s", s->root, gw,
                             sub ? sub : "the subnet");
  return 0;
}

static json_t *
find_in (json_t *records, const char *what)
{
  size_t i;
  json_t *r, *by_prefix = NULL;
  int prefix_hits = 0;
  /* Docker's order: full ID, then exact name, then a unique ID prefix. */
  json_array_foreach (records, i, r) if (strcmp (json_string_value (json_object_get (r, "Id")), what) == 0) return r;
  json_array_foreach (records, i, r) if (strcmp (json_string_value (json_object_get (r, "Name")), what) == 0) return r;
  json_array_foreach (records, i, r) if (str_has_prefix (json_string_value (json_object_get (r, "Id")), what))
  {
    by_prefix = r;
    prefix_hits++;
  }
  return prefix_hits == 1 ? by_prefix : NULL;
}

static bool
is_predefined (json_t *r)
{
  const char *n = json_string_value (json_object_get (r, "Name")) ?: "";
  return strcmp (n, NETWORK_DEFAULT) == 0 || strcmp (n, "host") == 0 || strcmp (n, "none") == 0;
}

/* Docker's pre-defined `host` (driver host) and `none` (driver null): records without IPAM, so that ls, inspect and
   rm see them as Docker shows them. */
static json_t *
predefined_record (const char *name)
{
  char id[DIGEST_HEX_LEN + 1];
  random_id_hex (id);
  cleanup_free char *created = time_rfc3339_now ();
  return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:[]}, s:b, s:b, s:b, s:{s:s}, s:b, s:{}, s:{}}",
                    "Name", name, "Id", id, "Created", created, "Scope", "local", "Driver",
                    strcmp (name, "host") == 0 ? "host" : "null", "EnableIPv6", 0, "IPAM", "Driver", "default",
                    "Options", "Config", "Internal", 0, "Attachable", 0, "Ingress", 0, "ConfigFrom", "Network", "",
                    "ConfigOnly", 0, "Options", "Labels");
}

static json_t *
default_record (const struct isola_store *s, json_t *all, isola_error_t *err)
{
  struct ipv4_net subnet;
  uint32_t gateway = 0;
  if (default_subnet (s, all, &subnet, &gateway, err) < 0)
    return NULL;
  json_t *options
      = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "com.docker.network.bridge.default_bridge", "true",
                   "com.docker.network.bridge.enable_icc", "true", "com.docker.network.bridge.enable_ip_masquerade",
                   "true", "com.docker.network.bridge.host_binding_ipv4", "0.0.0.0", NETWORK_BRIDGE_OPTION,
                   NETWORK_DEFAULT_DEVICE, "com.docker.network.driver.mtu", "1500");
  return new_record (NETWORK_DEFAULT, NETWORK_DEFAULT_DEVICE, &subnet, gateway, NULL, false, NULL, options);
}

/* The records, the pre-defined ones made first if missing and listed first (bridge, host, none) as Docker lists
   them.  Caller holds the lock. */
static int
load_all (const struct isola_store *s, json_t **out, isola_error_t *err)
{
  cleanup_json json_t *all = read_records (s);
  const char *predefined[] = { NETWORK_DEFAULT, "host", "none" };
  for (size_t k = 0; k < 3; k++)
    {
      json_t *r = find_in (all, predefined[k]);
      if (r && is_predefined (r))
        {
          json_incref (r);
          size_t i;
          json_t *x;
          json_array_foreach (all, i, x) if (x == r)
          {
            json_array_remove (all, i);
            break;
          }
          json_array_insert_new (all, k, r);
          continue;
        }
      r = k == 0 ? default_record (s, all, err) : predefined_record (predefined[k]);
      if (r == NULL)
        return -EINVAL;
      int ret = write_record (s, r, err);
      if (ret < 0)
        {
          json_decref (r);
          return ret;
        }
      json_array_insert_new (all, k, r);
    }
  *out = take_ptr (&all);
  return 0;
}

int
network_get (const struct isola_store *s, const char *what, bool locked, json_t **out, isola_error_t *err)
{
  cleanup_close int lock = -1;
  cleanup_json json_t *all = NULL;
  int ret = locked ? 0 : network_lock (s, &lock, err);
  if (ret == 0)
    ret = load_all (s, &all, err);
  if (ret < 0)
    return ret;
  json_t *r = what && what[0] ? find_in (all, what) : NULL;
  if (r == NULL)
    return isola_error_fail (err, ENOENT, "network %s not found", what ? what : "");
  *out = json_incref (r);
  return 0;
}

int
network_list (const struct isola_store *s, json_t **out, isola_error_t *err)
{
  cleanup_close int lock = -1;
  int ret = network_lock (s, &lock, err);
  return ret < 0 ? ret : load_all (s, out, err);
}

/* --- leases --------------------------------------------------------------------------------------------------- */

static char *
lease_dir (const struct isola_store *s, const char *network_id)
{
  return store_path (s, "networks/leases/%s", network_id);
}

/* The containers holding leases of a network: {ID: IPv4} */
static json_t *
leases_of (const struct isola_store *s, const char *network_id)
{
  json_t *out = json_object ();
  cleanup_free char *dir = lease_dir (s, network_id);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *e;
  while (d && (e = readdir (d)))
    {
      uint32_t a;
      if (ipv4_addr_parse (e->d_name, &a) < 0)
        continue;
      cleanup_free char *path = xasprintf ("%s/%s", dir, e->d_name), *holder = NULL;
      if (read_file_bounded (path, 128, &holder, NULL, NULL) == 0)
        json_object_set_new (out, holder, json_string (e->d_name));
    }
  return out;
}

/* A lease is a file named for the address: O_EXCL makes a taken one fail, even without the lock. */
static int
take_lease (const char *dir, uint32_t a, const char *container_id)
{
  cleanup_free char *ip = ipv4_addr_format (a);
  cleanup_free char *path = xasprintf ("%s/%s", dir, ip);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  int ret = write_all (fd, container_id, strlen (container_id));
  close (fd);
  if (ret < 0)
    (void)unlink (path);
  return ret;
}

int
network_lease (const struct isola_store *s, json_t *record, const char *container_id, uint32_t want, uint32_t *out,
               isola_error_t *err)
{
  struct ipv4_net subnet, range;
  uint32_t gateway = 0;
  int ret = network_subnet_of (record, &subnet, &gateway, err);
  if (ret < 0)
    return ret;
  const char *name = json_string_value (json_object_get (record, "Name"));
  json_t *cfg = json_array_get (json_object_get (json_object_get (record, "IPAM"), "Config"), 0);
  if (ipv4_net_parse (json_string_value (json_object_get (cfg, "IPRange")), false, &range) < 0)
    range = subnet;
  cleanup_free char *dir = lease_dir (s, json_string_value (json_object_get (record, "Id")));
  if ((ret = mkdir_p (dir, 0700, err)) < 0)
    return ret;
  uint32_t broadcast = subnet.addr | ~prefix_mask (subnet.prefix);
  if (want)
    {
      if (!ipv4_net_contains (&subnet, want) || want == subnet.addr || want == broadcast || want == gateway)
        {
          cleanup_free char *ip = ipv4_addr_format (want);
          return isola_error_fail (err, EINVAL, "no available IPv4 address %s on network %s", ip, name);
        }
      if ((ret = take_lease (dir, want, container_id)) < 0)
        {
          cleanup_free char *ip = ipv4_addr_format (want);
          return isola_error_fail (err, EADDRINUSE, "Address already in use: %s on network %s", ip, name);
        }
      *out = want;
      return 0;
    }
  uint32_t first = range.addr, last = range.addr | ~prefix_mask (range.prefix);
  for (uint32_t a = first; a <= last && a >= first; a++)
    {
      if (a == subnet.addr || a == broadcast || a == gateway)
        continue;
      ret = take_lease (dir, a, container_id);
      if (ret == 0)
        {
          *out = a;
          return 0;
        }
      if (ret != -EEXIST)
        return isola_error_make (err, -ret, "lease an address of network %s", name);
    }
  return isola_error_fail (err, ENOSPC, "no available IPv4 addresses on network %s", name);
}

void
network_release (const struct isola_store *s, const char *network_id, uint32_t addr, const char *container_id)
{
  cleanup_free char *ip = ipv4_addr_format (addr);
  cleanup_free char *path = store_path (s, "networks/leases/%s/%s", network_id, ip), *holder = NULL;
  if (read_file_bounded (path, 128, &holder, NULL, NULL) == 0 && strcmp (holder, container_id) == 0)
    (void)unlink (path);
}

/* --- create, rm, prune, inspect ------------------------------------------------------------------------------- */

static bool
valid_name (const char *n)
{
  if (!n || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= '0' && n[0] <= '9')))
    return false;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr ("_.-", *p)))
      return false;
  return true;
}

/* isolaN, the lowest N no network uses (isola0 is the default's). */
static char *
free_device (json_t *records)
{
  for (int n = 1;; n++)
    {
      cleanup_free char *dev = xasprintf ("isola%d", n);
      bool used = false;
      size_t i;
      json_t *r;
      json_array_foreach (records, i, r) used
          = used || strcmp (json_string_value (json_object_get (r, "IsolaBridge")) ?: "", dev) == 0;
      if (!used)
        return take_ptr (&dev);
    }
}

static int
request_subnet (const struct network_request *r, json_t *records, struct ipv4_net *subnet, uint32_t *gateway,
                isola_error_t *err)
{
  if (r->subnet == NULL)
    {
      if (r->gateway || r->ip_range)
        return isola_error_fail (err, EINVAL, "%s requires --subnet", r->gateway ? "--gateway" : "--ip-range");
      if (!next_free_subnet (records, NULL, subnet))
        return isola_error_fail (err, ENOSPC,
                                 "could not find an available, non-overlapping IPv4 address pool among the defaults "
                                 "to assign to the network");
    }
  else
    {
      if (ipv4_net_parse (r->subnet, false, subnet) < 0)
        return isola_error_fail (err, EINVAL, "invalid CIDR address: %s", r->subnet);
      if (subnet->prefix > 30)
        return isola_error_fail (err, EINVAL, "subnet %s is too small: it has no room for containers", r->subnet);
      if (overlaps_network (records, subnet, NULL))
        return isola_error_fail (err, EEXIST, "Pool overlaps with other one on this address space");
      cleanup_free char *route = NULL;
      if (overlaps_route (subnet, &route) && !route_is_own_bridge (records, subnet, NULL))
        return isola_error_fail (err, EEXIST, "subnet %s overlaps the host's route to %s", r->subnet, route);
    }
  *gateway = subnet->addr + 1;
  if (r->gateway
      && (ipv4_addr_parse (r->gateway, gateway) < 0 || !ipv4_net_contains (subnet, *gateway)
          || *gateway == subnet->addr))
    return isola_error_fail (err, EINVAL, "no matching subnet for gateway %s", r->gateway);
  struct ipv4_net range;
  if (r->ip_range
      && (ipv4_net_parse (r->ip_range, false, &range) < 0 || !ipv4_net_contains (subnet, range.addr)
          || range.prefix < subnet->prefix))
    return isola_error_fail (err, EINVAL, "no matching subnet for range %s", r->ip_range);
  return 0;
}

static bool
ipv6_net_overlap (const struct ipv6_net *a, const struct ipv6_net *b)
{
  int p = a->prefix < b->prefix ? a->prefix : b->prefix;
  for (int bit = 0; bit < p; bit++)
    if ((a->addr.s6_addr[bit / 8] ^ b->addr.s6_addr[bit / 8]) & (0x80u >> (bit % 8)))
      return false;
  return true;
}

/* --ipv6's IPAM.Config entry ({"Subnet", "Gateway"}), or NULL without --ipv6. */
static int
request_subnet6 (const struct network_request *r, json_t *records, json_t **cfg_out, isola_error_t *err)
{
  *cfg_out = NULL;
  if (!r->ipv6)
    return r->subnet6 || r->gateway6 ? isola_error_fail (err, EINVAL, "an IPv6 --subnet or --gateway needs --ipv6") : 0;
  struct ipv6_net n, other;
  struct in6_addr gw, ignored;
  if (r->subnet6 == NULL)
    return isola_error_fail (err, EINVAL,
                             "--ipv6 needs an IPv6 --subnet (a unique local one such as fd00:1::/64): isola has no "
                             "pool of IPv6 subnets");
  if (ipv6_net_parse (r->subnet6, &n) < 0)
    return isola_error_fail (err, EINVAL, "invalid IPv6 subnet %s: an IPv6 CIDR of at most /96", r->subnet6);
  size_t i;
  json_t *rec;
  json_array_foreach (
      records, i,
      rec) if (network_subnet6_of (rec, &other, &ignored) == 0
               && ipv6_net_overlap (
                   &n, &other)) return isola_error_fail (err, EEXIST,
                                                         "Pool overlaps with other one on this address space");
  gw = ipv6_addr_offset (&n.addr, 1);
  if (r->gateway6)
    {
      struct ipv6_net g = { .prefix = n.prefix };
      if (inet_pton (AF_INET6, r->gateway6, &g.addr) != 1 || !ipv6_net_overlap (&g, &n)
          || memcmp (&g.addr, &n.addr, sizeof n.addr) == 0)
        return isola_error_fail (err, EINVAL, "no matching subnet for gateway %s", r->gateway6);
      gw = g.addr;
    }
  cleanup_free char *sub = ipv6_addr_format (&n.addr), *gateway = ipv6_addr_format (&gw);
  *cfg_out = json_pack ("{s:o, s:s}", "Subnet", json_sprintf ("%s/%d", sub, n.prefix), "Gateway", gateway);
  return 0;
}

int
network_create (const struct isola_store *s, const struct network_request *r, char **id_out, isola_error_t *err)
{
  if (r->driver && strcmp (r->driver, "bridge") != 0)
    return isola_error_fail (err, ENOTSUP, "plugin \"%s\" not found: only the bridge driver is supported", r->driver);
  if (!valid_name (r->name))
    return isola_error_fail (err, EINVAL, "invalid network name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                             r->name ? r->name : "");
  cleanup_close int lock = -1;
  cleanup_json json_t *all = NULL;
  int ret = network_lock (s, &lock, err);
  if (ret == 0)
    ret = load_all (s, &all, err);
  if (ret < 0)
    return ret;
  size_t i;
  json_t *x;
  json_array_foreach (all, i, x) if (strcmp (json_string_value (json_object_get (x, "Name")), r->name)
                                     == 0) return isola_error_fail (err, EEXIST, "network with name %s already exists",
                                                                    r->name);
  struct ipv4_net subnet;
  uint32_t gateway = 0;
  json_t *cfg6 = NULL;
  if ((ret = request_subnet (r, all, &subnet, &gateway, err)) < 0 || (ret = request_subnet6 (r, all, &cfg6, err)) < 0)
    return ret;
  cleanup_free char *device = free_device (all);
  cleanup_json json_t *rec = new_record (r->name, device, &subnet, gateway, r->ip_range, r->internal, r->labels, NULL);
  if (cfg6)
    {
      json_object_set_new (rec, "EnableIPv6", json_true ());
      json_array_append_new (json_object_get (json_object_get (rec, "IPAM"), "Config"), cfg6);
    }
  if ((ret = write_record (s, rec, err)) < 0)
    return ret;
  *id_out = xstrdup (json_string_value (json_object_get (rec, "Id")));
  return 0;
}

int
network_remove (const struct isola_store *s, const char *what, char **name_out, isola_error_t *err)
{
  cleanup_close int lock = -1;
  cleanup_json json_t *rec = NULL;
  int ret = network_lock (s, &lock, err);
  if (ret == 0)
    ret = network_get (s, what, true, &rec, err);
  if (ret == -ENOENT)
    {
      isola_error_release (err);
      return isola_error_fail (err, ENOENT, "No such network: %s", what);
    }
  if (ret < 0)
    return ret;
  const char *name = json_string_value (json_object_get (rec, "Name"));
  const char *id = json_string_value (json_object_get (rec, "Id"));
  if (is_predefined (rec))
    return isola_error_fail (err, EPERM, "%s is a pre-defined network and cannot be removed", name);
  cleanup_json json_t *users = leases_of (s, id);
  if (json_object_size (users) > 0)
    return isola_error_fail (err, EBUSY, "error while removing network: network %s id %s has active endpoints", name,
                             id);
  cleanup_free char *path = record_path (s, id), *dir = lease_dir (s, id);
  struct bridge_spec bridge;
  if (network_bridge_spec (rec, &bridge, NULL) == 0)
    bridge_remove (&bridge);
  (void)rmdir (dir);
  if (unlink (path) < 0)
    return isola_error_make (err, errno, "remove %s", path);
  *name_out = xstrdup (name);
  return 0;
}

int
network_prune (const struct isola_store *s, char ***removed, isola_error_t *err)
{
  return network_prune_if (s, NULL, NULL, removed, err);
}

int
network_prune_if (const struct isola_store *s, bool (*may_go) (json_t *record, void *arg), void *arg, char ***removed,
                  isola_error_t *err)
{
  cleanup_json json_t *all = NULL;
  int ret = network_list (s, &all, err);
  if (ret < 0)
    return ret;
  *removed = xcalloc (1, sizeof (char *));
  size_t i;
  json_t *r;
  json_array_foreach (all, i, r)
  {
    cleanup_free char *name = NULL;
    if (is_predefined (r) || (may_go && !may_go (r, arg)))
      continue;
    if (network_remove (s, json_string_value (json_object_get (r, "Id")), &name, NULL) == 0)
      strv_push (removed, name);
  }
  return 0;
}

json_t *
network_inspect_json (const struct isola_store *s, json_t *record)
{
  json_t *o = json_deep_copy (record);
  json_object_del (o, "IsolaBridge");
  const char *id = json_string_value (json_object_get (record, "Id"));
  cleanup_json json_t *users = leases_of (s, id);
  struct ipv4_net subnet;
  json_t *containers = json_object ();
  const char *cid;
  json_t *ip;
  (void)record_subnet (record, &subnet);
  json_object_foreach (users, cid, ip)
  {
    cleanup_free char *addr = xasprintf ("%s/%d", json_string_value (ip), subnet.prefix);
    cleanup_free char *path = store_path (s, "containers/%s/network.json", cid);
    cleanup_json json_t *file = json_load_file (path, 0, NULL);
    cleanup_json json_t *atts = network_attachments_of (file);
    json_t *att = network_attachment_to (atts, id);
    const char *ip6 = json_string_value (json_object_get (att, "GlobalIPv6Address"));
    cleanup_free char *addr6
        = ip6 ? xasprintf ("%s/%d", ip6, (int)json_integer_value (json_object_get (att, "GlobalIPv6PrefixLen")))
              : xstrdup ("");
    json_object_set_new (containers, cid,
                         json_pack ("{s:s, s:s, s:s, s:s, s:s}", "Name",
                                    json_string_value (json_object_get (att, "ContainerName")) ?: "", "EndpointID",
                                    json_string_value (json_object_get (att, "EndpointID")) ?: "", "MacAddress",
                                    json_string_value (json_object_get (att, "MacAddress")) ?: "", "IPv4Address", addr,
                                    "IPv6Address", addr6));
  }
  json_object_set_new (o, "Containers", containers);
  return o;
}
