/* Network devices over netlink with libnl-3 (netlink.h).  Every call opens its own socket: a container start makes
   one veth, and a socket costs two system calls. */
#define _GNU_SOURCE
#include "network/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "base/util.h"

/* --- libnl's objects with cleanup attributes ---------------------------------------------------------------------- */

static void
put_sock (struct nl_sock **p)
{
  if (*p)
    nl_socket_free (*p);
}
static void
put_link (struct rtnl_link **p)
{
  if (*p)
    rtnl_link_put (*p);
}
static void
put_addr (struct nl_addr **p)
{
  if (*p)
    nl_addr_put (*p);
}
static void
put_rtaddr (struct rtnl_addr **p)
{
  if (*p)
    rtnl_addr_put (*p);
}
static void
put_route (struct rtnl_route **p)
{
  if (*p)
    rtnl_route_put (*p);
}
#define cleanup_sock   __attribute__ ((cleanup (put_sock)))
#define cleanup_link   __attribute__ ((cleanup (put_link)))
#define cleanup_addr   __attribute__ ((cleanup (put_addr)))
#define cleanup_rtaddr __attribute__ ((cleanup (put_rtaddr)))
#define cleanup_route  __attribute__ ((cleanup (put_route)))

/* libnl's error codes (positive NLE_*) as errno values, for isola's convention. */
static int
nl_errno (int nlerr)
{
  switch (nlerr < 0 ? -nlerr : nlerr)
    {
    case NLE_EXIST:
      return EEXIST;
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      return ENODEV;
    case NLE_PERM:
      return EPERM;
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_INVAL:
    case NLE_RANGE:
      return EINVAL;
    case NLE_BUSY:
      return EBUSY;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    default:
      return EIO;
    }
}

static int
nl_fail (isola_error_t *err, int nlerr, const char *what, const char *name)
{
  return isola_error_fail (err, nl_errno (nlerr), "%s %s: %s", what, name, nl_geterror (nlerr));
}

static int
open_socket (struct nl_sock **out, isola_error_t *err)
{
  struct nl_sock *sk = nl_socket_alloc ();
  if (sk == NULL)
    return isola_error_fail (err, ENOMEM, "netlink socket");
  int r = nl_connect (sk, NETLINK_ROUTE);
  if (r < 0)
    {
      nl_socket_free (sk);
      return nl_fail (err, r, "connect", "netlink");
    }
  *out = sk;
  return 0;
}

/* A netlink socket of another network namespace: made there (a socket belongs to the namespace it was created
   in), this thread then back in its own. */
static int
open_socket_in (const char *netns, struct nl_sock **out, isola_error_t *err)
{
  cleanup_close int target = open (netns, O_RDONLY | O_CLOEXEC);
  if (target < 0)
    return isola_error_make (err, errno, "open %s", netns);
  cleanup_close int own = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0)
    return isola_error_make (err, errno, "open /proc/thread-self/ns/net");
  if (setns (target, CLONE_NEWNET) < 0)
    return isola_error_make (err, errno, "enter the network namespace %s", netns);
  int ret = open_socket (out, err);
  if (setns (own, CLONE_NEWNET) < 0)
    {
      if (ret == 0)
        nl_socket_free (*out);
      return isola_error_make (err, errno, "return from the network namespace %s", netns);
    }
  return ret;
}

static struct nl_addr *
ipv4_nl_addr (uint32_t a, int prefix)
{
  uint32_t be = htonl (a);
  struct nl_addr *n = nl_addr_build (AF_INET, &be, sizeof be);
  if (n && prefix >= 0)
    nl_addr_set_prefixlen (n, prefix);
  return n;
}

static uint32_t
broadcast_of (uint32_t a, int prefix)
{
  return prefix >= 32 ? a : (a | (0xffffffffu >> prefix));
}

/* --- operations ------------------------------------------------------------------------------------------------- */

bool
nl_link_exists (const char *name)
{
  return if_nametoindex (name) != 0;
}

bool
nl_link_has_address (const char *name, uint32_t addr, int prefix)
{
  struct ifaddrs *all = NULL;
  if (getifaddrs (&all) < 0)
    return false;
  bool found = false;
  for (struct ifaddrs *i = all; i && !found; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && i->ifa_netmask && strcmp (i->ifa_name, name) == 0)
      {
        uint32_t a = ntohl (((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        uint32_t m = ntohl (((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
        found = a == addr && __builtin_popcount (m) == prefix;
      }
  freeifaddrs (all);
  return found;
}

static int
add_address (struct nl_sock *sk, int ifindex, uint32_t addr, int prefix, const char *name, isola_error_t *err)
{
  cleanup_rtaddr struct rtnl_addr *a = rtnl_addr_alloc ();
  cleanup_addr struct nl_addr *local = ipv4_nl_addr (addr, prefix);
  cleanup_addr struct nl_addr *brd = ipv4_nl_addr (broadcast_of (addr, prefix), -1);
  if (a == NULL || local == NULL || brd == NULL)
    return isola_error_fail (err, ENOMEM, "address of %s", name);
  rtnl_addr_set_ifindex (a, ifindex);
  int r = rtnl_addr_set_local (a, local);
  if (r == 0)
    r = rtnl_addr_set_broadcast (a, brd);
  if (r == 0)
    r = rtnl_addr_add (sk, a, 0);
  return r < 0 ? nl_fail (err, r, "add an address to", name) : 0;
}

static int
add_address6 (struct nl_sock *sk, int ifindex, const struct in6_addr *addr, int prefix, const char *name,
              isola_error_t *err)
{
  cleanup_rtaddr struct rtnl_addr *a = rtnl_addr_alloc ();
  cleanup_addr struct nl_addr *local = nl_addr_build (AF_INET6, addr, sizeof *addr);
  if (a == NULL || local == NULL)
    return isola_error_fail (err, ENOMEM, "address of %s", name);
  nl_addr_set_prefixlen (local, prefix);
  rtnl_addr_set_ifindex (a, ifindex);
  /* No duplicate address detection: the address is the network's lease, and usable at once, not after DAD's
     second or so of being tentative. */
  rtnl_addr_set_flags (a, IFA_F_NODAD);
  int r = rtnl_addr_set_local (a, local);
  if (r == 0)
    r = rtnl_addr_add (sk, a, 0);
  return r < 0 ? nl_fail (err, r, "add an IPv6 address to", name) : 0;
}

static int
get_link (struct nl_sock *sk, const char *name, struct rtnl_link **out, isola_error_t *err)
{
  int r = rtnl_link_get_kernel (sk, 0, name, out);
  return r < 0 ? nl_fail (err, r, "find device", name) : 0;
}

int
nl_bridge_add (const char *name, uint32_t gateway, int prefix, isola_error_t *err)
{
  cleanup_sock struct nl_sock *sk = NULL;
  int ret = open_socket (&sk, err);
  if (ret < 0)
    return ret;
  cleanup_link struct rtnl_link *br = rtnl_link_bridge_alloc ();
  if (br == NULL)
    return isola_error_fail (err, ENOMEM, "bridge %s", name);
  rtnl_link_set_name (br, name);
  rtnl_link_set_flags (br, IFF_UP);
  int r = rtnl_link_add (sk, br, NLM_F_CREATE | NLM_F_EXCL);
  if (r < 0)
    return nl_fail (err, r, "create bridge", name);
  cleanup_link struct rtnl_link *made = NULL;
  ret = get_link (sk, name, &made, err);
  if (ret == 0)
    ret = add_address (sk, rtnl_link_get_ifindex (made), gateway, prefix, name, err);
  if (ret < 0)
    (void)rtnl_link_delete (sk, made ? made : br);
  return ret;
}

int
nl_link_add_address6 (const char *name, const struct in6_addr *a, int prefix, isola_error_t *err)
{
  cleanup_sock struct nl_sock *sk = NULL;
  int ret = open_socket (&sk, err);
  int ifindex = (int)if_nametoindex (name);
  if (ret == 0 && ifindex == 0)
    ret = isola_error_fail (err, ENODEV, "device %s does not exist", name);
  return ret < 0 ? ret : add_address6 (sk, ifindex, a, prefix, name, err);
}

int
nl_link_delete (const char *name, isola_error_t *err)
{
  cleanup_sock struct nl_sock *sk = NULL;
  int ret = open_socket (&sk, err);
  if (ret < 0)
    return ret;
  cleanup_link struct rtnl_link *l = rtnl_link_alloc ();
  if (l == NULL)
    return isola_error_fail (err, ENOMEM, "device %s", name);
  rtnl_link_set_name (l, name);
  int r = rtnl_link_delete (sk, l);
  if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
    return 0;
  return r < 0 ? nl_fail (err, r, "delete device", name) : 0;
}

static int
bring_up (struct nl_sock *sk, struct rtnl_link *now, const char *name, isola_error_t *err)
{
  cleanup_link struct rtnl_link *change = rtnl_link_alloc ();
  if (change == NULL)
    return isola_error_fail (err, ENOMEM, "device %s", name);
  rtnl_link_set_flags (change, IFF_UP);
  int r = rtnl_link_change (sk, now, change, 0);
  return r < 0 ? nl_fail (err, r, "bring up", name) : 0;
}

/* The default route of family (AF_INET, AF_INET6) through gw (its bytes, network order). */
static int
add_default_route_via (struct nl_sock *sk, int family, int ifindex, const void *gateway, size_t len, const char *name,
                       isola_error_t *err)
{
  static const struct in6_addr any = IN6ADDR_ANY_INIT;
  cleanup_route struct rtnl_route *rt = rtnl_route_alloc ();
  cleanup_addr struct nl_addr *dst = nl_addr_build (family, &any, len), *gw = nl_addr_build (family, gateway, len);
  if (dst)
    nl_addr_set_prefixlen (dst, 0);
  struct rtnl_nexthop *nh = rtnl_route_nh_alloc ();
  if (rt == NULL || dst == NULL || gw == NULL || nh == NULL)
    {
      if (nh)
        rtnl_route_nh_free (nh);
      return isola_error_fail (err, ENOMEM, "route of %s", name);
    }
  rtnl_route_set_family (rt, (uint8_t)family);
  rtnl_route_set_table (rt, RT_TABLE_MAIN);
  rtnl_route_set_scope (rt, RT_SCOPE_UNIVERSE);
  rtnl_route_set_protocol (rt, RTPROT_BOOT);
  rtnl_route_set_type (rt, RTN_UNICAST);
  int r = rtnl_route_set_dst (rt, dst);
  rtnl_route_nh_set_ifindex (nh, ifindex);
  rtnl_route_nh_set_gateway (nh, gw);
  rtnl_route_add_nexthop (rt, nh); /* the route owns it now */
  if (r == 0)
    r = rtnl_route_add (sk, rt, NLM_F_CREATE | NLM_F_EXCL);
  return r < 0
             ? nl_fail (err, r, family == AF_INET6 ? "add the IPv6 default route of" : "add the default route of", name)
             : 0;
}

static int
add_default_route (struct nl_sock *sk, int ifindex, uint32_t gateway, const char *name, isola_error_t *err)
{
  uint32_t be = htonl (gateway);
  return add_default_route_via (sk, AF_INET, ifindex, &be, sizeof be, name, err);
}

static int
set_up (struct nl_sock *sk, const char *name, isola_error_t *err)
{
  cleanup_link struct rtnl_link *now = NULL;
  int ret = get_link (sk, name, &now, err);
  return ret < 0 ? ret : bring_up (sk, now, name, err);
}

int
nl_lo_up (const char *netns, isola_error_t *err)
{
  cleanup_sock struct nl_sock *sk = NULL;
  int ret = open_socket_in (netns, &sk, err);
  return ret < 0 ? ret : set_up (sk, "lo", err);
}

/* Inside the container's namespace: lo and the veth's end up (libnl cannot set the peer's flags in the message
   that makes it), the address, the default route. */
static int
configure_peer (const struct nl_veth_peer *p, isola_error_t *err)
{
  cleanup_sock struct nl_sock *sk = NULL;
  cleanup_link struct rtnl_link *l = NULL;
  int ret = open_socket_in (p->netns, &sk, err);
  if (ret == 0)
    ret = set_up (sk, "lo", err);
  if (ret == 0)
    ret = get_link (sk, p->ifname, &l, err);
  if (ret == 0)
    ret = bring_up (sk, l, p->ifname, err);
  if (ret == 0)
    ret = add_address (sk, rtnl_link_get_ifindex (l), p->addr, p->prefix, p->ifname, err);
  if (ret == 0 && p->gateway)
    ret = add_default_route (sk, rtnl_link_get_ifindex (l), p->gateway, p->ifname, err);
  if (ret == 0 && p->has6)
    ret = add_address6 (sk, rtnl_link_get_ifindex (l), &p->addr6, p->prefix6, p->ifname, err);
  if (ret == 0 && p->has6 && !IN6_IS_ADDR_UNSPECIFIED (&p->gateway6))
    ret = add_default_route_via (sk, AF_INET6, rtnl_link_get_ifindex (l), &p->gateway6, sizeof p->gateway6, p->ifname,
                                 err);
  return ret;
}

int
nl_default_route_add (const char *netns, const char *ifname, uint32_t gateway, const struct in6_addr *gateway6,
                      isola_error_t *err)
{
  cleanup_sock struct nl_sock *sk = NULL;
  cleanup_link struct rtnl_link *l = NULL;
  int ret = open_socket_in (netns, &sk, err);
  if (ret == 0)
    ret = get_link (sk, ifname, &l, err);
  if (ret == 0 && gateway)
    ret = add_default_route (sk, rtnl_link_get_ifindex (l), gateway, ifname, err);
  if (ret == 0 && gateway6 && !IN6_IS_ADDR_UNSPECIFIED (gateway6))
    ret = add_default_route_via (sk, AF_INET6, rtnl_link_get_ifindex (l), gateway6, sizeof *gateway6, ifname, err);
  return ret;
}

int
nl_veth_add (const char *host_name, const char *bridge, const struct nl_veth_peer *p, isola_error_t *err)
{
  int master = (int)if_nametoindex (bridge);
  if (master == 0)
    return isola_error_fail (err, ENODEV, "bridge %s does not exist", bridge);
  cleanup_close int ns = open (p->netns, O_RDONLY | O_CLOEXEC);
  if (ns < 0)
    return isola_error_make (err, errno, "open %s", p->netns);
  cleanup_sock struct nl_sock *sk = NULL;
  int ret = open_socket (&sk, err);
  if (ret < 0)
    return ret;
  cleanup_link struct rtnl_link *veth = rtnl_link_veth_alloc ();
  if (veth == NULL)
    return isola_error_fail (err, ENOMEM, "veth %s", host_name);
  cleanup_addr struct nl_addr *mac = nl_addr_build (AF_LLC, p->mac, sizeof p->mac);
  if (mac == NULL)
    return isola_error_fail (err, ENOMEM, "veth %s", host_name);
  rtnl_link_set_name (veth, host_name);
  rtnl_link_set_master (veth, master);
  rtnl_link_set_flags (veth, IFF_UP);
  struct rtnl_link *peer = rtnl_link_veth_get_peer (veth);
  rtnl_link_set_name (peer, p->ifname);
  rtnl_link_set_ns_fd (peer, ns);
  rtnl_link_set_addr (peer, mac);
  rtnl_link_put (peer);
  /* One message makes both ends: the host's on the bridge and up, the container's in its namespace. */
  int r = rtnl_link_add (sk, veth, NLM_F_CREATE | NLM_F_EXCL);
  if (r < 0)
    return nl_fail (err, r, "create veth", host_name);
  ret = configure_peer (p, err);
  if (ret < 0)
    (void)rtnl_link_delete (sk, veth);
  return ret;
}

void
nl_mac_for_addr (uint32_t addr, uint8_t mac[6])
{
  mac[0] = 0x02;
  mac[1] = 0x42;
  mac[2] = (uint8_t)(addr >> 24);
  mac[3] = (uint8_t)(addr >> 16);
  mac[4] = (uint8_t)(addr >> 8);
  mac[5] = (uint8_t)addr;
}

int
nl_mac_parse (const char *s, uint8_t mac[6])
{
  unsigned v[6];
  char end;
  if (s == NULL || sscanf (s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6
      || strlen (s) != 17)
    return -EINVAL;
  for (int i = 0; i < 6; i++)
    mac[i] = (uint8_t)v[i];
  return (mac[0] & 1) ? -EINVAL : 0;
}
