/* Published ports: host ports reserved by binding them, iptables DNAT rules tagged with the container's ID
   (ports.h). */
#define _GNU_SOURCE
#include "network/ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/json.h"
#include "base/subprocess.h"
#include "base/util.h"
#include "container/ports.h"
#include "network/records.h"

#define IPTABLES_SAVE    "/usr/sbin/iptables-save"
#define IPTABLES_RESTORE "/usr/sbin/iptables-restore"

/* The sockets that hold this process's container's host ports (one container per monitor). */
static int *held_fds;
static size_t n_held;

static void
hold (int fd)
{
  held_fds = xrealloc (held_fds, (n_held + 1) * sizeof (*held_fds));
  held_fds[n_held++] = fd;
}

static void
release_held (void)
{
  for (size_t i = 0; i < n_held; i++)
    close (held_fds[i]);
  free (held_fds);
  held_fds = NULL;
  n_held = 0;
}

/* --- iptables ---------------------------------------------------------------------------------------------------- */

struct fd_redirect
{
  int fd, target;
};

static int
redirect_fd (void *arg)
{
  const struct fd_redirect *r = arg;
  return dup2 (r->fd, r->target) < 0 ? -1 : 0;
}

static int
iptables_restore (const char *text, isola_error_t *err)
{
  cleanup_close int in = memfd_create ("iptables-in", MFD_CLOEXEC);
  if (in < 0 || write_all (in, text, strlen (text)) < 0 || lseek (in, 0, SEEK_SET) < 0)
    return isola_error_make (err, errno, "write iptables-restore's input");
  struct fd_redirect r = { in, 0 };
  char *const argv[] = { (char *)IPTABLES_RESTORE, (char *)"-w", (char *)"--noflush", NULL };
  return subprocess_run (argv, redirect_fd, &r, err);
}

static int
iptables_save (char **out, isola_error_t *err)
{
  cleanup_close int o = memfd_create ("iptables-out", MFD_CLOEXEC);
  if (o < 0)
    return isola_error_make (err, errno, "memfd_create");
  struct fd_redirect r = { o, 1 };
  char *const argv[] = { (char *)IPTABLES_SAVE, NULL };
  int ret = subprocess_run (argv, redirect_fd, &r, err);
  if (ret < 0)
    return ret;
  if (lseek (o, 0, SEEK_SET) < 0)
    return isola_error_make (err, errno, "read iptables-save's output");
  return read_fd_bounded (o, 64 << 20, out, NULL, err);
}

/* The tag of every rule of the container: `-m comment --comment isola:ID`. */
static char *
rule_tag (const struct container *c)
{
  return xasprintf ("isola:%s", c->id);
}

static void
append (char **text, const char *a, const char *b)
{
  char *grown = xasprintf ("%s%s%s", *text, a, b);
  free (*text);
  *text = grown;
}

/* iptables-save's lines of the container's rules as iptables-restore's -D commands, table by table. */
static char *
deletions (const char *saved, const char *tag)
{
  cleanup_free char *copy = xstrdup (saved);
  cleanup_free char *needle = xstrdup (tag);
  char *out = xstrdup (""), *table = NULL, *save = NULL;
  bool open = false;
  for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      if (line[0] == '*')
        {
          if (open)
            append (&out, "COMMIT\n", "");
          table = line, open = false;
          continue;
        }
      /* iptables-save quotes the comment: --comment "isola:ID" */
      char *at = str_has_prefix (line, "-A ") ? strstr (line, needle) : NULL;
      char next = at ? at[strlen (needle)] : 'x';
      if (table == NULL || (next != ' ' && next != '"' && next != '\0'))
        continue;
      if (!open)
        append (&out, table, "\n");
      open = true;
      append (&out, "-D ", line + 3);
      append (&out, "\n", "");
    }
  if (open)
    append (&out, "COMMIT\n", "");
  return out;
}

static int
remove_rules (const char *tag, isola_error_t *err)
{
  cleanup_free char *saved = NULL;
  int ret = iptables_save (&saved, err);
  if (ret < 0)
    return ret;
  cleanup_free char *text = deletions (saved, tag);
  return text[0] ? iptables_restore (text, err) : 0;
}

/* --- reserving host ports ------------------------------------------------------------------------------------------
 */

struct mapping
{
  const char *key; /* "80/tcp" */
  struct port_key ctr;
  char host_ip[INET_ADDRSTRLEN]; /* "0.0.0.0" for any */
  unsigned host_start, host_end; /* 0-0: any */
  unsigned host_port;            /* chosen */
};

static int
bind_one (const struct mapping *m, unsigned port, int *fd_out, unsigned *port_out)
{
  bool tcp = strcmp (m->ctr.proto, "tcp") == 0;
  int fd = socket (AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t)port) };
  (void)inet_pton (AF_INET, m->host_ip, &sa.sin_addr);
  if (bind (fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (tcp && listen (fd, 1) < 0))
    {
      int e = errno;
      close (fd);
      return -e;
    }
  socklen_t len = sizeof sa;
  if (getsockname (fd, (struct sockaddr *)&sa, &len) < 0)
    {
      int e = errno;
      close (fd);
      return -e;
    }
  *fd_out = fd;
  *port_out = ntohs (sa.sin_port);
  return 0;
}

static int
reserve (struct mapping *m, isola_error_t *err)
{
  int fd = -1, ret = -EADDRINUSE;
  for (unsigned p = m->host_start; p <= m->host_end; p++)
    {
      ret = bind_one (m, p, &fd, &m->host_port);
      if (ret != -EADDRINUSE)
        break;
    }
  if (ret == 0)
    {
      hold (fd);
      return 0;
    }
  cleanup_free char *ports = m->host_start == m->host_end ? xasprintf ("%u", m->host_start)
                                                          : xasprintf ("%u-%u", m->host_start, m->host_end);
  if (ret == -EADDRINUSE)
    return isola_error_fail (err, EADDRINUSE, "Bind for %s:%s failed: port is already allocated", m->host_ip, ports);
  return isola_error_fail (err, -ret, "Bind for %s:%s failed: %s", m->host_ip, ports, strerror (-ret));
}

/* --- the container's mappings --------------------------------------------------------------------------------------
 */

static int
add_mapping (struct mapping **ms, size_t *n, const char *key, json_t *binding, isola_error_t *err)
{
  struct mapping m = { .key = key };
  const char *ip = json_string_value (json_object_get (binding, "HostIp"));
  if (port_key_parse (key, false, &m.ctr) < 0
      || port_host_range (json_string_value (json_object_get (binding, "HostPort")), &m.host_start, &m.host_end) < 0)
    return isola_error_fail (err, EINVAL, "invalid port binding of %s", key);
  if (strcmp (m.ctr.proto, "sctp") == 0)
    return isola_error_fail (err, ENOTSUP, "publishing %s: only tcp and udp ports can be published", key);
  struct in_addr a;
  if (ip && ip[0] && inet_pton (AF_INET, ip, &a) != 1)
    return isola_error_fail (err, EINVAL, "publishing %s on %s: only IPv4 host addresses are supported", key, ip);
  snprintf (m.host_ip, sizeof m.host_ip, "%s", ip && ip[0] ? ip : "0.0.0.0");
  *ms = xrealloc (*ms, (*n + 1) * sizeof (**ms));
  (*ms)[(*n)++] = m;
  return 0;
}

/* HostConfig.PortBindings, and with PublishAllPorts each exposed port without a binding on any free port. */
static int
collect (const struct container *c, struct mapping **ms, size_t *n, isola_error_t *err)
{
  json_t *bindings = json_object_get (container_host_config (c), "PortBindings");
  const char *key;
  json_t *list;
  int ret = 0;
  json_object_foreach (bindings, key, list)
  {
    size_t i;
    json_t *b;
    json_array_foreach (list, i, b) if (ret == 0) ret = add_mapping (ms, n, key, b, err);
  }
  if (ret < 0 || !json_is_true (json_object_get (container_host_config (c), "PublishAllPorts")))
    return ret;
  json_t *exposed = json_object_get (container_config (c), "ExposedPorts"), *v;
  cleanup_json json_t *any = json_pack ("{s:s, s:s}", "HostIp", "", "HostPort", "");
  json_object_foreach (exposed, key, v)
  {
    if (ret == 0 && json_array_size (json_object_get (bindings, key)) == 0)
      ret = add_mapping (ms, n, key, any, err);
  }
  return ret;
}

/* --- rules ------------------------------------------------------------------------------------------------------- */

static char *
rules_text (const struct mapping *ms, size_t n, const char *ip, const char *bridge, const char *tag)
{
  char *nat = xstrdup ("*nat\n"), *filter = xstrdup ("*filter\n");
  for (size_t i = 0; i < n; i++)
    {
      const struct mapping *m = &ms[i];
      cleanup_free char *dst = strcmp (m->host_ip, "0.0.0.0") == 0 ? xstrdup ("-m addrtype --dst-type LOCAL")
                                                                   : xasprintf ("-d %s/32", m->host_ip);
      const char *p = m->ctr.proto;
      char *next = xasprintf (
          "%s"
          "-A PREROUTING %s -p %s -m %s --dport %u -m comment --comment %s -j DNAT --to-destination %s:%u\n"
          "-A OUTPUT %s -p %s -m %s --dport %u -m comment --comment %s -j DNAT --to-destination %s:%u\n"
          "-A POSTROUTING -s 127.0.0.0/8 -d %s/32 -o %s -p %s -m %s --dport %u -m comment --comment %s -j MASQUERADE\n",
          nat, dst, p, p, m->host_port, tag, ip, m->ctr.start, dst, p, p, m->host_port, tag, ip, m->ctr.start, ip,
          bridge, p, p, m->ctr.start, tag);
      free (nat);
      nat = next;
      next = xasprintf ("%s-I FORWARD -d %s/32 -o %s -p %s -m %s --dport %u -m comment --comment %s -j ACCEPT\n",
                        filter, ip, bridge, p, p, m->ctr.start, tag);
      free (filter);
      filter = next;
    }
  char *text = xasprintf ("%sCOMMIT\n%sCOMMIT\n", nat, filter);
  free (nat);
  free (filter);
  return text;
}

/* What reaches 127.0.0.1:PORT is routed to the bridge only with route_localnet on it (as Docker sets it on its
   bridge without its proxy). */
static int
allow_localnet (const char *bridge, isola_error_t *err)
{
  cleanup_free char *path = xasprintf ("/proc/sys/net/ipv4/conf/%s/route_localnet", bridge);
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write_all (fd, "1\n", 2) < 0)
    return isola_error_make (err, errno, "write %s", path);
  return 0;
}

/* --- publish, unpublish --------------------------------------------------------------------------------------------
 */

static json_t *
settings_of (const struct container *c, const struct mapping *ms, size_t n)
{
  json_t *ports = json_object ();
  const char *key;
  json_t *v;
  json_object_foreach (json_object_get (container_config (c), "ExposedPorts"), key, v)
      json_object_set_new (ports, key, json_null ());
  for (size_t i = 0; i < n; i++)
    {
      json_t *list = json_object_get (ports, ms[i].key);
      if (!json_is_array (list))
        json_object_set_new (ports, ms[i].key, list = json_array ());
      json_array_append_new (
          list, json_pack ("{s:s, s:o}", "HostIp", ms[i].host_ip, "HostPort", json_sprintf ("%u", ms[i].host_port)));
    }
  return ports;
}

int
ports_publish (const struct container *c, json_t *record, const char *ip, json_t *att, isola_error_t *err)
{
  cleanup_free struct mapping *ms = NULL;
  size_t n = 0;
  int ret = collect (c, &ms, &n, err);
  if (ret < 0)
    return ret;
  if (n == 0)
    {
      json_object_set_new (att, "Ports", settings_of (c, ms, n));
      return 0;
    }
  const char *bridge = json_string_value (json_object_get (record, "IsolaBridge"));
  if (bridge == NULL)
    return isola_error_fail (err, EINVAL, "network %s has no bridge device",
                             json_string_value (json_object_get (record, "Name")));
  for (size_t i = 0; i < n && ret == 0; i++)
    ret = reserve (&ms[i], err);
  cleanup_free char *tag = rule_tag (c);
  cleanup_free char *text = ret == 0 ? rules_text (ms, n, ip, bridge, tag) : NULL;
  if (ret == 0)
    ret = allow_localnet (bridge, err);
  if (ret == 0)
    ret = iptables_restore (text, err);
  if (ret < 0)
    {
      ports_unpublish (c);
      return ret;
    }
  json_object_set_new (att, "Ports", settings_of (c, ms, n));
  return 0;
}

int
ports_move (const struct container *c, json_t *from, json_t *to, isola_error_t *err)
{
  cleanup_free struct mapping *ms = NULL;
  size_t n = 0;
  int ret = collect (c, &ms, &n, err);
  json_t *ports = json_object_get (from, "Ports");
  /* each mapping's host port, as ports_publish chose it: the Nth of a key's is the Nth in its list */
  for (size_t i = 0; ret == 0 && i < n; i++)
    {
      size_t nth = 0;
      for (size_t j = 0; j < i; j++)
        nth += strcmp (ms[j].key, ms[i].key) == 0;
      const char *port
          = json_string_value (json_object_get (json_array_get (json_object_get (ports, ms[i].key), nth), "HostPort"));
      if (port == NULL || sscanf (port, "%u", &ms[i].host_port) != 1)
        ret = isola_error_fail (err, EINVAL, "container %.12s has no record of its published port %s", c->id,
                                ms[i].key);
    }
  const char *ip = json_string_value (json_object_get (to, "IPAddress"));
  const char *bridge = json_string_value (json_object_get (to, "Bridge"));
  if (ret == 0 && (ip == NULL || bridge == NULL))
    ret = isola_error_fail (err, EINVAL, "container %.12s: an attachment without an address or bridge", c->id);
  cleanup_free char *tag = rule_tag (c);
  (void)remove_rules (tag, NULL);
  cleanup_free char *text = ret == 0 && n > 0 ? rules_text (ms, n, ip, bridge, tag) : NULL;
  if (text && (ret = allow_localnet (bridge, err)) == 0)
    ret = iptables_restore (text, err);
  if (ret < 0)
    {
      (void)remove_rules (tag, NULL);
      return ret;
    }
  json_object_set (to, "Ports", ports);
  return 0;
}

/* A container that publishes nothing has no rules: no iptables-save at each of its detaches. */
static bool
publishes (const struct container *c)
{
  json_t *host = container_host_config (c);
  return json_object_size (json_object_get (host, "PortBindings")) > 0
         || (json_is_true (json_object_get (host, "PublishAllPorts"))
             && json_object_size (json_object_get (container_config (c), "ExposedPorts")) > 0);
}

void
ports_unpublish (const struct container *c)
{
  if (!publishes (c))
    {
      release_held ();
      return;
    }
  cleanup_free char *tag = rule_tag (c);
  (void)remove_rules (tag, NULL);
  release_held ();
}

json_t *
ports_settings_json (json_t *att)
{
  json_t *ports = json_object_get (att, "Ports");
  return json_is_object (ports) ? json_deep_copy (ports) : json_object ();
}

json_t *
ports_of_container (const struct container *c)
{
  cleanup_json json_t *atts = network_attachments (c);
  return ports_settings_json (json_array_get (atts, 0));
}

/* --- Docker's PORTS column -----------------------------------------------------------------------------------------
 */

struct shown_port
{
  unsigned private_port, public_port;
  char ip[INET6_ADDRSTRLEN];
  char type[8];
};

/* types.Port's order in DisplayablePorts: private port, address, public port, protocol. */
static int
compare_shown (const void *a, const void *b)
{
  const struct shown_port *x = a, *y = b;
  if (x->private_port != y->private_port)
    return x->private_port < y->private_port ? -1 : 1;
  int c = strcmp (x->ip, y->ip);
  if (c)
    return c;
  if (x->public_port != y->public_port)
    return x->public_port < y->public_port ? -1 : 1;
  return strcmp (x->type, y->type);
}

static char *
form_group (const char *key, unsigned first, unsigned last)
{
  cleanup_free char *copy = xstrdup (key);
  char *slash = strchr (copy, '/');
  const char *ip = "", *type = copy;
  if (slash)
    {
      *slash = '\0';
      ip = copy, type = slash + 1;
    }
  cleanup_free char *group = first == last ? xasprintf ("%u", first) : xasprintf ("%u-%u", first, last);
  if (ip[0])
    return xasprintf ("%s:%s->%s/%s", ip, group, group, type);
  return xasprintf ("%s/%s", group, type);
}

static void
join (char **out, const char *item)
{
  append (out, (*out)[0] ? ", " : "", item);
}

char *
ports_displayable (json_t *ports)
{
  struct shown_port *list = NULL;
  size_t n = 0;
  const char *key;
  json_t *v;
  json_object_foreach (ports, key, v)
  {
    struct port_key k;
    if (port_key_parse (key, false, &k) < 0)
      continue;
    size_t i, count = json_array_size (v);
    for (i = 0; i < (count ? count : 1); i++)
      {
        json_t *b = json_array_get (v, i);
        struct shown_port p = { .private_port = k.start };
        snprintf (p.type, sizeof p.type, "%s", k.proto);
        snprintf (p.ip, sizeof p.ip, "%s", json_string_value (json_object_get (b, "HostIp")) ?: "");
        p.public_port = (unsigned)atoi (json_string_value (json_object_get (b, "HostPort")) ?: "0");
        list = xrealloc (list, (n + 1) * sizeof (*list));
        list[n++] = p;
      }
  }
  if (n)
    qsort (list, n, sizeof (*list), compare_shown);
  /* Consecutive ports with equal private and public numbers collapse into a range per address and protocol, in
     the order their groups first appear; other mappings follow one by one. */
  char **keys = xcalloc (n + 1, sizeof (char *));
  unsigned *first = xcalloc (n + 1, sizeof (unsigned)), *last = xcalloc (n + 1, sizeof (unsigned));
  size_t n_keys = 0;
  char *result = xstrdup (""), *mappings = xstrdup ("");
  for (size_t i = 0; i < n; i++)
    {
      const struct shown_port *p = &list[i];
      cleanup_free char *group_key = NULL;
      if (p->ip[0] && p->public_port != p->private_port)
        {
          cleanup_free char *m = xasprintf ("%s:%u->%u/%s", p->ip, p->public_port, p->private_port, p->type);
          join (&mappings, m);
          continue;
        }
      group_key = p->ip[0] ? xasprintf ("%s/%s", p->ip, p->type) : xstrdup (p->type);
      size_t g = 0;
      while (g < n_keys && strcmp (keys[g], group_key) != 0)
        g++;
      if (g == n_keys)
        {
          keys[n_keys] = take_ptr (&group_key);
          first[n_keys] = last[n_keys] = p->private_port;
          n_keys++;
          continue;
        }
      if (p->private_port == last[g] + 1)
        {
          last[g] = p->private_port;
          continue;
        }
      cleanup_free char *done = form_group (keys[g], first[g], last[g]);
      join (&result, done);
      first[g] = last[g] = p->private_port;
    }
  for (size_t g = 0; g < n_keys; g++)
    {
      cleanup_free char *done = form_group (keys[g], first[g], last[g]);
      join (&result, done);
      free (keys[g]);
    }
  if (mappings[0])
    join (&result, mappings);
  free (mappings);
  free (keys);
  free (first);
  free (last);
  free (list);
  return result;
}
