/* A container on a network: its persistent network namespace (ROOT/containers/ID/netns, a bind-mounted nsfs made
   before the container starts, which the driver joins), a veth pair made over netlink (vethID on the network's
   bridge, eth0 inside with the leased address, Docker's MAC for it and the default route via the gateway), its
   names in aardvark-dns on user networks, its address lease, and what to tear down, recorded in
   ROOT/containers/ID/network.json before anything is made:

   {"Network", "NetworkID", "EndpointID", "IPAddress", "IPPrefixLen", "Gateway", "MacAddress", "ContainerName",
    "DNS": [servers: the gateway on a user network], "Veth": the host's end, "Bridge"}

   The network's bridge and firewall rules are made by its first container and stay (bridge.h).  Attach and detach
   run in the container's monitor (start, end of a run) and in the next command after a crash (rm, start: driver
   cleanup); detach is idempotent and also undoes a half-made attach. */
#ifndef ISOLA_NETWORK_ATTACH_H
#define ISOLA_NETWORK_ATTACH_H

#include <stdbool.h>

#include <jansson.h>

#include "base/error.h"
#include "container/container.h"
#include "store/store.h"

/* The network a HostConfig.NetworkMode puts a container on ("bridge" or a user network's name or ID), or NULL for
   none, host, container:ID, ns:PATH. */
const char *network_mode_network (const char *mode);

/* The network the container is on at its next start (a name or ID as recorded): the one network connect chose
   (config.json's "Network", network/connect.h; null: none), else NetworkMode's.  NULL for none. */
const char *network_of_container (const struct container *c);

/* Puts the container on its network (nothing for a mode without one). */
int network_attach (const struct isola_store *s, struct container *c, isola_error_t *err);

/* Takes the container off its network: its veth and names removed, the namespace unmounted, the lease released. */
int network_detach (const struct isola_store *s, struct container *c, isola_error_t *err);

/* The same, for a caller without the store at hand (a driver's cleanup): the store is the one c->dir is in. */
int network_detach_container (struct container *c, isola_error_t *err);

/* After its monitor died (kill -9, a crash), what the container's run left on its network (the veth, the published
   ports' firewall rules, the names, the lease) is torn down by whoever notices first: ps, port, inspect.  Nothing
   while a monitor runs the container (checked again under the network lock, which a starting monitor takes only
   after its running lock) or when nothing was left. */
void network_reap (const struct isola_store *s, struct container *c);

/* ROOT/containers/ID/netns when the container has one (attached), else NULL. */
char *network_netns_path (const struct container *c);

/* Docker's `networks` of the stats API for the running container: {"eth0": {rx_bytes, rx_packets, rx_errors,
   rx_dropped, tx_…}} as the container sees its interface (the counters of the veth's host end, their directions
   swapped); an empty object for a container without a network. */
json_t *network_stats_json (const struct container *c);

/* inspect's NetworkSettings for the container (Docker's shape). */
json_t *network_settings_json (const struct container *c);

#endif
