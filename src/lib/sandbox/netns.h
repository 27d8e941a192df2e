/* Network namespaces given by path (`--network ns:PATH`, podman's form): a bind-mounted nsfs file that someone set
   up before the container starts (its interfaces, addresses and routes).  A process container's first process joins
   it (spawn.c); a VM container's monitor enters it for a moment to mirror its interface into the guest
   (driver/vm_net.h). */
#ifndef ISOLA_NETNS_H
#define ISOLA_NETNS_H

#include "base/error.h"

/* Opens path for setns when it names a namespace of type (CLONE_NEWNET, CLONE_NEWPID…; 0: any): -EINVAL for
   anything else, -errno when it does not resolve.  The path comes from a request or a bundle: what it names is looked
   at through an O_PATH descriptor and opened for reading only once it is an nsfs file, so that a FIFO or a device
   there is never opened (the open would block, or act). */
int ns_open_path (const char *path, int type, int *fd_out);

/* The PATH of a NetworkMode "ns:PATH", NULL for any other mode. */
const char *netns_mode_path (const char *mode);

/* EINVAL unless path is absolute and names a network namespace (a /proc/PID/ns/net or a bind mount of one). */
int netns_check (const char *path, isola_error_t *err);

/* Moves the calling thread into the network namespace at path; *saved is the one it was in (for netns_leave).
   The caller must be single-threaded or know what it does: only this thread moves. */
int netns_enter (const char *path, int *saved, isola_error_t *err);
/* Back into saved (closed); -1 does nothing. */
int netns_leave (int saved, isola_error_t *err);

#endif
