/* What a container's HostConfig asks of its namespaces and kernel settings, as the sandbox (spawn.h) takes them:
   IpcMode, PidMode, UTSMode, CgroupnsMode, ShmSize, Sysctls, GroupAdd and Devices.  The checks of a request
   (spec.c) and the settings at start (the process driver, and the VM's START message) read them here only. */
#ifndef ISOLA_CONTAINER_NSMODE_H
#define ISOLA_CONTAINER_NSMODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "container/container.h"
#include "sandbox/spawn.h"
#include "store/store.h"

/* Docker's default size of /dev/shm. */
#define NSMODE_DEFAULT_SHM_SIZE (64LL * 1024 * 1024)

/* The name NAME of a "container:NAME" mode, or NULL for another mode. */
const char *nsmode_container (const char *mode);

/* Docker's checks of the modes (its messages), of the sysctls (only namespaced keys, and none of a namespace that
   is the host's) and of ShmSize, on a HostConfig object. */
int nsmode_check (json_t *host_config, isola_error_t *err);

/* Whether a sysctl (KEY or KEY=VALUE) is one a container may set: its network or IPC namespace's, runc's list. */
bool nsmode_sysctl_namespaced (const char *key);

/* Whether a mode shares a namespace with something outside the container, the host or another container: its
   flag ("--ipc") and value ("host").  A VM container refuses these (its kernel is its own). */
bool nsmode_shares_outside (json_t *host_config, const char **flag, const char **value);

/* Resources held while a process container starts: the namespaces it joins, and the /dev/shm of the container
   whose IPC namespace it joins. */
struct nsmode_launch
{
  int ipc_fd, pid_fd, shm_fd; /* -1: none */
  char **sysctls, **group_add;
  struct spawn_device *devices;
  size_t n_devices;
};

void nsmode_launch_init (struct nsmode_launch *l);
void nsmode_launch_clear (struct nsmode_launch *l);

/* For a process container: fills the namespace, /dev/shm, sysctl, group and device fields of sp from the
   container's HostConfig; the namespaces of another container are opened (it must be running, and for IPC
   shareable: Docker's errors, with EINVAL so that the start fails with 125), held in l with the device list.  A
   VM's guest gets these settings through START instead (driver/vm_launch.c). */
int nsmode_prepare (const struct isola_store *s, const struct container *c, struct spawn_spec *sp,
                    struct nsmode_launch *l, isola_error_t *err);

/* The container's "Sysctls" as "key=value" strings (NULL-terminated), GroupAdd as strings. */
char **nsmode_sysctls (json_t *host_config);
char **nsmode_group_add (json_t *host_config);
int64_t nsmode_shm_size (json_t *host_config);

#endif
