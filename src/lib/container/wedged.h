/* A container's monitor that no longer does its job (stopped by SIGSTOP or a tracer, or stuck): found and killed
   from outside, so that rm -f, stop and kill end in bounded time, as Docker's do whatever its shim does.

   The monitor is found as the holder of the container's running.lock (/proc/locks), which also works when state.json
   (and its MonitorPid) is damaged, and is checked to be that container's monitor (its command line names the
   container) through a pidfd opened before the check: the process signalled is the one checked, never a PID reused
   meanwhile.  Its children go with it: a process container's first process and a VM's worker and console copier
   have PR_SET_PDEATHSIG, and anything left in the container's cgroups is killed by the driver's cleanup. */
#ifndef ISOLA_WEDGED_H
#define ISOLA_WEDGED_H

#include <stdbool.h>

#include "container/container.h"

/* Whether the container's monitor is stopped (state T or t in /proc/PID/stat): it will neither answer its socket nor
   reap the container, so waiting for it is pointless. */
bool monitor_is_stopped (const struct container *c);

/* SIGKILLs the container's monitor; returns how many processes were signalled (0: none holds its lock). */
int monitor_kill (const struct container *c);

#endif
