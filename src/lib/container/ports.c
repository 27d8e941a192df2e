/* -p and --expose as the docker CLI reads them, and the daemon's checks of the members they fill (ports.h). */
#define _GNU_SOURCE
#include "container/ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Go's strconv.ParseUint (s, 10, 16): digits only, at most 65535. */
static int
parse_port_number (const char *s, size_t n, unsigned *out)
{
  if (n == 0 || n > 5)
    return -EINVAL;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return -EINVAL;
      v = v * 10 + (unsigned)(s[i] - '0');
    }
  if (v > 65535)
    return -EINVAL;
  *out = v;
  return 0;
}

/* nat.ParsePortRange: "N" or "N-M" with N <= M (what follows a second '-' is ignored, as Docker's split does). */
static int
parse_port_range (const char *s, unsigned *start, unsigned *end)
{
  const char *dash = strchr (s, '-');
  if (dash == NULL)
    {
      int ret = parse_port_number (s, strlen (s), start);
      *end = *start;
      return ret;
    }
  const char *second = strchr (dash + 1, '-');
  size_t end_len = second ? (size_t)(second - dash - 1) : strlen (dash + 1);
  if (parse_port_number (s, (size_t)(dash - s), start) < 0 || parse_port_number (dash + 1, end_len, end) < 0
      || *end < *start)
    return -EINVAL;
  return 0;
}

static bool
proto_valid (const char *proto)
{
  return strcmp (proto, "tcp") == 0 || strcmp (proto, "udp") == 0 || strcmp (proto, "sctp") == 0;
}

/* nat.SplitProtoPort: "80/udp" → udp, 80; "80" and "80/" → tcp, 80; "" or "/x" → "", "". */
static void
split_proto_port (char *raw, char **proto, char **port)
{
  char *slash = strchr (raw, '/');
  if (raw[0] == '\0' || raw == slash)
    {
      *proto = raw + strlen (raw), *port = raw + strlen (raw);
      return;
    }
  *port = raw;
  if (slash == NULL || slash[1] == '\0')
    {
      if (slash)
        *slash = '\0';
      *proto = (char *)"tcp";
      return;
    }
  *slash = '\0';
  char *next = strchr (slash + 1, '/');
  if (next)
    *next = '\0';
  *proto = slash + 1;
}

static void
lower (char *s)
{
  for (; *s; s++)
    if (*s >= 'A' && *s <= 'Z')
      *s = (char)(*s - 'A' + 'a');
}

int
port_key_parse (const char *key, bool range, struct port_key *out)
{
  cleanup_free char *copy = xstrdup (key);
  char *proto, *port;
  split_proto_port (copy, &proto, &port);
  if (!proto_valid (proto) || strlen (proto) >= sizeof out->proto)
    return -EINVAL;
  int ret
      = range ? parse_port_range (port, &out->start, &out->end) : parse_port_number (port, strlen (port), &out->start);
  if (!range)
    out->end = out->start;
  if (ret < 0)
    return ret;
  snprintf (out->proto, sizeof out->proto, "%s", proto);
  return 0;
}

int
port_host_range (const char *host_port, unsigned *start, unsigned *end)
{
  if (host_port == NULL || host_port[0] == '\0')
    {
      *start = *end = 0;
      return 0;
    }
  return parse_port_range (host_port, start, end);
}

static json_t *
array_at (json_t *o, const char *key)
{
  json_t *v = json_object_get (o, key);
  if (!json_is_array (v))
    json_object_set_new (o, key, v = json_array ());
  return v;
}

/* nat's splitParts: the last field is the container's port, the one before the host's, the rest the address. */
static void
split_parts (char *raw, char **ip, char **host_port, char **container_port)
{
  char *last = strrchr (raw, ':');
  *ip = raw + strlen (raw), *host_port = raw + strlen (raw);
  if (last == NULL)
    {
      *container_port = raw;
      return;
    }
  *last = '\0';
  *container_port = last + 1;
  char *before = strrchr (raw, ':');
  if (before == NULL)
    {
      *host_port = raw;
      return;
    }
  *before = '\0';
  *host_port = before + 1;
  *ip = raw;
}

static bool
ip_valid (const char *ip)
{
  unsigned char buf[16];
  return inet_pton (AF_INET, ip, buf) == 1 || inet_pton (AF_INET6, ip, buf) == 1;
}

int
ports_publish_flag (const char *spec, json_t *exposed, json_t *bindings, isola_error_t *err)
{
  cleanup_free char *copy = xstrdup (spec);
  char *ip, *host_port, *container_port, *proto;
  split_parts (copy, &ip, &host_port, &container_port);
  split_proto_port (container_port, &proto, &container_port);
  size_t ip_len = strlen (ip);
  if (ip_len >= 2 && ip[0] == '[' && ip[ip_len - 1] == ']')
    {
      ip[ip_len - 1] = '\0';
      ip++;
    }
  if (ip[0] && !ip_valid (ip))
    return isola_error_fail (err, EINVAL, "Invalid ip address: %s", ip);
  if (container_port[0] == '\0')
    return isola_error_fail (err, EINVAL, "No port specified: %s<empty>", spec);
  unsigned start, end, host_start = 0, host_end = 0;
  if (parse_port_range (container_port, &start, &end) < 0)
    return isola_error_fail (err, EINVAL, "Invalid containerPort: %s", container_port);
  if (host_port[0] && parse_port_range (host_port, &host_start, &host_end) < 0)
    return isola_error_fail (err, EINVAL, "Invalid hostPort: %s", host_port);
  /* A host range for one container port is where a free port is chosen; two ranges map one to one. */
  if (host_port[0] && end - start != host_end - host_start && end != start)
    return isola_error_fail (err, EINVAL, "Invalid ranges specified for container and host Ports: %s and %s",
                             container_port, host_port);
  cleanup_free char *lowered = xstrdup (proto);
  lower (lowered);
  if (!proto_valid (lowered))
    return isola_error_fail (err, EINVAL, "Invalid proto: %s", proto);
  for (unsigned i = 0; i <= end - start; i++)
    {
      cleanup_free char *key = xasprintf ("%u/%s", start + i, lowered);
      cleanup_free char *hp = NULL;
      if (!host_port[0])
        hp = xstrdup ("");
      else if (start == end && host_start != host_end)
        hp = xasprintf ("%u-%u", host_start, host_end);
      else
        hp = xasprintf ("%u", host_start + i);
      json_object_set_new (exposed, key, json_object ());
      json_array_append_new (array_at (bindings, key), json_pack ("{s:s, s:s}", "HostIp", ip, "HostPort", hp));
    }
  return 0;
}

int
ports_expose_flag (const char *spec, json_t *exposed, isola_error_t *err)
{
  if (strchr (spec, ':'))
    return isola_error_fail (err, EINVAL, "invalid port format for --expose: %s", spec);
  cleanup_free char *copy = xstrdup (spec);
  char *proto, *port;
  split_proto_port (copy, &proto, &port);
  unsigned start, end;
  if (port[0] == '\0')
    return isola_error_fail (err, EINVAL,
                             "invalid range format for --expose: %s, error: Empty string specified for ports.", spec);
  if (parse_port_range (port, &start, &end) < 0)
    return isola_error_fail (err, EINVAL, "invalid range format for --expose: %s, error: invalid port: %s", spec, port);
  for (unsigned p = start; p <= end; p++)
    {
      cleanup_free char *key = xasprintf ("%u/%s", p, proto);
      if (json_object_get (exposed, key) == NULL)
        json_object_set_new (exposed, key, json_object ());
    }
  return 0;
}

static int
check_bindings (json_t *bindings, isola_error_t *err)
{
  const char *key;
  json_t *list;
  json_object_foreach (bindings, key, list)
  {
    struct port_key k;
    if (port_key_parse (key, false, &k) < 0)
      return isola_error_fail (err, EINVAL, "invalid port specification: \"%s\"", key);
    if (json_is_null (list))
      continue;
    if (!json_is_array (list))
      return isola_error_fail (err, EINVAL, "invalid request: HostConfig.PortBindings must map ports to lists");
    size_t i;
    json_t *b;
    json_array_foreach (list, i, b)
    {
      json_t *ip = json_object_get (b, "HostIp"), *hp = json_object_get (b, "HostPort");
      if (!json_is_object (b) || (ip && !json_is_string (ip)) || (hp && !json_is_string (hp)))
        return isola_error_fail (err, EINVAL,
                                 "invalid request: HostConfig.PortBindings must map ports to [{HostIp, HostPort}]");
      const char *ip_text = json_string_value (ip) ?: "";
      unsigned s, e;
      if (port_host_range (json_string_value (hp), &s, &e) < 0)
        return isola_error_fail (err, EINVAL, "invalid port specification: \"%s\"", json_string_value (hp));
      if (ip_text[0] && !ip_valid (ip_text))
        return isola_error_fail (err, EINVAL, "invalid IP address: %s", ip_text);
      /* isola forwards IPv4 only (network/ports.h). */
      unsigned char buf[4];
      if (ip_text[0] && inet_pton (AF_INET, ip_text, buf) != 1)
        return isola_error_fail (err, EINVAL, "publishing on %s: only IPv4 host addresses are supported", ip_text);
    }
  }
  return 0;
}

int
ports_check (json_t *exposed, json_t *bindings, isola_error_t *err)
{
  if (exposed && !json_is_null (exposed) && !json_is_object (exposed))
    return isola_error_fail (err, EINVAL, "invalid request: ExposedPorts must be an object");
  if (bindings && !json_is_null (bindings) && !json_is_object (bindings))
    return isola_error_fail (err, EINVAL, "invalid request: HostConfig.PortBindings must be an object");
  const char *key;
  json_t *v;
  json_object_foreach (exposed, key, v)
  {
    struct port_key k;
    if (port_key_parse (key, false, &k) < 0)
      return isola_error_fail (err, EINVAL, "invalid port specification: \"%s\"", key);
  }
  return json_is_object (bindings) ? check_bindings (bindings, err) : 0;
}

int
names_check_dns (const char *ip, isola_error_t *err)
{
  return ip_valid (ip) ? 0 : isola_error_fail (err, EINVAL, "%s is not an ip address", ip);
}

/* opts.ValidateExtraHost: split at the first ':' (an IPv6 address has more). */
int
names_check_extra_host (const char *entry, isola_error_t *err)
{
  const char *colon = strchr (entry, ':');
  if (colon == NULL || colon == entry)
    return isola_error_fail (err, EINVAL, "bad format for add-host: \"%s\"", entry);
  if (strcmp (colon + 1, NAMES_HOST_GATEWAY) != 0 && !ip_valid (colon + 1))
    return isola_error_fail (err, EINVAL, "invalid IP address in add-host: \"%s\"", colon + 1);
  return 0;
}
