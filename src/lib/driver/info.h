/* `isola info`: the engine and its host, in the shape of Docker's GET /info, with isola's additions: the isolation
   modes, the default one, and the accelerator VM containers would get. */
#ifndef ISOLA_INFO_H
#define ISOLA_INFO_H

#include <jansson.h>

#include "store/store.h"

/* Docker's fields (ID, Containers, ContainersRunning, ContainersPaused, ContainersStopped, Images, Driver,
   DriverStatus, LoggingDriver, CgroupDriver, CgroupVersion, KernelVersion, OperatingSystem, OSType, Architecture,
   NCPU, MemTotal, DockerRootDir, Name, ServerVersion, Isolation: the default mode's HostConfig.Isolation), then
   Isolations (each mode: Name, Available, Reason) and VMAccelerator, VMAcceleratorReason.  Needs the store's shared
   lock. */
int engine_info_json (const struct isola_store *s, json_t **out, isola_error_t *err);

#endif
