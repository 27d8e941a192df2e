/* Linux capabilities by name, and the set a container gets from Docker's rules: the default set, plus
   --cap-add, minus --cap-drop ("ALL" allowed in both), or everything with --privileged. */
#ifndef ISOLA_CAPS_H
#define ISOLA_CAPS_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"

/* "CAP_NET_ADMIN", "NET_ADMIN" or "net_admin" → its number; -1 when unknown. */
int cap_from_name (const char *name);
const char *cap_name (int cap);
int cap_last (void);

uint64_t caps_docker_default (void);

/* Computes the capability set from a HostConfig object (CapAdd, CapDrop, Privileged). */
int caps_for_host_config (json_t *host_config, uint64_t *out, isola_error_t *err);

#endif
