/* isola-agent: PID 1 of a VM container's guest.  See agent.c. */
#ifndef ISOLA_AGENT_H
#define ISOLA_AGENT_H

#include <jansson.h>
#include <sys/types.h>

#include <stdbool.h>

#include "base/error.h"

/* The processes in the PID namespace of pid (the container's first process) as `ps -ef` rows: a JSON array of
   arrays of 8 strings (UID PID PPID C STIME TTY TIME CMD), PIDs as the guest sees them.  User names come from the
   container's /etc/passwd. */
json_t *agent_ps (pid_t pid);

/* Each of the guest's NICs named in START's or NETWORK's "Network" (driver/vm_net.h) made the copy of its host
   side's interface: its name, MAC, MTU, addresses, up, and its routes; again for one that has them already.  NICs
   without an interface (no network) stay down; with others_down (NETWORK: a network disconnected), one that is up
   is taken down and loses its IPv4 address (its routes and IPv6 addresses go with down). */
int agent_net_configure (json_t *network, bool others_down, isola_error_t *err);

/* `cp` into the running container: the tar stream on in_fd extracted into dir (a path in the container, resolved
   in its root: that of container_pid, its first process).  untar.c */
int agent_untar (pid_t container_pid, const char *dir, int in_fd, isola_error_t *err);

#endif
