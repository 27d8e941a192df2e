/* isola-agent: PID 1 of a VM container's guest.  See agent.c. */
#ifndef ISOLA_AGENT_H
#define ISOLA_AGENT_H

#include <jansson.h>
#include <sys/types.h>

/* The processes in the PID namespace of pid (the container's first process) as `ps -ef` rows: a JSON array of
   arrays of 8 strings (UID PID PPID C STIME TTY TIME CMD), PIDs as the guest sees them.  User names come from the
   container's /etc/passwd. */
json_t *agent_ps (pid_t pid);

#endif
