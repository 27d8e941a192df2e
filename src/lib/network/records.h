/* Which networks a container is on, read from its records alone: config.json's choices (what `run --network` and
   `network connect` chose) and network.json's attachments (what its start made), in today's shapes and in those of
   records written before a container could be on several networks.  Below attach.c, network.c and ports.c, which
   all read them. */
#ifndef ISOLA_NETWORK_RECORDS_H
#define ISOLA_NETWORK_RECORDS_H

#include <jansson.h>

#include "container/container.h"

/* The default network's name (Docker's) */
#define NETWORK_DEFAULT "bridge"

/* The network a HostConfig.NetworkMode puts a container on ("bridge" or a user network's name or ID), or NULL for
   none, host, container:ID, ns:PATH. */
const char *network_mode_network (const char *mode);

/* The networks the container is on at its next start, in order (a new array of {"Name": name or ID as recorded,
   "Endpoint": its --ip and --network-alias settings, absent when none}): config.json's "Networks" (connect and
   disconnect write it: network/connect.h), else, as records before it have it, connect's one "Network" (null:
   none) with "Endpoint", else NetworkMode's with "Endpoint".  Empty for none, host, container:ID, ns:PATH. */
json_t *network_choices (const struct container *c);

/* The first of them (the container's primary network), NULL for none. */
const char *network_of_container (const struct container *c);

/* The container's attachments now (a new array, empty when it is on no network), from network.json in either
   shape; network_attachments_of reads them from the loaded file (NULL: none). */
json_t *network_attachments (const struct container *c);
json_t *network_attachments_of (json_t *file);
/* The attachment in atts to network_id (borrowed), or NULL. */
json_t *network_attachment_to (json_t *atts, const char *network_id);
/* Its interface in the container: "eth0"… */
const char *network_attachment_interface (json_t *att);

#endif
