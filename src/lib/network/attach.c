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
#include "container/nsmode.h"
#include "network/bridge.h"
#include "network/dns.h"
#include "network/netlink.h"
#include "network/network.h"
#include "network/ports.h"
#include "network/records.h"

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
write_attachments (const struct container *c, json_t *atts, isola_error_t *err)
{
  cleanup_free char *path = container_path (c, "network.json");
  cleanup_json json_t *file = json_pack ("{s:O}", "Attachments", atts);
  cleanup_free char *text = json_dumps (file, JSON_COMPACT | JSON_SORT_KEYS);
  /* Complete or absent (temp + rename), but not synced: what it describes (a namespace, veths) does not outlive
     the machine either, and a sync here cost ~30 ms of a container's start on this loaded machine. */
  return write_file_replace (path, text, strlen (text), 0600, err);
}

static int detach_locked (const struct isola_store *s, struct container *c, isola_error_t *err);

/* The host's end of the container's veth for its interface ethN (15 characters at most): "veth" and the start of
   the container's ID for eth0 (the name isola always gave it), "vethID-N" for the others. */
static char *
host_veth_name (const struct container *c, unsigned n)
{
  return n == 0 ? xasprintf ("veth%.11s", c->id) : xasprintf ("veth%.9s-%u", c->id, n);
}

/* The first interface number no attachment in atts has (Docker names them eth0, eth1… in the order they come). */
static unsigned
free_interface (json_t *atts)
{
  for (unsigned n = 0;; n++)
    {
      char name[16];
      snprintf (name, sizeof name, "eth%u", n);
      size_t i;
      json_t *att;
      bool taken = false;
      json_array_foreach (atts, i, att) taken = taken || strcmp (network_attachment_interface (att), name) == 0;
      if (!taken)
        return n;
    }
}

/* The names the container answers to on a user network: its name, its --network-alias names there and its short ID
   (Docker's), NULL-terminated. */
static char **
dns_names (const struct container *c, json_t *endpoint)
{
  char **v = xcalloc (1, sizeof (char *));
  strv_push (&v, container_name (c));
  size_t i;
  json_t *a;
  char short_id[13];
  snprintf (short_id, sizeof short_id, "%.12s", c->id);
  /* connect records the short ID among the aliases, as Docker's does */
  json_array_foreach (json_object_get (endpoint, "Aliases"), i, a) if (strcmp (json_string_value (a), short_id) != 0)
      strv_push (&v, json_string_value (a));
  strv_push (&v, short_id);
  return v;
}

/* The veth of attachment att in the namespace (which exists), on the bridge (made by the network's first container)
   and the names, once the attachment is recorded.  The primary attachment (the container's first network) has the
   default routes. */
static int
connect_locked (const struct isola_store *s, struct container *c, json_t *record, json_t *att, json_t *endpoint,
                bool primary, isola_error_t *err)
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
  struct nl_veth_peer peer = { .netns = netns,
                               .ifname = network_attachment_interface (att),
                               .addr = addr,
                               .prefix = subnet.prefix,
                               .gateway = primary ? gateway : 0 };
  if (nl_mac_parse (json_string_value (json_object_get (att, "MacAddress")), peer.mac) < 0)
    nl_mac_for_addr (addr, peer.mac);
  const char *addr6 = json_string_value (json_object_get (att, "GlobalIPv6Address"));
  struct ipv6_net subnet6;
  struct in6_addr gateway6;
  if (addr6 && network_subnet6_of (record, &subnet6, &gateway6) == 0 && inet_pton (AF_INET6, addr6, &peer.addr6) == 1)
    peer.has6 = true, peer.prefix6 = subnet6.prefix, peer.gateway6 = primary ? gateway6 : in6addr_any;
  if ((ret = bridge_ensure (&bridge, err)) < 0)
    return ret;
  trace_mark ("network: bridge there");
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
      cleanup_strv char **names = dns_names (c, endpoint);
      ret = dns_add (s, json_string_value (json_object_get (record, "Name")), gateway, c->id, addr, addr6, names, err);
    }
  return ret;
}

/* --ip's address (checked to be an IPv4 one at create or connect), else 0: the network's first free one. */
static uint32_t
wanted_address (json_t *endpoint)
{
  uint32_t a = 0;
  const char *ip = json_string_value (json_object_get (json_object_get (endpoint, "IPAMConfig"), "IPv4Address"));
  return ip && ipv4_addr_parse (ip, &a) == 0 ? a : 0;
}

/* What attachment att made (its names, its lease; its veth when delete_veth, else the namespace takes it), undone. */
static void
undo_attachment (const struct isola_store *s, json_t *att, const char *container_id, bool delete_veth)
{
  if (json_array_size (json_object_get (att, "DNS")) > 0)
    dns_remove (s, json_string_value (json_object_get (att, "Network")) ?: "", container_id);
  const char *veth = json_string_value (json_object_get (att, "Veth"));
  if (delete_veth && veth && nl_link_exists (veth))
    (void)nl_link_delete (veth, NULL);
  uint32_t addr;
  if (ipv4_addr_parse (json_string_value (json_object_get (att, "IPAddress")), &addr) == 0)
    network_release (s, json_string_value (json_object_get (att, "NetworkID")) ?: "", addr, container_id);
}

/* The attachment's record for the container on network record at addr, as interface ethN. */
static json_t *
attachment_record (const struct container *c, json_t *record, uint32_t addr, unsigned n, isola_error_t *err)
{
  struct ipv4_net subnet;
  uint32_t gateway = 0;
  if (network_subnet_of (record, &subnet, &gateway, err) < 0)
    return NULL;
  const char *name = json_string_value (json_object_get (record, "Name"));
  const char *id = json_string_value (json_object_get (record, "Id"));
  cleanup_free char *ip = ipv4_addr_format (addr), *gw = ipv4_addr_format (gateway), *veth = host_veth_name (c, n);
  cleanup_free char *ifname = xasprintf ("eth%u", n);
  /* --mac-address (Config.MacAddress, checked at create) for the first interface, else Docker's for the address. */
  uint8_t m[6];
  if (n > 0 || nl_mac_parse (json_string_value (json_object_get (container_config (c), "MacAddress")), m) < 0)
    nl_mac_for_addr (addr, m);
  char mac[18];
  snprintf (mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  /* Docker's endpoint IDs differ between a container's networks: the container's ID mixed with the network's. */
  char endpoint[DIGEST_HEX_LEN + 1];
  if (n == 0)
    snprintf (endpoint, sizeof endpoint, "%.32s%.32s", c->id + 32, c->id);
  else
    snprintf (endpoint, sizeof endpoint, "%.32s%.32s", c->id + 32, id);
  /* Docker's embedded DNS answers only on user networks: aardvark-dns for those, the host's resolvers on the
     default bridge. */
  json_t *dns = json_array ();
  if (strcmp (name, NETWORK_DEFAULT) != 0)
    json_array_append_new (dns, json_string (gw));
  json_t *att = json_pack ("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:s, s:s, s:s}", "Network", name, "NetworkID",
                           id, "EndpointID", endpoint, "IPAddress", ip, "IPPrefixLen", subnet.prefix, "Gateway", gw,
                           "MacAddress", mac, "ContainerName", container_name (c), "DNS", dns, "Veth", veth, "Bridge",
                           json_string_value (json_object_get (record, "IsolaBridge")), "Interface", ifname);
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
  return att;
}

/* Puts the container, whose namespace exists, on the network choice names (with its endpoint settings): an address
   leased, the attachment appended to atts and recorded before anything is made, its veth, its names; the first
   attachment (primary) has the default routes and the published ports.  Under the network lock; on failure, what
   it made is undone and atts is as it was.  publish: at a start, where the process attaching (the monitor) holds the
   host ports for the run (ports.h); a running container's ports stay with the network it started on. */
static int
attach_one (const struct isola_store *s, struct container *c, json_t *choice, json_t *atts, bool publish,
            isola_error_t *err)
{
  const char *wanted = json_string_value (json_object_get (choice, "Name"));
  json_t *endpoint = json_object_get (choice, "Endpoint");
  bool primary = json_array_size (atts) == 0;
  cleanup_json json_t *record = NULL;
  uint32_t addr = 0;
  int ret = network_get (s, wanted, true, &record, err);
  if (ret == 0 && network_attachment_to (atts, json_string_value (json_object_get (record, "Id"))))
    return 0; /* named twice (by name and by ID): one endpoint, as Docker's */
  if (ret == 0)
    ret = network_lease (s, record, c->id, wanted_address (endpoint), &addr, err);
  if (ret < 0)
    return ret;
  json_t *att = attachment_record (c, record, addr, free_interface (atts), err);
  if (att == NULL)
    {
      network_release (s, json_string_value (json_object_get (record, "Id")), addr, c->id);
      return -EINVAL;
    }
  json_array_append_new (atts, att);
  trace_mark ("network: address leased");
  /* Recorded first: whatever happens next, detach knows what to undo. */
  if ((ret = write_attachments (c, atts, err)) == 0)
    {
      trace_mark ("network: attachment recorded");
      /* The published ports (their host ports held, their rules) once the bridge is there; recorded again only when
         there are some, for teardown and NetworkSettings.Ports. */
      const char *ip = json_string_value (json_object_get (att, "IPAddress"));
      if ((ret = connect_locked (s, c, record, att, endpoint, primary, err)) == 0 && primary && publish
          && (ret = ports_publish (c, record, ip, att, err)) == 0
          && json_object_size (json_object_get (att, "Ports")) > 0)
        ret = write_attachments (c, atts, err);
    }
  if (ret < 0)
    {
      if (primary && publish)
        ports_unpublish (c);
      undo_attachment (s, att, c->id, true);
      json_array_remove (atts, json_array_size (atts) - 1);
      (void)write_attachments (c, atts, NULL);
      return isola_error_wrap (err, ret, "connect container %.12s to network %s", c->id, wanted);
    }
  return 0;
}

/* The resolvers of the container's user networks (their gateways, where aardvark-dns answers), in order. */
static json_t *
dns_servers (json_t *atts)
{
  json_t *servers = json_array ();
  size_t i, j;
  json_t *att, *v;
  json_array_foreach (atts, i, att) json_array_foreach (json_object_get (att, "DNS"), j, v)
      json_array_append (servers, v);
  return servers;
}

/* The networks config.json chooses now: connect and disconnect of a running container write it while its monitor,
   which restarts it by its restart policy, holds the record it started with. */
static json_t *
current_choices (const struct container *c)
{
  cleanup_free char *path = container_path (c, "config.json");
  cleanup_json json_t *config = json_load_file (path, 0, NULL);
  if (!json_is_object (config))
    return network_choices (c);
  struct container now = *c;
  now.config = config;
  return network_choices (&now);
}

/* Whether the container's network mode gives it a namespace of its own (Docker's sandbox): a network's name, not
   none, host, container:ID or ns:PATH.  One disconnected from all its networks before it starts still gets it, with
   lo only, so that a network connected while it runs has somewhere to go (as Docker's). */
static bool
own_namespace (const struct container *c)
{
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  return mode && *mode && strcmp (mode, "none") != 0 && strcmp (mode, "host") != 0 && !nsmode_container (mode)
         && !str_has_prefix (mode, "ns:");
}

int
network_attach (const struct isola_store *s, struct container *c, isola_error_t *err)
{
  cleanup_json json_t *choices = current_choices (c);
  if (json_array_size (choices) == 0 && !own_namespace (c))
    return 0;
  cleanup_close int lock = -1;
  int ret = network_lock (s, &lock, err);
  trace_mark ("network: locked");
  /* again under the lock, which connect and disconnect hold while they write the record */
  json_decref (choices);
  choices = current_choices (c);
  if (ret == 0)
    ret = detach_locked (s, c, err); /* what a crashed run left */
  cleanup_free char *netns = container_path (c, "netns");
  if (ret == 0 && (ret = make_netns_file (netns, err)) == 0)
    trace_mark ("network: namespace made");
  if (ret < 0)
    return ret;
  cleanup_json json_t *atts = json_array ();
  size_t i;
  json_t *choice;
  json_array_foreach (choices, i, choice) if ((ret = attach_one (s, c, choice, atts, true, err)) < 0) break;
  if (ret == 0 && json_array_size (choices) == 0 && (ret = write_attachments (c, atts, err)) == 0)
    ret = nl_lo_up (netns, err);
  if (ret < 0)
    {
      (void)detach_locked (s, c, NULL);
      return ret;
    }
  hosts_swap_address (c, "127.0.1.1", json_string_value (json_object_get (json_array_get (atts, 0), "IPAddress")));
  cleanup_json json_t *servers = dns_servers (atts);
  resolv_for_dns (c, servers);
  return 0;
}

/* Whether the container is on a network now: its namespace and its record are there (under the network lock: a
   monitor that ends its run removes them under it). */
static bool
attached_now (const struct container *c)
{
  cleanup_free char *path = container_path (c, "network.json"), *netns = container_path (c, "netns");
  return path_exists (path) && path_exists (netns);
}

int
network_attach_running (const struct isola_store *s, struct container *c, json_t *choice, isola_error_t *err)
{
  if (!attached_now (c))
    return isola_error_fail (err, ESRCH, "container %.12s has no network namespace", c->id);
  cleanup_json json_t *atts = network_attachments (c);
  cleanup_json json_t *copy = json_deep_copy (atts);
  int ret = attach_one (s, c, choice, copy, false, err);
  if (ret == 0 && json_array_size (atts) == 0)
    hosts_swap_address (c, "127.0.1.1", json_string_value (json_object_get (json_array_get (copy, 0), "IPAddress")));
  return ret;
}

int
network_detach_running (const struct isola_store *s, struct container *c, const char *network_id, isola_error_t *err)
{
  cleanup_json json_t *atts = network_attachments (c);
  cleanup_json json_t *copy = json_deep_copy (atts);
  json_t *att = network_attachment_to (copy, network_id);
  if (att == NULL)
    return 0;
  size_t index = 0;
  while (json_array_get (copy, index) != att)
    index++;
  /* The host ports stay held by the monitor until the run ends; their rules go, or follow the default route to the
     next network. */
  json_t *heir = index == 0 ? json_array_get (copy, 1) : NULL;
  if (json_object_size (json_object_get (att, "Ports")) > 0 && (heir == NULL || ports_move (c, att, heir, NULL) < 0))
    ports_unpublish (c);
  undo_attachment (s, att, c->id, true);
  const char *ip = json_string_value (json_object_get (att, "IPAddress"));
  if (index == 0)
    {
      const char *next = json_string_value (json_object_get (json_array_get (copy, 1), "IPAddress"));
      hosts_swap_address (c, ip, next ?: "127.0.1.1");
    }
  json_array_remove (copy, index);
  int ret = write_attachments (c, copy, err);
  /* The first network gone, the next one takes the default routes, as Docker's sandbox moves its gateway. */
  json_t *next = json_array_get (copy, 0);
  uint32_t gateway = 0;
  struct in6_addr gateway6 = in6addr_any;
  const char *gw6 = json_string_value (json_object_get (next, "IPv6Gateway"));
  if (ret == 0 && index == 0 && next
      && ipv4_addr_parse (json_string_value (json_object_get (next, "Gateway")), &gateway) == 0
      && (gw6 == NULL || inet_pton (AF_INET6, gw6, &gateway6) == 1))
    {
      cleanup_free char *netns = container_path (c, "netns");
      ret = nl_default_route_add (netns, network_attachment_interface (next), gateway, &gateway6, err);
    }
  return ret;
}

static int
detach_locked (const struct isola_store *s, struct container *c, isola_error_t *err)
{
  (void)err;
  cleanup_free char *path = container_path (c, "network.json"), *netns = container_path (c, "netns");
  cleanup_json json_t *atts = network_attachments (c);
  if (json_array_size (atts) == 0 && !path_exists (path) && !path_exists (netns))
    return 0;
  trace_mark ("network: detach");
  ports_unpublish (c);
  /* The veths go with the namespace: unmounted, the namespace has no user left (the container's processes are
     gone) and the kernel destroys it with its ends of the pairs, which takes the host's ends.  Deleting the veth
     here instead cost ~19 ms (the kernel waits for RCU readers) between the container's exit and its exit code. */
  remove_netns_file (netns);
  trace_mark ("network: namespace removed");
  size_t i;
  json_t *att;
  json_array_foreach (atts, i, att) undo_attachment (s, att, c->id, false);
  const char *ip = json_string_value (json_object_get (json_array_get (atts, 0), "IPAddress"));
  if (ip)
    hosts_swap_address (c, ip, "127.0.1.1");
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

/* Whether network choice (a name or ID as recorded) names the network of attachment att. */
static bool
choice_names (const char *choice, json_t *att)
{
  const char *name = json_string_value (json_object_get (att, "Network")) ?: "";
  const char *id = json_string_value (json_object_get (att, "NetworkID")) ?: "";
  return choice && choice[0] && (strcmp (choice, name) == 0 || str_has_prefix (id, choice));
}

/* The endpoint settings (--ip, --network-alias) chosen for the network of att (NULL: the first choice's). */
static json_t *
endpoint_for (json_t *choices, json_t *att)
{
  size_t i;
  json_t *choice;
  json_array_foreach (choices, i, choice)
  {
    if (att == NULL || choice_names (json_string_value (json_object_get (choice, "Name")), att))
      return json_object_get (choice, "Endpoint");
  }
  return NULL;
}

/* A member of endpoint settings, as Docker shows it: null when unset. */
static json_t *
endpoint_member (json_t *endpoint, const char *key)
{
  json_t *v = json_object_get (endpoint, key);
  return v ? v : json_null ();
}

/* One of NetworkSettings.Networks: the attachment's addresses (att NULL: the container is not running, empty). */
static json_t *
endpoint_settings_json (json_t *att, json_t *endpoint)
{
  const char *ip = json_string_value (json_object_get (att, "IPAddress")) ?: "";
  const char *gw = json_string_value (json_object_get (att, "Gateway")) ?: "";
  const char *mac = json_string_value (json_object_get (att, "MacAddress")) ?: "";
  const char *ip6 = json_string_value (json_object_get (att, "GlobalIPv6Address")) ?: "";
  const char *gw6 = json_string_value (json_object_get (att, "IPv6Gateway")) ?: "";
  json_int_t prefix6 = att ? json_integer_value (json_object_get (att, "GlobalIPv6PrefixLen")) : 0;
  json_int_t prefix = att ? json_integer_value (json_object_get (att, "IPPrefixLen")) : 0;
  return json_pack ("{s:O, s:n, s:O, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:s, s:s, s:n}", "IPAMConfig",
                    endpoint_member (endpoint, "IPAMConfig"), "Links", "Aliases", endpoint_member (endpoint, "Aliases"),
                    "NetworkID", json_string_value (json_object_get (att, "NetworkID")) ?: "", "EndpointID",
                    json_string_value (json_object_get (att, "EndpointID")) ?: "", "Gateway", gw, "IPAddress", ip,
                    "IPPrefixLen", prefix, "IPv6Gateway", gw6, "GlobalIPv6PrefixLen", (int)prefix6, "GlobalIPv6Address",
                    ip6, "MacAddress", mac, "DriverOpts");
}

/* NetworkSettings.Networks: the networks the container is on while it runs, with its addresses there, else the
   ones it will be on at its next start (Docker's, without addresses). */
static json_t *
networks_json (const struct container *c, json_t *atts, json_t *choices)
{
  json_t *networks = json_object ();
  size_t i, j;
  json_t *att, *choice;
  json_array_foreach (atts, i, att)
      json_object_set_new (networks, json_string_value (json_object_get (att, "Network")) ?: "",
                           endpoint_settings_json (att, endpoint_for (choices, att)));
  json_array_foreach (choices, i, choice)
  {
    const char *name = json_string_value (json_object_get (choice, "Name"));
    bool attached = false;
    json_array_foreach (atts, j, att) attached = attached || choice_names (name, att);
    if (name && !attached && json_array_size (atts) == 0)
      json_object_set_new (networks, name, endpoint_settings_json (NULL, json_object_get (choice, "Endpoint")));
  }
  /* none and host: shown as networks of their own, as Docker does, unless connect or disconnect chose since. */
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  bool chosen = json_object_get (c->config, "Network") || json_object_get (c->config, "Networks");
  if (json_object_size (networks) == 0 && !chosen && mode && (strcmp (mode, "none") == 0 || strcmp (mode, "host") == 0))
    json_object_set_new (networks, mode, endpoint_settings_json (NULL, container_endpoint (c)));
  return networks;
}

json_t *
network_settings_json (const struct container *c)
{
  cleanup_json json_t *atts = network_attachments (c), *choices = network_choices (c);
  /* Docker's top-level fields describe the default bridge only; a user network leaves them empty. */
  json_t *top = NULL, *att;
  size_t i;
  json_array_foreach (
      atts, i, att) if (strcmp (json_string_value (json_object_get (att, "Network")) ?: "", NETWORK_DEFAULT) == 0) top
      = att;
  const char *ip = json_string_value (json_object_get (top, "IPAddress")) ?: "";
  const char *gw = json_string_value (json_object_get (top, "Gateway")) ?: "";
  const char *mac = json_string_value (json_object_get (top, "MacAddress")) ?: "";
  int prefix = top ? (int)json_integer_value (json_object_get (top, "IPPrefixLen")) : 0;
  cleanup_free char *sandbox_key = network_netns_path (c);
  return json_pack ("{s:s, s:s, s:b, s:s, s:o, s:s, s:o, s:n, s:n, s:s, s:s, s:i, s:s, s:i, s:s, s:s, s:o}", "Bridge",
                    "", "SandboxID", sandbox_key ? c->id : "", "HairpinMode", 0, "LinkLocalIPv6Address", "",
                    "LinkLocalIPv6PrefixLen", json_integer (0), "SandboxKey", sandbox_key ? sandbox_key : "", "Ports",
                    ports_settings_json (json_array_get (atts, 0)), "SecondaryIPAddresses", "SecondaryIPv6Addresses",
                    "EndpointID", json_string_value (json_object_get (top, "EndpointID")) ?: "", "Gateway", gw,
                    "GlobalIPv6PrefixLen", 0, "IPAddress", ip, "IPPrefixLen", prefix, "IPv6Gateway", "", "MacAddress",
                    mac, "Networks", networks_json (c, atts, choices));
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
  cleanup_json json_t *atts = network_attachments (c);
  /* What the host's end sends, the container's receives. */
  static const char *const names[][2] = {
    { "rx_bytes", "tx_bytes" },     { "rx_packets", "tx_packets" }, { "rx_errors", "tx_errors" },
    { "rx_dropped", "tx_dropped" }, { "tx_bytes", "rx_bytes" },     { "tx_packets", "rx_packets" },
    { "tx_errors", "rx_errors" },   { "tx_dropped", "rx_dropped" },
  };
  size_t i;
  json_t *att;
  json_array_foreach (atts, i, att)
  {
    const char *veth = json_string_value (json_object_get (att, "Veth"));
    if (veth == NULL || strchr (veth, '/') || veth[0] == '.')
      continue;
    json_t *counters = json_object ();
    for (size_t k = 0; k < ARRAY_SIZE (names); k++)
      json_object_set_new (counters, names[k][0], json_integer (interface_counter (veth, names[k][1])));
    json_object_set_new (out, network_attachment_interface (att), counters);
  }
  return out;
}
