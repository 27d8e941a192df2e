/* Docker's `update`: new resource limits for an existing container, applied at once to a running one (through its
   driver: its cgroups, or its guest's) and recorded in its HostConfig, which the next start uses (a stopped VM
   container's next VM is sized by the new memory and CPU limits). */
#ifndef ISOLA_CONTAINER_UPDATE_H
#define ISOLA_CONTAINER_UPDATE_H

#include <jansson.h>

#include "base/error.h"
#include "container/container.h"

/* resources: the members of Docker's update body that isola knows (Memory, MemorySwap, MemoryReservation, NanoCpus,
   CpuShares, CpusetCpus, CpusetMems, PidsLimit; a member left out, or 0 / "" for all but PidsLimit, keeps its
   value), merged as Docker merges them, checked as create checks them; nothing is recorded when applying fails. */
int container_update (struct container *c, json_t *resources, isola_error_t *err);

#endif
