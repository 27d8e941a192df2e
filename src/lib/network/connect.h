/* `network connect` and `network disconnect`: which network a container is on, changed while it is not running.

   A container is on one network (HostConfig.NetworkMode's, else none), with its endpoint settings (--ip,
   --network-alias) in the record's "Endpoint".  connect and disconnect record another choice in the container's
   config.json, read at the next start (network_attach):
     "Network": "NAME"   connect NAME: the network the container is on instead of NetworkMode's
     "Network": null     disconnect: on no network (loopback only; a VM's NIC without a peer)
   HostConfig.NetworkMode stays as created, as Docker's does.

   isola changes a container's network only while it is not running, and a container is on one network at a time:
   docker network connect of a running container or to a second network is refused with a clear error
   (docs/NETWORK.md: why). */
#ifndef ISOLA_NETWORK_CONNECT_H
#define ISOLA_NETWORK_CONNECT_H

#include <jansson.h>

#include "base/error.h"
#include "container/container.h"
#include "store/store.h"

/* Docker's EndpointSettings of a connect (Aliases, IPAMConfig.IPv4Address; NULL: none), checked: EINVAL. */
int network_endpoint_check (json_t *endpoint, isola_error_t *err);

/* Puts the stopped container c on network what with endpoint's settings (may be NULL); the container's record is
   written.  Docker's errors for host, none and container: modes; EBUSY for a running container, EEXIST for a
   container on another network. */
int network_connect (const struct isola_store *s, struct container *c, const char *what, json_t *endpoint,
                     isola_error_t *err);

/* Takes the stopped container c off network what (ENOENT: Docker's "is not connected"). */
int network_disconnect (const struct isola_store *s, struct container *c, const char *what, isola_error_t *err);

#endif
