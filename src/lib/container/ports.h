/* Ports a container publishes or exposes, and the names it is given (--dns, --add-host).  Ports, as Docker records
   them: Config.ExposedPorts {"80/tcp": {}}, HostConfig.PortBindings {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
   and HostConfig.PublishAllPorts. The syntax of `-p`, `--expose` (the docker CLI's, nat.ParsePortSpec: the same ports,
   the same error texts) and the daemon's checks of a request's members; what is published at start is
   network/ports.h's. */
#ifndef ISOLA_CONTAINER_PORTS_H
#define ISOLA_CONTAINER_PORTS_H

#include <stdbool.h>

#include <jansson.h>

#include "base/error.h"

/* A port key "80/tcp" (or "80-90/udp": a range, as a flag's, not a request's): its numbers and protocol ("tcp",
   "udp", "sctp").  -EINVAL for anything else. */
struct port_key
{
  unsigned start, end;
  char proto[8];
};
int port_key_parse (const char *key, bool range, struct port_key *out);

/* `-p [IP:][HOSTPORT:]CTRPORT[/PROTO]`: its bindings added to bindings (PortBindings) and its ports to exposed
   (ExposedPorts), as the docker CLI does.  Docker's messages ("Invalid containerPort: x") on -EINVAL. */
int ports_publish_flag (const char *spec, json_t *exposed, json_t *bindings, isola_error_t *err);

/* `--expose PORT[-END][/PROTO]`: its ports added to exposed. */
int ports_expose_flag (const char *spec, json_t *exposed, isola_error_t *err);

/* The daemon's checks of a create request's ExposedPorts and PortBindings (either may be NULL): keys "N/proto",
   host addresses and ports ("invalid port specification: \"x\""). */
int ports_check (json_t *exposed, json_t *bindings, isola_error_t *err);

/* --dns's address: "x is not an ip address" otherwise (the docker CLI's ValidateIPAddress). */
int names_check_dns (const char *ip, isola_error_t *err);

/* --add-host's "NAME:IP" or "NAME:host-gateway" (the default bridge's gateway, as Docker 20.10's). */
#define NAMES_HOST_GATEWAY "host-gateway"
int names_check_extra_host (const char *entry, isola_error_t *err);

/* A HostPort "8080" or "8000-8010" ("" or absent: any): its range, 0-0 for any.  -EINVAL otherwise. */
int port_host_range (const char *host_port, unsigned *start, unsigned *end);

#endif
