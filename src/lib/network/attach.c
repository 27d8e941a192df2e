/* A container on a network through netavark (attach.h).  netavark, not the CNI plugins: one program, one JSON
   document on stdin for bridge + veth + addresses + port forwarding + aardvark-dns, and measured cheaper
   (docs/ARCHITECTURE.md). */
#define _GNU_SOURCE
#include "network/attach.h"

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
#include "network/network.h"
#include "network/ports.h"

#define NETAVARK_DEFAULT "/usr/lib/podman/netavark"
#define AARDVARK_DEFAULT "/usr/lib/podman/aardvark-dns"

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

char *
network_netns_path (const struct container *c)
{
  cleanup_free char *path = container_path (c, "netns");
  return path_exists (path) ? take_ptr (&path) : NULL;
}

/* --- the namespace file --------------------------------------------------------------------------------------- */

/* A child unshares a new network namespace and bind-mounts it onto path (as `ip netns add` does), which keeps it
   alive after the child exits and until it is unmounted. */
static int
make_netns_file (const char *path, isola_error_t *err)
{
  int fd = open (path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0)
    return isola_error_make (err, errno, "create %s", path);
  close (fd);
  pid_t pid = fork ();
  if (pid < 0)
    return isola_error_make (err, errno, "fork");
  if (pid == 0)
    {
      if (unshare (CLONE_NEWNET) < 0)
        _exit (1);
      if (mount ("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
        _exit (2);
      _exit (0);
    }
  int status;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      (void)unlink (path);
      return isola_error_fail (err, EIO, "make the network namespace %s (%s failed)", path,
                               WIFEXITED (status) && WEXITSTATUS (status) == 1 ? "unshare" : "bind mount");
    }
  return 0;
}

static void
remove_netns_file (const char *path)
{
  (void)umount2 (path, MNT_DETACH);
  (void)unlink (path);
}

/* --- netavark ------------------------------------------------------------------------------------------------- */

static const char *
netavark_binary (void)
{
  const char *env = getenv ("ISOLA_NETAVARK");
  return env && env[0] ? env : NETAVARK_DEFAULT;
}

/* Runs `netavark --config DIR VERB NETNS` with input on stdin; its stdout is *out (may be NULL).  Output goes to
   memory files, not pipes: aardvark-dns, which netavark starts as a daemon, must hold nothing of ours open. */
static int
run_netavark (const struct isola_store *s, const char *verb, const char *netns, const char *input, char **out,
              isola_error_t *err)
{
  cleanup_free char *config = store_path (s, "networks/aardvark");
  int made = mkdir_p (config, 0700, err);
  if (made < 0)
    return made;
  cleanup_close int in = memfd_create ("netavark-in", MFD_CLOEXEC);
  cleanup_close int o = memfd_create ("netavark-out", MFD_CLOEXEC);
  cleanup_close int e = memfd_create ("netavark-err", MFD_CLOEXEC);
  if (in < 0 || o < 0 || e < 0)
    return isola_error_make (err, errno, "memfd_create");
  if (write_all (in, input, strlen (input)) < 0 || lseek (in, 0, SEEK_SET) < 0)
    return isola_error_make (err, errno, "write netavark's input");
  const char *bin = netavark_binary ();
  pid_t pid = fork ();
  if (pid < 0)
    return isola_error_make (err, errno, "fork");
  if (pid == 0)
    {
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      if (dup2 (in, 0) < 0 || dup2 (o, 1) < 0 || dup2 (e, 2) < 0)
        _exit (127);
      close_range (3, ~0u, 0);
      char *const argv[] = { (char *)"netavark",       (char *)"--config", config,        (char *)"--aardvark-binary",
                             (char *)AARDVARK_DEFAULT, (char *)verb,       (char *)netns, NULL };
      char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
      execve (bin, argv, envp);
      _exit (127);
    }
  int status;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  cleanup_free char *stdout_text = NULL, *stderr_text = NULL;
  (void)lseek (o, 0, SEEK_SET);
  (void)lseek (e, 0, SEEK_SET);
  (void)read_fd_bounded (o, 1 << 20, &stdout_text, NULL, NULL);
  (void)read_fd_bounded (e, 1 << 16, &stderr_text, NULL, NULL);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      if (WIFEXITED (status) && WEXITSTATUS (status) == 127 && (stderr_text == NULL || !stderr_text[0]))
        return isola_error_fail (err, ENOENT, "cannot run %s (install netavark: make deps)", bin);
      /* netavark says what failed in a JSON {"error": "..."} on stdout, or on stderr. */
      cleanup_json json_t *j = stdout_text ? json_loads (stdout_text, 0, NULL) : NULL;
      const char *msg = json_string_value (json_object_get (j, "error"));
      if (msg == NULL && stderr_text)
        {
          size_t n = strlen (stderr_text);
          while (n && stderr_text[n - 1] == '\n')
            stderr_text[--n] = '\0';
          msg = stderr_text;
        }
      return isola_error_fail (err, EIO, "netavark %s: %s", verb, msg && msg[0] ? msg : "failed");
    }
  if (out)
    *out = take_ptr (&stdout_text);
  return 0;
}

/* --- attach, detach ------------------------------------------------------------------------------------------- */

static json_t *
netavark_input (const struct container *c, json_t *record, const char *ip)
{
  const char *name = json_string_value (json_object_get (record, "Name"));
  json_t *cfg = json_array_get (json_object_get (json_object_get (record, "IPAM"), "Config"), 0);
  /* Docker's embedded DNS answers only on user networks: aardvark-dns for those, nothing on the default bridge. */
  bool dns = strcmp (name, NETWORK_DEFAULT) != 0;
  json_t *aliases = json_array ();
  if (dns)
    {
      json_array_append_new (aliases, json_string (container_name (c)));
      json_array_append_new (aliases, json_stringn (c->id, 12));
    }
  json_t *net = json_pack ("{s:s, s:[s], s:o}", "interface_name", "eth0", "static_ips", ip, "aliases", aliases);
  json_t *info = json_pack ("{s:s, s:s, s:s, s:s, s:[{s:O, s:O}], s:b, s:b, s:b, s:{s:s}}", "name", name, "id",
                            json_string_value (json_object_get (record, "Id")), "driver", "bridge", "network_interface",
                            json_string_value (json_object_get (record, "IsolaBridge")), "subnets", "subnet",
                            json_object_get (cfg, "Subnet"), "gateway", json_object_get (cfg, "Gateway"),
                            "ipv6_enabled", 0, "internal", json_is_true (json_object_get (record, "Internal")),
                            "dns_enabled", dns, "ipam_options", "driver", "host-local");
  return json_pack ("{s:s, s:s, s:{s:o}, s:{s:o}, s:[]}", "container_id", c->id, "container_name", container_name (c),
                    "networks", name, net, "network_info", name, info, "port_mappings");
}

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
  return write_file_atomic (path, text, strlen (text), 0600, err);
}

/* What netavark answered: {NAME: {"interfaces": {"eth0": {"mac_address"}}, "dns_server_ips": [...]}} */
static void
note_result (json_t *att, const char *network, const char *result)
{
  cleanup_json json_t *j = json_loads (result, 0, NULL);
  json_t *n = json_object_get (j, network);
  json_t *mac = json_object_get (json_object_get (json_object_get (n, "interfaces"), "eth0"), "mac_address");
  if (json_is_string (mac))
    json_object_set (att, "MacAddress", mac);
  json_t *dns = json_object_get (n, "dns_server_ips");
  json_object_set_new (att, "DNS", json_is_array (dns) ? json_incref (dns) : json_array ());
}

static int detach_locked (const struct isola_store *s, struct container *c, isola_error_t *err);

int
network_attach (const struct isola_store *s, struct container *c, isola_error_t *err)
{
  const char *wanted
      = network_mode_network (json_string_value (json_object_get (container_host_config (c), "NetworkMode")));
  if (wanted == NULL)
    return 0;
  cleanup_close int lock = -1;
  cleanup_json json_t *record = NULL;
  int ret = network_lock (s, &lock, err);
  if (ret == 0)
    ret = detach_locked (s, c, err); /* what a crashed run left */
  if (ret == 0)
    ret = network_get (s, wanted, true, &record, err);
  if (ret < 0)
    return ret;
  struct ipv4_net subnet;
  uint32_t gateway = 0, addr = 0;
  if ((ret = network_subnet_of (record, &subnet, &gateway, err)) < 0
      || (ret = network_lease (s, record, c->id, 0, &addr, err)) < 0)
    return ret;
  cleanup_free char *ip = ipv4_addr_format (addr), *gw = ipv4_addr_format (gateway);
  cleanup_free char *netns = container_path (c, "netns");
  char endpoint[DIGEST_HEX_LEN + 1];
  snprintf (endpoint, sizeof endpoint, "%.32s%.32s", c->id + 32, c->id);
  cleanup_json json_t *input = netavark_input (c, record, ip);
  cleanup_json json_t *att = json_pack ("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:O}", "Network",
                                        json_string_value (json_object_get (record, "Name")), "NetworkID",
                                        json_string_value (json_object_get (record, "Id")), "EndpointID", endpoint,
                                        "IPAddress", ip, "IPPrefixLen", subnet.prefix, "Gateway", gw, "MacAddress", "",
                                        "ContainerName", container_name (c), "Netavark", input);
  /* Recorded first: whatever happens next, detach knows what to undo. */
  if ((ret = write_attachment (c, att, err)) < 0)
    {
      network_release (s, json_string_value (json_object_get (record, "Id")), addr, c->id);
      return ret;
    }
  cleanup_free char *text = json_dumps (input, JSON_COMPACT);
  cleanup_free char *result = NULL;
  ret = make_netns_file (netns, err);
  if (ret == 0)
    ret = run_netavark (s, "setup", netns, text, &result, err);
  if (ret == 0)
    note_result (att, json_string_value (json_object_get (record, "Name")), result);
  if (ret == 0 && (ret = ports_publish (c, record, ip, att, err)) == 0)
    ret = write_attachment (c, att, err);
  if (ret < 0)
    {
      (void)detach_locked (s, c, NULL);
      return isola_error_wrap (err, ret, "connect container %.12s to network %s", c->id,
                               json_string_value (json_object_get (record, "Name")));
    }
  hosts_swap_address (c, "127.0.1.1", ip);
  resolv_for_dns (c, json_object_get (att, "DNS"));
  return 0;
}

static int
detach_locked (const struct isola_store *s, struct container *c, isola_error_t *err)
{
  (void)err;
  cleanup_free char *path = container_path (c, "network.json"), *netns = container_path (c, "netns");
  cleanup_json json_t *att = json_load_file (path, 0, NULL);
  if (att && path_is_mount_point (netns))
    {
      cleanup_free char *input = json_dumps (json_object_get (att, "Netavark"), JSON_COMPACT);
      /* Best effort: a namespace whose veth is gone already (the kernel removes it with the namespace) still gets
         its firewall rules and DNS entries removed. */
      (void)run_netavark (s, "teardown", netns, input, NULL, NULL);
    }
  ports_unpublish (c);
  remove_netns_file (netns);
  uint32_t addr;
  const char *ip = json_string_value (json_object_get (att, "IPAddress"));
  if (att && ipv4_addr_parse (ip, &addr) == 0)
    {
      network_release (s, json_string_value (json_object_get (att, "NetworkID")) ?: "", addr, c->id);
      hosts_swap_address (c, ip, "127.0.1.1");
    }
  (void)unlink (path);
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

json_t *
network_settings_json (const struct container *c)
{
  const char *mode = json_string_value (json_object_get (container_host_config (c), "NetworkMode"));
  cleanup_free char *path = container_path (c, "network.json");
  cleanup_json json_t *att = json_load_file (path, 0, NULL);
  const char *ip = json_string_value (json_object_get (att, "IPAddress")) ?: "";
  const char *gw = json_string_value (json_object_get (att, "Gateway")) ?: "";
  const char *mac = json_string_value (json_object_get (att, "MacAddress")) ?: "";
  json_int_t prefix = att ? json_integer_value (json_object_get (att, "IPPrefixLen")) : 0;
  const char *net = json_string_value (json_object_get (att, "Network"));
  json_t *networks = json_object ();
  const char *shown = net ? net : mode ? mode : "none";
  /* A namespace given by path belongs to no network of isola's: podman shows none. */
  if (!str_has_prefix (shown, "container:") && !str_has_prefix (shown, "ns:"))
    json_object_set_new (networks, shown,
                         json_pack ("{s:n, s:n, s:n, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:s, s:s, s:n}", "IPAMConfig",
                                    "Links", "Aliases", "NetworkID",
                                    json_string_value (json_object_get (att, "NetworkID")) ?: "", "EndpointID",
                                    json_string_value (json_object_get (att, "EndpointID")) ?: "", "Gateway", gw,
                                    "IPAddress", ip, "IPPrefixLen", prefix, "IPv6Gateway", "", "GlobalIPv6PrefixLen", 0,
                                    "GlobalIPv6Address", "", "MacAddress", mac, "DriverOpts"));
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
