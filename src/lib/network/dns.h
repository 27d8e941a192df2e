/* Names on user networks (Docker's embedded DNS): aardvark-dns, podman's name server, run by isola with the
   configuration netavark used to write for it.

   ROOT/networks/dns/                aardvark-dns's configuration directory (--config), one daemon per store
   ROOT/networks/dns/NETWORK         one network: its gateway on the first line (where aardvark-dns answers, port 53),
                                     then "CONTAINER_ID IPV4 IPV6 NAME,NAME..." for each container on it
   ROOT/networks/dns/aardvark.pid    written by aardvark-dns

   Callers hold the network lock.  A change rewrites the network's file (temp + rename) and sends the daemon SIGHUP
   (it rereads the directory); the first entry starts the daemon, the last one's removal stops it. */
#ifndef ISOLA_NETWORK_DNS_H
#define ISOLA_NETWORK_DNS_H

#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* Adds the container's names (NULL-terminated; the first one is its name) at addr (and addr6, its IPv6 address on
   an --ipv6 network, else NULL: AAAA answers) on network, whose gateway is the address aardvark-dns answers on. */
int dns_add (const struct isola_store *s, const char *network, uint32_t gateway, const char *container_id,
             uint32_t addr, const char *addr6, char *const names[], isola_error_t *err);

/* Removes the container's entry from network (nothing when it has none). */
void dns_remove (const struct isola_store *s, const char *network, const char *container_id);

#endif
