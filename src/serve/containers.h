/* What the container endpoints share (containers.c, containers_io.c, exec.c). */
#ifndef ISOLA_SERVE_CONTAINERS_H
#define ISOLA_SERVE_CONTAINERS_H

#include "container/container.h"
#include "serve.h"
#include "store/store.h"

/* Opens the store (no lock) and loads the container named what (name, ID or prefix), refreshed; -1 after replying
   Docker's 404 "No such container: …" or another error. */
int serve_load_container (struct serve_request *r, const char *what, struct isola_store **s, struct container **c,
                          enum MHD_Result *reply);
/* container_start, handing the session to an attach that waits for the start; reaps the monitor when it ends. */
int serve_start (struct isola_store *s, struct container *c, isola_error_t *err, int *code);
/* The terminal size of c's main process (session NULL: over a new session) or of the exec on session. */
int serve_send_resize (struct container *c, int *session, unsigned rows, unsigned cols, isola_error_t *err);

/* containers_io.c */
enum MHD_Result serve_attach (struct serve_request *r);
enum MHD_Result serve_wait (struct serve_request *r);
enum MHD_Result serve_logs (struct serve_request *r);

#endif
