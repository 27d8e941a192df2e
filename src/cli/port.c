/* `isola port CONTAINER [PRIVATE_PORT[/PROTO]]`: the docker CLI's, from the container's NetworkSettings.Ports
   (network/ports.h): "80/tcp -> 0.0.0.0:8080" lines, or the host addresses of one port. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "cli.h"
#include "container/container.h"
#include "container/ports.h"
#include "network/attach.h"
#include "network/ports.h"

/* Ports in the order of their numbers, then protocols (Docker's Go map has no order of its own). */
static int
compare_keys (const void *a, const void *b)
{
  struct port_key x = { 0 }, y = { 0 };
  (void)port_key_parse (*(char *const *)a, false, &x);
  (void)port_key_parse (*(char *const *)b, false, &y);
  if (x.start != y.start)
    return x.start < y.start ? -1 : 1;
  return strcmp (x.proto, y.proto);
}

static void
print_frontends (const char *key, json_t *list)
{
  size_t i;
  json_t *b;
  json_array_foreach (list, i, b)
  {
    const char *ip = json_string_value (json_object_get (b, "HostIp")) ?: "";
    const char *port = json_string_value (json_object_get (b, "HostPort")) ?: "";
    /* Go's net.JoinHostPort: an IPv6 address in brackets. */
    bool v6 = strchr (ip, ':') != NULL;
    if (key)
      printf ("%s -> ", key);
    printf ("%s%s%s:%s\n", v6 ? "[" : "", ip, v6 ? "]" : "", port);
  }
}

static int
run_port (struct cli_ctx *ctx, int argc, char **argv)
{
  struct flag_parser p;
  int exit_code = 0;
  if (cli_flags_parse_all (&cmd_port, &p, argc, argv, &exit_code) < 0)
    return exit_code;
  if (p.nargs < 1 || p.nargs > 2)
    return cli_usage_error (&cmd_port, "\"isola port\" requires at least 1 and at most 2 arguments.");
  cleanup_store struct isola_store *store = NULL;
  if ((exit_code = cli_open_store (ctx, false, &store)))
    return exit_code;
  cleanup_error isola_error_t err = NULL;
  char id[DIGEST_HEX_LEN + 1];
  cleanup_container struct container *c = NULL;
  if (container_resolve (store, p.args[0], id, &err) < 0 || container_load_any (store, id, &c, &err) < 0)
    return cli_fail (&err);
  (void)container_refresh (c, NULL);
  network_reap (store, c);
  cleanup_json json_t *ports = ports_of_container (c);
  if (p.nargs == 2)
    {
      cleanup_free char *copy = xstrdup (p.args[1]);
      char *slash = strchr (copy, '/');
      const char *proto = slash && slash[1] ? slash + 1 : "tcp";
      if (slash)
        *slash = '\0';
      cleanup_free char *key = xasprintf ("%s/%s", copy, proto);
      struct port_key k;
      if (port_key_parse (key, false, &k) < 0)
        {
          fprintf (stderr, "Error: invalid port: %s\n", p.args[1]);
          return 1;
        }
      json_t *list = json_object_get (ports, key);
      if (!json_is_array (list))
        {
          fprintf (stderr, "Error: No public port '%s' published for %s\n", key, p.args[0]);
          return 1;
        }
      print_frontends (NULL, list);
      return 0;
    }
  size_t n = json_object_size (ports), i = 0;
  cleanup_free const char **keys = xcalloc (n + 1, sizeof (char *));
  const char *key;
  json_t *v;
  json_object_foreach (ports, key, v) keys[i++] = key;
  qsort (keys, n, sizeof (char *), compare_keys);
  for (i = 0; i < n; i++)
    print_frontends (keys[i], json_object_get (ports, keys[i]));
  return 0;
}

const struct cli_command cmd_port = {
  .name = "port",
  .run = run_port,
  .usage = "isola port CONTAINER [PRIVATE_PORT[/PROTO]]",
  .summary = "List port mappings or a specific mapping for the container",
};
