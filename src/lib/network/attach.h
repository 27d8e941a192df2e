/* A container on its networks: its persistent network namespace (ROOT/containers/ID/netns, a bind-mounted nsfs made
   before the container starts, which the driver joins), and for each network a veth pair made over netlink (the host's
   end on the network's bridge, ethN inside with the leased address, Docker's MAC for it; the first network's has the
   default routes and the published ports), its names in aardvark-dns on user networks, its address lease, and what
   to tear down, recorded in ROOT/containers/ID/network.json before anything is made:

   {"Attachments": [{"Network", "NetworkID", "EndpointID", "IPAddress", "IPPrefixLen", "Gateway", "MacAddress",
                     "ContainerName", "DNS": [servers: the gateway on a user network], "Veth": the host's end,
                     "Bridge", "Interface": "eth0"…, "Ports" (the first), "GlobalIPv6Address"…}, …]}

   (isola wrote one attachment object, without "Attachments" and "Interface", before a container could be on several
   networks: that file is read as one attachment, eth0.)

   The network's bridge and firewall rules are made by its first container and stay (bridge.h).  Attach and detach
   run in the container's monitor (start, end of a run) and in the next command after a crash (rm, start: driver
   cleanup); detach is idempotent and also undoes a half-made attach.  network connect and disconnect of a running
   container add and remove one attachment from the CLI or the server (network_attach_running), under the network
   lock, which the monitor's detach also takes. */
#ifndef ISOLA_NETWORK_ATTACH_H
#define ISOLA_NETWORK_ATTACH_H

#include <stdbool.h>

#include <jansson.h>

#include "base/error.h"
#include "container/container.h"
#include "network/records.h"
#include "store/store.h"

/* Puts the container on its networks (nothing for a mode without one). */
int network_attach (const struct isola_store *s, struct container *c, isola_error_t *err);

/* Under the network lock, for a container running on its namespace: puts it on one more network (choice as in
   network_choices: its interface the first free ethN, no default route unless it is the only one), or takes it off
   the network of ID network_id (its veth deleted; nothing when it is not on it).  ESRCH: the container has no
   namespace (its run has ended). */
int network_attach_running (const struct isola_store *s, struct container *c, json_t *choice, isola_error_t *err);
int network_detach_running (const struct isola_store *s, struct container *c, const char *network_id,
                            isola_error_t *err);

/* Takes the container off its networks: its veths and names removed, the namespace unmounted, the leases
   released. */
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
   rx_dropped, tx_…}, "eth1": …} as the container sees its interfaces (the counters of the veth's host end, their
   directions swapped); an empty object for a container without a network. */
json_t *network_stats_json (const struct container *c);

/* inspect's NetworkSettings for the container (Docker's shape). */
json_t *network_settings_json (const struct container *c);

#endif
