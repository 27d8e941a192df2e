/* A container's events in the store's journal (store/journal.h), with the attributes Docker gives them: the image
   as the container names it, its name and its labels, plus the event's own (exitCode, signal…). */
#ifndef ISOLA_CONTAINER_EVENT_H
#define ISOLA_CONTAINER_EVENT_H

#include <jansson.h>

#include "container/container.h"

/* The journal is that of the store holding c (ROOT/containers/ID).  Logs action for c; extra (an object of strings,
   stolen, may be NULL) adds or replaces attributes.  Failures are ignored: an event that cannot be recorded does not
   undo what happened. */
void container_event (const struct container *c, const char *action, json_t *extra);
/* The same with one extra attribute. */
void container_event_attr (const struct container *c, const char *action, const char *key, const char *value);

/* The volume events of a container's mounts: "mount" (driver, container, destination, read/write, propagation) or
   "unmount" (driver, container) for each volume it mounts, as Docker's daemon at start and after the exit. */
void container_volume_events (const struct container *c, const char *action);

/* exec_create and exec_start of a command run in c ("exec_create: sh -c date", as Docker names them), with a new
   exec ID (64 hex digits, in exec_id) as attribute execID; exec_die with its exitCode once it is over. */
void container_exec_started (const struct container *c, char *const *argv, char exec_id[65]);
void container_exec_died (const struct container *c, const char *exec_id, int exit_code);
/* exec_detach: its client detached (the detach keys), and the command goes on. */
void container_exec_detached (const struct container *c, const char *exec_id);

#endif
