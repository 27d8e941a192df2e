/* A container on a network (attach.h): a veth made over netlink (netlink.h) on the network's bridge, which the
   first container makes (bridge.h), and its names in aardvark-dns on user networks (dns.h).  No program runs for a
   container's start or end: docs/NETWORK.md has the measurements that led here from netavark. */
#define _GNU_SOURCE
#include "network/attach.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "base/util.h"
#include "network/bridge.h"
#include "network/dns.h"
#include "network/netlink.h"
#include "network/network.h"
#include "network/ports.h"

const char *
network_mode_network (const char *mode)
{
  if (mode == NULL || mode[0] == '\0' || strcmp (mode, "default") == 0)
    return NETWORK_DEFAULT;
  if (strcmp (mode, "none") == 0 || strcmp (mode, "host") == 0 || str_has_prefix (mode, "container:")
      || str_has_prefix (mode, "ns:"))
    return NULL;
  return mode;
}

const char *
network_of_container (const struct container *c)
{
  json_t *chosen = json_object_get (c->config, "Network");
  if (chosen)
    return json_string_value (chosen);
  return network_mode_network (json_string_value (json_object_get (container_host_config (c), "NetworkMode")));
}

char *
network_netns_path (const struct container *c)
{
  cleanup_free char *path = container_path (c, "netns");
  return path_exists (path) ? take_ptr (&path) : NULL;
}

/* --- the namespace file --------------------------------------------------------------------------------------- */

/* This thread unshares a new network namespace, bind-mounts it onto path (as `ip netns add` does, which keeps it
   alive until it is unmounted) and goes back to its own: no child to fork and wait for. */
static int
make_netns_file (const char *path, isola_error_t *err)
{
  int fd = open (path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0)
    return isola_error_make (err, errno, "create %s", path);
  close (fd);
  cleanup_close int own = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0)
    return isola_error_make (err, errno, "open /proc/thread-self/ns/net");
  if (unshare (CLONE_NEWNET) < 0)
    {
      int e = errno;
      (void)unlink (path);
      return isola_error_make (err, e, "make the network namespace %s (unshare)", path);
    }
  int ret = 0;
  if (mount ("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) < 0)
    ret = isola_error_make (err, errno, "make the network namespace %s (bind mount)", path);
  if (setns (own, CLONE_NEWNET) < 0)
    return isola_error_make (err, errno, "return from the network namespace %s", path);
  if (ret < 0)
    (void)unlink (path);
  return ret;
}

static void
remove_netns_file (const char *path)
{
  (void)umount2 (path, MNT_DETACH);
  (void)unlink (path);
}

/* --- attach, detach ------------------------------------------------------------------------------------------- */

/* Docker's /etc/hosts names the container by its address, not 127.0.1.1 (container.c's line without a network);
   detach puts 127.0.1.1 back, so that the next run's address replaces it again. */
static void
hosts_swap_address (const struct container *c, const char *from, const char *to)
{
  cleanup_free char *path = container_path (c, "hosts"), *text = NULL;
  if (read_file_bounded (path, 1 << 20, &text, NULL, NULL) < 0)
    return;
  cleanup_free char *names = container_hosts_names (c);
  cleanup_free char *old = xasprintf ("%s\t%s\n", from, names);
  char *at = strstr (text, old);
  if (at == NULL)
    return;
  cleanup_free char *next = xasprintf ("%.*s%s\t%s\n%s", (int)(at - text), text, to, names, at + strlen (old));
  (void)write_file_replace (path, next, strlen (next), 0644, NULL);
}

/* The first line of text that starts with prefix, with its newline, or "". */
static char *
line_starting (const char *text, const char *prefix)
{
  for (const char *l = text; l && *l; l = strchr (l, '\n') ? strchr (l, '\n') + 1 : NULL)
    if (str_has_prefix (l, prefix))
      return xasprintf ("%.*s\n", (int)strcspn (l, "\n"), l);
  return xstrdup ("");
}

static void
resolv_for_dns (const struct container *c, json_t *servers)
{
  if (json_array_size (servers) == 0)
    return;
  /* The file's search and options lines (the host's, or --dns-search and --dns-option) stay around them. */
  cleanup_free char *path = container_path (c, "resolv.conf"), *old = NULL;
  if (read_file_bounded (path, 1 << 16, &old, NULL, NULL) < 0)
    old = xstrdup ("");
  cleanup_free char *search = line_starting (old, "search "), *options = line_starting (old, "options ");
  cleanup_free char *text = xstrdup (search);
  size_t i;
  json_t *v;
  json_array_foreach (servers, i, v)
  {
    char *next = xasprintf ("%snameserver %s\n", text, json_string_value (v));
    free (text);
    text = next;
  }
  char *all = xasprintf ("%s%s", text, options);
  free (text);
  text = all;
  (void)write_file_replace (path, text, strlen (text), 0644, NULL);
}

static int
write_attachment (const struct container *c, json_t *att, isola_error_t *err)
{
  cleanup_free char *path = container_path (c, "network.json");
  cleanup_free char *text = json_dumps (att, JSON_COMPACT | JSON_SORT_KEYS);
  /* Complete or absent (temp + rename), but not synced: what it describes (a namespace, a veth) does not outlive
     the machine either, and a sync here cost ~30 ms of a container's start on this loaded machine. */
  return write_file_replace (path, text, strlen (text), 0600, err);
}

static int detach_locked (const struct isola_store *s, struct container *c, isola_error_t *err);

/* The host's end of the container's veth: "veth" and the start of the container's ID (15 characters at most). */
static char *
host_veth_name (const struct container *c)
{
  return xasprintf ("veth%.11s", c->id);
}

/* The names the container answers to on a user network: its name, its --network-alias names and its short ID
   (Docker's), NULL-terminated. */
static char **
dns_names (const struct container *c)
{
  char **v = xcalloc (1, sizeof (char *));
  strv_push (&v, container_name (c));
  size_t i;
  json_t *a;
  char short_id[13];
  snprintf (short_id, sizeof short_id, "%.12s", c->id);
  /* connect records the short ID among the aliases, as Docker's does */
  json_array_foreach (json_object_get (container_endpoint (c), "Aliases"), i,
                      a) if (strcmp (json_string_value (a), short_id) != 0) strv_push (&v, json_string_value (a));
  strv_push (&v, short_id);
  return v;
}

/* The veth, the bridge under it (made by the network's first container) and the names, once the attachment is
   recorded. */
static int
connect_locked (const struct isola_store *s, struct container *c, json_t *record, json_t *att, isola_error_t *err)
{
  struct bridge_spec bridge;
  struct ipv4_net subnet;
  uint32_t gateway = 0, addr = 0;
  int ret = network_bridge_spec (record, &bridge, err);
  if (ret == 0)
    ret = network_subnet_of (record, &subnet, &gateway, err);
  if (ret < 0)
    return ret;
  (void)ipv4_addr_parse (json_string_value (json_object_get (att, "IPAddress")), &addr);
  cleanup_free char *netns = container_path (c, "netns");
  struct nl_veth_peer peer
      = { .netns = netns, .ifname = "eth0", .addr = addr, .prefix = subnet.prefix, .gateway = gateway };
  if (nl_mac_parse (json_string_value (json_object_get (att, "MacAddress")), peer.mac) < 0)
    nl_mac_for_addr (addr, peer.mac);
  const char *addr6 = json_string_value (json_object_get (att, "GlobalIPv6Address"));
  struct ipv6_net subnet6;
  if (addr6 && network_subnet6_of (record, &subnet6, &peer.gateway6) == 0
      && inet_pton (AF_INET6, addr6, &peer.addr6) == 1)
    peer.has6 = true, peer.prefix6 = subnet6.prefix;
  if ((ret = bridge_ensure (&bridge, err)) < 0)
    return ret;
  trace_mark ("network: bridge there");
  if ((ret = make_netns_file (netns, err)) < 0)
    return ret;
  trace_mark ("network: namespace made");
  /* The last run's pair goes with its namespace, which the kernel destroys in the background (detach): a restart
     can come first and find the host's end still there.  Deleted then, waiting for the kernel as detach did not. */
  const char *veth = json_string_value (json_object_get (att, "Veth"));
  if (nl_link_exists (veth) && (ret = nl_link_delete (veth, err)) < 0)
    return ret;
  if ((ret = nl_veth_add (veth, bridge.device, &peer, err)) < 0)
    return ret;
  trace_mark ("network: veth made");
  if (json_array_size (json_object_get (att, "DNS")) > 0)
    {
      cleanup_strv char **names = dns_names (c);
      ret = dns_add (s, json_string_value (json_object_get (record, "Name")), gateway, c->id, addr, addr6, names, err);
    }
  return ret;
}

/* --ip's address (checked to be an IPv4 one at create), else 0: the network's first free one. */
static uint32_t
wanted_address (const struct container *c)
{
  uint32_t a = 0;
  const char *ip
      = json_string_value (json_object_get (json_object_get (container_endpoint (c), "IPAMConfig"), "IPv4Address"));
  return ip && ipv4_addr_parse (ip, &a) == 0 ? a : 0;
}

int
network_attach (const struct isola_store *s, struct container *c, isola_error_t *err)
{
  const char *wanted = network_of_container (c);
  if (wanted == NULL)
    return 0;
  cleanup_close int lock = -1;
  cleanup_json json_t *record = NULL;
  int ret = network_lock (s, &lock, err);
  trace_mark ("network: locked");
  if (ret == 0)
    ret = detach_locked (s, c, err); /* what a crashed run left */
  if (ret == 0)
    ret = network_get (s, wanted, true, &record, err);
  if (ret < 0)
    return ret;
  struct ipv4_net subnet;
  uint32_t gateway = 0, addr = 0;
  if ((ret = network_subnet_of (record, &subnet, &gateway, err)) < 0
      || (ret = network_lease (s, record, c->id, wanted_address (c), &addr, err)) < 0)
    return ret;
  const char *name = json_string_value (json_object_get (record, "Name"));
  cleanup_free char *ip = ipv4_addr_format (addr), *gw = ipv4_addr_format (gateway), *veth = host_veth_name (c);
  /* --mac-address (Config.MacAddress, checked at create), else Docker's for the address. */
  uint8_t m[6];
  if (nl_mac_parse (json_string_value (json_object_get (container_config (c), "MacAddress")), m) < 0)
    nl_mac_for_addr (addr, m);
  char mac[18];
  snprintf (mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  char endpoint[DIGEST_HEX_LEN + 1];
  snprintf (endpoint, sizeof endpoint, "%.32s%.32s", c->id + 32, c->id);
  /* Docker's embedded DNS answers only on user networks: aardvark-dns for those, the host's resolvers on the
     default bridge. */
  json_t *dns = json_array ();
  if (strcmp (name, NETWORK_DEFAULT) != 0)
    json_array_append_new (dns, json_string (gw));
  cleanup_json json_t *att
      = json_pack ("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:s, s:s}", "Network", name, "NetworkID",
                   json_string_value (json_object_get (record, "Id")), "EndpointID", endpoint, "IPAddress", ip,
                   "IPPrefixLen", subnet.prefix, "Gateway", gw, "MacAddress", mac, "ContainerName", container_name (c),
                   "DNS", dns, "Veth", veth, "Bridge", json_string_value (json_object_get (record, "IsolaBridge")));
  /* --ipv6: the IPv6 subnet's address at the IPv4 address's offset in its subnet (network.h: the IPv4 lease
     stands for both), as Docker's first container gets ::2 where it gets .2. */
  struct ipv6_net subnet6;
  struct in6_addr gateway6;
  if (network_subnet6_of (record, &subnet6, &gateway6) == 0)
    {
      struct in6_addr a6 = ipv6_addr_offset (&subnet6.addr, addr - subnet.addr);
      cleanup_free char *ip6 = ipv6_addr_format (&a6), *gw6 = ipv6_addr_format (&gateway6);
      json_object_set_new (att, "GlobalIPv6Address", json_string (ip6));
      json_object_set_new (att, "GlobalIPv6PrefixLen", json_integer (subnet6.prefix));
      json_object_set_new (att, "IPv6Gateway", json_string (gw6));
    }
  trace_mark ("network: address leased");
  /* Recorded first: whatever happens next, detach knows what to undo. */
  if ((ret = write_attachment (c, att, err)) < 0)
    {
      network_release (s, json_string_value (json_object_get (record, "Id")), addr, c->id);
      return ret;
    }
  trace_mark ("network: attachment recorded");
  /* The published ports (their host ports held, their rules) once the bridge is there; recorded again only when
     there are some, for teardown and NetworkSettings.Ports. */
  if ((ret = connect_locked (s, c, record, att, err)) == 0 && (ret = ports_publish (c, record, ip, att, err)) == 0
      && json_object_size (json_object_get (att, "Ports")) > 0)
    ret = write_attachment (c, att, err);
  if (ret < 0)
    {
      (void)detach_locked (s, c, NULL);
      return isola_error_wrap (err, ret, "connect container %.12s to network %s", c->id, name);
    }
  hosts_swap_address (c, "127.0.1.1", ip);
  resolv_for_dns (c, dns);
  return 0;
}

static int
detach_locked (const struct isola_store *s, struct container *c, isola_error_t *err)
{
  (void)err;
  cleanup_free char *path = container_path (c, "network.json"), *netns = container_path (c, "netns");
  cleanup_json json_t *att = json_load_file (path, 0, NULL);
  if (att == NULL && !path_exists (netns))
    return 0;
  trace_mark ("network: detach");
  ports_unpublish (c);
  if (json_array_size (json_object_get (att, "DNS")) > 0)
    dns_remove (s, json_string_value (json_object_get (att, "Network")) ?: "", c->id);
  /* The veth goes with the namespace: unmounted, the namespace has no user left (the container's processes are
     gone) and the kernel destroys it with its end of the pair, which takes the host's end.  Deleting the veth here
     instead cost ~19 ms (the kernel waits for RCU readers) between the container's exit and its exit code. */
  remove_netns_file (netns);
  trace_mark ("network: namespace removed");
  uint32_t addr;
  const char *ip = json_string_value (json_object_get (att, "IPAddress"));
  if (att && ipv4_addr_parse (ip, &addr) == 0)
    {
      network_release (s, json_string_value (json_object_get (att, "NetworkID")) ?: "", addr, c->id);
      hosts_swap_address (c, ip, "127.0.1.1");
    }
  (void)unlink (path);
  trace_mark ("network: detached");
  return 0;
}

int
network_detach_container (struct container *c, isola_error_t *err)
{
  /* c->dir is ROOT/containers/ID. */
  cleanup_free char *root = xstrdup (c->dir);
  for (int i = 0; i < 2; i++)
    {
      char *slash = strrchr (root, '/');
      if (slash == NULL)
        return isola_error_fail (err, EINVAL, "container %.12s: no store above %s", c->id, c->dir);
      *slash = '\0';
    }
  struct isola_store s = { .root = root, .lock_fd = -1, .collect_fd = -1, .staging_fd = -1 };
  return network_detach (&s, c, err);
}

int
network_detach (const struct isola_store *s, struct container *c, isola_error_t *err)
{
  cleanup_free char *path = container_path (c, "network.json"), *netns = container_path (c, "netns");
  if (!path_exists (path) && !path_exists (netns))
    return 0;
  cleanup_close int lock = -1;
  int ret = network_lock (s, &lock, err);
  return ret < 0 ? ret : detach_locked (s, c, err);
}

void
network_reap (const struct isola_store *s, struct container *c)
{
  cleanup_free char *path = container_path (c, "network.json"), *netns = container_path (c, "netns");
  if ((!path_exists (path) && !path_exists (netns)) || container_monitor_alive (c))
    return;
  cleanup_close int lock = -1;
  if (network_lock (s, &lock, NULL) == 0 && !container_monitor_alive (c))
    (void)detach_locked (s, c, NULL);
}

/* A member of the container's endpoint settings (--ip, --network-alias), as Docker shows it: null when unset. */
static json_t *
endpoint_member (const struct container *c, const char *key)
{
  json_t *v = json_object_get (container_endpoint (c), key);
  return v ? v : json_null ();
}

json_t *
network_settings_json (const struct container *c)
{
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  cleanup_free char *path = container_path (c, "network.json");
  cleanup_json json_t *att = json_load_file (path, 0, NULL);
  const char *ip = json_string_value (json_object_get (att, "IPAddress")) ?: "";
  const char *gw = json_string_value (json_object_get (att, "Gateway")) ?: "";
  const char *mac = json_string_value (json_object_get (att, "MacAddress")) ?: "";
  const char *ip6 = json_string_value (json_object_get (att, "GlobalIPv6Address")) ?: "";
  const char *gw6 = json_string_value (json_object_get (att, "IPv6Gateway")) ?: "";
  json_int_t prefix6 = att ? json_integer_value (json_object_get (att, "GlobalIPv6PrefixLen")) : 0;
  json_int_t prefix = att ? json_integer_value (json_object_get (att, "IPPrefixLen")) : 0;
  const char *net = json_string_value (json_object_get (att, "Network"));
  json_t *networks = json_object ();
  json_t *chosen = json_object_get (c->config, "Network");
  const char *shown = net ? net : json_is_string (chosen) ? json_string_value (chosen) : mode ? mode : "none";
  /* A namespace given by path belongs to no network of isola's: podman shows none.  Disconnected: none at all. */
  if (!str_has_prefix (shown, "container:") && !str_has_prefix (shown, "ns:")
      && !(net == NULL && json_is_null (chosen)))
    json_object_set_new (networks, shown,
                         json_pack ("{s:O, s:n, s:O, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:s, s:s, s:n}", "IPAMConfig",
                                    endpoint_member (c, "IPAMConfig"), "Links", "Aliases",
                                    endpoint_member (c, "Aliases"), "NetworkID",
                                    json_string_value (json_object_get (att, "NetworkID")) ?: "", "EndpointID",
                                    json_string_value (json_object_get (att, "EndpointID")) ?: "", "Gateway", gw,
                                    "IPAddress", ip, "IPPrefixLen", prefix, "IPv6Gateway", gw6, "GlobalIPv6PrefixLen",
                                    (int)prefix6, "GlobalIPv6Address", ip6, "MacAddress", mac, "DriverOpts"));
  /* Docker's top-level fields describe the default bridge only; a user network leaves them empty. */
  bool top = net && strcmp (net, NETWORK_DEFAULT) == 0;
  cleanup_free char *sandbox_key = network_netns_path (c);
  return json_pack ("{s:s, s:s, s:b, s:s, s:o, s:s, s:o, s:n, s:n, s:s, s:s, s:i, s:s, s:i, s:s, s:s, s:o}", "Bridge",
                    "", "SandboxID", sandbox_key ? c->id : "", "HairpinMode", 0, "LinkLocalIPv6Address", "",
                    "LinkLocalIPv6PrefixLen", json_integer (0), "SandboxKey", sandbox_key ? sandbox_key : "", "Ports",
                    ports_settings_json (att), "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID",
                    top ? json_string_value (json_object_get (att, "EndpointID")) : "", "Gateway", top ? gw : "",
                    "GlobalIPv6PrefixLen", 0, "IPAddress", top ? ip : "", "IPPrefixLen", top ? (int)prefix : 0,
                    "IPv6Gateway", "", "MacAddress", top ? mac : "", "Networks", networks);
}

/* One counter of a host interface (sysfs), 0 when it cannot be read. */
static json_int_t
interface_counter (const char *ifname, const char *counter)
{
  cleanup_free char *path = xasprintf ("/sys/class/net/%s/statistics/%s", ifname, counter);
  cleanup_free char *text = NULL;
  if (read_file_bounded (path, 64, &text, NULL, NULL) < 0)
    return 0;
  return (json_int_t)strtoull (text, NULL, 10);
}

json_t *
network_stats_json (const struct container *c)
{
  json_t *out = json_object ();
  cleanup_free char *path = container_path (c, "network.json");
  cleanup_json json_t *att = json_load_file (path, 0, NULL);
  const char *veth = json_string_value (json_object_get (att, "Veth"));
  if (veth == NULL || strchr (veth, '/') || veth[0] == '.')
    return out;
  /* What the host's end sends, the container's receives. */
  static const char *const names[][2] = {
    { "rx_bytes", "tx_bytes" },     { "rx_packets", "tx_packets" }, { "rx_errors", "tx_errors" },
    { "rx_dropped", "tx_dropped" }, { "tx_bytes", "rx_bytes" },     { "tx_packets", "rx_packets" },
    { "tx_errors", "rx_errors" },   { "tx_dropped", "rx_dropped" },
  };
  json_t *eth0 = json_object ();
  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    json_object_set_new (eth0, names[i][0], json_integer (interface_counter (veth, names[i][1])));
  json_object_set_new (out, "eth0", eth0);
  return out;
}
