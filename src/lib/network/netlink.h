/* Network devices through the kernel's netlink interface, with Debian's libnl-3 (libnl-route-3): the few operations
   a network and a container on it need, each a handful of netlink messages instead of a program started.

   Names are interface names (at most 15 characters); addresses are IPv4 in host byte order. */
#ifndef ISOLA_NETWORK_NETLINK_H
#define ISOLA_NETWORK_NETLINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* Whether the current network namespace has a device of that name. */
bool nl_link_exists (const char *name);
/* Whether it has one with address addr/prefix. */
bool nl_link_has_address (const char *name, uint32_t addr, int prefix);

/* Makes bridge `name`, up, with address gateway/prefix.  EEXIST when a device of that name exists. */
int nl_bridge_add (const char *name, uint32_t gateway, int prefix, isola_error_t *err);

/* Adds IPv6 address a/prefix to device `name` (without duplicate address detection: usable at once). */
int nl_link_add_address6 (const char *name, const struct in6_addr *a, int prefix, isola_error_t *err);

/* Deletes device `name` (for a veth, both ends); 0 when there is none. */
int nl_link_delete (const char *name, isola_error_t *err);

/* The container's end of a veth pair. */
struct nl_veth_peer
{
  const char *netns;  /* path of the network namespace it goes into */
  const char *ifname; /* its name there: eth0, eth1… */
  uint8_t mac[6];
  uint32_t addr; /* its address, with prefix as the subnet's length */
  int prefix;
  uint32_t gateway; /* the default route's next hop; 0: no default route */
  bool has6;        /* an IPv6 address and default route too (a network with --ipv6; no route: gateway6 ::) */
  struct in6_addr addr6, gateway6;
  int prefix6;
};

/* Makes veth pair host_name (up, a port of bridge) <-> peer (in its namespace: up, with its MAC and address, the
   default route via the gateway, and the namespace's lo up). */
int nl_veth_add (const char *host_name, const char *bridge, const struct nl_veth_peer *peer, isola_error_t *err);

/* In the namespace at netns: the default routes via gateway (0: none) and gateway6 (NULL or ::: none) on ifname,
   which has an address in their subnets (a container's next network, once its first one is gone). */
/* lo up in the namespace at netns (a container's that is on no network yet). */
int nl_lo_up (const char *netns, isola_error_t *err);

int nl_default_route_add (const char *netns, const char *ifname, uint32_t gateway, const struct in6_addr *gateway6,
                          isola_error_t *err);

/* Docker's MAC for an address: 02:42 followed by the address's four bytes. */
void nl_mac_for_addr (uint32_t addr, uint8_t mac[6]);
/* "aa:bb:cc:dd:ee:ff" → mac; -EINVAL for anything else (a multicast address too: its low bit of the first byte). */
int nl_mac_parse (const char *s, uint8_t mac[6]);

#endif
