/* `network connect` and `network disconnect`: which networks a container is on.

   A container is on the networks of its record, in order (network_choices, attach.h): HostConfig.NetworkMode's with
   its endpoint settings (--ip, --network-alias) until connect or disconnect writes config.json's
     "Networks": [{"Name": "NAME", "Endpoint": {"IPAMConfig", "Aliases"}}, …]   ([]: on no network)
   (records before it had "Network": "NAME" or null, and "Endpoint", for one network: still read).
   HostConfig.NetworkMode stays as created, as Docker's does.  The first network is the primary one (default routes,
   published ports, /etc/hosts); each gets its interface, eth0, eth1…

   A stopped container's choice is used at its next start.  A running process container is changed at once: a veth
   more or less in its namespace, its names in aardvark-dns (network_attach_running).  A VM container is on one
   network at a time and changed only while stopped (docs/NETWORK.md: why). */
#ifndef ISOLA_NETWORK_CONNECT_H
#define ISOLA_NETWORK_CONNECT_H

#include <stdbool.h>

#include <jansson.h>

#include "base/error.h"
#include "container/container.h"
#include "store/store.h"

/* What a container's isolation allows of its networks (its driver's: driver.h). */
struct network_limits
{
  unsigned max_networks;                                   /* how many at once, 0: no limit */
  unsigned (*max_networks_of) (const struct container *c); /* when it depends on the container (NULL: it does not) */
  /* After connect or disconnect changed a running container's namespace (its interface ifname made, or gone): what
     else must follow it (a VM's guest); NULL: nothing.  Called without the network lock. */
  int (*running_changed) (struct container *c, const char *ifname, bool connected, isola_error_t *err);
};

/* Docker's EndpointSettings of a connect (Aliases, IPAMConfig.IPv4Address; NULL: none), checked: EINVAL. */
int network_endpoint_check (json_t *endpoint, isola_error_t *err);

/* Puts container c on network what too, with endpoint's settings (may be NULL); the container's record is written,
   and a running container gets the network at once.  Docker's errors for host, none and container: modes and for a
   running container already on the network (EPERM: Docker's 403); EBUSY for a running container without a namespace of
   its own, EEXIST for a VM container on as many networks as its guest has interfaces. */
int network_connect (const struct isola_store *s, struct container *c, const struct network_limits *limits,
                     const char *what, json_t *endpoint, isola_error_t *err);

/* Takes container c off network what, at once when it runs (ENOENT: Docker's "is not connected"). */
int network_disconnect (const struct isola_store *s, struct container *c, const struct network_limits *limits,
                        const char *what, isola_error_t *err);

#endif
