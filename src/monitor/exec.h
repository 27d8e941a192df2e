/* A process container's exec, run by its monitor for a client (ATTACH_EXEC with process isolation; see exec.c). */
#ifndef ISOLA_MONITOR_EXEC_H
#define ISOLA_MONITOR_EXEC_H

#include "container/container.h"
#include "proto/attach.h"

/* In a child of the monitor: runs the exec the frame asks for and relays it over client (whose decoder may hold
   more frames already), then exits.  Every other descriptor of the monitor's is closed first. */
__attribute__ ((noreturn)) void monitor_exec_session (struct container *c, int client, struct attach_decoder *dec,
                                                      const struct attach_frame *request);

#endif
