/* Published ports (-p, -P): a container's HostConfig.PortBindings (and, with PublishAllPorts, every port of its
   Config.ExposedPorts) made reachable from the host, IPv4 only, in both isolation modes (a VM's guest has the
   address of its namespace's veth: driver/vm_net.h).

   At attach, under ROOT/networks/lock, for each binding:
   - the host port is reserved by binding it (and listening, for TCP), as Docker's daemon does: a port that anything
     holds, isola or not, is refused before anything is made ("port is already allocated"), a port range gives its
     first free port, no port the kernel's choice of a free one.  The process that attached (the container's
     monitor) keeps these sockets until it detaches; they never see a packet, the rules below take them first;
   - iptables rules, each tagged `-m comment --comment isola:ID`, made with one `iptables-restore --noflush`:
     nat PREROUTING (from elsewhere) and OUTPUT (from this host) DNAT of the host address (0.0.0.0: any local
     address, `-m addrtype --dst-type LOCAL`) and port to the container's address and port; nat POSTROUTING
     MASQUERADE of what comes from 127.0.0.0/8 (with route_localnet on the bridge, so that 127.0.0.1:PORT reaches
     the container as with Docker's proxy, and the container answers the bridge's address); filter FORWARD
     ACCEPT towards the container's port;
   - the mappings are recorded as Docker's NetworkSettings.Ports in the attachment (network.json "Ports").
   Detach removes every rule tagged with the container's ID (iptables-save, its lines turned into -D) and closes
   the sockets: also from another process after kill -9 of the monitor, since the tag, not a record, finds them. */
#ifndef ISOLA_NETWORK_PORTS_H
#define ISOLA_NETWORK_PORTS_H

#include <jansson.h>

#include "base/error.h"
#include "container/container.h"

/* Publishes c's ports towards ip (its address on the network of record, whose bridge gets the rules) and sets
   att's "Ports".  Nothing is left on failure. */
int ports_publish (const struct container *c, json_t *record, const char *ip, json_t *att, isola_error_t *err);

/* c's published ports moved from attachment from (which has "Ports") to attachment to, whose address and bridge
   the rules then name (to gets the "Ports"): the host ports stay held by the monitor that runs c.  The first network
   of a running container disconnected, its ports go to the next one, as Docker's sandbox moves them with its
   gateway.  On failure c has no rules left. */
int ports_move (const struct container *c, json_t *from, json_t *to, isola_error_t *err);

/* Removes c's rules and the sockets this process holds for it. */
void ports_unpublish (const struct container *c);

/* NetworkSettings.Ports of a container's attachment (NULL: not attached, {}). */
json_t *ports_settings_json (json_t *att);

/* NetworkSettings.Ports of container c, {} when it is not on a network. */
json_t *ports_of_container (const struct container *c);

/* Docker's PORTS column (api/types DisplayablePorts) of a NetworkSettings.Ports: "0.0.0.0:8080->80/tcp, 53/udp". */
char *ports_displayable (json_t *ports);

#endif
