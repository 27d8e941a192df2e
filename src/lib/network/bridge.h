/* A network's bridge and firewall, made once per network (the first time a container needs them, under the
   network lock) rather than for every container:

   - the bridge device (isola0 for the default network, isolaN for user ones), up, with the gateway's address;
   - net.ipv4.ip_forward on in the namespace;
   - iptables rules, each carrying the comment "isola DEVICE" (one iptables-restore for all of them): the
     containers' traffic accepted through FORWARD, and masqueraded leaving the subnet; an --internal network gets
     no masquerade, and its forwarding to and from other devices is dropped.

   The bridge's existence stands for the rest: bridge_ensure does nothing more when it is there.  bridge_remove
   (network rm, prune) deletes the rules and the device.  The default network's bridge is never removed (Docker's
   docker0 stays too): it is the same isola0 for every store in the namespace, and the next container would make it
   again, rules and all. */
#ifndef ISOLA_NETWORK_BRIDGE_H
#define ISOLA_NETWORK_BRIDGE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct bridge_spec
{
  const char *id;     /* the network's ID */
  const char *device; /* isola0, isolaN */
  uint32_t subnet, gateway;
  int prefix;
  bool internal;
  bool has6; /* --ipv6: the bridge also has gateway6/prefix6 */
  struct in6_addr gateway6;
  int prefix6;
};

int bridge_ensure (const struct bridge_spec *b, isola_error_t *err);

/* Best effort, idempotent: what is not there is not an error. */
void bridge_remove (const struct bridge_spec *b);

#endif
