/* A VM container's network, host side (see vm_net.h). */
#define _GNU_SOURCE
#include "driver/vm_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/route.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/json.h"
#include "base/subprocess.h"
#include "base/util.h"
#include "sandbox/netns.h"

/* iproute2's tc, where Debian puts it (the monitor's PATH may lack the sbin directories). */
static const char *
tc_path (void)
{
  static const char *const where[] = { "/usr/sbin/tc", "/sbin/tc" };
  for (size_t i = 0; i < ARRAY_SIZE (where); i++)
    if (access (where[i], X_OK) == 0)
      return where[i];
  return "tc";
}

/* Tap N's name: "tapN_isola". */
static void
tap_name (size_t n, char name[IFNAMSIZ])
{
  snprintf (name, IFNAMSIZ, "tap%zu_isola", n);
}

static bool
is_tap (const char *ifname)
{
  return strncmp (ifname, "tap", 3) == 0 && strstr (ifname, "_isola") != NULL;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The interfaces of the current namespace besides lo and our taps, in name order (eth0, eth1…; NULL-terminated). */
static char **
interfaces (void)
{
  char **out = xcalloc (1, sizeof (char *));
  struct if_nameindex *ifs = if_nameindex ();
  for (struct if_nameindex *i = ifs; i && i->if_index != 0; i++)
    if (strcmp (i->if_name, "lo") != 0 && !is_tap (i->if_name))
      strv_push (&out, i->if_name);
  if (ifs)
    if_freenameindex (ifs);
  qsort (out, strv_len (out), sizeof *out, compare_names);
  return out;
}

static int
prefix_of (const struct sockaddr *mask)
{
  if (mask == NULL)
    return 32;
  uint32_t m = ntohl (((const struct sockaddr_in *)mask)->sin_addr.s_addr);
  return __builtin_popcount (m);
}

/* The interface's IPv4 addresses as "a.b.c.d/n" (getifaddrs asks the current namespace over netlink). */
static json_t *
addresses (const char *ifname)
{
  json_t *a = json_array ();
  struct ifaddrs *all = NULL;
  if (getifaddrs (&all) < 0)
    return a;
  for (struct ifaddrs *i = all; i; i = i->ifa_next)
    {
      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || strcmp (i->ifa_name, ifname) != 0)
        continue;
      char text[INET_ADDRSTRLEN];
      inet_ntop (AF_INET, &((const struct sockaddr_in *)i->ifa_addr)->sin_addr, text, sizeof text);
      json_array_append_new (a, json_sprintf ("%s/%d", text, prefix_of (i->ifa_netmask)));
    }
  freeifaddrs (all);
  return a;
}

static void
ntoa (uint32_t be, char text[INET_ADDRSTRLEN])
{
  struct in_addr in = { .s_addr = be };
  inet_ntop (AF_INET, &in, text, INET_ADDRSTRLEN);
}

/* The IPv4 routes through the interface from /proc/self/net/route, which shows the namespace this thread is in:
   those through a gateway, and the device routes other than the ones its own addresses make (the guest's kernel
   makes those as the host's did). */
static json_t *
routes (const char *ifname)
{
  json_t *a = json_array ();
  FILE *f = fopen ("/proc/self/net/route", "re");
  if (f == NULL)
    return a;
  char line[256];
  if (fgets (line, sizeof line, f) == NULL)
    {
      fclose (f);
      return a;
    }
  while (fgets (line, sizeof line, f))
    {
      char name[IFNAMSIZ + 1];
      unsigned dest, gw, flags, mask;
      int refcnt, use, metric;
      if (sscanf (line, "%16s %x %x %x %d %d %d %x", name, &dest, &gw, &flags, &refcnt, &use, &metric, &mask) != 8
          || strcmp (name, ifname) != 0 || !(flags & RTF_UP))
        continue;
      /* A device route of a prefix route of an address (metric 0, no gateway): the guest gets it with the address. */
      if (!(flags & RTF_GATEWAY) && metric == 0)
        continue;
      char d[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
      ntoa (dest, d), ntoa (gw, g);
      json_array_append_new (a, json_pack ("{s:o, s:s, s:i}", "Destination",
                                           json_sprintf ("%s/%d", d, __builtin_popcount (mask)), "Gateway",
                                           (flags & RTF_GATEWAY) ? g : "", "Metric", metric));
    }
  fclose (f);
  return a;
}

/* The interface's global IPv6 addresses as "x::y/n" (link-local ones the guest's kernel makes itself). */
static json_t *
addresses6 (const char *ifname)
{
  json_t *a = json_array ();
  struct ifaddrs *all = NULL;
  if (getifaddrs (&all) < 0)
    return a;
  for (struct ifaddrs *i = all; i; i = i->ifa_next)
    {
      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET6 || strcmp (i->ifa_name, ifname) != 0)
        continue;
      const struct in6_addr *in6 = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL (in6))
        continue;
      int prefix = 0;
      for (size_t b = 0; i->ifa_netmask && b < 16; b++)
        prefix += __builtin_popcount (((const struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr.s6_addr[b]);
      char text[INET6_ADDRSTRLEN];
      inet_ntop (AF_INET6, in6, text, sizeof text);
      json_array_append_new (a, json_sprintf ("%s/%d", text, prefix));
    }
  freeifaddrs (all);
  return a;
}

/* The IPv6 routes through a gateway on the interface, from /proc/self/net/ipv6_route ("DEST LEN SRC LEN NEXTHOP
   METRIC REFCNT USE FLAGS DEV", addresses as 32 hex digits): the device routes come with the addresses. */
static json_t *
routes6 (const char *ifname)
{
  json_t *a = json_array ();
  cleanup_file FILE *f = fopen ("/proc/self/net/ipv6_route", "re");
  char line[256];
  while (f && fgets (line, sizeof line, f))
    {
      char dest[33], src[33], hop[33], name[IFNAMSIZ + 1];
      unsigned dlen, slen, metric, refcnt, use, flags;
      if (sscanf (line, "%32s %x %32s %x %32s %x %x %x %x %16s", dest, &dlen, src, &slen, hop, &metric, &refcnt, &use,
                  &flags, name)
              != 10
          || strcmp (name, ifname) != 0 || !(flags & RTF_UP) || !(flags & RTF_GATEWAY) || dlen > 128)
        continue;
      struct in6_addr d, g;
      for (int b = 0; b < 16; b++)
        {
          unsigned x, y;
          if (sscanf (dest + 2 * b, "%2x", &x) != 1 || sscanf (hop + 2 * b, "%2x", &y) != 1)
            break;
          d.s6_addr[b] = (uint8_t)x, g.s6_addr[b] = (uint8_t)y;
        }
      char dt[INET6_ADDRSTRLEN], gt[INET6_ADDRSTRLEN];
      inet_ntop (AF_INET6, &d, dt, sizeof dt), inet_ntop (AF_INET6, &g, gt, sizeof gt);
      json_array_append_new (a, json_pack ("{s:o, s:s, s:i}", "Destination", json_sprintf ("%s/%u", dt, dlen),
                                           "Gateway", gt, "Metric", (int)metric));
    }
  return a;
}

/* What the guest's NIC n is to be: the interface's name, MAC, MTU, addresses and routes. */
static int
interface_info (int sock, const char *ifname, size_t n, json_t **out, isola_error_t *err)
{
  struct ifreq ifr = { 0 };
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  if (ioctl (sock, SIOCGIFHWADDR, &ifr) < 0)
    return isola_error_make (err, errno, "the MAC address of `%s`", ifname);
  const unsigned char *m = (const unsigned char *)ifr.ifr_hwaddr.sa_data;
  char mac[18];
  snprintf (mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  if (ioctl (sock, SIOCGIFMTU, &ifr) < 0)
    return isola_error_make (err, errno, "the MTU of `%s`", ifname);
  *out = json_pack ("{s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o}", "Name", ifname, "Mac", mac, "Mtu", ifr.ifr_mtu,
                    "Addresses", addresses (ifname), "Addresses6", addresses6 (ifname), "Device",
                    json_sprintf (VM_NIC_MAC_FORMAT, (unsigned)(VM_NIC_MAC_BASE + n)), "Routes", routes (ifname),
                    "Routes6", routes6 (ifname));
  return 0;
}

/* A tap, up, of the given MTU (0: the default); with a virtio-net header, so that QEMU passes checksum and
   segmentation offloads through when the guest takes them. */
static int
make_tap (int sock, const char *name, int mtu, int *fd_out, isola_error_t *err)
{
  cleanup_close int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return isola_error_make (err, errno, "open /dev/net/tun");
  struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0)
    return isola_error_make (err, errno, "make the tap device %s", name);
  ifr.ifr_mtu = mtu;
  if (mtu > 0 && ioctl (sock, SIOCSIFMTU, &ifr) < 0)
    return isola_error_make (err, errno, "set the MTU of %s", name);
  if (ioctl (sock, SIOCGIFFLAGS, &ifr) < 0)
    return isola_error_make (err, errno, "get the flags of %s", name);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl (sock, SIOCSIFFLAGS, &ifr) < 0)
    return isola_error_make (err, errno, "bring %s up", name);
  *fd_out = take_fd (&fd);
  return 0;
}

/* Removes the ingress qdisc of dev (and its filters); none there is no error. */
static void
drop_ingress (const char *dev)
{
  char *argv[] = { (char *)tc_path (), "qdisc", "del", "dev", (char *)dev, "ingress", NULL };
  (void)subprocess_run (argv, NULL, NULL, NULL);
}

/* Every frame that arrives on dev leaves through tap and the other way round: an ingress qdisc on each with a
   match-all u32 filter whose action redirects to the other's egress.  One tc for the four commands (-batch), since
   starting a program is what costs here. */
static int
redirect_both_ways (const char *dev, const char *tap, isola_error_t *err)
{
  cleanup_close int fd = memfd_create ("isola-tc-batch", 0);
  if (fd < 0)
    return isola_error_make (err, errno, "memfd_create");
  cleanup_free char *batch = xasprintf ("qdisc add dev %s ingress\n"
                                        "filter add dev %s parent ffff: protocol all u32 match u8 0 0 "
                                        "action mirred egress redirect dev %s\n"
                                        "qdisc add dev %s ingress\n"
                                        "filter add dev %s parent ffff: protocol all u32 match u8 0 0 "
                                        "action mirred egress redirect dev %s\n",
                                        dev, dev, tap, tap, tap, dev);
  if (write_all (fd, batch, strlen (batch)) < 0)
    return isola_error_make (err, errno, "write tc's commands");
  /* (the descriptor is not close-on-exec: tc reads it as /proc/self/fd/N) */
  cleanup_free char *path = xasprintf ("/proc/self/fd/%d", fd);
  char *argv[] = { (char *)tc_path (), "-batch", path, NULL };
  int ret = subprocess_run (argv, NULL, NULL, err);
  return ret < 0 ? isola_error_wrap (err, ret, "redirect %s and %s to each other", dev, tap) : 0;
}

/* Frames between ifname and tap, both ways (replacing what a crashed run left). */
static int
wire (const char *ifname, const char *tap, isola_error_t *err)
{
  if (redirect_both_ways (ifname, tap, NULL) == 0)
    return 0;
  /* What a start after a crash finds: the old redirections (the old tap went with its QEMU).  The stop's cleanup
     removes them otherwise, so only then does a start pay for three tc's. */
  drop_ingress (ifname);
  drop_ingress (tap);
  int ret = redirect_both_ways (ifname, tap, err);
  if (ret < 0)
    drop_ingress (ifname);
  return ret;
}

/* In the namespace: each interface mirrored by a NIC of the guest, the Nth in name order by NIC N; the other NICs
   get a tap too, unwired, which connecting a network while the VM runs wires (vm_net_change): QEMU binds a NIC to
   its peer when it makes it.  So does a namespace with lo only (a container disconnected from all its networks
   before it started). */
static int
setup_inside (size_t nics, struct vm_net *out, isola_error_t *err)
{
  cleanup_strv char **ifs = interfaces ();
  out->config = json_pack ("{s:[]}", "Interfaces");
  size_t n = strv_len (ifs);
  if (n > nics)
    return isola_error_fail (err, ENOTSUP,
                             "a VM container has %zu network interfaces (one fewer for each -v share beyond one), and "
                             "its network namespace has %zu besides lo",
                             nics, n);
  cleanup_close int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return isola_error_make (err, errno, "socket");
  for (size_t k = 0; k < nics && k < VM_NICS; k++)
    {
      json_t *iface = NULL;
      char tap[IFNAMSIZ];
      tap_name (k, tap);
      int ret = k < n ? interface_info (sock, ifs[k], k, &iface, err) : 0;
      if (iface)
        json_array_append_new (json_object_get (out->config, "Interfaces"), iface);
      if (ret < 0
          || (ret = make_tap (sock, tap, (int)json_integer_value (json_object_get (iface, "Mtu")), &out->taps[k], err))
                 < 0)
        return ret;
      out->n_taps = k + 1;
      if (k < n && (ret = wire (ifs[k], tap, err)) < 0)
        return ret;
    }
  return 0;
}

int
vm_net_setup (const char *netns, size_t nics, struct vm_net *out, isola_error_t *err)
{
  *out = (struct vm_net){ 0 };
  int saved = -1;
  int ret = netns_enter (netns, &saved, err);
  if (ret < 0)
    return ret;
  ret = setup_inside (nics, out, err);
  int back = netns_leave (saved, ret < 0 ? NULL : err);
  if (ret == 0 && back < 0)
    ret = back;
  if (ret < 0)
    vm_net_clear (out);
  return ret;
}

void
vm_net_clear (struct vm_net *n)
{
  for (size_t i = 0; i < n->n_taps; i++)
    close (n->taps[i]);
  json_decref (n->config);
  *n = (struct vm_net){ 0 };
}

/* NIC K of interface "ethK" (the names isola's networks give: a start gives eth0, eth1… to NICs 0, 1…, and a
   network connected while the container runs takes the first free ethK, whose NIC K is free too). */
static int
nic_of (const char *ifname, size_t *k, isola_error_t *err)
{
  unsigned n;
  char end;
  if (sscanf (ifname, "eth%u%c", &n, &end) != 1 || n >= VM_NICS)
    return isola_error_fail (err, ENOTSUP,
                             "a VM container's guest has no network interface for %s (it has eth0 to eth%d)", ifname,
                             VM_NICS - 1);
  *k = n;
  return 0;
}

/* What the guest is to be told of every interface of the namespace now, each NIC K by its interface ethK. */
static int
describe (json_t **config, isola_error_t *err)
{
  cleanup_strv char **ifs = interfaces ();
  cleanup_close int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return isola_error_make (err, errno, "socket");
  cleanup_json json_t *list = json_array ();
  for (size_t i = 0; ifs[i]; i++)
    {
      size_t k = 0;
      json_t *iface = NULL;
      int ret = nic_of (ifs[i], &k, err);
      if (ret < 0 || (ret = interface_info (sock, ifs[i], k, &iface, err)) < 0)
        return ret;
      json_array_append_new (list, iface);
    }
  *config = json_pack ("{s:O}", "Interfaces", list);
  return 0;
}

static int
change_inside (const char *ifname, bool connected, json_t **config, isola_error_t *err)
{
  size_t k = 0;
  int ret = nic_of (ifname, &k, err);
  if (ret < 0)
    return ret;
  char tap[IFNAMSIZ];
  tap_name (k, tap);
  if (if_nametoindex (tap) == 0)
    return isola_error_fail (err, ENOTSUP,
                             "the VM has no spare network interface for %s: it was started by an older isola (stop "
                             "the container and start it again)",
                             ifname);
  drop_ingress (tap);
  if (connected)
    {
      cleanup_close int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct ifreq ifr = { 0 };
      snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
      if (sock < 0 || ioctl (sock, SIOCGIFMTU, &ifr) < 0)
        return isola_error_make (err, errno, "the MTU of `%s`", ifname);
      snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", tap);
      if (ioctl (sock, SIOCSIFMTU, &ifr) < 0)
        return isola_error_make (err, errno, "set the MTU of %s", tap);
      if ((ret = wire (ifname, tap, err)) < 0)
        return ret;
    }
  if (config && (ret = describe (config, err)) < 0 && connected)
    drop_ingress (tap), drop_ingress (ifname);
  return ret;
}

int
vm_net_change (const char *netns, const char *ifname, bool connected, json_t **config, isola_error_t *err)
{
  int saved = -1;
  int ret = netns_enter (netns, &saved, err);
  if (ret < 0)
    return ret;
  ret = change_inside (ifname, connected, config, err);
  int back = netns_leave (saved, ret < 0 ? NULL : err);
  return ret < 0 ? ret : back;
}

int
vm_net_release (const char *netns, isola_error_t *err)
{
  int saved = -1;
  int ret = netns_enter (netns, &saved, NULL);
  /* A namespace that is gone took its qdiscs with it. */
  if (ret < 0)
    return 0;
  cleanup_strv char **ifs = interfaces ();
  for (size_t i = 0; ifs[i]; i++)
    drop_ingress (ifs[i]);
  return netns_leave (saved, err);
}
