/* `docker network connect|disconnect` for a container that is not running: which network its next start joins, and
   its endpoint settings there (aliases, address), in its config.  docker-compose 1.29 disconnects and reconnects
   each container it creates, to add its short ID as an alias.  An isola container is on one network, joined at
   start: a running container is refused (ENOTSUP), and so is a second network (EEXIST). */
#ifndef ISOLA_NETWORK_CONNECT_H
#define ISOLA_NETWORK_CONNECT_H

#include <jansson.h>

#include "base/error.h"
#include "container/container.h"
#include "store/store.h"

/* Puts c on network (a name or ID) with endpoint's Aliases and IPAMConfig.IPv4Address (Docker's EndpointSettings;
   NULL for none), and records it. */
int network_connect (const struct isola_store *s, struct container *c, const char *network, json_t *endpoint,
                     isola_error_t *err);

/* Takes c off network: it is on none then. */
int network_disconnect (const struct isola_store *s, struct container *c, const char *network, isola_error_t *err);

#endif
