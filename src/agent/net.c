/* The guest's network: its NIC made a copy of the host side's interface (see agent.h, driver/vm_net.h).  ioctls
   rather than netlink: the agent is static and small, and addresses, aliases and routes (IPv4 and IPv6) are all
   they need. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "base/json.h"
#include "base/util.h"

static int
parse_mac (const char *text, unsigned char mac[6])
{
  unsigned b[6];
  if (text == NULL || sscanf (text, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
    return -EINVAL;
  for (int i = 0; i < 6; i++)
    mac[i] = (unsigned char)b[i];
  return 0;
}

/* The NIC's own MAC address (the device's, which a MAC set later does not change). */
static int
perm_addr (int s, const char *nic, unsigned char out[6])
{
  struct
  {
    struct ethtool_perm_addr req;
    unsigned char data[32]; /* MAX_ADDR_LEN */
  } perm = { .req = { .cmd = ETHTOOL_GPERMADDR, .size = 32 } };
  struct ifreq ifr = { .ifr_data = (void *)&perm };
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", nic);
  if (ioctl (s, SIOCETHTOOL, &ifr) < 0)
    return -errno;
  if (perm.req.size != 6)
    return -EINVAL;
  memcpy (out, perm.req.data, 6);
  return 0;
}

/* The guest's NIC whose own MAC address is device: each NIC has its own (driver/vm_launch.h), so the host names the
   one behind each tap. */
static int
guest_nic (int s, const char *device, char name[IFNAMSIZ], isola_error_t *err)
{
  unsigned char want[6];
  if (parse_mac (device, want) < 0)
    return isola_error_fail (err, EINVAL, "bad device address \"%s\" for the VM's NIC", device ? device : "");
  struct if_nameindex *ifs = if_nameindex ();
  int ret = isola_error_fail (err, ENODEV, "the VM has no network interface %s", device);
  for (struct if_nameindex *i = ifs; i && i->if_index != 0; i++)
    {
      unsigned char perm[6];
      if (perm_addr (s, i->if_name, perm) < 0 || memcmp (perm, want, 6) != 0)
        continue;
      snprintf (name, IFNAMSIZ, "%s", i->if_name);
      if (err && *err)
        isola_error_release (err);
      ret = 0;
      break;
    }
  if (ifs)
    if_freenameindex (ifs);
  return ret;
}

/* The NIC called name, if it is not nic, out of the way under a name of its own (it is an unconfigured NIC, down:
   the kernel named the NICs in the order it found them, which need not be the host's). */
static int
free_name (int s, const char *name, const char *nic, isola_error_t *err)
{
  unsigned index = if_nametoindex (name);
  if (index == 0 || strcmp (name, nic) == 0)
    return 0;
  struct ifreq ifr = { 0 };
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  snprintf (ifr.ifr_newname, sizeof ifr.ifr_newname, "nic%u", index);
  if (ioctl (s, SIOCSIFNAME, &ifr) < 0)
    return isola_error_make (err, errno, "rename the VM's %s out of the way of another NIC", name);
  return 0;
}

/* "a.b.c.d/n" into an address and a mask. */
static int
parse_cidr (const char *text, struct in_addr *addr, struct in_addr *mask)
{
  char buf[INET_ADDRSTRLEN + 4];
  if (text == NULL || strlen (text) >= sizeof buf)
    return -EINVAL;
  strcpy (buf, text);
  char *slash = strchr (buf, '/');
  int prefix = 32;
  if (slash)
    {
      *slash = '\0';
      prefix = atoi (slash + 1);
    }
  if (prefix < 0 || prefix > 32 || inet_pton (AF_INET, buf, addr) != 1)
    return -EINVAL;
  mask->s_addr = prefix == 0 ? 0 : htonl (0xffffffffu << (32 - prefix));
  return 0;
}

static void
set_sin (struct sockaddr *sa, struct in_addr a)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a };
  memcpy (sa, &sin, sizeof sin);
}

/* The first address on the interface, the others as aliases (name:1, name:2 ...), as ioctls make them. */
static int
add_addresses (int s, const char *ifname, json_t *addrs, isola_error_t *err)
{
  size_t i;
  json_t *v;
  json_array_foreach (addrs, i, v)
  {
    struct in_addr a, m;
    const char *text = json_string_value (v);
    if (parse_cidr (text, &a, &m) < 0)
      return isola_error_fail (err, EINVAL, "bad address \"%s\" for the VM's %s", text ? text : "", ifname);
    struct ifreq ifr = { 0 };
    if (i == 0)
      snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    else
      snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%.10s:%u", ifname, (unsigned)(i % 1000));
    set_sin (&ifr.ifr_addr, a);
    if (ioctl (s, SIOCSIFADDR, &ifr) < 0)
      return isola_error_make (err, errno, "give the VM's %s the address %s", ifname, text);
    set_sin (&ifr.ifr_netmask, m);
    if (ioctl (s, SIOCSIFNETMASK, &ifr) < 0)
      return isola_error_make (err, errno, "give the VM's %s the netmask of %s", ifname, text);
  }
  return 0;
}

static int
add_routes (int s, const char *ifname, json_t *routes, isola_error_t *err)
{
  size_t i;
  json_t *r;
  json_array_foreach (routes, i, r)
  {
    const char *dest = json_string_value (json_object_get (r, "Destination"));
    const char *gw = json_string_value (json_object_get (r, "Gateway"));
    struct in_addr d, m, g = { 0 };
    if (parse_cidr (dest, &d, &m) < 0 || (gw && gw[0] && inet_pton (AF_INET, gw, &g) != 1))
      return isola_error_fail (err, EINVAL, "bad route to \"%s\" for the VM", dest ? dest : "");
    struct rtentry rt = { 0 };
    set_sin (&rt.rt_dst, d);
    set_sin (&rt.rt_genmask, m);
    set_sin (&rt.rt_gateway, g);
    rt.rt_flags = RTF_UP | (gw && gw[0] ? RTF_GATEWAY : 0) | (m.s_addr == 0xffffffffu ? RTF_HOST : 0);
    /* SIOCADDRT's metric counts from 1 (the kernel takes one off). */
    rt.rt_metric = (short)(json_integer_value (json_object_get (r, "Metric")) + 1);
    rt.rt_dev = (char *)ifname;
    if (ioctl (s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
      return isola_error_make (err, errno, "add the route to %s via %s in the VM", dest, gw && gw[0] ? gw : ifname);
  }
  return 0;
}

/* The kernel's struct in6_ifreq (linux/ipv6.h, which clashes with glibc's netinet/in.h). */
struct in6_ifreq_
{
  struct in6_addr addr;
  uint32_t prefixlen;
  int ifindex;
};

/* "x::y/n" into an address and a prefix length. */
static int
parse_cidr6 (const char *text, struct in6_addr *addr, int *prefix)
{
  char buf[INET6_ADDRSTRLEN + 4];
  if (text == NULL || strlen (text) >= sizeof buf)
    return -EINVAL;
  strcpy (buf, text);
  char *slash = strchr (buf, '/');
  *prefix = 128;
  if (slash)
    {
      *slash = '\0';
      char *end = NULL;
      long p = strtol (slash + 1, &end, 10);
      if (end == slash + 1 || *end || p < 0 || p > 128)
        return -EINVAL;
      *prefix = (int)p;
    }
  return inet_pton (AF_INET6, buf, addr) == 1 ? 0 : -EINVAL;
}

/* The host side's IPv6 addresses, without duplicate address detection (they are the network's lease: usable at
   once, not after a second of being tentative), and its IPv6 routes through a gateway. */
static int
configure6 (const char *ifname, json_t *addrs, json_t *routes, isola_error_t *err)
{
  if (json_array_size (addrs) == 0 && json_array_size (routes) == 0)
    return 0;
  cleanup_close int s = socket (AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return isola_error_make (err, errno, "socket (IPv6)");
  int ifindex = (int)if_nametoindex (ifname);
  cleanup_free char *dad = xasprintf ("/proc/sys/net/ipv6/conf/%s/accept_dad", ifname);
  cleanup_close int dad_fd = open (dad, O_WRONLY | O_CLOEXEC);
  if (dad_fd >= 0)
    (void)!write (dad_fd, "0", 1); /* else DAD runs: the address is usable a moment later */
  size_t i;
  json_t *v;
  json_array_foreach (addrs, i, v)
  {
    struct in6_ifreq_ req = { .ifindex = ifindex };
    int prefix;
    const char *text = json_string_value (v);
    if (parse_cidr6 (text, &req.addr, &prefix) < 0)
      return isola_error_fail (err, EINVAL, "bad IPv6 address \"%s\" for the VM's %s", text ? text : "", ifname);
    req.prefixlen = (uint32_t)prefix;
    if (ioctl (s, SIOCSIFADDR, &req) < 0 && errno != EEXIST)
      return isola_error_make (err, errno, "give the VM's %s the address %s", ifname, text);
  }
  json_array_foreach (routes, i, v)
  {
    const char *dest = json_string_value (json_object_get (v, "Destination"));
    const char *gw = json_string_value (json_object_get (v, "Gateway"));
    struct in6_rtmsg rt = { .rtmsg_ifindex = ifindex, .rtmsg_flags = RTF_UP | RTF_GATEWAY };
    int prefix;
    if (parse_cidr6 (dest, &rt.rtmsg_dst, &prefix) < 0 || gw == NULL
        || inet_pton (AF_INET6, gw, &rt.rtmsg_gateway) != 1)
      return isola_error_fail (err, EINVAL, "bad IPv6 route to \"%s\" for the VM", dest ? dest : "");
    rt.rtmsg_dst_len = (unsigned short)prefix;
    rt.rtmsg_metric = (uint32_t)json_integer_value (json_object_get (v, "Metric"));
    if (ioctl (s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
      return isola_error_make (err, errno, "add the IPv6 route to %s via %s in the VM", dest, gw);
  }
  return 0;
}

static int
configure (int s, char nic[IFNAMSIZ], json_t *iface, isola_error_t *err)
{
  const char *name = json_string_value (json_object_get (iface, "Name"));
  struct ifreq ifr = { 0 };
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", nic);
  /* The host side's name (a rename needs the interface down, which it is until below). */
  if (name && name[0] && strcmp (name, nic) != 0 && strlen (name) < IFNAMSIZ)
    {
      int ret = free_name (s, name, nic, err);
      if (ret < 0)
        return ret;
      snprintf (ifr.ifr_newname, sizeof ifr.ifr_newname, "%s", name);
      if (ioctl (s, SIOCSIFNAME, &ifr) < 0)
        return isola_error_make (err, errno, "rename the VM's %s to %s", nic, name);
      snprintf (nic, IFNAMSIZ, "%s", name);
      snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", nic);
    }
  const char *mac = json_string_value (json_object_get (iface, "Mac"));
  unsigned char want[6];
  if (parse_mac (mac, want) < 0)
    return isola_error_fail (err, EINVAL, "bad MAC address \"%s\" for the VM", mac ? mac : "");
  /* (a NIC configured before, up, keeps its MAC: set again, it could refuse) */
  if (ioctl (s, SIOCGIFHWADDR, &ifr) < 0 || memcmp (ifr.ifr_hwaddr.sa_data, want, 6) != 0)
    {
      ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
      memcpy (ifr.ifr_hwaddr.sa_data, want, 6);
      if (ioctl (s, SIOCSIFHWADDR, &ifr) < 0)
        return isola_error_make (err, errno, "give the VM's %s the MAC address %s", nic, mac);
    }
  int mtu = (int)json_integer_value (json_object_get (iface, "Mtu"));
  ifr.ifr_mtu = mtu;
  if (mtu > 0 && ioctl (s, SIOCSIFMTU, &ifr) < 0)
    return isola_error_make (err, errno, "give the VM's %s the MTU %d", nic, mtu);
  int ret = add_addresses (s, nic, json_object_get (iface, "Addresses"), err);
  if (ret < 0)
    return ret;
  if (ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    return isola_error_make (err, errno, "get the flags of the VM's %s", nic);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
    return isola_error_make (err, errno, "bring the VM's %s up", nic);
  if ((ret = add_routes (s, nic, json_object_get (iface, "Routes"), err)) < 0)
    return ret;
  return configure6 (nic, json_object_get (iface, "Addresses6"), json_object_get (iface, "Routes6"), err);
}

/* Whether one of the interfaces names the NIC whose own MAC address is perm. */
static bool
listed (json_t *ifaces, const unsigned char perm[6])
{
  size_t i;
  json_t *iface;
  json_array_foreach (ifaces, i, iface)
  {
    unsigned char mac[6];
    if (parse_mac (json_string_value (json_object_get (iface, "Device")), mac) == 0 && memcmp (mac, perm, 6) == 0)
      return true;
  }
  return false;
}

/* A NIC whose network is gone: down (its routes and IPv6 addresses go with that) and without its IPv4 address
   (0.0.0.0 deletes it), so that the guest answers no more for the address, which the network may lease again. */
static int
take_down (int s, const char *nic, isola_error_t *err)
{
  struct ifreq ifr = { 0 };
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", nic);
  if (ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    return isola_error_make (err, errno, "get the flags of the VM's %s", nic);
  if (!(ifr.ifr_flags & IFF_UP))
    return 0;
  ifr.ifr_flags &= ~IFF_UP;
  if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
    return isola_error_make (err, errno, "take the VM's %s down", nic);
  set_sin (&ifr.ifr_addr, (struct in_addr){ 0 });
  if (ioctl (s, SIOCSIFADDR, &ifr) < 0 && errno != EADDRNOTAVAIL)
    return isola_error_make (err, errno, "remove the address of the VM's %s", nic);
  return 0;
}

/* The NICs that no interface names, taken down. */
static int
others_down (int s, json_t *ifaces, isola_error_t *err)
{
  struct if_nameindex *ifs = if_nameindex ();
  int ret = 0;
  for (struct if_nameindex *i = ifs; ret == 0 && i && i->if_index != 0; i++)
    {
      unsigned char perm[6];
      if (strcmp (i->if_name, "lo") != 0 && perm_addr (s, i->if_name, perm) == 0 && !listed (ifaces, perm))
        ret = take_down (s, i->if_name, err);
    }
  if (ifs)
    if_freenameindex (ifs);
  return ret;
}

int
agent_net_configure (json_t *network, bool others, isola_error_t *err)
{
  json_t *ifaces = json_object_get (network, "Interfaces");
  if (json_array_size (ifaces) == 0 && !others)
    return 0;
  cleanup_close int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return isola_error_make (err, errno, "socket");
  /* First down what goes, so that a NIC that takes over a name finds it free. */
  int ret = others ? others_down (s, ifaces, err) : 0;
  size_t i;
  json_t *iface;
  json_array_foreach (ifaces, i, iface)
  {
    char nic[IFNAMSIZ];
    if (ret < 0 || (ret = guest_nic (s, json_string_value (json_object_get (iface, "Device")), nic, err)) < 0
        || (ret = configure (s, nic, iface, err)) < 0)
      return ret;
  }
  return ret;
}
