/* Container lifecycle operations shared by the CLI verbs: start (through a detached monitor), stop, kill, rm. */
#ifndef ISOLA_LIFECYCLE_H
#define ISOLA_LIFECYCLE_H

#include <stdbool.h>

#include "container/container.h"
#include "store/store.h"

struct attach_decoder;
/* Starts the container's monitor.  Returns once the container runs (or failed to start: then *exit_code is
   Docker's 125/126/127 and the error says why).  With attach_fd non-NULL, *attach_fd is a socket to the monitor
   speaking the attach protocol from the start (no output is missed), and dec holds what was already received.
   tty_size (rows, cols), when given, is the attached terminal's size for a container with a terminal. */
int container_start (struct isola_store *s, struct container *c, int *attach_fd, struct attach_decoder *dec,
                     const unsigned short *tty_size, int *exit_code, isola_error_t *err);

/* Compiles the container's seccomp filter into the store's cache unless it is there: its monitor and `exec` only
   look it up (sandbox/seccomp_program.h).  container_start does it; `exec` calls it first. */
int container_seccomp_ensure (const struct isola_store *s, const struct container *c, isola_error_t *err);

/* Sends the container's stop signal, waits up to timeout seconds (default: its StopTimeout or 10), then kills. */
int container_stop (struct container *c, int timeout, isola_error_t *err);

/* Signals the main process.  With the stop signal (any signal when the container has none) or SIGKILL it is a
   manual stop: the container is not restarted. */
int container_kill (struct container *c, int sig, isola_error_t *err);

/* Attaches a client (`attach`) to the running container's monitor (container_attach): says ATTACH, after which the
   container's output comes to it, and tells of it in the events. */
struct attach_decoder;
int container_attach_client (struct container *c, int *fd_out, struct attach_decoder *dec, isola_error_t *err);
/* `wait`: blocks until the container's next exit, also one after which its restart policy runs it again, and
   reloads its state (ExitCode). */
int container_wait_exit (struct container *c, isola_error_t *err);

/* Docker's rm: refuses a running container unless force (which kills it first). */
int container_rm (struct isola_store *s, struct container *c, bool force, isola_error_t *err);

/* Docker's pause and unpause: every process of the container stops (process: the cgroup freezer; vm: the whole VM)
   and State.Paused says so.  EINVAL with Docker's messages for a container that is not running, already paused or
   not paused.  kill, stop and rm -f of a paused container thaw it, as Docker does. */
int container_pause (struct container *c, isola_error_t *err);
int container_unpause (struct container *c, isola_error_t *err);
/* container_rename, telling of it in the events (rename, with the old name). */
int container_rename_logged (struct isola_store *s, const char *what, const char *new_name, isola_error_t *err);

/* Parses "SIGTERM", "TERM", "term" or "15". -1 when invalid. */
int signal_from_name (const char *name);

#endif
