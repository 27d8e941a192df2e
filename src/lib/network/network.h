/* Networks (Docker's `network` objects, bridge driver only) and their address leases.

   ROOT/networks/ID.json          one network: Docker's `network inspect` shape (less Containers, which come from
                                  the leases); Options."com.docker.network.bridge.name" is its bridge device
   ROOT/networks/leases/ID/IPV4   one leased address: the file holds the ID of the container that has it
   ROOT/networks/lock             flock(2), exclusive for every change: records, leases, the bridges and their
                                  firewall rules (made by the first container on a network, bridge.h), the veths,
                                  aardvark-dns's files (dns.h)

   The default network `bridge` (device isola0) exists without being created: its record is made the first time
   anything asks for it, with the subnet of ROOT/config.json's "network": {"subnet", "gateway"}, else the first of
   Docker's default pools that overlaps neither a route of the current network namespace nor another network. */
#ifndef ISOLA_NETWORK_H
#define ISOLA_NETWORK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "network/bridge.h"
#include "network/records.h"
#include "store/store.h"

#define NETWORK_DEFAULT_DEVICE "isola0"
#define NETWORK_BRIDGE_OPTION  "com.docker.network.bridge.name"

struct network_request
{
  const char *name, *driver;               /* driver NULL: bridge */
  const char *subnet, *gateway, *ip_range; /* NULL: chosen */
  bool internal;
  bool ipv6;                      /* --ipv6: an IPv6 subnet too (subnet6 required: isola has no pool of them) */
  const char *subnet6, *gateway6; /* gateway6 NULL: the subnet's first address */
  json_t *labels;                 /* object of strings, may be NULL */
};

/* An IPv4 subnet: address and prefix length, host byte order. */
struct ipv4_net
{
  uint32_t addr;
  int prefix;
};

/* "A.B.C.D/N" (the address is masked to the prefix when exact is false); -EINVAL otherwise. */
int ipv4_net_parse (const char *s, bool exact, struct ipv4_net *out);
int ipv4_addr_parse (const char *s, uint32_t *out);
char *ipv4_addr_format (uint32_t a);
char *ipv4_net_format (const struct ipv4_net *n);
bool ipv4_net_overlap (const struct ipv4_net *a, const struct ipv4_net *b);
bool ipv4_net_contains (const struct ipv4_net *n, uint32_t a);

/* Takes ROOT/networks/lock exclusively: *fd_out holds it until closed. */
int network_lock (const struct isola_store *s, int *fd_out, isola_error_t *err);

/* The network a name, full ID or unique ID prefix names (Docker's order), as its record.  ENOENT: "network X not
   found".  Takes the lock itself unless locked. */
int network_get (const struct isola_store *s, const char *what, bool locked, json_t **out, isola_error_t *err);

/* Every network's record, the default one first. */
int network_list (const struct isola_store *s, json_t **out, isola_error_t *err);

/* Creates a network; *id_out is its ID.  Clear errors for a name in use, a malformed or overlapping subnet, a
   gateway or range outside it. */
int network_create (const struct isola_store *s, const struct network_request *r, char **id_out, isola_error_t *err);

/* Removes a network no running container is on (EBUSY, Docker's "has active endpoints"), with its bridge and
   firewall rules; the default is refused (EPERM).  *name_out is the removed network's name. */
int network_remove (const struct isola_store *s, const char *what, char **name_out, isola_error_t *err);

/* Removes every user network no running container is on; *removed lists their names. */
int network_prune (const struct isola_store *s, char ***removed, isola_error_t *err);
/* The same, removing only the networks may_go (NULL: all) accepts, given their records (prune's filters). */
int network_prune_if (const struct isola_store *s, bool (*may_go) (json_t *record, void *arg), void *arg,
                      char ***removed, isola_error_t *err);

/* The record with Containers filled in from the leases, as `network inspect` shows it. */
json_t *network_inspect_json (const struct isola_store *s, json_t *record);

/* Leases an address of the network for container id (the first free one of its range; want, when non-zero, that
   one or EADDRINUSE).  Caller holds the lock. */
int network_lease (const struct isola_store *s, json_t *record, const char *container_id, uint32_t want, uint32_t *out,
                   isola_error_t *err);
/* Releases the lease of addr if container id holds it.  Caller holds the lock. */
void network_release (const struct isola_store *s, const char *network_id, uint32_t addr, const char *container_id);

/* An IPv6 subnet (network byte order). */
struct ipv6_net
{
  struct in6_addr addr;
  int prefix;
};

/* "X::/N" with at least 32 host bits (a container's IPv6 address is the subnet's plus its IPv4 address's offset in
   the IPv4 subnet, so that the IPv4 lease stands for both); -EINVAL otherwise. */
int ipv6_net_parse (const char *s, struct ipv6_net *out);
/* base + offset (added to its last 32 bits). */
struct in6_addr ipv6_addr_offset (const struct in6_addr *base, uint32_t offset);
char *ipv6_addr_format (const struct in6_addr *a);

/* The network's IPv6 subnet and gateway (a network made with --ipv6); -ENOENT without one (no error object). */
int network_subnet6_of (json_t *record, struct ipv6_net *subnet, struct in6_addr *gateway);

/* The network's subnet and gateway from its record. */
int network_subnet_of (json_t *record, struct ipv4_net *subnet, uint32_t *gateway, isola_error_t *err);

/* What its bridge and firewall are made of (bridge.h); the strings point into the record. */
int network_bridge_spec (json_t *record, struct bridge_spec *out, isola_error_t *err);

#endif
